"""A single-node Kafka 4.1.1 broker in KRaft mode, run from Maven Central's jars on the machine's JDK."""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from agent_audit.stack.downloads import ensure_kafka, require_tool
from agent_audit.stack.paths import StackPaths
from agent_audit.stack.process import StackError, port_open, start_detached
from agent_audit.stack.service import HOST, LocalService

__all__ = ["KafkaNode"]


class KafkaNode(LocalService):
    name = "Kafka"
    takeover_hint = "KAFKA_BOOTSTRAP"

    def __init__(self, paths: StackPaths, port: int = 9092, heap: str = "512m") -> None:
        super().__init__(paths.kafka_state, port, heap, pidfile="kafka.pid", log="broker.log")
        self.paths = paths
        self.controller_port = port + 1

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def _launch(self) -> None:
        libs = ensure_kafka(self.paths)
        props = self._write_config()
        java = require_tool("java")
        classpath = f"{libs}/*"
        if not (self.dir / "data" / "meta.properties").exists():
            self._format(java, classpath, props)
        log4j = resources.files("agent_audit.stack") / "resources" / "kafka-log4j2.properties"
        argv = [java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath, "kafka.Kafka", str(props)]
        start_detached(argv, env=os.environ, log=self.log, pidfile=self.pidfile, cwd=self.dir)

    def _ready(self) -> bool:
        if not port_open(HOST, self.port):
            return False
        from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - only needed once the port answers

        try:
            AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        except Exception:  # any failure here just means "not ready yet"
            return False
        return True

    def _write_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        props = self.dir / "server.properties"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            "num.partitions": "1",
            # Topics are created by the project with explicit partitions and configs.
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "min.insync.replicas": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.check.interval.ms": "60000",
        }
        props.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        return props

    def _format(self, java: str, classpath: str, props: Path) -> None:
        cluster_id = _random_cluster_id()
        done = subprocess.run(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id,
             "-c", str(props), "--ignore-formatted"],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if done.returncode != 0:
            raise StackError(f"Kafka storage format failed:\n{(done.stdout + done.stderr)[-2000:]}")


def _random_cluster_id() -> str:
    # Kafka cluster ids are 16 random bytes, URL-safe base64 without padding (what random-uuid prints).
    # One starting with "-" would be read as an option by the storage tool: draw again.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
