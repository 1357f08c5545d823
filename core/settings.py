"""Every setting of every component, read once from the environment at start-up.

=========================  ===============================  ===========================================
variable                   default                          meaning
=========================  ===============================  ===========================================
AUDIT_MODE                 production                       production: workers refuse to start without
                                                            their keys; development: the local stack,
                                                            demo and tests (keys optional)
KAFKA_BOOTSTRAP            127.0.0.1:9092                   Kafka bootstrap servers
ES_URL                     http://127.0.0.1:9200            Elasticsearch URL (user:password in it is ok)
ES_API_KEY                 (none)                           Elasticsearch API key, instead of a password
AUDIT_TOPIC_PREFIX         (empty)                          prefix for every topic (tests, tenants)
AUDIT_INDEX_PREFIX         agent                            prefix of the daily indices
AUDIT_RAW_PARTITIONS       6                                partitions of agent.events.raw
AUDIT_EVENTS_PARTITIONS    6                                partitions of agent.events
AUDIT_RAW_RETENTION_MS     86400000 (1 day)                 retention of agent.events.raw
AUDIT_EVENTS_RETENTION_MS  604800000 (7 days)               retention of agent.events
AUDIT_DLQ_RETENTION_MS     2592000000 (30 days)             retention of agent.events.dlq
AUDIT_REPLICATION          1                                replication factor of created topics
AUDIT_STREAM_APP_ID        agent-audit-stream               Faust application id (consumer group)
AUDIT_STREAM_DATA_DIR      <tmp>/agent-audit-stream         Faust's local data folder (one per worker)
AUDIT_SINK_GROUP           agent-audit-sink                 consumer group of the Elasticsearch sink
AUDIT_SINK_BATCH           4000                             max records per sink batch, split over requests
AUDIT_SINK_MAX_BYTES       8388608 (8 MiB)                  max bytes of one bulk request
AUDIT_SINK_CONCURRENCY     2                                bulk requests per batch (two batches may overlap)
AUDIT_REDACTION_KEY        (none)                           HMAC key: keyed tokens instead of [TYPE]
AUDIT_REDACTION_KEY_VERSION v1                              label of that key (keys rotate)
AUDIT_INTEGRITY_KEY        (none)                           key of the events' digest salts (derived from
                                                            the signing key when unset)
AUDIT_METRICS_PORT         0 (off)                          Prometheus endpoint of a worker (127.0.0.1)
AUDIT_WINDOW_S             60                               tumbling window of tool metrics (seconds)
AUDIT_WINDOW_GRACE_S       10                               event-time grace before a window closes
AUDIT_WINDOW_MAX_TOOLS     200                              distinct tools per window, then __overflow__
AUDIT_ALERT_RULES          (built-in defaults)              TOML file of alert rules (core/alerts.py)
AUDIT_ALERT_WEBHOOK        (none)                           URL that receives each alert as a JSON POST
AUDIT_MAX_EVENT_AGE_S      2592000 (30 days)                events older than this at arrival go to the
                                                            DLQ (reason ``timestamp: ...``)
AUDIT_MAX_CLOCK_SKEW_S     300                              events further ahead of arrival than this
                                                            go to the DLQ (reason ``timestamp: ...``)
AUDIT_MAX_SEQ_GAP          10000                            a seq further past its session's last one
                                                            goes to the DLQ (reason ``seq: ...``)
AUDIT_SESSION_IDLE_S       86400 (1 day)                    a session idle this long leaves the stream's
                                                            state (tombstoned); a late event recovers
                                                            its chain head from Elasticsearch
AUDIT_SINK_MAX_POLL_MS     300000 (5 min)                   the sink's max.poll.interval.ms (its session
                                                            timeout is the smaller of this and 45 s)
AUDIT_INTEGRITY            on                               off: no integrity, no checkpoints (development
                                                            only; production refuses it)
AUDIT_SIGNING_KEY          (none)                           the stream's Ed25519 private key (PEM or base64
                                                            of 32 bytes); production refuses to start
                                                            without it (or the file below)
AUDIT_SIGNING_KEY_FILE     (none)                           file holding that key
AUDIT_PUBLIC_KEYS          (none)                           public keys that verify checkpoints: files or
                                                            base64 keys, comma-separated, old ones kept
AUDIT_CHECKPOINT_INTERVAL_S 5                               seconds between a partition's checkpoints
                                                            while events flow
AUDIT_CHECKPOINT_MAX_LEAVES 100000                          a checkpoint closes at this many events
AUDIT_REDACTION_OLD_KEYS   (none)                           earlier redaction keys, ``v0=key,v1=key``:
                                                            lookups and erasure find their tokens too
AUDIT_MASTER_KEY           (none; required in production)   wraps the per-user data keys (16+ bytes)
AUDIT_MASTER_KEY_FILE      (none)                           a file holding the master key, instead
AUDIT_KEY_CACHE_S          10                               how long a worker keeps a data key: a key
                                                            destroyed at T is unusable by T + this
AUDIT_SEAL_EVENTS          1                                0: agent.events in the clear (development
                                                            only, to measure what sealing costs)
AUDIT_METRICS_BIND         127.0.0.1                        address of the Prometheus endpoints (0.0.0.0
                                                            in a container, to be scraped)
=========================  ===============================  ===========================================

Kafka security (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*, per role AUDIT_<ROLE>_KAFKA_*) is
documented in core/kafka_security.py, Elasticsearch TLS and basic auth in core/es_security.py.

Secrets (ES_URL credentials, ES_API_KEY, ES_PASSWORD, KAFKA_SASL_PASSWORD, KAFKA_SSL_KEY_PASSWORD,
AUDIT_REDACTION_KEY, AUDIT_REDACTION_OLD_KEYS, AUDIT_INTEGRITY_KEY, AUDIT_SIGNING_KEY, AUDIT_MASTER_KEY)
come from here only, never the repo, and never show in ``repr``: a password in ES_URL prints as
``***``. In production, the stream and the sink refuse to start without AUDIT_REDACTION_KEY
(``require_keys``), the stream without a signing key, both without the master key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from agent_audit.core.envvars import env_int
from agent_audit.core.errors import ConfigError
from agent_audit.core.es_security import redact_url
from agent_audit.core.kafka_security import ROLES, KafkaSecurity, Role

__all__ = ["Settings", "Topics", "require_keys"]


@dataclass(frozen=True)
class Topics:
    raw: str
    events: str
    dlq: str
    metrics: str
    alerts: str
    state: str  # the stream's own state (hash chains, windows), compacted, co-partitioned with raw
    partials: str  # per-partition window partials and watermarks, merged by one agent
    checkpoints: str  # signed checkpoints of the raw partitions (tamper evidence), kept long

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(
            raw=f"{prefix}agent.events.raw",
            events=f"{prefix}agent.events",
            dlq=f"{prefix}agent.events.dlq",
            metrics=f"{prefix}agent.metrics",
            alerts=f"{prefix}agent.alerts",
            state=f"{prefix}agent.stream.state",
            partials=f"{prefix}agent.metrics.partials",
            checkpoints=f"{prefix}agent.checkpoints",
        )

    def all(self) -> tuple[str, ...]:
        return (self.raw, self.events, self.dlq, self.metrics, self.alerts, self.state, self.partials,
                self.checkpoints)


MODES = ("production", "development")


@dataclass(frozen=True)
class Settings:
    mode: str = "production"
    kafka_bootstrap: str = "127.0.0.1:9092"
    es_url: str = "http://127.0.0.1:9200"
    es_api_key: str | None = field(default=None, repr=False)
    topic_prefix: str = ""
    index_prefix: str = "agent"
    raw_partitions: int = 6
    events_partitions: int = 6
    raw_retention_ms: int = 86_400_000
    events_retention_ms: int = 604_800_000
    dlq_retention_ms: int = 2_592_000_000
    replication: int = 1
    stream_app_id: str = "agent-audit-stream"
    stream_data_dir: str = ""  # empty: a folder named after the app id under the temp dir
    sink_group: str = "agent-audit-sink"
    sink_batch: int = 4000
    sink_max_bytes: int = 8 * 1024 * 1024
    sink_concurrency: int = 2
    redaction_key: str | None = field(default=None, repr=False)
    redaction_key_version: str = "v1"
    integrity_key: str | None = field(default=None, repr=False)
    metrics_port: int = 0
    window_s: int = 60
    window_grace_s: int = 10
    window_max_tools: int = 200
    alert_rules_path: str = ""
    alert_webhook: str = field(default="", repr=False)  # may carry a token in its path
    max_event_age_s: int = 30 * 86_400
    max_clock_skew_s: int = 300
    max_seq_gap: int = 10_000
    session_idle_s: int = 86_400
    sink_max_poll_ms: int = 300_000
    integrity: bool = True
    signing_key: str | None = field(default=None, repr=False)
    signing_key_file: str = ""
    public_keys: str = ""
    checkpoint_interval_s: int = 5
    checkpoint_max_leaves: int = 100_000
    redaction_old_keys: str | None = field(default=None, repr=False)
    master_key: str | None = field(default=None, repr=False)
    master_key_file: str = ""
    key_cache_s: int = 10
    seal_events: bool = True
    metrics_bind: str = "127.0.0.1"
    es_username: str = ""
    es_password: str = field(default="", repr=False)
    es_ca_file: str = ""
    es_fingerprint: str = ""
    es_client_cert_file: str = ""
    es_client_key_file: str = ""
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    # roles whose AUDIT_<ROLE>_KAFKA_* differ from the base configuration
    kafka_roles: Mapping[str, KafkaSecurity] = field(default_factory=dict)

    def __repr__(self) -> str:
        # the dataclass repr, with ES_URL's password masked (secret fields are repr=False)
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr
                          and f.name != "es_url")
        return f"Settings(es_url={redact_url(self.es_url)!r}, {shown})"

    def kafka_for(self, role: Role) -> KafkaSecurity:
        """The Kafka security of one component (its AUDIT_<ROLE>_ overrides, else the base)."""
        return self.kafka_roles.get(role, self.kafka_security)

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def raw_segment_ms(self) -> int:
        """The raw topic's segment roll: a quarter of its retention, 1 min to 1 h, so a raw record
        is gone at most retention + this (+ the broker's retention check) after it was written."""
        return max(60_000, min(self.raw_retention_ms // 4, 3_600_000))

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the variables above; a malformed number is a ``ConfigError`` naming the variable."""
        env = os.environ if env is None else env
        d = cls()
        mode = env.get("AUDIT_MODE", d.mode) or d.mode
        if mode not in MODES:
            raise ConfigError(f"AUDIT_MODE must be one of {', '.join(MODES)}, got {mode!r}")
        return cls(
            mode=mode,
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP", d.kafka_bootstrap),
            es_url=env.get("ES_URL", d.es_url),
            es_api_key=env.get("ES_API_KEY") or None,
            topic_prefix=env.get("AUDIT_TOPIC_PREFIX", d.topic_prefix),
            index_prefix=env.get("AUDIT_INDEX_PREFIX", d.index_prefix),
            raw_partitions=env_int(env, "AUDIT_RAW_PARTITIONS", d.raw_partitions),
            events_partitions=env_int(env, "AUDIT_EVENTS_PARTITIONS", d.events_partitions),
            raw_retention_ms=env_int(env, "AUDIT_RAW_RETENTION_MS", d.raw_retention_ms),
            events_retention_ms=env_int(env, "AUDIT_EVENTS_RETENTION_MS", d.events_retention_ms),
            dlq_retention_ms=env_int(env, "AUDIT_DLQ_RETENTION_MS", d.dlq_retention_ms),
            replication=env_int(env, "AUDIT_REPLICATION", d.replication),
            stream_app_id=env.get("AUDIT_STREAM_APP_ID", d.stream_app_id),
            stream_data_dir=env.get("AUDIT_STREAM_DATA_DIR", d.stream_data_dir),
            sink_group=env.get("AUDIT_SINK_GROUP", d.sink_group),
            sink_batch=env_int(env, "AUDIT_SINK_BATCH", d.sink_batch),
            sink_max_bytes=env_int(env, "AUDIT_SINK_MAX_BYTES", d.sink_max_bytes),
            sink_concurrency=env_int(env, "AUDIT_SINK_CONCURRENCY", d.sink_concurrency),
            redaction_key=env.get("AUDIT_REDACTION_KEY") or None,
            redaction_key_version=env.get("AUDIT_REDACTION_KEY_VERSION", d.redaction_key_version),
            integrity_key=env.get("AUDIT_INTEGRITY_KEY") or None,
            metrics_port=env_int(env, "AUDIT_METRICS_PORT", d.metrics_port, allow_zero=True),
            window_s=env_int(env, "AUDIT_WINDOW_S", d.window_s),
            window_grace_s=env_int(env, "AUDIT_WINDOW_GRACE_S", d.window_grace_s, allow_zero=True),
            window_max_tools=env_int(env, "AUDIT_WINDOW_MAX_TOOLS", d.window_max_tools),
            alert_rules_path=env.get("AUDIT_ALERT_RULES", ""),
            alert_webhook=env.get("AUDIT_ALERT_WEBHOOK", ""),
            max_event_age_s=env_int(env, "AUDIT_MAX_EVENT_AGE_S", d.max_event_age_s),
            max_clock_skew_s=env_int(env, "AUDIT_MAX_CLOCK_SKEW_S", d.max_clock_skew_s, allow_zero=True),
            max_seq_gap=env_int(env, "AUDIT_MAX_SEQ_GAP", d.max_seq_gap),
            session_idle_s=env_int(env, "AUDIT_SESSION_IDLE_S", d.session_idle_s),
            sink_max_poll_ms=env_int(env, "AUDIT_SINK_MAX_POLL_MS", d.sink_max_poll_ms),
            integrity=_switch(env, "AUDIT_INTEGRITY", d.integrity),
            signing_key=env.get("AUDIT_SIGNING_KEY") or None,
            signing_key_file=env.get("AUDIT_SIGNING_KEY_FILE", ""),
            public_keys=env.get("AUDIT_PUBLIC_KEYS", ""),
            checkpoint_interval_s=env_int(env, "AUDIT_CHECKPOINT_INTERVAL_S", d.checkpoint_interval_s),
            checkpoint_max_leaves=env_int(env, "AUDIT_CHECKPOINT_MAX_LEAVES", d.checkpoint_max_leaves),
            redaction_old_keys=env.get("AUDIT_REDACTION_OLD_KEYS") or None,
            master_key=env.get("AUDIT_MASTER_KEY") or None,
            master_key_file=env.get("AUDIT_MASTER_KEY_FILE", ""),
            key_cache_s=env_int(env, "AUDIT_KEY_CACHE_S", d.key_cache_s, allow_zero=True),
            seal_events=_seal_events(env, mode),
            metrics_bind=env.get("AUDIT_METRICS_BIND") or d.metrics_bind,
            es_username=env.get("ES_USERNAME", ""),
            es_password=env.get("ES_PASSWORD", ""),
            es_ca_file=env.get("ES_CA_FILE", ""),
            es_fingerprint=env.get("ES_CERT_FINGERPRINT", ""),
            es_client_cert_file=env.get("ES_CLIENT_CERT_FILE", ""),
            es_client_key_file=env.get("ES_CLIENT_KEY_FILE", ""),
            kafka_security=KafkaSecurity.from_env(env),
            kafka_roles=_kafka_roles(env),
        )

    def to_env(self) -> dict[str, str]:
        """The variables that reproduce these settings in a child process (secrets included)."""
        env = {
            "AUDIT_MODE": self.mode,
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "ES_URL": self.es_url,
            "AUDIT_TOPIC_PREFIX": self.topic_prefix,
            "AUDIT_INDEX_PREFIX": self.index_prefix,
            "AUDIT_RAW_PARTITIONS": str(self.raw_partitions),
            "AUDIT_EVENTS_PARTITIONS": str(self.events_partitions),
            "AUDIT_RAW_RETENTION_MS": str(self.raw_retention_ms),
            "AUDIT_EVENTS_RETENTION_MS": str(self.events_retention_ms),
            "AUDIT_DLQ_RETENTION_MS": str(self.dlq_retention_ms),
            "AUDIT_REPLICATION": str(self.replication),
            "AUDIT_STREAM_APP_ID": self.stream_app_id,
            "AUDIT_STREAM_DATA_DIR": self.stream_data_dir,
            "AUDIT_SINK_GROUP": self.sink_group,
            "AUDIT_SINK_BATCH": str(self.sink_batch),
            "AUDIT_SINK_MAX_BYTES": str(self.sink_max_bytes),
            "AUDIT_SINK_CONCURRENCY": str(self.sink_concurrency),
            "AUDIT_REDACTION_KEY_VERSION": self.redaction_key_version,
            "AUDIT_METRICS_PORT": str(self.metrics_port),
            "AUDIT_WINDOW_S": str(self.window_s),
            "AUDIT_WINDOW_GRACE_S": str(self.window_grace_s),
            "AUDIT_WINDOW_MAX_TOOLS": str(self.window_max_tools),
            "AUDIT_ALERT_RULES": self.alert_rules_path,
            "AUDIT_ALERT_WEBHOOK": self.alert_webhook,
            "AUDIT_MAX_EVENT_AGE_S": str(self.max_event_age_s),
            "AUDIT_MAX_CLOCK_SKEW_S": str(self.max_clock_skew_s),
            "AUDIT_MAX_SEQ_GAP": str(self.max_seq_gap),
            "AUDIT_SESSION_IDLE_S": str(self.session_idle_s),
            "AUDIT_SINK_MAX_POLL_MS": str(self.sink_max_poll_ms),
            "AUDIT_INTEGRITY": "on" if self.integrity else "off",
            "AUDIT_SIGNING_KEY_FILE": self.signing_key_file,
            "AUDIT_PUBLIC_KEYS": self.public_keys,
            "AUDIT_CHECKPOINT_INTERVAL_S": str(self.checkpoint_interval_s),
            "AUDIT_CHECKPOINT_MAX_LEAVES": str(self.checkpoint_max_leaves),
            "AUDIT_MASTER_KEY_FILE": self.master_key_file,
            "AUDIT_KEY_CACHE_S": str(self.key_cache_s),
            "AUDIT_SEAL_EVENTS": "1" if self.seal_events else "0",
        }
        if self.es_api_key:
            env["ES_API_KEY"] = self.es_api_key
        if self.redaction_key:
            env["AUDIT_REDACTION_KEY"] = self.redaction_key
        if self.integrity_key:
            env["AUDIT_INTEGRITY_KEY"] = self.integrity_key
        if self.signing_key:
            env["AUDIT_SIGNING_KEY"] = self.signing_key
        if self.redaction_old_keys:
            env["AUDIT_REDACTION_OLD_KEYS"] = self.redaction_old_keys
        if self.master_key:
            env["AUDIT_MASTER_KEY"] = self.master_key
        env["AUDIT_METRICS_BIND"] = self.metrics_bind
        es_tls = {"ES_USERNAME": self.es_username, "ES_PASSWORD": self.es_password,
                  "ES_CA_FILE": self.es_ca_file, "ES_CERT_FINGERPRINT": self.es_fingerprint,
                  "ES_CLIENT_CERT_FILE": self.es_client_cert_file,
                  "ES_CLIENT_KEY_FILE": self.es_client_key_file}
        env |= {name: value for name, value in es_tls.items() if value}
        env |= self.kafka_security.to_env()
        for role, security in self.kafka_roles.items():
            env |= security.to_env(role)  # type: ignore[arg-type]  # keys are ROLES
        return env


def require_keys(settings: Settings, component: str) -> None:
    """In production, refuse to start ``component`` without its redaction key: without it, PII is
    replaced by bare ``[TYPE]`` labels nobody can correlate, or (worse) a deployment forgot its keys."""
    if settings.production and not settings.redaction_key:
        raise ConfigError(f"{component}: AUDIT_REDACTION_KEY is required in production "
                          "(AUDIT_MODE=development runs without it)")


def _kafka_roles(env: Mapping[str, str]) -> dict[str, KafkaSecurity]:
    base = KafkaSecurity.from_env(env)
    roles = {role: KafkaSecurity.from_env(env, role) for role in ROLES}
    return {role: security for role, security in roles.items() if security != base}




def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("on", "off"):
        raise ConfigError(f"{name} must be on or off, got {raw!r}")
    return raw == "on"
def _seal_events(env: Mapping[str, str], mode: str) -> bool:
    raw = env.get("AUDIT_SEAL_EVENTS", "1") or "1"
    if raw not in ("0", "1"):
        raise ConfigError(f"AUDIT_SEAL_EVENTS must be 0 or 1, got {raw!r}")
    if raw == "0" and mode == "production":
        raise ConfigError("AUDIT_SEAL_EVENTS=0 is refused in production: erasure relies on sealed events")
    return raw == "1"
