"""Ed25519 keys of the checkpoints: the stream signs with its private key, anyone verifies with the public.

A key id is the first 16 hex digits of SHA-256 over the raw public key, carried in every checkpoint,
so after a rotation old checkpoints still verify with the old public key (keep it in the keyring).
Keys are read as PEM (PKCS#8 private, SubjectPublicKeyInfo public) or as 32 raw bytes in base64.
The private key never appears in a repr or an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["Keyring", "SigningKey", "key_id", "load_public_key", "public_pem"]


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _raw32(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


class SigningKey:
    """The stream's private key. ``generate()`` for tests and ``agent-audit checkpoints keygen``."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str) -> SigningKey:
        """PEM (PKCS#8) or base64 of the 32-byte seed; a ValueError that never quotes the text."""
        raw = _raw32(text)
        if raw is not None:
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError("not an Ed25519 private key (PEM PKCS#8 or base64 of 32 bytes)") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be Ed25519")
        return cls(key)

    def private_pem(self) -> str:
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode()

    def derive(self, label: bytes) -> bytes:
        """A 32-byte secret for another purpose (the salt key), bound to this key and ``label``."""
        seed = self._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                           serialization.NoEncryption())
        return hashlib.sha256(b"agent-audit/derive\x00" + label + b"\x00" + seed).digest()

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._private.sign(message)).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    raw = _raw32(text)
    if raw is not None:
        return Ed25519PublicKey.from_public_bytes(raw)
    try:
        key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError):
        raise ValueError("not an Ed25519 public key (PEM or base64 of 32 bytes)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key must be Ed25519")
    return key


class Keyring:
    """Public keys by key id: the current one and every retired one still verifying old checkpoints."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self.keys: dict[str, Ed25519PublicKey] = {key_id(k): k for k in keys}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Keyring:
        return cls(load_public_key(t) for t in texts if t.strip())

    def merged(self, other: Mapping[str, Ed25519PublicKey]) -> Keyring:
        ring = Keyring()
        ring.keys = {**self.keys, **other}
        return ring

    def verify(self, kid: str, message: bytes, signature: str) -> bool:
        key = self.keys.get(kid)
        if key is None:
            return False
        try:
            key.verify(base64.b64decode(signature), message)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True
