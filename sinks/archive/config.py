"""The archive's settings, read once from the environment at start-up.

===============================  ==========================  ==============================================
variable                         default                     meaning
===============================  ==========================  ==============================================
AUDIT_ARCHIVE_S3_ENDPOINT        (none)                      S3 endpoint URL (http://host:port); with a bucket
                                                             the archive lives on S3 (AWS: leave empty, set
                                                             AUDIT_ARCHIVE_S3_REGION)
AUDIT_ARCHIVE_BUCKET             (none)                      bucket of the archive (S3 when set)
AUDIT_ARCHIVE_S3_ACCESS_KEY      (none)                      access key id (else the AWS default chain)
AUDIT_ARCHIVE_S3_SECRET_KEY      (none)                      secret access key
AUDIT_ARCHIVE_S3_REGION          us-east-1                   region
AUDIT_ARCHIVE_DIR                (none)                      a local folder instead of S3 (no bucket set)
AUDIT_ARCHIVE_PREFIX             <topic prefix>archive       key prefix under the bucket or folder
AUDIT_ARCHIVE_GROUP              (from the topic prefix)     consumer group of the archive worker
                                                             (<topic prefix>agent-audit-archive)
AUDIT_ARCHIVE_BATCH              50000                       records of one partition per object at most
AUDIT_ARCHIVE_LINGER_S           60                          a partition's records wait at most this long
AUDIT_ARCHIVE_COMPACT_AFTER_S    3600                        the worker compacts closed days this often
AUDIT_ARCHIVE_RETENTION_DAYS     2557 (7 years)              cold retention: archived days kept this long
===============================  ==========================  ==============================================

Hot retention (Elasticsearch, days) is ``agent-audit retention apply --days``; cold retention (the
archive, years) is ``AUDIT_ARCHIVE_RETENTION_DAYS`` / ``agent-audit archive retention``. Legal holds
(``agent-audit hold``) apply to both. The secret key never appears in ``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from agent_audit.core.envvars import env_float, env_int
from agent_audit.core.errors import ConfigError
from agent_audit.core.settings import Settings

__all__ = ["ArchiveSettings"]


@dataclass(frozen=True)
class ArchiveSettings:
    s3_endpoint: str = ""
    bucket: str = ""
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    region: str = "us-east-1"
    local_dir: str = ""
    prefix: str = "archive"
    group: str = "agent-audit-archive"
    batch: int = 50_000
    linger_s: float = 60.0
    compact_after_s: float = 3600.0
    retention_days: int = 2557

    @property
    def on_s3(self) -> bool:
        return bool(self.bucket)

    @property
    def location(self) -> str:
        """Where the objects are, for messages (no credentials in it)."""
        if self.on_s3:
            at = f" at {self.s3_endpoint}" if self.s3_endpoint else ""
            return f"s3://{self.bucket}/{self.prefix}{at}"
        return f"{self.local_dir}/{self.prefix}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, base: Settings | None = None) -> ArchiveSettings:
        """Read the variables above; production without a bucket or folder is a ``ConfigError``."""
        env = os.environ if env is None else env
        base = base or Settings.from_env(env)
        d = cls()
        s = cls(
            s3_endpoint=env.get("AUDIT_ARCHIVE_S3_ENDPOINT", ""),
            bucket=env.get("AUDIT_ARCHIVE_BUCKET", ""),
            access_key=env.get("AUDIT_ARCHIVE_S3_ACCESS_KEY", ""),
            secret_key=env.get("AUDIT_ARCHIVE_S3_SECRET_KEY", ""),
            region=env.get("AUDIT_ARCHIVE_S3_REGION", d.region) or d.region,
            local_dir=env.get("AUDIT_ARCHIVE_DIR", ""),
            # Defaults follow the topic prefix: a test's or a tenant's namespace has its own archive.
            prefix=(env.get("AUDIT_ARCHIVE_PREFIX") or base.topic_prefix + d.prefix).strip("/"),
            group=env.get("AUDIT_ARCHIVE_GROUP") or base.topic_prefix + d.group,
            batch=env_int(env, "AUDIT_ARCHIVE_BATCH", d.batch),
            linger_s=env_float(env, "AUDIT_ARCHIVE_LINGER_S", d.linger_s),
            compact_after_s=env_float(env, "AUDIT_ARCHIVE_COMPACT_AFTER_S", d.compact_after_s),
            retention_days=env_int(env, "AUDIT_ARCHIVE_RETENTION_DAYS", d.retention_days),
        )
        if not s.on_s3 and not s.local_dir:
            if base.production:
                raise ConfigError("the archive needs AUDIT_ARCHIVE_BUCKET (S3) or AUDIT_ARCHIVE_DIR")
            home = os.path.join(os.path.expanduser("~"), ".agent-audit-archive")
            s = cls(**{**s.__dict__, "local_dir": home})
        if s.on_s3 and bool(s.access_key) != bool(s.secret_key):
            raise ConfigError("set both AUDIT_ARCHIVE_S3_ACCESS_KEY and AUDIT_ARCHIVE_S3_SECRET_KEY, "
                              "or neither")
        return s

    def to_env(self) -> dict[str, str]:
        """The variables that reproduce these settings in a child process (the secret included)."""
        return {
            "AUDIT_ARCHIVE_S3_ENDPOINT": self.s3_endpoint, "AUDIT_ARCHIVE_BUCKET": self.bucket,
            "AUDIT_ARCHIVE_S3_ACCESS_KEY": self.access_key, "AUDIT_ARCHIVE_S3_SECRET_KEY": self.secret_key,
            "AUDIT_ARCHIVE_S3_REGION": self.region, "AUDIT_ARCHIVE_DIR": self.local_dir,
            "AUDIT_ARCHIVE_PREFIX": self.prefix, "AUDIT_ARCHIVE_GROUP": self.group,
            "AUDIT_ARCHIVE_BATCH": str(self.batch), "AUDIT_ARCHIVE_LINGER_S": str(self.linger_s),
            "AUDIT_ARCHIVE_COMPACT_AFTER_S": str(self.compact_after_s),
            "AUDIT_ARCHIVE_RETENTION_DAYS": str(self.retention_days),
        }

