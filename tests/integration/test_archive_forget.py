"""Evidence and erasure in the cold tier, against the real Kafka, Elasticsearch, S3 and workers.

One user's events go through the stream into Elasticsearch and the archive. After ``agent-audit
forget``: the archive's objects read directly (pyarrow, every column) and through ``archive
query`` hold nothing of the user's content or id; the receipt lists the archive; the user's
archived session still verifies (erased under the receipt) and another user's verifies intact.
Rewriting an archived object (a row's content, a row dropped) makes verify name the session.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.cli.commands import main
from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.archive import queries
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.layout import EVENTS, live_keys
from agent_audit.sinks.archive.parquet import read_table, table_bytes
from agent_audit.sinks.archive.reader import open_archive
from agent_audit.sinks.archive.store import ObjectStore, build_store
from agent_audit.sinks.archive.unsealing import build_row_opener
from agent_audit.sinks.archive.verification import verify_archived_session
from agent_audit.sinks.compliance.identifiers import redactor_for
from agent_audit.sinks.indices import events_alias
from agent_audit.stack.workers import Workers, running_workers
from tests.factories import BASE_TIME, event
from tests.integration.waiting import signed, wait_for_count, wait_for_verdicts

JANE = "jane@example.com"
SECRET = "the moon cactus plan"
KINDS = ("input", "reasoning", "tool_call", "output", "input", "output")


def _session(user: str, session: str, secret: str) -> list[dict[str, Any]]:
    out = []
    for i, kind in enumerate(KINDS):
        at = BASE_TIME + timedelta(minutes=i)
        payload = {"type": "text", "content": f"{secret} #{i}"} if kind == "input" else None
        out.append(event(kind, i, session=session, user=user, at=at, payload=payload))
    return out


def _publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for ev in events:
        partition = partition_for(ev["session_id"], settings.raw_partitions)
        producer.produce(settings.topics.raw, value=join_envelope([orjson.dumps(ev)]), partition=partition)
    assert producer.flush(30) == 0


def _wait_archived(store: ObjectStore, expected: int, workers: Workers) -> None:
    deadline, n = time.monotonic() + 120, 0
    while time.monotonic() < deadline:
        workers.check_alive()
        row = open_archive(store).execute("SELECT count(*) FROM events").fetchone()
        n = int(row[0]) if row else 0
        if n >= expected:
            return
        time.sleep(1.0)
    raise AssertionError(f"{n} of {expected} events archived")


def _every_cell(store: ObjectStore) -> str:
    """Every value of every column of every archived object, read with pyarrow (no reader of ours)."""
    cells = []
    for key in store.list(EVENTS):
        table = pq.read_table(f"{store.root}/{key}", filesystem=store.filesystem)
        cells += [str(v) for column in table.columns for v in column.to_pylist()]
    return "\n".join(cells)


Rows = list[dict[str, Any]]


def _rewrite(store: ObjectStore, session: str, change: Callable[[Rows], Rows]) -> None:
    """Rewrite every live object holding ``session``: its rows of the session through ``change``."""
    for k in live_keys(store.list(EVENTS))[0]:
        table = read_table(store.get(k.key) or b"")
        rows = table.to_pylist()
        mine = [r for r in rows if r["session_id"] == session]
        if mine:
            others = [r for r in rows if r["session_id"] != session]
            store.put(k.key, table_bytes(pa.Table.from_pylist(others + change(mine), schema=table.schema)))


def _flip_ciphertext_of(seq: int) -> Callable[[Rows], Rows]:
    def change(rows: Rows) -> Rows:
        for r in rows:
            if r["seq"] == seq:
                record = orjson.loads(r["event"])
                ct = bytearray(base64.b64decode(record["sealed"]["ct"]))
                ct[0] ^= 1
                record["sealed"]["ct"] = base64.b64encode(bytes(ct)).decode()
                r["event"] = orjson.dumps(record).decode()
        return rows
    return change


@pytest.mark.timeout(480)
def test_forget_reaches_the_archive_and_archived_sessions_still_verify(
        settings: Settings, archive_env: dict[str, str], es: Elasticsearch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing of the forgotten user is readable in the archive, the receipt lists it, and both
    users' archived sessions verify with the public key (hers erased under the receipt)."""
    s = dataclasses.replace(signed(settings), key_cache_s=1)
    env = {**s.to_env(), **archive_env, "AUDIT_ARCHIVE_LINGER_S": "0.5"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    store = build_store(ArchiveSettings.from_env(env))
    jane, bob = _session(JANE, "s-jane", SECRET), _session("bob-1", "s-bob", "bob's own words")
    with running_workers(env, tmp_path, names=("stream", "sink", "archive")) as workers:
        _publish(s, jane + bob)
        assert wait_for_count(es, events_alias(s.index_prefix), 12, workers) >= 12
        _wait_archived(store, 12, workers)
        verdicts = wait_for_verdicts(es, s, ["s-jane", "s-bob"], workers)
        assert all(v.startswith("intact") for v in verdicts.values()), verdicts
        before = verify_archived_session(store, es, s, "s-jane")
        assert str(before).startswith("intact (6 events"), str(before)
        assert SECRET in orjson.dumps(queries.session_timeline(open_archive(store), "s-jane",
                                                               build_row_opener(s))).decode()
        assert main(["forget", JANE, "--actor", "dpo@corp"]) == 0
        receipt = orjson.loads(capsys.readouterr().out)
        # Forget published the erased ids for the stream to sign: her session is intact once signed.
        erased = wait_for_verdicts(es, s, ["s-jane"], workers)
        assert erased["s-jane"].startswith("intact"), erased
        _wait_archived(store, 12 + 2, workers)  # the signing session: one list and its end event

    # The receipt lists the archive: her rows shredded with the key, the objects' expiry dated.
    archive = next(st for st in receipt["stores"] if st["kind"] == "archive")
    assert archive["status"] == "shredded" and archive["documents"] == len(jane), archive
    assert archive["objects"] >= 1 and archive["expires"] > BASE_TIME.date().isoformat()
    assert receipt["status"] in ("complete", "pending")

    # Read directly, every column of every object: neither her content nor her id, in any form.
    token = redactor_for(s).redact_text(JANE)[0]
    cells = _every_cell(store)
    assert "bob's own words" not in cells  # the other user's content is sealed too
    for value in (SECRET, JANE, token):
        assert value not in cells, f"{value!r} readable in the archive"

    # Through the named queries and SQL: tombstones under the receipt, no content.
    assert main(["archive", "query", "--named", "timeline", "--session", "s-jane"]) == 0
    timeline = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["erased"]["receipt"] for e in timeline] == [receipt["receipt_id"]] * len(jane)
    assert main(["archive", "query", "--named", "user", "--user", JANE]) == 0
    assert main(["archive", "query", "SELECT * FROM events"]) == 0
    out = capsys.readouterr().out
    assert out and SECRET not in out and JANE not in out
    bob_now = queries.session_timeline(open_archive(store), "s-bob", build_row_opener(s))
    assert "bob's own words #0" in orjson.dumps(bob_now).decode()

    # Both archived sessions verify: hers with every event erased under the receipt.
    hers = verify_archived_session(store, es, s, "s-jane")
    assert hers.status == "intact" and f"erased under receipt {receipt['receipt_id']}" in str(hers), str(hers)
    # The signed erasure leaves the hot tier with its day; the archive verifies from its own copy.
    es.indices.refresh(index=events_alias(s.index_prefix))
    signing = es.search(index=events_alias(s.index_prefix), size=100,
                        query={"prefix": {"session_id": f"erasure-{receipt['receipt_id']}-"}})["hits"]["hits"]
    assert len(signing) == 2
    for hit in signing:
        es.delete(index=hit["_index"], id=hit["_id"], refresh=True)
    assert verify_archived_session(store, es, s, "s-jane").status == "intact"
    assert main(["archive", "verify", "--session", "s-bob"]) == 0
    assert orjson.loads(capsys.readouterr().out)["status"] == "intact"
    assert main(["archive", "verify", "--since", "2000-01-01"]) == 0  # the sweep of every signed session
    swept = orjson.loads(capsys.readouterr().out)["sessions"]
    assert swept["s-jane"]["status"] == swept["s-bob"]["status"] == "intact", swept

    # Tamper probes on the archived objects of Bob's session: a row's content, then a row dropped.
    originals = {k: store.get(k) or b"" for k in store.list(EVENTS)}
    _rewrite(store, "s-bob", _flip_ciphertext_of(2))
    changed = verify_archived_session(store, es, s, "s-bob")
    assert (changed.status, changed.seq) == ("modified", 2), str(changed)
    assert "seq 2 unreadable: does not decrypt" in str(changed)
    for k, data in originals.items():
        store.put(k, data)
    _rewrite(store, "s-bob", lambda rows: [r for r in rows if r["seq"] != len(bob) - 1])
    cut = verify_archived_session(store, es, s, "s-bob")
    assert cut.status == "truncated", str(cut)
    assert main(["archive", "verify", "--session", "s-bob"]) == 3  # the exit code of a truncation
    capsys.readouterr()
    assert main(["archive", "verify", "--since", "2000-01-01"]) == 3
    assert orjson.loads(capsys.readouterr().out)["sessions"]["s-bob"]["status"] == "truncated"
