"""A single-node Elasticsearch 8.19.8 from Maven Central's integ-test zip, on the machine's JDK.

Elasticsearch refuses to run as root, with no bypass: when invoked as root we create a system user
and start it through ``runuser``. Its install folder stays in the cache; config, data and logs live
in the stack's state folder, owned by that user.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from agent_audit.stack.downloads import ensure_elasticsearch, require_tool
from agent_audit.stack.paths import StackPaths
from agent_audit.stack.process import start_detached
from agent_audit.stack.service import HOST, LocalService

__all__ = ["ElasticsearchNode"]

ES_USER = "agentaudit"


class ElasticsearchNode(LocalService):
    name = "Elasticsearch"
    takeover_hint = "ES_URL"
    stop_timeout = 40.0

    def __init__(self, paths: StackPaths, port: int = 9200, heap: str = "512m") -> None:
        super().__init__(paths.es_state, port, heap, pidfile="elasticsearch.pid", log="console.log")
        self.paths = paths

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _launch(self) -> None:
        home = ensure_elasticsearch(self.paths)
        conf = self._write_config(home)
        env = dict(os.environ, ES_JAVA_HOME=_java_home(), ES_PATH_CONF=str(conf),
                   ES_TMPDIR=str(self.dir / "tmp"))
        argv = [str(home / "bin" / "elasticsearch")]
        if os.geteuid() == 0:
            self._hand_over_to_user(home)
            argv = ["runuser", "-u", ES_USER, "--", "env", *(f"{k}={env[k]}" for k in
                    ("ES_JAVA_HOME", "ES_PATH_CONF", "ES_TMPDIR")), *argv]
        start_detached(argv, env=env, log=self.log, pidfile=self.pidfile, cwd=self.dir)

    def _ready(self) -> bool:
        # GET / answers 405 on this distribution: health-check with _cluster/health instead.
        try:
            health = f"{self.url}/_cluster/health?timeout=2s"  # always http: our own URL
            with urllib.request.urlopen(health, timeout=3) as resp:  # noqa: S310
                status = json.load(resp).get("status")
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return status in ("green", "yellow")

    def _wait_log(self) -> Path:
        server = self.dir / "logs" / "agent-audit.log"
        return server if server.exists() else self.log

    def _write_config(self, home: Path) -> Path:
        conf = self.dir / "config"
        if not conf.exists():
            shutil.copytree(home / "config", conf)
        for sub in ("data", "logs", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (conf / "elasticsearch.yml").write_text(
            "cluster.name: agent-audit\n"
            "node.name: local-1\n"
            f"path.data: {self.dir / 'data'}\n"
            f"path.logs: {self.dir / 'logs'}\n"
            "discovery.type: single-node\n"
            f"network.host: {HOST}\n"
            f"http.port: {self.port}\n"
            f"transport.port: {self.port + 100}\n"
            "xpack.security.enabled: false\n"
            "cluster.routing.allocation.disk.threshold_enabled: false\n"
            "action.destructive_requires_name: true\n"
        )
        heap = conf / "jvm.options.d"
        heap.mkdir(exist_ok=True)
        (heap / "heap.options").write_text(f"-Xms{self.heap}\n-Xmx{self.heap}\n")
        return conf

    def _hand_over_to_user(self, home: Path) -> None:
        try:
            pwd.getpwnam(ES_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            ES_USER], check=True, capture_output=True, timeout=30)
        subprocess.run(["chown", "-R", f"{ES_USER}:", str(self.dir)], check=True, timeout=60)
        # The user reads the install folder and must reach it through every parent.
        subprocess.run(["chmod", "-R", "a+rX", str(home)], check=True, timeout=60)
        for parent in [self.dir, *self.dir.parents, home, *home.parents]:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)


def _java_home() -> str:
    home = os.environ.get("ES_JAVA_HOME") or os.environ.get("JAVA_HOME")
    if home:
        return home
    java = Path(require_tool("java")).resolve()
    return str(java.parent.parent)
