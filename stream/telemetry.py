"""The stream watches itself: Prometheus metrics on an HTTP endpoint (AUDIT_METRICS_PORT, 0 = off)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, Metric

from agent_audit.core.processing import ProcessedEnvelope
from agent_audit.core.stages import StageTimes

__all__ = ["StreamTelemetry"]


class StreamTelemetry:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.envelopes = Counter("audit_stream_envelopes", "Envelopes consumed from the raw topic",
                                 registry=r)
        self.events_out = Counter("audit_stream_events_out", "Redacted events published", registry=r)
        self.dead_letters = Counter("audit_stream_dead_letters", "Dead letters, by reason class",
                                    ["reason"], registry=r)
        self.redactions = Counter("audit_stream_redactions", "Values redacted, by type", ["type"],
                                  registry=r)
        self.envelope_seconds = Histogram(
            "audit_stream_envelope_seconds", "Time from an envelope's arrival to its outputs' ack",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5), registry=r)

    def record(self, result: ProcessedEnvelope, seconds: float) -> None:
        self.envelopes.inc()
        self.events_out.inc(len(result.events))
        for dead in result.dead:
            self.dead_letters.labels(dead.reason.split(":", 1)[0]).inc()
        for kind, n in result.redactions.items():
            self.redactions.labels(kind).inc(n)
        self.envelope_seconds.observe(seconds)

    def count_stages(self, *sources: StageTimes) -> None:
        """Export ``audit_stream_stage_cpu_seconds_total{stage}``: the threads' CPU per stage."""
        self.registry.register(_StageCollector(sources))

    def serve(self, port: int, bind: str = "127.0.0.1") -> None:
        if port:  # AUDIT_METRICS_BIND: 127.0.0.1 unless a scraper must reach it (a container)
            start_http_server(port, addr=bind, registry=self.registry)


class _StageCollector:
    """Read at scrape time: the hot path only adds to plain dicts."""

    def __init__(self, sources: tuple[StageTimes, ...]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("audit_stream_stage_cpu_seconds",
                                     "Thread CPU seconds spent in each stage of the envelope path",
                                     labels=["stage"])
        totals: dict[str, int] = {}
        for source in self.sources:
            for stage, ns in list(source.ns.items()):
                totals[stage] = totals.get(stage, 0) + ns
        for stage, ns in sorted(totals.items()):
            family.add_metric([stage], ns / 1e9)
        yield family
