"""``agent_audit.core`` is pure: importing all of it loads no Kafka, Faust, Elasticsearch or HTTP
client, and no module of it imports socket-level networking code itself.

The import check runs in a fresh interpreter, so what other tests imported cannot hide a leak.
(The stdlib ``socket`` module itself does get loaded, by ``email.utils`` under
``importlib.metadata`` which pydantic consults: that is the standard library's bookkeeping, not
network code of ours, so the rule on sockets is held on core's own sources.)
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).parents[2] / "core"

# Top-level names of network clients and of what they stand on.
FORBIDDEN_PACKAGES = {
    "confluent_kafka", "kafka", "aiokafka", "faust", "mode", "elasticsearch", "elastic_transport",
    "aiohttp", "httpx", "httpcore", "requests", "urllib3", "grpc", "boto3", "botocore",
    "opentelemetry", "uvloop", "ssl", "_ssl", "asyncio", "smtplib", "ftplib",
}
FORBIDDEN_MODULES = {"http.client", "http.server", "urllib.request", "xmlrpc.client"}
# What core's own code must never import, even when something else already loaded it.
NETWORK_IMPORTS = {"socket", "ssl", "selectors", "asyncio", "http", "urllib.request", "socketserver"}

_PROBE = """
import importlib, json, pkgutil, sys
import agent_audit.core as core
names = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "agent_audit.core."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def _probe() -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_importing_all_of_core_loads_no_kafka_faust_elasticsearch_or_http_client() -> None:
    """Every module under agent_audit.core, imported in a fresh interpreter, leaves none of the
    network clients (nor ssl, asyncio, http.client, urllib.request) in sys.modules."""
    probe = _probe()
    assert len(probe["imported"]) >= 20  # the walk found the package, not an empty shell
    leaked = sorted(m for m in probe["loaded"]
                    if m.split(".")[0] in FORBIDDEN_PACKAGES or m in FORBIDDEN_MODULES)
    assert leaked == []


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_core_imports_networking_code() -> None:
    """No source file in core/ imports socket, ssl, selectors, asyncio, http, urllib.request, nor any
    network client package: the pure layer cannot open a connection."""
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for name in _imported_names(path):
            top = name.split(".")[0]
            if name in NETWORK_IMPORTS or top in NETWORK_IMPORTS or top in FORBIDDEN_PACKAGES:
                offenders.append(f"{path.relative_to(CORE.parent)}: {name}")
    assert offenders == []
