"""Precision and recall per kind on the labelled corpus, and corpus-made events for throughput.

Any engine can be scored: it only has to map a text to (redacted text, findings per kind). A
planted value counts as found when the engine reports its kind *and* the value is gone from the
output; every other finding is a false positive (a second finding in the same sample included).
The same function scores our redactor and the Presidio baseline in ``bench/redaction.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from corpora.corpus import KINDS, Sample, generate

__all__ = ["Score", "corpus_events", "score", "score_values", "totals"]

Engine = Callable[[str], tuple[str, Mapping[str, int]]]
ValueEngine = Callable[[str, str], tuple[str, Mapping[str, int]]]


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0


def score(samples: Iterable[Sample], engine: Engine, kinds: Iterable[str] = KINDS,
          value_engine: ValueEngine | None = None) -> dict[str, Score]:
    """Per kind: planted values found (tp) or missed (fn), and findings that were not planted (fp).
    A sample with a ``key`` goes to ``value_engine`` (key, text) when one is given."""
    scores = {kind: Score() for kind in kinds}
    for sample in samples:
        if sample.key is not None and value_engine is not None:
            out, counts = value_engine(sample.key, sample.text)
        else:
            out, counts = engine(sample.text)
        hit = sample.kind is not None and counts.get(sample.kind, 0) > 0 and sample.value not in out
        if sample.kind is not None:
            scores[sample.kind].tp += hit
            scores[sample.kind].fn += not hit
        for kind, n in counts.items():
            if kind in scores:
                scores[kind].fp += n - (1 if hit and kind == sample.kind else 0)
    return scores


def score_values(samples: Iterable[Sample], redactor: Any, kinds: Iterable[str]) -> dict[str, Score]:
    """``score`` for a corpus whose samples may sit under a key: ``redact_value({key: text})``, the
    path tool parameters and results take (``Redactor``, duck-typed: corpora import no pipeline)."""
    def under_key(key: str, text: str) -> tuple[str, Mapping[str, int]]:
        out, counts = redactor.redact_value({key: text})
        return str(next(iter(out.values()))), counts
    return score(samples, redactor.redact_text, kinds, under_key)


def totals(scores: Mapping[str, Score]) -> Score:
    return Score(sum(s.tp for s in scores.values()), sum(s.fn for s in scores.values()),
                 sum(s.fp for s in scores.values()))


_PROSE = ["I need help with my refund for the blue jacket; the sleeve was torn.",
          "Looking up the order history before answering the customer.",
          "The search returned three relevant articles about shipping delays.",
          "Summarise the ticket and propose the next step.", "ok", "done", "retrying after a timeout"]


def corpus_events(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """n v1 events whose free text, parameters and results carry corpus sentences (PII and hard
    negatives) among ordinary prose and metrics, shaped like the contract's five kinds."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not cryptography
    samples = [s.text for s in generate(max(n, 64), seed)]

    def text() -> str:
        return rng.choice(samples) if rng.random() < 0.6 else rng.choice(_PROSE)

    for i in range(n):
        kind = _EVENT_KINDS[i % 5]
        yield {"schema_version": 1, "event_id": f"{i:026d}", "kind": kind, "level": "info",
               "timestamp": "2026-11-25T09:30:00Z", "session_id": f"s-{i // 20}",
               "user_id": rng.choice(["u-42", "jane.doe@example.com", "u-7"]),
               "agent": {"name": "support", "version": "1.0"}, "seq": i % 20,
               "payload": _payload(kind, text, rng)}


_EVENT_KINDS = ("input", "reasoning", "tool_call", "output", "error")


def _payload(kind: str, text: Callable[[], str], rng: random.Random) -> dict[str, Any]:
    if kind == "input":
        return {"type": "text", "content": f"{text()} {text()}", "metadata": {"channel": "web"}}
    if kind == "reasoning":
        return {"thought": text(), "plan": [text(), text()], "confidence": rng.random()}
    if kind == "tool_call":
        return {"tool_name": "search_kb", "status": "success", "duration_ms": rng.uniform(1, 900),
                "parameters": {"query": text(), "max_tokens": 512, "api_key": f"k-{rng.random()}"},
                "result": {"hits": rng.randint(0, 9), "top": text()}}
    if kind == "output":
        return {"type": "text", "content": text(),
                "metadata": {"tokens_used": rng.randint(10, 4000), "model": "m-1", "cost": 0.002}}
    return {"type": "TimeoutError", "tool_name": "crm", "message": text(),
            "stack_trace": f'File "agent.py", line {rng.randint(1, 900)}\n  {text()}'}
