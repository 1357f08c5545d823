"""The local stack as one thing: Kafka, Elasticsearch and S3 (SeaweedFS); up / down / status, idempotent."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from agent_audit.stack.elasticsearch import ElasticsearchNode
from agent_audit.stack.kafka import KafkaNode
from agent_audit.stack.paths import StackPaths, write_private_env
from agent_audit.stack.seaweedfs import SeaweedNode
from agent_audit.stack.secure_kafka import SecureKafkaNode

__all__ = ["LocalStack"]


@dataclass
class LocalStack:
    kafka: KafkaNode
    elasticsearch: ElasticsearchNode
    s3: SeaweedNode = field(default_factory=lambda: SeaweedNode(StackPaths.from_env()))

    @classmethod
    def from_env(cls, secure: bool = False) -> LocalStack:
        """Ports from AUDIT_KAFKA_PORT (9092; the controller takes the next one), AUDIT_ES_PORT (9200)
        and AUDIT_S3_PORT (8333; SeaweedFS picks free ports for its internal servers).
        ``secure``: Kafka with SASL_SSL, SCRAM and ACLs instead (stack.secure_kafka), on
        AUDIT_SECURE_KAFKA_PORT (9492) and its own state folder, beside a plain one."""
        paths = StackPaths.from_env()
        kafka_port = int(os.environ.get("AUDIT_KAFKA_PORT", "9092"))
        es_port = int(os.environ.get("AUDIT_ES_PORT", "9200"))
        s3_port = int(os.environ.get("AUDIT_S3_PORT", "8333"))
        kafka = (SecureKafkaNode(paths, port=int(os.environ.get("AUDIT_SECURE_KAFKA_PORT", "9492")))
                 if secure else KafkaNode(paths, port=kafka_port))
        return cls(kafka=kafka, elasticsearch=ElasticsearchNode(paths, port=es_port),
                   s3=SeaweedNode(paths, port=s3_port))

    def up(self) -> dict[str, str]:
        """Start what is not running yet; returns each service's outcome."""
        # S3's first start builds SeaweedFS (about 5 minutes on two cores), then it answers in seconds.
        return {"kafka": self.kafka.up(), "elasticsearch": self.elasticsearch.up(),
                "s3": self.s3.up(timeout=180.0)}

    def down(self) -> dict[str, str]:
        es = self.elasticsearch.down()
        kafka = self.kafka.down()
        s3 = self.s3.down()
        return {
            "elasticsearch": "stopped" if es else "was not running",
            "kafka": "stopped" if kafka else "was not running",
            "s3": "stopped" if s3 else "was not running",
        }

    def status(self) -> dict[str, str]:
        return {
            "kafka": f"running at {self.kafka.bootstrap}" if self.kafka.running() else "stopped",
            "elasticsearch": f"running at {self.elasticsearch.url}" if self.elasticsearch.running()
            else "stopped",
            "s3": f"running at {self.s3.endpoint}" if self.s3.running() else "stopped",
        }

    def env(self) -> dict[str, str]:
        """The variables that point every component at this stack: a development stack (AUDIT_MODE)."""
        secured = self.kafka.client_env() if isinstance(self.kafka, SecureKafkaNode) else {}
        return {"KAFKA_BOOTSTRAP": self.kafka.bootstrap, "ES_URL": self.elasticsearch.url,
                "AUDIT_MODE": "development", **self.s3.env(), **secured}

    def shell_setup(self) -> str:
        """The shell line that points a terminal at this stack; credentials (the S3 key, Kafka
        passwords) stay in a 0600 file instead of being printed."""
        if isinstance(self.kafka, SecureKafkaNode):
            return f"set -a; . {self.kafka.write_env_file(self.env())}; set +a"
        return f"set -a; . {write_private_env(self.s3.paths.state / 'client.env', self.env())}; set +a"
