"""The Faust application: one agent per envelope topic, each a few lines (bytes in, core call, bytes out).

Run it with ``python -m stream worker -l info`` (Faust's own CLI). Settings come from the
environment (``core.settings``), read once at import, because Faust's CLI imports this module.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import faust
from core.redaction import Redactor

from core.processing import EnvelopeProcessor
from core.settings import Settings
from stream.output import OutputProducer

__all__ = ["build_app"]

log = logging.getLogger(__name__)


def build_redactor(settings: Settings) -> Redactor:
    key = settings.redaction_key.encode() if settings.redaction_key else None
    return Redactor(key=key, key_version=settings.redaction_key_version if key else None)


def build_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.stream_app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        value_serializer="raw",  # bytes straight through; orjson does the parsing (DESIGN.md)
        key_serializer="raw",
        store="memory://",
        topic_partitions=settings.raw_partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        web_enabled=False,
        datadir=settings.stream_data_dir or Path(tempfile.gettempdir()) / settings.stream_app_id,
    )
    raw = app.topic(settings.topics.raw, value_type=bytes, key_type=bytes,
                    value_serializer="raw", key_serializer="raw")
    processor = EnvelopeProcessor(build_redactor(settings))
    output = OutputProducer(settings)

    @app.agent(raw, name="envelopes")
    async def envelopes(stream: Any) -> None:
        async for event in stream.events():
            result = processor.process(event.value)
            msg = event.message
            await output.send_async(result, (msg.topic, msg.partition, msg.offset))
            if result.dead:
                log.info("stream.dead_letters count=%d reasons=%s", len(result.dead),
                         sorted({d.reason.split(":")[0] for d in result.dead}))

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _flush_outputs(_app: faust.App, **_kw: Any) -> None:
        output.close()

    return app


app = build_app(Settings.from_env())
