"""Lens building blocks: columns of the form-based datasource, one layer per visualization, and the
saved object around them (``type: lens``, typeMigrationVersion 8.9.0, its data view a reference)."""

from __future__ import annotations

from typing import Any

__all__ = ["CORE_MIGRATION", "date_histogram", "formula_ratio", "lens_object", "metric", "terms"]

CORE_MIGRATION = "8.8.0"  # coreMigrationVersion of every 8.x export since saved objects got model versions
LAYER = "layer-1"


def date_histogram(field: str, label: str = "Time") -> dict[str, Any]:
    return {"label": label, "dataType": "date", "operationType": "date_histogram", "sourceField": field,
            "isBucketed": True, "scale": "interval", "customLabel": True,
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}


def terms(field: str, label: str, order_by: str, size: int = 10) -> dict[str, Any]:
    """Top ``size`` values by the metric column ``order_by`` (not alphabetical)."""
    return {"label": label, "dataType": "string", "operationType": "terms", "sourceField": field,
            "isBucketed": True, "scale": "ordinal", "customLabel": True,
            "params": {"size": size, "orderBy": {"type": "column", "columnId": order_by},
                       "orderDirection": "desc", "otherBucket": True, "missingBucket": False,
                       "parentFormat": {"id": "terms"}}}


def metric(operation: str, field: str, label: str, fmt: str = "number") -> dict[str, Any]:
    return {"label": label, "dataType": "number", "operationType": operation, "sourceField": field,
            "isBucketed": False, "scale": "ratio", "customLabel": True,
            "params": {"emptyAsNull": True, "format": {"id": fmt, "params": {"decimals": 2}}}}


def formula_ratio(column_id: str, numerator: str, denominator: str, label: str) -> dict[str, dict[str, Any]]:
    """``sum(numerator) / sum(denominator)`` as Lens stores a formula: the formula column, two hidden
    sums and the math column joining them."""
    text = f"sum({numerator}) / sum({denominator})"
    x0, x1, x2 = (f"{column_id}X{i}" for i in range(3))
    part = {"dataType": "number", "isBucketed": False, "scale": "ratio", "customLabel": True,
            "label": f"Part of {label}"}
    return {
        column_id: {"label": label, "dataType": "number", "operationType": "formula", "isBucketed": False,
                    "scale": "ratio", "customLabel": True, "references": [x2],
                    "params": {"formula": text, "isFormulaBroken": False,
                               "format": {"id": "percent", "params": {"decimals": 1}}}},
        x0: {**part, "operationType": "sum", "sourceField": numerator, "params": {"emptyAsNull": False}},
        x1: {**part, "operationType": "sum", "sourceField": denominator, "params": {"emptyAsNull": False}},
        x2: {**part, "operationType": "math", "references": [x0, x1],
             "params": {"tinymathAst": {"type": "function", "name": "divide", "args": [x0, x1],
                                        "location": {"min": 0, "max": len(text)}, "text": text}}},
    }


def lens_object(object_id: str, title: str, data_view: str, visualization_type: str,
                columns: dict[str, dict[str, Any]], visualization: dict[str, Any],
                query: str = "", description: str = "") -> dict[str, Any]:
    state = {
        "visualization": visualization,
        "query": {"query": query, "language": "kuery"},
        "filters": [],
        "datasourceStates": {"formBased": {"layers": {LAYER: {
            "columns": columns, "columnOrder": list(columns), "incompleteColumns": {}, "sampling": 1}}}},
        "internalReferences": [],
        "adHocDataViews": {},
    }
    return {
        "id": object_id, "type": "lens", "managed": False,
        "coreMigrationVersion": CORE_MIGRATION, "typeMigrationVersion": "8.9.0",
        "attributes": {"title": title, "description": description,
                       "visualizationType": visualization_type, "state": state},
        "references": [{"type": "index-pattern", "id": data_view,
                        "name": f"indexpattern-datasource-layer-{LAYER}"}],
    }
