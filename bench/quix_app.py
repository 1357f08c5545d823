"""The peer: a quixstreams application doing the stream's job, run inside ``.venv-quix``.

Same input topic, its own consumer group and output topics. Per envelope it runs the very same
``core`` code as our worker — split, validate, redact, hash chain (``EnvelopeProcessor``) and the
per-partition tumbling windows (``WindowAggregator``), whose partials go to its metrics topic — so
the comparison is of the two stream frameworks around one piece of pure logic. With
``AUDIT_SEAL_EVENTS`` on (as deployed, and as ours runs), it seals events and dead letters under their
users' data keys from the same Elasticsearch key store (``core.sealing``), as ours does. quixstreams' own
windows were not used: a per-tool window would need a ``group_by`` (a repartition topic: every
event written and read once more) and a custom mergeable latency aggregation; that would measure a
different job. What it does not do that ours does: persist chains and windows to a state topic,
and add ``event_id``/``day`` headers. Started by ``bench.stream`` with the settings in its env.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
from quixstreams import Application, message_context
from quixstreams.models.serializers import BytesSerializer

from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.metrics import WindowAggregator
from agent_audit.core.processing import EnvelopeProcessor
from agent_audit.core.redaction import Redactor
from agent_audit.core.sealing import seal_events, seal_letter
from agent_audit.core.settings import Settings
from agent_audit.sinks.keystore import build_data_keys

Row = tuple[str, bytes | None, bytes]  # (output, key, value)


# quixstreams lives only in the peer's venv: to mypy in ours it is Any (hence the ignore, unused there).
class RowValue(BytesSerializer):  # type: ignore[misc,unused-ignore]
    """Rows carry their own key; the value on the wire is the row's bytes."""

    def __call__(self, value: Any, ctx: Any) -> bytes:
        return bytes(value[2])


class EnvelopeJob:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        hasher = ChainHasher(settings.integrity_key.encode() if settings.integrity_key else None)
        self.chains = SessionChains(hasher)  # in memory only: the peer keeps no state topic
        self.keys = build_data_keys(settings) if settings.seal_events else None
        self.processor = EnvelopeProcessor(Redactor.from_settings(settings), self.chains,
                                           encode=self.keys is None)  # sealed from the event instead
        self.windows: dict[int, WindowAggregator] = {}

    def __call__(self, envelope: bytes) -> list[Row]:
        partition = message_context().partition
        result = self.processor.process(envelope)
        self.chains.drain_touched()
        agg = self.windows.get(partition)
        if agg is None:
            s = self.settings
            agg = self.windows[partition] = WindowAggregator(
                partition=partition, size_s=s.window_s, grace_s=s.window_grace_s,
                max_tools=s.window_max_tools)
        now = time.time()
        for ev in result.events:
            agg.observe(ev.event, now)
        keys = self.keys
        if keys is None:
            rows: list[Row] = [("e", ev.key, ev.value) for ev in result.events]
            rows += [("d", None, d.value) for d in result.dead]
        else:
            sealed = seal_events([ev.event for ev in result.events], keys)
            rows = [("e", ev.key, value) for ev, value in zip(result.events, sealed, strict=True)]
            rows += [("d", None, seal_letter(d.value, keys)) for d in result.dead]
        rows += [("m", None, orjson.dumps({"type": "partial", **p})) for p in agg.close_due()]
        return rows


def main() -> None:
    settings = Settings.from_env()
    prefix = os.environ["BENCH_QUIX_PREFIX"]
    app = Application(broker_address=settings.kafka_bootstrap, consumer_group=os.environ["BENCH_QUIX_GROUP"],
                      auto_offset_reset="earliest", processing_guarantee="at-least-once",
                      commit_interval=1.0, loglevel="WARNING",
                      producer_extra_config={"compression.type": "lz4", "linger.ms": 5})
    raw = app.topic(settings.topics.raw, value_deserializer="bytes", key_deserializer="bytes")
    outputs = {name: app.topic(f"{prefix}{name}", value_serializer=RowValue(), key_serializer="bytes")
               for name in ("events", "dlq", "metrics")}
    rows = app.dataframe(raw).apply(EnvelopeJob(settings), expand=True)
    for tag, name in (("e", "events"), ("d", "dlq"), ("m", "metrics")):
        rows.filter(lambda r, t=tag: r[0] == t).to_topic(outputs[name], key=lambda r: r[1])
    app.run()


if __name__ == "__main__":
    main()
