"""The real stack, started once per test run; a fresh topic and index prefix per test.

If KAFKA_BOOTSTRAP and ES_URL are set, those services are used as they are. Otherwise the local
stack is started (and stopped at the end if this run started it). A service that cannot be reached
fails the tests: it is never a silent skip.
"""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from agent_audit.core.settings import Settings
from agent_audit.stack.namespace import drop_namespace
from agent_audit.stack.process import log_tail, port_open
from agent_audit.stream.topics import create_topics
from tests.factories import BASE_TIME


@pytest.fixture(scope="session")
def stack_env() -> Iterator[dict[str, str]]:
    if os.environ.get("KAFKA_BOOTSTRAP") and os.environ.get("ES_URL"):
        yield {"KAFKA_BOOTSTRAP": os.environ["KAFKA_BOOTSTRAP"], "ES_URL": os.environ["ES_URL"]}
        return
    from agent_audit.stack import LocalStack  # noqa: PLC0415

    local = LocalStack.from_env()
    was_running = local.kafka.running() and local.elasticsearch.running()
    local.up()
    yield local.env()
    if not was_running and os.environ.get("AUDIT_KEEP_STACK") != "1":
        local.down()


@pytest.fixture(autouse=True)
def _services_alive(stack_env: dict[str, str]) -> None:
    """Fail fast, with the services' own last words, if Kafka or Elasticsearch died mid-run."""
    host, port = stack_env["KAFKA_BOOTSTRAP"].rsplit(":", 1)
    es_up = False
    try:
        with urllib.request.urlopen(f"{stack_env['ES_URL']}/_cluster/health", timeout=10) as resp:  # noqa: S310
            es_up = resp.status == 200
    except OSError:
        pass
    if es_up and port_open(host, int(port)):
        return
    from agent_audit.stack import LocalStack  # noqa: PLC0415

    local = LocalStack.from_env()
    es_log = local.elasticsearch.dir / "logs" / "agent-audit.log"
    pytest.fail(f"a service of the stack is down (kafka port open: {port_open(host, int(port))}, "
                f"elasticsearch healthy: {es_up})\n--- kafka log ---\n{log_tail(local.kafka.log)}\n"
                f"--- elasticsearch log ---\n{log_tail(es_log)}")


@pytest.fixture
def settings(stack_env: dict[str, str]) -> Iterator[Settings]:
    """Settings pointing at the stack, with topics and indices of this test's own, topics created;
    all of them dropped when the test ends (a kept stack would otherwise pile them up)."""
    tag = uuid.uuid4().hex[:8]
    env = dict(os.environ)
    env.update(stack_env)
    env.update({
        "AUDIT_MODE": "development",
        # The factories' events carry a fixed BASE_TIME: keep it inside the stream's arrival window.
        "AUDIT_MAX_EVENT_AGE_S": str(int((datetime.now(UTC) - BASE_TIME).total_seconds()) + 30 * 86_400),
        "AUDIT_TOPIC_PREFIX": f"t{tag}.",
        "AUDIT_INDEX_PREFIX": f"t{tag}-agent",
        "AUDIT_STREAM_APP_ID": f"t{tag}-stream",
        "AUDIT_SINK_GROUP": f"t{tag}-sink",
        "AUDIT_RAW_PARTITIONS": "3",
        "AUDIT_EVENTS_PARTITIONS": "3",
    })
    s = Settings.from_env(env)
    create_topics(s)
    yield s
    drop_namespace(s)


@pytest.fixture
def es(stack_env: dict[str, str]) -> Iterator[Elasticsearch]:
    client = Elasticsearch(stack_env["ES_URL"], request_timeout=30)
    yield client
    client.close()


_S3_VARS = ("AUDIT_ARCHIVE_S3_ENDPOINT", "AUDIT_ARCHIVE_BUCKET", "AUDIT_ARCHIVE_S3_ACCESS_KEY",
            "AUDIT_ARCHIVE_S3_SECRET_KEY")


@pytest.fixture(scope="session")
def s3_env(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The archive's S3: the one given by AUDIT_ARCHIVE_S3_* or the local stack's, else the local
    SeaweedFS started for this run (built into the cache on first use) and stopped after it."""
    for source in (stack_env, os.environ):
        if all(source.get(v) for v in _S3_VARS):
            yield {v: source[v] for v in _S3_VARS}
            return
    from agent_audit.stack import LocalStack  # noqa: PLC0415

    node = LocalStack.from_env().s3
    was_running = node.running()
    node.up(timeout=180.0)
    yield node.env()
    if not was_running and os.environ.get("AUDIT_KEEP_STACK") != "1":
        node.down()


@pytest.fixture
def archive_env(settings: Settings, s3_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The archive variables of this test: the stack's S3 under a key prefix and a consumer group of
    its own; every object under the prefix is deleted when the test ends."""
    from agent_audit.sinks.archive.config import ArchiveSettings  # noqa: PLC0415
    from agent_audit.sinks.archive.store import build_store  # noqa: PLC0415

    tag = settings.topic_prefix.rstrip(".")
    env = {**s3_env, "AUDIT_ARCHIVE_PREFIX": f"{tag}-archive", "AUDIT_ARCHIVE_GROUP": f"{tag}-archive"}
    yield env
    store = build_store(ArchiveSettings.from_env({**settings.to_env(), **env}))
    for key in store.list(""):
        store.delete(key)


def pytest_collection_finish(session: pytest.Session) -> None:
    """On a fresh machine the local S3 is built from source (minutes): do it before the first test,
    so no test's timeout covers the build. Skipped when an S3 is given."""
    if os.environ.get("AUDIT_ARCHIVE_S3_ENDPOINT") or not session.items:
        return
    from agent_audit.stack.paths import StackPaths  # noqa: PLC0415
    from agent_audit.stack.seaweedfs import ensure_weed, weed_binary  # noqa: PLC0415

    paths = StackPaths.from_env()
    if not weed_binary(paths).exists():
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("building SeaweedFS (the local S3) into the cache, once: a few minutes")
        ensure_weed(paths)
