"""``agent-audit prove <event_id>``: a self-contained JSON proof that an event is in a signed checkpoint.

The proof holds the event as stored, its Merkle audit path and the signed checkpoint; anyone checks
it offline with the public key alone::

    python -m agent_audit.core.evidence.offline proof.json --public-key stream.pub.pem

Exit 0 with the proof written; 1 if the event is not stored, not yet checkpointed, or its
checkpoint's events no longer rebuild the signed root (``agent-audit verify`` says what changed).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from agent_audit.cli.commands.context import Context, actor_parent, reports_errors

if TYPE_CHECKING:
    from agent_audit.sinks.compliance.verification import Verifier

__all__ = ["register"]


@reports_errors
def _prove(args: argparse.Namespace) -> int:
    from agent_audit.core.evidence.offline import check_proof  # noqa: PLC0415
    from agent_audit.sinks.compliance.verification import Verifier  # noqa: PLC0415

    ctx = Context(args)
    ctx.access_log.record(ctx.actor, "prove", {"event_id": args.event_id}, 1)  # before anything is shown
    verifier = Verifier(ctx.es, ctx.settings)
    proof = _gather(ctx, verifier, args.event_id)
    if isinstance(proof, str):
        print(f"agent-audit prove: {proof}", file=sys.stderr)
        return 1
    problems = check_proof(proof, verifier.keys)
    out = Path(args.output or f"proof-{args.event_id}.json")
    out.write_bytes(orjson.dumps(proof, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    outcome = "verifies" if not problems else "DOES NOT VERIFY: " + "; ".join(problems)
    print(f"{out}: event {args.event_id} in checkpoint {proof['checkpoint']['checkpoint_id']} "
          f"(leaf {proof['leaf_index']} of {proof['tree_size']}), {outcome}")
    return 0 if not problems else 1


def _gather(ctx: Context, verifier: Verifier, event_id: str) -> dict[str, Any] | str:
    """The proof, or why there is none."""
    from agent_audit.core.evidence.checkpoint import checkpoint_id  # noqa: PLC0415
    from agent_audit.core.evidence.proof import build_proof  # noqa: PLC0415
    from agent_audit.sinks.indices import events_alias  # noqa: PLC0415
    from agent_audit.sinks.queries import scan  # noqa: PLC0415

    alias = events_alias(ctx.prefix)
    hits = ctx.es.search(index=alias, query={"ids": {"values": [event_id]}}, size=1)["hits"]["hits"]
    if not hits:
        return f"event {event_id} is not stored"
    event = hits[0]["_source"]
    integrity = event.get("integrity") or {}
    if "checkpoint" not in integrity:
        return "the event carries no checkpoint position (integrity off?)"
    part, number = int(integrity["partition"]), int(integrity["checkpoint"])
    cp_id = checkpoint_id(ctx.settings.topics.raw, part, number)
    found = verifier.checkpoints({"term": {"checkpoint_id": cp_id}})
    if not found:
        return f"checkpoint {number} of partition {part} is not stored yet; try again in a few seconds"
    query = {"bool": {"filter": [{"term": {"integrity.partition": part}},
                                 {"term": {"integrity.checkpoint": number}}]}}
    with closing(scan(ctx.es, alias, query, [{"integrity.leaf": "asc"}])) as covered:
        try:
            return build_proof(event, [h["_source"] for h in covered], found[0])
        except ValueError as exc:
            return str(exc)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("prove", parents=[actor_parent()], description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              help="write a self-contained proof for one event (checked offline with "
                                   "python -m agent_audit.core.evidence.offline)")
    p.add_argument("event_id", help="the event to prove (its UUID, as stored)")
    p.add_argument("-o", "--output", help="file to write (default: proof-<event_id>.json)")
    p.set_defaults(func=_prove)
