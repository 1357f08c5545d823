"""Redaction keys by version: the current one makes tokens, every earlier one still finds its own.

A token does not say which key made it (``[EMAIL:289cbf10b3dd]``), so after a rotation the
documents written under the old key hold tokens the new key never makes. Lookups (query, hold,
forget, verify) therefore compute an identifier's token under every version in the keyring and
search for all of them. Keys: ``AUDIT_REDACTION_KEY`` (current, labelled by
``AUDIT_REDACTION_KEY_VERSION``) and ``AUDIT_REDACTION_OLD_KEYS`` (``v0=key,v1=key``).

Identifiers are never left as a shared placeholder: with a key they become keyed tokens; the
stream refuses to start in production without one (``require_redaction_key``), and in development
the redactor keeps them as they are.
"""

from __future__ import annotations

from agent_audit.core.errors import ConfigError
from agent_audit.core.redaction.redactor import Redactor
from agent_audit.core.settings import Settings

__all__ = ["KeyringRedactor", "parse_old_keys", "require_redaction_key"]


def parse_old_keys(spec: str | None) -> list[tuple[str, bytes]]:
    """``v0=key,v1=key`` as (version, key) pairs; a malformed entry is a ``ConfigError`` (never echoed)."""
    pairs: list[tuple[str, bytes]] = []
    for n, part in enumerate(filter(None, (p.strip() for p in (spec or "").split(","))), start=1):
        version, sep, key = part.partition("=")
        if not sep or not version.strip() or not key.strip():
            raise ConfigError(f"AUDIT_REDACTION_OLD_KEYS: entry {n} is not version=key")
        pairs.append((version.strip(), key.strip().encode()))
    return pairs


def require_redaction_key(settings: Settings) -> None:
    """Production refuses to redact without a key: placeholders would make ids unerasable."""
    if settings.production and not settings.redaction_key:
        raise ConfigError("AUDIT_REDACTION_KEY is required in production: without it user and "
                          "session ids could only be stored as shared placeholders or in the clear")


class KeyringRedactor(Redactor):
    """The current key's redactor, which also knows how every earlier version tokenised a value."""

    def __init__(self, settings: Settings) -> None:
        key = settings.redaction_key.encode() if settings.redaction_key else None
        super().__init__(key=key, key_version=settings.redaction_key_version if key else None)
        self.older = [Redactor(key=k, key_version=v) for v, k in parse_old_keys(settings.redaction_old_keys)
                      if v != settings.redaction_key_version]

    def older_forms(self, text: str) -> list[str]:
        """``text`` as each earlier key version stored it (new forms only, oldest last)."""
        current = self.redact_text(text)[0]
        forms = dict.fromkeys(r.redact_text(text)[0] for r in self.older)
        return [f for f in forms if f not in (current, text)]
