"""The detectors, in the order they run, each behind a cheap gate.

Order matters: secrets first (their digits must not look like phones, a password may be an email),
then emails, IBANs and IP addresses, then the digit runs (cards, SSNs, phones). Each detector sees
the text with the previous ones' placeholders already in, and no pattern matches a placeholder.

Every pattern is linear-time: no nested quantifiers over overlapping classes, bounded repeats, and
a start boundary checked *after* the first character (``[0-9](?<![\\w].)``) so that the engine can
skip to candidate characters instead of trying every position. A gate (a substring test, a few
nanoseconds) skips a detector when the text cannot hold a match: most strings run two or three.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from agent_audit.core.redaction.checks import IBAN_LENGTHS, basic_credentials, iban, ipv4, ipv6
from agent_audit.core.redaction.keys import SECRET, key_kind
from agent_audit.core.redaction.national import find_national
from agent_audit.core.redaction.numbers import find_numbers
from agent_audit.core.redaction.patterns import (
    ASSIGNMENT,
    AZURE_SECRET,
    BASIC,
    BEARER,
    EMAIL_DOMAIN,
    EMAIL_LOCAL_REVERSED,
    IBAN,
    IBAN_PROBE,
    IPV4,
    IPV4_PROBE,
    IPV6,
    IPV6_PROBE,
    JWT,
    KEY_NAME_REVERSED,
    NUMBER_PROBE,
    SECRET_PROBE,
    SECRET_SHAPES,
    TOKEN,
    URL_CREDENTIALS,
    VALUE,
    VERSION_BEFORE,
)
from agent_audit.core.redaction.phrases import find_personal, find_secrets, may_hold_personal, may_hold_secret

__all__ = ["BY_DIGITS", "DETECTORS", "Detector", "Finding", "Step", "has_digit", "steps"]

Finding = tuple[int, int, str]  # start, end, kind


@dataclass(frozen=True, slots=True)
class Detector:
    """A finder behind cheap tests, cheapest first: a digit in the text, a ``marker`` substring, a
    ``probe`` regex search (in C), a custom ``gate``. Only then does the Python-level ``find``
    run, so a string costs a few dozen nanoseconds for each detector it cannot concern."""

    name: str
    find: Callable[[str], Iterable[Finding]]
    needs_digit: bool = False
    needs_colon: bool = False
    marker: str | None = None
    probe: re.Pattern[str] | None = None
    gate: Callable[[str], bool] | None = None


def has_digit(text: str) -> bool:
    # Spelled out: ten substring tests in a row beat a regex scan or any() by 2-7x.
    return ("0" in text or "1" in text or "2" in text or "3" in text or "4" in text or "5" in text
            or "6" in text or "7" in text or "8" in text or "9" in text)


def _regex(pattern: re.Pattern[str], kind: str, group: int = 0,
           accept: Callable[[re.Match[str]], bool] | None = None) -> Callable[[str], Iterator[Finding]]:
    def find(text: str) -> Iterator[Finding]:
        for m in pattern.finditer(text):
            if accept is None or accept(m):
                yield m.start(group), m.end(group), kind
    return find


def _private_keys(text: str) -> Iterator[Finding]:
    """PEM private-key blocks by plain search (no regex over the body). A block without its END
    line is removed to the end of the text: half a key is still a key."""
    start = text.find("-----BEGIN ")
    while start != -1:
        close = text.find("-----", start + 11, start + 80)
        label = text[start + 11:close] if close != -1 else ""
        if "PRIVATE KEY" not in label:
            start = text.find("-----BEGIN ", start + 11)
            continue
        end_line = f"-----END {label}-----"
        end = text.find(end_line, close)
        stop = len(text) if end == -1 else end + len(end_line)
        yield start, stop, "PRIVATE_KEY"
        start = text.find("-----BEGIN ", stop)


def _emails(text: str) -> Iterator[Finding]:
    """Anchored on each '@': the domain is matched forward, the local part backward (on the
    reversed text), so no work is spent on the letters of ordinary prose."""
    floor = 0
    at = text.find("@")
    while at != -1:
        domain = EMAIL_DOMAIN.match(text, at + 1)
        local = EMAIL_LOCAL_REVERSED.match(text[max(floor, at - 256):at][::-1]) if domain else None
        if domain and local:
            # '/', '=' and '?' are legal in a local part but far more often end a URL or a
            # ``user=`` before the address: keep them out unless nothing else is left.
            cut = local.end()
            while cut and text[at - cut] in "'`":
                cut -= 1  # a quote before the address ('jane@example.com'): not part of it, one token
            name = local.group()[:cut]
            if "/" in name or "=" in name or "?" in name:
                cut = min((i for i in (name.find(c) for c in "/=?") if i > 0), default=cut)
            floor = domain.end()
            yield at - cut, floor, "EMAIL"
        at = text.find("@", at + 1)


_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_AFTER_EQUALS = re.compile(r"=([A-Za-z0-9+/]{16,}={0,2})(?![A-Za-z0-9+/=])")


def _encoded_emails(text: str) -> Iterator[Finding]:
    """An email address sent in base64 (``amFuZUBleGFtcGxlLmNvbQ==``), where base64 stands on its
    own: the whole text, or a value after '=' (``payload=...``); decoded, it must hold an address
    the email detector finds. A run inside prose is not decoded: finding one would cost a scan of
    every text (bench/redaction)."""
    if " " not in text and (whole := _BASE64_RUN.fullmatch(text)) is not None and _decoded_email(text):
        yield 0, whole.end(), "EMAIL"
        return
    for m in _AFTER_EQUALS.finditer(text):  # led by '=': the engine jumps from one to the next in C
        if _decoded_email(m.group(1)):
            yield m.start(1), m.end(1), "EMAIL"


def _decoded_email(run: str) -> bool:
    try:
        decoded = base64.b64decode(run + "=" * (-len(run) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b"@" in decoded and decoded.isascii() and next(_emails(decoded.decode()), None) is not None


def _may_encode(text: str) -> bool:
    """Base64 worth decoding stands after an '=' or is the whole (space-free) text: the two searches
    of ``_encoded_emails``, without its generator (most texts with an '=' hold no base64 after it)."""
    if "=" in text and _AFTER_EQUALS.search(text) is not None:
        return True
    return len(text) >= 16 and " " not in text and _BASE64_RUN.fullmatch(text) is not None


def _assignments(text: str) -> Iterator[Finding]:
    """``password=...``, ``"api_key": "..."``, ``Authorization: Bearer ...`` inside free text: the
    name before each ':' or '=' is read backward and judged by the key-name rules."""
    floor = 0  # a value read runs to its end: operators inside it are not read again (linear work)
    for op in ASSIGNMENT.finditer(text):
        at = op.start()
        if at < floor:
            continue
        name = KEY_NAME_REVERSED.match(text[max(0, at - 72):at][::-1])
        if name is None or key_kind(name.group(1)[::-1]) != SECRET:
            continue
        opening = at - name.end() - 1
        if opening >= 0 and TOKEN.match(text, opening):
            continue  # the ':' of a keyed token such as [SECRET:3f9a1c2b0d4e]
        value = VALUE.match(text, at + 1)
        if value is None:
            continue
        floor = value.end()
        group = value.lastindex or 0
        if not TOKEN.match(value.group(group)):  # already a token: [JWT] or [SECRET]
            yield value.start(group), value.end(group), SECRET


def _ibans(text: str) -> Iterator[Finding]:
    for m in IBAN.finditer(text):
        want = IBAN_LENGTHS.get(m.group(1))
        written = m.group(0)
        compact = written.replace(" ", "")
        if want is None or len(compact) < want:
            continue
        # Take exactly the country's length: a word written after the IBAN is not part of it.
        cut = want if " " not in written else _after_chars(written, want)
        if (cut == len(written) or written[cut] == " ") and iban(compact[:want]):
            yield m.start(), m.start() + cut, "IBAN"


def _after_chars(written: str, want: int) -> int:
    """Where the ``want``-th character other than a space ends in ``written``."""
    cut = seen = 0
    for part in written.split(" "):
        if seen + len(part) >= want:
            return cut + want - seen
        seen += len(part)
        cut += len(part) + 1
    return len(written)


_lowered = ["", ""]  # the last text lowered and its lower-case: three gates read it in a row


def _lower(text: str) -> str:
    if text is not _lowered[0]:
        _lowered[0], _lowered[1] = text, text.lower()
    return _lowered[1]


def _may_say_secret(text: str) -> bool:
    """The gate of the secret phrases and assignments, one lower() for both: a phrase stem, or ':'
    or '=' and an assignment stem."""
    low = text.lower()
    _lowered[0], _lowered[1] = text, low
    return may_hold_secret(low) or ((":" in text or "=" in text) and _assignment_stem(low))


def _secret_words(text: str) -> list[Finding]:
    """Secret phrases and assignments; where two overlap, the one that starts first (or, from the
    same place, the longer) goes: "PASSWORD: correct horse battery staple" whole, not its first word."""
    phrases = list(find_secrets(text, _lowered[1] if text is _lowered[0] else None))
    if not phrases:
        return list(_assignments(text))
    merged: list[Finding] = []
    last = 0
    for found in sorted([*phrases, *_assignments(text)], key=lambda f: (f[0], -f[1])):
        if found[0] >= last:
            merged.append(found)
            last = found[1]
    return merged


def _may_say_personal(text: str) -> bool:
    return may_hold_personal(_lowered[1] if text is _lowered[0] else text.lower())


def _national_ids(text: str) -> list[Finding]:
    return find_national(text, _lower(text))


def _may_assign(text: str) -> bool:
    """A secret assignment needs ':' or '=' and one of the secret words' stems (keys.KEY_HINTS)."""
    if ":" not in text and "=" not in text:
        return False
    return _assignment_stem(_lower(text))


def _assignment_stem(low: str) -> bool:
    # Spelled out for speed (a generator over KEY_HINTS costs twice as much); a test holds the two
    # in step.
    return ("pass" in low or "secret" in low or "token" in low or "key" in low or "auth" in low
            or "cred" in low or "cookie" in low or "pwd" in low or "jwt" in low or "bearer" in low
            or "otp" in low or "cvv" in low or "cvc" in low or "pin" in low or "senha" in low
            or "contrase" in low or "kennwort" in low or "connection" in low)


def _secret_shape(m: re.Match[str]) -> bool:
    start = m.start()
    if start and (m.string[start - 1].isalnum() or m.string[start - 1] in "_-"):
        return False
    # 'sk-' also starts words (sk-learn-style-names): a real key is random, so it has a digit.
    return not m.group(0).startswith("sk-") or has_digit(m.group(0))


def _address(m: re.Match[str]) -> bool:
    """A dotted quad that parses, unless a version label comes just before it (user agents' rv:1.9.0.20,
    version 1.2.3.4, build 5.1.0.12)."""
    if not ipv4(m.group(0)):
        return False
    before = m.string[max(0, m.start() - 24):m.start()].lower()
    # Substring tests first: the case-blind regex runs only where a version word's stem is near.
    return not (("v" in before or "build" in before or "rel" in before or "fw" in before or "firm" in before
                 or "kernel" in before or "patch" in before or "sdk" in before or "bios" in before)
                and VERSION_BEFORE.search(before) is not None)


def _ipv6s(text: str) -> Iterator[Finding]:
    for m in IPV6.finditer(text):
        found = m.group(0)
        if found.count(":") < 2:
            continue
        if not ipv6(found) and found.count(":") == 8:
            found = found.rsplit(":", 1)[0]  # an address written with its port and no brackets
            if not ipv6(found):
                continue
        elif not ipv6(found):
            continue
        yield m.start(), m.start() + len(found), "IP"


DETECTORS: tuple[Detector, ...] = (
    Detector("private_key", _private_keys, marker="-----BEGIN "),
    Detector("jwt", _regex(JWT, "JWT"), marker="eyJ"),
    Detector("url_credentials", _regex(URL_CREDENTIALS, "CREDENTIALS", 1), needs_colon=True, marker="@",
             probe=URL_CREDENTIALS),
    # Phrases and assignments together, one gate: "PASSWORD: correct horse battery staple" goes
    # whole, not its first word.
    Detector("secret_words", _secret_words, gate=_may_say_secret),
    Detector("secret_shapes", _regex(SECRET_SHAPES, SECRET, accept=_secret_shape), probe=SECRET_PROBE),
    Detector("azure_secret", _regex(AZURE_SECRET, SECRET), marker="Q~"),
    # All-caps BEARER / BASIC come through the assignment detector (Authorization: BEARER ...).
    Detector("bearer", _regex(BEARER, SECRET, 1, accept=lambda m: has_digit(m.group(1))), marker="earer"),
    Detector("basic", _regex(BASIC, SECRET, 1, accept=lambda m: basic_credentials(m.group(1))),
             marker="asic"),
    Detector("email", _emails, marker="@"),
    Detector("encoded_email", _encoded_emails, gate=_may_encode),
    Detector("iban", _ibans, needs_digit=True, probe=IBAN_PROBE),
    # Before the digit runs: a CPF or an NHS number is not a phone.
    Detector("national_ids", _national_ids, needs_digit=True),
    Detector("ipv6", _ipv6s, needs_colon=True, probe=IPV6_PROBE),
    Detector("ipv4", _regex(IPV4, "IP", accept=_address), needs_digit=True,
             probe=IPV4_PROBE),
    Detector("numbers", find_numbers, needs_digit=True, probe=NUMBER_PROBE),
    # Last: the placeholders of the structured kinds are in, so an address stops before an email.
    Detector("personal_phrases", find_personal, gate=_may_say_personal),
)
# Detectors by whether the text holds a digit: ten substring tests spare a digit-less text the
# three digit detectors' searches (cheaper than one regex that tells digit-made values apart).
BY_DIGITS: dict[bool, tuple[Detector, ...]] = {
    True: DETECTORS, False: tuple(d for d in DETECTORS if not d.needs_digit)}
# The same detectors as plain tuples (marker, probe search, gate, find) for the redactor's loop,
# by ``has_digit(text) + 2 * (":" in text)``: unpacking a tuple costs a fraction of four attribute
# reads, and a text without a digit or a colon skips the detectors that need one.
Step = tuple[str, Callable[[str], object] | None, Callable[[str], bool] | None,
             Callable[[str], Iterable[Finding]]]


def steps(detectors: tuple[Detector, ...]) -> tuple[tuple[Step, ...], ...]:
    return tuple(tuple((d.marker or "", d.probe.search if d.probe else None, d.gate, d.find)
                       for d in detectors if (digit or not d.needs_digit) and (colon or not d.needs_colon))
                 for colon in (False, True) for digit in (False, True))
