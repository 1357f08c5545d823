"""How every Elasticsearch client of the pipeline connects: one pure mapping from settings to options.

Guarantee: the sink, the CLI's readers, compliance tools and namespace cleanup all build their client
from ``elasticsearch_options`` (through ``sinks.es_client.build_es``), so a CA file, a certificate
fingerprint, a client certificate, an API key or a user and password given once apply to every one.
Credentials written into ``ES_URL`` are lifted out of the URL into ``basic_auth``, so the host that
the client prints in its errors and logs never carries the password.

=========================  ==========  ====================================================================
variable                   default     meaning
=========================  ==========  ====================================================================
ES_USERNAME                (none)      basic auth user (instead of user:password in ES_URL)
ES_PASSWORD                (none)      its password (a secret)
ES_CA_FILE                 (system)    PEM file of the CA that signed Elasticsearch's certificate
ES_CERT_FINGERPRINT        (none)      SHA-256 fingerprint of the server certificate (pinning, hex)
ES_CLIENT_CERT_FILE        (none)      PEM client certificate (mTLS; needs ES_CLIENT_KEY_FILE)
ES_CLIENT_KEY_FILE         (none)      PEM private key of that certificate
=========================  ==========  ====================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from agent_audit.core.errors import ConfigError

if TYPE_CHECKING:
    from agent_audit.core.settings import Settings

__all__ = ["elasticsearch_options", "redact_url", "split_credentials"]


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:password@`` part, and that pair (None when absent)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, (unquote(parts.username), unquote(parts.password or ""))


def redact_url(url: str) -> str:
    """``url`` safe to print: a password in it becomes ``***``."""
    bare, creds = split_credentials(url)
    if creds is None:
        return url
    parts = urlsplit(bare)
    return urlunsplit((parts.scheme, f"{creds[0]}:***@{parts.netloc}", parts.path, parts.query,
                       parts.fragment))


def elasticsearch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``elasticsearch.Elasticsearch`` from ``settings`` (no network)."""
    url, url_creds = split_credentials(settings.es_url)
    options: dict[str, Any] = {"hosts": [url]}
    if settings.es_api_key:
        options["api_key"] = settings.es_api_key
    elif settings.es_username:
        options["basic_auth"] = (settings.es_username, settings.es_password or "")
    elif url_creds:
        options["basic_auth"] = url_creds
    if settings.es_ca_file:
        options["ca_certs"] = settings.es_ca_file
    if settings.es_fingerprint:
        options["ssl_assert_fingerprint"] = settings.es_fingerprint.replace(":", "").lower()
    if bool(settings.es_client_cert_file) != bool(settings.es_client_key_file):
        raise ConfigError("ES_CLIENT_CERT_FILE and ES_CLIENT_KEY_FILE go together")
    if settings.es_client_cert_file:
        options["client_cert"] = settings.es_client_cert_file
        options["client_key"] = settings.es_client_key_file
    tls_options = ("ca_certs", "ssl_assert_fingerprint", "client_cert")
    if any(k in options for k in tls_options) and not url.startswith("https://"):
        raise ConfigError("ES_CA_FILE, ES_CERT_FINGERPRINT and client certificates need an https ES_URL")
    return options
