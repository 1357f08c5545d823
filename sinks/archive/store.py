"""Where archive objects live: S3 (any S3 API) or a local folder, behind one small port.

``put`` returns only once the object is durable: on S3 when the PUT (or the multipart upload) is
complete, so an object is there whole or not at all; locally after the bytes were written to a
temporary name, fsynced, renamed into place and the folder fsynced. Readers get a pyarrow
filesystem and a base path (``dataset_root``), so DuckDB scans the same objects through Arrow.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from pyarrow import fs as pafs

from agent_audit.core.errors import TransientError
from agent_audit.sinks.archive.config import ArchiveSettings

__all__ = ["LocalStore", "ObjectStore", "S3Store", "build_store"]


class ObjectStore(Protocol):
    filesystem: pafs.FileSystem
    root: str  # base path on ``filesystem``: "bucket/prefix" or "/folder/prefix"

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...


class _ArrowStore:
    """What both stores share: reads, listings and deletes through a pyarrow filesystem."""

    filesystem: pafs.FileSystem
    root: str

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def get(self, key: str) -> bytes | None:
        try:
            with self.filesystem.open_input_stream(self._path(key)) as f:
                return bytes(f.read())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TransientError(f"archive read failed: {type(exc).__name__}") from exc

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (a folder-like key), sorted; none when it does not exist."""
        selector = pafs.FileSelector(self._path(prefix).rstrip("/"), recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except OSError as exc:
            raise TransientError(f"archive listing failed: {type(exc).__name__}") from exc
        start = len(self.root) + 1
        return sorted(i.path[start:] for i in infos if i.type == pafs.FileType.File)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_file(self._path(key))


class S3Store(_ArrowStore):
    def __init__(self, settings: ArchiveSettings) -> None:
        endpoint = settings.s3_endpoint
        scheme = "https"
        if endpoint.startswith(("http://", "https://")):
            scheme, _, endpoint = endpoint.partition("://")
        self.filesystem = pafs.S3FileSystem(
            access_key=settings.access_key or None, secret_key=settings.secret_key or None,
            region=settings.region, endpoint_override=endpoint or None, scheme=scheme,
            # Path-style addressing: bucket names in the path work on every S3 implementation.
            force_virtual_addressing=False, allow_bucket_creation=True,
            connect_timeout=10, request_timeout=60)
        self.bucket = settings.bucket
        self.root = f"{settings.bucket}/{settings.prefix}"

    def ensure_bucket(self) -> None:
        try:
            info = self.filesystem.get_file_info(self.bucket)
            if info.type == pafs.FileType.NotFound:
                self.filesystem.create_dir(self.bucket)
        except OSError as exc:  # unreachable or refused: the caller retries or reports it
            raise TransientError(f"archive bucket {self.bucket!r} unreachable: {type(exc).__name__}") from exc

    def put(self, key: str, data: bytes) -> None:
        try:
            with self.filesystem.open_output_stream(self._path(key)) as out:
                out.write(data)
        except OSError as exc:
            raise TransientError(f"archive write failed: {type(exc).__name__}") from exc


class LocalStore(_ArrowStore):
    def __init__(self, settings: ArchiveSettings) -> None:
        self.filesystem = pafs.LocalFileSystem()
        self.root = str(Path(settings.local_dir).resolve() / settings.prefix)

    def ensure_bucket(self) -> None:
        Path(self.root).mkdir(parents=True, exist_ok=True)

    def put(self, key: str, data: bytes) -> None:
        target = Path(self._path(key))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power loss
        finally:
            os.close(dir_fd)

    def list(self, prefix: str) -> list[str]:
        return [k for k in super().list(prefix) if not Path(k).name.startswith(".tmp-")]


def build_store(settings: ArchiveSettings, ensure: bool = True) -> S3Store | LocalStore:
    """The configured store, its bucket made sure of (``ensure=False``: the caller does it, e.g. a
    worker that must wait for the store rather than fail)."""
    store: S3Store | LocalStore = S3Store(settings) if settings.on_s3 else LocalStore(settings)
    if ensure:
        store.ensure_bucket()
    return store
