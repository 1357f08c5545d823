"""The checks behind the detectors, against the reference implementations they stand in for."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.core.redaction.checks import iban, ipv4, ipv6, luhn

_HEXTET = st.text(alphabet="0123456789abcdefABCDEF", min_size=0, max_size=5)
_QUAD = st.lists(st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "", "1a"])),
                 min_size=3, max_size=5).map(".".join)
# Addresses assembled from near-valid pieces (empty groups, five-digit groups, quads with leading
# zeros, too many or too few groups) and raw strings over the alphabet the IPv6 pattern admits.
_ASSEMBLED = st.tuples(st.lists(_HEXTET, min_size=1, max_size=10),
                       st.one_of(st.none(), _QUAD)).map(
    lambda p: ":".join(p[0]) + (":" + p[1] if p[1] is not None else ""))
_RAW = st.text(alphabet="0123456789abcdefABCDEF:.", max_size=45)


def _reference(candidate: str) -> bool:
    if sum(1 for group in candidate.split(":") if group) < 3:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_ASSEMBLED, _RAW))
def test_ipv6_agrees_with_ipaddress(candidate: str) -> None:
    """Our parser accepts exactly what the standard library's does (with at least three written
    groups, our own rule on top), at a third of its cost."""
    assert ipv6(candidate) == _reference(candidate), candidate


def test_ipv6_edge_cases() -> None:
    valid = ["2001:db8::1", "fe80::1:2:3", "64:ff9b::1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
             "::2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "2001:DB8:0:0:8:800:200C:417A"]
    invalid = ["1:2:3:4:5:6:7:8:9", "1::2::3", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "1:2:3:4:5:6:7:8::",
               "::1.2.3.04", "a:b:c:12345::", "1:2:3:4:5:6:7:1.2.3.4", "::", "a::b", "::ffff:1.2.3.4",
               "1:2:3", ":::1:2:3"]
    for candidate in valid:
        assert ipv6(candidate), candidate
        assert _reference(candidate), candidate
    for candidate in invalid:
        assert not ipv6(candidate), candidate
        assert not _reference(candidate), candidate


@given(st.lists(st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "007"])),
                min_size=4, max_size=4).map(".".join))
def test_ipv4_agrees_with_ipaddress(candidate: str) -> None:
    try:
        ipaddress.IPv4Address(candidate)
        expected = True
    except ValueError:
        expected = False
    assert ipv4(candidate) == expected, candidate


def test_iban_checksum() -> None:
    assert iban("DE89370400440532013000")
    assert iban("GB82WEST12345698765432")
    assert not iban("GB82WEST12345698765433")  # one digit off
    assert not iban("DE8937040044053201300")  # the wrong length for Germany
    assert not iban("XX89370400440532013000")  # no such country


def _luhn_digit_by_digit(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=25))
def test_luhn_agrees_with_the_digit_by_digit_definition(digits: str) -> None:
    """The checksum summed in C (bytes, a translation table for the doubled digits) is the Luhn
    algorithm as written in ISO/IEC 7812-1, for every length."""
    assert luhn(digits) == _luhn_digit_by_digit(digits)


def test_luhn_takes_ascii_digits_only() -> None:
    """Anything but ASCII digits (other scripts' digits, separators, nothing at all) is no number."""
    assert luhn("4111111111111111")
    assert not luhn("") and not luhn("4111 1111 1111 1111") and not luhn("\u0664111111111111111")
