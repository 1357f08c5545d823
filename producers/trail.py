"""``AuditTrail``: what an agent calls to record its inputs, reasoning, tool calls, outputs and errors.

Each call encodes the agent's payload once (orjson) and hands it, with the event's own fields, to a
transport's bounded queue, whose thread finishes the line: about two microseconds, no I/O, no
waiting, one short lock (``queue.RECORD_LOCK``). It never raises into the agent: a failure is
counted (``failures``) and logged once, without the payload. Events below the trail's ``level`` are
not recorded and take no ``seq``. Trails of one session in one process share its ``seq`` counter,
so the session's events are numbered from 0 with no gaps, in the order they reach the transport.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from time import time_ns
from typing import Any, TypeVar, overload

import orjson

from agent_audit.core.errors import ConfigError
from agent_audit.producers.event_line import FIXED_BYTES, EventParts, encode_line
from agent_audit.producers.kafka_transport import default_transport, shutdown_default_transport
from agent_audit.producers.payloads import (
    error_payload,
    input_payload,
    output_payload,
    reasoning_payload,
    tool_call_payload,
)
from agent_audit.producers.queue import RECORD_LOCK
from agent_audit.producers.reports import OnceLog
from agent_audit.producers.tool_call import ToolCall, open_call
from agent_audit.producers.transport import Counters, Transport

__all__ = ["LEVELS", "AuditTrail"]

log = logging.getLogger(__name__)
LEVELS: dict[str, int] = {"trace": 0, "debug": 10, "info": 20, "warning": 30, "error": 40}
# OPT_NON_STR_KEYS makes orjson walk dicts on a path ~40% slower, and only a dict with a key that is
# not a str needs it (without it orjson raises TypeError there, and gives the same bytes everywhere
# else): the payload is encoded without it first, and again with it only when that raises.
_OPTIONS = orjson.OPT_UTC_Z
_ANY_KEYS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
F = TypeVar("F", bound=Callable[..., Any])


class _Session:
    """The seq counter of one session, shared by every trail of it in this process (guarded by
    ``RECORD_LOCK``)."""

    __slots__ = ("next_seq",)

    def __init__(self, start: int) -> None:
        self.next_seq = start


class _Sessions:
    """Counters of the most recent sessions: a new trail object for a known session continues its
    numbering (one trail per request in a chat service is common). Bounded, least recent first out."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._by_id: OrderedDict[str, _Session] = OrderedDict()

    def get(self, session_id: str, start: int) -> _Session:
        with RECORD_LOCK:  # the counters' own lock: a resume point never races a record
            found = self._by_id.get(session_id)
            if found is None:
                found = self._by_id[session_id] = _Session(start)
                if len(self._by_id) > self.limit:
                    self._by_id.popitem(last=False)
            else:
                self._by_id.move_to_end(session_id)
                found.next_seq = max(found.next_seq, start)  # an explicit resume point wins
            return found


_sessions = _Sessions()


class AuditTrail:
    def __init__(self, session_id: str, user_id: str, agent: str, agent_version: str = "0",
                 level: str = "info", transport: Transport | None = None, *, seq_start: int = 0) -> None:
        """``transport=None``: the process's shared Kafka transport. ``seq_start``: resuming a session."""
        if level not in LEVELS:
            raise ConfigError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        self.session_id = session_id
        self.user_id = user_id
        self.agent = {"name": agent, "version": agent_version}
        self.level = level
        self._min = LEVELS[level]
        self.transport: Transport = transport if transport is not None else default_transport()
        # BatchTransport takes the event's parts (finished on its thread); any other transport gets
        # the finished line from ``send``.
        enqueue = getattr(self.transport, "enqueue", None)
        self._put: Callable[[EventParts, int], bool] = enqueue if enqueue is not None else self._send_line
        self._session = _sessions.get(session_id, seq_start)
        # The fields that never change within a trail are encoded once; each event adds the rest.
        self._prefix = orjson.dumps({"schema_version": 1, "session_id": session_id, "user_id": user_id,
                                     "agent": self.agent})[:-1] + b","
        self._fixed_size = len(self._prefix) + FIXED_BYTES  # of each event's item_size
        self.failures = 0  # events that could not be built or handed over (never raised)
        self._report = OnceLog(log)

    # --- the five kinds -------------------------------------------------------------------
    def input(self, type: str = "text", content: Any = "", metadata: dict[str, Any] | None = None,
              *, level: str = "info") -> bool:
        return self._record("input", level, input_payload(type, content, metadata))

    def reasoning(self, thought: Any, plan: list[Any] | None = None, confidence: float | None = None,
                  *, level: str = "info") -> bool:
        return self._record("reasoning", level, reasoning_payload(thought, plan, confidence))

    def output(self, type: str = "text", content: Any = "", *, tokens_used: int | None = None,
               model: str | None = None, cost: float | None = None,
               metadata: dict[str, Any] | None = None, level: str = "info",
               trace: dict[str, str] | None = None) -> bool:
        payload = output_payload(type, content, tokens_used, model, cost, metadata)
        return self._record("output", level, payload, trace)

    def error(self, exc: BaseException | None = None, *, type: str | None = None,
              message: str | None = None, tool_name: str | None = None,
              recovery_action: str | None = None, trace: dict[str, str] | None = None) -> bool:
        """From an exception (type, message, stack trace) or from ``type=`` and ``message=``."""
        try:
            payload = error_payload(exc, type, message, tool_name, recovery_action)
        except Exception:  # a broken __str__ on the agent's exception must not reach the agent
            payload = {"type": type or "Error", "message": message or ""}
        return self._record("error", "error", payload, trace)

    def record_tool_call(self, tool_name: str, *, parameters: Any = None, result: Any = None,
                         status: str = "success", duration_ms: float = 0.0, level: str | None = None,
                         trace: dict[str, str] | None = None, call_id: str | None = None) -> bool:
        """A tool call measured elsewhere (an OpenTelemetry span, a framework callback); ``call_id``:
        the id the model gave the call, which links it to the model's request."""
        try:
            payload = tool_call_payload(tool_name, parameters, result, status, duration_ms, call_id)
        except Exception:  # parameters whose truth value raises (an array), a duration float() refuses
            self._failed("tool_call")
            return False
        return self._record("tool_call", level or ("error" if status == "error" else "info"), payload, trace)

    # --- tool calls: with, async with, decorator --------------------------------------------
    tool_call = open_call  # the function is the method: no wrapper frame on every ``with``

    @overload
    def tool(self, name: F, /) -> F: ...

    @overload
    def tool(self, name: str | None = None, /, *, level: str = "info") -> Callable[[F], F]: ...

    def tool(self, name: Any = None, /, *, level: str = "info") -> Any:
        """Decorator: ``@trail.tool``, ``@trail.tool()`` or ``@trail.tool("name")``."""
        if callable(name):
            return ToolCall(self, None, None, level)(name)
        return ToolCall(self, name, None, level)

    def _record_failed_call(self, call: ToolCall, duration_ms: float, exc: BaseException) -> None:
        """A ``with`` block or decorated function that raised: the call with ``status=error``, then the
        ``error`` event with the stack trace."""
        name = call.tool_name or "tool"
        failure = {"error": {"type": exc.__class__.__name__, "message": _safe_str(exc)}}
        self.record_tool_call(name, parameters=call.parameters, result=failure, status="error",
                              duration_ms=duration_ms)
        self.error(exc, tool_name=name)

    def close(self) -> bool:
        """End the session with an ``end`` event carrying its final seq (its own): ``agent-audit
        verify`` then calls the session complete when seqs 0..final are all stored, else open.
        Another process continuing the session passes ``seq_start`` = final + 1 before closing."""
        return self._record("end", "info", {})

    # --- delivery ---------------------------------------------------------------------------
    @property
    def counters(self) -> Counters:
        """The transport's counters: sent, spooled, replayed, dropped, failed (shared by its trails)."""
        return self.transport.counters

    def flush(self, timeout: float = 10.0) -> bool:
        """True once everything recorded so far (by any trail on this transport) was delivered."""
        try:
            return self.transport.flush(timeout)
        except Exception:
            self._failed("flush")
            return False

    @staticmethod
    def flush_all(timeout: float = 10.0) -> bool:
        """Flush the process-wide default transport (builds it if needed)."""
        return default_transport().flush(timeout)

    @staticmethod
    def shutdown(timeout: float = 5.0) -> bool:
        """Flush the default transport, keep what is left on disk, release it (also run at exit)."""
        return shutdown_default_transport(timeout)

    # --- internals ----------------------------------------------------------------------------
    def _record(self, kind: str, level: str, payload: dict[str, Any],
                trace: dict[str, str] | None = None) -> bool:
        try:
            if LEVELS[level] < self._min:
                return False
            # The agent's data is encoded now (a later change to its objects cannot alter the record);
            # the event's own fields become text on the transport's thread (``event_line``).
            # `+ b"}"` closes the event and copies the bytes: orjson's own result sits in a ~4 KiB
            # allocation, and keeping thousands of those queued cost a page fault each (~5 µs here).
            try:
                body = orjson.dumps(payload, default=str, option=_OPTIONS) + b"}" if kind != "end" else b""
            except TypeError:  # a key that is not a str (or what no option encodes: then raised again)
                body = orjson.dumps(payload, default=str, option=_ANY_KEYS) + b"}"
            size = self._fixed_size + len(body)  # item_size of the parts, from what is at hand
            extra = b""
            if trace:
                extra = orjson.dumps(trace, default=str)[1:-1] + b","
                size += len(extra)
            ns = time_ns()
            session = self._session
            with RECORD_LOCK:  # seq order is queue order: a session's events stay ordered
                seq = session.next_seq
                session.next_seq = seq + 1
                if not body:  # the end marker names its own seq as the session's last
                    body = b'{"final_seq":%d}}' % seq
                    size += len(body)
                return self._put((self.session_id, self._prefix, kind, level, ns, seq, extra, body), size)
        except Exception:  # never raise into the agent
            self._failed(kind)
            return False

    def _send_line(self, item: EventParts, size: int) -> bool:
        return self.transport.send(item[0], encode_line(item))

    def _failed(self, what: str) -> None:
        self.failures += 1
        self._report("record_failed", "could not record a %s event (failures are counted on the trail)",
                     what, level=logging.ERROR, exc_info=True)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<unprintable>"
