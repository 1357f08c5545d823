"""The disk spool: appends survive a restart, order is kept, a torn tail is ignored, the bound holds."""

from __future__ import annotations

from pathlib import Path

from producers.spool import DiskSpool


def test_pending_returns_appends_in_order_and_commit_moves_past_them(tmp_path: Path) -> None:
    """What was appended comes back in order; after commit only newer records remain."""
    spool = DiskSpool(tmp_path)
    for i in range(5):
        assert spool.append(i % 2, f"env-{i}".encode())
    items = list(spool.pending())
    assert [(p, e) for _, p, e in items] == [(i % 2, f"env-{i}".encode()) for i in range(5)]
    spool.commit(items[2][0])
    assert [e for _, _, e in spool.pending()] == [b"env-3", b"env-4"]


def test_a_reopened_spool_continues_where_the_last_process_stopped(tmp_path: Path) -> None:
    """Position and records are on disk: a new process replays only what was not committed."""
    first = DiskSpool(tmp_path)
    first.append(0, b"a")
    first.append(0, b"b")
    first.commit(next(first.pending())[0])
    again = DiskSpool(tmp_path)
    assert [e for _, _, e in again.pending()] == [b"b"]
    again.append(1, b"c")
    assert [e for _, _, e in again.pending()] == [b"b", b"c"]


def test_a_torn_tail_from_a_crash_mid_write_is_ignored(tmp_path: Path) -> None:
    """A record cut short (the process died while writing it) is not replayed as garbage."""
    spool = DiskSpool(tmp_path)
    spool.append(0, b"whole")
    segment = next(tmp_path.glob("*.seg"))
    with segment.open("ab") as f:
        f.write(b"\x00\x00\x00\x10\x00\x00\x00\x00half")
    assert [e for _, _, e in spool.pending()] == [b"whole"]


def test_a_full_spool_refuses_new_records_and_keeps_the_old(tmp_path: Path) -> None:
    """The bound is explicit: once full, append says no (the caller counts a drop)."""
    spool = DiskSpool(tmp_path, max_bytes=100)
    assert spool.append(0, b"x" * 60)
    assert not spool.append(0, b"y" * 60)
    assert [e for _, _, e in spool.pending()] == [b"x" * 60]
