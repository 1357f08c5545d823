"""PII redaction: pure functions over decoded values, never the serialized JSON."""

from agent_audit.core.redaction.native import check_build

check_build()  # before the first compiled module loads: a stale build must not run

from agent_audit.core.redaction.redactor import POLICY_VERSION, Redactor  # noqa: E402

__all__ = ["POLICY_VERSION", "Redactor"]
