"""A hard time limit for renders, in any thread.

The sandbox already counts loop iterations and checks the clock cooperatively; this is the
backstop for whatever those miss. One daemon thread watches the deadlines of running renders
and raises ``RenderTimeout`` inside a render thread that overruns, through CPython's
``PyThreadState_SetAsyncExc``. Signals (SIGALRM) would only work in the main thread, and the web
app renders previews in worker threads; a subprocess per render would cost milliseconds.

An async exception is delivered between bytecodes, so a single long C call still finishes
first: the sandbox keeps every such call small (bounded strings, lists and ranges).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class RenderTimeout(BaseException):
    """Raised inside a render that ran past its deadline.

    A ``BaseException`` so that no ``except Exception`` inside Jinja, Babel or a filter can
    swallow it on its way out.
    """


def _raise_in(thread_id: int, exc_type: type[BaseException] | None) -> None:
    # None clears a pending async exception of that thread.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type) if exc_type else None
    )


class Watchdog:
    """Deadlines of running renders, and the thread that enforces them."""

    POLL_S = 0.02  # how late past its deadline a render can be stopped, at most

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, int]] = {}
        self._fired: set[int] = set()
        self._wake = threading.Event()
        self._parked = False
        self._tokens = itertools.count()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():  # forked: the parent's thread did not come along
            self._reset()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="tidings-render-watchdog", daemon=True
                    )
                    self._thread.start()

    def arm(self, seconds: float) -> int:
        """Start watching the calling thread; returns the token for ``disarm``."""
        self._ensure_thread()
        token = next(self._tokens)
        with self._lock:
            self._armed[token] = (time.monotonic() + seconds, threading.get_ident())
            wake, self._parked = self._parked, False
        if wake:
            self._wake.set()
        return token

    def disarm(self, token: int) -> bool:
        """Stop watching; True when the deadline passed (the render must be refused)."""
        with self._lock:
            self._armed.pop(token, None)
            if token not in self._fired:
                return False
            self._fired.discard(token)
            # The exception may still be pending: clear it so it cannot surface after the render.
            _raise_in(threading.get_ident(), None)
            return True

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                for token, (deadline, thread_id) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        self._fired.add(token)
                        _raise_in(thread_id, RenderTimeout)
                idle = not self._armed
                self._parked = idle
            self._wake.wait(None if idle else self.POLL_S)
            self._wake.clear()


WATCHDOG = Watchdog()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``RenderTimeout`` in this thread if the block runs longer than ``seconds``."""
    token = WATCHDOG.arm(seconds)
    try:
        yield
    finally:
        if WATCHDOG.disarm(token):
            raise RenderTimeout
