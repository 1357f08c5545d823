"""Keyed tokens: our HMAC with precomputed pads is the standard library's HMAC-SHA256, bit for bit."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction.keyed import KeyedDigest


@given(key=st.binary(min_size=1, max_size=200), message=st.binary(max_size=300))
def test_same_as_stdlib_hmac(key: bytes, message: bytes) -> None:
    """Keys shorter than, equal to and longer than SHA-256's 64-byte block."""
    assert KeyedDigest(key).digest(message) == hmac.digest(key, message, "sha256")


def test_digest_is_reusable() -> None:
    """The padded states are copied per call, never consumed: the same input gives the same output."""
    keyed = KeyedDigest(b"k" * 64)
    assert keyed.digest(b"jane@example.com") == keyed.digest(b"jane@example.com")
    assert keyed.digest(b"a") != keyed.digest(b"b")


def test_token_is_truncated_hmac_of_the_normalised_value() -> None:
    """[KIND:first 12 hex of HMAC-SHA256(key, normalised value)], so tokens made by earlier versions
    of the redactor (which called hmac.digest) still join with new ones."""
    key = b"rotate-me"
    expected = hmac.digest(key, b"+442079460000", "sha256").hex()[:12]
    r = Redactor(key=key, key_version="k1")
    assert r.token("PHONE", "+44 (20) 7946-0000") == f"[PHONE:{expected}]"
    assert r.token("CARD", "4111-1111 1111.1111") == r.token("CARD", "4111111111111111")
    # A value with characters the fast path does not drop is filtered by the rule itself.
    assert r.token("PHONE", "+44 20 7946 0000 #2") == r.token("PHONE", "+442079460000 2")
