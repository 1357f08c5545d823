"""Command groups of ``agent-audit`` for queries and compliance; each module has ``register``.

``register_all`` adds them to the main parser; ``main`` runs them alone
(``python -m agent_audit.cli.commands``), which is also how their tests call them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from agent_audit.cli.commands import archive, checkpoints, dlq, forget, hold, prove, query, retention, verify

__all__ = ["GROUPS", "build_parser", "main", "register_all"]

GROUPS = (query, verify, forget, retention, hold, dlq, prove, checkpoints, archive)


def register_all(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for group in GROUPS:
        group.register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-audit", description=__doc__)
    register_all(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
