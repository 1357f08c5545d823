"""The local Kafka + Elasticsearch stack for machines without Docker (laptops, CI)."""

from agent_audit.stack.local import LocalStack
from agent_audit.stack.process import StackError

__all__ = ["LocalStack", "StackError"]
