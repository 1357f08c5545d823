"""Check a proof from ``agent-audit prove`` offline, with the stream's public key and nothing else.

    python -m agent_audit.core.evidence.offline proof.json --public-key key.pem

Needs only Python and ``cryptography`` (``pip install agent-audit[verify]``): no Kafka, no
Elasticsearch, no network. It checks, in order: the event's content against its salted digest
(skipped for an erased event, whose content is gone by design), the link hash over (previous hash,
session, seq, event id, digest), the audit path from that link to the checkpoint's Merkle root,
and the checkpoint's Ed25519 signature. Exit 0 if the proof holds, 1 if not, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_audit.core.evidence.canonical import canonical, content_digest, link_hash
from agent_audit.core.evidence.checkpoint import verify_signature
from agent_audit.core.evidence.merkle import root_from_path
from agent_audit.core.evidence.signing import Keyring

__all__ = ["check_proof", "main"]


def check_proof(proof: Mapping[str, Any], keys: Keyring) -> list[str]:
    """What the proof fails on (empty when it holds)."""
    event, cp = proof["event"], proof["checkpoint"]
    integrity = event.get("integrity") or {}
    digest = str(integrity.get("digest"))
    if "salt" in integrity:
        salt = base64.b64decode(str(integrity["salt"]))
        if not hmac.compare_digest(content_digest(salt, canonical(event)), digest):
            return ["the event's content does not match its digest"]
    elif "erased" not in event:
        return ["the event has no salt and is not erased"]
    link = link_hash(integrity.get("prev_hash"), str(event["session_id"]), int(event["seq"]),
                     str(event["event_id"]), digest)
    if link != integrity.get("hash"):
        return ["the event's link hash does not match its fields"]
    problems = []
    if (int(integrity.get("checkpoint", -1)), int(integrity.get("partition", -1))) != \
            (int(cp["number"]), int(cp["partition"])):
        problems.append("the event names another checkpoint")
    if int(proof["tree_size"]) != int(cp["tree_size"]) or int(proof["leaf_index"]) != integrity.get("leaf"):
        problems.append("the proof's position disagrees with the event or the checkpoint")
    path = [bytes.fromhex(h) for h in proof["path"]]
    got = root_from_path(bytes.fromhex(link), int(proof["leaf_index"]), int(cp["tree_size"]), path)
    if got is None or got.hex() != cp["root"]:
        problems.append("the audit path does not lead to the checkpoint's root")
    if not verify_signature(cp, keys):
        problems.append(f"the checkpoint is not signed by the given key (key id {cp.get('key_id')})")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent-audit-offline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("proof", type=Path)
    parser.add_argument("--public-key", type=Path, action="append", required=True,
                        help="PEM or base64 Ed25519 public key (repeat for rotated keys)")
    args = parser.parse_args(argv)
    try:
        proof = json.loads(args.proof.read_text())
        keys = Keyring.from_texts(p.read_text() for p in args.public_key)
        problems = check_proof(proof, keys)
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        print(f"unreadable: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    event, cp = proof["event"], proof["checkpoint"]
    where = (f"event {event['event_id']} (session {event['session_id']}, seq {event['seq']}) "
             f"in checkpoint {cp['checkpoint_id']} closed {cp['closed_at']}")
    if problems:
        print(f"INVALID: {where}: " + "; ".join(problems))
        return 1
    erased = event.get("erased")
    note = f", erased under receipt {erased.get('receipt')}" if isinstance(erased, Mapping) else ""
    print(f"VALID: {where}, signed by key {cp['key_id']}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
