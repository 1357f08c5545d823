"""Elasticsearch clients built by ``elasticsearch_options``: on the shared (plain) node, and on a TLS node
of this module's own with a CA, a pinned fingerprint and least-privilege API keys (``stack.es_roles``).

The TLS node (x-pack security of the integ-test distribution) runs on its own port and state folder
and is stopped when the module ends.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from agent_audit.core.es_security import elasticsearch_options
from agent_audit.core.settings import Settings
from agent_audit.sinks.access_log import AccessLog
from agent_audit.sinks.compliance.identifiers import redactor_for
from agent_audit.sinks.indices import events_alias, install_templates
from agent_audit.sinks.worker import build_es
from agent_audit.stack.es_roles import role_descriptors
from agent_audit.stack.paths import StackPaths
from agent_audit.stack.process import port_open
from agent_audit.stack.secure_elasticsearch import SecureElasticsearchNode

PREFIX = "tlsagent"
SINK_PW, READER_PW = uuid.uuid4().hex, uuid.uuid4().hex


def _free_port() -> int:
    for port in range(19400, 19480):  # the node also listens on port + 100 (transport)
        if not port_open("127.0.0.1", port) and not port_open("127.0.0.1", port + 100):
            return port
    raise RuntimeError("no free port pair for a TLS Elasticsearch node")


@pytest.fixture(scope="module")
def tls_es() -> Iterator[SecureElasticsearchNode]:
    # Not under pytest's basetemp: concurrent pytest sessions of the same user prune each other's.
    state = Path(tempfile.mkdtemp(prefix="agent-audit-tls-es-"))
    state.chmod(0o755)  # Elasticsearch's own user must reach its folder
    node = SecureElasticsearchNode(StackPaths(cache=StackPaths.from_env().cache, state=state),
                                   port=_free_port(), heap="384m", roles=role_descriptors(PREFIX),
                                   users={"sink": (SINK_PW, "agent_audit_sink"),
                                          "reader": (READER_PW, "agent_audit_reader")})
    try:
        node.up(timeout=240)
        yield node
    finally:
        node.down()
        shutil.rmtree(state, ignore_errors=True)


def _settings(**env: str) -> Settings:
    """Settings for a client of the TLS node (``env`` says how it connects)."""
    return Settings.from_env({"AUDIT_MODE": "development", "AUDIT_INDEX_PREFIX": PREFIX, **env})


def _fingerprint(pem: Path) -> str:
    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def test_the_builder_reaches_the_shared_node(settings: Settings) -> None:
    """The one builder every component uses (sink, CLI, namespaces) talks to the plain shared node."""
    es = build_es(settings)
    assert es.cluster.health()["status"] in ("green", "yellow")
    plain = Elasticsearch(**elasticsearch_options(settings), request_timeout=30)
    assert plain.cluster.health()["status"] in ("green", "yellow")


def test_a_ca_file_and_basic_auth_reach_the_tls_node(tls_es: SecureElasticsearchNode) -> None:
    """https + ES_CA_FILE + user:password in ES_URL: connected; the password never in the client's host."""
    password = tls_es.password()
    url = tls_es.url.replace("https://", f"https://elastic:{password}@")
    settings = _settings(ES_URL=url, ES_CA_FILE=str(tls_es.tls.ca))
    es = build_es(settings)
    assert es.cluster.health()["status"] in ("green", "yellow")
    assert password not in repr(settings) and password not in str(elasticsearch_options(settings)["hosts"])


def test_the_tls_node_is_refused_without_its_ca_or_with_a_wrong_fingerprint(
        tls_es: SecureElasticsearchNode) -> None:
    """Without the CA the certificate is not trusted; a pinned fingerprint must match; no error
    message carries the password."""
    password = tls_es.password()
    url = tls_es.url.replace("https://", f"https://elastic:{password}@")
    for env in ({"ES_URL": url}, {"ES_URL": url, "ES_CERT_FINGERPRINT": "ab" * 32}):
        es = Elasticsearch(**elasticsearch_options(_settings(**env)), request_timeout=10,
                           max_retries=0)
        with pytest.raises(TransportError) as caught:
            es.cluster.health()
        assert password not in str(caught.value)
    pinned = _settings(ES_URL=url, ES_CERT_FINGERPRINT=_fingerprint(tls_es.tls.cert))
    assert build_es(pinned).cluster.health()["status"] in ("green", "yellow")


def test_the_sink_and_reader_roles_have_only_their_rights(tls_es: SecureElasticsearchNode) -> None:
    """The roles of stack.es_roles: the sink installs templates and writes events but cannot read
    them back nor delete; a reader searches and appends to the access log but cannot write or delete
    an event. (Users of the file realm: this distribution cannot store API keys, see the module.)"""
    ca = str(tls_es.tls.ca)
    sink = build_es(_settings(ES_URL=tls_es.url, ES_USERNAME="sink", ES_PASSWORD=SINK_PW,
                              ES_CA_FILE=ca, AUDIT_INDEX_PREFIX=PREFIX))
    reader_settings = _settings(ES_URL=tls_es.url, ES_USERNAME="reader", ES_PASSWORD=READER_PW,
                                ES_CA_FILE=ca, AUDIT_INDEX_PREFIX=PREFIX)
    reader = build_es(reader_settings)

    install_templates(sink, PREFIX)
    index = f"{PREFIX}-events-2026.12.03"
    sink.create(index=index, id="e1", document={"event_id": "e1", "kind": "input"}, refresh=True)
    denials: list[Callable[[], object]] = [
        lambda: sink.search(index=events_alias(PREFIX)), lambda: sink.delete(index=index, id="e1"),
        lambda: reader.create(index=index, id="e2", document={"event_id": "e2"}),
        lambda: reader.delete(index=index, id="e1"), lambda: reader.indices.delete(index=index)]
    for denied in denials:
        with pytest.raises(ApiError) as refused:
            denied()
        assert refused.value.status_code == 403
    assert reader.count(index=index)["count"] == 1

    log = AccessLog(reader, PREFIX, redactor_for(reader_settings))
    log.record("auditor", "session_events", {"session_id": "s-1"}, 1)
    reader.indices.refresh(index=f"{PREFIX}-access-log")
    assert reader.count(index=f"{PREFIX}-access-log")["count"] == 1
