"""How every Kafka client of the pipeline authenticates and encrypts: one configuration, one mapping.

Guarantee: the agent library, the stream, the sink, the DLQ tools and topic administration all turn
the same ``KafkaSecurity`` into client settings through ``librdkafka_security`` (confluent-kafka) or
``stream.kafka_auth`` (Faust/aiokafka, from the same fields), so no client can be left on plaintext
while the others are secured. Secrets (SASL password, key password) never appear in ``repr`` or in
an error message: a ``ConfigError`` names the variable, never its value.

=============================  =============  =============================================================
variable                       default        meaning
=============================  =============  =============================================================
KAFKA_SECURITY_PROTOCOL        PLAINTEXT      PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
KAFKA_SASL_MECHANISM           SCRAM-SHA-512  PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (with a SASL_* protocol)
KAFKA_SASL_USERNAME            (none)         the principal (required with SASL)
KAFKA_SASL_PASSWORD            (none)         its password (required with SASL; a secret)
KAFKA_SSL_CA_FILE              (system)       PEM file of the CA that signed the brokers' certificates
KAFKA_SSL_CERT_FILE            (none)         PEM client certificate (mTLS; needs KAFKA_SSL_KEY_FILE)
KAFKA_SSL_KEY_FILE             (none)         PEM private key of that certificate
KAFKA_SSL_KEY_PASSWORD         (none)         password of that key, if encrypted (a secret)
KAFKA_SSL_CHECK_HOSTNAME       true           false only for brokers whose certificate lacks their name
=============================  =============  =============================================================

Per-component principals: each variable above may be overridden for one role by prefixing it with
``AUDIT_<ROLE>_`` (roles: AGENT, STREAM, SINK, ADMIN), e.g. ``AUDIT_SINK_KAFKA_SASL_USERNAME=sink``.
A role's value falls back to the unprefixed one, so a single set of variables secures everything.
The agent library uses AGENT; the stream (Faust, its output and state clients) STREAM; the
Elasticsearch sink SINK; topic creation, namespaces and the DLQ tools ADMIN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Literal

from agent_audit.core.errors import ConfigError

if TYPE_CHECKING:
    from agent_audit.core.settings import Settings

__all__ = ["MECHANISMS", "PROTOCOLS", "ROLES", "KafkaSecurity", "Role", "kafka_client_config",
           "librdkafka_security"]

Role = Literal["agent", "stream", "sink", "admin"]
ROLES: tuple[Role, ...] = ("agent", "stream", "sink", "admin")
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

# field name -> variable name (without the role prefix)
_VARIABLES = {
    "protocol": "KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "KAFKA_SASL_MECHANISM",
    "sasl_username": "KAFKA_SASL_USERNAME",
    "sasl_password": "KAFKA_SASL_PASSWORD",
    "ssl_ca_file": "KAFKA_SSL_CA_FILE",
    "ssl_cert_file": "KAFKA_SSL_CERT_FILE",
    "ssl_key_file": "KAFKA_SSL_KEY_FILE",
    "ssl_key_password": "KAFKA_SSL_KEY_PASSWORD",
    "ssl_check_hostname": "KAFKA_SSL_CHECK_HOSTNAME",
}


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_ca_file: str = ""
    ssl_cert_file: str = ""
    ssl_key_file: str = ""
    ssl_key_password: str = field(default="", repr=False)
    ssl_check_hostname: bool = True

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @classmethod
    def from_env(cls, env: Mapping[str, str], role: Role | None = None) -> KafkaSecurity:
        """The variables above, a role's ``AUDIT_<ROLE>_`` overrides first; checked (``ConfigError``)."""
        prefix = f"AUDIT_{role.upper()}_" if role else ""

        def get(name: str, default: str) -> str:
            return env.get(prefix + name) or env.get(name) or default

        d = cls()
        security = cls(
            protocol=get(_VARIABLES["protocol"], d.protocol).upper(),
            sasl_mechanism=get(_VARIABLES["sasl_mechanism"], d.sasl_mechanism).upper(),
            sasl_username=get(_VARIABLES["sasl_username"], ""),
            sasl_password=get(_VARIABLES["sasl_password"], ""),
            ssl_ca_file=get(_VARIABLES["ssl_ca_file"], ""),
            ssl_cert_file=get(_VARIABLES["ssl_cert_file"], ""),
            ssl_key_file=get(_VARIABLES["ssl_key_file"], ""),
            ssl_key_password=get(_VARIABLES["ssl_key_password"], ""),
            ssl_check_hostname=_flag(prefix, get(_VARIABLES["ssl_check_hostname"], "true")),
        )
        security.check(prefix)
        return security

    def check(self, prefix: str = "") -> None:
        """Refuse a combination a client would fail on later, naming variables, never values."""
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"{prefix}KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}")
        if self.uses_sasl:
            if self.sasl_mechanism not in MECHANISMS:
                raise ConfigError(f"{prefix}KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}")
            if not (self.sasl_username and self.sasl_password):
                raise ConfigError(f"{self.protocol} needs {prefix}KAFKA_SASL_USERNAME and "
                                  f"{prefix}KAFKA_SASL_PASSWORD")
        if bool(self.ssl_cert_file) != bool(self.ssl_key_file):
            raise ConfigError(f"{prefix}KAFKA_SSL_CERT_FILE and {prefix}KAFKA_SSL_KEY_FILE go together")
        if (self.ssl_ca_file or self.ssl_cert_file) and not self.uses_tls:
            raise ConfigError(f"TLS files are set but {prefix}KAFKA_SECURITY_PROTOCOL is {self.protocol}")

    def to_env(self, role: Role | None = None) -> dict[str, str]:
        """The variables that reproduce this configuration (secrets included: for a child process)."""
        prefix = f"AUDIT_{role.upper()}_" if role else ""
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            if text:
                env[prefix + _VARIABLES[f.name]] = text
        return env


def librdkafka_security(security: KafkaSecurity) -> dict[str, str]:
    """The librdkafka (confluent-kafka) settings of ``security``: merge them into any client's config."""
    config = {"security.protocol": security.protocol.lower()}
    if security.uses_sasl:
        config |= {"sasl.mechanism": security.sasl_mechanism,
                   "sasl.username": security.sasl_username,
                   "sasl.password": security.sasl_password}
    if security.uses_tls:
        config["ssl.endpoint.identification.algorithm"] = "https" if security.ssl_check_hostname else "none"
        if security.ssl_ca_file:
            config["ssl.ca.location"] = security.ssl_ca_file
        if security.ssl_cert_file:
            config["ssl.certificate.location"] = security.ssl_cert_file
            config["ssl.key.location"] = security.ssl_key_file
        if security.ssl_key_password:
            config["ssl.key.password"] = security.ssl_key_password
    return config


def kafka_client_config(settings: Settings, role: Role) -> dict[str, str | int | float | bool]:
    """``bootstrap.servers`` and the role's security settings: the base of every confluent-kafka client."""
    return {"bootstrap.servers": settings.kafka_bootstrap, **librdkafka_security(settings.kafka_for(role))}


def _flag(prefix: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{prefix}KAFKA_SSL_CHECK_HOSTNAME must be true or false")
