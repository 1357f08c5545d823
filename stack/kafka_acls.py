"""Least privilege on Kafka: which principal may do what to which topic and group, and granting it.

Guarantee: ``pipeline_grants`` is the whole list of rights the pipeline needs (nothing is granted
by a wildcard); with ``allow.everyone.if.no.acl.found=false`` everything else is refused.

==========  ===================================================================================
principal   rights
==========  ===================================================================================
agent       write (and describe) the raw topic; nothing else: it cannot read raw, nor write
            agent.events (which the sink indexes as it is)
stream      read raw; write events, dlq, metrics, alerts, state, partials; read state and
            partials (its own); everything under its app id (Faust's internal topics) and its
            consumer groups
sink        read events, metrics, alerts (what it indexes) with its group; write the dlq
admin       super user (broker setting ``super.users``): creates topics, grants ACLs, DLQ tools
==========  ===================================================================================

``python -m agent_audit.stack.kafka_acls`` grants them for the settings in the environment, logged
in as the ADMIN role (docker-compose's ``kafka-acls`` job).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from agent_audit.core.kafka_security import kafka_client_config
from agent_audit.core.settings import Settings

__all__ = ["Grant", "grant", "pipeline_grants"]

Operation = Literal["READ", "WRITE", "DESCRIBE", "CREATE", "ALL"]


@dataclass(frozen=True)
class Grant:
    principal: str  # SCRAM user name; the ACL principal is "User:<name>"
    resource: Literal["TOPIC", "GROUP"]
    name: str
    operation: Operation
    prefixed: bool = False


def pipeline_grants(settings: Settings, agent: str = "agent", stream: str = "stream",
                    sink: str = "sink") -> list[Grant]:
    """Every right of the table above for the topics and groups of ``settings``."""
    t = settings.topics
    grants = [Grant(agent, "TOPIC", t.raw, op) for op in ("WRITE", "DESCRIBE")]
    grants += [Grant(stream, "TOPIC", t.raw, op) for op in ("READ", "DESCRIBE")]
    for topic in (t.events, t.dlq, t.metrics, t.alerts, t.state, t.partials):
        grants += [Grant(stream, "TOPIC", topic, op) for op in ("WRITE", "DESCRIBE")]
    grants += [Grant(stream, "TOPIC", topic, "READ") for topic in (t.state, t.partials)]
    grants += [Grant(stream, "TOPIC", settings.stream_app_id, "ALL", prefixed=True),
               Grant(stream, "GROUP", settings.stream_app_id, "ALL", prefixed=True),
               Grant(stream, "GROUP", "state-reader", "READ")]
    for topic in (t.events, t.metrics, t.alerts):
        grants += [Grant(sink, "TOPIC", topic, op) for op in ("READ", "DESCRIBE")]
    grants += [Grant(sink, "TOPIC", t.dlq, op) for op in ("WRITE", "DESCRIBE")]
    grants += [Grant(sink, "GROUP", settings.sink_group, "READ")]
    return grants


def grant(admin_config: dict[str, str | int | float | bool], grants: Iterable[Grant],
          timeout: float = 30.0) -> int:
    """Create the ACLs (idempotent: an existing one is left as it is) and wait until the broker
    enforces them (a fresh ACL takes a moment to reach the authorizer); returns how many."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # noqa: PLC0415 - pure table above
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    bindings = [AclBinding(ResourceType[g.resource], g.name,
                           ResourcePatternType.PREFIXED if g.prefixed else ResourcePatternType.LITERAL,
                           f"User:{g.principal}", "*", AclOperation[g.operation], AclPermissionType.ALLOW)
                for g in grants]
    admin = AdminClient(admin_config)
    for future in admin.create_acls(bindings, request_timeout=timeout).values():
        future.result(timeout=timeout)
    # None matches any name, principal and host (the stubs say str)
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
                                  AclOperation.ANY, AclPermissionType.ANY)
    deadline = time.monotonic() + timeout
    while not set(bindings) <= set(admin.describe_acls(everything).result(timeout=timeout)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the broker did not show {len(bindings)} new ACLs within {timeout} s")
        time.sleep(0.2)
    return len(bindings)


def main() -> int:
    settings = Settings.from_env()
    count = grant(kafka_client_config(settings, "admin"), pipeline_grants(settings))
    print(f"{count} ACLs granted for topic prefix {settings.topic_prefix!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
