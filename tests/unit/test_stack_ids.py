"""The local stack's Kafka cluster ids are valid arguments for Kafka's storage tool."""

from __future__ import annotations

import base64

from agent_audit.stack.kafka import _random_cluster_id


def test_cluster_ids_are_16_bytes_of_url_safe_base64_never_starting_with_a_dash() -> None:
    """A leading '-' made the storage tool read the id as an option (seen in a CI run)."""
    for _ in range(2000):
        cid = _random_cluster_id()
        assert not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16
