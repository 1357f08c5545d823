"""The data-key store in Elasticsearch (``{prefix}-data-keys``): one document per subject.

Why Elasticsearch: every stream worker, sink worker and the CLI already reach it; a GET by id is
real-time (no refresh wait), so a destroyed key is seen by the next lookup of any worker; and a
write can be conditional. A compacted Kafka topic was the other candidate, but a tombstone there
leaves the old key readable until compaction runs, and every worker would replay the whole topic.

Writes use external versioning with the record's rank (``2 x generation``, +1 once destroyed):
two workers creating a user's first key race safely (one wins, the other reads the winner's key),
and nothing can resurrect a destroyed generation. Destroying overwrites the wrapped key; the old
version lingers in Lucene segments until merged, so ``expunge`` asks Elasticsearch to merge the
deleted versions away (the wrapped key is useless without the master key meanwhile).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, BadRequestError, ConflictError, Elasticsearch, NotFoundError

from agent_audit.core.datakeys import DataKeys, KeyRecord, b64, master_key_from_settings, rank, unb64
from agent_audit.core.errors import TransientError
from agent_audit.core.es_security import elasticsearch_options
from agent_audit.core.settings import Settings

__all__ = ["ElasticKeyStore", "build_data_keys", "keys_index"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_KW = {"type": "keyword"}
_MAPPING: dict[str, Any] = {"dynamic": "strict", "properties": {
    "subject": _KW, "generation": {"type": "long"}, "wrapped": {"type": "binary"},
    "destroyed_at": {"type": "date"}, "receipt": _KW}}


def keys_index(prefix: str) -> str:
    return f"{prefix}-data-keys"


class ElasticKeyStore:
    def __init__(self, es: Elasticsearch, prefix: str, patience_s: float = 600.0) -> None:
        self.es = es
        self.index = keys_index(prefix)
        self.patience_s = patience_s  # how long an unreachable Elasticsearch is retried
        self._ready = False

    def get(self, subject: str) -> KeyRecord | None:
        return self._retrying(lambda: self._get(subject))

    def put(self, record: KeyRecord) -> KeyRecord:
        return self._retrying(lambda: self._put(record))

    def get_many(self, subjects: Sequence[str]) -> dict[str, KeyRecord]:
        return self._retrying(lambda: self._get_many(subjects))

    def put_many(self, records: Sequence[KeyRecord]) -> dict[str, KeyRecord]:
        """One bulk request; a record refused (another writer stored a newer rank) is read back."""
        return self._retrying(lambda: self._put_many(records))

    def _get_many(self, subjects: Sequence[str]) -> dict[str, KeyRecord]:
        if not subjects:
            return {}
        try:
            docs = self.es.mget(index=self.index, ids=list(subjects), realtime=True)["docs"]
        except NotFoundError:  # no index yet: no key yet
            return {}
        return {d["_id"]: _record(d["_source"]) for d in docs if d.get("found")}

    def _put_many(self, records: Sequence[KeyRecord]) -> dict[str, KeyRecord]:
        self._ensure()
        ops: list[dict[str, Any]] = []
        for record in records:
            ops += [{"index": {"_index": self.index, "_id": record.subject, "version": rank(record),
                               "version_type": "external"}}, _doc(record)]
        resp = self.es.bulk(operations=ops)
        stored, lost = {}, []
        for record, item in zip(records, resp["items"], strict=True):
            status = item["index"].get("status", 500)
            if status in (200, 201):
                stored[record.subject] = record
            elif status == 409:
                lost.append(record.subject)
            else:
                raise TransientError(f"data-key store refused a key: http {status}")
        return {**stored, **self._get_many(lost)}

    def _retrying(self, call: Callable[[], T]) -> T:
        deadline, backoff = time.monotonic() + self.patience_s, 0.2
        while True:
            try:
                return call()
            except (ESConnectionError, ConnectionTimeout, ApiError) as exc:
                status = getattr(getattr(exc, "meta", None), "status", 0)
                if isinstance(exc, ApiError) and status not in (429, 500, 502, 503, 504):
                    raise
                if time.monotonic() > deadline:
                    raise TransientError(f"data-key store unreachable: {type(exc).__name__}") from exc
                log.warning("keystore.retry reason=%s backoff_s=%.1f", type(exc).__name__, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _get(self, subject: str) -> KeyRecord | None:
        try:
            doc = self.es.get(index=self.index, id=subject, realtime=True)["_source"]
        except NotFoundError:
            return None
        return _record(doc)

    def _put(self, record: KeyRecord) -> KeyRecord:
        self._ensure()
        try:
            self.es.index(index=self.index, id=record.subject, version=rank(record), version_type="external",
                          document=_doc(record))
        except ConflictError:  # someone stored a newer (or the same) rank first: theirs stands
            current = self._get(record.subject)
            if current is not None:
                return current
            raise
        return record

    def expunge(self) -> None:
        """Merge away the overwritten versions (destroyed keys) still in the index's segments."""
        if self.es.indices.exists(index=self.index):
            self.es.indices.forcemerge(index=self.index, only_expunge_deletes=True, flush=True)

    def _ensure(self) -> None:
        if self._ready:
            return
        if not self.es.indices.exists(index=self.index):
            try:
                self.es.indices.create(index=self.index, mappings=_MAPPING,
                                       settings={"number_of_shards": 1, "number_of_replicas": 0})
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":  # else a racing worker made it
                    raise
        self._ready = True


def _doc(record: KeyRecord) -> dict[str, Any]:
    doc = {"subject": record.subject, "generation": record.generation,
           "wrapped": b64(record.wrapped) if record.wrapped else None,
           "destroyed_at": record.destroyed_at, "receipt": record.receipt}
    return {k: v for k, v in doc.items() if v is not None}


def _record(doc: dict[str, Any]) -> KeyRecord:
    wrapped = doc.get("wrapped")
    return KeyRecord(doc["subject"], int(doc["generation"]), unb64(wrapped) if wrapped else None,
                     doc.get("destroyed_at"), doc.get("receipt"))


def build_data_keys(settings: Settings, es: Elasticsearch | None = None,
                    patience_s: float = 600.0) -> DataKeys:
    """The data keys every worker uses: the master key from the settings, the shared store, the cache.
    Workers pass a short ``patience_s``: they retry in their own loops, with the keys they know."""
    es = es or Elasticsearch(**elasticsearch_options(settings), request_timeout=30)
    store = ElasticKeyStore(es, settings.index_prefix, patience_s)
    return DataKeys(master_key_from_settings(settings), store, cache_s=settings.key_cache_s)
