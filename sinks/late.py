"""Late records for a sealed day: stored in today's index of their family, never dead-lettered for it.

A daily index is sealed (``index.blocks.write``) some days after its day closed
(``sinks.compliance.retention.seal``). A record that arrives later for that day (an agent that was
offline, a replay) is refused with ``403 cluster_block_exception``. The rule: it is written to
*today's* index of its family (today by the sink's clock, an index that is never sealed), unchanged,
so its own ``timestamp`` still says when it happened and the family's alias and queries find it.
Retention then keeps it as long as today's records.

Exactly once still holds: before writing, the record's id is looked up in every daily index of its
family; if a copy is stored anywhere (a replay of a late record, or of one stored before the seal),
it counts as a duplicate, as a 409 would. Versioned records (metric revisions) are not moved: their
order lives in their own index, so a refusal for them stays a dead letter with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from elasticsearch import Elasticsearch

from agent_audit.sinks.bulk import BulkItem
from agent_audit.sinks.indices import event_index

__all__ = ["SEALED_REASON", "LateRouter", "split_sealed"]

SEALED_REASON = "es:403:cluster_block_exception"


def split_sealed(failed: Sequence[tuple[BulkItem, str]]) -> tuple[list[BulkItem], list[tuple[BulkItem, str]]]:
    """(records refused only because their index is sealed, every other refusal with its reason)."""
    late = [item for item, reason in failed if reason == SEALED_REASON and item.version is None]
    moved = {id(item) for item in late}
    return late, [(item, reason) for item, reason in failed if id(item) not in moved]


def _family(prefix: str, index: str) -> str:
    # {prefix}-{family}-YYYY.MM.DD
    return index[len(prefix) + 1:].rsplit("-", 1)[0]


class LateRouter:
    def __init__(self, es: Elasticsearch, prefix: str) -> None:
        self.es = es
        self.prefix = prefix

    def route(self, late: Sequence[BulkItem],
              now: datetime | None = None) -> tuple[list[BulkItem], int, list[BulkItem]]:
        """(records to write to today's indices, how many were stored already, records refused by
        today's index itself: nowhere else to go, they stay dead letters)."""
        today = (now or datetime.now(UTC)).strftime("%Y.%m.%d")
        by_family: dict[str, list[BulkItem]] = {}
        for item in late:
            by_family.setdefault(_family(self.prefix, item.index), []).append(item)
        moved: list[BulkItem] = []
        stuck: list[BulkItem] = []
        stored = 0
        for family, items in by_family.items():
            found = self._stored_ids(family, [item.doc_id for item in items])
            target = event_index(self.prefix, today, family)
            for item in items:
                if item.doc_id in found:
                    stored += 1
                elif item.index == target:
                    stuck.append(item)
                else:
                    moved.append(BulkItem(item.doc_id, target, item.source))
        return moved, stored, stuck

    def _stored_ids(self, family: str, ids: list[str]) -> set[str]:
        resp = self.es.search(index=f"{self.prefix}-{family}-*", query={"ids": {"values": ids}},
                              size=len(ids), source=False, ignore_unavailable=True, allow_no_indices=True)
        return {hit["_id"] for hit in resp["hits"]["hits"]}
