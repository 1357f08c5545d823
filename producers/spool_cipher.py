"""Encryption at rest for the agent's disk spool: AES-256-GCM per record, with a configured key.

Guarantee: with AUDIT_SPOOL_KEY set, no spooled byte of an event (nor its session key) is on disk
in the clear, and a record that was not sealed with this key (planted, altered, moved to another
partition, or written under another key) fails authentication and is never sent. Each record has
a fresh random 96-bit nonce; its partition and partition count are authenticated with it.

The key is 32 bytes, given as 64 hex digits or base64. Only its derived identifier (``key_id``)
is written to disk, so a spool written under another key is recognised and left alone instead
of being read as garbage. Needs ``cryptography`` (``pip install agent-audit[secure]``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from agent_audit.core.errors import ConfigError

__all__ = ["SpoolCipher", "parse_spool_key"]

_NONCE = 12


def parse_spool_key(text: str) -> bytes:
    """The 32-byte key from 64 hex digits or base64; a ConfigError that never repeats the value."""
    text = text.strip()
    try:
        if len(text) == 64:
            key = bytes.fromhex(text)
        else:  # standard or URL-safe alphabet, padding optional
            key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (ValueError, binascii.Error):
        raise ConfigError("AUDIT_SPOOL_KEY must be 32 bytes as 64 hex digits or base64") from None
    if len(key) != 32:
        raise ConfigError("AUDIT_SPOOL_KEY must be 32 bytes as 64 hex digits or base64")
    return key


class SpoolCipher:
    def __init__(self, key: bytes) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 - optional
        except ImportError:
            raise ConfigError("AUDIT_SPOOL_KEY needs the cryptography package: "
                              "pip install 'agent-audit[secure]'") from None
        self._aead = AESGCM(key)
        # Written to the spool's layout file: names the key without revealing it.
        self.key_id = hmac.new(key, b"agent-audit spool key id", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"SpoolCipher(key_id={self.key_id!r})"

    def seal(self, plain: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plain, associated)

    def open(self, sealed: bytes, associated: bytes) -> bytes | None:
        """The plaintext, or None when ``sealed`` was not made by this key for ``associated``."""
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415

        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], associated)
        except (InvalidTag, ValueError):
            return None
