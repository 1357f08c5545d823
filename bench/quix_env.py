"""The peer's own virtualenv: quixstreams pins confluent-kafka below what our project uses.

Built once under ``.venv-quix`` (gitignored, override with ``BENCH_QUIX_VENV``): a pinned
quixstreams, what ``core/`` needs (pydantic, orjson, msgspec, cryptography), elasticsearch for the
data keys, and this project with ``--no-deps`` so the peer runs the very same validation,
redaction, sealing and window code as our worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

__all__ = ["QUIXSTREAMS", "quix_python"]

QUIXSTREAMS = "quixstreams==3.28.1"
# core/, and for sealing (as ours seals): the data keys' crypto and their Elasticsearch store.
CORE_DEPS = ("pydantic>=2.6,<3", "orjson>=3.9", "msgspec>=0.18,<1", "cryptography>=42",
             "elasticsearch>=8.19,<9")
ROOT = Path(__file__).resolve().parent.parent
_MARKER = "agent-audit-bench.txt"  # what the venv was built with; rebuilt when it changes


def quix_python() -> Path:
    """The venv's interpreter, building (or refreshing) the venv first when needed."""
    home = Path(os.environ.get("BENCH_QUIX_VENV", ROOT / ".venv-quix"))
    python = home / "bin" / "python"
    wanted = "\n".join((QUIXSTREAMS, *CORE_DEPS, str(ROOT)))
    marker = home / _MARKER
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    print(f"building the quixstreams virtualenv in {home} ...", file=sys.stderr)
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(home)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, QUIXSTREAMS, *CORE_DEPS], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    marker.write_text(wanted)
    return python
