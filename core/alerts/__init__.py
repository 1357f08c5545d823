"""Alerts on finalized metric records: rules from a TOML file, and a state machine per episode.

- ``rules``: ``Rule``, ``load_rules(toml_text)`` (raises ``ConfigError``), ``default_rules()``.
- ``evaluator``: ``AlertEvaluator(rules)``; ``evaluate(record) -> [alert]`` for each metric record
  as ``core.metrics.PartialMerger`` emits it; ``to_json()`` / ``restore(data)`` (or
  ``AlertEvaluator.from_json(rules, data)``) around a restart, so an episode never fires twice.

Pure: no I/O and no clock; the caller reads the file and publishes the alerts.
"""

from agent_audit.core.alerts.evaluator import AlertEvaluator
from agent_audit.core.alerts.rules import KINDS, Rule, default_rules, load_rules

__all__ = ["KINDS", "AlertEvaluator", "Rule", "default_rules", "load_rules"]
