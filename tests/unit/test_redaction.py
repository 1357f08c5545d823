"""Redaction: golden cases per detector, key-name rules, keyed tokens, and properties on any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.redaction import Redactor

R = Redactor()


@pytest.mark.parametrize(("text", "expected"), [
    ("mail jane.doe@example.com now", "mail [EMAIL] now"),
    ("call +44 20 7946 0958", "call [PHONE]"),
    ("call (415) 555-0132", "call [PHONE]"),
    ("card 4111 1111 1111 1111.", "card [CARD]."),
    ("card 5500-0000-0000-0004", "card [CARD]"),
    ("iban DE89 3704 0044 0532 0130 00 ok", "iban [IBAN] ok"),
    ("iban GB82WEST12345698765432", "iban [IBAN]"),
    ("ssn 123-45-6789", "ssn [SSN]"),
    ("from 192.168.10.24 to", "from [IP] to"),
    ("v6 2001:db8::8a2e:370:7334 here", "v6 [IP] here"),
    ("key AKIAIOSFODNN7EXAMPLE", "key [SECRET]"),
    ("ghp_" + "a" * 36, "[SECRET]"),
    ("use sk-ant-api03-abcdefghijklmnopqrstuv", "use [SECRET]"),
    ("Authorization: Bearer abc.def-ghi_jkl123", "Authorization: [SECRET]"),
    ("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "t=[JWT]"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----", "[PRIVATE_KEY]"),
    ("db postgres://admin:hunter2@db.internal:5432/x", "db postgres://[CREDENTIALS]@db.internal:5432/x"),
])
def test_pii_is_replaced_by_a_typed_placeholder(text: str, expected: str) -> None:
    """Each detector replaces what it finds by [TYPE]."""
    assert R.redact_text(text)[0] == expected


@pytest.mark.parametrize("text", [
    "order 12345 shipped", "released v1.2.3 on 2026-11-25", "uuid 0b7c6c1e-8d4a-4f7e-9a59-3c1d2e4f5a6b",
    "card-like 4111 1111 1111 1112 fails Luhn", "tokens_used=812",
    "at 10:30:00 on 2026-11-25T10:30:00Z", "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "iban-like DE89 3704 0044 0532 0130 01 fails mod-97", "https://example.com/path?q=1",
])
def test_hard_negatives_are_left_alone(text: str) -> None:
    """Order numbers, versions, dates, UUIDs and Luhn failures are not PII."""
    assert R.redact_text(text) == (text, {})


def test_values_under_secret_keys_are_masked_but_metric_keys_are_not() -> None:
    """password/api_key/Authorization are masked whatever they hold; tokens_used is a metric."""
    out, counts = R.redact_value({"password": "hunter2", "apiKey": 42, "Authorization": "Bearer x",
                                  "tokens_used": 812, "max_tokens": 1000, "nested": [{"secret": "s"}]})
    assert out == {"password": "[SECRET]", "apiKey": "[SECRET]", "Authorization": "[SECRET]",
                   "tokens_used": 812, "max_tokens": 1000, "nested": [{"secret": "[SECRET]"}]}
    assert counts == {"SECRET": 4}


def test_keyed_tokens_are_stable_per_value_and_key() -> None:
    """With a key, the same value gives the same token (joins survive); another key, another token."""
    a, b = Redactor(key=b"k1", key_version="v1"), Redactor(key=b"k2", key_version="v2")
    t1 = a.redact_text("x@example.com")[0]
    assert t1 == a.redact_text("x@example.com")[0] != a.redact_text("y@example.com")[0]
    assert t1.startswith("[EMAIL:")
    assert b.redact_text("x@example.com")[0] != t1


def test_events_keep_their_structure_and_record_what_was_removed() -> None:
    """Structural fields stay; content is redacted; the event says which policy and what counts."""
    ev = {"event_id": "e", "timestamp": "2026-11-25T09:00:00Z", "session_id": "s",
          "user_id": "jane@example.com", "payload": {"content": "call +1-202-555-0173"}}
    out, counts = Redactor(key=b"k", key_version="v7").redact_event(ev)
    assert out["event_id"] == "e"
    assert out["user_id"].startswith("[EMAIL:")
    assert out["redaction"]["key_version"] == "v7"
    assert out["redaction"]["counts"] == counts == {"EMAIL": 1, "PHONE": 1}
    assert ev["user_id"] == "jane@example.com"  # the input is never mutated


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_redacting_twice_changes_nothing(text: str) -> None:
    """Placeholders are never detected again: redaction is idempotent."""
    once = R.redact_text(text)[0]
    assert R.redact_text(once) == (once, {})


@settings(max_examples=100, deadline=None)
@given(st.emails(), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_no_email_survives_whatever_surrounds_it(email: str, noise: str) -> None:
    """An email address embedded in arbitrary text is gone after redaction."""
    out = R.redact_text(f"{noise} {email} {noise}")[0]
    assert email not in out


def test_deep_nesting_is_bounded() -> None:
    """Nesting beyond the depth cap is replaced by a marker, not recursed into."""
    deep: object = "a@b.co"
    for _ in range(100):
        deep = [deep]
    _, counts = R.redact_value(deep)
    assert counts == {"DEPTH": 1}
