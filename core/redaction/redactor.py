"""The redactor: detectors over every string of a value, its dict keys too; placeholders or keyed tokens.

Placeholders (``[EMAIL]``) or, with a key, HMAC-SHA256 tokens (``[EMAIL:3f9a1c2b0d4e]``): the same
value always maps to the same token, so joins survive, and nothing can be reversed without the
key. Values are normalised before hashing (an email's case, a card's or phone's separators), so
``Jane@Example.com`` and ``jane@example.com`` share a token. No detector matches a token, so
redacting twice changes nothing.

Bounded work on hostile input: a string longer than ``MAX_TEXT`` characters is cut at the last
space before the limit and ends with ``[TRUNCATED]`` (the rest is dropped, never passed through);
containers nested deeper than ``MAX_DEPTH`` become ``[TOO_DEEP]``. Both are counted. Input is
never mutated: every container on the way is rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent_audit.core.redaction.context import VERSION, key_context, whole_value
from agent_audit.core.redaction.detectors import DETECTORS, Detector, Finding, Step, has_digit, steps
from agent_audit.core.redaction.keyed import KeyedDigest
from agent_audit.core.redaction.keys import key_kind
from agent_audit.core.redaction.normalize import needs as needs_normalizing
from agent_audit.core.redaction.normalize import normalize
from agent_audit.core.redaction.patterns import TOKEN
from agent_audit.core.settings import Settings

__all__ = ["IDENTIFIERS", "MAX_DEPTH", "MAX_TEXT", "POLICY_VERSION", "STRUCTURAL", "NameFinder", "Redactor"]

POLICY_VERSION = "2026.12-2"  # bump whenever a rule changes what is removed
MAX_TEXT = 1_000_000
MAX_DEPTH = 32
MIN_TEXT = 5  # nothing we detect fits in fewer characters ("pwd=x")
# Nothing we detect is made of letters alone in fewer characters (an AWS key id: AKIA + 16): a
# status, a tool name or an error type ("success", "TimeoutError") skips the detectors.
MIN_LETTERS = 20
# Shorter still, identifiers skip them too: letters joined by "_" or "-" ("search_kb", "not-found")
# under the shortest key shape made of such characters (Slack's "xoxb-" + 10), and, under the
# shortest run of digits or dotted quad we take (7), ASCII letters and digits joined by "_", "-",
# "." ("s-123", "v1.2"). Anything else (a space, "@", ":", "=", a quote, a non-ASCII character)
# goes to the detectors.
MIN_KEY_SHAPE = 15
MIN_NUMBER = 7
_PASSES = 3  # detector passes over a text at most: each can only free values a token now bounds
_GLUED = re.compile(r"\][\w.@+-]|[\w.@+-]\[")  # a token's bracket against a character of a value
TRUNCATED = "[TRUNCATED]"
TOO_DEEP = "[TOO_DEEP]"

# Fields of the envelope that are structure, not content (session_id and user_id are content). The
# rest of the envelope is content: ``event_id`` is any producer string, kept when it is a UUID or a
# ULID (what producers generate, core.wire.new_event_id: random hex or base32, no personal data,
# and the sink's document id) and scanned like content otherwise,
# ``agent.name`` is scanned as text (a software name, so no person-name rule) and ``agent.version``
# as a version (a dotted quad there is no IP). Enumerations, a timestamp, counters, OpenTelemetry
# hex ids and the stream's own records cannot hold personal data: validation fixes their shape.
STRUCTURAL = frozenset({"schema_version", "kind", "level", "timestamp", "seq", "trace_id",
                        "span_id", "parent_span_id", "redaction", "integrity"})
# Identifiers: keyed tokens with a key; without one (development only) kept as they are, because a
# shared placeholder ([EMAIL]) could never be held or erased for one person.
IDENTIFIERS = frozenset({"user_id", "session_id"})
_CACHE_SIZE = 10_000
_MEMO_TEXT = 200  # longest text remembered, characters
_MEMO_SIZE = 20_000  # texts remembered; past this the memo starts over
_NAMES_SIZE = 4_096  # dict keys remembered
_CONTAINERS = (dict, list, tuple)
_SEPARATORS = str.maketrans("", "", " .-/()")  # how numbers are written apart
_ALL, _NO_IPV4 = steps(DETECTORS), steps(tuple(d for d in DETECTORS if d.name != "ipv4"))
NameFinder = Callable[[str], Iterable[Finding]]  # text -> (start, end, kind): the NER port


def _normalise(kind: str, value: str) -> str:
    if kind == "EMAIL":
        return value.lower()
    if kind in ("NAME", "ADDRESS"):
        return " ".join(value.split()).casefold()  # "Jane  Doe" and "jane doe" join
    if kind in ("CARD", "SSN", "PHONE", "IBAN", "NATIONAL_ID", "BANK_ACCOUNT"):
        compact = value.translate(_SEPARATORS)  # the usual case; the filter below is the rule
        if not compact.replace("+", "").isalnum():
            compact = "".join(c for c in value if c.isalnum() or c == "+")
        return compact.upper()
    return value


class Redactor:
    def __init__(self, key: bytes | None = None, key_version: str | None = None,
                 memo_size: int = _MEMO_SIZE, names: NameFinder | None = None) -> None:
        """``names``: an optional finder for free text (a NER model behind ``ner.spacy_finder``),
        run after every rule-based detector; off by default."""
        self._key = KeyedDigest(key) if key else None
        self._all = _ALL if names is None else steps((*DETECTORS, Detector("names", names)))
        self._no_ipv4 = _NO_IPV4 if names is None else steps(
            tuple(d for d in (*DETECTORS, Detector("names", names)) if d.name != "ipv4"))
        self.key_version = key_version if self._key else None
        self.policy_version = POLICY_VERSION
        self._tokens: dict[tuple[str, str], str] = {}  # user ids repeat on every event: HMAC once
        # Short strings repeat across events (ids, tool names, statuses, stock phrases): scan each
        # once. Same text, same result and counts, since tokens are deterministic.
        self._memo: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {}
        self._memo_size = memo_size  # 0: scan every text (how bench/redaction measures the detectors)
        # Dict keys are the schema of tool parameters and results: a handful, in every event. Each is
        # judged once, whatever memo_size says; a key that holds an email is redacted like a value.
        self._names: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {}
        self._plain_names: set[str] = set()  # keys found to hold nothing: one set test, no call
        self._as_is = _ENVELOPE if self._key else _ENVELOPE | IDENTIFIERS
        # What each key says of its value (keys.py's kind, context.py's context), judged once.
        self._judged: dict[str, tuple[str | None, str | None]] = {}
        self._ordinary: set[Any] = set()  # keys judged to have neither: one set test per field
        self._agents: dict[tuple[tuple[Any, Any], ...], tuple[dict[str, Any], _Counted]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        """The redactor the stream uses: keyed tokens when AUDIT_REDACTION_KEY is set."""
        key = settings.redaction_key.encode() if settings.redaction_key else None
        return cls(key=key, key_version=settings.redaction_key_version if key else None)

    def token(self, kind: str, value: str) -> str:
        """What replaces ``value`` found as ``kind``."""
        if self._key is None:
            return f"[{kind}]"
        cached = self._tokens.get((kind, value))
        if cached is None:
            if len(self._tokens) >= _CACHE_SIZE:
                self._tokens.clear()
            digest = self._key.digest(_normalise(kind, value).encode())[:6].hex()
            cached = self._tokens[(kind, value)] = f"[{kind}:{digest}]"
        return cached

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        """``text`` with every finding replaced, and the number of findings per kind."""
        counts: dict[str, int] = {}
        return self._text(text, counts), counts

    def redact_value(self, value: Any, depth: int = 0) -> tuple[Any, dict[str, int]]:
        """Any JSON value, deep: strings and dict keys redacted, values under keys such as
        ``password`` masked whatever they hold, other scalars untouched."""
        counts: dict[str, int] = {}
        return self._value(value, depth, counts), counts

    def redact_event(self, event: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
        """One v1 event: every field but the structural ones, plus the ``redaction`` record. Counts
        already recorded on the event are kept, so redacting a redacted event changes nothing."""
        counts: dict[str, int] = {}
        as_is = self._as_is
        out = {k: v if k in as_is else self._field(k, v, 1, counts) for k, v in event.items()}
        if "agent" in out:
            out["agent"] = self._agent(out["agent"], counts)
        if "event_id" in out and not _opaque_id(out["event_id"]):
            out["event_id"] = self._field("event_id", out["event_id"], 1, counts)
        total = dict(counts)
        previous = event.get("redaction")
        if previous is not None and isinstance(previous, Mapping) \
                and isinstance(previous.get("counts"), Mapping):  # the ABC test only where there is one
            for kind, n in previous["counts"].items():
                if isinstance(n, int):
                    total[kind] = total.get(kind, 0) + n
        out["redaction"] = {"policy_version": self.policy_version, "key_version": self.key_version,
                            "counts": total}
        return out, counts

    def _text(self, text: str, counts: dict[str, int]) -> str:
        memo = self._memo.get(text)  # first: most strings of an event were seen before
        if memo is None:
            if len(text) < MIN_TEXT:
                return text
            if len(text) > _MEMO_TEXT or not self._memo_size:
                return self._scan(text, counts)
            memo = self._remember(self._memo, self._memo_size, text)
        for kind, n in memo[1]:
            counts[kind] = counts.get(kind, 0) + n
        return memo[0]

    def _name(self, key: Any, counts: dict[str, int]) -> Any:
        """A dict key, redacted like any string (``{"jane@example.com": ...}`` would otherwise reach
        the index); the key-name rules still read the key as written."""
        if type(key) is not str:
            return key
        memo = self._names.get(key)
        if memo is None:
            if len(key) > _MEMO_TEXT:
                return self._scan(key, counts)
            memo = self._remember(self._names, _NAMES_SIZE, key)
            if not memo[1]:
                if len(self._plain_names) >= _NAMES_SIZE:
                    self._plain_names.clear()
                self._plain_names.add(key)
        for kind, n in memo[1]:
            counts[kind] = counts.get(kind, 0) + n
        return memo[0]

    def _remember(self, cache: dict[str, tuple[str, tuple[tuple[str, int], ...]]], size: int,
                  text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
        found: dict[str, int] = {}
        if len(cache) >= size:
            cache.clear()
        memo = cache[text] = (self._scan(text, found), tuple(found.items()))
        return memo

    def _scan(self, text: str, counts: dict[str, int],
              detectors: tuple[tuple[Step, ...], ...] | None = None) -> str:
        if len(text) < MIN_LETTERS and (text.isalpha() or _identifier(text)):
            return text
        if len(text) > MAX_TEXT:
            text = _truncate(text)
            counts["TRUNCATED"] = counts.get("TRUNCATED", 0) + 1
        # A value a detector passed over because it was glued to another one ("…013000xoxa-…": no
        # boundary before the key shape) stands free once that one is a token: scan the result
        # again until nothing changes, so redacting twice changes nothing. Only a text where a
        # token now touches a word character pays a second scan.
        for _ in range(_PASSES):
            found = self._detect(text, counts, detectors)
            if found == text:
                break
            text = found
            if _GLUED.search(text) is None:
                break
        return text

    def _detect(self, text: str, counts: dict[str, int],
                detectors: tuple[tuple[Step, ...], ...] | None) -> str:
        """One pass of the detectors over ``text``."""
        # Inline prefilter (no call for the usual ASCII text): "%40", "[at]", "(AT)" ... hold one of
        # these; needs_normalizing decides.
        if (not text.isascii() or "%" in text or "t]" in text or "t)" in text or "T]" in text
                or "T)" in text) and needs_normalizing(text):
            return self._scan_normalized(text, counts, detectors or self._all)
        if detectors is None:
            detectors = self._all
        for marker, probe, gate, find in detectors[has_digit(text) + 2 * (":" in text)]:
            if (marker in text and (probe is None or probe(text) is not None)
                    and (gate is None or gate(text))):
                found = list(find(text))
                if found:
                    text = self._splice(text, found, counts)
        return text

    def _scan_normalized(self, text: str, counts: dict[str, int],
                         detectors: tuple[tuple[Step, ...], ...]) -> str:
        """The detectors over the normalised text (``normalize.py``); findings are masked there with a
        filler of the same length (so positions keep mapping back), then replaced in the original.
        Tokens hash the normalised value: a fullwidth at-sign and "@" give one token."""
        work, origin = normalize(text)
        taken: list[Finding] = []
        for marker, probe, gate, find in detectors[has_digit(work) + 2 * (":" in work)]:
            if marker in work and (probe is None or probe(work) is not None) and (gate is None or gate(work)):
                for start, end, kind in list(find(work)):
                    if any(start < e and s < end for s, e, _ in taken):
                        continue  # over a value an earlier detector took
                    taken.append((start, end, kind))
                    work = work[:start] + _FILL * (end - start) + work[end:]
        if not taken:
            return text
        norm = normalize(text)[0]
        parts: list[str] = []
        last = 0
        for start, end, kind in sorted(taken):
            begin, stop = origin[start][0], origin[end - 1][1]
            parts += (text[last:begin], self.token(kind, norm[start:end]))
            counts[kind] = counts.get(kind, 0) + 1
            last = stop
        parts.append(text[last:])
        return "".join(parts)

    def _splice(self, text: str, found: list[Finding], counts: dict[str, int]) -> str:
        if len(found) == 1:  # the usual case
            start, end, kind = found[0]
            counts[kind] = counts.get(kind, 0) + 1
            return text[:start] + self.token(kind, text[start:end]) + text[end:]
        parts: list[str] = []
        last = 0
        for start, end, kind in found:
            if start < last:
                continue  # overlaps the previous finding, already replaced
            parts += (text[last:start], self.token(kind, text[start:end]))
            counts[kind] = counts.get(kind, 0) + 1
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def _value(self, value: Any, depth: int, counts: dict[str, int]) -> Any:
        # Exact type tests first: this walk runs for every node of every event.
        kind = type(value)
        if kind is str:
            return self._text(value, counts)
        if kind is not dict and kind is not list and not isinstance(value, _CONTAINERS):
            return value
        if depth >= MAX_DEPTH:
            counts["TOO_DEEP"] = counts.get("TOO_DEEP", 0) + 1
            return TOO_DEEP
        if isinstance(value, dict):
            plain, name, field, depth = self._plain_names, self._name, self._field, depth + 1
            out = {k if k in plain else name(k, counts): field(k, v, depth, counts) for k, v in value.items()}
            if len(out) < len(value):  # two keys redacted alike: number them, lose no value
                out = _numbered([(name(k, {}), field(k, v, depth, {})) for k, v in value.items()])
            return out
        return [self._value(v, depth + 1, counts) for v in value]

    def _agent(self, agent: Any, counts: dict[str, int]) -> Any:
        """The envelope's ``agent``: its name scanned as text, its version as a version. A producer
        sends the same agent on every event, so each is judged once, like dict keys."""
        if type(agent) is not dict:
            return self._value(agent, 1, counts)
        try:
            seen = tuple(agent.items())
            memo = self._agents.get(seen)
        except TypeError:  # a container inside: no memo
            seen, memo = None, None
        if memo is None:
            found: dict[str, int] = {}
            clean = {k: self._text(v, found) if k == "name" and type(v) is str
                     else self._field(k, v, 2, found) for k, v in agent.items()}
            memo = (clean, tuple(found.items()))
            if seen is not None:
                if len(self._agents) >= _NAMES_SIZE:
                    self._agents.clear()
                self._agents[seen] = memo
        for kind, n in memo[1]:
            counts[kind] = counts.get(kind, 0) + n
        return dict(memo[0])

    def _judge(self, key: str) -> tuple[str | None, str | None]:
        judged = self._judged.get(key)
        if judged is None:
            if len(self._judged) >= _NAMES_SIZE:
                self._judged.clear()
            kind = key_kind(key)
            judged = self._judged[key] = (kind, None if kind else key_context(key))
            if judged == _UNJUDGED:
                if len(self._ordinary) >= _NAMES_SIZE:
                    self._ordinary.clear()
                self._ordinary.add(key)
        return judged

    def _in_context(self, context: str, text: str, counts: dict[str, int]) -> str:
        """A string under a key with a context: the whole value may be that context's kind;
        otherwise every detector but those the context excludes."""
        kind = whole_value(context, text)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
            return self.token(kind, text.strip())
        if context == VERSION:
            return self._scan(text, counts, self._no_ipv4) if len(text) >= MIN_TEXT else text
        return self._text(text, counts)

    def _field(self, key: Any, value: Any, depth: int, counts: dict[str, int]) -> Any:
        if key in self._ordinary:  # the usual key, judged before: neither a kind nor a context
            kind = None
        else:
            kind, context = self._judge(key) if type(key) is str else _UNJUDGED
            if context is not None and type(value) is str:
                return self._in_context(context, value, counts)
        if kind is None:
            # Exact type tests, commonest first, each sparing a call: this runs for every field.
            shape = type(value)
            if shape is str:
                return self._text(value, counts)
            if shape is int or shape is float or value is None or shape is bool:
                return value
            return self._value(value, depth, counts)
        if value is None or value is True or value is False:
            return value
        return self._mask(kind, value, depth, counts)

    def _mask(self, kind: str, value: Any, depth: int, counts: dict[str, int]) -> Any:
        """Everything under a secret-like key goes, whatever it is; containers keep their shape
        (an object stays an object, so the index mapping does not change with the content)."""
        if isinstance(value, _CONTAINERS) and depth >= MAX_DEPTH:
            counts["TOO_DEEP"] = counts.get("TOO_DEEP", 0) + 1
            return TOO_DEEP
        if isinstance(value, dict):
            out = {self._name(k, counts): self._mask(kind, v, depth + 1, counts) for k, v in value.items()}
            if len(out) < len(value):
                out = _numbered([(self._name(k, {}), self._mask(kind, v, depth + 1, {}))
                                 for k, v in value.items()])
            return out
        if isinstance(value, list | tuple):
            return [self._mask(kind, v, depth + 1, counts) for v in value]
        if value is None or isinstance(value, bool) or value == "" or (
                isinstance(value, str) and TOKEN.fullmatch(value)):
            return value
        counts[kind] = counts.get(kind, 0) + 1
        return self.token(kind, str(value))


_UNJUDGED: tuple[None, None] = (None, None)
_ENVELOPE = STRUCTURAL | {"agent", "event_id"}  # passed by the comprehension, judged after it
_FILL = "\ue000"  # a private-use character: no detector's class takes it, and it is no word character
_Counted = tuple[tuple[str, int], ...]
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _identifier(text: str) -> bool:
    """A short identifier no detector can take anything from (see MIN_KEY_SHAPE)."""
    if len(text) >= MIN_KEY_SHAPE:
        return False
    core = text.replace("_", "").replace("-", "")
    if core.isalpha():
        return True
    return len(text) < MIN_NUMBER and core.isascii() and core.replace(".", "").isalnum()


def _opaque_id(value: Any) -> bool:
    """A UUID, or a ULID (26 ASCII letters and digits led by 0-7, its timestamp's first digit):
    nothing a detector takes fits in either (a key shape glued inside letters is not taken)."""
    if type(value) is not str:
        return False
    if len(value) == 26:
        return value[0] in "01234567" and value.isascii() and value.isalnum()
    return len(value) == 36 and _UUID.fullmatch(value) is not None


def _numbered(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """Pairs whose keys repeat (``[EMAIL]`` for two addresses) as a dict that keeps them all: the
    second ``[EMAIL]`` becomes ``[EMAIL]#2``. Counts were taken on the first pass."""
    out: dict[Any, Any] = {}
    for key, value in pairs:
        name, n = key, 1
        while name in out:
            n += 1
            name = f"{key}#{n}"
        out[name] = value
    return out


def _truncate(text: str) -> str:
    limit = MAX_TEXT - len(TRUNCATED) - 1
    cut = max(text.rfind(" ", limit - 4096, limit), text.rfind("\n", limit - 4096, limit))
    return text[:cut if cut > 0 else limit] + " " + TRUNCATED
