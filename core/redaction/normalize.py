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
- decimal digits of any script (Arabic-Indic ``٤``, Devanagari ``४`` ...) become ASCII digits;
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
                      r"|(?![0-9])\d")
_REMOVED = frozenset("\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff")
_STOPS = frozenset("\u3002\uff0e\uff61")
_SPELLED_AT = re.compile(r"[\[(](?:at|AT)[\])]")
_SPELLED = re.compile(r"%40| ?[\[(](?:at|AT)[\])] ?| ?[\[(](?:dot|DOT)[\])] ?")


def needs(text: str) -> bool:
    """Whether ``normalize`` could change ``text`` (False for nearly every text, cheaply)."""
    if text.isascii():
        return "%40" in text or _SPELLED_AT.search(text) is not None
    return "%40" in text or _TOUCHED.search(text) is not None or _SPELLED_AT.search(text) is not None


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
