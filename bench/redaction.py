"""Redaction throughput and precision/recall, beside Presidio's recognizers on the same corpus.

Both engines see the same thing: the decoded string values of corpus-made v1 events (never the
serialized JSON, whose escapes hide values from patterns) for throughput, and the labelled corpus
sentences for precision and recall, scored by the same function (``core.redaction.evaluation``).

Presidio runs pattern-only, as the issue asks: a blank spaCy pipeline (no NER model), its
predefined recognizers for the kinds both engines cover (email, phone, card, IBAN, US SSN, IP;
Presidio has none for secrets), tldextract on its bundled suffix list (offline), and a score
threshold of 0.3. It is an optional dependency: without it the bench says so and reports ours.

Throughput is the best of five runs of each engine, the engines taking turns (ours keyed,
placeholders, memo, Presidio, then again), so that both meet the same minutes of a shared
machine's load; it is reported per second of wall time and per second of this process's CPU time.

The process runs with the stream worker's interpreter settings (``core.runtime``: a calmer cycle
collector), as redaction does in production; both engines are timed under them.

Our redactor runs as whichever build is importable: pure Python, or compiled with mypyc after
``make native`` (``core/redaction/native.py``); the header line and the JSON's ``build`` say which.

Run: ``python -m bench.redaction`` (about a minute on 2 cores). The last line is one JSON object.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction.native import compiled
from agent_audit.core.redaction.redactor import STRUCTURAL
from agent_audit.core.runtime import tune_worker_process
from bench.harness import emit, table
from corpora.context import KINDS as CONTEXT_KINDS
from corpora.context import LOCALES as CONTEXT_LOCALES
from corpora.context import generate as context_corpus
from corpora.corpus import KINDS, generate
from corpora.evaluation import Score, corpus_events, score, score_values, totals
from corpora.outside import LOCALES
from corpora.outside import generate as outside_corpus

Engine = Callable[[str], tuple[str, Mapping[str, int]]]

PRESIDIO_KINDS = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CARD",
                  "IBAN_CODE": "IBAN", "US_SSN": "SSN", "IP_ADDRESS": "IP"}
EVENTS, PRESIDIO_EVENTS, SAMPLES, PRESIDIO_SAMPLES = 20_000, 400, 6_000, 2_000
OUTSIDE_PER_KIND = 50  # per kind and locale: 3,400 samples, scored for both engines
CONTEXT_PER_KIND = 40  # per kind and locale: 3,200 samples (corpora/context.py)
NER_TEXTS = 2_000  # free-text strings timed with the optional NER stage


def strings(value: Any) -> Iterable[str]:
    """Every string an engine must look at: decoded values, deep, outside the structural fields."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


# What Presidio is given: the content strings, without the event_id (a UUID or ULID we keep after a
# shape test) and the agent (judged once per agent): the conservative side for the ratio.
_NOT_CONTENT = STRUCTURAL | {"event_id", "agent"}


def content(event: Mapping[str, Any]) -> list[str]:
    return [s for k, v in event.items() if k not in _NOT_CONTENT for s in strings(v)]


def presidio_engine() -> tuple[Engine | None, str]:
    """Presidio's pattern recognizers behind our engine interface, or None and the reason."""
    try:
        import spacy  # noqa: PLC0415
        import tldextract  # noqa: PLC0415
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry  # noqa: PLC0415
        from presidio_analyzer.nlp_engine import SpacyNlpEngine  # noqa: PLC0415
        from presidio_analyzer.predefined_recognizers import (  # noqa: PLC0415
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            UsSsnRecognizer,
        )
        from presidio_analyzer.predefined_recognizers.generic import email_recognizer  # noqa: PLC0415
    except ImportError as exc:
        return None, f"Presidio not installed ({exc.name}): pip install presidio-analyzer"

    # Offline: the bundled public-suffix snapshot, never a download at first use.
    setattr(email_recognizer, "tldextract", types.SimpleNamespace(  # noqa: B010 - mypy: not exported
        extract=tldextract.TLDExtract(suffix_list_urls=())))

    class BlankSpacy(SpacyNlpEngine):  # type: ignore[misc,unused-ignore]  # typed only when installed
        def load(self) -> None:
            self.nlp: Any = {"en": spacy.blank("en")}  # tokens only: no model to download

    nlp = BlankSpacy()
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), IbanRecognizer(),
                       UsSsnRecognizer(), IpRecognizer()):
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"],
                              default_score_threshold=0.3)

    def engine(text: str) -> tuple[str, Mapping[str, int]]:
        counts: dict[str, int] = {}
        parts: list[str] = []
        last = 0
        for r in sorted(analyzer.analyze(text, language="en"), key=lambda r: (r.start, -r.end)):
            if r.start < last:
                continue  # overlapping results: the first, longest one wins, as the anonymizer does
            kind = PRESIDIO_KINDS.get(r.entity_type, r.entity_type)
            counts[kind] = counts.get(kind, 0) + 1
            parts += (text[last:r.start], f"<{kind}>")
            last = r.end
        parts.append(text[last:])
        return "".join(parts), counts

    return engine, f"presidio-analyzer {_version('presidio-analyzer')}, spaCy {_version('spacy')} (blank)"


def _version(name: str) -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version(name)


Speed = tuple[float, float, float]  # events/s and MB/s of wall time, events per CPU second


def throughput(run: Callable[[], object], events: int, megabytes: float, repeat: int = 5) -> Speed:
    return race([(run, events, megabytes)], repeat)[0]


def race(runs: list[tuple[Callable[[], object], int, float]], repeat: int = 5) -> list[Speed]:
    """Best of ``repeat`` runs for each (on a shared machine the best run is the one least
    disturbed), taken in turns (A, B, A, B ...) so that every engine meets the neighbours' load of
    the same minutes: events/s and MB/s of wall time, and events per second of this process's CPU
    time (which that load inflates far less)."""
    timings: list[list[tuple[float, float]]] = [[] for _ in runs]
    for _ in range(repeat):
        for (run, _, _), taken in zip(runs, timings, strict=True):
            taken.append(_timed(run))
    speeds = []
    for (_, events, megabytes), taken in zip(runs, timings, strict=True):
        wall, cpu = min(t[0] for t in taken), min(t[1] for t in taken)
        speeds.append((events / wall, megabytes / wall, events / cpu))
    return speeds


def _speed(measured: Speed) -> list[str]:
    return [f"{measured[0]:,.0f}", f"{measured[1]:.2f}", f"{measured[2]:,.0f}"]


def _timed(run: Callable[[], object]) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    tune_worker_process()  # as the stream worker does, where redaction runs; Presidio runs under it too
    events = list(corpus_events(EVENTS))
    texts = [content(e) for e in events]
    megabytes = sum(len(s.encode()) for t in texts for s in t) / 1e6
    # The headline runs without the memo of short texts: the corpus draws its sentences from a pool,
    # so they repeat more than personal data does in real traffic, and Presidio has no such memo.
    keyed = Redactor(key=b"bench-key", key_version="b1", memo_size=0)
    plain = Redactor(memo_size=0)
    memo = Redactor(key=b"bench-key", key_version="b1")

    presidio, label = presidio_engine()
    few = texts[:PRESIDIO_EVENTS]
    few_mb = sum(len(s.encode()) for t in few for s in t) / 1e6
    runs: list[tuple[Callable[[], object], int, float]] = [
        (lambda: [keyed.redact_event(e) for e in events], len(events), megabytes),
        (lambda: [plain.redact_event(e) for e in events], len(events), megabytes),
        (lambda: [memo.redact_event(e) for e in events], len(events), megabytes)]
    if presidio is not None:
        runs.append((lambda: [presidio(s) for t in few for s in t], len(few), few_mb))
    ours_keyed, ours_plain, ours_memo, *theirs_measured = race(runs)
    theirs_speed = theirs_measured[0] if theirs_measured else (0.0, 0.0, 0.0)
    ours = score(generate(SAMPLES), plain.redact_text)
    outside = list(outside_corpus(OUTSIDE_PER_KIND))
    ours_outside = score(outside, plain.redact_text)
    contextual = list(context_corpus(CONTEXT_PER_KIND))
    ours_context = score_values(contextual, plain, CONTEXT_KINDS)
    ner_row, ner_json = _ner(texts)

    theirs: dict[str, Score] = {}
    theirs_outside: dict[str, Score] = {}
    theirs_context: dict[str, Score] = {}
    if presidio is not None:
        theirs = score(generate(PRESIDIO_SAMPLES), presidio)
        theirs_outside = score(outside, presidio)
        # Presidio reads the text alone: it has no notion of the key a value sits under.
        theirs_context = score(contextual, presidio, CONTEXT_KINDS)

    build = "compiled with mypyc (make native)" if compiled() else "pure Python"
    print(f"corpus: {EVENTS:,} events ({megabytes:.1f} MB of string values), {SAMPLES:,} labelled "
          f"sentences; baseline: {label}; our redactor: {build}")
    table(["engine", "events/s", "MB/s", "events/CPU-s"], [
        ["agent-audit, keyed tokens", *_speed(ours_keyed)],
        ["agent-audit, placeholders", *_speed(ours_plain)],
        ["agent-audit, keyed, memo (as the stream runs)", *_speed(ours_memo)],
        ["presidio (pattern-only)", *(_speed(theirs_speed) if presidio else ["n/a"] * 3)],
    ])
    print()
    # Presidio has no recognizer for the secret kinds: its zero findings there say nothing.
    covered = {kind: s for kind, s in theirs.items() if kind in PRESIDIO_KINDS.values()}
    rows = _score_rows(ours, covered, list(KINDS))
    all_ours = totals(ours)
    rows.append(["all", f"{all_ours.recall:.4f}", f"{all_ours.precision:.4f}", "", ""])
    table(["kind", "recall", "precision", "presidio recall", "presidio precision"], rows)
    print(f"\noutside corpus: Faker {_version('faker')}, {len(outside):,} samples in {len(LOCALES)} locales "
          f"(core/redaction/outside.py), hard negatives included")
    table(["kind", "recall", "precision", "presidio recall", "presidio precision"],
          _score_rows(ours_outside, theirs_outside, sorted({s.kind for s in outside if s.kind})))
    all_outside, theirs_all_outside = totals(ours_outside), totals(theirs_outside)
    print(f"\ncontext corpus: {len(contextual):,} samples in {len(CONTEXT_LOCALES)} locales "
          "(corpora/context.py), "
          "values under keys and after phrases, encodings, hard negatives; Presidio sees the text alone")
    context_covered = {k: s for k, s in theirs_context.items() if k in PRESIDIO_KINDS.values()}
    table(["kind", "recall", "precision", "presidio recall", "presidio precision"],
          _score_rows(ours_context, context_covered, list(CONTEXT_KINDS)))
    all_context = totals(ours_context)
    print(f"\noptional NER stage (off by default): {ner_row}")
    ratio = ours_keyed[0] / theirs_speed[0] if theirs_speed[0] else None
    ratio_cpu = ours_keyed[2] / theirs_speed[2] if theirs_speed[2] else None
    print(f"\nratio (keyed, no memo, events/s over Presidio's): {ratio:,.0f}x; per CPU second: "
          f"{ratio_cpu:,.0f}x" if ratio and ratio_cpu else "\nratio: n/a (no Presidio)")
    emit({"events_s": round(ours_keyed[0]), "mb_s": round(ours_keyed[1], 2),
          "build": "mypyc" if compiled() else "python",
          "memo_events_s": round(ours_memo[0]),
          "presidio_events_s": round(theirs_speed[0], 1) if presidio else None,
          "ratio": round(ratio, 1) if ratio else None,
          "ratio_cpu": round(ratio_cpu, 1) if ratio_cpu else None,
          "recall": round(all_ours.recall, 4), "precision": round(all_ours.precision, 4),
          "outside_recall": round(all_outside.recall, 4),
          "outside_precision": round(all_outside.precision, 4),
          "presidio_outside_recall": round(theirs_all_outside.recall, 4) if presidio else None,
          "presidio_outside_precision": round(theirs_all_outside.precision, 4) if presidio else None,
          "context_recall": round(all_context.recall, 4),
          "context_precision": round(all_context.precision, 4),
          **ner_json})


def _ner(texts: list[list[str]]) -> tuple[str, dict[str, Any]]:
    """The NER stage's cost (texts/s with and without it) when a spaCy model is installed."""
    from agent_audit.core.redaction.ner import spacy_finder  # noqa: PLC0415

    try:
        finder = spacy_finder()
    except LookupError as exc:
        return f"n/a ({exc})", {"ner_texts_s": None}
    sample = [s for t in texts for s in t][:NER_TEXTS]
    with_ner = Redactor(memo_size=0, names=finder)
    without = Redactor(memo_size=0)
    rate_with = throughput(lambda: [with_ner.redact_text(s) for s in sample], len(sample), 1.0, repeat=1)[0]
    rate_without = throughput(lambda: [without.redact_text(s) for s in sample], len(sample), 1.0)[0]
    return (f"{rate_with:,.0f} texts/s with it, {rate_without:,.0f} without",
            {"ner_texts_s": round(rate_with), "plain_texts_s": round(rate_without)})


def _score_rows(ours: dict[str, Score], theirs: dict[str, Score], kinds: list[str]) -> list[list[str]]:
    """Recall and precision per kind, ours beside Presidio's ("n/a" where it has no score)."""
    rows = []
    for kind in kinds:
        other = theirs.get(kind)
        rows.append([kind, f"{ours[kind].recall:.4f}", f"{ours[kind].precision:.4f}",
                     f"{other.recall:.4f}" if other else "n/a", f"{other.precision:.4f}" if other else "n/a"])
    return rows


if __name__ == "__main__":
    main()
