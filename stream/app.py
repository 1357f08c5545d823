"""The Faust application: one agent per envelope topic, each a few lines (bytes in, core call, bytes out).

Run it with ``python -m agent_audit.stream worker -l info --without-web`` (Faust's own CLI). Settings come
from the environment (``core.settings``), read once at import, because Faust's CLI imports this module.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import faust

from agent_audit.core.alerts import Rule, default_rules, load_rules
from agent_audit.core.errors import ConfigError
from agent_audit.core.evidence.keys import salt_key, signing_key_from_settings
from agent_audit.core.integrity import ChainHasher, ChainState, SessionChains
from agent_audit.core.processing import Admission, EnvelopeProcessor, ProcessedEnvelope
from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction.keyring import require_redaction_key
from agent_audit.core.settings import Settings, require_keys
from agent_audit.core.stages import StageTimes, count_gc
from agent_audit.stream.checkpoints import PartitionCheckpoints
from agent_audit.stream.heads import StoredHeads
from agent_audit.stream.kafka_auth import faust_credentials
from agent_audit.stream.metrics import MergeStage, PartitionWindows
from agent_audit.stream.output import OutputProducer, OutRecord
from agent_audit.stream.state import SESSION_PREFIX, PartitionState, Tombstone
from agent_audit.stream.telemetry import StreamTelemetry
from agent_audit.stream.webhook import WebhookNotifier

__all__ = ["alert_rules", "build_app"]

log = logging.getLogger(__name__)


def alert_rules(settings: Settings) -> list[Rule]:
    """Rules from the TOML file named by AUDIT_ALERT_RULES, else the built-in defaults."""
    if not settings.alert_rules_path:
        return default_rules()
    try:
        return load_rules(Path(settings.alert_rules_path).read_text())
    except OSError as exc:
        raise ConfigError(f"AUDIT_ALERT_RULES: cannot read {settings.alert_rules_path}: {exc}") from None


def build_app(settings: Settings) -> faust.App:
    """The app and its wiring: the envelope agent with its idle timer, the merge agent, the hooks."""
    require_keys(settings, "stream")
    app = _faust_app(settings)
    # With the telemetry endpoint on, CPU per stage is counted too (a few clock reads per envelope).
    output = OutputProducer(settings, times=StageTimes(enabled=bool(settings.metrics_port)))
    telemetry = StreamTelemetry()
    envelopes = _wire_envelopes(app, settings, output, telemetry)
    collector = StageTimes(enabled=bool(settings.metrics_port))
    count_gc(collector)  # "gc": shown apart, it is inside the stages it interrupted
    telemetry.count_stages(envelopes.times, output.times, collector)
    merge = _wire_merge(app, settings, output)

    @app.task  # type: ignore[untyped-decorator]
    async def _serve_metrics() -> None:
        telemetry.serve(settings.metrics_port, settings.metrics_bind)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _forget_cached_state(_app: faust.App, *_args: Any, **_kw: Any) -> None:
        # Another worker may own these partitions now: reload from the state topic when they return.
        envelopes.forget()
        merge.state.forget()
        merge.merger = None

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _flush_outputs(_app: faust.App, *_args: Any, **_kw: Any) -> None:
        output.close()

    return app


def _faust_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.stream_app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings.kafka_for("stream")),
        store="memory://",
        topic_partitions=settings.raw_partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        # A crashed worker's partitions move to the others after 10 s, not Faust's default 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        web_enabled=False,
        datadir=settings.stream_data_dir or Path(tempfile.gettempdir()) / settings.stream_app_id,
    )


class _EnvelopeState:
    """What the envelope agent and the idle timer share: state topic, chains, windows."""

    def __init__(self, settings: Settings) -> None:
        self.times = StageTimes(enabled=bool(settings.metrics_port))  # the event loop's thread
        self.state = PartitionState(settings)
        self.partition = 0  # the envelope being processed: chains load from its partition
        key = signing_key_from_settings(settings)  # production refuses to start without one
        self.checkpoints = PartitionCheckpoints(settings, key, self.state) if key else None
        hasher = ChainHasher(salt_key(settings, key))
        self.chains = SessionChains(hasher, load=self._load_chain, leaves=self.checkpoints, batches=True)
        self.idle_s = settings.session_idle_s
        require_redaction_key(settings)  # production: ids as keyed tokens, never placeholders
        self.processor = EnvelopeProcessor(Redactor.from_settings(settings),
                                           self.chains if settings.integrity else None,
                                           Admission.from_settings(settings), StoredHeads(settings),
                                           self.times, encode=not settings.seal_events)
        self.windows = PartitionWindows(settings, self.state)

    def _load_chain(self, session: str) -> ChainState | None:
        stored = self.state.get(self.partition, f"{SESSION_PREFIX}{session}")
        return ChainState.from_record(stored) if stored else None

    async def ensure_loaded(self, partition: int) -> None:
        if not self.state.loaded(partition):
            await asyncio.get_running_loop().run_in_executor(None, self.state.load, partition)

    def chain_records(self, partition: int) -> list[tuple[bytes, bytes, int]]:
        """The state records of the chains this envelope moved; one that cannot be encoded is
        logged and left out (its session's head is still in memory), never a stop."""
        records, now = [], time.time()
        for session, chain in self.chains.drain_touched().items():
            key = f"{SESSION_PREFIX}{session}"
            try:
                records.append(self.state.put(partition, key, chain.to_record(now)))
            except (TypeError, ValueError) as exc:
                log.error("stream.chain_state.unsaved error=%s", type(exc).__name__)
            self.state.touch(partition, key, now)
        return records

    def retire_idle(self, partition: int) -> list[Tombstone]:
        """Sessions of ``partition`` idle past AUDIT_SESSION_IDLE_S leave the state (tombstones)."""
        gone = self.state.retire(partition, time.time() - self.idle_s)
        for key, _, _ in gone:
            self.chains.states.pop(key.decode()[len(SESSION_PREFIX):], None)
        if gone:
            log.info("stream.sessions.retired partition=%d count=%d", partition, len(gone))
        return gone

    def process(self, partition: int, offset: int, record_time: float, envelope: bytes
                ) -> tuple[ProcessedEnvelope, list[tuple[bytes, bytes, int]], list[tuple[bytes, bytes, int]],
                           list[OutRecord]]:
        """One envelope: its events and dead letters, chain state records, checkpoint state and records.

        An envelope at or below the windows' recorded offset is a replay after a crash: its outputs
        and state were flushed (that offset is in the same flush), only the commit was lost.
        Processing it again would link its events a second time, so it yields nothing."""
        if offset <= self.windows.counted_through(partition):
            return ProcessedEnvelope(), [], [], []
        times = self.times
        mark = times.now()
        self.begin_evidence(partition, record_time)
        mark = times.lap("checkpoints", mark)
        # Neither call raises, whatever the envelope holds: a bad line is a dead letter.
        result = self.processor.process(envelope)
        mark = times.now()
        records = self.chain_records(partition)  # per envelope
        mark = times.lap("chain_state", mark)
        cp_state, cp_out = self.finish_evidence()
        times.lap("checkpoints", mark)
        return result, records, cp_state, cp_out

    def begin_evidence(self, partition: int, record_time: float) -> None:
        if self.checkpoints is not None:
            self.checkpoints.begin(partition, record_time)

    def finish_evidence(self, partition: int | None = None) -> tuple[list[tuple[bytes, bytes, int]],
                                                                    list[OutRecord]]:
        """After an envelope (or, with ``partition``, from the idle timer): checkpoint state and records."""
        if self.checkpoints is None:
            return [], []
        if partition is not None:
            return self.checkpoints.tick(partition)
        return self.checkpoints.finish()

    def forget(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.forget()
        self.chains.states.clear()
        self.state.forget()
        self.windows.forget()


def _wire_envelopes(app: faust.App, settings: Settings, output: OutputProducer,
                    telemetry: StreamTelemetry) -> _EnvelopeState:
    # Bytes straight through; orjson does the parsing (DESIGN.md: Faust's json codec is slow).
    raw = app.topic(settings.topics.raw, value_type=bytes, key_type=bytes,
                    value_serializer="raw", key_serializer="raw")
    shared = _EnvelopeState(settings)
    state, windows = shared.state, shared.windows
    # The envelope agent and the idle timer both touch a partition's windows: one at a time.
    lock = asyncio.Lock()
    # The envelope whose outputs are on their way (at most one): the next envelope is processed
    # meanwhile, so the broker round trip overlaps CPU work instead of adding to it.
    sending: list[asyncio.Task[None]] = []

    async def settle() -> None:
        """Wait for the envelope in flight: outputs and state go out in envelope order."""
        if sending:
            await sending.pop()

    async def deliver(stream: Any, event: Any, result: ProcessedEnvelope, started: float,
                      records: list[tuple[bytes, bytes, int]], extra: list[OutRecord]) -> None:
        msg = event.message
        await output.send_async(result, (msg.topic, msg.partition, msg.offset), records, extra)
        await stream.ack(event)  # only now may its offset be committed: at-least-once
        telemetry.record(result, time.perf_counter() - started)

    @app.agent(raw, name="envelopes")
    async def envelopes(stream: Any) -> None:
        manual = stream.noack()  # acked by ``deliver`` once the envelope's outputs are acked
        async for event in manual.events():
            started = time.perf_counter()
            msg = event.message
            async with lock:
                if not state.loaded(msg.partition):
                    await settle()  # its state records must be on the topic before it is read
                await shared.ensure_loaded(msg.partition)
                shared.partition = msg.partition
                result, records, cp_state, cp_out = shared.process(msg.partition, msg.offset, msg.timestamp,
                                                                   event.value)
                mark = shared.times.now()
                metric_out, window_state = windows.observe(msg.partition, msg.offset, result)
                shared.times.lap("windows", mark)
                await settle()
                sending.append(asyncio.ensure_future(deliver(
                    manual, event, result, started, [*records, *cp_state, window_state],
                    [*metric_out, *cp_out])))
            if result.dead:
                log.info("stream.dead_letters count=%d reasons=%s", len(result.dead),
                         sorted({d.reason.split(":")[0] for d in result.dead}))
        async with lock:
            await settle()

    @app.timer(interval=settings.window_grace_s / 2 + 1)  # type: ignore[untyped-decorator]
    async def _close_idle_windows() -> None:
        for tp in app.consumer.assignment():
            if tp.topic != settings.topics.raw:
                continue
            async with lock:
                await settle()  # a watermark must never overtake the partials before it
                try:
                    await shared.ensure_loaded(tp.partition)
                    metric_out, window_state = windows.tick(tp.partition)
                    cp_state, cp_out = shared.finish_evidence(tp.partition)
                    retired = shared.retire_idle(tp.partition)
                    if cp_out:  # closed on wall-clock time: its state (holding it) goes out first
                        await output.send_async(ProcessedEnvelope(), None, cp_state)
                        cp_state = []
                    await output.send_async(ProcessedEnvelope(), None, [window_state, *cp_state, *retired],
                                            [*metric_out, *cp_out])
                except Exception as exc:  # the next tick tries again; never stop the timer
                    log.error("stream.idle_tick.failed partition=%d error=%s", tp.partition,
                              type(exc).__name__)

    return shared


def _wire_merge(app: faust.App, settings: Settings, output: OutputProducer) -> MergeStage:
    partials = app.topic(settings.topics.partials, value_type=bytes, value_serializer="raw")
    merge = MergeStage(settings, PartitionState(settings), alert_rules(settings))
    notifier = WebhookNotifier(settings.alert_webhook) if settings.alert_webhook else None

    @app.agent(partials, name="merge")
    async def merge_partials(stream: Any) -> None:
        async for message in stream:
            if not merge.state.loaded(0):
                await asyncio.get_running_loop().run_in_executor(None, merge.state.load, 0)
            metric_out, merge_records = merge.handle(message)
            if metric_out or merge_records:
                await output.send_async(ProcessedEnvelope(), None, merge_records, metric_out)
            if notifier is not None and merge.fired:  # after the alerts are safely on the topic
                await asyncio.get_running_loop().run_in_executor(None, notifier.notify, merge.fired)

    return merge


app = build_app(Settings.from_env())
