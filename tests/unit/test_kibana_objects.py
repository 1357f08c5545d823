"""The Kibana saved objects shipped in kibana/ are importable: valid NDJSON, every reference resolves."""

from __future__ import annotations

import json
from pathlib import Path

from agent_audit.sinks.indices import events_template

OBJECTS = Path(__file__).parents[2] / "kibana" / "agent-audit.ndjson"


def _objects() -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in OBJECTS.read_text().splitlines() if line.strip()]


def test_every_reference_points_at_a_shipped_object() -> None:
    """Dashboard panels and visualizations refer only to objects in the same file."""
    objs = _objects()
    ids = {(o["type"], o["id"]) for o in objs}
    for o in objs:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in ids, ref
    assert {"dashboard", "visualization", "index-pattern"} <= {o["type"] for o in objs}


def test_visualizations_use_fields_the_index_template_maps() -> None:
    """Each aggregation field exists in the events mapping with an aggregatable type."""
    props = events_template("agent")["template"]["mappings"]["properties"]

    def field_type(path: str) -> str:
        node = {"properties": props}
        for part in path.split("."):
            node = node["properties"][part]
        return str(node["type"])

    for o in _objects():
        if o["type"] != "visualization":
            continue
        for agg in json.loads(o["attributes"]["visState"])["aggs"]:
            field = agg["params"].get("field")
            if field:
                assert field_type(field) in {"keyword", "date", "double", "long", "float"}, field
