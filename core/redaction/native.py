"""Optional: the redaction modules compiled with mypyc, in place, for about 1.5x the throughput.

Guarantee: the compiled modules are built from these very sources, so they remove exactly what the
pure-Python ones remove (the unit tests and ``bench/redaction``'s corpora run against whichever
build is importable; the bench says which). Python prefers an extension module to the source
beside it, so building puts ``*.so`` files next to the sources, and ``--clean`` takes them away
again: without them the pure-Python modules run, as after a plain ``pip install``.

Run: ``python -m agent_audit.core.redaction.native [--clean]`` (``make native``): needs mypy (a dev
dependency), a C compiler and the Python headers; about a minute on 2 cores. The build runs in a
temporary copy without symlinks, so that mypyc names the modules ``agent_audit.core.redaction.*``;
their shared runtime is ``_native__mypyc`` in this package, importable wherever the package is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["COMPILED", "StaleBuild", "check_build", "compiled", "main"]

HERE = Path(__file__).resolve().parent
# The modules on the hot path, and the key ring, whose redactor subclasses ``Redactor`` (a class
# compiled by mypyc cannot be subclassed by interpreted code); the CLI's NDJSON loop and the NER port
# stay Python.
COMPILED = ("checks", "context", "detectors", "keyed", "keyring", "keys", "normalize", "numbers", "patterns",
            "phrases", "redactor")
_GROUP = "agent_audit.core.redaction._native"
_RECORD = HERE / "_native.sha256"  # the sources' fingerprint, written with the build
_SETUP = """
from mypyc.build import mypycify
from setuptools import setup
setup(name="agent-audit-redaction-native", ext_modules=mypycify({paths!r}, opt_level="3",
      group_name={group!r}))
"""


class StaleBuild(ImportError):
    """Compiled modules built from other sources than those beside them (a pull after ``make native``)."""


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in COMPILED:
        digest.update((HERE / f"{name}.py").read_bytes())
    return digest.hexdigest()


def check_build() -> None:
    """Refuse to run compiled modules that no longer match their sources: Python would load the
    extension beside a newer ``.py`` without a word, and run yesterday's rules. One hash of the
    sources at import (under a millisecond), only where a build is present."""
    if not _built():
        return
    try:
        recorded = _RECORD.read_text().strip()
    except FileNotFoundError:
        recorded = ""
    if recorded != _fingerprint():
        raise StaleBuild("core/redaction holds compiled modules built from other sources: "
                         "run `make native` to rebuild them or `make native-clean` to remove them")


def compiled() -> bool:
    """Whether the redactor that runs here is the mypyc build."""
    from agent_audit.core.redaction import redactor  # noqa: PLC0415 - the one to look at

    return not str(redactor.__file__).endswith(".py")


def _built() -> list[Path]:
    return [p for p in HERE.iterdir() if p.suffix in (".so", ".pyd")]


def clean() -> None:
    for path in _built():
        path.unlink()
    _RECORD.unlink(missing_ok=True)


def build() -> None:
    """Compile COMPILED into extension modules beside their sources."""
    clean()  # a stale build must never run beside newer sources
    core = HERE.parent
    fingerprint = _fingerprint()  # of the sources copied: an edit during the build shows as stale
    with tempfile.TemporaryDirectory(prefix="redaction-native-") as tmp:
        root = Path(tmp)
        (root / "agent_audit").mkdir()
        (root / "agent_audit" / "__init__.py").write_text("")  # core needs nothing from the top package
        shutil.copytree(core, root / "agent_audit" / "core", symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"))
        paths = [f"agent_audit/core/redaction/{name}.py" for name in COMPILED]
        (root / "setup.py").write_text(_SETUP.format(paths=paths, group=_GROUP))
        env = {**os.environ, "PYTHONPATH": ""}  # build against the copy, not the installed sources
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=root, env=env,
                       check=True)
        for built in (root / "agent_audit" / "core" / "redaction").iterdir():
            if built.suffix in (".so", ".pyd"):
                shutil.copy(built, HERE / built.name)
    _RECORD.write_text(fingerprint + "\n")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--clean"]:
        clean()
        print("redaction: pure Python (compiled modules removed)")
        return 0
    build()
    print(f"redaction: compiled with mypyc ({len(_built())} extension modules in {HERE})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
