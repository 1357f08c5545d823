"""The detectors, in the order they run: secrets first (their digits must not look like phones).

Each is a linear-time pattern (no nested quantifiers over overlapping classes), an optional cheap
gate that skips the pattern when the text cannot hold a match, and an optional check of the
candidate (Luhn for cards, mod-97 for IBANs, a real parse for IP addresses).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DETECTORS", "Detector"]


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    gate: Callable[[str], bool] = lambda _text: True
    accept: Callable[[str], bool] = lambda _found: True
    group: int = 0  # the part of the match to replace (URL credentials keep scheme and host)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(found: str) -> bool:
    digits = re.sub(r"\D", "", found)
    return 13 <= len(digits) <= 19 and _luhn(digits)


def _iban(found: str) -> bool:
    s = found.replace(" ", "")
    moved = s[4:] + s[:4]
    return 15 <= len(s) <= 34 and int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _phone(found: str) -> bool:
    digits = re.sub(r"\D", "", found)
    # A phone number has 7-15 digits and a separator or a leading +; bare digit runs are ids.
    has_format = found.startswith("+") or "(" in found or bool(re.search(r"\d[ .-]\d", found))
    looks_like_date = bool(re.fullmatch(r"\d{4}[-.]\d{2}[-.]\d{2}", found))
    return 7 <= len(digits) <= 15 and has_format and not looks_like_date


def _ipv6(found: str) -> bool:
    if found.count(":") < 2:
        return False
    try:
        return ipaddress.ip_address(found).version == 6
    except ValueError:
        return False


_DIGITS = re.compile(r"\d\d")


def _has_digits(text: str) -> bool:
    return _DIGITS.search(text) is not None


_SECRET = re.compile(
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{30,255}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b"  # GitHub
    r"|\bglpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic style
    r"|\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{12,}"  # Authorization: Bearer ...
)

DETECTORS: tuple[Detector, ...] = (
    Detector("PRIVATE_KEY", re.compile(
        r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[A-Za-z0-9+/=\s:,-]{0,20000}?"
        r"-----END [A-Z ]{0,40}PRIVATE KEY-----"),
        gate=lambda t: "PRIVATE KEY-----" in t),
    Detector("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
             gate=lambda t: "eyJ" in t),
    Detector("SECRET", _SECRET),
    Detector("CREDENTIALS", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://([^\s/:@\[\]]{1,128}:[^\s/@\[\]]{1,256})@"),
             gate=lambda t: "://" in t, group=1),
    Detector("EMAIL", re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                                 r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}"),
             gate=lambda t: "@" in t),
    Detector("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
             gate=_has_digits, accept=_iban),
    Detector("CARD", re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"), gate=_has_digits, accept=_card),
    Detector("SSN", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"), gate=_has_digits),
    Detector("IP", re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                              r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"),
             gate=lambda t: "." in t and _has_digits(t)),
    Detector("IP", re.compile(r"(?<![0-9A-Za-z:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Za-z:])"),
             gate=lambda t: "::" in t or t.count(":") >= 3, accept=_ipv6),
    Detector("PHONE", re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
                                 r"\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)"), gate=_has_digits, accept=_phone),
)
