"""How an identifier given by a person looks in the stored events.

The stream redacts ``user_id`` and ``session_id`` like any other string: an email used as a user id
is stored as ``[EMAIL:3f9a1c2b0d4e]`` with a redaction key (the same token every time), or as the
bare placeholder ``[EMAIL]`` without one. A bare placeholder is shared by every such subject, so it
can be held (over-holding is safe) but never erased by (that would erase other people's events).
Since the keyring change a keyless stream keeps ids as they are instead (development only).

After a key rotation the documents hold the token of the key they were written under: an
identifier is looked up in its form under every key version (``core.redaction.keyring``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent_audit.core.datakeys import master_key_from_settings
from agent_audit.core.redaction import Redactor
from agent_audit.core.redaction.keyring import KeyringRedactor
from agent_audit.core.settings import Settings

__all__ = ["StoredForm", "identifier_query", "redactor_for", "stored_form", "subject_digest"]

_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*\]")  # keyless form; keyed tokens carry ":<hex>"


def redactor_for(settings: Settings) -> KeyringRedactor:
    """The redactor the stream uses, so lookups produce the same tokens (and the older keys' ones)."""
    return KeyringRedactor(settings)


@dataclass(frozen=True)
class StoredForm:
    given: str
    stored: str  # as the stream stores it
    specific: bool  # False when the stored form is a placeholder shared with other subjects
    older: tuple[str, ...] = ()  # the forms earlier redaction-key versions stored

    @property
    def redacted(self) -> bool:
        return self.stored != self.given

    def lookup_values(self) -> list[str]:
        """Values to match in stored documents: the stored form if it names this subject only,
        and the given one (documents written under an older redaction policy may hold it)."""
        if not (self.specific and self.redacted):
            return [self.given]
        return [self.given, self.stored, *self.older]

    def to_json(self) -> dict[str, Any]:
        """Safe to store: never the given value when redaction changed it."""
        return {"stored_form": self.stored, "specific": self.specific}


def stored_form(value: str, redactor: Redactor) -> StoredForm:
    stored, _ = redactor.redact_text(value)
    generic = stored != value and bool(_PLACEHOLDER.search(stored)) and not _PLACEHOLDER.search(value)
    older = redactor.older_forms(value) if isinstance(redactor, KeyringRedactor) else []
    return StoredForm(value, stored, not generic, tuple(older))


def identifier_query(field: str, values: list[str]) -> dict[str, Any]:
    """Exact match on ``field``, also where a family without a template mapped it dynamically
    (``text`` plus a ``.keyword`` sub-field): erasure and holds must reach every family."""
    return {"bool": {"should": [{"terms": {field: values}}, {"terms": {f"{field}.keyword": values}}],
                     "minimum_should_match": 1}}


def subject_digest(value: str, settings: Settings) -> str:
    """A stable, non-reversible reference to a subject, keyed by the master key (a plain hash of a
    short id could be reversed by trying ids), so a receipt can later be matched to a request
    without storing the identifier itself."""
    return master_key_from_settings(settings).subject(value)
