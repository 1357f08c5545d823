"""PII redaction: pure functions over decoded values, never the serialized JSON."""

from agent_audit.core.redaction.redactor import POLICY_VERSION, Redactor

__all__ = ["POLICY_VERSION", "Redactor"]
