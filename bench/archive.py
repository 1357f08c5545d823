"""The archive against Elasticsearch on a month of demo traffic: write rate, bytes per event, query time.

The events are the demo's simulated agents recorded through the real client, then redacted,
hash-chained by the stream's own processor and sealed per user (``core.sealing``, keys in the
bench's own key store), their sessions spread over 30 days, published to ``agent.events``. Three
sinks then drain the same topic in this process (each in its own group):
- write rate: the archive worker with sealed rows (the user's content kept as it came from Kafka)
  against the previous layout (rows of opened events: the worker before sealing reached the
  archive, the baseline for the cost of sealing) and the Elasticsearch sink (bulk create, commit
  after the ack), all from Kafka to durable storage;
- bytes per event: each archive layout's objects after daily compaction against the events indices'
  store size after a force-merge to one segment (and the sealed records' JSON, for scale);
- query time: the four named questions on both layouts and Elasticsearch, best of three each
  (the sealed layout opens the rows it returns through the key store).
``BENCH_ARCHIVE_EVENTS`` sets the number of events (default 150,000).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
from confluent_kafka import Producer

from agent_audit.core.datakeys import unb64
from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.processing import EnvelopeProcessor
from agent_audit.core.redaction import Redactor
from agent_audit.core.sealing import CLEAR, open_event, seal_events
from agent_audit.core.settings import Settings
from agent_audit.demo.scenario import AGENTS, simulate_session
from agent_audit.producers import AuditTrail
from agent_audit.producers.memory import MemoryTransport
from agent_audit.sinks import queries as es_queries
from agent_audit.sinks.archive import queries as archive_queries
from agent_audit.sinks.archive.compaction import compact
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.layout import EVENTS
from agent_audit.sinks.archive.parquet import table_bytes
from agent_audit.sinks.archive.reader import archived_days, open_archive
from agent_audit.sinks.archive.rows import event_to_row, rows_to_table
from agent_audit.sinks.archive.unsealing import build_row_opener
from agent_audit.sinks.archive.worker import ArchiveSink
from agent_audit.sinks.indices import events_alias
from agent_audit.sinks.keystore import build_data_keys
from agent_audit.sinks.worker import EventSink
from bench.harness import emit, fresh_settings, table

N = int(os.environ.get("BENCH_ARCHIVE_EVENTS", "150000"))
DAYS = 30
TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def month_of_traffic(n: int, seed: int = 7) -> list[tuple[bytes, bytes]]:
    """At least ``n`` stored events ``(key, value)`` as the stream publishes them, over 30 days."""
    rng = random.Random(seed)
    processor = EnvelopeProcessor(Redactor(), SessionChains(ChainHasher()))
    out: list[tuple[bytes, bytes]] = []
    i = 0
    while len(out) < n:
        mem = MemoryTransport()
        agent = AGENTS[i % len(AGENTS)]
        simulate_session(AuditTrail(f"m-{i:06d}", f"user-{rng.randrange(300):03d}", agent.name, agent.version,
                                    transport=mem), agent, rng)
        at = TODAY - timedelta(days=i % DAYS, seconds=rng.randrange(40_000))
        lines = []
        for k, ev in enumerate(mem.decoded()):
            ev["timestamp"] = (at + timedelta(milliseconds=250 * k)).isoformat().replace("+00:00", "Z")
            lines.append(orjson.dumps(ev))
        out += ((e.key, e.value) for e in processor.process(b"\n".join(lines)).events)
        i += 1
    return out


def sealed(settings: Settings, events: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The events as the stream publishes them: sealed under their users' keys, a batch at a time."""
    keys, out = build_data_keys(settings), []
    for i in range(0, len(events), 500):
        batch = events[i:i + 500]
        values = seal_events([orjson.loads(v) for _, v in batch], keys)
        out += [(k, v) for (k, _), v in zip(batch, values, strict=True)]
    return out


class OpenedLayoutSink(ArchiveSink):
    """The archive worker as it was before sealing reached the archive: rows of opened events."""

    def _opened(self, values: list[bytes]) -> tuple[list[bytes], list[bytes | None], int]:
        _kept, opened, invalid = super()._opened(values)
        plain = [v for v in opened if v is not None]
        return plain, list(plain), invalid + len(opened) - len(plain)


def publish(settings: Settings, events: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20,
                         "compression.type": "lz4"})
    for key, value in events:
        while True:
            try:
                producer.produce(settings.topics.events, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0


def drain_archive(settings: Settings, archive: ArchiveSettings, n: int,
                  kind: type[ArchiveSink] = ArchiveSink) -> float:
    sink = kind(settings, archive)
    sink.start()
    start = _first_records(sink.step)  # the clock starts with the first records, not the group join
    idle = 0
    while sink.written < n and idle < 20:
        idle = idle + 1 if sink.step() == 0 else 0
        if idle == 2:
            sink.flush_all()
    sink.flush_all()
    elapsed = time.perf_counter() - start
    sink.consumer.close()
    assert sink.written >= n, f"archive wrote {sink.written} of {n}"
    return n / elapsed


def drain_es(settings: Settings, n: int) -> float:
    sink = EventSink(settings)
    sink.consumer.subscribe([settings.topics.events])
    from agent_audit.sinks.indices import install_templates  # noqa: PLC0415

    install_templates(sink.es, settings.index_prefix)
    start = _first_records(sink.step)
    while sink.stored + sink.duplicates < n:
        sink.step()
    sink.drain(final=True)
    elapsed = time.perf_counter() - start
    sink.lanes.shutdown()
    sink.consumer.close()
    return n / elapsed


def _first_records(step: Callable[[], int]) -> float:
    """Step until records come; returns when the step that brought them began."""
    while True:
        began = time.perf_counter()
        if step():
            return began


def best_ms(run: Callable[[], Any], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def encodings(settings: Settings, events: list[tuple[bytes, bytes]]) -> dict[str, float]:
    """Bytes per event of the same rows in one Parquet object, the ``event`` column written four
    ways: sealed as from Kafka (the layout chosen), the same with the ciphertext as binary instead
    of base64, sealed per row with zstd before AES-GCM (what a layout of its own could reach), and
    opened (the previous layout, no protection)."""
    keys = build_data_keys(settings)
    values = [v for _, v in events]
    opened = [open_event(v, keys).value for v in values]
    base = rows_to_table([event_to_row(v, o) for v, o in zip(values, opened, strict=True)])
    clear, nonce, ct, per_row = [], [], [], []
    for value, plain in zip(values, opened, strict=True):
        doc = orjson.loads(value)
        head = doc.pop("sealed")
        clear.append(orjson.dumps(doc).decode())
        nonce.append(unb64(head["nonce"]))
        ct.append(unb64(head["ct"]))
        inside = orjson.loads(plain or b"{}")
        secret = orjson.dumps({k: v for k, v in inside.items() if k not in CLEAR})
        cipher = keys.for_reading(head["subject"], head["gen"]).cipher
        assert cipher is not None
        nonce_row = os.urandom(12)
        per_row.append(nonce_row + cipher.encrypt(nonce_row, pa.compress(secret, "zstd", asbytes=True), None))
    plain_rows = base.drop_columns(["event"])
    variants = {
        "sealed as from Kafka (chosen)": base,
        "sealed, ciphertext as binary": plain_rows.append_column("event", pa.array(clear)).append_column(
            "nonce", pa.array(nonce, pa.binary())).append_column("ct", pa.array(ct, pa.binary())),
        "sealed per row, zstd then AES-GCM": plain_rows.append_column("event", pa.array(clear)).append_column(
            "ct", pa.array(per_row, pa.binary())),
        "opened (previous layout)": base.set_column(base.schema.get_field_index("event"), "event",
                                                    pa.array([(o or b"").decode() for o in opened])),
    }
    return {name: len(table_bytes(table.sort_by([("session_id", "ascending"), ("seq", "ascending")])))
            / len(values) for name, table in variants.items()}


def _archive_settings(settings: Settings, s3: dict[str, str], name: str) -> ArchiveSettings:
    return ArchiveSettings.from_env({**settings.to_env(), **s3,
                                     "AUDIT_ARCHIVE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}-{name}",
                                     "AUDIT_ARCHIVE_GROUP": f"{settings.sink_group}-archive-{name}",
                                     "AUDIT_ARCHIVE_BATCH": "20000", "AUDIT_ARCHIVE_LINGER_S": "5"})


def _compacted_bytes(store: Any) -> tuple[int, int]:
    """(objects before compaction, bytes after it)."""
    small = len(store.list(EVENTS))
    compact(store, archived_days(store))
    return small, sum(len(store.get(k) or b"") for k in store.list(EVENTS))


def main() -> None:
    plain = month_of_traffic(N)
    n = len(plain)
    with fresh_settings() as settings:
        s3 = _s3_env()
        events = sealed(settings, plain)
        encoded = encodings(settings, events)
        json_bytes = sum(len(v) for _, v in events)
        layouts = {name: _archive_settings(settings, s3, name) for name in ("sealed", "opened")}
        publish(settings, events)
        rates = {"sealed": drain_archive(settings, layouts["sealed"], n),
                 "opened": drain_archive(settings, layouts["opened"], n, OpenedLayoutSink)}
        es_rate = drain_es(settings, n)
        from agent_audit.sinks.archive.store import build_store  # noqa: PLC0415
        from agent_audit.sinks.worker import build_es  # noqa: PLC0415

        stores, es = {name: build_store(a) for name, a in layouts.items()}, build_es(settings)
        try:
            sizes = {name: _compacted_bytes(store) for name, store in stores.items()}
            alias = events_alias(settings.index_prefix)
            es.indices.refresh(index=alias)
            es.indices.forcemerge(index=alias, max_num_segments=1)
            stats = es.indices.stats(index=alias, metric="store")
            es_bytes = stats["_all"]["primaries"]["store"]["size_in_bytes"]
            queries = _time_queries(es, settings, stores)
        finally:
            for store in stores.values():
                for key in store.list(""):
                    store.delete(key)
            es.close()
    _report(n, json_bytes, rates, es_rate, sizes, es_bytes, queries, encoded)


def _time_queries(es: Any, settings: Settings, stores: dict[str, Any]) -> dict[str, tuple[float, ...]]:
    opener, prefix = build_row_opener(settings), settings.index_prefix
    session, user = "m-000042", "user-042"
    since = (TODAY - timedelta(days=7)).isoformat()
    until = TODAY.isoformat()
    out: dict[str, list[float]] = {}
    for store in (stores["sealed"], stores["opened"]):
        for name, run in _archive_runs(open_archive(store), opener, session, user, since, until).items():
            out.setdefault(name, []).append(best_ms(run))
    es_runs: dict[str, Callable[[], Any]] = {
        "session timeline": lambda: es_queries.session_timeline(es, prefix, session),
        "user, 7 days": lambda: list(es_queries.user_events(es, prefix, user, since, until)),
        "tool usage": lambda: es_queries.tool_usage(es, prefix),
        "errors per day": lambda: es_queries.errors_per_day(es, prefix),
    }
    return {name: (*out[name], best_ms(run)) for name, run in es_runs.items()}


def _archive_runs(con: Any, opener: Any, session: str, user: str, since: str,
                  until: str) -> dict[str, Callable[[], Any]]:
    return {
        "session timeline": lambda: archive_queries.session_timeline(con, session, opener),
        "user, 7 days": lambda: archive_queries.user_events(con, user, opener, since, until),
        "tool usage": lambda: archive_queries.tool_usage(con),
        "errors per day": lambda: archive_queries.errors_per_day(con),
    }


def _s3_env() -> dict[str, str]:
    keys = ("AUDIT_ARCHIVE_S3_ENDPOINT", "AUDIT_ARCHIVE_BUCKET", "AUDIT_ARCHIVE_S3_ACCESS_KEY",
            "AUDIT_ARCHIVE_S3_SECRET_KEY")
    if all(os.environ.get(k) for k in keys):
        return {k: os.environ[k] for k in keys}
    from agent_audit.stack import LocalStack  # noqa: PLC0415

    node = LocalStack.from_env().s3
    node.up(timeout=180.0)
    return node.env()


def _report(n: int, json_bytes: int, rates: dict[str, float], es_rate: float,
            sizes: dict[str, tuple[int, int]], es_bytes: int, queries: dict[str, tuple[float, ...]],
            encoded: dict[str, float]) -> None:
    print(f"{n:,} events over {DAYS} days ({sizes['sealed'][0]} sealed-layout objects before compaction)\n")
    table(["write (Kafka to durable storage)", "events/s"],
          [["archive, sealed rows (Parquet, zstd, S3)", rates["sealed"]],
           ["archive, previous layout: opened rows (baseline)", rates["opened"]],
           ["Elasticsearch sink", es_rate]])
    print()
    table(["storage", "bytes/event", "total MB"],
          [["archive, sealed rows (compacted)", sizes["sealed"][1] / n, sizes["sealed"][1] / 1e6],
           ["archive, opened rows (compacted, baseline)", sizes["opened"][1] / n, sizes["opened"][1] / 1e6],
           ["Elasticsearch (store, 1 segment)", es_bytes / n, es_bytes / 1e6],
           ["sealed records as on agent.events (JSON)", json_bytes / n, json_bytes / 1e6]])
    print()
    table(["the event column, all rows in one object", "bytes/event"], [[k, v] for k, v in encoded.items()])
    print()
    table(["named query (best of 3)", "sealed ms", "opened ms", "Elasticsearch ms"],
          [[name, *times] for name, times in queries.items()])
    emit({"bench": "archive", "events": n, "archive_sealed_events_per_s": round(rates["sealed"]),
          "archive_opened_events_per_s": round(rates["opened"]), "es_events_per_s": round(es_rate),
          "sealed_bytes_per_event": round(sizes["sealed"][1] / n, 1),
          "opened_bytes_per_event": round(sizes["opened"][1] / n, 1),
          "es_bytes_per_event": round(es_bytes / n, 1), "json_bytes_per_event": round(json_bytes / n, 1),
          "query_ms": {k: dict(zip(("sealed", "opened", "es"), (round(t, 1) for t in v), strict=True))
                       for k, v in queries.items()},
          "encodings_bytes_per_event": {k: round(v, 1) for k, v in encoded.items()},
          "load_avg": [round(x, 2) for x in os.getloadavg()]})


if __name__ == "__main__":
    main()
