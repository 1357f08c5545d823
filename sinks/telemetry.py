"""The sink watches itself: Prometheus metrics on an HTTP endpoint (AUDIT_METRICS_PORT, 0 = off)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["SinkTelemetry"]


class SinkTelemetry:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records_in = Counter("audit_sink_records_in", "Records consumed from Kafka", registry=r)
        self.documents = Counter("audit_sink_documents", "Documents by outcome (stored, duplicate)",
                                 ["outcome"], registry=r)
        self.dead_letters = Counter("audit_sink_dead_letters", "Records dead-lettered, by reason",
                                    ["reason"], registry=r)
        self.batch_seconds = Histogram("audit_sink_batch_seconds", "Consume-to-commit time of a batch",
                                       buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r)
        self.ack_age = Histogram("audit_sink_ack_age_seconds",
                                 "Kafka timestamp of a batch's first record to Elasticsearch's ack",
                                 buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r)
        self.lag = Gauge("audit_sink_consumer_lag", "Records behind the end of the topic, by partition",
                         ["partition"], registry=r)
        self.retries = Counter("audit_sink_bulk_retries", "Bulk requests retried (429, 5xx, connection)",
                               registry=r)

    def serve(self, port: int, bind: str = "127.0.0.1") -> None:
        if port:  # AUDIT_METRICS_BIND: 127.0.0.1 unless a scraper must reach it (a container)
            start_http_server(port, addr=bind, registry=self.registry)
