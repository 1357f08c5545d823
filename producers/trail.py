"""``AuditTrail``: what an agent calls to record its inputs, reasoning, tool calls, outputs and errors.

Each call builds one v1 event, serializes it once (orjson) and hands the bytes to a transport; it
never blocks on the network and never raises into the agent (failures are counted and logged once).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from core.wire import new_event_id
from producers.transport import Transport, default_factory

__all__ = ["AuditTrail", "ToolCall"]

log = logging.getLogger(__name__)
LEVELS = {"trace": 0, "debug": 10, "info": 20, "warning": 30, "error": 40}
_default_transport = default_factory()
F = TypeVar("F", bound=Callable[..., Any])


class ToolCall:
    """Filled in by the caller inside ``with trail.tool_call(...) as call``."""

    def __init__(self) -> None:
        self.result: Any = None
        self.status: str | None = None


class AuditTrail:
    def __init__(self, session_id: str, user_id: str, agent: str, agent_version: str = "0",
                 level: str = "info", transport: Transport | None = None) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.agent = {"name": agent, "version": agent_version}
        self.min_level = LEVELS[level]
        self.transport = transport if transport is not None else _default_transport()
        self._seq = itertools.count()
        self._seq_lock = threading.Lock()
        self.errors = 0

    # --- the five kinds -------------------------------------------------------------------
    def input(self, type: str = "text", content: str = "", metadata: dict[str, Any] | None = None,
              level: str = "info") -> None:
        self._record("input", level, {"type": type, "content": content, "metadata": metadata or {}})

    def reasoning(self, thought: str, plan: list[str] | None = None, confidence: float | None = None,
                  level: str = "info") -> None:
        payload: dict[str, Any] = {"thought": thought, "plan": plan or []}
        if confidence is not None:
            payload["confidence"] = confidence
        self._record("reasoning", level, payload)

    def output(self, type: str = "text", content: str = "", tokens_used: int | None = None,
               model: str | None = None, cost: float | None = None, level: str = "info",
               trace: dict[str, str] | None = None) -> None:
        meta = {k: v for k, v in (("tokens_used", tokens_used), ("model", model), ("cost", cost))
                if v is not None}
        self._record("output", level, {"type": type, "content": content, "metadata": meta}, trace)

    def error(self, exc: BaseException | None = None, *, type: str | None = None, message: str = "",
              tool_name: str | None = None, recovery_action: str | None = None) -> None:
        payload: dict[str, Any] = {"type": type or (exc.__class__.__name__ if exc else "Error"),
                                   "message": message or (str(exc) if exc else "")}
        if exc is not None:
            payload["stack_trace"] = "".join(traceback.format_exception(exc))[-8000:]
        if tool_name:
            payload["tool_name"] = tool_name
        if recovery_action:
            payload["recovery_action"] = recovery_action
        self._record("error", "error", payload)

    def record_tool_call(self, tool_name: str, *, parameters: dict[str, Any] | None = None,
                         result: Any = None, status: str = "success", duration_ms: float = 0.0,
                         trace: dict[str, str] | None = None) -> None:
        """A tool call measured elsewhere (an OpenTelemetry span, a framework callback)."""
        payload: dict[str, Any] = {"tool_name": tool_name, "parameters": parameters or {},
                                   "status": status, "duration_ms": max(0.0, float(duration_ms))}
        if result is not None:
            payload["result"] = result if isinstance(result, dict) else {"value": result}
        self._record("tool_call", "error" if status == "error" else "info", payload, trace)

    @contextmanager
    def tool_call(self, tool_name: str, parameters: dict[str, Any] | None = None) -> Iterator[ToolCall]:
        """Times the block; an exception marks the call failed, is recorded, and propagates."""
        call = ToolCall()
        start = time.perf_counter()
        try:
            yield call
        except BaseException as exc:
            self.record_tool_call(tool_name, parameters=parameters, status="error",
                                  result={"error": f"{exc.__class__.__name__}: {exc}"},
                                  duration_ms=(time.perf_counter() - start) * 1000)
            raise
        self.record_tool_call(tool_name, parameters=parameters, result=call.result,
                              status=call.status or "success",
                              duration_ms=(time.perf_counter() - start) * 1000)

    def tool(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator for sync or async functions: each call becomes a tool_call event."""
        def wrap(fn: F) -> F:
            tool_name = name or fn.__name__
            if inspect.iscoroutinefunction(fn):
                @functools.wraps(fn)
                async def run_async(*args: Any, **kwargs: Any) -> Any:
                    with self.tool_call(tool_name, {"args": repr(args)[:500], **_params(kwargs)}) as c:
                        c.result = await fn(*args, **kwargs)
                    return c.result
                return run_async  # type: ignore[return-value]

            @functools.wraps(fn)
            def run(*args: Any, **kwargs: Any) -> Any:
                with self.tool_call(tool_name, {"args": repr(args)[:500], **_params(kwargs)}) as c:
                    c.result = fn(*args, **kwargs)
                return c.result
            return run  # type: ignore[return-value]
        return wrap

    def flush(self, timeout: float = 10.0) -> bool:
        return self.transport.flush(timeout)

    @staticmethod
    def flush_all(timeout: float = 10.0) -> bool:
        """Flush the process-wide default transport (what an exit hook calls)."""
        return _default_transport().flush(timeout)

    # --- internals ------------------------------------------------------------------------
    def _record(self, kind: str, level: str, payload: dict[str, Any],
                trace: dict[str, str] | None = None) -> None:
        if LEVELS.get(level, 20) < self.min_level:
            return
        try:
            with self._seq_lock:  # seq order is send order: a session's events stay ordered
                event = {
                    "schema_version": 1, "event_id": new_event_id(), "kind": kind, "level": level,
                    "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "session_id": self.session_id, "user_id": self.user_id, "agent": self.agent,
                    "seq": next(self._seq), "payload": payload,
                }
                if trace:  # OpenTelemetry ids: trace_id, span_id, parent_span_id
                    event.update(trace)
                self.transport.send(self.session_id, orjson.dumps(event, default=str))
        except Exception:  # never raise into the agent
            self.errors += 1
            if self.errors == 1:
                log.exception("audit.record_failed kind=%s (reported once per trail)", kind)


def _params(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, str | int | float | bool | type(None)) else repr(v)[:500]
            for k, v in kwargs.items()}
