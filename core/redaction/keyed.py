"""HMAC-SHA256 for keyed tokens, with the key's two padded states hashed once.

``hmac.digest`` derives the inner and outer states from the key on every call; for the short values
we tokenise that is most of its cost (1.7 µs against 0.65 µs here). The output is RFC 2104 HMAC,
bit for bit the same as ``hmac.digest(key, message, "sha256")`` (a test holds the two together).
"""

from __future__ import annotations

import hashlib

__all__ = ["KeyedDigest"]

_BLOCK = 64  # SHA-256's block size in bytes
_INNER = bytes(b ^ 0x36 for b in range(256))  # RFC 2104 ipad, as a translation table
_OUTER = bytes(b ^ 0x5C for b in range(256))  # RFC 2104 opad


class KeyedDigest:
    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER))
        self._outer = hashlib.sha256(key.translate(_OUTER))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()
