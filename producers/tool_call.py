"""``ToolCall``: one timed tool call, as ``with``, ``async with``, or a decorator of sync/async functions.

The block's (or the call's) duration is measured with ``perf_counter``. Leaving normally records a
``tool_call`` with ``status`` success (or what the caller set) and ``result``; leaving by an
exception records ``status=error`` with the exception's type and message as the result, then an
``error`` event with the stack trace, and lets the exception propagate unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from agent_audit.producers.payloads import as_object, call_parameters

if TYPE_CHECKING:
    from agent_audit.producers.trail import AuditTrail

__all__ = ["ToolCall", "open_call"]

F = TypeVar("F", bound=Callable[..., Any])
_new = object.__new__


def open_call(trail: AuditTrail, tool_name: str | None = None, parameters: dict[str, Any] | None = None,
              *, level: str = "info") -> ToolCall:
    """``with``/``async with trail.tool_call(name, params) as call: call.result = ...``, or
    ``@trail.tool_call(name)`` on a sync or async function.

    ``AuditTrail.tool_call`` is this function itself, and it fills the slots without ``__init__``:
    ``ToolCall(...)`` goes through ``type()`` and a call from C into Python, and a wrapper method
    would add a frame; together about 0.1 µs of every ``with`` block.
    """
    call = _new(ToolCall)
    call._trail = trail
    call.tool_name = tool_name
    call.parameters = parameters
    call.level = level
    call.result = None
    call.status = None
    call._started = 0.0
    return call


class ToolCall:
    __slots__ = ("_started", "_trail", "level", "parameters", "result", "status", "tool_name")

    def __init__(self, trail: AuditTrail, tool_name: str | None, parameters: dict[str, Any] | None = None,
                 level: str = "info") -> None:
        self._trail = trail
        self.tool_name = tool_name
        self.parameters = parameters
        self.level = level
        self.result: Any = None
        self.status: str | None = None  # set "error" for a tool that failed without raising
        self._started = 0.0  # the same fields as ``open_call`` sets (a test holds them equal)

    # --- context manager, sync and async -------------------------------------------------
    def __enter__(self) -> ToolCall:
        self._started = perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        duration_ms = (perf_counter() - self._started) * 1000
        if exc is not None:
            self._trail._record_failed_call(self, duration_ms, exc)  # a friend class
            return
        # The path of every call that returns, flattened into this one frame: the payload is built
        # here and goes straight to the trail's _record (what ``tool_call_payload`` would give).
        try:
            params, result, status = self.parameters, self.result, self.status or "success"
            payload = {"tool_name": self.tool_name or "tool",
                       "parameters": params if type(params) is dict else as_object(params or {}),
                       "status": status, "duration_ms": duration_ms}
            if result is not None:
                payload["result"] = result if type(result) is dict else as_object(result)
        except Exception:  # parameters whose truth value raises (an array): never into the agent
            self._trail._failed("tool_call")
            return
        self._trail._record("tool_call", "error" if status == "error" else self.level, payload)

    async def __aenter__(self) -> ToolCall:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator -------------------------------------------------------------------------
    def __call__(self, fn: F) -> F:
        """Each call of ``fn`` becomes a tool call named after this one (or after ``fn``)."""
        trail, level, fixed = self._trail, self.level, self.parameters or {}
        name = self.tool_name or getattr(fn, "__name__", "tool")
        try:
            signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None

        def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToolCall:
            try:
                params = {**fixed, **call_parameters(signature, args, kwargs)}
            except Exception:  # a hostile __repr__ in the arguments must not break the agent's call
                params = dict(fixed)
            return ToolCall(trail, name, params, level)

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with begin(args, kwargs) as call:
                    call.result = await fn(*args, **kwargs)
                return call.result

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with begin(args, kwargs) as call:
                call.result = fn(*args, **kwargs)
            return call.result

        return run  # type: ignore[return-value]
