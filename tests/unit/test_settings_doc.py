"""One table documents every setting of every component: docs/settings.md is generated from the
modules that read the variables, and every variable the code reads is in it."""

from __future__ import annotations

import re
from pathlib import Path

from agent_audit.cli.settings_table import markdown, settings
from agent_audit.core.settings import Settings
from agent_audit.producers.options import ClientOptions
from agent_audit.producers.otlp.options import OtlpOptions

ROOT = Path(__file__).parents[2]
SOURCES = ("core", "producers", "stream", "sinks", "stack", "cli", "demo", "kibana")
# A quoted upper-case name with one of our prefixes, in code that reads the environment.
VARIABLE = re.compile(r"[\"']((?:AUDIT|KAFKA|ES|KIBANA)_[A-Z0-9_]+|JAVA_HOME)[\"']")
NOT_SETTINGS = {"ES_PATH_CONF", "ES_TMPDIR"}  # what the local stack sets for Elasticsearch itself


def test_the_settings_page_is_the_generated_table() -> None:
    """docs/settings.md holds exactly `agent-audit settings --markdown` between its markers."""
    page = (ROOT / "docs" / "settings.md").read_text()
    table = page.split("<!-- settings:start -->\n")[1].split("<!-- settings:end -->")[0]
    assert table == markdown()


def test_every_variable_the_code_reads_is_in_the_table() -> None:
    """Scanning the sources for our variable names finds none missing from the table."""
    listed = {s.variable for s in settings()}
    read: set[str] = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if "environ" in text or "env.get" in text or "getenv" in text or "env, " in text:
                read |= set(VARIABLE.findall(text))
    assert read - NOT_SETTINGS - listed == set()


def test_every_option_of_each_settings_object_is_documented() -> None:
    """Each field of Settings, ClientOptions and OtlpOptions has a variable in the table: reading a
    full environment of the documented defaults changes nothing."""
    listed = {s.variable for s in settings()}
    for env_name in Settings().to_env():
        assert env_name in listed, env_name
    assert len([s for s in settings() if s.component == "agent client"]) == len(vars(ClientOptions()))
    assert len([s for s in settings() if s.component == "OTLP receiver"]) == len(vars(OtlpOptions()))
    assert len({s.variable for s in settings()}) == len(settings())  # each variable once
