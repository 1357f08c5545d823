"""The archive on the erasure receipt: what forget did there, and by when the rest goes.

Forget reaches the archive in two ways. Destroying the user's data keys shreds every sealed row
in every archived object at once (the key is the only way to read them): nothing to rewrite,
wherever the objects are. Rows of the unsealed layout are rewritten as tombstones
(``sinks.archive.erasure``). The receipt's entry counts both, names the objects, and dates when
cold retention deletes the last of them (the keyed subject and tool figures stay until then).

With no archive configured where forget runs, sealed rows anywhere are shredded all the same
(the keys are shared); rows of the unsealed layout could not be checked, which the entry says as
an operator action.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from agent_audit.core.datakeys import DataKeys
from agent_audit.core.errors import ConfigError
from agent_audit.core.settings import Settings
from agent_audit.sinks.compliance.holds import Hold

__all__ = ["archive_store", "configured_archive"]

_VARS = ("AUDIT_ARCHIVE_BUCKET", "AUDIT_ARCHIVE_DIR")


def _rfc3339(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def configured_archive(settings: Settings, env: Mapping[str, str] | None = None) -> Any | None:
    """The archive's store when this process is configured for one (``ArchiveSettings``), else None."""
    from agent_audit.sinks.archive.config import ArchiveSettings  # noqa: PLC0415 - the archive imports us
    from agent_audit.sinks.archive.store import build_store  # noqa: PLC0415

    env = os.environ if env is None else env
    try:
        archive = ArchiveSettings.from_env(env, base=settings)
    except ConfigError:
        return None
    default_dir = os.path.join(archive.local_dir, archive.prefix)
    if not any(env.get(v) for v in _VARS) and not os.path.isdir(default_dir):
        return None  # development default folder never written: no archive here
    return archive, build_store(archive)


def archive_store(settings: Settings, keys: DataKeys, names: Sequence[str], holds: Sequence[Hold],
                  receipt_id: str, destroyed_at: datetime, at: str, dry_run: bool = False,
                  archive: Any | None = None, erased_ids: set[str] | None = None) -> dict[str, Any]:
    """The receipt's entry for the archive (``archive``: (settings, store), default from the env);
    ``erased_ids`` collects the ids of the rows now read as tombstones, for the signed erasure."""
    from agent_audit.sinks.archive.erasure import erase_in_archive  # noqa: PLC0415

    found = archive or configured_archive(settings)
    shredded_by = _rfc3339(destroyed_at + timedelta(seconds=settings.key_cache_s))
    if found is None:
        return {"store": "archive (not configured here)", "kind": "archive", "status": "operator action",
                "until": shredded_by,
                "detail": "no AUDIT_ARCHIVE_BUCKET or AUDIT_ARCHIVE_DIR where forget ran: sealed archived "
                          "rows are unreadable all the same (the data keys are destroyed); rows of the "
                          "unsealed layout were not checked: run forget again with the archive's settings"}
    config, store = found
    done = erase_in_archive(store, names, lambda ids: sorted({keys.subject(i) for i in ids}), holds,
                            receipt_id, at, dry_run=dry_run)
    if erased_ids is not None:
        erased_ids |= done.erased_ids
    expires = done.expires(config.retention_days)
    detail = (f"{done.sealed_rows} sealed row(s) shredded: unreadable from {shredded_by} (data key "
              f"destroyed), each reads back as its erasure tombstone; {done.rewritten_rows} row(s) of the "
              f"unsealed layout rewritten as tombstones in {done.rewritten_objects} object(s). The "
              f"{len(done.objects)} object(s) keep, per row, the keyed subject, session id as stored, kind, "
              "time, seq, chain links and tool figures (no content) until cold retention deletes them"
              + (f" after {expires.isoformat()}" if expires else ""))
    entry: dict[str, Any] = {"store": f"archive {config.location}", "kind": "archive",
                             "status": "shredded", "documents": done.sealed_rows + done.rewritten_rows,
                             "objects": len(done.objects), "until": shredded_by, "detail": detail}
    if expires:
        entry["expires"] = expires.isoformat()
    if dry_run:
        entry["detail"] = "dry run, nothing changed; forget would leave: " + detail
    if done.held_sealed_rows:
        entry["detail"] += (f"; {done.held_sealed_rows} of the sealed rows are under an active legal hold "
                            "and unreadable too (the key is the user's): the held copy is Elasticsearch's")
    if done.held_rows:
        entry["status"] = "held"
        entry["detail"] += (f"; {done.held_rows} unsealed row(s) kept under an active legal hold: run forget "
                            "again once it is released")
    return entry
