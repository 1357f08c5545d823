"""The archive keeps the user's content sealed: rows open at read time, a destroyed key reads as erased."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from agent_audit.core.datakeys import DataKeys, KeyRecord, MasterKey, MemoryKeyStore
from agent_audit.core.integrity import ChainHasher, SessionChains
from agent_audit.core.sealing import open_event, seal_event
from agent_audit.sinks.archive import queries
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.erasure import erase_in_archive
from agent_audit.sinks.archive.parquet import encode_batch
from agent_audit.sinks.archive.reader import open_archive
from agent_audit.sinks.archive.retention import apply_archive_retention
from agent_audit.sinks.archive.store import LocalStore, build_store
from agent_audit.sinks.archive.unsealing import UNREADABLE, RowOpener
from agent_audit.sinks.compliance.holds import Hold
from tests.factories import event

MASTER = MasterKey(b"0123456789abcdef0123456789abcdef")
SECRET = "my secret plan for the merger"


def _keys(store: MemoryKeyStore) -> DataKeys:
    return DataKeys(MASTER, store, cache_s=0)


def _session(user: str, session: str) -> list[dict[str, Any]]:
    chains = SessionChains(ChainHasher())
    kinds = ["input", "tool_call", "output", "error"]
    out = []
    for i, kind in enumerate(kinds):
        payload = {"type": "text", "content": f"{SECRET} {i}"} if kind == "input" else None
        out.append(chains.apply(event(kind, i, user=user, session=session, payload=payload)))
    return out


def _archive(tmp_path: Path, values: list[bytes], opened: list[bytes | None] | None) -> LocalStore:
    env = {"AUDIT_ARCHIVE_DIR": str(tmp_path), "AUDIT_MODE": "development"}
    store = build_store(ArchiveSettings.from_env(env))
    assert isinstance(store, LocalStore)
    for key, data in encode_batch(0, 0, len(values) - 1, values, opened).objects:
        store.put(key, data)
    return store


def _sealed_archive(tmp_path: Path, ks: MemoryKeyStore) -> tuple[LocalStore, list[dict[str, Any]]]:
    keys = _keys(ks)
    events = _session("jane", "s-a") + _session("omar", "s-b")
    values = [seal_event(e, keys) for e in events]
    opened = [open_event(v, keys).value for v in values]
    return _archive(tmp_path, values, opened), events


def _all_cells(store: LocalStore) -> str:
    text = []
    for path in Path(store.root).rglob("*.parquet"):
        table = pq.read_table(path)
        text += [str(v) for col in table.columns for v in col.to_pylist()]
    return "\n".join(text)


def _destroy(ks: MemoryKeyStore, user: str) -> None:
    subject = MASTER.subject(user)
    current = ks.get(subject)
    ks.put(KeyRecord(subject, current.generation if current else 0, None, "2026-12-02T00:00:00Z", "r-42"))


def test_archived_rows_hold_no_user_content_or_id_in_the_clear(tmp_path: Path) -> None:
    """Every cell of the Parquet objects read directly: no content, no user id; typed columns filled."""
    ks = MemoryKeyStore()
    store, _ = _sealed_archive(tmp_path, ks)
    cells = _all_cells(store)
    assert SECRET not in cells and "jane" not in cells and "omar" not in cells
    con = open_archive(store)
    rows = con.execute("SELECT kind, tool_name, status, duration_ms, model, tokens_used, user_id, subject "
                       "FROM events WHERE session_id = 's-a' ORDER BY seq").fetchall()
    assert rows[1][:4] == ("tool_call", "search_kb", "success", 42.0)
    assert rows[2][4:6] == ("m-1", 120)
    assert {r[6] for r in rows} == {None} and {r[7] for r in rows} == {MASTER.subject("jane")}


def test_rows_open_at_read_time_and_a_destroyed_key_reads_as_erased(tmp_path: Path) -> None:
    """Named queries give the events back whole; after the key is destroyed, the user's rows are
    tombstones marked erased under the receipt (no content, no error), the other user's intact."""
    ks = MemoryKeyStore()
    store, events = _sealed_archive(tmp_path, ks)
    con, opener = open_archive(store), RowOpener(_keys(ks))
    assert queries.session_timeline(con, "s-a", opener) == events[:4]
    assert queries.user_events(con, "jane", opener) == events[:4]
    _destroy(ks, "jane")
    opener = RowOpener(_keys(ks))
    erased = queries.session_timeline(con, "s-a", opener)
    assert [e["erased"]["receipt"] for e in erased] == ["r-42"] * 4
    assert SECRET not in orjson.dumps(erased).decode() and all("payload" not in e for e in erased)
    assert queries.session_timeline(con, "s-b", opener) == events[4:]
    assert [t["tool"] for t in queries.tool_usage(con)] == ["search_kb"]  # figures need no key


def test_an_altered_ciphertext_reads_as_unreadable_not_as_content_or_an_error(tmp_path: Path) -> None:
    """A row whose sealed bytes were changed opens to its clear fields marked unreadable."""
    ks = MemoryKeyStore()
    keys = _keys(ks)
    events = _session("jane", "s-a")
    values = [seal_event(e, keys) for e in events]
    doc = orjson.loads(values[0])
    doc["sealed"]["ct"] = orjson.loads(values[1])["sealed"]["ct"]  # another event's ciphertext
    values[0] = orjson.dumps(doc)
    store = _archive(tmp_path, values, [None] * len(values))
    first = queries.session_timeline(open_archive(store), "s-a", RowOpener(keys))[0]
    assert UNREADABLE in first and "payload" not in first and first["seq"] == 0


def test_files_of_the_unsealed_layout_still_read_through_the_same_queries(tmp_path: Path) -> None:
    """Objects written before sealing (opened events, user id in the clear, no subject column) read
    as before, beside sealed ones."""
    ks = MemoryKeyStore()
    old = _session("lee", "s-c")
    store = _archive(tmp_path, [orjson.dumps(e) for e in old], None)
    path = next(Path(store.root).rglob("*.parquet"))
    pq.write_table(pq.read_table(path).drop_columns(["subject"]), path)  # the previous schema exactly
    keys = _keys(ks)
    new = _session("jane", "s-a")
    values = [seal_event(e, keys) for e in new]
    batch = encode_batch(1, 0, 3, values, [open_event(v, keys).value for v in values])
    for key, data in batch.objects:
        store.put(key, data)
    con, opener = open_archive(store), RowOpener(keys)
    assert queries.user_events(con, "lee", opener) == old
    assert queries.session_timeline(con, "s-a", opener) == new
    assert con.execute("SELECT count(*) FROM events").fetchone() == (8,)


def test_a_user_hold_keeps_their_sealed_rows_through_cold_retention(tmp_path: Path) -> None:
    """Retention finds a held user's sealed rows by their data-key subject and keeps only those."""
    ks = MemoryKeyStore()
    store, _ = _sealed_archive(tmp_path, ks)
    hold = Hold(hold_id="h", scope="user", value="jane", specific=True, reason="case", created_at="t",
                created_by="t")
    done = apply_archive_retention(store, 1, [hold], today=date(2030, 1, 1),
                                   subjects=RowOpener(_keys(ks)).subjects)
    assert [(a.action, a.events_removed, a.events_held) for a in done] == [("pruned", 4, 4)]
    left = open_archive(store).execute("SELECT DISTINCT session_id FROM events").fetchall()
    assert left == [("s-a",)]


def test_forget_counts_sealed_rows_and_rewrites_unsealed_ones_as_tombstones(tmp_path: Path) -> None:
    """Sealed rows are left to the key (counted); rows of the unsealed layout become tombstones in
    place, unless held; the other user's rows are untouched and a second run rewrites nothing."""
    ks = MemoryKeyStore()
    store, _ = _sealed_archive(tmp_path, ks)
    old = _session("jane", "s-c") + _session("omar", "s-d")
    for key, data in encode_batch(1, 0, len(old) - 1, [orjson.dumps(e) for e in old]).objects:
        store.put(key, data)
    subjects = RowOpener(_keys(ks)).subjects
    done = erase_in_archive(store, ["jane"], subjects, [], "r-42", "2026-12-02T00:00:00Z")
    assert (done.sealed_rows, done.rewritten_rows, done.rewritten_objects, len(done.objects)) == (4, 4, 1, 2)
    cells = _all_cells(store)
    assert "jane" not in cells and f"{SECRET} 0" in cells  # omar's old rows: his content, in the clear
    _destroy(ks, "jane")
    con, opener = open_archive(store), RowOpener(_keys(ks))
    for session in ("s-a", "s-c"):
        timeline = queries.session_timeline(con, session, opener)
        assert [e["erased"]["receipt"] for e in timeline] == ["r-42"] * 4
    assert queries.session_timeline(con, "s-d", opener) == old[4:]
    again = erase_in_archive(store, ["jane"], subjects, [], "r-42", "2026-12-02T00:00:00Z")
    assert (again.sealed_rows, again.rewritten_rows) == (4, 0)


def test_forget_keeps_unsealed_rows_a_legal_hold_covers(tmp_path: Path) -> None:
    """A held session's unsealed rows stay as they are and are counted as held."""
    ks = MemoryKeyStore()
    old = _session("jane", "s-c")
    store = _archive(tmp_path, [orjson.dumps(e) for e in old], None)
    hold = Hold(hold_id="h", scope="session", value="s-c", specific=True, reason="case", created_at="t",
                created_by="t")
    done = erase_in_archive(store, ["jane"], RowOpener(_keys(ks)).subjects, [hold], "r-1", "t")
    assert (done.held_rows, done.rewritten_rows, done.rewritten_objects) == (4, 0, 0)
