"""What every benchmark shares: the real stack, a fresh namespace, a table, and the JSON last line.

Benchmarks print figures beside a baseline measured in the same run; they never assert times.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from agent_audit.core.settings import Settings
from agent_audit.stack.namespace import drop_namespace

__all__ = ["emit", "fresh_settings", "table"]


@contextmanager
def fresh_settings(**overrides: str) -> Iterator[Settings]:
    """Settings on the running stack (or one started here, stopped after) with topics of their own."""
    started = None
    env = dict(os.environ)
    if not (env.get("KAFKA_BOOTSTRAP") and env.get("ES_URL")):
        from agent_audit.stack import LocalStack  # noqa: PLC0415

        local = LocalStack.from_env()
        if not (local.kafka.running() and local.elasticsearch.running()):
            started = local
        local.up()
        env.update(local.env())
    tag = uuid.uuid4().hex[:8]
    env.update({"AUDIT_TOPIC_PREFIX": f"b{tag}.", "AUDIT_INDEX_PREFIX": f"b{tag}-agent",
                "AUDIT_STREAM_APP_ID": f"b{tag}-stream", "AUDIT_SINK_GROUP": f"b{tag}-sink", **overrides})
    from agent_audit.stream.topics import create_topics  # noqa: PLC0415

    settings = Settings.from_env(env)
    create_topics(settings)
    try:
        yield settings
    finally:
        drop_namespace(settings)  # a kept stack must not pile up every run's topics and indices
        if started is not None:
            started.down()


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[f"{c:,.1f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in cells:
        pairs = enumerate(zip(row, widths, strict=True))
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs))


def emit(figures: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object of its figures."""
    print(orjson.dumps(figures).decode())
