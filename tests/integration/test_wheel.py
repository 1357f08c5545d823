"""The wheel an agent installs: built from this tree, installed without extras into a fresh
virtualenv, it records events on the real broker, claims the one import namespace ``agent_audit``,
carries nothing dev-only, and pulls in only the client's dependencies.

The client's install size and distribution count are printed (``pytest -s``) for the README.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import orjson
import pytest

from agent_audit.core.settings import Settings
from tests.integration.waiting import read_topic

ROOT = Path(__file__).parents[2]
DEV_ONLY = ("corpora", "tests", "bench", "faker", "conftest")

_RECORD = """
import json, sys
from agent_audit import AuditTrail
trail = AuditTrail(session_id=sys.argv[1], user_id="u-wheel", agent="wheel-bot", agent_version="1")
trail.input("text", content="hello from a plain install")
with trail.tool_call("lookup", {"order": 7}) as call:
    call.result = {"status": "shipped"}
trail.output("text", content="done", tokens_used=3, model="m-1")
delivered = trail.flush(60)
server = sorted(m for m in sys.modules if m.split(".")[0] in
                {"faust", "elasticsearch", "pydantic", "aiokafka", "aiohttp"})
print(json.dumps({"delivered": delivered, "server_modules": server}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
                   check=True, timeout=600)
    (built,) = out.glob("agent_audit-*.whl")
    return built


@pytest.fixture(scope="module")
def client_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("client") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                   check=True, timeout=600)
    return venv


def _dists(venv: Path) -> list[str]:
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
                         capture_output=True, text=True, check=True)
    return sorted(d["name"].lower() for d in json.loads(out.stdout) if d["name"].lower() != "pip")


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def test_the_wheel_installs_one_namespace_and_nothing_dev_only(wheel: Path) -> None:
    """Every file of the wheel lies under agent_audit/ or its dist-info; top_level.txt names only
    agent_audit; no corpora, tests, benchmarks or Faker; py.typed and the LICENSE are in."""
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"agent_audit"}
    assert all(part not in n.lower() for n in names for part in DEV_ONLY), \
        [n for n in names if any(part in n.lower() for part in DEV_ONLY)]
    assert "agent_audit/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    top_level = next(n for n in names if n.endswith("top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["agent_audit"]
    for name in names:
        if name.endswith(".py"):
            assert b"faker" not in zipfile.ZipFile(wheel).read(name).lower(), name


def test_a_plain_install_pulls_only_the_client_and_its_two_dependencies(client_venv: Path) -> None:
    """Without extras the install is agent-audit, confluent-kafka and orjson (the venv's own
    setuptools aside): no faust, elasticsearch, pydantic or aiohttp; and the RECORD installs only
    agent_audit/ (plus its metadata and the command-line script)."""
    dists = _dists(client_venv)
    assert set(dists) - {"setuptools"} == {"agent-audit", "confluent-kafka", "orjson"}
    site = next((client_venv / "lib").glob("python3*/site-packages"))
    record = next(site.glob("agent_audit-*.dist-info")) / "RECORD"
    tops = {line.split(",")[0].split("/")[0] for line in record.read_text().splitlines()}
    assert {t for t in tops if not t.endswith(".dist-info") and t != ".."} == {"agent_audit"}
    client_mb = sum(_size_mb(p) for p in site.iterdir()
                    if p.name.split("-")[0].lower() in {"agent_audit", "confluent_kafka", "orjson"}
                    or p.name.lower().startswith(("confluent_kafka", "orjson", "agent_audit")))
    print(f"\nclient install: {len(dists)} distributions ({', '.join(dists)}), "
          f"{client_mb:.1f} MB for agent-audit + its dependencies, site-packages {_size_mb(site):.1f} MB")


def test_the_installed_client_records_events_on_the_real_broker(client_venv: Path,
                                                                 settings: Settings) -> None:
    """From the plain install, AuditTrail delivers a session's events to the raw topic (read back
    with their seq 0..2), and no server package was imported on the way."""
    session = f"wheel-{uuid.uuid4().hex[:8]}"
    env = {**settings.to_env(), "AUDIT_SPOOL_DIR": str(client_venv.parent / "spool"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([str(client_venv / "bin" / "python"), "-c", _RECORD, session], env=env, check=False,
                         capture_output=True, text=True, timeout=120, cwd=client_venv.parent)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"delivered": True, "server_modules": []}
    events = [orjson.loads(line) for msg in read_topic(settings, settings.topics.raw, 1, timeout=60)
              for line in msg.value().split(b"\n") if line.strip()]
    mine = [e for e in events if e["session_id"] == session]
    assert [(e["kind"], e["seq"]) for e in mine] == [("input", 0), ("tool_call", 1), ("output", 2)]
    assert {e["agent"]["name"] for e in mine} == {"wheel-bot"}


def test_the_command_line_of_a_plain_install_says_what_to_install(client_venv: Path) -> None:
    """Without the server extra, ``agent-audit --version`` works and a server command exits 4 with
    the install line instead of a traceback."""
    cli = str(client_venv / "bin" / "agent-audit")
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert (version.returncode, version.stdout.split()[0]) == (0, "agent-audit")
    query = subprocess.run([cli, "query", "tools", "--json"], capture_output=True, text=True, timeout=60,
                           check=False, env={"PATH": "/usr/bin:/bin", "AUDIT_MODE": "development"})
    assert query.returncode == 4, query.stderr
    assert "pip install 'agent-audit[server]'" in query.stderr and "Traceback" not in query.stderr

