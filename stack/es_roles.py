"""Least privilege on Elasticsearch: the sink's and the readers' roles and API keys, instead of ``elastic``.

Guarantee: the sink can create and write the audit indices (and their templates) but read none of
them back; readers can search the audit indices and append to the access log, but cannot change or
delete an event; neither can manage security. ``provision`` (run once with a superuser, e.g. by
docker-compose's ``es-setup`` job) creates the roles and fresh API keys limited to them, invalidating
the keys it made before, and writes each encoded key to a 0600 file for its worker.

===========================  ===================================================================
role                         privileges
===========================  ===================================================================
agent_audit_sink             cluster: monitor, manage_index_templates; ``<prefix>-*``: create_index,
                             create_doc, index, auto_configure, view_index_metadata
agent_audit_reader           ``<prefix>-*``: read, view_index_metadata; ``<prefix>-access-log``:
                             create_index, create_doc, maintenance (append only, refresh)
===========================  ===================================================================

Run it as ``python -m agent_audit.stack.es_roles <folder>`` with ES_URL (a superuser's credentials),
ES_CA_FILE and AUDIT_INDEX_PREFIX from the environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from agent_audit.core.es_security import elasticsearch_options
from agent_audit.core.settings import Settings

__all__ = ["ROLES", "provision", "role_descriptors"]

ROLES = ("agent_audit_sink", "agent_audit_reader")


def role_descriptors(prefix: str) -> dict[str, dict[str, Any]]:
    """The two roles for the indices under ``prefix`` (a pure table: tested as it is)."""
    return {
        "agent_audit_sink": {
            "cluster": ["monitor", "manage_index_templates"],
            "indices": [{"names": [f"{prefix}-*"],
                         "privileges": ["create_index", "create_doc", "index", "auto_configure",
                                        "view_index_metadata"]}],
        },
        "agent_audit_reader": {
            "cluster": ["monitor"],
            "indices": [{"names": [f"{prefix}-*"], "privileges": ["read", "view_index_metadata"]},
                        # append-only; maintenance = refresh, so a reader sees the log it just wrote
                        {"names": [f"{prefix}-access-log"],
                         "privileges": ["create_index", "create_doc", "maintenance"]}],
        },
    }


def provision(es: Elasticsearch, prefix: str, folder: Path) -> dict[str, Path]:
    """Create (or update) the roles, replace their API keys, write each key to ``folder/<role>.api-key``."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = {}
    for role, descriptor in role_descriptors(prefix).items():
        es.security.put_role(name=role, **descriptor)
        es.security.invalidate_api_key(name=role)  # the keys of an earlier run stop working
        key = es.security.create_api_key(name=role, role_descriptors={role: descriptor})
        path = folder / f"{role}.api-key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key["encoded"])
        written[role] = path
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m agent_audit.stack.es_roles <folder for the API key files>", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    es = Elasticsearch(**elasticsearch_options(settings), request_timeout=30)
    for role, path in provision(es, settings.index_prefix, Path(argv[0])).items():
        print(f"{role:20} key written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
