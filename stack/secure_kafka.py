"""A secured single-node Kafka for the local stack: SASL_SSL + SCRAM, ACLs, one principal per component.

Guarantee: nothing reaches this broker without TLS and a SCRAM login, and each component can do
only what its role needs (``stack.kafka_acls``); ``admin`` (topic creation, ACLs) and the broker's
own ``broker`` principal are the only super users. A second client listener (port + 2) takes mTLS
instead: a client certificate signed by the stack's CA is required, and its subject (``CN=<name>``)
is the principal the ACLs name. Layout and life cycle are ``KafkaNode``'s, on
ports and a state folder of its own (AUDIT_SECURE_KAFKA_PORT, default 9492; ``<stack>/kafka-secure``),
so it runs beside a plain stack.

How it is bootstrapped (Kafka 4.1, KRaft): SCRAM credentials live in the cluster metadata, so the
storage tool writes them at format time (``format --add-scram``); the controller listener cannot
use SCRAM for the same reason (the controller must authenticate the broker before it has read any
metadata) and uses SASL/PLAIN over TLS with the broker's password in its JAAS entry;
``StandardAuthorizer`` is KRaft's ACL authorizer. Passwords are drawn once, kept 0600 in the state
folder with the certificates (``stack.certificates``), and handed to clients as environment
variables (``client_env``), never printed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

from agent_audit.core.settings import Settings
from agent_audit.stack.certificates import CertificateFiles, ensure_certificates
from agent_audit.stack.kafka import KafkaNode, _random_cluster_id
from agent_audit.stack.kafka_acls import grant, pipeline_grants
from agent_audit.stack.paths import StackPaths, write_private_env
from agent_audit.stack.process import StackError, port_open
from agent_audit.stack.service import HOST

__all__ = ["PRINCIPALS", "SecureKafkaNode"]

PRINCIPALS = ("admin", "broker", "agent", "stream", "sink")
MECHANISM = "SCRAM-SHA-512"
_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


class SecureKafkaNode(KafkaNode):
    name = "Kafka (SASL_SSL)"

    def __init__(self, paths: StackPaths, port: int = 9492, heap: str = "512m") -> None:
        super().__init__(paths, port, heap)
        self.dir = paths.state / "kafka-secure"
        self.pidfile = self.dir / "kafka.pid"
        self.log = self.dir / "broker.log"
        self.secrets_dir = self.dir / "secrets"

    # --- what clients need ----------------------------------------------------------------
    def passwords(self) -> dict[str, str]:
        """Each principal's password, drawn on first use and kept (0600) for the broker's life."""
        path = self.secrets_dir / "passwords.json"
        if path.exists():
            stored: dict[str, str] = json.loads(path.read_text())
            return stored
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        drawn = {p: secrets.token_hex(24) for p in PRINCIPALS}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(drawn, f)
        return drawn

    @property
    def mtls_bootstrap(self) -> str:
        """The mTLS listener (a client certificate instead of a SCRAM login)."""
        return f"{HOST}:{self.port + 2}"

    def client_certificate(self, name: str) -> CertificateFiles:
        """A certificate for principal ``CN=<name>`` signed by the stack's CA (made once)."""
        return ensure_certificates(self.secrets_dir, name)

    @property
    def ca_file(self) -> Path:
        return ensure_certificates(self.secrets_dir, "broker").ca

    def client_env(self) -> dict[str, str]:
        """Settings for every component: the agent principal by default, each role its own
        (core.kafka_security's AUDIT_<ROLE>_ overrides)."""
        pw = self.passwords()
        env = {"KAFKA_BOOTSTRAP": self.bootstrap, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
               "KAFKA_SASL_MECHANISM": MECHANISM, "KAFKA_SSL_CA_FILE": str(self.ca_file),
               "KAFKA_SASL_USERNAME": "agent", "KAFKA_SASL_PASSWORD": pw["agent"]}
        for role in ("stream", "sink", "admin"):
            env[f"AUDIT_{role.upper()}_KAFKA_SASL_USERNAME"] = role
            env[f"AUDIT_{role.upper()}_KAFKA_SASL_PASSWORD"] = pw[role]
        return env

    def admin_config(self) -> dict[str, str | int | float | bool]:
        return {"bootstrap.servers": self.bootstrap, "security.protocol": "sasl_ssl",
                "sasl.mechanism": MECHANISM, "sasl.username": "admin",
                "sasl.password": self.passwords()["admin"], "ssl.ca.location": str(self.ca_file)}

    def write_env_file(self, env: dict[str, str]) -> Path:
        """``env`` as a shell file only its owner can read (it holds passwords)."""
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return write_private_env(self.secrets_dir / "client.env", env)

    # --- life cycle -------------------------------------------------------------------------
    def up(self, timeout: float = 120.0) -> str:
        """Start (or find) the broker, then grant the pipeline's rights on the namespace of the
        environment's settings (AUDIT_TOPIC_PREFIX ...): each component can work at once."""
        outcome = super().up(timeout)
        settings = Settings.from_env({**os.environ, **self.client_env()})
        grant(self.admin_config(), pipeline_grants(settings))
        return outcome

    def _ready(self) -> bool:
        from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - only needed once the port answers

        if not port_open(HOST, self.port):
            return False
        try:
            AdminClient({**self.admin_config(), "log_level": 0}).list_topics(timeout=3)
        except Exception:  # any failure here just means "not ready yet"
            return False
        return True

    def _write_config(self) -> Path:
        plain = super()._write_config()  # the plain node's settings, with its listeners replaced below
        base = dict(line.split("=", 1) for line in plain.read_text().splitlines() if "=" in line)
        tls = ensure_certificates(self.secrets_dir, "broker")
        pw = self.passwords()["broker"]
        client, controller = f"{HOST}:{self.port}", f"{HOST}:{self.controller_port}"
        base |= {
            "listeners": f"CLIENT://{client},CONTROLLER://{controller},MTLS://{self.mtls_bootstrap}",
            "advertised.listeners": f"CLIENT://{client},MTLS://{self.mtls_bootstrap}",
            "listener.security.protocol.map": "CLIENT:SASL_SSL,CONTROLLER:SASL_SSL,MTLS:SSL",
            "listener.name.mtls.ssl.client.auth": "required",
            "inter.broker.listener.name": "CLIENT",
            "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.client.scram-sha-512.sasl.jaas.config": _jaas(_SCRAM, pw),
            "listener.name.client.scram-sha-256.sasl.jaas.config": _jaas(_SCRAM, pw),
            "listener.name.controller.plain.sasl.jaas.config": _jaas(_PLAIN, pw, f'user_broker="{pw}"'),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(tls.bundle),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls.ca),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:admin;User:broker",
            "allow.everyone.if.no.acl.found": "false",
        }
        plain.write_text("".join(f"{k}={v}\n" for k, v in base.items()))
        os.chmod(plain, 0o600)  # it holds the broker's password
        return plain

    def _format(self, java: str, classpath: str, props: Path) -> None:
        scram = []
        for principal, password in self.passwords().items():
            scram += ["--add-scram", f"{MECHANISM}=[name={principal},password={password}]"]
        done = subprocess.run(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", _random_cluster_id(),
             "-c", str(props), "--ignore-formatted", *scram],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-2000:]
            for password in self.passwords().values():
                output = output.replace(password, "***")
            raise StackError(f"Kafka storage format failed:\n{output}")


def _jaas(module: str, password: str, extra: str = "") -> str:
    return f'{module} required username="broker" password="{password}" {extra};'.replace(" ;", ";")
