"""The local Kafka + Elasticsearch stack for machines without Docker (laptops, CI)."""

from stack.local import LocalStack
from stack.process import StackError

__all__ = ["LocalStack", "StackError"]
