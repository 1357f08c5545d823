"""Supervise the stack's background processes: start detached, check, stop, show log tails."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["StackError", "alive", "log_tail", "port_open", "start_detached", "stop", "wait_until"]


class StackError(RuntimeError):
    """The local stack could not be installed or started; the message says what to look at."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pidfile: Path) -> int | None:
    """The pid recorded in ``pidfile`` if that process still runs, else None."""
    pid = _read_pid(pidfile)
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def start_detached(argv: Sequence[str], *, env: Mapping[str, str], log: Path, pidfile: Path,
                   cwd: Path) -> int:
    """Start ``argv`` in its own session (so stop() can signal the whole group), output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(list(argv), env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    pidfile.write_text(str(proc.pid))
    return proc.pid


def stop(pidfile: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the process group, SIGKILL it after ``timeout``; True if something was running."""
    pid = alive(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pid):
        time.sleep(0.2)
    if _group_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.5)
        _reap(pid)
    pidfile.unlink(missing_ok=True)
    return True


def _group_alive(pgid: int) -> bool:
    # A leader that is our own exited child stays a zombie, and signals still reach a zombie:
    # reap it first, or a stopped server looks alive until the SIGKILL deadline.
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child (no zombie left in long-lived callers)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"(no log at {log})"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, log: Path,
               pidfile: Path) -> None:
    """Poll ``check`` until true; on timeout or process death raise with the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive(pidfile) is None:
            raise StackError(f"{what} exited during start-up; last lines of {log}:\n{log_tail(log)}")
        time.sleep(0.5)
    raise StackError(f"{what} not ready after {timeout:.0f}s; last lines of {log}:\n{log_tail(log)}")
