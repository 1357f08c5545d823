"""The redactor: detectors over every string of an event, typed placeholders or keyed tokens.

Placeholders (``[EMAIL]``) or, with a key, HMAC tokens (``[EMAIL:3f9a1c2b]``): the same value
always maps to the same token so joins survive, and nothing can be reversed without the key.
Placeholders are never detected again, so redacting twice changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections import Counter
from typing import Any

from core.redaction.detectors import DETECTORS, Detector
from core.settings import Settings

__all__ = ["POLICY_VERSION", "Redactor"]

POLICY_VERSION = "2026.11-2"

# Fields of the envelope that are structure, not content.
STRUCTURAL = frozenset({"schema_version", "event_id", "kind", "level", "timestamp", "seq", "trace_id",
                        "span_id", "parent_span_id", "agent", "redaction", "integrity"})
SECRET_WORDS = frozenset({"password", "passwd", "pwd", "secret", "token", "apikey", "authorization",
                          "auth", "credential", "credentials", "cookie", "privatekey"})
MAX_DEPTH = 32
MAX_TEXT = 1_000_000  # longer strings are cut: bounded work per value

@functools.lru_cache(maxsize=4096)  # keys repeat across events: split each one once
def _is_secret_key(key: str) -> bool:
    return bool(_key_words(key) & SECRET_WORDS)


def _key_words(key: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    words = {w.lower() for w in re.split(r"[\s_.\-]+", spaced) if w}
    joined = "".join(sorted(words))
    return words | {joined, key.lower().replace("_", "").replace("-", "")}


class Redactor:
    def __init__(self, key: bytes | None = None, key_version: str | None = None) -> None:
        self._key = key
        self.key_version = key_version if key else None
        self.policy_version = POLICY_VERSION

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        """The redactor the stream uses: keyed tokens when AUDIT_REDACTION_KEY is set."""
        key = settings.redaction_key.encode() if settings.redaction_key else None
        return cls(key=key, key_version=settings.redaction_key_version if key else None)

    def _token(self, kind: str, value: str) -> str:
        if self._key is None:
            return f"[{kind}]"
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:12]
        return f"[{kind}:{digest}]"

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        counts: Counter[str] = Counter()
        text = text[:MAX_TEXT]
        for detector in DETECTORS:
            if detector.gate(text):
                text = self._sub(detector, text, counts)
        return text, dict(counts)

    def _sub(self, d: Detector, text: str, counts: Counter[str]) -> str:
        def repl(m: re.Match[str]) -> str:
            found = m.group(d.group)
            if not d.accept(found):
                return m.group(0)
            counts[d.kind] += 1
            whole = m.group(0)
            if d.group == 0:
                return self._token(d.kind, found)
            start, end = m.start(d.group) - m.start(0), m.end(d.group) - m.start(0)
            return whole[:start] + self._token(d.kind, found) + whole[end:]

        return d.pattern.sub(repl, text)

    def redact_value(self, value: Any, depth: int = 0) -> tuple[Any, dict[str, int]]:
        counts: Counter[str] = Counter()
        return self._value(value, depth, counts), dict(counts)

    def _value(self, value: Any, depth: int, counts: Counter[str]) -> Any:
        if isinstance(value, str):
            out, c = self.redact_text(value)
            counts.update(c)
            return out
        if depth >= MAX_DEPTH and isinstance(value, dict | list):
            counts["DEPTH"] += 1
            return "[TOO_DEEP]"
        if isinstance(value, dict):
            return {k: self._masked(k, v, depth, counts) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v, depth + 1, counts) for v in value]
        return value

    def _masked(self, key: str, value: Any, depth: int, counts: Counter[str]) -> Any:
        if value is not None and not isinstance(value, bool) and _is_secret_key(str(key)):
            counts["SECRET"] += 1
            return self._token("SECRET", str(value))
        return self._value(value, depth + 1, counts)

    def redact_event(self, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
        counts: Counter[str] = Counter()
        out = {k: v if k in STRUCTURAL else self._value(v, 0, counts) for k, v in event.items()}
        out["redaction"] = {"policy_version": self.policy_version, "counts": dict(counts)}
        if self.key_version:
            out["redaction"]["key_version"] = self.key_version
        return out, dict(counts)
