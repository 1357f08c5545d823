"""Daily data indices (``{prefix}-{family}-YYYY.MM.DD``): found by name, whatever the family.

The family is one word (no ``-``), so another deployment's prefix that merely starts with ours
(``agent-eu`` beside ``agent``) is never mistaken for one of our families.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from elasticsearch import Elasticsearch

__all__ = ["DailyIndex", "daily_indices", "indices_with_field", "parse_daily_index", "sealed_indices"]


@dataclass(frozen=True, order=True)
class DailyIndex:
    day: date
    family: str
    name: str

    def age_days(self, today: date) -> int:
        return (today - self.day).days


def parse_daily_index(name: str, prefix: str) -> DailyIndex | None:
    m = re.fullmatch(re.escape(prefix) + r"-([a-z0-9_]+)-(\d{4})\.(\d{2})\.(\d{2})", name)
    if m is None:
        return None
    try:
        day = date(int(m[2]), int(m[3]), int(m[4]))
    except ValueError:  # 2026.13.40: not one of ours
        return None
    return DailyIndex(day, m[1], name)


def daily_indices(es: Elasticsearch, prefix: str) -> list[DailyIndex]:
    """Open daily indices of this prefix, oldest first."""
    names = es.indices.get_settings(index=f"{prefix}-*", name="index.uuid", expand_wildcards="open",
                                    allow_no_indices=True)
    found = (parse_daily_index(name, prefix) for name in names)
    return sorted(d for d in found if d is not None)


def sealed_indices(es: Elasticsearch, prefix: str) -> set[str]:
    """Indices of this prefix that refuse writes (``index.blocks.write: true``)."""
    resp = es.indices.get_settings(index=f"{prefix}-*", name="index.blocks.write",
                                   expand_wildcards="open", allow_no_indices=True)
    return {name for name, body in resp.items()
            if str(body.get("settings", {}).get("index", {}).get("blocks", {}).get("write")) == "true"}


def indices_with_field(es: Elasticsearch, prefix: str, field: str) -> set[str]:
    """Indices of this prefix whose mapping has ``field`` (families differ in shape)."""
    # A wildcard rather than a list of names: a long list would not fit in the request line.
    resp = es.indices.get_field_mapping(index=f"{prefix}-*", fields=field, expand_wildcards="open",
                                        allow_no_indices=True)
    return {name for name, body in resp.items() if body.get("mappings")}
