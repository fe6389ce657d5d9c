"""Severities, the verdict and exit codes: defined once, used by every rule, renderer and command.

A finding is ``info``, ``warn`` or ``block``; the verdict of a set of findings is
the worst severity among them (``block`` > ``warn`` > ``pass``, ``info`` counting
as ``pass``). Exit codes are the gate's contract (DESIGN section 5, sqlfluff's
``cli/__init__.py``): 0 pass (warnings allowed), 1 blocked, 2 usage, input or
internal error (a crash never exits 0).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "EXIT_BLOCKED",
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_PASS",
    "SEVERITIES",
    "exit_code_of",
    "severity_rank",
    "verdict_of_severities",
]

#: Severities from the least to the most severe.
SEVERITIES: tuple[str, ...] = ("info", "warn", "block")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}

EXIT_OK = 0
EXIT_PASS = 0
EXIT_BLOCKED = 1
EXIT_INPUT = 2


def severity_rank(severity: str) -> int:
    """Sort key that lists the most severe first: block 0, warn 1, info 2."""
    return len(SEVERITIES) - 1 - _RANK[severity]


def verdict_of_severities(severities: Iterable[str]) -> str:
    """``block`` if any is block, else ``warn`` if any is warn, else ``pass``."""
    worst = max((_RANK[s] for s in severities), default=0)
    return {0: "pass", 1: "warn", 2: "block"}[worst]


def exit_code_of(verdict: str) -> int:
    """The gate's exit code of a verdict: 1 when blocked, else 0."""
    return EXIT_BLOCKED if verdict == "block" else EXIT_PASS
