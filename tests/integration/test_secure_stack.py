"""The secured stack: SASL_SSL + SCRAM + ACLs on a Kafka of this module's own, the shared Elasticsearch.

The broker is started here on its own port and state folder (AUDIT_TEST_SECURE_KAFKA_PORT, 19592;
the controller takes the next port) and stopped when the module ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings
from agent_audit.producers import AuditTrail, ClientOptions, KafkaTransport
from agent_audit.sinks.indices import events_alias
from agent_audit.stack.kafka_acls import grant, pipeline_grants
from agent_audit.stack.namespace import drop_namespace
from agent_audit.stack.paths import StackPaths
from agent_audit.stack.secure_kafka import SecureKafkaNode
from agent_audit.stack.workers import running_workers
from agent_audit.stream.topics import create_topics
from tests.integration.waiting import wait_for_count

EMAIL = "jane.doe@example.com"
Config = dict[str, str | int | float | bool]


@pytest.fixture(scope="module")
def secure_kafka() -> Iterator[SecureKafkaNode]:
    # Not under pytest's basetemp: concurrent pytest sessions of the same user prune each other's.
    state = Path(tempfile.mkdtemp(prefix="agent-audit-secure-kafka-"))
    node = SecureKafkaNode(StackPaths(cache=StackPaths.from_env().cache, state=state),
                           port=int(os.environ.get("AUDIT_TEST_SECURE_KAFKA_PORT", "19592")))
    try:
        node.up(timeout=240)
        yield node
    finally:
        node.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def secure_settings(secure_kafka: SecureKafkaNode, stack_env: dict[str, str]) -> Iterator[Settings]:
    """A namespace of this test's own on the secured broker, its topics made by admin, its rights granted."""
    tag = uuid.uuid4().hex[:8]
    settings = Settings.from_env({
        **secure_kafka.client_env(), "ES_URL": stack_env["ES_URL"], "AUDIT_MODE": "development",
        "AUDIT_TOPIC_PREFIX": f"s{tag}.", "AUDIT_INDEX_PREFIX": f"s{tag}-agent",
        "AUDIT_STREAM_APP_ID": f"s{tag}-stream", "AUDIT_SINK_GROUP": f"s{tag}-sink",
        "AUDIT_RAW_PARTITIONS": "2", "AUDIT_EVENTS_PARTITIONS": "2"})
    create_topics(settings)
    grant(secure_kafka.admin_config(), pipeline_grants(settings))
    yield settings
    drop_namespace(settings)


def _deliver(config: Config, topic: str, partition: int = -1) -> KafkaError | None:
    producer = Producer({**config, "message.timeout.ms": 15_000, "log_level": 0})
    errors: list[KafkaError | None] = []
    producer.produce(topic, b'{"probe": 1}', partition=partition,
                     on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(30)
    assert errors, "no delivery report within 30 s"
    return errors[0]


def _read_refusals(config: Config, group: str, topic: str) -> set[int]:
    """Error codes met while trying to read ``topic`` from its start, until the topic itself is refused
    (a group the principal may not use is refused first); fails if any record is read."""
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    codes: set[int] = set()
    deadline = time.monotonic() + 30
    while KafkaError.TOPIC_AUTHORIZATION_FAILED not in codes and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None:
            error = msg.error()
            assert error is not None, f"a record of {topic} was read"
            codes.add(error.code())
    consumer.close()
    return codes


@pytest.mark.timeout(300)
def test_the_pipeline_works_end_to_end_on_the_secured_broker(
        secure_settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
    """Agent (agent principal) -> stream (stream principal) -> sink (sink principal) -> Elasticsearch,
    every client over SASL_SSL with its own SCRAM login: every event indexed once, PII redacted, and
    no password in the workers' logs."""
    transport = KafkaTransport(secure_settings, options=ClientOptions(spool_dir=tmp_path / "spool"),
                               exit_hook=False)
    for s in range(3):
        trail = AuditTrail(session_id=f"sec-{s}", user_id="u", agent="bot", transport=transport)
        trail.input(f"write to {EMAIL}")
        for n in range(9):
            with trail.tool_call("search", {"n": n}) as call:
                call.result = {"hits": n}
    assert transport.flush(60)
    assert transport.shutdown(5)
    with running_workers(secure_settings.to_env(), tmp_path / "logs") as workers:
        alias = events_alias(secure_settings.index_prefix)
        assert wait_for_count(es, alias, 30, workers, timeout=180) == 30
    hits = es.search(index=alias, size=100, query={"match_all": {}})["hits"]["hits"]
    assert EMAIL not in orjson.dumps([h["_source"] for h in hits]).decode()
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*.log"))
    assert logs  # the workers did write their logs: none of them holds a password
    for role in ("agent", "stream", "sink", "admin"):
        assert secure_settings.kafka_for(role).sasl_password not in logs


def test_a_client_without_valid_credentials_is_refused(secure_kafka: SecureKafkaNode) -> None:
    """Plaintext, TLS without a login, a wrong password and an untrusted server are all refused."""
    good = secure_kafka.admin_config()
    attempts: dict[str, Config] = {
        "plaintext": {"bootstrap.servers": secure_kafka.bootstrap},
        "tls, no login": {"bootstrap.servers": secure_kafka.bootstrap, "security.protocol": "ssl",
                          "ssl.ca.location": good["ssl.ca.location"]},
        "wrong password": {**good, "sasl.password": "not-the-password"},
        "server not trusted": {k: v for k, v in good.items() if k != "ssl.ca.location"},
    }
    for label, config in attempts.items():
        with pytest.raises(KafkaException):  # the label names the attempt in pytest's report
            AdminClient({**config, "log_level": 0, "client.id": label.replace(" ", "-")}).list_topics(
                timeout=8)


def test_the_agent_principal_writes_raw_only(secure_settings: Settings) -> None:
    """The agent's login may write the raw topic, but not read it, nor write agent.events (which the
    sink indexes as it is: no redaction, no chain)."""
    agent = kafka_client_config(secure_settings, "agent")
    topics = secure_settings.topics
    assert _deliver(agent, topics.raw) is None
    refused = _deliver(agent, topics.events)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    assert _read_refusals(agent, "agent-reader", topics.raw) >= {KafkaError.TOPIC_AUTHORIZATION_FAILED}


def test_the_sink_principal_cannot_read_raw(secure_settings: Settings) -> None:
    """The sink reads what it indexes, never the unredacted raw topic: a record there stays unread by
    the sink's login while the stream's login reads it."""
    raw = secure_settings.topics.raw
    assert _deliver(kafka_client_config(secure_settings, "agent"), raw, partition=0) is None
    assert _records(kafka_client_config(secure_settings, "sink"), secure_settings.sink_group, raw) == 0
    stream_group = f"{secure_settings.stream_app_id}-probe"
    assert _records(kafka_client_config(secure_settings, "stream"), stream_group, raw) == 1


def _records(config: Config, group: str, topic: str) -> int:
    """How many records of partition 0 of ``topic`` a client reads in 15 s (stops at the first)."""
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + 15
    read = 0
    while not read and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        read += msg is not None and msg.error() is None
    consumer.close()
    return read


def test_a_client_certificate_is_a_principal_on_the_mtls_listener(
        secure_kafka: SecureKafkaNode, secure_settings: Settings) -> None:
    """mTLS: a certificate signed by the stack's CA logs in as CN=<name> and gets exactly that
    principal's rights; without a certificate the listener refuses the connection."""
    cert = secure_kafka.client_certificate("mtls-agent")
    grant(secure_kafka.admin_config(), pipeline_grants(secure_settings, agent="CN=mtls-agent"))
    mtls = Settings.from_env({**secure_settings.to_env(), "KAFKA_BOOTSTRAP": secure_kafka.mtls_bootstrap,
                              "KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": str(cert.cert),
                              "KAFKA_SSL_KEY_FILE": str(cert.key), "KAFKA_SASL_USERNAME": "",
                              "KAFKA_SASL_PASSWORD": ""})
    agent = kafka_client_config(mtls, "agent")
    assert "sasl.username" not in agent
    assert _deliver(agent, secure_settings.topics.raw) is None
    refused = _deliver(agent, secure_settings.topics.events)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    no_certificate = {k: v for k, v in agent.items()
                      if k not in ("ssl.certificate.location", "ssl.key.location")}
    with pytest.raises(KafkaException):
        AdminClient({**no_certificate, "log_level": 0}).list_topics(timeout=8)
