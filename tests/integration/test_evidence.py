"""Tamper evidence end to end: sessions through the real stream and sink, then each insider attack on
Elasticsearch, each judged by ``agent-audit verify`` with the public key alone."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from agent_audit.core.evidence.canonical import canonical, content_digest, link_hash
from agent_audit.core.evidence.signing import SigningKey
from agent_audit.core.settings import Settings
from agent_audit.core.wire import join_envelope, partition_for
from agent_audit.sinks.compliance.receipts import Receipt, store_receipt
from agent_audit.sinks.compliance.signed_erasures import erasure_events
from agent_audit.sinks.compliance.store import utc_now
from agent_audit.sinks.indices import checkpoints_alias, events_alias
from agent_audit.stack.workers import Workers, running_workers
from tests.factories import event
from tests.integration.waiting import read_topic, wait_for_count

ROOT = Path(__file__).parents[2]
KEY = SigningKey.generate()
PUBLIC = base64.b64encode(KEY.public.public_bytes_raw()).decode()
SESSIONS = ("intact", "open", "edit", "rechain", "tail", "whole", "insert", "middle", "conflict", "erased",
            "forged-erasure", "unlisted-erasure")
N = 6
RECEIPT = uuid.uuid4().hex  # a genuine erasure: stored, and its erased id signed through the pipeline


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **settings.to_env(), "AUDIT_SIGNING_KEY": KEY.private_pem(),
            "AUDIT_PUBLIC_KEYS": PUBLIC, "AUDIT_CHECKPOINT_INTERVAL_S": "1"}


def _cli(settings: Settings, *args: str, public_only: bool = True) -> subprocess.CompletedProcess[str]:
    env = _env(settings)
    if public_only:  # the auditor holds the public key only
        env.pop("AUDIT_SIGNING_KEY")
    return subprocess.run([sys.executable, "-m", "agent_audit.cli.main", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def _publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    by_partition: dict[int, list[bytes]] = {}
    for ev in events:
        by_partition.setdefault(partition_for(ev["session_id"], settings.raw_partitions), []).append(
            orjson.dumps(ev))
    for p, lines in by_partition.items():
        producer.produce(settings.topics.raw, value=join_envelope(lines), partition=p)
    assert producer.flush(30) == 0


def _wait_checkpointed(es: Elasticsearch, settings: Settings, sessions: set[str], workers: Workers,
                       timeout: float = 90.0) -> None:
    alias = checkpoints_alias(settings.index_prefix)
    deadline = time.monotonic() + timeout
    named: set[str] = set()
    while time.monotonic() < deadline:
        workers.check_alive()
        if es.indices.exists_alias(name=alias):
            es.indices.refresh(index=alias)
            hits = es.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]
            named = {s["session_id"] for h in hits for s in h["_source"]["sessions"]}
            if sessions <= named:
                return
        time.sleep(0.5)
    raise AssertionError(f"never checkpointed: {sorted(sessions - named)}")


def _docs(es: Elasticsearch, settings: Settings, session: str) -> list[dict[str, Any]]:
    alias = events_alias(settings.index_prefix)
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=100, query={"term": {"session_id": session}}, sort=[{"seq": "asc"}])
    return hits["hits"]["hits"]


@pytest.fixture
def pipeline(settings: Settings, es: Elasticsearch, tmp_path: Path) -> Iterator[Workers]:
    """Every session through the real workers, stored and named by a signed checkpoint."""
    end = {**event("input", N, session="intact"), "kind": "end", "payload": {"final_seq": N}}
    events = [event("input", i, session=s) for s in SESSIONS for i in range(N)]
    original = next(e for e in events if e["session_id"] == "conflict" and e["seq"] == 2)
    # Anyone who can publish: a second, different event under an id already taken.
    copy = {**original, "payload": {"type": "text", "content": "a different event, same id"}}
    store_receipt(es, settings.index_prefix, Receipt("erasure", "dpo", "2026-12-03T00:00:00Z",
                                                     "2026-12-03T00:00:01Z", ["events"], 1, [], [],
                                                     receipt_id=RECEIPT))
    erased = next(e for e in events if e["session_id"] == "erased" and e["seq"] == 1)
    # What forget publishes, dated like the rest so every event stays in one daily index.
    signing = [{**e, "timestamp": erased["timestamp"]}
               for e in erasure_events(RECEIPT, "dpo", [erased["event_id"]])]
    _publish(settings, [*events, end, copy, *signing])
    with running_workers(_env(settings), tmp_path) as workers:
        total = len(SESSIONS) * N + 1 + len(signing)
        assert wait_for_count(es, events_alias(settings.index_prefix), total, workers) == total
        _wait_checkpointed(es, settings, {*SESSIONS, signing[0]["session_id"]}, workers)
        yield workers


def _attack(es: Elasticsearch, settings: Settings) -> None:
    """The insider's edits, one session each, with write access to Elasticsearch and our code."""
    edit = _docs(es, settings, "edit")[2]
    es.index(index=edit["_index"], id=edit["_id"], refresh=True,
             document={**edit["_source"], "payload": {"type": "text", "content": "rewritten"}})
    prev = None
    for hit in _docs(es, settings, "rechain"):  # rewrite seq 3 and recompute every later link
        doc, i = hit["_source"], hit["_source"]["integrity"]
        if doc["seq"] == 3:
            doc["payload"] = {"type": "text", "content": "rewritten"}
        if doc["seq"] >= 3:
            i["digest"] = content_digest(base64.b64decode(i["salt"]), canonical(doc))
            i["prev_hash"] = prev
            i["hash"] = link_hash(prev, doc["session_id"], doc["seq"], doc["event_id"], i["digest"])
            es.index(index=hit["_index"], id=hit["_id"], document=doc)
        prev = i["hash"]
    for hit in _docs(es, settings, "tail")[4:]:
        es.delete(index=hit["_index"], id=hit["_id"])
    for hit in _docs(es, settings, "whole"):
        es.delete(index=hit["_index"], id=hit["_id"])
    middle = _docs(es, settings, "middle")[2]
    es.delete(index=middle["_index"], id=middle["_id"])
    last = _docs(es, settings, "insert")[-1]
    forged = {**event("input", N, session="insert"), "integrity": dict(last["_source"]["integrity"])}
    i = forged["integrity"]
    i["prev_hash"] = last["_source"]["integrity"]["hash"]
    i["digest"] = content_digest(base64.b64decode(i["salt"]), canonical(forged))
    i["hash"] = link_hash(i["prev_hash"], "insert", N, forged["event_id"], i["digest"])
    i["leaf"] = 99
    es.index(index=last["_index"], id=forged["event_id"], document=forged, refresh=True)
    for session, receipt_id in (("erased", RECEIPT), ("forged-erasure", "no-such-receipt"),
                                ("unlisted-erasure", RECEIPT)):  # a genuine receipt that never listed it
        _tombstone(es, _docs(es, settings, session)[1], receipt_id)


def _tombstone(es: Elasticsearch, hit: dict[str, Any], receipt: str) -> None:
    """What erasure writes (EVIDENCE_ERASURE.md): envelope fields, integrity without salt, a receipt."""
    doc = hit["_source"]
    tomb = {k: doc[k] for k in ("schema_version", "event_id", "session_id", "seq", "kind", "timestamp")}
    tomb["integrity"] = {k: v for k, v in doc["integrity"].items() if k != "salt"}
    tomb["erased"] = {"receipt": receipt, "at": "2026-12-03T00:00:01Z"}
    # The erased field's mapping is the erasure work's (issue 15); added here so this test stands alone.
    es.indices.put_mapping(index=hit["_index"], properties={"erased": {"properties": {
        "receipt": {"type": "keyword"}, "at": {"type": "date"}}}})
    es.index(index=hit["_index"], id=hit["_id"], document=tomb, refresh=True)


@pytest.mark.timeout(300)
def test_each_attack_on_stored_events_gets_its_verdict_and_untouched_sessions_verify(
        settings: Settings, es: Elasticsearch, pipeline: Workers) -> None:
    """Closed and untouched: intact, complete (0); unclosed: intact, open (0); edited: modified at
    its seq (1); re-chained without the key: modified (1); tail deleted: truncated (3); whole
    session or a middle event deleted: deleted (4); forged event: inserted (5); unknown (7); a
    tombstone under a stored receipt whose signed erasure lists it: intact (0), under an unknown
    receipt or a genuine one that does not list it: modified (1); the sweep
    reports the worst code (5) and a summary."""
    _attack(es, settings)
    es.indices.refresh(index=events_alias(settings.index_prefix))
    expected = {
        "intact": (0, f"intact ({N + 1} events, complete)"),
        "open": (0, f"intact ({N} events, open)"),
        "edit": (1, "modified at seq 2"),
        "rechain": (1, "modified at seq"),
        "tail": (3, "truncated after seq 3"),
        "whole": (4, "deleted"),
        "middle": (4, "deleted at seq 2"),
        "insert": (5, f"inserted at seq {N}"),
        "nobody": (7, "unknown"),
        "erased": (0, "seq 1 erased under receipt"),
        "forged-erasure": (1, "modified at seq 1; erased without a known receipt"),
        "unlisted-erasure": (1, "modified at seq 1; erased under receipt " + RECEIPT + ", but no signed"),
    }
    for session, (code, text) in expected.items():
        got = _cli(settings, "verify", session, "--actor", "auditor")
        assert (got.returncode, text in got.stdout) == (code, True), (session, got.stdout, got.stderr)
    sweep = _cli(settings, "verify", "--since", "2000-01-01", "--actor", "auditor")
    assert sweep.returncode == 5 and "checkpoints:" in sweep.stdout and "(chain intact)" in sweep.stdout
    assert "intact=" in sweep.stdout and "  edit: modified at seq 2" in sweep.stdout, sweep.stdout
    _access_log_edit_is_found(settings, es, pipeline)


def _access_log_edit_is_found(settings: Settings, es: Elasticsearch, workers: Workers) -> None:
    """The access log, signed through the pipeline, matches its index; an edited entry does not."""
    assert _cli(settings, "query", "timeline", "intact", "--actor", "auditor").returncode == 0
    deadline, got = time.monotonic() + 90, None
    while time.monotonic() < deadline:  # until the entries are stored and checkpointed
        workers.check_alive()
        got = _cli(settings, "verify", "--access-log", "--actor", "checker")
        if got.returncode == 0 and "every entry matches" in got.stdout:
            break
        time.sleep(1.0)
    assert got is not None and got.returncode == 0, got.stdout + got.stderr
    index = f"{settings.index_prefix}-access-log"
    es.indices.refresh(index=index)
    hit = es.search(index=index, query={"term": {"query": "timeline"}})["hits"]["hits"][-1]
    es.index(index=index, id=hit["_id"], document={**hit["_source"], "results": 0}, refresh=True)
    edited = _cli(settings, "verify", "--access-log", "--actor", "checker")
    # The previous run's own entry may still be on its way through the pipeline: not signed yet,
    # which is no failure; the edit is.
    assert edited.returncode == 1 and "differs from its signed copy" in edited.stdout, edited.stdout
    assert "has no signed copy" not in edited.stdout, edited.stdout
    planted = {**hit["_source"], "event_id": str(uuid.uuid4()), "query": "planted"}
    es.index(index=index, id=planted["event_id"], refresh=True,
             document={**planted, "timestamp": "2026-01-01T00:00:00Z"})
    fresh = {**planted, "event_id": str(uuid.uuid4()), "timestamp": utc_now()}  # within the grace
    es.index(index=index, id=fresh["event_id"], document=fresh, refresh=True)
    inserted = _cli(settings, "verify", "--access-log", "--actor", "checker")
    assert inserted.returncode == 5, inserted.stdout
    assert f"inserted: entry {planted['event_id']} has no signed copy" in inserted.stdout
    assert f"not signed yet: entry {fresh['event_id']}" in inserted.stdout


@pytest.mark.timeout(300)
def test_a_second_event_under_a_taken_id_is_dead_lettered_and_raises_an_alert(
        settings: Settings, es: Elasticsearch, pipeline: Workers) -> None:
    """The copy with another content is no duplicate: DLQ with reason conflicting_event_id, and an
    alert names the id; the first copy stays stored."""
    dead = read_topic(settings, settings.topics.dlq, expected=1, timeout=60)
    reasons = [dict(m.headers())["reason"] for m in dead]
    assert reasons == [b"conflicting_event_id"]
    conflicted = orjson.loads(dead[0].value())  # sealed: the content is ciphertext, the link is clear
    assert "payload" not in conflicted and "sealed" in conflicted
    stored = es.get(index=events_alias(settings.index_prefix), id=conflicted["event_id"])
    assert stored["_source"]["integrity"]["hash"] != conflicted["integrity"]["hash"]
    alerts = f"{settings.index_prefix}-alerts"
    deadline = time.monotonic() + 60
    hits: list[Any] = []
    while time.monotonic() < deadline and not hits:
        pipeline.check_alive()
        if es.indices.exists_alias(name=alerts):
            es.indices.refresh(index=alerts)
            hits = es.search(index=alerts, query={"term": {"rule": "conflicting_event_id"}})["hits"]["hits"]
        time.sleep(0.5)
    assert [h["_source"]["subject"] for h in hits] == [conflicted["event_id"]]


def _offline(proof: Path, public: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_audit.core.evidence.offline", str(proof),
                           "--public-key", str(public)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False, env={"PATH": os.environ.get("PATH", "")})


@pytest.mark.timeout(300)
def test_a_proof_verifies_offline_and_the_checkpoints_export_outside_elasticsearch(
        settings: Settings, es: Elasticsearch, pipeline: Workers, tmp_path: Path) -> None:
    """``prove`` writes a proof the standalone verifier accepts with the public key alone (and
    rejects once edited); ``checkpoints export`` copies every signed checkpoint from the topic."""
    from agent_audit.core.evidence.checkpoint import verify_signature  # noqa: PLC0415
    from agent_audit.core.evidence.signing import Keyring, public_pem  # noqa: PLC0415

    target = _docs(es, settings, "intact")[3]["_source"]
    proof = tmp_path / "proof.json"
    made = _cli(settings, "prove", target["event_id"], "-o", str(proof), "--actor", "auditor")
    assert made.returncode == 0 and "verifies" in made.stdout, made.stdout + made.stderr
    public = tmp_path / "stream.pub.pem"
    public.write_text(public_pem(KEY.public))
    ok = _offline(proof, public)
    assert ok.returncode == 0 and ok.stdout.startswith("VALID"), ok.stdout + ok.stderr
    edited = orjson.loads(proof.read_bytes())
    edited["event"]["payload"]["content"] = "rewritten"
    proof.write_bytes(orjson.dumps(edited))
    assert _offline(proof, public).returncode == 1

    export = tmp_path / "checkpoints.ndjson"
    assert _cli(settings, "checkpoints", "export", "-o", str(export)).returncode == 0
    records = [orjson.loads(line) for line in export.read_bytes().splitlines()]
    assert records and all(verify_signature(r, Keyring([KEY.public])) for r in records)
    assert set(SESSIONS) <= {s["session_id"] for r in records for s in r["sessions"]}


@pytest.mark.timeout(300)
def test_checkpoints_deleted_from_the_index_with_their_events_are_caught_by_a_copy_outside_it(
        settings: Settings, es: Elasticsearch, pipeline: Workers, tmp_path: Path) -> None:
    """The insider deletes a session and its tail events together with every checkpoint in the index
    that names them: from the index alone one session is unknown (7) and the other unverifiable; with
    the exported copy, or the stream's topic, they are deleted (4) and truncated (3)."""
    export = tmp_path / "checkpoints.ndjson"
    assert _cli(settings, "checkpoints", "export", "-o", str(export)).returncode == 0
    for hit in _docs(es, settings, "whole") + _docs(es, settings, "tail")[4:]:
        es.delete(index=hit["_index"], id=hit["_id"])
    alias = checkpoints_alias(settings.index_prefix)
    naming = es.search(index=alias, size=1000, query={"terms": {"sessions.session_id": ["whole", "tail"]}})
    assert naming["hits"]["hits"]
    for hit in naming["hits"]["hits"]:  # no _delete_by_query: the local node has no reindex module
        es.delete(index=hit["_index"], id=hit["_id"], refresh=True)
    es.indices.refresh(index=events_alias(settings.index_prefix))
    assert _cli(settings, "verify", "whole", "--actor", "auditor").returncode == 7
    assert _cli(settings, "verify", "tail", "--actor", "auditor").returncode not in (0, 3)
    for source in (str(export), "kafka"):
        whole = _cli(settings, "verify", "whole", "--checkpoints", source, "--actor", "auditor")
        assert (whole.returncode, "deleted" in whole.stdout) == (4, True), (source, whole.stdout)
        tail = _cli(settings, "verify", "tail", "--checkpoints", source, "--actor", "auditor")
        assert (tail.returncode, "truncated after seq 3" in tail.stdout) == (3, True), (source, tail.stdout)
        intact = _cli(settings, "verify", "intact", "--checkpoints", source, "--actor", "auditor")
        assert intact.returncode == 0, (source, intact.stdout, intact.stderr)
    broken = tmp_path / "not-an-export.ndjson"
    broken.write_text("{}\n")
    failed = _cli(settings, "verify", "intact", "--checkpoints", str(broken), "--actor", "auditor")
    assert failed.returncode == 2 and "not a checkpoint record" in failed.stderr


@pytest.mark.timeout(120)
def test_an_interrupted_read_leaves_its_access_log_entry(
        settings: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while rows are printed: the entry written before the first row stays, and says so."""
    from agent_audit.cli.commands.context import Context  # noqa: PLC0415
    from agent_audit.cli.commands.query import _log  # noqa: PLC0415
    from agent_audit.sinks.access_log import AccessLog  # noqa: PLC0415
    from agent_audit.sinks.compliance.identifiers import redactor_for  # noqa: PLC0415

    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)

    def rows() -> Iterator[dict[str, int]]:
        entries = AccessLog(es, settings.index_prefix, redactor_for(settings)).entries()
        assert [e["status"] for e in entries] == ["started"]  # logged before any row
        yield {"row": 1}
        raise KeyboardInterrupt

    ctx = Context(type("Args", (), {"actor": "auditor", "command": "query"})())
    with pytest.raises(KeyboardInterrupt):
        _log(ctx, "user", {"user_id": "u-1"}, rows())
    entries = AccessLog(es, settings.index_prefix, redactor_for(settings)).entries()
    assert [(e["query"], e["status"], e.get("error")) for e in entries] == [
        ("user", "error", "KeyboardInterrupt")]
    assert capsys.readouterr().out.count("row") == 1
