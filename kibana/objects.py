"""The dashboard of the audit trail for one index prefix: three data views (events, metrics, alerts),
Lens panels read from the stream's metrics index (per-tool p50/p95/p99 latency, error rate, top tools
by calls), the alerts that fired and a session timeline as saved searches, and the dashboard itself.

Ids and titles carry the prefix, so two prefixes (tenants, test runs) never overwrite each other.
Tools are ranked by calls, never alphabetically. Percentiles come from the stream's per-window
sketches (1% relative error): a panel shows each window's value, it does not merge windows.
"""

from __future__ import annotations

import json
from typing import Any

from agent_audit.kibana.lens import CORE_MIGRATION, date_histogram, formula_ratio, lens_object, metric, terms

__all__ = ["saved_objects", "to_ndjson"]

TOOL_RECORDS = "type : tool"


def _data_views(prefix: str) -> list[dict[str, Any]]:
    views = (("events", "timestamp", "Agent audit events"),
             ("metrics", "window_start", "Agent audit metrics"),
             ("alerts", "since", "Agent audit alerts"))
    return [{"id": f"{prefix}-{family}", "type": "index-pattern", "managed": False,
             "coreMigrationVersion": CORE_MIGRATION, "typeMigrationVersion": "8.0.0",
             "attributes": {"title": f"{prefix}-{family}*", "name": f"{name} ({prefix})",
                            "timeFieldName": time_field},
             "references": []} for family, time_field, name in views]


def _xy(layer_type: str, x: str, ys: list[str], split: str | None = None) -> dict[str, Any]:
    layer = {"layerId": "layer-1", "layerType": "data", "seriesType": layer_type, "xAccessor": x,
             "accessors": ys}
    if split:
        layer["splitAccessor"] = split
    return {"legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide",
            "preferredSeriesType": layer_type, "fittingFunction": "None", "layers": [layer]}


def _latency_over_time(prefix: str, pct: str) -> dict[str, Any]:
    columns = {"col-time": date_histogram("window_start"),
               "col-tool": terms("tool", "Tool", order_by="col-calls"),
               "col-lat": metric("max", f"latency_ms.{pct}", f"{pct} latency (ms)"),
               "col-calls": metric("sum", "calls", "Calls")}
    return lens_object(f"{prefix}-tool-latency-{pct}", f"Tool latency {pct} per window (ms) - {prefix}",
                       f"{prefix}-metrics", "lnsXY", columns,
                       _xy("line", "col-time", ["col-lat"], "col-tool"), query=TOOL_RECORDS,
                       description=f"Each window's {pct} from the stream's sketch, top 10 tools by calls")


def _error_rate_over_time(prefix: str) -> dict[str, Any]:
    columns = {"col-time": date_histogram("window_start"),
               "col-tool": terms("tool", "Tool", order_by="col-calls"),
               **formula_ratio("col-rate", "errors", "calls", "Error rate"),
               "col-calls": metric("sum", "calls", "Calls")}
    return lens_object(f"{prefix}-tool-error-rate", f"Tool error rate - {prefix}", f"{prefix}-metrics",
                       "lnsXY", columns, _xy("line", "col-time", ["col-rate"], "col-tool"),
                       query=TOOL_RECORDS, description="errors / calls per window, top 10 tools by calls")


def _tool_table(prefix: str) -> dict[str, Any]:
    columns = {"col-tool": terms("tool", "Tool", order_by="col-calls", size=25),
               "col-calls": metric("sum", "calls", "Calls"),
               "col-errors": metric("sum", "errors", "Errors"),
               **formula_ratio("col-rate", "errors", "calls", "Error rate"),
               **{f"col-{p}": metric("max", f"latency_ms.{p}", f"Worst window {p} (ms)")
                  for p in ("p50", "p95", "p99")}}
    visible = ["col-tool", "col-calls", "col-errors", "col-rate", "col-p50", "col-p95", "col-p99"]
    table = {"layerId": "layer-1", "layerType": "data", "columns": [{"columnId": c} for c in visible]}
    return lens_object(f"{prefix}-tool-table", f"Tools: calls, error rate, p50/p95/p99 - {prefix}",
                       f"{prefix}-metrics", "lnsDatatable", columns, table, query=TOOL_RECORDS)


def _top_tools(prefix: str) -> dict[str, Any]:
    columns = {"col-tool": terms("tool", "Tool", order_by="col-calls"),
               "col-calls": metric("sum", "calls", "Calls")}
    return lens_object(f"{prefix}-top-tools", f"Top tools by calls - {prefix}", f"{prefix}-metrics", "lnsXY",
                       columns, _xy("bar_horizontal", "col-tool", ["col-calls"]), query=TOOL_RECORDS)


def _saved_search(object_id: str, title: str, data_view: str, columns: list[str],
                  sort: list[list[str]], query: str = "") -> dict[str, Any]:
    source = {"query": {"query": query, "language": "kuery"}, "filter": [],
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return {"id": object_id, "type": "search", "managed": False, "coreMigrationVersion": CORE_MIGRATION,
            "typeMigrationVersion": "10.5.0",
            "attributes": {"title": title, "description": "", "columns": columns, "sort": sort,
                           "grid": {}, "hideChart": True, "isTextBasedQuery": False,
                           "timeRestore": False, "usesAdHocDataView": False,
                           "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}},
            "references": [{"type": "index-pattern", "id": data_view,
                            "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}]}


def _searches(prefix: str) -> list[dict[str, Any]]:
    return [
        _saved_search(f"{prefix}-alerts-fired", f"Alerts - {prefix}", f"{prefix}-alerts",
                      ["status", "rule", "kind", "subject", "value", "threshold", "window_end"],
                      [["since", "desc"]]),
        _saved_search(f"{prefix}-session-timeline", f"Session timeline (filter on session_id) - {prefix}",
                      f"{prefix}-events",
                      ["session_id", "seq", "kind", "level", "agent.name", "payload.tool_name",
                       "payload.status", "payload.duration_ms", "payload.type"],
                      [["session_id", "asc"], ["seq", "asc"]]),
    ]


def _dashboard(prefix: str, panels: list[tuple[str, str, int, int, int, int]]) -> dict[str, Any]:
    panel_json, references = [], []
    for i, (kind, object_id, x, y, w, h) in enumerate(panels, start=1):
        index = f"p{i}"
        panel_json.append({"type": kind, "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                           "panelIndex": index, "embeddableConfig": {"enhancements": {}},
                           "panelRefName": f"panel_{index}"})
        references.append({"type": kind, "id": object_id, "name": f"{index}:panel_{index}"})
    search_source = {"query": {"query": "", "language": "kuery"}, "filter": []}
    return {"id": f"{prefix}-dashboard", "type": "dashboard", "managed": False,
            "coreMigrationVersion": CORE_MIGRATION, "typeMigrationVersion": "10.2.0",
            "attributes": {"title": f"Agent audit - {prefix}", "description": "Per-tool latency and error "
                           "rate from the stream's windows, top tools, alerts, session timeline",
                           "timeRestore": True, "timeFrom": "now-24h", "timeTo": "now",
                           "refreshInterval": {"pause": False, "value": 60_000},
                           "optionsJSON": json.dumps({"useMargins": True, "syncColors": False,
                                                      "syncCursor": True, "syncTooltips": False,
                                                      "hidePanelTitles": False}),
                           "panelsJSON": json.dumps(panel_json),
                           "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search_source)}},
            "references": references}


def saved_objects(prefix: str) -> list[dict[str, Any]]:
    """Every object, data views first and the dashboard last (the order an export lists them)."""
    lenses = [_latency_over_time(prefix, p) for p in ("p50", "p95", "p99")]
    lenses += [_error_rate_over_time(prefix), _tool_table(prefix), _top_tools(prefix)]
    searches = _searches(prefix)
    layout = [("lens", lenses[4]["id"], 0, 0, 48, 12),
              ("lens", lenses[1]["id"], 0, 12, 24, 14), ("lens", lenses[3]["id"], 24, 12, 24, 14),
              ("lens", lenses[0]["id"], 0, 26, 16, 12), ("lens", lenses[2]["id"], 16, 26, 16, 12),
              ("lens", lenses[5]["id"], 32, 26, 16, 12),
              ("search", searches[0]["id"], 0, 38, 48, 12), ("search", searches[1]["id"], 0, 50, 48, 16)]
    return [*_data_views(prefix), *lenses, *searches, _dashboard(prefix, layout)]


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, sort_keys=True) + "\n" for o in objects)
