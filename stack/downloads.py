"""Fetch the stack's artifacts from Maven Central with ``mvn`` into the cache, once.

Kafka: the broker jars and a log4j2 binding, resolved from a pom shipped in ``resources/``.
Elasticsearch: the ``integ-test-zip`` distribution (no bundled JDK: it runs on the machine's JDK).
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from agent_audit.stack.paths import ES_VERSION, StackPaths
from agent_audit.stack.process import StackError

__all__ = ["ensure_elasticsearch", "ensure_kafka", "require_tool"]

_DEP_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"



def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(f"`{name}` is not on PATH: the local stack needs a JDK (17+) and Maven")
    return path


def _mvn(*args: str) -> None:
    cmd = [require_tool("mvn"), "-B", "-q", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise StackError(f"mvn failed ({done.returncode}):\n{tail}")


def ensure_kafka(paths: StackPaths) -> Path:
    """The folder of Kafka's runtime jars, downloaded on first use (about 46 jars, 43 MB)."""
    libs = paths.kafka_libs
    marker = libs / ".complete"
    if marker.exists():
        return libs
    libs.mkdir(parents=True, exist_ok=True)
    pom = resources.files("agent_audit.stack") / "resources" / "kafka-pom.xml"
    with resources.as_file(pom) as pom_path:
        _mvn("-f", str(pom_path), f"{_DEP_PLUGIN}:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={libs}")
    marker.touch()
    return libs


def ensure_elasticsearch(paths: StackPaths) -> Path:
    """The unpacked Elasticsearch home, downloaded (97 MB) and unpacked on first use."""
    home = paths.es_home
    if (home / ".complete").exists():
        return home
    zip_path = paths.es_zip_dir / f"elasticsearch-{ES_VERSION}.zip"
    if not zip_path.exists():
        paths.es_zip_dir.mkdir(parents=True, exist_ok=True)
        _mvn(f"{_DEP_PLUGIN}:copy",
             f"-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip",
             f"-DoutputDirectory={paths.es_zip_dir}")
    # Unpack beside the target, then rename: an interrupted unpack never looks complete.
    with tempfile.TemporaryDirectory(dir=paths.cache) as tmp:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
            for info in zf.infolist():  # zipfile drops the unix mode bits; restore them
                mode = info.external_attr >> 16
                if mode:
                    (Path(tmp) / info.filename).chmod(stat.S_IMODE(mode))
        shutil.rmtree(home, ignore_errors=True)
        (Path(tmp) / f"elasticsearch-{ES_VERSION}").rename(home)
    (home / ".complete").touch()
    return home
