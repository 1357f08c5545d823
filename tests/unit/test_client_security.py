"""Client security settings: one mapping for every Kafka and Elasticsearch client, secrets never shown."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials

from agent_audit.core.errors import ConfigError
from agent_audit.core.es_security import elasticsearch_options, redact_url, split_credentials
from agent_audit.core.kafka_security import KafkaSecurity, kafka_client_config, librdkafka_security
from agent_audit.core.settings import Settings, require_keys
from agent_audit.producers.options import ClientOptions
from agent_audit.producers.publisher import producer_config

SECURE = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
          "KAFKA_SASL_USERNAME": "pipeline", "KAFKA_SASL_PASSWORD": "kafka-s3cret",
          "KAFKA_SSL_CA_FILE": "/etc/ca.pem"}
SECRETS = ("kafka-s3cret", "es-s3cret", "key-s3cret", "api-s3cret", "redact-s3cret", "chain-s3cret",
           "sink-s3cret", "hook-s3cret", "url-s3cret")


def test_plaintext_is_the_default_and_maps_to_plaintext() -> None:
    """No variable set: every client talks PLAINTEXT, with nothing else added."""
    assert librdkafka_security(KafkaSecurity.from_env({})) == {"security.protocol": "plaintext"}


def test_sasl_ssl_maps_to_librdkafka_settings() -> None:
    """SASL_SSL + SCRAM + CA: the librdkafka names, hostname verification on."""
    config = librdkafka_security(KafkaSecurity.from_env(SECURE))
    assert config == {"security.protocol": "sasl_ssl", "sasl.mechanism": "SCRAM-SHA-256",
                      "sasl.username": "pipeline", "sasl.password": "kafka-s3cret",
                      "ssl.ca.location": "/etc/ca.pem",
                      "ssl.endpoint.identification.algorithm": "https"}


def test_mtls_maps_certificate_and_key() -> None:
    """SSL with a client certificate: certificate, key and key password reach librdkafka."""
    env = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "/c.pem", "KAFKA_SSL_KEY_FILE": "/k.pem",
           "KAFKA_SSL_KEY_PASSWORD": "key-s3cret", "KAFKA_SSL_CHECK_HOSTNAME": "false"}
    config = librdkafka_security(KafkaSecurity.from_env(env))
    assert config["ssl.certificate.location"] == "/c.pem" and config["ssl.key.location"] == "/k.pem"
    assert config["ssl.key.password"] == "key-s3cret"
    assert config["ssl.endpoint.identification.algorithm"] == "none"
    assert "sasl.mechanism" not in config


def test_role_overrides_fall_back_to_the_base() -> None:
    """AUDIT_<ROLE>_KAFKA_* changes one component's principal; the others keep the base one."""
    settings = Settings.from_env({**SECURE, "AUDIT_SINK_KAFKA_SASL_USERNAME": "sink",
                                  "AUDIT_SINK_KAFKA_SASL_PASSWORD": "sink-s3cret"})
    assert kafka_client_config(settings, "sink")["sasl.username"] == "sink"
    assert kafka_client_config(settings, "sink")["sasl.password"] == "sink-s3cret"
    assert kafka_client_config(settings, "stream")["sasl.username"] == "pipeline"
    assert kafka_client_config(settings, "sink")["ssl.ca.location"] == "/etc/ca.pem"
    assert set(settings.kafka_roles) == {"sink"}


def test_settings_round_trip_through_the_environment() -> None:
    """A child process given ``to_env()`` gets the same security for every role."""
    settings = Settings.from_env({**SECURE, "AUDIT_AGENT_KAFKA_SASL_USERNAME": "agent",
                                  "ES_CA_FILE": "/ca.pem", "ES_URL": "https://es:9200",
                                  "AUDIT_METRICS_BIND": "0.0.0.0"})  # noqa: S104 - a value, not a bind
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(("env", "variable"), [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_PASSWORD"),
    ({**SECURE, "KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "/c.pem"}, "KAFKA_SSL_KEY_FILE"),
    ({"KAFKA_SSL_CA_FILE": "/ca.pem"}, "KAFKA_SECURITY_PROTOCOL"),
    ({**SECURE, "AUDIT_ADMIN_KAFKA_SECURITY_PROTOCOL": "SASL_PLAIN"}, "AUDIT_ADMIN_KAFKA_SECURITY_PROTOCOL"),
])
def test_bad_security_fails_fast_naming_the_variable(env: dict[str, str], variable: str) -> None:
    """A combination a client would fail on later is a ConfigError at start-up, without values."""
    with pytest.raises(ConfigError, match=variable) as caught:
        Settings.from_env(env)
    assert "kafka-s3cret" not in str(caught.value)


def test_repr_of_settings_shows_no_secret() -> None:
    """repr(Settings) hides every secret, including the password inside ES_URL."""
    settings = Settings.from_env({
        **SECURE, "ES_URL": "https://elastic:url-s3cret@es:9200", "ES_PASSWORD": "es-s3cret",
        "ES_USERNAME": "reader", "ES_API_KEY": "api-s3cret", "KAFKA_SSL_KEY_PASSWORD": "key-s3cret",
        "AUDIT_REDACTION_KEY": "redact-s3cret", "AUDIT_INTEGRITY_KEY": "chain-s3cret",
        "AUDIT_SINK_KAFKA_SASL_PASSWORD": "sink-s3cret", "AUDIT_ALERT_WEBHOOK": "https://h/hook-s3cret"})
    shown = repr(settings) + str(settings)
    assert not [s for s in SECRETS if s in shown]
    assert "https://elastic:***@es:9200" in shown and "pipeline" in shown


def test_url_credentials_are_lifted_out_of_the_host() -> None:
    """user:password in ES_URL becomes basic_auth: the host the client logs carries no password."""
    assert split_credentials("https://u:p%40ss@[::1]:9200/x") == ("https://[::1]:9200/x", ("u", "p@ss"))
    assert split_credentials("http://h:9200") == ("http://h:9200", None)
    assert redact_url("http://u:secret@h:9200") == "http://u:***@h:9200"
    options = elasticsearch_options(Settings(es_url="http://u:secret@h:9200"))
    assert options == {"hosts": ["http://h:9200"], "basic_auth": ("u", "secret")}


def test_elasticsearch_tls_and_auth_options() -> None:
    """CA, fingerprint, client certificate and API key map to the client's own keyword arguments."""
    settings = Settings(es_url="https://es:9200", es_api_key="api-s3cret", es_ca_file="/ca.pem",
                        es_fingerprint="AB:CD:EF", es_client_cert_file="/c.pem", es_client_key_file="/k.pem")
    assert elasticsearch_options(settings) == {
        "hosts": ["https://es:9200"], "api_key": "api-s3cret", "ca_certs": "/ca.pem",
        "ssl_assert_fingerprint": "abcdef", "client_cert": "/c.pem", "client_key": "/k.pem"}
    basic = elasticsearch_options(Settings(es_url="https://es:9200", es_username="r", es_password="p"))
    assert basic["basic_auth"] == ("r", "p")


@pytest.mark.parametrize("settings", [
    Settings(es_url="http://es:9200", es_ca_file="/ca.pem"),
    Settings(es_url="https://es:9200", es_client_cert_file="/c.pem"),
])
def test_elasticsearch_tls_misconfiguration_is_refused(settings: Settings) -> None:
    """TLS files with an http URL, or a certificate without its key, fail before any connection."""
    with pytest.raises(ConfigError):
        elasticsearch_options(settings)


def test_production_refuses_to_start_without_the_redaction_key() -> None:
    """Production without AUDIT_REDACTION_KEY: the stream and sink refuse; development runs."""
    with pytest.raises(ConfigError, match="AUDIT_REDACTION_KEY"):
        require_keys(Settings(mode="production"), "sink")
    require_keys(Settings(mode="production", redaction_key="k"), "sink")
    require_keys(Settings(mode="development"), "stream")


def test_the_agent_producer_carries_the_agent_principal() -> None:
    """The agent library's producer config is built from the AGENT role's security."""
    settings = Settings.from_env({**SECURE, "AUDIT_AGENT_KAFKA_SASL_USERNAME": "agent"})
    config = producer_config(settings, ClientOptions())
    assert config["security.protocol"] == "sasl_ssl" and config["sasl.username"] == "agent"


def test_faust_gets_the_same_security() -> None:
    """The stream's Faust side: SASL credentials with a TLS context, or TLS alone, or nothing."""
    from agent_audit.stream.kafka_auth import faust_credentials  # noqa: PLC0415 - imports faust

    sasl = faust_credentials(KafkaSecurity.from_env({**SECURE, "KAFKA_SSL_CA_FILE": ""}))
    assert isinstance(sasl, SASLCredentials)
    assert sasl.mechanism.value == "SCRAM-SHA-256" and sasl.username == "pipeline"
    assert isinstance(sasl.ssl_context, ssl.SSLContext) and sasl.protocol.value == "SASL_SSL"
    assert "kafka-s3cret" not in repr(sasl)
    tls = faust_credentials(KafkaSecurity(protocol="SSL"))
    assert isinstance(tls, SSLCredentials)
    assert faust_credentials(KafkaSecurity()) is None


@pytest.mark.parametrize("argv", [["-m", "agent_audit.sinks"],
                                  ["-m", "agent_audit.stream", "worker", "--without-web"]])
def test_workers_refuse_to_start_in_production_without_the_redaction_key(argv: list[str]) -> None:
    """`python -m agent_audit.sinks` / `.stream` in production without AUDIT_REDACTION_KEY exit at
    once with the reason, before connecting to anything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "KAFKA_", "ES_"))}
    env |= {"AUDIT_MODE": "production", "KAFKA_BOOTSTRAP": "127.0.0.1:1", "ES_URL": "http://127.0.0.1:1"}
    done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode != 0
    assert "AUDIT_REDACTION_KEY is required in production" in done.stderr


def test_the_faust_tls_context_carries_the_client_certificate(tmp_path: Path) -> None:
    """mTLS on the Faust side: the CA is trusted and the client certificate and key are loaded."""
    from agent_audit.stack.certificates import ensure_certificates  # noqa: PLC0415
    from agent_audit.stream.kafka_auth import ssl_context  # noqa: PLC0415

    files = ensure_certificates(tmp_path, "stream")
    context = ssl_context(KafkaSecurity(protocol="SSL", ssl_ca_file=str(files.ca),
                                        ssl_cert_file=str(files.cert), ssl_key_file=str(files.key)))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "agent-audit local CA"),),)]
