"""A bounded, append-only, crash-safe disk spool for envelopes the broker could not take.

Layout: ``<spool_dir>/<topic>/<pid>-<random>/`` per process, locked (``flock``) while it lives, with
numbered segment files of records::

    [u32 value length][u32 crc32 of key+value][u16 partition][u16 partitions][u16 key length][key][value]

Crash safety: a record is whole or it is not there. A torn or corrupt record (the process or the
machine died mid-write) fails its length or CRC check and ends its segment; a writer never appends
to a segment it did not create, so nothing valid ever follows a torn tail. The read position lives
in ``position`` (replaced atomically), so replay resumes where the last acknowledged record ended;
a record delivered but not yet committed is sent again, which downstream ids make harmless.

fsync policy (``always`` | ``batch`` | ``never``): ``batch`` syncs once per ``append`` call, and the
transport calls it once per background tick with everything that tick spools. Spooling never runs on
the agent's thread, a process crash loses nothing already written (the page cache survives it), and
one sync per tick bounds the loss on power failure to one tick at one sync's cost.

Bound: past ``max_bytes`` on disk, ``append`` refuses the newest records and the caller counts them
as dropped ("keep the oldest": a reader sees one gap at the tail of a session, never a hole mid-way
through what was kept). Processes that died leave their folder unlocked; ``adopt_orphans`` claims
those so a restarted agent replays them before its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agent_audit.producers.batching import Envelope
from agent_audit.producers.options import FsyncPolicy

__all__ = ["DiskSpool", "Position", "SpooledEnvelope", "adopt_orphans", "own_spool_dir"]

_HEADER = struct.Struct(">IIHHH")
SEGMENT_BYTES = 16 * 1024 * 1024

Position = tuple[int, int]  # (segment number, offset just past a record)


@dataclass(frozen=True, slots=True)
class SpooledEnvelope:
    position: Position
    envelope: Envelope


class DiskSpool:
    def __init__(self, directory: Path, max_bytes: int = 1024**3, fsync: FsyncPolicy = "batch") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock_file = (self.dir / "lock").open("a")
        try:  # raises BlockingIOError while another process owns the folder
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise
        self._read_at = self._load_position()
        self._bytes = sum(p.stat().st_size for p in self._segments())
        self._writer: IO[bytes] | None = None
        self._full = False
        self._write_no = max([self._read_at[0], *(int(p.stem) for p in self._segments())])

    # --- writing --------------------------------------------------------------------------
    def append(self, envelopes: Sequence[Envelope]) -> int:
        """Write envelopes in order; returns how many fit (a prefix), synced per the fsync policy."""
        written = 0
        for env in envelopes:
            key = (env.key or "").encode()[:1024]
            body = key + env.value
            record = _HEADER.pack(len(env.value), zlib.crc32(body), env.partition, env.partitions,
                                  len(key)) + body
            if self._full or self._bytes + len(record) > self.max_bytes:
                self._full = True  # refuse until a commit frees room: later records never skip ahead
                break
            f = self._segment_for(len(record))
            f.write(record)
            self._bytes += len(record)
            written += 1
            if self.fsync == "always":
                _sync(f)
        if written and self._writer is not None and self.fsync == "batch":
            _sync(self._writer)
        return written

    def _segment_for(self, size: int) -> IO[bytes]:
        if self._writer is None or self._writer.tell() + size > SEGMENT_BYTES:
            if self._writer is not None:
                self._writer.close()
            self._write_no += 1  # always a new file: never append behind a torn tail
            self._writer = (self.dir / f"{self._write_no:012d}.seg").open("ab")
            if self.fsync != "never":
                _sync_dir(self.dir)  # the new file's name survives a power cut too
        return self._writer

    # --- reading --------------------------------------------------------------------------
    def read(self, limit: int) -> list[SpooledEnvelope]:
        """Up to ``limit`` envelopes from the read position, in append order; torn tails end a segment."""
        if self._writer is not None:
            self._writer.flush()
        out: list[SpooledEnvelope] = []
        seg_no, offset = self._read_at
        for path in self._segments():
            number = int(path.stem)
            if number < seg_no:
                continue
            with path.open("rb") as f:
                f.seek(offset if number == seg_no else 0)
                while len(out) < limit:
                    item = _read_record(f, number)
                    if item is None:
                        break
                    out.append(item)
            if len(out) >= limit:
                break
        return out

    def commit(self, position: Position) -> None:
        """Everything up to ``position`` was delivered: persist it and delete finished segments."""
        self._read_at = position
        self._full = False
        tmp = self.dir / "position.tmp"
        tmp.write_text(f"{position[0]} {position[1]}")
        tmp.replace(self.dir / "position")  # atomic: a crash leaves the old or the new position
        for path in self._segments():
            number = int(path.stem)
            finished = number < position[0] or (
                number == position[0] and position[1] >= path.stat().st_size)
            if finished:
                if number == self._write_no and self._writer is not None:
                    self._writer.close()
                    self._writer = None
                self._bytes -= path.stat().st_size
                path.unlink(missing_ok=True)

    def empty(self) -> bool:
        return not self.read(1)

    def size(self) -> int:
        """Bytes on disk, the quantity the bound applies to."""
        return self._bytes

    def close(self, remove_if_empty: bool = True) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if remove_if_empty and self.empty():
            shutil.rmtree(self.dir, ignore_errors=True)
        self._lock_file.close()  # releases the lock

    # --- internals ------------------------------------------------------------------------
    def _segments(self) -> list[Path]:
        return sorted(self.dir.glob("*.seg"))

    def _load_position(self) -> Position:
        try:
            seg, off = (self.dir / "position").read_text().split()
            return int(seg), int(off)
        except (OSError, ValueError):
            return 0, 0


def _read_record(f: IO[bytes], segment: int) -> SpooledEnvelope | None:
    header = f.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    length, crc, partition, partitions, key_len = _HEADER.unpack(header)
    body = f.read(key_len + length)
    if len(body) < key_len + length or zlib.crc32(body) != crc or partitions == 0:
        return None  # torn or corrupt: the write never completed, so it was never acknowledged
    key = body[:key_len].decode() or None
    value = body[key_len:]
    env = Envelope(partition, partitions, key, value, value.count(b"\n") + 1)
    return SpooledEnvelope((segment, f.tell()), env)


def adopt_orphans(topic_dir: Path, max_bytes: int, fsync: FsyncPolicy) -> list[DiskSpool]:
    """Claim the spools of processes that died (their lock is free); oldest folder first."""
    adopted: list[DiskSpool] = []
    if not topic_dir.is_dir():
        return adopted
    for path in sorted(topic_dir.iterdir(), key=lambda p: p.stat().st_mtime):
        if not path.is_dir():
            continue
        with contextlib.suppress(OSError):  # OSError (BlockingIOError): its owner is alive
            adopted.append(DiskSpool(path, max_bytes=max_bytes, fsync=fsync))
    return adopted


def own_spool_dir(topic_dir: Path) -> Path:
    """A fresh folder for this process: never shared, so appends never interleave."""
    return topic_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _sync(f: IO[bytes]) -> None:
    f.flush()
    os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
