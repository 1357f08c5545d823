"""Compliance over the stored audit trail: erasure, retention with legal holds, sealing, verification.

Every operation works on a plain Elasticsearch (no ``_delete_by_query``, ILM or scripts): deletions
are a point-in-time search for ids followed by bulk deletes, retention drops whole daily indices.
The access log of reads lives in ``sinks.access_log``.
"""

from agent_audit.sinks.compliance.erasure import forget
from agent_audit.sinks.compliance.holds import Hold, HoldStore, held_query
from agent_audit.sinks.compliance.receipts import Receipt
from agent_audit.sinks.compliance.retention import (
           RetentionAction,
           RetentionPolicy,
           RetentionRun,
           apply_retention,
           seal,
)
from agent_audit.sinks.compliance.verification import verify_session

__all__ = ["Hold", "HoldStore", "Receipt", "RetentionAction", "RetentionPolicy", "RetentionRun",
           "apply_retention", "forget", "held_query", "seal", "verify_session"]
