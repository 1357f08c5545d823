"""The bytes an event's digest covers and the bytes a link hash covers, computable with the stdlib alone.

``canonical`` is the event as JSON with sorted keys, no spaces, non-ASCII kept, its ``integrity``
field left out: the same bytes as ``orjson.dumps(..., OPT_SORT_KEYS)``, which the stream uses for
speed (a differential test holds the two together). The offline verifier uses this module as is.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["LINK_DOMAIN", "canonical", "content_digest", "link_bytes", "link_hash"]

LINK_DOMAIN = b"agent-audit/link/v2\x00"
_EXPONENT = re.compile(r"e([+-])0*(\d)")


def _float(value: float) -> str:
    """``repr`` in orjson's spelling: exponents without leading zeros, and 1e-5..1e-4 written out."""
    text = repr(value)
    if text.endswith("e-05"):  # orjson writes this one decade in fixed notation
        sign, mantissa = ("-", text[1:-4]) if text[0] == "-" else ("", text[:-4])
        return f"{sign}0.0000{mantissa.replace('.', '').rstrip('0') or '0'}"
    return _EXPONENT.sub(lambda m: "e" + ("-" if m.group(1) == "-" else "+") + m.group(2), text)


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is None or isinstance(value, bool | int):
        out.append(json.dumps(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            out.append("," if i else "")
            out.append(json.dumps(str(key), ensure_ascii=False) + ":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} canonically")


def canonical(event: Mapping[str, Any]) -> bytes:
    """The event without ``integrity`` as canonical JSON (UTF-8)."""
    out: list[str] = []
    _encode({k: v for k, v in event.items() if k != "integrity"}, out)
    return "".join(out).encode()


def content_digest(salt: bytes, body: bytes) -> str:
    return hashlib.sha256(salt + body).hexdigest()


def link_bytes(prev_hash: str | None, session_id: str, seq: int, event_id: str, digest: str) -> bytes:
    return LINK_DOMAIN + json.dumps([prev_hash, session_id, seq, event_id, digest],
                                    ensure_ascii=False, separators=(",", ":")).encode()


def link_hash(prev_hash: str | None, session_id: str, seq: int, event_id: str, digest: str) -> str:
    """What the session chain and the checkpoints commit to: position and digest, never content.
    It is the RFC 9162 leaf hash of the link entry (0x00 prefix), so it is the Merkle leaf as is."""
    return hashlib.sha256(b"\x00" + link_bytes(prev_hash, session_id, seq, event_id, digest)).hexdigest()
