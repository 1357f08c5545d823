"""The optional mypyc build of the redaction modules never runs stale, and removes what Python does."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_audit.core.redaction import native


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in of core/redaction: one source per compiled module, no build yet."""
    for name in native.COMPILED:
        (tmp_path / f"{name}.py").write_text(f"# {name}\n")
    monkeypatch.setattr(native, "HERE", tmp_path)
    monkeypatch.setattr(native, "_RECORD", tmp_path / "_native.sha256")
    return tmp_path


def test_without_a_build_the_pure_python_modules_run(package: Path) -> None:
    """No extension module beside the sources: nothing to check, nothing refused."""
    native.check_build()


def test_a_build_of_the_sources_beside_it_is_accepted(package: Path) -> None:
    """Extension modules and the fingerprint of the very sources they were built from: accepted."""
    (package / "redactor.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (package / "_native.sha256").write_text(native._fingerprint() + "\n")
    native.check_build()


def test_a_build_older_than_its_sources_is_refused_at_import(package: Path) -> None:
    """A source edited (or pulled) after the build: importing the package raises StaleBuild, which
    names both ways out, instead of running yesterday's rules."""
    (package / "redactor.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (package / "_native.sha256").write_text(native._fingerprint() + "\n")
    (package / "numbers.py").write_text("# a new rule\n")
    with pytest.raises(native.StaleBuild, match="make native"):
        native.check_build()


def test_a_build_without_its_fingerprint_is_refused(package: Path) -> None:
    """Extension modules copied in by hand, with no record of their sources: refused."""
    (package / "redactor.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    with pytest.raises(native.StaleBuild):
        native.check_build()


def test_clean_removes_the_build_and_its_fingerprint(package: Path) -> None:
    """``--clean`` leaves the sources alone and takes away everything the build added."""
    (package / "_native__mypyc.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (package / "_native.sha256").write_text("x\n")
    assert native.main(["--clean"]) == 0
    assert sorted(p.name for p in package.iterdir()) == sorted(f"{n}.py" for n in native.COMPILED)
