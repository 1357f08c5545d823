"""Cards, SSNs and phone numbers: one pass over runs of digit groups, then a shape classifier.

A *run* is a maximal sequence of digit groups joined by one separator (space, dot, dash, slash),
optionally led by ``+`` or an area code in parentheses. Judging the whole run, not a window of it,
is what keeps ``2026-11-25 10:30`` or a spaced tracking number from yielding a "phone" in its
middle. When the whole run is not PII, up to three trailing groups are dropped in turn, so
``4111 1111 1111 1111 12/27`` (card, expiry) and ``call 555-123-4567 2 times`` are still found,
and up to two leading groups parted by a space (``order 12345 555-123-4567``): at most twelve
tries per run. A sub-run in the middle of a run never takes a trunk ``0``/``00`` or parenthesised
prefix, so ``DE89 3704 0044 ...`` (an IBAN with a typo) does not become a phone ``0044 ...``; a
leading date (``2026-11-25 10:30``) is set aside before anything is tried.

Phones are recognised by shape, never by bare length: international (``+`` or ``00``, also with
the trunk in parentheses, ``+49(0)30``), an area code in parentheses, a national trunk prefix ``0``
(UK, DE, FR, IT, NL, JP, AU, IN, ...; grouped, or bare with 10-11 digits such as ``0261359775``),
and the fixed national shapes of NANP, Spain, India, Brazil and China (a Chinese mobile bare too:
eleven digits from 13 to 19). Any other bare digit run is a phone
(or an SSN) only when a context word such as "phone" or "SSN" comes just before it. An extension
glued on with an ``x`` (``555-123-4567x89``) ends the number instead of hiding it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from agent_audit.core.redaction.checks import card_number, ssn

__all__ = ["card_named", "find_numbers"]

_RUN = re.compile(
    r"[+(0-9](?<![\w.+\-/\]].)"  # not inside a word or a number, nor glued to a placeholder
    r"(?:(?<=\+)[0-9]{1,15}|(?<=\()\+?[0-9]{1,5}\)|(?<=[0-9])[0-9]{0,18})"
    r"(?:(?:[ .\-/]|(?<=\)))(?:\([0-9]{1,5}\)|[0-9]{1,19})|\([0-9]{1,5}\)){0,11}"  # +49(0)30 too
)
_GROUP = re.compile(r"\(?\+?([0-9]+)\)?")
_SEPARATOR = re.compile(r"[ .\-/]")
_DATE = re.compile(r"[0-9]{4}[./\-][0-9]{1,2}[./\-][0-9]{1,2}"
                   r"|[0-9]{1,2}[./\-][0-9]{1,2}[./\-](?:19|20)[0-9]{2}")
_PHONE_WORDS = re.compile(r"phone|\btel\b|mobile|\bcell|\bcall|\bsms|whatsapp|\bfax|telefon|handy|portable"
                          r"|t[ée]l[ée]phone|m[óo]vil|cellulare|numéro|\bmy number|number is|reach me"
                          r"|text me|\bcontact")
# An id word just before a bare number makes it that id, whatever came earlier ("call about order
# 4155550132"): the nearest word decides.
_ID_BEFORE = re.compile(r"(?:order|invoice|ticket|tracking|account|acct|booking|reservation|case|transaction"
                        r"|txn|shipment|parcel|ref|reference|id|pedido|commande|bestellung|auftrag|ordine)"
                        r"\W{0,3}(?:(?:no|nr|num|number|n°|#)\.?\W{0,3})?(?:is\W{1,3})?\Z")
# The word "card" (or a PAN) just before: Maestro's wider ranges and 4-4-4 groups count as cards.
_CARD_BEFORE = re.compile(r"card|karte|carte|tarjeta|cart[ãa]o|\bpan\b")
_SSN_WORDS = re.compile(r"\bssn|social security|ss#")
# How cards are printed: 4-4-4-4 (+3 for 19 digits), 4-4-4-3, Amex 4-6-5, Diners 4-6-4.
_CARD_SHAPES = frozenset({(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 4, 4, 3), (4, 6, 5), (4, 6, 4)})
_CARD_SEPS = frozenset({" ", "-", "."})
# Where "card" comes just before, Maestro's 12-19 digits in fours too: 4-4-4, 4-4-4-4-2 ...
_ANY_CARD_SHAPES = _CARD_SHAPES | {(4, 4, 4), (4, 4, 4, 4, 4), (4, 4, 4, 4, 2), (4, 4, 4, 1), (4, 4, 4, 2)}
_SSN_SEPS = (frozenset({"-"}), frozenset({" "}))  # one kind of separator throughout
# Digit shapes of national numbers without a trunk prefix -> allowed first digits.
_NATIONAL: dict[tuple[int, ...], str] = {
    (3, 3, 4): "23456789",  # NANP: (415) 555-0132 written 415-555-0132; Italian mobiles 333 123 4567
    (1, 3, 3, 4): "18",  # NANP with the country code: 1-800-555-0199; Russia's trunk 8: 8 (524) 240-0242
    (1, 3, 3, 2, 2): "8",  # Russia's trunk 8: 8 067 203 61 90, 8 (954) 220-58-79
    (3, 2, 2, 2): "6789",  # Spain: 612 34 56 78
    (2, 3, 2, 2): "89",  # Spain: 91 123 45 67
    (3, 3, 3): "56789",  # Spain: 612 345 678; Poland's mobiles: 511 289 161
    (5, 5): "6789",  # India mobiles: 98765 43210
    (3, 4, 4): "1",  # China mobiles: 138 0013 8000
}
# Brazil without the parentheses: a two-digit area code, then 4-4 or (mobiles) 5-4 digits.
_BRAZIL = re.compile(r"[1-9][1-9] 9?[0-9]{4}-[0-9]{4}")


def find_numbers(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of each card, SSN or phone number in ``text``, in order."""
    for m in _RUN.finditer(text):
        start, end = m.span()
        if end - start < 7:
            continue
        if start and text[start - 1] == ":" and text.startswith("]", end):
            continue  # the hex of a keyed token such as [PHONE:123456789012]
        run = m.group()
        after = text[end:end + 1]
        if after in ("-", "_") and text[end + 1:end + 2].isalpha():
            continue  # joined to letters: the digits of an identifier (a UUID's groups, order-0123-A7)
        if run.isdigit():  # one bare group, the usual case: a card, or an id unless a word names it
            if _glued(text, end):
                continue  # glued to a word: not a group
            kind = "CARD" if card_number(run) or (len(run) > 11 and card_named(text, start)
                                                  and card_number(run, named=True)) \
                else _bare(text, start, len(run))
            if kind:
                yield start, end, kind
            continue
        date = _DATE.match(text, start)
        if date and end - date.end() < 8:
            continue  # a date and at most a time: 2026-11-25 10:30
        yield from _Run(text, start, end, run, dated=date is not None).findings()


class _Run:
    """One run's digit groups, their sizes and the separators between them, read once and shared
    by every sub-run tried."""

    def __init__(self, text: str, start: int, end: int, run: str, *, dated: bool) -> None:
        self.text = text
        self.plus = run[0] == "+" or run.startswith("(+")
        self.dated = dated
        self.start = start
        spans: list[tuple[int, int]] = []
        if "(" in run or self.plus:
            digits: list[str] = []
            for g in _GROUP.finditer(text, start, end):
                spans.append(g.span())
                digits.append(g.group(1))
            seps = [text[spans[k][1]:spans[k + 1][0]] for k in range(len(spans) - 1)]
        else:  # groups of digits, each parted by one separator: split in C, spans by addition
            digits = _SEPARATOR.split(run)
            seps = _SEPARATOR.findall(run)
            at = start
            for d in digits:
                spans.append((at, at + len(d)))
                at += len(d) + 1
        self.identifier = False
        if _glued(text, end):
            # Glued to a word: after a space the last group is dropped (2026-11-25T10 is a time);
            # joined by a dash or a dot the whole run is part of one token (a UUID's hex groups).
            self.identifier = bool(seps) and seps[-1] != " " and text[end] not in "xX"
            del spans[-1], digits[-1]
            del seps[-1:]
        self.spans = spans
        self.digits = digits
        self.sizes = [len(d) for d in digits]
        self.seps = seps

    def findings(self) -> list[tuple[int, int, str]]:
        if self.identifier:
            return []
        lo = 3 if self.dated and not self.plus else 0  # a date is never PII
        hi = len(self.digits)
        found: list[tuple[int, int, str]] = []
        while lo < hi and (best := self._best(lo, hi)) is not None:
            i, j, kind = best
            begin = self.start if i == 0 and self.plus else self.spans[i][0]
            found.append((begin, self.spans[j - 1][1], kind))
            lo = j
        return found

    def _best(self, lo: int, hi: int) -> tuple[int, int, str] | None:
        sizes = self.sizes
        for i in range(lo, min(lo + 3, hi)):
            if i > lo and self.seps[i - 1] != " ":
                break  # leading groups are dropped only where a space parts them
            total = sum(sizes[i:hi])
            for j in range(hi, max(i, hi - 3), -1):
                if total >= 7 and (kind := self._kind(i, j, at_start=i == lo)):
                    return i, j, kind
                total -= sizes[j - 1]
        return None

    def _kind(self, i: int, j: int, *, at_start: bool) -> str | None:  # noqa: PLR0911 - one shape per return
        groups = self.digits[i:j]
        digits = "".join(groups)
        if i == 0 and self.plus:
            return "PHONE" if 8 <= len(digits) <= 15 else None
        seps = set(self.seps[i:j - 1])
        paren = self.text[self.spans[i][0]] == "("
        shape = tuple(self.sizes[i:j])
        if not paren and (j - i == 1 or (seps <= _CARD_SEPS and shape in _CARD_SHAPES)) \
                and card_number(digits):
            return "CARD"
        if not paren and len(seps) == 1 and seps <= _CARD_SEPS and shape in _ANY_CARD_SHAPES \
                and card_named(self.text, self.spans[i][0]) and card_number(digits, named=True):
            return "CARD"
        if shape == (3, 2, 4) and seps in _SSN_SEPS and ssn(*groups):
            return "SSN"
        if j - i == 1:
            return _bare(self.text, self.spans[i][0], len(digits))
        if not at_start and (paren or digits[0] == "0"):
            return None  # a trunk or 00 prefix in the middle of a run: 'DE89 3704 0044 ...'
        return _phone(digits, shape, seps, paren, self.text[self.spans[i][0]:self.spans[j - 1][1]])


def _glued(text: str, end: int) -> bool:
    """Whether the run's last group runs on into a word, which makes it no group of its own; an
    extension written ``x5669`` (555-123-4567x5669) does not count."""
    if end >= len(text):
        return False
    after = text[end]
    if after in "xX":
        return not text[end + 1:end + 2].isdigit()
    return after.isalnum() or after == "_"


def card_named(text: str, at: int) -> bool:
    """Whether a card word ("card", "Karte", "PAN" ...) comes in the 24 characters before ``at``."""
    return _CARD_BEFORE.search(text[max(0, at - 24):at].lower()) is not None


def _bare(text: str, at: int, n: int) -> str | None:
    """A lone run of n digits at ``at``: a phone when it starts with a trunk 0 or is shaped as a
    Chinese mobile; otherwise an SSN or a phone only when a context word comes just before."""
    if n not in (9, 10, 11):
        return None
    if n > 9 and text[at] == "0" and text[at + 1] != "0":
        return "PHONE"  # a national number with its trunk 0 (0261359775, 04804848472)
    if n == 11 and text[at] == "1" and text[at + 1] in "3456789":
        return "PHONE"  # a Chinese mobile, 13x-19x and eleven digits (18337597352)
    before = text[max(0, at - 40):at].lower()
    kind = "SSN" if n == 9 and _SSN_WORDS.search(before) else \
        "PHONE" if n > 9 and _PHONE_WORDS.search(before) else None
    if kind and _ID_BEFORE.search(before):
        return None  # "call about order 4155550132": the nearest word names an id
    return kind


def _phone(digits: str, shape: tuple[int, ...], seps: set[str], paren: bool, written: str) -> str | None:
    n = len(digits)
    if "/" in seps and not (digits[0] == "0" and written.find("/") == shape[0]):
        return None  # a slash only after a German area code: 030/1234567
    if _DATE.match(written):
        return None
    if paren:
        ok = shape[0] >= 2 and 7 <= n <= 13
    elif digits.startswith("00"):
        ok = 10 <= n <= 17
    elif digits[0] == "0":
        # Eight digits in three groups or more: Stockholm's 08-14 41 80 and other short areas.
        ok = 9 <= n <= 12 or (n == 8 and len(shape) >= 3)
    else:
        first = _NATIONAL.get(shape, "")
        ok = digits[0] in first or _BRAZIL.fullmatch(written) is not None
    return "PHONE" if ok else None
