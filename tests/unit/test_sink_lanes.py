"""Ordered lanes: all writes of one id go through one lane, in submission order, across batches."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from agent_audit.sinks.bulk import BulkItem
from agent_audit.sinks.lanes import BulkLanes, lane_of
from agent_audit.sinks.late import SEALED_REASON, split_sealed


@given(st.lists(st.tuples(st.sampled_from([f"id-{i}" for i in range(12)]), st.integers(0, 500)),
                max_size=60), st.integers(1, 4), st.integers(1, 5))
def test_copies_of_an_id_are_written_in_the_order_they_were_submitted(
        items: list[tuple[str, int]], lanes: int, batches: int) -> None:
    """Items submitted over several batches, written by several lane threads with small requests:
    for each id, the order of writes is the order of submission."""
    written: list[str] = []
    lock = threading.Lock()

    def write(chunk: Sequence[BulkItem]) -> int:
        with lock:
            written.extend(item.source.decode() for item in chunk)
        return len(chunk)

    pool = BulkLanes(lanes, max_bytes=300)
    tagged = [BulkItem(doc_id, "i", f"{doc_id}#{n}#{'x' * size}".encode())
              for n, (doc_id, size) in enumerate(items)]
    futures = []
    step = max(1, len(tagged) // batches)
    for start in range(0, len(tagged), step):
        futures += pool.submit(tagged[start:start + step], write)
    assert sum(f.result() for f in futures) == len(tagged)
    pool.shutdown()
    for doc_id in {doc_id for doc_id, _ in items}:
        submitted = [item.source.decode() for item in tagged if item.doc_id == doc_id]
        assert [w for w in written if w.startswith(f"{doc_id}#")] == submitted


def test_an_id_always_maps_to_the_same_lane() -> None:
    """CRC32, not the salted hash(): the same lane in every process and run."""
    import zlib  # noqa: PLC0415

    assert lane_of("0190e1b2-aaaa", 4) == zlib.crc32(b"0190e1b2-aaaa") % 4
    assert {lane_of(f"id-{i}", 3) for i in range(100)} == {0, 1, 2}


def test_only_refusals_for_a_sealed_index_are_taken_for_the_late_rule() -> None:
    """A sealed index's 403 on an unversioned record is late; other refusals and metric revisions stay."""
    late = BulkItem("a", "p-events-2026.11.25", b"{}")
    revision = BulkItem("m", "p-metrics-2026.11.25", b"{}", version=3)
    bad = BulkItem("b", "p-events-2026.11.25", b"{}")
    moved, kept = split_sealed([(late, SEALED_REASON), (revision, SEALED_REASON), (bad, "es:400:mapper")])
    assert moved == [late]
    assert kept == [(revision, SEALED_REASON), (bad, "es:400:mapper")]
