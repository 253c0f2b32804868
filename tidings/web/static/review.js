/* The review queue's keys: single keys for the common path, so an ops lead clears the queue
   without the mouse. A file, not inline script: the CSP forbids inline script.
   Queue page: j / k move, o or Enter open, x select for bulk approval.
   Any page: a key names the element with data-key="KEY" (a button or link is clicked, a field
   focused); Ctrl+Enter in the reply sends it and goes on; Escape leaves a field. */
(function () {
  "use strict";

  function typing(element) {
    return element && (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  }

  var current = -1;

  function move(index) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("is-current", i === current); });
    var link = all[current].querySelector("a.case-link");
    if (link) { link.focus(); }
  }

  function onQueue(key) {
    var all = rows();
    if (!all.length) { return false; }
    if (key === "j") { move(current + 1); return true; }
    if (key === "k") { move(current - 1); return true; }
    if (current < 0) { return false; }
    if (key === "o") { all[current].querySelector("a.case-link").click(); return true; }
    if (key === "x") {
      var box = all[current].querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; }
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey) {
      if (event.key === "Enter" && target.id === "reply") {
        var send = document.querySelector("[data-testid=approve-next]");
        if (send) { event.preventDefault(); send.click(); }
      }
      return;
    }
    if (event.altKey) { return; }
    if (typing(target)) {
      if (event.key === "Escape") { target.blur(); }
      return;
    }
    if (onQueue(event.key)) { event.preventDefault(); return; }
    var named = document.querySelector('[data-key="' + event.key.replace(/["\\]/g, "") + '"]');
    if (!named) { return; }
    event.preventDefault();
    if (typing(named)) { named.focus(); } else { named.click(); }
  });
})();
