"""Redaction keys rotate: lookups find an identifier under every key version; ids are never placeholders."""

from __future__ import annotations

import pytest

from agent_audit.core.errors import ConfigError
from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction.keyring import KeyringRedactor, parse_old_keys, require_redaction_key
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.holds import Hold, held_query
from agent_audit.sinks.compliance.identifiers import stored_form
from tests.factories import event

ROTATED = Settings(redaction_key="key-two", redaction_key_version="v2", redaction_old_keys="v1=key-one")


def test_lookups_cover_the_tokens_of_every_key_version() -> None:
    """After a rotation, an email id is searched as the old key's token too (documents written before)."""
    old_token = Redactor(key=b"key-one").redact_text("jane@example.com")[0]
    new_token = Redactor(key=b"key-two").redact_text("jane@example.com")[0]
    form = stored_form("jane@example.com", KeyringRedactor(ROTATED))
    assert old_token != new_token
    assert form.lookup_values() == ["jane@example.com", new_token, old_token]


def test_a_hold_made_after_a_rotation_still_covers_the_old_tokens() -> None:
    """A hold keeps the identifier's earlier forms, and the held query matches them."""
    form = stored_form("jane@example.com", KeyringRedactor(ROTATED))
    hold = Hold("h", "user", form.stored, True, "case", "2026-11-25T00:00:00Z", "me", also=form.older)
    assert form.older[0] in str(held_query([hold]))


def test_without_a_key_ids_are_kept_as_they_are_never_a_shared_placeholder() -> None:
    """Development without a key: an email user id stays itself (content is still redacted)."""
    ev = event("input", 0, user="jane@example.com",
               payload={"type": "text", "content": "mail jane@example.com"})
    out, _ = Redactor().redact_event(ev)
    assert out["user_id"] == "jane@example.com" and "jane@" not in str(out["payload"])
    keyed, _ = Redactor(key=b"k").redact_event(ev)
    assert keyed["user_id"].startswith("[EMAIL:")


def test_production_refuses_to_stream_without_a_redaction_key() -> None:
    """AUDIT_MODE=production and no AUDIT_REDACTION_KEY: the stream does not start."""
    with pytest.raises(ConfigError, match="AUDIT_REDACTION_KEY"):
        require_redaction_key(Settings(mode="production"))
    require_redaction_key(Settings(mode="development"))


def test_malformed_old_keys_are_refused_without_echoing_them() -> None:
    """A bad AUDIT_REDACTION_OLD_KEYS entry is a ConfigError that never quotes the key."""
    assert parse_old_keys("v0=a, v1=b") == [("v0", b"a"), ("v1", b"b")]
    with pytest.raises(ConfigError) as info:
        parse_old_keys("v0=a,topsecretvalue")
    assert "topsecretvalue" not in str(info.value)
