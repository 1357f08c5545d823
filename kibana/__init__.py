"""Kibana saved objects for the audit trail, in the shape Kibana 8.19 exports (Lens, migration
versions), built for an index prefix: ``objects.saved_objects(prefix)``; ``importer.import_objects``
loads them through Kibana's import API and fails loudly on ``"success": false``.
``agent-audit kibana export|import`` runs them; ``agent-audit.ndjson`` is the export for the default
prefix, which docker-compose imports (a unit test keeps it equal to the builder's output)."""

__all__: list[str] = []
