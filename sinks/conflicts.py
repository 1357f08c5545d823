"""Conflicting event ids: a 409 is a harmless duplicate only if the stored copy is the same evidence.

``op_type=create`` keeps the first copy of an ``_id``. A replay of the same event carries the same
integrity hash (``core.integrity`` makes replays byte-identical), so a 409 with an equal hash is a
duplicate. A 409 whose stored document commits to a different hash is a second, different event
under an id already taken (a forged copy sent ahead, or a producer reusing ids): it is not dropped
as a duplicate but dead-lettered with reason ``conflicting_event_id`` and raised as an alert.
Checkpoints are compared the same way, on their signature.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch

from agent_audit.sinks.bulk import BulkItem

__all__ = ["CONFLICT", "conflict_alert", "evidence_of", "find_conflicts", "split_conflicts"]

log = logging.getLogger(__name__)

CONFLICT = "conflicting_event_id"


def evidence_of(source: Mapping[str, Any]) -> str | None:
    """What a copy commits to: an event's integrity hash, a checkpoint's signature; else None."""
    integrity = source.get("integrity")
    if isinstance(integrity, Mapping) and integrity.get("hash"):
        return str(integrity["hash"])
    if source.get("type") == "checkpoint":
        return str(source.get("signature"))
    return None


def split_conflicts(seen: Sequence[BulkItem], stored: Mapping[str, Mapping[str, Any]]
                    ) -> tuple[int, list[tuple[BulkItem, str]]]:
    """(duplicates, conflicts) among items answered 409, given the stored sources by id."""
    conflicts = []
    for item in seen:
        mine = evidence_of(orjson.loads(item.source))
        theirs = stored.get(item.doc_id)
        if mine is not None and theirs is not None and evidence_of(theirs) != mine:
            conflicts.append((item, CONFLICT))
    return len(seen) - len(conflicts), conflicts


def find_conflicts(es: Elasticsearch, seen: Sequence[BulkItem]) -> tuple[int, list[tuple[BulkItem, str]]]:
    """Fetch the stored copies of the 409s that carry evidence, and split them (one mget)."""
    checked = [i for i in seen if i.version is None and (b'"integrity"' in i.source
                                                          or b'"checkpoint"' in i.source)]
    if not checked:
        return len(seen), []
    docs = [{"_index": i.index, "_id": i.doc_id, "_source": ["integrity.hash", "type", "signature"]}
            for i in checked]
    found = _mget(es, docs)
    stored = {d["_id"]: d["_source"] for d in found if d.get("found")}
    duplicates, conflicts = split_conflicts(checked, stored)
    return duplicates + len(seen) - len(checked), conflicts


def _mget(es: Elasticsearch, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Elasticsearch's answer; connection trouble is waited out like the bulk's (never a guess)."""
    backoff = 0.2
    while True:
        try:
            return list(es.mget(docs=docs)["docs"])
        except (ESConnectionError, ConnectionTimeout):
            log.warning("sink.conflicts.retry backoff_s=%.1f", backoff)
        except ApiError as exc:
            if exc.meta.status not in (429, 500, 502, 503, 504):
                raise
        time.sleep(backoff)
        backoff = min(backoff * 2, 10.0)


def conflict_alert(item: BulkItem, now: datetime | None = None
                   ) -> tuple[bytes, list[tuple[str, str | bytes | None]]]:
    """An alert record for the alerts topic (indexed like the stream's alerts): who, when, which id."""
    at = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    alert_id = "conflict-" + hashlib.sha256(item.doc_id.encode() + b"\x00" + item.source).hexdigest()[:24]
    value = orjson.dumps({"alert_id": alert_id, "episode_id": alert_id, "rule": CONFLICT, "kind": "integrity",
                          "subject": item.doc_id, "status": "firing", "since": at})
    return value, [("alert_id", alert_id.encode()), ("day", at[:10].replace("-", ".").encode())]
