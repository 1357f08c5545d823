"""The one table of every setting of every component, built from the modules that read them.

Each component documents its variables once, in its own module docstring (``core/settings.py``,
``core/kafka_security.py``, ``core/es_security.py``, ``sinks/archive/config.py``,
``producers/options.py``, ``producers/otlp/options.py``, ``kibana/importer.py``); the local stack's
and the tools' few variables are listed here. ``docs/settings.md`` is this table
(``agent-audit settings --markdown``), and ``tests/unit/test_settings_doc.py`` fails when the page
drifts or when the code reads a variable the table does not list.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

__all__ = ["COMPONENTS", "Setting", "markdown", "settings"]

COMPONENTS = (
    ("pipeline (stream, sink, CLI)", "agent_audit.core.settings"),
    ("Kafka security (every client)", "agent_audit.core.kafka_security"),
    ("Elasticsearch security (every client)", "agent_audit.core.es_security"),
    ("archive worker", "agent_audit.sinks.archive.config"),
    ("agent client", "agent_audit.producers.options"),
    ("OTLP receiver", "agent_audit.producers.otlp.options"),
    ("Kibana import", "agent_audit.kibana.importer"),
)
_LOCAL = (
    ("AUDIT_STACK_DIR", "<cache>/stack", "state of the local stack (data, logs, pids)"),
    ("AUDIT_CACHE_DIR", "~/.cache/agent-audit (root: /var/cache/agent-audit)",
     "downloads of the local stack (Kafka and Elasticsearch jars, about 140 MB)"),
    ("AUDIT_KAFKA_PORT", "9092", "the local Kafka's port (its controller takes the next one)"),
    ("AUDIT_ES_PORT", "9200", "the local Elasticsearch's port"),
    ("AUDIT_S3_PORT", "8333", "the local S3's (SeaweedFS) port"),
    ("AUDIT_SECURE_KAFKA_PORT", "9492", "the secured local Kafka's port (`stack up --secure`)"),
    ("ES_JAVA_HOME", "(JAVA_HOME, else java on PATH)", "JDK that runs the local Elasticsearch"),
    ("JAVA_HOME", "(java on PATH)", "JDK of the local stack"),
    ("AUDIT_ACTOR", "(the OS user)", "who is asking, recorded in the access log (``--actor`` wins)"),
    ("AUDIT_DEMO_LOGS", "(a new temp folder)", "where `agent-audit demo` writes the workers' logs"),
    ("AUDIT_KEEP_STACK", "(unset)", "1: `make test` leaves the local stack running"),
)


@dataclass(frozen=True)
class Setting:
    variable: str
    default: str
    meaning: str
    component: str


def _table(doc: str) -> list[tuple[str, str, str]]:
    """Rows of the RST simple table in a docstring: variable, default, meaning (continuations joined)."""
    lines = doc.splitlines()
    rules = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+", line.strip())]
    rows: list[list[str]] = []
    for line in lines[rules[1] + 1:rules[2]]:
        if not line.strip():
            continue
        if line[0].isspace():  # a continuation of the meaning
            rows[-1][2] += " " + line.strip()
            continue
        variable, rest = line.split(None, 1)
        default, _, meaning = rest.strip().partition("  ")
        rows.append([variable, default.strip(), meaning.strip()])
    return [(v, d, m) for v, d, m in rows]


def settings() -> list[Setting]:
    found = []
    for component, module in COMPONENTS:
        doc = importlib.import_module(module).__doc__ or ""
        found += [Setting(v, d, m, component) for v, d, m in _table(doc)]
    found += [Setting(v, d, m, "local stack and tools") for v, d, m in _LOCAL]
    return found


def markdown() -> str:
    out = ["| variable | component | default | meaning |", "|---|---|---|---|"]
    for s in settings():
        cells = (f"`{s.variable}`", s.component, s.default.replace("|", "\\|"), s.meaning.replace("|", "\\|"))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
