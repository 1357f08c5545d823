"""Where the keys come from: the signing key for the stream, the public keyring for every verifier.

The stream's key is ``AUDIT_SIGNING_KEY`` (the key itself) or ``AUDIT_SIGNING_KEY_FILE``; in
production a stream with integrity on refuses to start without one. Verifiers read
``AUDIT_PUBLIC_KEYS`` (files or base64 keys, comma-separated: keep retired keys there so old
checkpoints still verify), plus the public half of a signing key if this process has one.
"""

from __future__ import annotations

from pathlib import Path

from agent_audit.core.errors import ConfigError
from agent_audit.core.evidence.signing import Keyring, SigningKey, load_public_key
from agent_audit.core.settings import Settings

__all__ = ["keyring_from_settings", "salt_key", "signing_key_from_settings"]


def signing_key_from_settings(settings: Settings) -> SigningKey | None:
    """The key, or None where integrity is off or (in development) no key is given."""
    if not settings.integrity:
        if settings.production:
            raise ConfigError("AUDIT_INTEGRITY=off is for development only (AUDIT_MODE=development)")
        return None
    text = settings.signing_key
    if not text and settings.signing_key_file:
        try:
            text = Path(settings.signing_key_file).read_text()
        except OSError as exc:
            raise ConfigError(f"AUDIT_SIGNING_KEY_FILE: cannot read it ({exc.strerror})") from None
    if not text:
        if settings.production:
            raise ConfigError("the stream needs a signing key in production: set AUDIT_SIGNING_KEY or "
                              "AUDIT_SIGNING_KEY_FILE (agent-audit checkpoints keygen makes one)")
        return None
    try:
        return SigningKey.from_text(text)
    except ValueError as exc:
        raise ConfigError(f"signing key: {exc}") from None


def salt_key(settings: Settings, key: SigningKey | None) -> bytes | None:
    """AUDIT_INTEGRITY_KEY if set, else derived from the signing key (one secret to keep)."""
    if settings.integrity_key:
        return settings.integrity_key.encode()
    return key.derive(b"salt") if key is not None else None


def keyring_from_settings(settings: Settings) -> Keyring:
    ring = Keyring()
    for item in (p.strip() for p in settings.public_keys.split(",")):
        if not item:
            continue
        path = Path(item)
        try:
            text = path.read_text() if path.is_file() else item
            key = load_public_key(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"AUDIT_PUBLIC_KEYS: {item[:40]!r} is not a public key ({exc})") from None
        ring = ring.merged(Keyring([key]).keys)
    if settings.integrity and (settings.signing_key or settings.signing_key_file):
        own = signing_key_from_settings(settings)
        if own is not None:
            ring = ring.merged(Keyring([own.public]).keys)
    return ring
