"""What the stream computed during the demo, read back from Elasticsearch: the windowed metrics per
tool (calls, error rate, p50/p95 from the stream's sketches) and the alerts that fired.

Windows close on event time plus grace (or the stream's idle timer), so the view waits until the
window holding the run's last event has been written, within a bound.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

__all__ = ["print_alerts", "print_tool_windows", "wait_for_alerts", "wait_for_window"]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _search(es: Any, index: str, query: dict[str, Any], size: int, sort: list[Any]) -> list[dict[str, Any]]:
    if not es.indices.exists_alias(name=index):
        return []
    es.indices.refresh(index=index)
    hits = es.search(index=index, query=query, size=size, sort=sort)["hits"]["hits"]
    return [h["_source"] for h in hits]


def _tool_windows_since(epoch: float) -> dict[str, Any]:
    since = {"range": {"window_start": {"gte": _iso(epoch)}}}
    return {"bool": {"filter": [{"term": {"type": "tool"}}, since]}}


def wait_for_window(es: Any, prefix: str, last_event: float, window_s: int, timeout: float = 90.0) -> bool:
    """True once a tool record of the window holding ``last_event`` is in the metrics index."""
    query = _tool_windows_since(last_event // window_s * window_s)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _search(es, f"{prefix}-metrics", query, 1, []):
            return True
        time.sleep(1.0)
    return False


def print_tool_windows(es: Any, prefix: str, since: float, limit: int = 16) -> None:
    rows = _search(es, f"{prefix}-metrics", _tool_windows_since(since), limit, [{"calls": "desc"}])
    print("\nWhat the stream computed per tool and window (agent.metrics -> "
          f"{prefix}-metrics; p50/p95 from its sketches)")
    print("  window (UTC)     tool                calls  errors  error rate   p50 ms    p95 ms")
    for r in sorted(rows, key=lambda r: (r["window_start"], -r["calls"])):
        lat = r.get("latency_ms") or {}
        window = f"{r['window_start'][11:19]}-{r['window_end'][11:19]}"
        print(f"  {window}  {r['tool']:<18} {r['calls']:>6} {r['errors']:>7} {r['error_rate']:>10.0%} "
              f"{lat.get('p50', 0):>8.1f} {lat.get('p95', 0):>9.1f}")
    if not rows:
        print("  (no window closed yet)")


def wait_for_alerts(es: Any, prefix: str, since: float, wait_s: float = 15.0) -> list[dict[str, Any]]:
    """The alerts of windows since ``since``, waiting up to ``wait_s`` for the first to be indexed."""
    query = {"range": {"window_start": {"gte": _iso(since)}}}
    deadline = time.monotonic() + wait_s
    rows = _search(es, f"{prefix}-alerts", query, 20, [{"window_start": "asc"}])
    while not rows and time.monotonic() < deadline:
        time.sleep(1.0)
        rows = _search(es, f"{prefix}-alerts", query, 20, [{"window_start": "asc"}])
    return rows


def print_alerts(prefix: str, rows: list[dict[str, Any]]) -> None:
    print(f"\nAlerts the stream raised (agent.alerts -> {prefix}-alerts)")
    for a in rows:
        print(f"  {a['status']:<9} {a['rule']:<18} {a['subject']:<18} value {a['value']:.3g} "
              f"> threshold {a['threshold']:.3g}  window {a['window_start'][11:19]}")
    if not rows:
        print("  (none fired)")
