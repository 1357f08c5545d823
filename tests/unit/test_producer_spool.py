"""The disk spool: order kept, restarts resume, torn or corrupt tails ignored, the bound holds, orphans
adopted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_audit.producers.batching import Envelope
from agent_audit.producers.spool import DiskSpool, adopt_orphans


def _env(i: int, partition: int = 0, size: int = 0) -> Envelope:
    value = f'{{"n":{i}}}'.encode() + b" " * size
    return Envelope(partition, 3, f"s-{i}", value, 1)


def _values(spool: DiskSpool) -> list[bytes]:
    return [r.envelope.value for r in spool.read(10_000)]


def test_read_returns_appends_in_order_and_commit_moves_past_them(tmp_path: Path) -> None:
    """What was appended comes back in order with partition and key; after commit only newer remain."""
    spool = DiskSpool(tmp_path / "own")
    assert spool.append([_env(i, partition=i % 3) for i in range(5)]) == 5
    items = spool.read(100)
    assert [(r.envelope.partition, r.envelope.key) for r in items] == [(i % 3, f"s-{i}") for i in range(5)]
    spool.commit(items[2].position)
    assert [r.envelope.key for r in spool.read(100)] == ["s-3", "s-4"]
    spool.commit(spool.read(100)[-1].position)
    assert spool.empty() and spool.size() == 0  # finished segments are deleted


def test_a_reopened_spool_continues_where_the_last_process_stopped(tmp_path: Path) -> None:
    """Position and records are on disk: the next owner reads only what was not committed."""
    first = DiskSpool(tmp_path / "own")
    first.append([_env(0), _env(1)])
    first.commit(first.read(1)[0].position)
    first.close(remove_if_empty=False)
    again = DiskSpool(tmp_path / "own")
    assert [r.envelope.key for r in again.read(10)] == ["s-1"]
    again.append([_env(2)])
    assert [r.envelope.key for r in again.read(10)] == ["s-1", "s-2"]


def test_a_torn_tail_from_a_crash_mid_write_is_ignored_and_never_appended_behind(tmp_path: Path) -> None:
    """A record cut short is not replayed; the next writer starts a new segment, so later records count."""
    spool = DiskSpool(tmp_path / "own")
    spool.append([_env(0), _env(1)])
    spool.close(remove_if_empty=False)
    (segment,) = (tmp_path / "own").glob("*.seg")
    segment.write_bytes(segment.read_bytes()[:-3])  # the last record lost its end
    again = DiskSpool(tmp_path / "own")
    assert [r.envelope.key for r in again.read(10)] == ["s-0"]
    again.append([_env(2)])
    assert [r.envelope.key for r in again.read(10)] == ["s-0", "s-2"]


def test_a_corrupt_record_fails_its_checksum(tmp_path: Path) -> None:
    """Bytes flipped inside a record (a bad disk, a partial page) end the segment there."""
    spool = DiskSpool(tmp_path / "own")
    spool.append([_env(0), _env(1)])
    spool.close(remove_if_empty=False)
    (segment,) = (tmp_path / "own").glob("*.seg")
    data = bytearray(segment.read_bytes())
    data[-2] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert [r.envelope.key for r in DiskSpool(tmp_path / "own").read(10)] == ["s-0"]


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_any_truncation_leaves_a_readable_prefix(tmp_path_factory: pytest.TempPathFactory, cut: int) -> None:
    """Cutting the file at any byte (a crash at any moment) yields exactly the records before the cut."""
    folder = tmp_path_factory.mktemp("spool")
    spool = DiskSpool(folder, fsync="never")
    spool.append([_env(i, size=i * 37) for i in range(20)])
    ends = [r.position[1] for r in spool.read(100)]
    spool.close(remove_if_empty=False)
    (segment,) = folder.glob("*.seg")
    size = segment.stat().st_size
    with segment.open("r+b") as f:
        f.truncate(min(cut, size))
    whole = sum(1 for end in ends if end <= min(cut, size))
    assert [r.envelope.key for r in DiskSpool(folder).read(100)] == [f"s-{i}" for i in range(whole)]


def test_a_full_spool_refuses_the_newest_records_and_keeps_the_oldest(tmp_path: Path) -> None:
    """The bound is explicit: append accepts a prefix and says how many; the caller counts the rest."""
    spool = DiskSpool(tmp_path / "own", max_bytes=300)
    assert spool.append([_env(i, size=80) for i in range(5)]) == 2
    assert spool.size() <= 300
    assert [r.envelope.key for r in spool.read(10)] == ["s-0", "s-1"]
    spool.commit(spool.read(10)[-1].position)
    assert spool.append([_env(9, size=80)]) == 1  # room again once replayed


def test_a_spool_folder_has_one_owner_and_dead_owners_folders_are_adopted(tmp_path: Path) -> None:
    """A live owner's folder cannot be opened again; an unlocked folder with records is adopted."""
    live = DiskSpool(tmp_path / "live")
    live.append([_env(0)])
    with pytest.raises(BlockingIOError):
        DiskSpool(tmp_path / "live")
    dead = DiskSpool(tmp_path / "dead")
    dead.append([_env(1)])
    dead.close(remove_if_empty=False)  # as a crash would leave it: the lock goes with the process
    adopted = adopt_orphans(tmp_path, 1 << 20, "batch")
    assert [s.dir.name for s in adopted] == ["dead"]
    assert [r.envelope.key for r in adopted[0].read(10)] == ["s-1"]


def test_an_emptied_spool_removes_its_folder_on_close(tmp_path: Path) -> None:
    """A clean exit with nothing pending leaves no litter behind."""
    spool = DiskSpool(tmp_path / "own")
    spool.append([_env(0)])
    spool.commit(spool.read(1)[0].position)
    spool.close()
    assert not (tmp_path / "own").exists()
    assert os.listdir(tmp_path) == []
