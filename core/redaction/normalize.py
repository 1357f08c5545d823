# ruff: noqa: RUF002 - the docstring shows the very characters this module folds
"""Normalisation before detection, mapped back: the detectors see ``jane@example.com`` where the
text says ``ｊａｎｅ＠ｅｘａｍｐｌｅ.com``, ``jane%40example.com`` or ``jane[at]example.com``; the
redactor replaces the *original* characters, so everything that was not PII is kept as written.

Guarantee: every character of the normalised text knows the span of the original it came from
(``origin``), so a finding in the normalised text maps to exactly the original characters it
stands for. What is normalised (nothing else is touched):

- zero-width and format characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen) are removed;
- no-break, narrow no-break, figure, thin and ideographic spaces become a space;
- fullwidth and small forms (``＠``, ``﹫``, ``４``, ``：``) and other compatibility characters in
  those blocks take their NFKC form; the ideographic full stops ``。`` ``｡`` ``．`` become ``.``;
- decimal digits of the scripts that have their own (Arabic-Indic ``٤``, Persian, Devanagari ``४``,
  Bengali, Tamil, Thai, Khmer ... : each block listed in ``_TOUCHED``) become ASCII digits;
- ``%40`` becomes ``@``; ``[at]``/``(at)`` and ``[dot]``/``(dot)`` (spaces around them too) become
  ``@`` and ``.``.

``needs(text)`` is the gate: ``str.isascii`` and two or three substring tests on the usual text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["needs", "normalize"]

# Where a character can change what the detectors see: zero-width and format characters anywhere;
# the odd spaces and the ideographic stops before a digit or letter (a sentence-final 。 or the space a
# French text puts before ':' change nothing); fullwidth and small digits, letters and at-signs; any
# non-ASCII decimal digit. Fullwidth punctuation in CJK prose does not send a text down this path.
_TOUCHED = re.compile(r"[\u00ad\u200b-\u200f\u2060-\u2064\ufeff\ufe6b\uff10-\uff3a\uff41-\uff5a]"
                      r"|[\u00a0\u2000-\u200a\u202f\u205f\u3000\u3002\uff0e\uff61](?=[0-9A-Za-z\uff10-\uff5a+(])"
                      r"|[\u0660-\u0669\u06f0-\u06f9\u07c0-\u07c9\u0966-\u096f\u09e6-\u09ef\u0a66-\u0a6f"
                      r"\u0ae6-\u0aef\u0b66-\u0b6f\u0be6-\u0bef\u0c66-\u0c6f\u0ce6-\u0cef\u0d66-\u0d6f"
                      r"\u0e50-\u0e59\u0ed0-\u0ed9\u0f20-\u0f29\u1040-\u1049\u17e0-\u17e9\u1810-\u1819]"
                      r"|%40|[\[(](?:at|AT)[\])]")  # digits of the scripts that have their own; spelled ats
_REMOVED = frozenset("\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff")
_STOPS = frozenset("\u3002\uff0e\uff61")
_ANY_TOUCHED = re.compile(r"[\u00a0\u00ad\u2000-\u200f\u202f\u205f-\u2064\u3000\u3002\ufe6b\ufeff\uff0e"
                          r"\uff10-\uff3a\uff41-\uff5a\uff61\u0660-\u0669\u06f0-\u06f9\u07c0-\u07c9"
                          r"\u0966-\u096f\u09e6-\u09ef\u0a66-\u0a6f\u0ae6-\u0aef\u0b66-\u0b6f\u0be6-\u0bef"
                          r"\u0c66-\u0c6f\u0ce6-\u0cef\u0d66-\u0d6f\u0e50-\u0e59\u0ed0-\u0ed9\u0f20-\u0f29"
                          r"\u1040-\u1049\u17e0-\u17e9\u1810-\u1819%\[(]")
_SPELLED_AT = re.compile(r"[\[(](?:at|AT)[\])]")
_SPELLED = re.compile(r"%40| ?[\[(](?:at|AT)[\])] ?| ?[\[(](?:dot|DOT)[\])] ?")


def needs(text: str) -> bool:
    """Whether ``normalize`` could change ``text`` (False for nearly every text, cheaply)."""
    if text.isascii():
        return "%40" in text or _SPELLED_AT.search(text) is not None
    # One character class first (a single test per character, in C); the precise pattern, with its
    # alternatives and lookaheads, only where such a character is.
    return _ANY_TOUCHED.search(text) is not None and _TOUCHED.search(text) is not None


def normalize(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The normalised text and, for each of its characters, the (start, end) it covers in ``text``."""
    chars: list[str] = []
    origin: list[tuple[int, int]] = []
    for i, c in enumerate(text):
        if c.isascii():
            chars.append(c)
            origin.append((i, i + 1))
            continue
        if c in _REMOVED:
            continue
        digit = unicodedata.decimal(c, None)
        if digit is not None:
            mapped = str(digit)
        elif c in _STOPS:
            mapped = "."
        elif unicodedata.category(c) == "Zs":
            mapped = " "
        else:
            mapped = unicodedata.normalize("NFKC", c) or c
        for m in mapped:
            chars.append(m)
            origin.append((i, i + 1))
    flat = "".join(chars)
    if "%40" not in flat and "at]" not in flat and "at)" not in flat and "AT" not in flat:
        return flat, origin
    return _unspell(flat, origin)


def _unspell(flat: str, origin: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """``%40``, ``[at]``, ``(dot)``: one character each, covering all that they were written with."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    last = 0
    for m in _SPELLED.finditer(flat):
        chars.extend(flat[last:m.start()])
        spans.extend(origin[last:m.start()])
        written = m.group().strip().lower()
        chars.append("@" if written in ("%40", "[at]", "(at)") else ".")
        spans.append((origin[m.start()][0], origin[m.end() - 1][1]))
        last = m.end()
    chars.extend(flat[last:])
    spans.extend(origin[last:])
    return "".join(chars), spans
