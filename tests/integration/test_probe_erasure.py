"""Erasure probe with a user id that is not an email (``bob-1``, which the redactor keeps as is).

The rule: after every command that takes the user or free text has run on them (query user,
search for the id alone and inside a phrase, timeline, gaps, hold add/release with the id in its
reason, verify, prove) and ``forget bob-1`` has run (twice),
no index (``{prefix}-*``) and no topic read from the beginning holds ``bob-1`` or the user's
content; the access log still matches its signed copies; a late event of theirs lands only as a
tombstone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from agent_audit.cli.commands import main
from agent_audit.core.settings import Settings
from agent_audit.sinks.access_log import ACCESS_SESSION_PREFIX, access_log_index
from agent_audit.sinks.indices import events_alias
from agent_audit.stack.workers import Workers, running_workers
from tests.factories import event
from tests.integration.test_forget_everywhere import _all_topic_bytes, _publish, _wait_for_document
from tests.integration.waiting import signed, wait_for_count, wait_for_verdicts

BOB = "bob-1"
CONTENT = "tulip ledger 4471"


def _bob(seq: int) -> dict[str, Any]:
    return event("input", seq, session="s-bob", user=BOB, payload={"type": "text", "content": CONTENT})


@pytest.fixture
def keyed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Signed checkpoints and a one-second key cache, exported for the in-process CLI."""
    s = Settings.from_env({**signed(settings).to_env(), "AUDIT_KEY_CACHE_S": "1",
                           "AUDIT_PUBLIC_KEYS": ""})
    for name, value in s.to_env().items():
        monkeypatch.setenv(name, value)
    from agent_audit.core.evidence.keys import keyring_from_settings  # noqa: PLC0415

    assert keyring_from_settings(s).keys, "verify needs the stream's public key"
    return s


def _wait_access_signed(es: Elasticsearch, s: Settings, workers: Workers) -> int:
    """Until every access-log entry's signed copy is indexed; returns how many entries."""
    index, alias = access_log_index(s.index_prefix), events_alias(s.index_prefix)
    deadline, entries, copies = time.monotonic() + 90, -1, -2
    while time.monotonic() < deadline:
        workers.check_alive()
        es.indices.refresh(index=f"{s.index_prefix}-*")
        entries = es.count(index=index)["count"]
        copies = es.count(index=alias, query={"prefix": {"session_id": ACCESS_SESSION_PREFIX}})["count"]
        if entries == copies:
            return entries
        time.sleep(0.5)
    raise AssertionError(f"access log: {entries} entries, {copies} signed copies")


def _run_every_command(s: Settings, es: Elasticsearch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                       workers: Workers) -> None:
    """Every command that takes the user, their session or free text, run on them."""
    verdicts = wait_for_verdicts(es, s, ["s-bob"], workers)
    assert verdicts["s-bob"].startswith("intact"), verdicts
    capsys.readouterr()
    assert main(["query", "user", BOB, "--json", "--actor", "prober"]) == 0
    assert CONTENT in capsys.readouterr().out
    _wait_access_signed(es, s, workers)  # today's index exists before the next reads (503 while created)
    assert main(["query", "search", BOB, "--json", "--actor", "prober"]) == 0
    assert main(["query", "search", f"refund for {BOB} please", "--json", "--actor", "prober"]) == 0
    assert main(["query", "timeline", "s-bob", "--json", "--actor", "prober"]) == 0
    assert main(["query", "gaps", "s-bob", "--json", "--actor", "prober"]) == 0
    capsys.readouterr()
    assert main(["hold", "add", "--user", BOB, "--reason", f"case 7 about {BOB}", "--actor", "legal"]) == 0
    hold_id = orjson.loads(capsys.readouterr().out)["hold_id"]
    assert main(["hold", "release", hold_id, "--actor", "legal"]) == 0
    _wait_access_signed(es, s, workers)  # the checkpoint that names them must be all stored
    assert main(["verify", "s-bob", "--actor", "prober"]) == 0
    stored = es.search(index=events_alias(s.index_prefix), size=1, query={"term": {"session_id": "s-bob"}})
    event_id = stored["hits"]["hits"][0]["_id"]
    assert main(["prove", event_id, "-o", str(tmp_path / "proof.json"), "--actor", "prober"]) == 0
    capsys.readouterr()


def _every_document(es: Elasticsearch, prefix: str) -> dict[str, bytes]:
    es.indices.refresh(index=f"{prefix}-*")
    states = es.cat.indices(index=f"{prefix}-*", format="json", expand_wildcards="all")
    assert all(row["status"] == "open" for row in states), states
    return {name: orjson.dumps([h["_source"] for h in es.search(
        index=name, size=1000, query={"match_all": {}})["hits"]["hits"]])
        for name in es.indices.get(index=f"{prefix}-*")}


@pytest.mark.timeout(420)
def test_a_plain_user_id_is_gone_from_every_index_and_topic_after_forget(
        keyed: Settings, es: Elasticsearch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Forget of a non-email id reaches every copy the commands made of it, twice over."""
    s, alias = keyed, events_alias(keyed.index_prefix)
    bob = [_bob(i) for i in range(4)]
    others = [event("input", i, session="s-ann", user="ann-2") for i in range(3)]
    with running_workers(s.to_env(), tmp_path) as workers:
        _publish(s, [(e["session_id"], orjson.dumps(e)) for e in [*bob, *others]])
        assert wait_for_count(es, alias, len(bob) + len(others), workers) >= len(bob) + len(others)
        _run_every_command(s, es, tmp_path, capsys, workers)
        _wait_access_signed(es, s, workers)
        time.sleep(3)  # the stream commits its offsets every second: forget truncates what it processed
        assert main(["forget", BOB, "--actor", "dpo", "--quiet"]) == 0
        receipt = orjson.loads(capsys.readouterr().out)
        assert main(["forget", BOB, "--actor", "dpo", "--quiet"]) == 0  # again: safe, nothing more to do
        again = orjson.loads(capsys.readouterr().out)
        late = _bob(4)
        _publish(s, [("s-bob", orjson.dumps(late))])
        tombstone = _wait_for_document(es, f"{s.index_prefix}-events-*", late["event_id"], workers)
        everything = _all_topic_bytes(s)
        assert main(["verify", "--access-log", "--actor", "checker"]) == 0, capsys.readouterr().out
        capsys.readouterr()

    assert receipt["status"] in ("complete", "pending") and BOB not in orjson.dumps(receipt).decode()
    assert sum(again["removed"].values()) == 0 if isinstance(again["removed"], dict) else True
    assert "payload" not in tombstone and "user_id" not in tombstone
    for topic, data in everything:
        if topic == s.topics.raw and late["event_id"].encode() in data:
            continue  # arrived after forget: the raw topic's short retention, on the receipt, covers it
        for value in (BOB, CONTENT):
            assert value.encode() not in data, f"{value!r} readable on {topic}"
    for name, data in _every_document(es, s.index_prefix).items():
        for value in (BOB, CONTENT):
            assert value.encode() not in data, f"{value!r} readable in {name}"
    assert es.count(index=alias, query={"term": {"user_id": "ann-2"}})["count"] == len(others)
