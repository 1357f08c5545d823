"""An Elasticsearch node with security on: TLS on HTTP and transport, a password for ``elastic``.

Guarantee: what docker-compose.yml runs (x-pack security, TLS with a local CA), on this machine's
integ-test distribution, on its own port and state folder: so the clients' CA, fingerprint and
API-key settings and ``stack.es_roles`` are tested against a real secured node, not a mock. The
``elastic`` password is drawn once and kept 0600 beside the certificates; it is set through the
keystore's ``bootstrap.password``, never written to the config or printed.

This distribution lacks the analysis module that the ``.security`` index's mapping needs, so native
users, roles and API keys cannot be stored here (``put_role`` fails with "Unknown filter type
[pattern_capture]"). Roles are given as a file (``roles.yml``) and users through the file realm
(``elasticsearch-users``): the same role descriptors that ``stack.es_roles`` provisions natively.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_audit.stack.certificates import CertificateFiles, ensure_certificates
from agent_audit.stack.elasticsearch import ElasticsearchNode, _java_home
from agent_audit.stack.paths import StackPaths
from agent_audit.stack.process import StackError
from agent_audit.stack.service import HOST

__all__ = ["SecureElasticsearchNode"]


class SecureElasticsearchNode(ElasticsearchNode):
    name = "Elasticsearch (TLS)"

    def __init__(self, paths: StackPaths, port: int = 9600, heap: str = "512m",
                 roles: Mapping[str, dict[str, Any]] | None = None,
                 users: Mapping[str, tuple[str, str]] | None = None) -> None:
        """``roles``: name -> role descriptor (roles.yml); ``users``: name -> (password, role)."""
        super().__init__(paths, port, heap)
        self.roles = dict(roles or {})
        self.users = dict(users or {})
        self.dir = paths.state / "elasticsearch-secure"
        self.pidfile = self.dir / "elasticsearch.pid"
        self.log = self.dir / "console.log"
        self.secrets_dir = paths.state / "elasticsearch-secrets"  # outside the folder handed to ES's user

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def tls(self) -> CertificateFiles:
        return ensure_certificates(self.secrets_dir, "elasticsearch")

    def password(self) -> str:
        """The ``elastic`` superuser's password (drawn on first use, kept 0600)."""
        path = self.secrets_dir / "elastic.password"
        if not path.exists():
            self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(16))
        return path.read_text().strip()

    def _ready(self) -> bool:
        request = urllib.request.Request(f"{self.url}/_cluster/health?timeout=2s")  # noqa: S310 - ours
        token = b64encode(f"elastic:{self.password()}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=str(self.tls.ca))
        try:
            with urllib.request.urlopen(request, timeout=3, context=context) as resp:  # noqa: S310
                status = json.load(resp).get("status")
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return status in ("green", "yellow")

    def _write_config(self, home: Path) -> Path:
        conf = super()._write_config(home)
        certs = conf / "certs"
        certs.mkdir(exist_ok=True)
        tls = self.tls
        for source, name in ((tls.ca, "ca.pem"), (tls.cert, "node.pem"), (tls.key, "node-key.pem")):
            shutil.copyfile(source, certs / name)
        settings = (conf / "elasticsearch.yml").read_text().replace("xpack.security.enabled: false\n", "")
        ssl_files = ("  key: certs/node-key.pem\n  certificate: certs/node.pem\n"
                     "  certificate_authorities: [certs/ca.pem]\n")
        (conf / "elasticsearch.yml").write_text(
            settings + "xpack.security.enabled: true\n"
            "xpack.security.http.ssl:\n  enabled: true\n" + ssl_files +
            "xpack.security.transport.ssl:\n  enabled: true\n  verification_mode: certificate\n" + ssl_files)
        # One top-level line per role: Elasticsearch splits roles.yml at unindented lines before
        # parsing each part (a one-line JSON object of two roles yields only the first). YAML reads JSON.
        (conf / "roles.yml").write_text("".join(f"{name}: {json.dumps(descriptor)}\n"
                                                for name, descriptor in self.roles.items()))
        self._set_bootstrap_password(home, conf)
        self._add_file_users(home, conf)
        return conf

    def _add_file_users(self, home: Path, conf: Path) -> None:
        env = dict(os.environ, ES_JAVA_HOME=_java_home(), ES_PATH_CONF=str(conf))
        tool = str(home / "bin" / "elasticsearch-users")
        users = conf / "users"
        for name, (password, role) in self.users.items():
            known = users.read_text().splitlines() if users.exists() else []
            if not any(line.startswith(f"{name}:") for line in known):
                self._run([tool, "useradd", name, "-p", password, "-r", role], env, "", password)

    def _set_bootstrap_password(self, home: Path, conf: Path) -> None:
        env = dict(os.environ, ES_JAVA_HOME=_java_home(), ES_PATH_CONF=str(conf))
        tool = str(home / "bin" / "elasticsearch-keystore")
        if not (conf / "elasticsearch.keystore").exists():
            self._run([tool, "create"], env, "")
        self._run([tool, "add", "--force", "--stdin", "bootstrap.password"], env, self.password())

    def _run(self, argv: list[str], env: dict[str, str], stdin: str, secret: str = "") -> None:
        done = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-2000:].replace(self.password(), "***")
            output = output.replace(secret, "***") if secret else output
            raise StackError(f"{Path(argv[0]).name} failed:\n{output}")
