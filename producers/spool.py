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

Privacy: the spool holds unredacted events. Its folders are 0700 and its files 0600, created so
(never widened after the fact); a folder is only opened if it is a real directory (not a link) of
this user that nobody else can write. ``adopt_orphans`` takes over only such folders that carry
our ``layout`` file naming the same format and key; segment files that are links or not ours are
skipped. With a ``SpoolCipher`` (AUDIT_SPOOL_KEY) each record is sealed with AES-256-GCM, so a
planted or altered record fails authentication and ends its segment like a torn one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agent_audit.producers.batching import Envelope
from agent_audit.producers.options import FsyncPolicy
from agent_audit.producers.spool_cipher import SpoolCipher

__all__ = ["DiskSpool", "Position", "SpooledEnvelope", "adopt_orphans", "own_spool_dir", "private_dir"]

_HEADER = struct.Struct(">IIHHH")
_KEYED = struct.Struct(">H")  # inside a sealed record: the key's length, then key and value
_LAYOUT = "agent-audit-spool 1"
SEGMENT_BYTES = 16 * 1024 * 1024

Position = tuple[int, int]  # (segment number, offset just past a record)


@dataclass(frozen=True, slots=True)
class SpooledEnvelope:
    position: Position
    envelope: Envelope


class DiskSpool:
    def __init__(self, directory: Path, max_bytes: int = 1024**3, fsync: FsyncPolicy = "batch",
                 cipher: SpoolCipher | None = None) -> None:
        self.dir = directory
        private_dir(self.dir.parent)
        private_dir(self.dir)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.cipher = cipher
        self._lock_file = os.fdopen(_open_private(self.dir / "lock", os.O_APPEND), "a")
        try:  # raises BlockingIOError while another process owns the folder
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise
        self._claim_layout()
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
            record = self._record(env)
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
            fd = _open_private(self.dir / f"{self._write_no:012d}.seg", os.O_APPEND)
            self._writer = os.fdopen(fd, "ab")
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
                    item = _read_record(f, number, self.cipher)
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
        with os.fdopen(_open_private(tmp, os.O_TRUNC), "w") as f:
            f.write(f"{position[0]} {position[1]}")
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
    def _record(self, env: Envelope) -> bytes:
        key = (env.key or "").encode()[:1024]
        if self.cipher is None:
            body, value_len, key_len = key + env.value, len(env.value), len(key)
        else:  # the session key is sealed too; the header's key length is then 0
            body = self.cipher.seal(_KEYED.pack(len(key)) + key + env.value,
                                    _associated(env.partition, env.partitions))
            value_len, key_len = len(body), 0
        return _HEADER.pack(value_len, zlib.crc32(body), env.partition, env.partitions, key_len) + body

    def _claim_layout(self) -> None:
        """Write our layout (format and key id) in a new folder; refuse a folder of another one."""
        expected = _layout(self.cipher)
        path = self.dir / "layout"
        if path.exists() or path.is_symlink():
            if _read_layout(path) != expected:
                self._lock_file.close()
                raise PermissionError(errno.EPERM, "spool folder of another format or key", str(self.dir))
            return
        with os.fdopen(_open_private(path, os.O_EXCL), "w") as f:
            f.write(expected)

    def _segments(self) -> list[Path]:
        uid = os.getuid()
        return sorted(p for p in self.dir.glob("*.seg")
                      if p.stem.isdigit() and _owned_file(p, uid))  # links and strangers' files: never read

    def _load_position(self) -> Position:
        try:
            seg, off = (self.dir / "position").read_text().split()
            return int(seg), int(off)
        except (OSError, ValueError):
            return 0, 0


def _read_record(f: IO[bytes], segment: int, cipher: SpoolCipher | None) -> SpooledEnvelope | None:
    header = f.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    length, crc, partition, partitions, key_len = _HEADER.unpack(header)
    body = f.read(key_len + length)
    if len(body) < key_len + length or zlib.crc32(body) != crc or partitions == 0:
        return None  # torn or corrupt: the write never completed, so it was never acknowledged
    if cipher is not None:
        plain = cipher.open(body, _associated(partition, partitions)) if key_len == 0 else None
        if plain is None or len(plain) < _KEYED.size:
            return None  # not sealed by our key: planted or altered, never sent
        (key_len,) = _KEYED.unpack_from(plain)
        body = plain[_KEYED.size:]
    key = body[:key_len].decode(errors="replace") or None
    value = body[key_len:]
    env = Envelope(partition, partitions, key, value, value.count(b"\n") + 1)
    return SpooledEnvelope((segment, f.tell()), env)


def adopt_orphans(topic_dir: Path, max_bytes: int, fsync: FsyncPolicy,
                  cipher: SpoolCipher | None = None) -> list[DiskSpool]:
    """Claim the spools of processes that died (their lock is free); oldest folder first. Only our
    own: private folders of this user holding our layout file for the same format and key."""
    adopted: list[DiskSpool] = []
    if not topic_dir.is_dir():
        return adopted
    expected, uid = _layout(cipher), os.getuid()
    for path in sorted(topic_dir.iterdir(), key=lambda p: p.lstat().st_mtime):
        if not (_private_dir_of(path, uid) and _read_layout(path / "layout") == expected):
            continue  # a stranger's, a link, writable by others, or not our layout: leave it alone
        with contextlib.suppress(OSError):  # OSError (BlockingIOError): its owner is alive
            adopted.append(DiskSpool(path, max_bytes=max_bytes, fsync=fsync, cipher=cipher))
    return adopted


def private_dir(path: Path) -> Path:
    """``path`` as a folder only this user can enter: created 0700, or an existing real directory of
    ours (group/other rights removed). PermissionError for a link or another user's folder."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermissionError(errno.EPERM, "not a private folder of this user", str(path))
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def own_spool_dir(topic_dir: Path) -> Path:
    """A fresh folder for this process: never shared, so appends never interleave."""
    return topic_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _layout(cipher: SpoolCipher | None) -> str:
    return f"{_LAYOUT} aes-256-gcm {cipher.key_id}\n" if cipher else f"{_LAYOUT} plain\n"


def _read_layout(path: Path) -> str | None:
    try:
        if not _owned_file(path, os.getuid()):
            return None
        return path.read_text()[:200]
    except OSError:
        return None


def _owned_file(path: Path, uid: int) -> bool:
    st = os.lstat(path)
    return stat.S_ISREG(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o022


def _private_dir_of(path: Path, uid: int) -> bool:
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077


def _open_private(path: Path, flags: int) -> int:
    """A file descriptor for writing ``path``, created 0600 and never through a link."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | flags, 0o600)


def _associated(partition: int, partitions: int) -> bytes:
    return b"agent-audit spool v1" + struct.pack(">HH", partition, partitions)


def _sync(f: IO[bytes]) -> None:
    f.flush()
    os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
