"""The Kibana saved objects have the shape Kibana 8.19 exports and import as a whole: Lens (no legacy
visualizations), migration versions on every object, references that resolve, fields the index
templates map, tools ranked by calls; titles and ids follow the index prefix; the shipped NDJSON is
the builder's output; an import Kibana answers with ``success: false`` is a failure with reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_audit.kibana.importer import parse_import_response
from agent_audit.kibana.objects import saved_objects, to_ndjson
from agent_audit.sinks.indices import alerts_template, events_template, metrics_template

SHIPPED = Path(__file__).parents[2] / "kibana" / "agent-audit.ndjson"
# typeMigrationVersion of each type as Kibana 8.19 exports it (coreMigrationVersion is 8.8.0 for all).
TYPE_VERSIONS = {"index-pattern": "8.0.0", "lens": "8.9.0", "search": "10.5.0", "dashboard": "10.2.0"}
AGGREGATABLE = {"keyword", "date", "double", "long", "float", "short"}


def _mapping(prefix: str, family: str) -> dict[str, Any]:
    template = {"events": events_template, "metrics": metrics_template, "alerts": alerts_template}[family]
    return template(prefix)["template"]["mappings"]["properties"]  # type: ignore[no-any-return]


def _field_type(props: dict[str, Any], path: str) -> str:
    node: dict[str, Any] = {"properties": props}
    for part in path.split("."):
        node = node["properties"][part]
    return str(node["type"])


def _by_type(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] == kind]


def test_every_object_carries_the_819_export_envelope() -> None:
    """id, type, attributes, references, coreMigrationVersion 8.8.0 and the type's typeMigrationVersion;
    no legacy visualization objects and no legacy migrationVersion field."""
    objects = saved_objects("agent")
    assert {o["type"] for o in objects} == set(TYPE_VERSIONS)
    for o in objects:
        assert {"id", "type", "attributes", "references", "managed"} <= set(o)
        assert "migrationVersion" not in o
        assert (o["coreMigrationVersion"], o["typeMigrationVersion"]) == ("8.8.0", TYPE_VERSIONS[o["type"]])


def test_every_reference_resolves_and_dashboard_panels_name_theirs() -> None:
    """Each reference points at an object of the set; each dashboard panel's panelRefName matches a
    reference named '<panelIndex>:panel_<panelIndex>' of the panel's type."""
    objects = saved_objects("agent")
    ids = {(o["type"], o["id"]) for o in objects}
    for o in objects:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, ref
    (dashboard,) = _by_type(objects, "dashboard")
    refs = {r["name"]: r for r in dashboard["references"]}
    for panel in json.loads(dashboard["attributes"]["panelsJSON"]):
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref["type"] == panel["type"]
        assert panel["gridData"]["i"] == panel["panelIndex"]
        assert panel["gridData"]["x"] >= 0 and panel["gridData"]["x"] + panel["gridData"]["w"] <= 48


def test_lens_layers_are_well_formed_and_use_mapped_fields() -> None:
    """Each Lens layer has its data view reference, columnOrder lists its columns, formulas refer to
    existing columns, accessors name columns, every source field is aggregatable in the metrics
    template, and every terms column ranks by a metric column (never alphabetically)."""
    props = _mapping("agent", "metrics")
    for lens in _by_type(saved_objects("agent"), "lens"):
        state = lens["attributes"]["state"]
        assert lens["attributes"]["visualizationType"] in {"lnsXY", "lnsDatatable"}
        layers = state["datasourceStates"]["formBased"]["layers"]
        names = {f"indexpattern-datasource-layer-{k}" for k in layers}
        assert {r["name"] for r in lens["references"]} == names
        assert all(r["id"] == "agent-metrics" for r in lens["references"])
        for layer in layers.values():
            columns = layer["columns"]
            assert layer["columnOrder"] == list(columns)
            for column in columns.values():
                assert {"operationType", "dataType", "isBucketed", "label"} <= set(column)
                assert set(column.get("references", [])) <= set(columns)
                field = column.get("sourceField")
                if field:
                    assert _field_type(props, field) in AGGREGATABLE, field
                if column["operationType"] == "terms":
                    order = column["params"]["orderBy"]
                    assert order["type"] == "column" and not columns[order["columnId"]]["isBucketed"]
            visual = state["visualization"]
            for vis_layer in visual.get("layers", [visual]):
                used = [vis_layer.get("xAccessor"), vis_layer.get("splitAccessor"),
                        *vis_layer.get("accessors", []),
                        *(c["columnId"] for c in vis_layer.get("columns", []))]
                assert {u for u in used if u} <= set(columns)


def test_the_dashboard_has_the_promised_panels() -> None:
    """Per-tool p50/p95/p99 latency and error rate from the metrics index, top tools by calls, the
    alerts and a session timeline (saved searches over alerts and events)."""
    objects = saved_objects("agent")
    titles = " | ".join(o["attributes"]["title"] for o in objects)
    for wanted in ("latency p50", "latency p95", "latency p99", "error rate", "Top tools by calls",
                   "Alerts", "Session timeline", "p50/p95/p99"):
        assert wanted in titles, wanted
    searches = {o["id"]: o for o in _by_type(objects, "search")}
    for search_id, family in (("agent-alerts-fired", "alerts"), ("agent-session-timeline", "events")):
        props = _mapping("agent", family)
        for column in searches[search_id]["attributes"]["columns"]:
            _field_type(props, column)  # raises KeyError if the template does not map it
        source = json.loads(searches[search_id]["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["indexRefName"] == searches[search_id]["references"][0]["name"]


def test_titles_and_ids_follow_the_index_prefix() -> None:
    """With AUDIT_INDEX_PREFIX=acme the data views read acme-events*, acme-metrics*, acme-alerts*, every
    id and title carries acme, and nothing of the default prefix remains."""
    objects = saved_objects("acme")
    views = {o["attributes"]["title"] for o in _by_type(objects, "index-pattern")}
    assert views == {"acme-events*", "acme-metrics*", "acme-alerts*"}
    assert all(o["id"].startswith("acme-") and "acme" in o["attributes"]["title"] for o in objects)
    assert "agent-" not in to_ndjson(objects)


def test_the_shipped_ndjson_is_the_builders_output_for_the_default_prefix() -> None:
    """kibana/agent-audit.ndjson (what docker-compose imports) cannot drift from the builder."""
    assert SHIPPED.read_text() == to_ndjson(saved_objects("agent"))


@pytest.mark.parametrize(("status", "body", "success", "errors"), [
    (200, b'{"success": true, "successCount": 12}', True, 0),
    (200, b'{"success": false, "successCount": 10, "errors": [{"id": "agent-top-tools", "type": "lens", '
          b'"title": "Top tools", "error": {"type": "missing_references", "references": '
          b'[{"type": "index-pattern", "id": "agent-metrics"}]}}]}', False, 1),
    (401, b'{"statusCode": 401, "message": "Unauthorized"}', False, 1),
])
def test_an_import_is_done_only_when_kibana_says_success(status: int, body: bytes, success: bool,
                                                         errors: int) -> None:
    """HTTP 200 with success: false is a failure listing each refused object and why; so is a 401."""
    report = parse_import_response(status, body)
    assert (report.success, len(report.errors)) == (success, errors)
    if errors and status == 200:
        expected = "lens agent-top-tools (Top tools): missing_references index-pattern:agent-metrics"
        assert expected in report.errors
