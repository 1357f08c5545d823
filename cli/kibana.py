"""``agent-audit kibana export|import``: the dashboards for ``AUDIT_INDEX_PREFIX``.

``export`` prints the saved objects as NDJSON (for Kibana's UI or your own tooling); ``import`` loads
them, reports every object Kibana refused, and exits 0 only when Kibana said ``success: true``.
"""

from __future__ import annotations

import argparse
import sys

from agent_audit.cli.output import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, progress

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    from agent_audit.core.settings import Settings  # noqa: PLC0415
    from agent_audit.kibana.importer import KibanaOptions, KibanaUnreachable, import_objects  # noqa: PLC0415
    from agent_audit.kibana.objects import saved_objects, to_ndjson  # noqa: PLC0415

    prefix = Settings.from_env().index_prefix
    if args.action == "export":
        sys.stdout.write(to_ndjson(saved_objects(prefix)))
        return EXIT_OK
    options = KibanaOptions.from_env(url=args.url)
    try:
        with progress(f"importing the dashboards for {prefix}-* into Kibana"):
            report = import_objects(options, prefix)
    except KibanaUnreachable as exc:
        print(f"agent-audit kibana: {exc}. Is it running? Set KIBANA_URL or --url; with security on, "
              "KIBANA_API_KEY (or KIBANA_USERNAME and KIBANA_PASSWORD)", file=sys.stderr)
        return EXIT_UNREACHABLE
    for error in report.errors:
        print(f"agent-audit kibana: not imported: {error}", file=sys.stderr)
    if not report.success:
        print(f"agent-audit kibana: import failed ({report.imported} objects imported, "
              f"{len(report.errors)} errors)", file=sys.stderr)
        return EXIT_FAILED
    print(f"imported {report.imported} objects: dashboard 'Agent audit - {prefix}'")
    return EXIT_OK
