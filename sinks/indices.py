"""Index naming and composable index templates: daily indices behind one search alias per family.

``{prefix}-events-YYYY.MM.DD`` holds redacted events; the alias ``{prefix}-events`` spans them all.
Mappings are explicit and strict: free text is ``text``, identifiers ``keyword``, structured values
(tool parameters and results, metadata) ``flattened`` so any keys are searchable without a mapping
explosion. Retention drops whole old indices (this distribution has no ``_delete_by_query``).
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

__all__ = ["alerts_template", "checkpoints_alias", "checkpoints_template", "event_index", "events_alias",
           "events_template", "install_templates", "metrics_alias", "metrics_template"]

_KW = {"type": "keyword", "ignore_above": 1024}
_FLAT = {"type": "flattened", "ignore_above": 1024}


def events_alias(prefix: str) -> str:
    return f"{prefix}-events"


def event_index(prefix: str, day: str, family: str = "events") -> str:
    """``day`` as ``YYYY.MM.DD`` (from the record's own time, so replays land in the same index)."""
    return f"{prefix}-{family}-{day}"


def metrics_alias(prefix: str) -> str:
    return f"{prefix}-metrics"


def metrics_template(prefix: str, replicas: int = 0) -> dict[str, Any]:
    num = {"type": "double"}
    return {
        "index_patterns": [f"{prefix}-metrics-*"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
            "aliases": {metrics_alias(prefix): {}},
            "mappings": {"dynamic": "strict", "properties": {
                "type": _KW, "metric_id": _KW, "revision": {"type": "long"},
                "window_start": {"type": "date"}, "window_end": {"type": "date"},
                "tool": _KW, "calls": {"type": "long"}, "errors": {"type": "long"}, "error_rate": num,
                "latency_ms": {"properties": dict.fromkeys(
                    ("count", "min", "mean", "max", "p50", "p90", "p95", "p99"), num)},
                "model": _KW, "outputs": {"type": "long"}, "tokens": {"type": "long"}, "cost": num,
                "kinds": {"type": "object", "dynamic": True}, "events": {"type": "long"},
            }},
        },
    }


def events_template(prefix: str, replicas: int = 0) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-events-*"],
        "priority": 200,
        "template": {
            # An event is searchable at the first refresh after it is stored: the interval is most
            # of the end-to-end p99. 500 ms against 1 s (bench/e2e, same session, 4k events/s):
            # acknowledged to searchable p99 0.7-0.9 s instead of 1.3-1.7, for ~10% more
            # Elasticsearch CPU per event (80 -> 90 µs).
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas,
                         "refresh_interval": "500ms"},
            "aliases": {events_alias(prefix): {}},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "schema_version": {"type": "short"},
                    "event_id": _KW, "kind": _KW, "level": _KW,
                    "timestamp": {"type": "date"},
                    "session_id": _KW, "user_id": _KW,
                    "agent": {"properties": {"name": _KW, "version": _KW}},
                    "seq": {"type": "long"},
                    "trace_id": _KW, "span_id": _KW, "parent_span_id": _KW,
                    "redaction": {"properties": {
                        "policy_version": _KW, "key_version": _KW,
                        "counts": {"type": "object", "dynamic": True},
                    }},
                    "integrity": {"properties": {
                        "hash": _KW, "prev_hash": _KW, "v": {"type": "short"}, "digest": _KW,
                        "salt": {"type": "keyword", "index": False}, "partition": {"type": "integer"},
                        "checkpoint": {"type": "long"}, "leaf": {"type": "long"}}},
                    "erased": {"properties": {"receipt": _KW, "at": {"type": "date"}}},  # tombstones
                    "payload": {"dynamic": "strict", "properties": _payload_properties()},
                },
            },
        },
    }


def _payload_properties() -> dict[str, Any]:
    # One mapping for the union of the five payload kinds (fields with the same name agree in type).
    return {
        "type": _KW,
        "content": {"type": "text"},
        "metadata": {"dynamic": False, "properties": {
            "tokens_used": {"type": "long"}, "model": _KW, "cost": {"type": "double"},
        }},
        "thought": {"type": "text"},
        "plan": {"type": "text"},
        "confidence": {"type": "float"},
        "tool_name": _KW,
        "parameters": _FLAT,
        "result": _FLAT,
        "status": _KW,
        "duration_ms": {"type": "double"},
        "message": {"type": "text"},
        "stack_trace": {"type": "text", "index": False},
        "recovery_action": {"type": "text"},
        "final_seq": {"type": "long"},  # kind "end": the session's last seq
        "call_id": _KW,
    }


def alerts_template(prefix: str, replicas: int = 0) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-alerts-*"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
            "aliases": {f"{prefix}-alerts": {}},
            "mappings": {"dynamic": "strict", "properties": {
                "alert_id": _KW, "episode_id": _KW, "rule": _KW, "kind": _KW, "subject": _KW,
                "status": _KW, "since": {"type": "date"}, "window_start": {"type": "date"},
                "window_end": {"type": "date"}, "value": {"type": "double"},
                "threshold": {"type": "double"},
            }},
        },
    }


def checkpoints_alias(prefix: str) -> str:
    return f"{prefix}-checkpoints"


def checkpoints_template(prefix: str, replicas: int = 0) -> dict[str, Any]:
    """Signed checkpoints (core.evidence.checkpoint): searchable by partition, number and session."""
    return {
        "index_patterns": [f"{prefix}-checkpoints-*"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
            "aliases": {checkpoints_alias(prefix): {}},
            "mappings": {"dynamic": "strict", "properties": {
                "v": {"type": "short"}, "type": _KW, "log": _KW, "partition": {"type": "integer"},
                "number": {"type": "long"}, "checkpoint_id": _KW, "prev": _KW,
                "tree_size": {"type": "long"}, "root": _KW, "opened_at": {"type": "date"},
                "closed_at": {"type": "date"}, "key_id": _KW,
                "signature": {"type": "keyword", "index": False},
                "sessions": {"properties": {"session_id": _KW, "seq": {"type": "long"}, "hash": _KW}},
            }},
        },
    }


def install_templates(es: Elasticsearch, prefix: str, replicas: int = 0) -> None:
    """Create or update the templates (idempotent: a PUT of the same body changes nothing)."""
    es.indices.put_index_template(name=f"{prefix}-events", **events_template(prefix, replicas))
    es.indices.put_index_template(name=f"{prefix}-metrics", **metrics_template(prefix, replicas))
    es.indices.put_index_template(name=f"{prefix}-alerts", **alerts_template(prefix, replicas))
    es.indices.put_index_template(name=f"{prefix}-checkpoints", **checkpoints_template(prefix, replicas))
