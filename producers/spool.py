"""A bounded, append-only, crash-safe disk spool for envelopes the broker could not take.

Records are ``[4-byte length][4-byte partition][envelope]`` appended to numbered segment files. A
reader position (segment, offset) is kept in ``position``; a segment is deleted once fully read and
acknowledged. A torn tail (a crash mid-write) is detected by its length and ignored. When the spool
is full, new envelopes are refused and counted by the caller: the drop policy is "keep the oldest".
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["DiskSpool"]

_HEADER = struct.Struct(">II")
SEGMENT_BYTES = 16 * 1024 * 1024


class DiskSpool:
    def __init__(self, directory: Path, max_bytes: int = 1024**3, fsync: bool = True) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._position_file = self.dir / "position"

    # --- writing --------------------------------------------------------------------------
    def append(self, partition: int, envelope: bytes) -> bool:
        """Append one envelope durably; False (nothing written) when the spool is full."""
        record = _HEADER.pack(len(envelope), partition) + envelope
        with self._lock:
            if self.size() + len(record) > self.max_bytes:
                return False
            segments = self._segments()
            if segments and segments[-1].stat().st_size < SEGMENT_BYTES:
                path = segments[-1]
            else:  # numbers only grow: the last segment is never deleted, see commit()
                number = int(segments[-1].stem) + 1 if segments else self._read_position()[0]
                path = self.dir / f"{number:012d}.seg"
            with path.open("ab") as f:
                f.write(record)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())  # an acknowledged append survives a crash of the process
        return True

    # --- reading --------------------------------------------------------------------------
    def pending(self) -> Iterator[tuple[tuple[int, int], int, bytes]]:
        """Yield ((segment, end offset), partition, envelope) in append order from the read position."""
        seg_no, offset = self._read_position()
        for path in self._segments():
            number = int(path.stem)
            if number < seg_no:
                continue
            data = path.read_bytes()
            pos = offset if number == seg_no else 0
            while pos + _HEADER.size <= len(data):
                length, partition = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                if end > len(data):
                    break  # a torn tail: the write never completed, so it was never acknowledged
                yield (number, end), partition, data[pos + _HEADER.size:end]
                pos = end

    def commit(self, position: tuple[int, int]) -> None:
        """Everything up to ``position`` was delivered: persist it, delete finished segments."""
        with self._lock:
            seg_no, offset = position
            tmp = self._position_file.with_suffix(".tmp")
            tmp.write_text(f"{seg_no} {offset}")
            tmp.replace(self._position_file)  # atomic: a crash leaves the old or the new position
            for path in self._segments()[:-1]:  # the last segment stays: appends continue there
                number = int(path.stem)
                if number < seg_no or (number == seg_no and offset >= path.stat().st_size):
                    path.unlink(missing_ok=True)

    def empty(self) -> bool:
        return next(self.pending(), None) is None

    def size(self) -> int:
        return sum(p.stat().st_size for p in self._segments())

    def _segments(self) -> list[Path]:
        return sorted(self.dir.glob("*.seg"))

    def _read_position(self) -> tuple[int, int]:
        try:
            seg, off = self._position_file.read_text().split()
            return int(seg), int(off)
        except (OSError, ValueError):
            return 0, 0
