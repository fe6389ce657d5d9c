"""The import graph follows the flow (DESIGN section 3): surfaces render, statistics compute.

Reads the imports of each module's source (``import`` and ``from ... import``, at any
depth, including the lazy ones inside functions) with :mod:`ast`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PKG = REPO / "evalaudit"
SURFACES = [
    REPO / "app.py",
    PKG / "cli.py",
    PKG / "gate.py",
    PKG / "dashboard.py",
    *sorted((PKG / "commands").glob("*.py")),
]


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = path.relative_to(REPO).with_suffix("").parts[: -node.level]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            out.add(base)
            # "from evalaudit import table" names the module as an attribute
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def _reaches(names: set[str], package: str) -> set[str]:
    return {n for n in names if n == package or n.startswith(package + ".")}


def test_surfaces_import_neither_statistics_nor_the_table():
    offenders = {}
    for path in SURFACES:
        bad = _reaches(_imports(path), "evalaudit.stats") | _reaches(
            _imports(path), "evalaudit.table"
        )
        if bad:
            offenders[str(path.relative_to(REPO))] = sorted(bad)
    assert offenders == {}


#: Statistics modules that read files: none (the gold file is read by evalaudit/gold.py).
STILL_READING: set[str] = set()


def test_statistics_do_not_read_files():
    readers = {
        str(p.relative_to(REPO))
        for p in sorted((PKG / "stats").glob("*.py"))
        if _reaches(_imports(p), "evalaudit.io")
    }
    assert readers == STILL_READING


def test_the_reader_finds_imports():
    # the check itself: it sees a lazy import inside a function and a relative import
    here = _imports(Path(__file__))
    assert "tests.conftest" in here and "ast" in here
    assert "evalaudit.stats.consensus" in _imports(PKG / "audit.py")
