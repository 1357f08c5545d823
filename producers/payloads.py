"""Pure builders of the v1 payloads, one per kind, shaped so the stream's validation accepts them.

Cheap coercions only (the hot path cannot afford a pydantic validation): free text becomes a
string, a scalar or list tool result is wrapped as ``{"value": ...}``, anything orjson cannot encode
is written as its ``str``. What still breaks the contract (a confidence of 1.5) is rejected by the
stream with a reason on the dead-letter topic.
"""

from __future__ import annotations

import inspect
import traceback
from typing import Any

__all__ = [
    "as_object",
    "as_text",
    "call_parameters",
    "error_payload",
    "input_payload",
    "output_payload",
    "reasoning_payload",
    "tool_call_payload",
]

STACK_TRACE_CHARS = 8000  # the end of a trace holds the frame that failed: keep that part
_PLAIN = (str, int, float, bool, type(None), dict, list, tuple)


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def as_object(value: Any) -> dict[str, Any]:
    """Parameters, results and metadata are JSON objects in the contract: wrap anything else."""
    return value if isinstance(value, dict) else {"value": value}


def input_payload(type: str, content: Any, metadata: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": type, "content": as_text(content), "metadata": as_object(metadata or {})}


def reasoning_payload(thought: Any, plan: list[Any] | None, confidence: float | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"thought": as_text(thought), "plan": [as_text(p) for p in plan or ()]}
    if confidence is not None:
        payload["confidence"] = confidence
    return payload


def tool_call_payload(tool_name: str, parameters: Any, result: Any, status: str,
                      duration_ms: float, call_id: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"tool_name": tool_name, "parameters": as_object(parameters or {}),
                               "status": status, "duration_ms": max(0.0, float(duration_ms))}
    if result is not None:
        payload["result"] = as_object(result)
    if call_id:
        payload["call_id"] = call_id
    return payload


def output_payload(type: str, content: Any, tokens_used: int | None, model: str | None,
                   cost: float | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
    meta = dict(metadata or {})
    for key, value in (("tokens_used", tokens_used), ("model", model), ("cost", cost)):
        if value is not None:
            meta[key] = value
    return {"type": type, "content": as_text(content), "metadata": meta}


def error_payload(exc: BaseException | None, type: str | None, message: str | None,
                  tool_name: str | None, recovery_action: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": type or (exc.__class__.__name__ if exc is not None else "Error"),
        "message": message if message is not None else (str(exc) if exc is not None else ""),
    }
    if exc is not None:
        payload["stack_trace"] = "".join(traceback.format_exception(exc))[-STACK_TRACE_CHARS:]
    if tool_name:
        payload["tool_name"] = tool_name
    if recovery_action:
        payload["recovery_action"] = recovery_action
    return payload


def call_parameters(signature: inspect.Signature | None, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> dict[str, Any]:
    """A decorated function's arguments by parameter name (``self``/``cls`` left out)."""
    if signature is not None:
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError:
            pass  # the call itself is wrong: the function raises, we still record what was passed
        else:
            params: dict[str, Any] = {}
            for name, value in bound.arguments.items():
                kind = signature.parameters[name].kind
                if name in ("self", "cls"):
                    continue
                if kind is inspect.Parameter.VAR_KEYWORD:
                    params.update({k: _plain(v) for k, v in value.items()})
                elif kind is inspect.Parameter.VAR_POSITIONAL:
                    params[name] = [_plain(v) for v in value]
                else:
                    params[name] = _plain(value)
            return params
    params = {k: _plain(v) for k, v in kwargs.items()}
    if args:
        params["args"] = [_plain(a) for a in args]
    return params


def _plain(value: Any) -> Any:
    # Containers are the agent's own data; other objects (clients, frames) become a short repr.
    return value if isinstance(value, _PLAIN) else repr(value)[:500]
