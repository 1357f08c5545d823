"""The stream's Faust (aiokafka) side of ``core.kafka_security``: the same fields, Faust's credentials.

Guarantee: Faust's consumer, producer and admin client authenticate and encrypt exactly as the
stream's confluent-kafka clients do (``kafka_client_config(settings, "stream")``), because both are
built from the one ``KafkaSecurity`` of the STREAM role: SASL (PLAIN, SCRAM-SHA-256/512) as
``faust.auth.SASLCredentials``, TLS and mTLS as an ``ssl.SSLContext`` (CA, certificate, key).
"""

from __future__ import annotations

import ssl

from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from agent_audit.core.kafka_security import KafkaSecurity

__all__ = ["faust_credentials", "ssl_context"]


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    """A client TLS context: the configured CA (else the system's), the client certificate if any."""
    context = ssl.create_default_context(cafile=security.ssl_ca_file or None)
    context.check_hostname = security.ssl_check_hostname
    if security.ssl_cert_file:
        context.load_cert_chain(security.ssl_cert_file, security.ssl_key_file,
                                password=security.ssl_key_password or None)
    return context


def faust_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """``broker_credentials`` for ``faust.App``: None on PLAINTEXT, else SASL and/or TLS."""
    context = ssl_context(security) if security.uses_tls else None
    if security.uses_sasl:
        return SASLCredentials(username=security.sasl_username, password=security.sasl_password,
                               mechanism=security.sasl_mechanism, ssl_context=context)
    if context is not None:
        return SSLCredentials(context)
    return None
