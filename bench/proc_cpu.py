"""CPU seconds per process and for the whole machine, read from Linux's /proc: who spends the cores.

``cpu_seconds`` is a process's user + system time over all its threads; ``listening_pid`` finds the
local process serving a TCP port (the broker, Elasticsearch), so their CPU can be read beside the
workers' whatever started them; ``machine_busy_seconds`` is every core's non-idle time, so what no
listed process accounts for (other users of the shared machine) shows as the remainder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cpu_seconds", "listening_pid", "machine_busy_seconds"]

_TICK = os.sysconf("SC_CLK_TCK")
_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, all its threads; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_seconds() -> float:
    """Non-idle CPU time of all cores since boot (idle and iowait excluded)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / _TICK  # user..steal; guest time is inside user already


def listening_pid(port: int) -> int | None:
    """The local process with a TCP socket listening on ``port``, if it can be seen (root or owner)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == _LISTEN and int(cols[1].rpartition(":")[2], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return None
