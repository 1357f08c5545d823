"""The client (``from agent_audit import AuditTrail``, ``agent_audit.producers``) imports nothing of
the server: no faust, elasticsearch, pydantic, aiokafka, prometheus client, nor our own stream,
sinks, stack or CLI. A plain ``pip install agent-audit`` (confluent-kafka and orjson) is enough.

Checked in a fresh interpreter, so modules other tests imported cannot hide a leak.
"""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_PACKAGES = {"faust", "mode", "elasticsearch", "elastic_transport", "pydantic", "pydantic_core",
                   "aiokafka", "aiohttp", "prometheus_client", "cramjam", "faker", "rich"}
SERVER_OURS = ("agent_audit.stream", "agent_audit.sinks", "agent_audit.stack", "agent_audit.cli",
               "agent_audit.demo", "agent_audit.core.contract")


def _loaded_after(code: str) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _server_modules(loaded: list[str]) -> list[str]:
    return [m for m in loaded if m.split(".")[0] in SERVER_PACKAGES or m.startswith(SERVER_OURS)]


def test_the_top_level_import_and_a_recorded_event_load_nothing_of_the_server() -> None:
    """``from agent_audit import AuditTrail`` and recording into an in-memory transport load only
    the client: no server package, none of our server-side modules."""
    loaded = _loaded_after(
        "from agent_audit import AuditTrail, MemoryTransport\n"
        "t = MemoryTransport()\n"
        "trail = AuditTrail(session_id='s', user_id='u', agent='a', transport=t)\n"
        "trail.input('text', content='hi')\n"
        "with trail.tool_call('lookup', {'q': 1}) as call:\n"
        "    call.result = {'ok': True}\n"
        "assert len(t.events) == 2")
    assert "agent_audit.producers.trail" in loaded
    assert "confluent_kafka" in loaded
    assert _server_modules(loaded) == []


def test_every_client_module_loads_nothing_of_the_server() -> None:
    """Each module of agent_audit.producers except the optional bridges (OpenTelemetry, structlog,
    the OTLP receiver, which need their own extras) imports without a server package."""
    loaded = _loaded_after(
        "import importlib, pkgutil\n"
        "import agent_audit.producers as p\n"
        "for m in pkgutil.iter_modules(p.__path__, 'agent_audit.producers.'):\n"
        "    if m.name.rsplit('.', 1)[1] not in ('otel_bridge', 'structlog_bridge', 'otlp'):\n"
        "        importlib.import_module(m.name)")
    assert "agent_audit.producers.logging_bridge" in loaded
    assert _server_modules(loaded) == []
