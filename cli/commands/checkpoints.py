"""``agent-audit checkpoints``: export the signed checkpoints, make a signing key.

``export`` reads the checkpoints topic (the stream's own copy, not Elasticsearch) from its start
and writes one JSON record per line, so a copy of the evidence lives outside the cluster an insider
can write to; ``--since`` keeps records closed at or after a time. ``keygen`` writes a new Ed25519
private key (mode 0600) and its public key beside it, and prints the key id.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from agent_audit.cli.commands.context import Context, reports_errors

__all__ = ["register"]


@reports_errors
def _export(args: argparse.Namespace) -> int:
    from agent_audit.stream.checkpoint_export import read_checkpoints  # noqa: PLC0415

    ctx = Context(args)
    records = read_checkpoints(ctx.settings, timeout=args.timeout)
    kept = [r for r in records if not args.since or str(r.get("closed_at", "")) >= args.since]
    body = b"".join(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n" for r in kept)
    if args.output == "-":
        sys.stdout.buffer.write(body)
    else:
        Path(args.output).write_bytes(body)
        print(f"{args.output}: {len(kept)} checkpoints", file=sys.stderr)
    return 0


def _keygen(args: argparse.Namespace) -> int:
    import base64  # noqa: PLC0415

    from agent_audit.core.evidence.signing import SigningKey, public_pem  # noqa: PLC0415

    key = SigningKey.generate()
    private = Path(args.output)
    if private.exists():
        print(f"agent-audit checkpoints keygen: {private} exists; not overwritten", file=sys.stderr)
        return 2
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.private_pem())
    public = private.with_suffix(".pub.pem")
    public.write_text(public_pem(key.public))
    raw = base64.b64encode(key.public.public_bytes_raw()).decode()
    print(f"key id {key.key_id}\nprivate: {private} (AUDIT_SIGNING_KEY_FILE, the stream only)\n"
          f"public:  {public} (AUDIT_PUBLIC_KEYS, or inline: {raw})")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("checkpoints", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              help="export the signed checkpoints to a file; make a signing key")
    sub = p.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write every checkpoint from the topic as NDJSON")
    export.add_argument("-o", "--output", default="-", help="file (default: standard output)")
    export.add_argument("--since", help="only checkpoints closed at or after this time (RFC 3339)")
    export.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the broker")
    export.set_defaults(func=_export)
    keygen = sub.add_parser("keygen", help="write a new Ed25519 signing key and its public key")
    keygen.add_argument("-o", "--output", default="stream-signing-key.pem")
    keygen.set_defaults(func=_keygen)
