"""Loading the saved objects into Kibana: ``POST /api/saved_objects/_import?overwrite=true``.

Kibana answers 200 even when objects failed (``"success": false`` with an ``errors`` list), so the
body is read and every error is reported; only ``success: true`` counts as done. An unreachable Kibana
is a ``KibanaUnreachable`` naming the URL; credentials are never part of a message.

==========================  ===============================  ==========================================
variable                    default                          meaning
==========================  ===============================  ==========================================
KIBANA_URL                  http://127.0.0.1:5601            Kibana that ``agent-audit kibana import``
                                                             loads the dashboards into (``--url`` wins)
KIBANA_API_KEY              (none)                           API key, when Kibana has security on
KIBANA_USERNAME             (none)                           user, instead of an API key
KIBANA_PASSWORD             (none)                           that user's password
==========================  ===============================  ==========================================
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_audit.kibana.objects import saved_objects, to_ndjson

__all__ = ["ImportReport", "KibanaOptions", "KibanaUnreachable", "import_objects", "parse_import_response"]


class KibanaUnreachable(ConnectionError):
    """Kibana did not answer at that URL."""


@dataclass(frozen=True)
class KibanaOptions:
    """KIBANA_URL (default http://127.0.0.1:5601); KIBANA_API_KEY, or KIBANA_USERNAME and
    KIBANA_PASSWORD, when Kibana has security on."""

    url: str = "http://127.0.0.1:5601"
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, url: str | None = None) -> KibanaOptions:
        env = os.environ if env is None else env
        return cls(url=(url or env.get("KIBANA_URL") or cls.url).rstrip("/"),
                   api_key=env.get("KIBANA_API_KEY") or None, username=env.get("KIBANA_USERNAME") or None,
                   password=env.get("KIBANA_PASSWORD") or None)

    def auth_header(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"ApiKey {self.api_key}"}
        if self.username and self.password:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}


@dataclass(frozen=True)
class ImportReport:
    success: bool
    imported: int
    errors: list[str]


def parse_import_response(status: int, body: bytes) -> ImportReport:
    """Kibana's answer as a report: a non-200 or ``success: false`` lists what went wrong."""
    try:
        answer: Any = json.loads(body or b"{}")
    except ValueError:
        answer = {}
    if status != 200:
        message = answer.get("message") if isinstance(answer, dict) else None
        return ImportReport(False, 0, [f"HTTP {status}: {message or body[:200].decode(errors='replace')}"])
    errors = [_describe(e) for e in answer.get("errors") or ()]
    success = answer.get("success") is True and not errors
    return ImportReport(success, int(answer.get("successCount") or 0), errors)


def _describe(error: dict[str, Any]) -> str:
    reason = error.get("error") or {}
    detail = reason.get("type", "error")
    if reason.get("references"):
        detail += " " + ", ".join(f"{r.get('type')}:{r.get('id')}" for r in reason["references"])
    if reason.get("message"):
        detail += f" ({reason['message']})"
    title = error.get("title") or (error.get("meta") or {}).get("title")
    return f"{error.get('type')} {error.get('id')} ({title}): {detail}"


def import_objects(options: KibanaOptions, prefix: str, timeout: float = 30.0) -> ImportReport:
    boundary = uuid.uuid4().hex
    payload = to_ndjson(saved_objects(prefix)).encode()
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"agent-audit.ndjson\"\r\nContent-Type: application/ndjson\r\n\r\n")
    body = head.encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(  # noqa: S310 - the operator's own Kibana URL
        f"{options.url}/api/saved_objects/_import?overwrite=true", data=body, method="POST",
        headers={"kbn-xsrf": "agent-audit", "Content-Type": f"multipart/form-data; boundary={boundary}",
                 **options.auth_header()})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            return parse_import_response(resp.status, resp.read())
    except urllib.error.HTTPError as exc:
        return parse_import_response(exc.code, exc.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise KibanaUnreachable(f"cannot reach Kibana at {_safe(options.url)}") from exc


def _safe(url: str) -> str:
    from urllib.parse import urlsplit  # noqa: PLC0415

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
