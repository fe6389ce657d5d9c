"""Rules as code: what a rule is, the statistics it reads, and the registry.

A *rule* (sqlfluff's shape) is one module under :mod:`evalaudit.rules` that
registers one :class:`Rule`: a stable code (``EA101``), a dotted name
(``labeler.lenient``), the finding kind it raises, its default severity, the
policy keys it reads (with defaults and ranges), how it turns the audit's
statistics (:class:`RuleInput`) into findings, how a finding id is built
from a subject, and a docstring saying what it catches, why it matters and how
to fix or dismiss it.

Everything else is generated from the registry: the policy schema (which
keys a policy file may set, their types and ranges), the default severities,
``rules/README.md``'s tables, ``evalaudit rules``, the gate's per-rule
statuses and JUnit cases. Adding a detector is a statistics module plus a
rule module that calls :func:`register`.

Codes and names never change once shipped: CI dashboards, JUnit reports and
review decisions key on them (sqlfluff's renumbering broke its users' configs,
sqlfluff#4524).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from evalaudit.verdicts import SEVERITIES

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from evalaudit.contract import LabelKind, Problem
    from evalaudit.findings import Finding
    from evalaudit.rules.policy import Policy
    from evalaudit.table import LabelTable

__all__ = [
    "FINDING_KINDS",
    "HEADLINE_KEYS",
    "RULES",
    "RULE_BY_CODE",
    "RULE_BY_KIND",
    "SEVERITIES",
    "SHARED_KEYS",
    "PolicyKey",
    "Rule",
    "RuleInput",
    "all_keys",
    "register",
    "unregister",
]


_CODE = re.compile(r"^EA[1-9][0-9]{2}$")
_NAME = re.compile(r"^[a-z]+(\.[a-z_]+)+$")
_KIND = re.compile(r"^[a-z][a-z_]*$")


@dataclass(frozen=True)
class PolicyKey:
    """One policy key: its YAML name, type, inclusive range (or allowed words), default.

    ``name`` may be dotted (``materiality.headline``): the YAML mapping
    ``materiality: {headline: ...}``; ``field`` is the :class:`Policy` attribute
    that holds it (the name with dots as underscores). ``per_slice`` keys may be
    set in an ``overrides`` entry. ``type`` ``tuple`` is a list of names (a YAML
    list of strings; ``low`` / ``high`` unused, the default an empty tuple).
    """

    name: str
    type: type
    low: float | None
    high: float | None
    default: Any
    doc: str
    per_slice: bool = False
    choices: tuple[str, ...] = ()

    @property
    def field(self) -> str:
        return self.name.replace(".", "_")

    def range_text(self) -> str:
        """The range as the README writes it."""
        if self.type is tuple:
            return "column names"
        if self.choices:
            return ", ".join(f"`{c}`" for c in self.choices)
        lo, hi = self.low, self.high
        if hi is not None and hi >= 1e9:
            return f">= {lo:g}"
        return f"[{lo:g}, {hi:g}]"

    def type_text(self) -> str:
        if self.type is tuple:
            return "list"
        return "word" if self.choices else self.type.__name__


#: Keys shared by several rules (the tests' error budget and effect size, materiality).
SHARED_KEYS: tuple[PolicyKey, ...] = (
    PolicyKey(
        "min_support",
        int,
        1,
        1e9,
        30,
        "labels a labeler or cell needs before it can be flagged",
    ),
    PolicyKey(
        "fdr",
        float,
        1e-9,
        0.5,
        0.02,
        "the audit's one error budget over every test (labelers, tested cells, drift; LLM-judge "
        "tests get a quarter of it, see below): with `error_control: familywise` the chance "
        "that anybody honest is flagged, with or without a poisoner among their peers; on a "
        "clean set, the chance the audit flags anything",
    ),
    PolicyKey(
        "error_control",
        str,
        None,
        None,
        "familywise",
        "how the budget is spent: `familywise` is one weighted Holm over every test (the "
        "familywise error rate is at most `fdr`, so the false discovery rate is too); `fdr` is "
        "one weighted Benjamini-Hochberg (the false discovery rate is at most `fdr`, and every "
        "true finding loosens the other tests' thresholds: an honest labeler is then flagged "
        "about twice as often when a poisoner is present)",
        choices=("familywise", "fdr"),
    ),
    PolicyKey(
        "min_effect",
        float,
        0.0,
        1.0,
        0.05,
        "smallest \\|leniency\\| flagged on the score scale (binary: 0.05 = 5 pass-rate points; "
        "ordinal: 5% of the scale)",
        per_slice=True,
    ),
    PolicyKey(
        "min_effect_interval_sd",
        float,
        0.0,
        100.0,
        0.25,
        "interval labels: smallest \\|leniency\\| in standard deviations of all scores",
        per_slice=True,
    ),
    PolicyKey(
        "cell_weights",
        str,
        None,
        None,
        "power",
        "p-value weights of the slice scan: `power` weights each tested cell by its power to "
        "show twice the minimum effect (weighted Benjamini-Hochberg); `uniform` is plain BH",
        choices=("power", "uniform"),
    ),
    PolicyKey(
        "materiality.headline",
        float,
        0.0,
        1e9,
        0.5,
        "a significant finding blocks only if correcting its labels moves the overall headline "
        "by at least this (pts of pass rate; ordinal: pts of the scale's 0-100 range; interval: "
        "label units), ...",
        per_slice=True,
    ),
    PolicyKey(
        "materiality.slice",
        float,
        0.0,
        1e9,
        2.0,
        "... or its own slice (cells) by at least this, or changes the order of the models; "
        "otherwise it warns",
        per_slice=True,
    ),
)


#: Keys every rule whose tests spend the one error budget reads (support, the budget and how
#: it is spent, the minimum effect), in the order the rules table lists them.
BUDGET_KEYS: tuple[str, ...] = (
    "min_support",
    "fdr",
    "error_control",
    "min_effect",
    "min_effect_interval_sd",
)


#: Keys of the headline that no rule reads (how ``headline.ppi`` is estimated).
HEADLINE_KEYS: tuple[PolicyKey, ...] = (
    PolicyKey(
        "ppi_strata",
        tuple,
        None,
        None,
        (),
        "slice columns the human subset of LLM-judged items was drawn by (e.g. `[failure_mode]`): "
        "`headline.ppi` is then stratified (inverse-probability weights, the labeled share of "
        "each stratum; humans random within strata); empty: humans a uniform random subset "
        "(MCAR). `--ppi-strata COL` sets it for one run",
    ),
)


@dataclass(frozen=True)
class RuleInput:
    """The statistics of one audit, as the rules read them (computed before any rule runs).

    Attributes
    ----------
    table, kind, policy:
        The audited table, its label kind and the policy.
    warnings:
        Validation problems that did not stop the audit.
    leniency, flagged:
        Per-labeler leniency (``labeler_leniency`` columns) and the labeler flags.
    cells, cell_flags, cell_slice_effects:
        The slice scan, its flags, and per flagged cell its slice's headline
        before and after correcting the cell alone.
    score_sd:
        SD of all scores (interval thresholds are in SDs).
    drift, concentration, gold:
        The drift tests, concentration shares (with sole-source shares) and gold
        accuracy (``None`` without gold).
    agreement:
        The overall alpha result (``alpha``, ``level``, ``n_units``).
    headline:
        The headline and its counterfactuals (``None`` without scores).
    judges:
        The judge-vs-human tests with their q-values
        (:class:`evalaudit.detection.JudgeTests`), ``None`` without judges and humans.
    """

    table: LabelTable
    kind: LabelKind
    policy: Policy
    warnings: tuple[Problem, ...]
    leniency: pd.DataFrame
    flagged: np.ndarray
    cells: pd.DataFrame
    cell_flags: np.ndarray
    cell_slice_effects: dict[tuple[str, str, str], tuple[float, float]]
    score_sd: float
    drift: pd.DataFrame
    concentration: pd.DataFrame
    gold: pd.DataFrame | None
    agreement: Any
    headline: dict[str, Any] | None
    judges: Any = None


def _default_id(kind: str) -> Callable[[dict[str, Any]], str]:
    def finding_id(subject: dict[str, Any]) -> str:
        return f"{kind}:" + ":".join(str(v) for v in subject.values())

    return finding_id


@dataclass(frozen=True)
class Rule:
    """One rule: code, name, finding kind, default severity, policy keys, detector, docs.

    ``build`` turns a :class:`RuleInput` into this rule's findings;
    ``finding_id`` builds a stable id from a subject (never from a run's order);
    ``materiality`` says whether the rule's findings carry an effect that can be
    corrected (their ``impact`` is measured and they block only when material);
    ``doc`` is the module docstring: a first line, then *What it catches*, *Why
    it matters* and *How to fix or dismiss*.
    """

    code: str
    name: str
    kind: str
    severity: str
    doc: str
    build: Callable[[RuleInput], list[Finding]]
    finding_id: Callable[[dict[str, Any]], str] = field(default=None)  # type: ignore[assignment]
    keys: tuple[PolicyKey, ...] = ()
    uses: tuple[str, ...] = ()
    materiality: bool = False
    order: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not _CODE.match(self.code):
            problems.append(f"code {self.code!r} is not EA followed by three digits (EA101)")
        if not _NAME.match(self.name):
            problems.append(f"name {self.name!r} is not dotted lower case (labeler.lenient)")
        if not _KIND.match(self.kind):
            problems.append(f"kind {self.kind!r} is not snake_case")
        if self.severity not in SEVERITIES:
            problems.append(f"severity {self.severity!r} is not info, warn or block")
        sections = ("What it catches", "Why it matters", "How to fix or dismiss")
        missing = [s for s in sections if s not in (self.doc or "")]
        if not (self.doc or "").strip() or missing:
            problems.append("docstring lacks: " + ", ".join(missing or ["a summary line"]))
        shared = {k.name for k in SHARED_KEYS}
        unknown = [u for u in self.uses if u not in shared]
        if unknown:
            problems.append("uses unknown shared keys: " + ", ".join(unknown))
        if problems:
            raise ValueError(f"rule {self.code} ({self.name}): " + "; ".join(problems))
        if self.finding_id is None:
            object.__setattr__(self, "finding_id", _default_id(self.kind))

    @property
    def summary(self) -> str:
        """The docstring's first line, without the ``EA101 labeler.lenient:`` prefix."""
        first = (self.doc or "").strip().splitlines()[0]
        prefix = f"{self.code} {self.name}:"
        return first.removeprefix(prefix).strip().rstrip(".")

    def sections(self) -> dict[str, str]:
        """The docstring's sections (What it catches / Why it matters / How to fix or dismiss)."""
        out: dict[str, str] = {}
        current = None
        for line in (self.doc or "").strip().splitlines()[1:]:
            head = line.strip().rstrip(":")
            if head in ("What it catches", "Why it matters", "How to fix or dismiss"):
                current = head
                out[current] = ""
            elif current is not None:
                out[current] = (out[current] + " " + line.strip()).strip()
        return out


_REGISTRY: dict[str, Rule] = {}
#: finding kind -> rule (kept up to date by :func:`register`; a dict, so imports see changes).
RULE_BY_KIND: dict[str, Rule] = {}
#: code -> rule.
RULE_BY_CODE: dict[str, Rule] = {}


def _sorted() -> list[Rule]:
    return sorted(_REGISTRY.values(), key=lambda r: r.code)


def register(rule: Rule) -> Rule:
    """Add a rule to the registry (its code, name and kind must be new); returns it."""
    for other in _REGISTRY.values():
        if rule.code == other.code or rule.name == other.name or rule.kind == other.kind:
            if other is rule:
                return rule
            raise ValueError(
                f"rule {rule.code} {rule.name} ({rule.kind}) clashes with {other.code} "
                f"{other.name} ({other.kind}): codes, names and kinds are unique"
            )
    keys = {k.name for k in all_keys()}
    for k in rule.keys:
        if k.name in keys:
            raise ValueError(f"rule {rule.code}: policy key {k.name!r} is already declared")
    _REGISTRY[rule.code] = rule
    _refresh()
    return rule


def unregister(code: str) -> None:
    """Remove a rule (tests that register a toy rule clean up with this)."""
    _REGISTRY.pop(code, None)
    _refresh()


def _refresh() -> None:
    RULE_BY_KIND.clear()
    RULE_BY_CODE.clear()
    for r in _sorted():
        RULE_BY_KIND[r.kind] = r
        RULE_BY_CODE[r.code] = r


def all_keys() -> list[PolicyKey]:
    """Every policy key: the shared ones, the headline's, then each rule's, in code order."""
    return [*SHARED_KEYS, *HEADLINE_KEYS, *(k for r in _sorted() for k in r.keys)]


class _Live(Sequence[Any]):
    """A read-only sequence over the registry as it is now (rules may be added at run time)."""

    def __init__(self, of: Callable[[Rule], Any]) -> None:
        self._of = of

    def _items(self) -> list[Any]:
        return [self._of(r) for r in _sorted()]

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        return self._items()[i]

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items())

    def __contains__(self, x: object) -> bool:
        return x in self._items()

    def __repr__(self) -> str:
        return repr(tuple(self._items()))


#: The rules in code order (a live view of the registry).
RULES: Sequence[Rule] = _Live(lambda r: r)
#: Their finding kinds, in the same order.
FINDING_KINDS: Sequence[str] = _Live(lambda r: r.kind)
