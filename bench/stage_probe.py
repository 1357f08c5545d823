"""Where a stream worker's CPU goes, read from outside while it runs: per stage and per thread kind.

The worker counts its threads' CPU per stage (``core.stages``) and exports it on its telemetry
endpoint (``audit_stream_stage_cpu_seconds_total{stage}``); librdkafka's own threads (named
``rdk:...``: compression, network I/O of the output producer) are read from ``/proc``. Two
snapshots, at the first output and at the last, give the stages' CPU over exactly the span the
throughput is measured on; what no stage and no librdkafka thread accounts for is the framework
(Faust, aiokafka's fetches, the event loop, acks and commits).
"""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Collection
from pathlib import Path

from bench.proc_cpu import cpu_seconds

__all__ = ["STAGES", "free_port", "snapshot"]

# The table's order: the path of one envelope.
STAGES = ("split", "validate", "redact", "chain", "dead_letters", "chain_state", "checkpoints", "windows",
          "seal", "produce", "librdkafka threads")
_METRIC = "audit_stream_stage_cpu_seconds_total{stage=\""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def snapshot(pid: int, port: int, also: Collection[str] = ()) -> dict[str, float]:
    """CPU seconds so far: per stage (from the worker), librdkafka threads, and the whole process;
    with ``also``, those unlabelled metrics of the worker too, from the same read."""
    out: dict[str, float] = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(_METRIC):
                stage, _, value = line[len(_METRIC):].partition("\"} ")
                out[stage] = float(value)
            elif also:
                name, _, value = line.partition(" ")
                if name in also:
                    out[name] = float(value)
    tick = os.sysconf("SC_CLK_TCK")
    rdk = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # a thread that ended meanwhile
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        rdk += cpu if comm.startswith("rdk:") else 0.0
    out["librdkafka threads"] = rdk
    out["process"] = cpu_seconds(pid)
    return out
