"""The documentation hangs together: every relative link in the README and docs/ points at a file
that exists, and the README links each reader's page."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_resolve() -> None:
    """No link of README.md or docs/*.md to a local file is broken."""
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_readme_links_every_reader() -> None:
    """Agent developers, operators, auditors and the settings table are one click from the README."""
    readme = (ROOT / "README.md").read_text()
    for page in ("docs/agents.md", "docs/operators.md", "docs/auditors.md", "docs/settings.md"):
        assert f"]({page})" in readme, page
