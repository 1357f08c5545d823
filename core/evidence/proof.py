"""A self-contained proof that one stored event is covered by a signed checkpoint.

The proof carries the event as stored, its leaf index, the audit path to the checkpoint's Merkle
root and the signed checkpoint. The leaves are rebuilt from the stored link hashes of every event
the checkpoint covers (they are in the integrity fields, even of erased events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_audit.core.evidence.merkle import audit_path, root

__all__ = ["PROOF_TYPE", "build_proof"]

PROOF_TYPE = "agent-audit/proof/v1"


def build_proof(event: Mapping[str, Any], covered: Sequence[Mapping[str, Any]],
                checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """``covered``: the stored events naming this checkpoint. A ValueError if they do not rebuild its
    root (an event of the checkpoint was removed or changed: ``verify`` says which)."""
    index = int(event["integrity"]["leaf"])
    by_leaf = {int(e["integrity"]["leaf"]): str(e["integrity"]["hash"]) for e in covered}
    size = int(checkpoint["tree_size"])
    if sorted(by_leaf) != list(range(size)):
        raise ValueError(f"{size - len(by_leaf)} of the checkpoint's {size} events are not stored")
    leaves = [bytes.fromhex(by_leaf[i]) for i in range(size)]  # a link hash is its leaf hash
    if root(leaves).hex() != checkpoint["root"]:
        raise ValueError("the stored events do not rebuild the checkpoint's root")
    return {"type": PROOF_TYPE, "event": dict(event), "leaf_index": index, "tree_size": size,
            "path": [h.hex() for h in audit_path(index, leaves)], "checkpoint": dict(checkpoint)}
