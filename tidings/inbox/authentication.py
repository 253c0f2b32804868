"""Did the sender's domain vouch for this email? Read from Authentication-Results (RFC 8601).

The receiving mail server adds these headers after checking SPF, DKIM and DMARC. A failed
check can only take trust away: an email whose From is the order's customer but whose domain
disowns it (DMARC fail, or SPF and DKIM both failing) is not treated as the customer's. A header
the sender forged can claim a pass, so a pass adds nothing; the address check still decides.
"""

from __future__ import annotations

import re

_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
_FAIL = {"fail", "softfail", "permerror"}


def sender_disowned(results: list[str]) -> bool:
    """True when any Authentication-Results header says the From domain disowns the email."""
    for header in results:
        found: dict[str, set[str]] = {}
        for method, verdict in _RESULT.findall(header):
            found.setdefault(method.lower(), set()).add(verdict.lower())
        if found.get("dmarc", set()) & _FAIL:
            return True
        spf_failed = bool(found.get("spf", set()) & _FAIL)
        dkim_failed = not (found.get("dkim", set()) & {"pass"})
        if spf_failed and dkim_failed and "dkim" in found:
            return True
    return False
