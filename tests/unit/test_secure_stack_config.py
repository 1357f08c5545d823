"""The secured stack's pure parts: least-privilege grants and locally made certificates."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from agent_audit.core.settings import Settings
from agent_audit.stack.certificates import ensure_certificates
from agent_audit.stack.kafka_acls import pipeline_grants


def _rights(principal: str, settings: Settings) -> set[tuple[str, str, str]]:
    return {(g.resource, g.name, g.operation) for g in pipeline_grants(settings) if g.principal == principal}


def test_the_agent_may_only_write_and_describe_the_raw_topic() -> None:
    """Agents get WRITE and DESCRIBE on raw and nothing else: no read, no other topic, no group."""
    settings = Settings(topic_prefix="t.")
    assert _rights("agent", settings) == {("TOPIC", "t.agent.events.raw", "WRITE"),
                                          ("TOPIC", "t.agent.events.raw", "DESCRIBE")}


def test_the_sink_reads_what_it_indexes_and_never_raw() -> None:
    """The sink reads events, metrics and alerts, writes only the DLQ, and has no right on raw."""
    settings = Settings()
    rights = _rights("sink", settings)
    t = settings.topics
    assert {(n, op) for _, n, op in rights if op == "READ"} == {
        (t.events, "READ"), (t.metrics, "READ"), (t.alerts, "READ"), (settings.sink_group, "READ")}
    assert {n for _, n, op in rights if op == "WRITE"} == {t.dlq}
    assert not [r for r in rights if r[1] == t.raw]


def test_the_stream_reads_raw_and_writes_its_own_topics_but_not_raw() -> None:
    """The stream reads raw and writes its outputs; it cannot write raw (no injection from there)."""
    settings = Settings()
    rights = _rights("stream", settings)
    t = settings.topics
    assert ("TOPIC", t.raw, "READ") in rights and ("TOPIC", t.raw, "WRITE") not in rights
    for topic in (t.events, t.dlq, t.metrics, t.alerts, t.state, t.partials):
        assert ("TOPIC", topic, "WRITE") in rights
    assert all(not g.prefixed or g.name == settings.stream_app_id for g in pipeline_grants(settings))


def test_certificates_are_private_signed_by_the_ca_and_name_the_local_host(tmp_path: Path) -> None:
    """Keys 0600 in a 0700 folder; the certificate is signed by the CA and names 127.0.0.1 and
    localhost; a second call reuses what is there."""
    folder = tmp_path / "tls"
    files = ensure_certificates(folder, "broker")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for private in (files.key, files.bundle, folder / "ca-key.pem"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    before = files.cert.read_bytes()
    assert ensure_certificates(folder, "broker").cert.read_bytes() == before


def test_elasticsearch_roles_are_least_privilege() -> None:
    """The sink may create and write the audit indices but never read or delete; readers may read
    the audit indices and only append to the access log; neither may manage security."""
    from agent_audit.stack.es_roles import role_descriptors  # noqa: PLC0415 - imports elasticsearch

    roles = role_descriptors("agent")
    sink, reader = roles["agent_audit_sink"], roles["agent_audit_reader"]
    sink_privileges = {p for entry in sink["indices"] for p in entry["privileges"]}
    assert not sink_privileges & {"read", "delete", "all", "manage", "write"}
    assert [entry["names"] for entry in reader["indices"]] == [["agent-*"], ["agent-access-log"]]
    audit, access_log = (set(entry["privileges"]) for entry in reader["indices"])
    assert audit == {"read", "view_index_metadata"}
    assert not access_log & {"delete", "index", "write", "all", "manage"}
    assert not {c for role in roles.values() for c in role["cluster"]} & {"all", "manage", "manage_security"}
