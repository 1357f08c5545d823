"""A local S3: SeaweedFS's ``weed mini``, built once from its Go module into the cache.

Built like Kafka and Elasticsearch are downloaded: once, into the stack's cache, idempotently (the
binary appears under its final name only when the build succeeded). ``go install module@version``
refuses this module (its go.mod has replace directives), so the module is fetched into a GOPATH
of our own, copied out of the read-only module cache and built there as the main module.

The server is bound to 127.0.0.1 with one identity (access key and secret) that has every right on
the stack's bucket; by default ``weed mini`` listens on all interfaces and takes any credentials.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from agent_audit.stack.paths import StackPaths
from agent_audit.stack.process import StackError, start_detached
from agent_audit.stack.service import HOST, LocalService

__all__ = ["SEAWEEDFS_VERSION", "SeaweedNode", "ensure_weed", "weed_binary"]

SEAWEEDFS_MODULE = "github.com/seaweedfs/seaweedfs"
SEAWEEDFS_VERSION = "v0.0.0-20261109003541-7506e5f91cd6"
BUILD_TIMEOUT = 3600.0  # about 5 minutes on two idle cores; far more on a busy or cold machine


def weed_binary(paths: StackPaths) -> Path:
    return paths.cache / "bin" / f"weed-{SEAWEEDFS_VERSION.rsplit('-', 1)[-1]}"


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise StackError("`go` is not on PATH: the local S3 (SeaweedFS) is built from its Go module "
                         "(Go 1.26.6 or later, as its go.mod says)")
    return go


def _go_env(paths: StackPaths) -> dict[str, str]:
    gopath = paths.cache / "go"
    return dict(os.environ, GOPATH=str(gopath), GOMODCACHE=str(gopath / "pkg" / "mod"),
                GOCACHE=str(gopath / "build-cache"), GOFLAGS="-mod=mod -buildvcs=false",
                GOTOOLCHAIN="local", CGO_ENABLED="0")


def _run_go(args: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run([_go(), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise StackError(f"go {' '.join(args)} failed ({done.returncode}):\n{tail}")


def ensure_weed(paths: StackPaths) -> Path:
    """The ``weed`` binary, built on first use (module fetch plus a build of about 5 minutes)."""
    binary = weed_binary(paths)
    if binary.exists():
        return binary
    env = _go_env(paths)
    paths.cache.mkdir(parents=True, exist_ok=True)
    module = f"{SEAWEEDFS_MODULE}@{SEAWEEDFS_VERSION}"
    _run_go(["mod", "download", module], env, paths.cache)
    source = Path(env["GOMODCACHE"]) / module
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=paths.cache, prefix="weed-build-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(source, src)
        for folder, _dirs, files in os.walk(src):  # the module cache is read-only: go build writes go.sum
            Path(folder).chmod(0o755)
            for name in files:
                (Path(folder) / name).chmod(0o644)
        partial = Path(tmp) / "weed"
        _run_go(["build", "-o", str(partial), "./weed"], env, src)
        # Rename last: an interrupted build never leaves a binary that looks complete.
        shutil.move(partial, binary)
    shutil.rmtree(env["GOCACHE"], ignore_errors=True)  # gigabytes of objects nobody needs again
    return binary


class SeaweedNode(LocalService):
    """``weed mini`` serving S3 on ``port`` (127.0.0.1 only), one identity, one bucket, own data dir."""

    name = "SeaweedFS (S3)"
    takeover_hint = "AUDIT_ARCHIVE_S3_ENDPOINT"
    bucket = "audit-archive"

    def __init__(self, paths: StackPaths, port: int = 8333) -> None:
        super().__init__(paths.state / "seaweedfs", port, heap="", pidfile="weed.pid", log="weed.log")
        self.paths = paths

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def credentials(self) -> tuple[str, str]:
        """The access key and secret of this server's one identity, made on first use (file 0600)."""
        path = self.dir / "s3-identity.json"
        if not path.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            ident = {"access_key": "AA" + secrets.token_hex(9).upper(),
                     "secret_key": secrets.token_urlsafe(30)}
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(ident, out)
        ident = json.loads(path.read_text())
        return ident["access_key"], ident["secret_key"]

    def env(self) -> dict[str, str]:
        access, secret = self.credentials()
        return {"AUDIT_ARCHIVE_S3_ENDPOINT": self.endpoint, "AUDIT_ARCHIVE_BUCKET": self.bucket,
                "AUDIT_ARCHIVE_S3_ACCESS_KEY": access, "AUDIT_ARCHIVE_S3_SECRET_KEY": secret}

    def _launch(self) -> None:
        weed = ensure_weed(self.paths)
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        access, secret = self.credentials()
        config = self.dir / "s3-config.json"
        identity = {"name": "agent-audit", "credentials": [{"accessKey": access, "secretKey": secret}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"]}
        config.write_text(json.dumps({"identities": [identity]}))
        config.chmod(0o600)
        argv = [str(weed), "mini", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
                f"-s3.port={self.port}", f"-s3.config={config}", f"-bucket={self.bucket}",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
                "-master.telemetry=false"]
        # Credentials in the environment would create a second identity: keep them out.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        start_detached(argv, env=env, log=self.log, pidfile=self.pidfile, cwd=self.dir)

    def _ready(self) -> bool:
        """True once an object can be written and read back with this server's credentials."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/", timeout=2):  # noqa: S310 - our own http URL
                pass
        except urllib.error.HTTPError:
            pass  # 403 to an anonymous caller: the S3 port answers
        except OSError:
            return False
        from pyarrow import fs  # noqa: PLC0415 - only needed once the port answers

        access, secret = self.credentials()
        s3 = fs.S3FileSystem(access_key=access, secret_key=secret, endpoint_override=f"{HOST}:{self.port}",
                             scheme="http", region="us-east-1", connect_timeout=2, request_timeout=5,
                             allow_bucket_creation=True)
        try:
            with s3.open_output_stream(f"{self.bucket}/_health") as out:
                out.write(b"ok")
            with s3.open_input_stream(f"{self.bucket}/_health") as f:
                return bytes(f.read()) == b"ok"
        except OSError:
            return False
