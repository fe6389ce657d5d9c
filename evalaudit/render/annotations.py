"""GitHub Actions workflow commands for the gate (``evalaudit gate --annotations github``).

https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions: a line
``::error title=T::message`` (or ``::warning``) on stdout becomes an annotation on the run
and the pull request. GitHub shows at most 10 errors and 10 warnings per step, so each list
is capped at :data:`MAX_PER_LEVEL` and a ``::notice`` says how many more are in the JSON.
Blocking findings are errors, warnings warnings; a data-quality finding or an input
problem that has a line number carries ``file=`` and ``line=`` so the annotation points
at the row of the label file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from evalaudit.contract import Problem, Severity

__all__ = ["MAX_PER_LEVEL", "github_annotations", "github_problem_annotations"]

MAX_PER_LEVEL = 10


def _data(text: str) -> str:
    """Escape a message as GitHub's toolkit does (``%``, CR and LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    """Escape a property value (also ``:`` and ``,``, which separate properties)."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, message: str, title: str, file: str | None, line: int | None) -> str:
    props = []
    if file:
        props.append(f"file={_prop(file)}")
        if line:
            props.append(f"line={int(line)}")
    props.append(f"title={_prop(title)}")
    return f"::{level} {','.join(props)}::{_data(message)}"


def _capped(
    level: str, items: Sequence[tuple[str, str, str | None, int | None]], what: str
) -> list[str]:
    out = [_command(level, m, t, f, ln) for m, t, f, ln in items[:MAX_PER_LEVEL]]
    if len(items) > MAX_PER_LEVEL:
        out.append(
            f"::notice title=evalaudit::{len(items) - MAX_PER_LEVEL} more {what} not shown "
            "(GitHub shows 10 per step); see the gate's --json or --markdown"
        )
    return out


def _finding(f: dict[str, Any], data_path: str | None) -> tuple[str, str, str | None, int | None]:
    title = f"{f.get('rule', '')} {f.get('id', '')}".strip()
    rows = (f.get("evidence") or {}).get("rows") or []
    line = rows[0] if f.get("kind") == "data_quality" and rows else None
    return f"{f.get('message', '')}", title, data_path if line else None, line


def github_annotations(gate: Any) -> str:
    """Workflow commands for a :class:`~evalaudit.gate.GateResult`: blocking findings as
    ``::error``, warnings as ``::warning`` (10 each at most), one ``::notice`` verdict line."""
    data_path = next((f.path for f in gate.files if f.role == "data"), None)
    lines = _capped("error", [_finding(f, data_path) for f in gate.blocking], "blocking findings")
    lines += _capped("warning", [_finding(f, data_path) for f in gate.warnings], "warnings")
    lines.append(
        f"::notice title=evalaudit gate::{gate.verdict.upper()} (exit {gate.exit_code}): "
        f"{len(gate.blocking)} blocking, {len(gate.warnings)} warning(s)"
    )
    return "\n".join(lines) + "\n"


def github_problem_annotations(
    path: str, problems: Iterable[Problem], row_label: str = "line"
) -> str:
    """Workflow commands for input problems (the gate could not run, exit 2): ``file=`` and
    ``line=`` for problems found on a line of a text file."""
    problems = list(problems)
    items = []
    for p in problems:
        line = p.rows[0] if p.rows and row_label == "line" else None
        where = f"column '{p.column}': " if p.column else ""
        items.append((f"{where}{p.message} (fix: {p.hint})", f"evalaudit {p.check}", path, line))
    errors = [i for i, p in zip(items, problems, strict=False) if p.severity is Severity.ERROR]
    return "\n".join(_capped("error", errors or items, "input problems")) + "\n"
