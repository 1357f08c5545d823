"""Checks that turn a pattern's candidate into a finding: checksums, registries, real parses.

A pattern alone cannot tell a card from an order number; Luhn plus the issuer ranges can. Each
check is pure and runs only on candidates, so its cost does not grow with the text.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["IBAN_LENGTHS", "basic_credentials", "card_number", "iban", "ipv4", "ipv6", "luhn", "ssn"]

# Country -> IBAN length (the SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


# Each digit of the every-second run as the digits of its double, summed: 5 -> 10 -> 1, 9 -> 18 -> 9.
_DOUBLED = str.maketrans("0123456789", "0246813579")


def luhn(digits: str) -> bool:
    """The Luhn checksum of ASCII digits: the sums run in C (``sum`` over bytes), not digit by digit."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    kept, doubled = digits[-1::-2], digits[-2::-2].translate(_DOUBLED)
    return (sum(kept.encode()) + sum(doubled.encode()) - 48 * len(digits)) % 10 == 0


# Maestro's own prefixes, whose numbers run from 12 digits (Maestro's wider ranges, 50 and 56-69,
# take in too many 12-19 digit ids and durations: they count only where context names a card).
_MAESTRO = ("5018", "5020", "5038", "5893", "6304", "6390", "6759", "6761", "6762", "6763", "0604")
_JCB_15 = ("1800", "2131")  # JCB's older 15-digit numbers
_ANY = range(12, 20)


def _brand_lengths(digits: str) -> range | tuple[int, ...]:  # noqa: PLR0911 - one brand per return
    """The lengths the brand that owns this prefix issues (ISO/IEC 7812 ranges as the brands publish
    them), empty where no brand we know issues that prefix. Visa's 13 digits are left out: every
    13-digit Visa has expired, and admitting them takes every tenth 13-digit id that starts with 4."""
    if digits.startswith(_MAESTRO):
        return _ANY
    two, four = int(digits[:2]), int(digits[:4])
    if two // 10 == 4:
        return (16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return (16,)  # Mastercard
    if two in (34, 37):
        return (15,)  # American Express
    if two in (36, 38, 39) or 3000 <= four <= 3059 or four == 3095:
        return range(14, 20)  # Diners Club International
    if two == 35:
        return range(16, 20)  # JCB (assigned 3528-3589; generators and older tables give all of 35)
    if four in (1800, 2131):
        return (15,)  # JCB's older numbers
    if four == 6011 or 644 <= int(digits[:3]) <= 649 or two in (62, 65):
        return range(16, 20)  # Discover, UnionPay
    return ()


def card_number(digits: str, *, named: bool = False) -> bool:
    """A card issuer's range, that brand's lengths, and Luhn: 16 or 19 digits for Visa, 16 for
    Mastercard, 15 for Amex, 14-19 for Diners, 16-19 for JCB, Discover and UnionPay, 12-19 for
    Maestro's own prefixes, 15 for JCB's 1800/2131. Where context names a card (``named``: a ``pan``
    or ``card`` key, the word "card" just before), Maestro's wider ranges (50, 56-69) count too, from
    12 digits. Ids and timestamps starting 0, 1, 7, 8 or 9 never qualify, but for those few prefixes."""
    n = len(digits)
    if not 12 <= n <= 19:
        return False
    if n in _brand_lengths(digits) or (named and (digits[:2] == "50" or "56" <= digits[:2] <= "69")):
        return luhn(digits)
    return False


# ISO 13616: each letter counts as two digits, A = 10 ... Z = 35.
_LETTER_DIGITS = str.maketrans({c: str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
                               | {c: str(10 + i) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")})


def iban(compact: str) -> bool:
    """A registered country, that country's length, and the ISO 7064 mod-97 checksum."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = (compact[4:] + compact[:4]).translate(_LETTER_DIGITS)
    return moved.isascii() and moved.isdigit() and int(moved) % 97 == 1


def ssn(area: str, group: str, serial: str) -> bool:
    """US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def ipv4(candidate: str) -> bool:
    """Four decimal octets, 0-255, without leading zeros (as ``ipaddress.IPv4Address`` reads them)."""
    parts = candidate.split(".")
    return len(parts) == 4 and all(_octet(p) for p in parts)


def ipv6(candidate: str) -> bool:
    """A real IPv6 address with at least three written groups: ``a::b`` in code is not one."""
    groups = candidate.split(":")
    return len(groups) - groups.count("") >= 3 and _ipv6_groups(groups)


_HEX = frozenset("0123456789abcdefABCDEF")


def _hextets(groups: list[str]) -> bool:
    """Each group 1-4 hex digits (map and min/max run in C: this is on the hot path)."""
    if not groups:
        return True
    sizes = list(map(len, groups))
    return min(sizes) > 0 and max(sizes) <= 4 and _HEX.issuperset("".join(groups))


def _octet(part: str) -> bool:
    return (0 < len(part) <= 3 and part.isascii() and part.isdigit() and (part == "0" or part[0] != "0")
            and int(part) <= 255)


def _ipv6_groups(groups: list[str]) -> bool:
    """RFC 4291 text form, the rules of ``ipaddress.IPv6Address`` (a differential test holds the two
    together) at a third of its cost: eight groups of 1-4 hex digits, or fewer with one ``::``
    standing for at least one zero group; the last two may be written as a dotted quad."""
    if len(groups) < 3:
        return False
    if "." in groups[-1]:
        if not ipv4(groups[-1]):
            return False
        groups = [*groups[:-1], "0", "0"]
    gaps = groups[1:-1].count("")
    if len(groups) > 9 or gaps > 1:
        return False
    if not gaps:
        return len(groups) == 8 and _hextets(groups)
    gap = groups.index("", 1)
    head, tail = groups[:gap], groups[gap + 1:]
    lead, trail = not head[0], not tail[-1]  # a ':' at either end only as part of the '::'
    if (lead and gap != 1) or (trail and gap != len(groups) - 2):
        return False
    written = head[lead:] + tail[:len(tail) - trail]
    return len(written) <= 7 and _hextets(written)


def basic_credentials(encoded: str) -> bool:
    """``Basic`` auth carries base64 of ``user:password``; an English word after 'basic' does not."""
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded and decoded.isascii()
