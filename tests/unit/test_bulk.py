"""The pure halves of the Elasticsearch sink: bulk bodies from Kafka records, per-item classification."""

from __future__ import annotations

import orjson

from agent_audit.sinks.bulk import BulkItem, build_body, chunk_by_bytes, classify, item_from_record


def _index(day: str, family: str) -> str:
    return f"agent-{family}-{day}"


def test_ids_and_index_come_from_headers_and_the_source_is_reused_as_is() -> None:
    """With event_id and day headers the record's bytes become the document untouched."""
    value = b'{"event_id":"e-1","timestamp":"2026-11-25T09:00:00Z"}'
    item = item_from_record(value, [("event_id", b"e-1"), ("day", b"2026.11.25")], _index)
    assert item == BulkItem("e-1", "agent-events-2026.11.25", value)


def test_without_headers_the_document_is_decoded_for_id_and_day() -> None:
    """A record from a producer that set no headers still finds its id and daily index."""
    value = b'{"event_id":"e-2","timestamp":"2026-01-02T23:59:59Z"}'
    assert item_from_record(value, None, _index) == BulkItem("e-2", "agent-events-2026.01.02", value)


def test_body_is_create_actions_with_the_event_id() -> None:
    """op_type=create and _id=event_id: a replayed record cannot make a second document."""
    body = build_body([BulkItem("e-1", "i", b'{"a":1}')])
    lines = body.split(b"\n")
    assert orjson.loads(lines[0]) == {"create": {"_index": "i", "_id": "e-1"}}
    assert lines[1] == b'{"a":1}'
    assert body.endswith(b"\n")


def test_classification_of_each_item() -> None:
    """201 stored, 409 duplicate (success), 429/5xx retried, other 4xx dead-lettered with a reason."""
    items = [BulkItem(str(i), "i", b"{}") for i in range(5)]
    response = {"items": [
        {"create": {"status": 201}},
        {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
        {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        {"create": {"status": 503}},
        {"create": {"status": 400, "error": {"type": "document_parsing_exception"}}},
    ]}
    out = classify(items, response)
    assert (out.stored, out.duplicates) == (1, 1)
    assert [i.doc_id for i in out.retry] == ["2", "3"]
    assert out.failed == [(items[4], "es:400:document_parsing_exception")]


def test_chunks_respect_the_byte_and_item_bounds_and_keep_order() -> None:
    """Bulk requests stay under the byte bound (a lone oversized item goes alone), order kept."""
    items = [BulkItem(str(i), "i", b"x" * size) for i, size in enumerate([300, 300, 900, 2000, 10, 10])]
    chunks = chunk_by_bytes(items, max_bytes=1000)
    assert [[i.doc_id for i in c] for c in chunks] == [["0", "1"], ["2"], ["3"], ["4", "5"]]
    assert [i for c in chunk_by_bytes(items, 10**9, max_items=4) for i in c] == items
    assert [len(c) for c in chunk_by_bytes(items, 10**9, max_items=4)] == [4, 2]


def test_metric_records_are_versioned_by_revision_in_their_own_index() -> None:
    """A metric record replaces an older revision of itself (external_gte), never a newer one."""
    item = item_from_record(b"{}", [("metric_id", b"m-1"), ("revision", b"2"), ("day", b"2026.11.25")],
                            _index)
    assert item == BulkItem("m-1", "agent-metrics-2026.11.25", b"{}", version=2)
    action = orjson.loads(build_body([item]).split(b"\n")[0])
    assert action == {"index": {"_index": "agent-metrics-2026.11.25", "_id": "m-1", "version": 2,
                                "version_type": "external_gte"}}


def test_create_lines_escape_ids_and_indices_and_keep_each_items_index() -> None:
    """Any id, even with quotes, backslashes or non-ASCII, is written as valid JSON; order kept."""
    ids = ['plain', 'qu"ote', 'back\\slash', 'ünï', 'new\nline']
    items = [BulkItem(doc_id, f"i-{n % 2}", b"{}") for n, doc_id in enumerate(ids)]
    lines = build_body(items).split(b"\n")
    assert [orjson.loads(line) for line in lines[0:-1:2]] == [
        {"create": {"_index": f"i-{n % 2}", "_id": doc_id}} for n, doc_id in enumerate(ids)]
