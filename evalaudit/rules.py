"""Policies as code: thresholds, severities and per-slice overrides from ``rules/*.yaml``.

Every finding kind is a *rule* with a stable code and a readable name
(:data:`RULES`); codes never change once shipped (configs and CI dashboards
key on them). Loading validates the file: an unknown key, a wrong type or an
out-of-range value raises :class:`~evalaudit.contract.InputError` naming the
file, the line and the key — every problem at once. The schema is
documented in ``rules/README.md``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from evalaudit.contract import InputError, Problem

__all__ = [
    "FINDING_KINDS",
    "RULES",
    "SEVERITIES",
    "Override",
    "Policy",
    "Rule",
    "default_rules_path",
    "load_policy",
]


@dataclass(frozen=True)
class Rule:
    """A finding kind as a policy rule: stable code, readable name, what it checks."""

    code: str
    name: str
    kind: str
    summary: str


#: The rules, in a fixed order. Codes and names are stable: never renumber or rename.
RULES: tuple[Rule, ...] = (
    Rule(
        "EA101",
        "labeler.lenient",
        "lenient_labeler",
        "a labeler passes more than peers on the same kind of items",
    ),
    Rule(
        "EA102",
        "labeler.severe",
        "severe_labeler",
        "a labeler passes less than peers on the same kind of items",
    ),
    Rule(
        "EA201",
        "slice.tilted",
        "tilted_slice",
        "a labeler deviates from peers on one slice (labeler x slice cell)",
    ),
    Rule(
        "EA301",
        "labeler.drift",
        "labeler_drift",
        "a labeler's leniency changes over time or batches",
    ),
    Rule("EA401", "agreement.low", "low_agreement", "Krippendorff's alpha below the policy floor"),
    Rule(
        "EA501",
        "supply.concentration",
        "concentration",
        "one labeler or vendor carries too much of a slice",
    ),
    Rule(
        "EA601",
        "assignment.imbalance",
        "assignment_imbalance",
        "a labeler's item mix differs strongly from peers'",
    ),
    Rule(
        "EA701",
        "gold.failure",
        "gold_failure",
        "a labeler's accuracy on gold items is below the floor",
    ),
    Rule(
        "EA801",
        "data.quality",
        "data_quality",
        "the input has problems that did not stop the audit",
    ),
    Rule(
        "EA901",
        "headline.shift",
        "headline_shift",
        "correcting suspect labels moves the headline more than allowed",
    ),
)
RULE_BY_KIND: dict[str, Rule] = {r.kind: r for r in RULES}
FINDING_KINDS: tuple[str, ...] = tuple(r.kind for r in RULES)
SEVERITIES = ("info", "warn", "block")

_DEFAULT_SEVERITY = {
    "lenient_labeler": "block",
    "severe_labeler": "warn",
    "tilted_slice": "block",
    "labeler_drift": "warn",
    "low_agreement": "warn",
    "concentration": "warn",
    "assignment_imbalance": "info",
    "gold_failure": "warn",
    "data_quality": "warn",
    "headline_shift": "block",
}

# key -> (type, low, high); bounds inclusive
_SCHEMA: dict[str, tuple[type, float, float]] = {
    "min_support": (int, 1, 10**9),
    "fdr": (float, 1e-9, 0.5),
    "min_effect": (float, 0.0, 1.0),
    "min_effect_interval_sd": (float, 0.0, 100.0),
    "agreement_floor": (float, -1.0, 1.0),
    "imbalance_tv": (float, 0.0, 1.0),
    "max_labeler_share": (float, 0.0, 1.0),
    "max_vendor_share": (float, 0.0, 1.0),
    "max_headline_shift": (float, 0.0, 1e9),
    "gold_accuracy_floor": (float, 0.0, 1.0),
    # in the label kind's display unit: pts (binary, nominal, ordinal: pts of scale) or
    # label units (interval); see evalaudit.render.format
    "materiality_headline": (float, 0.0, 1e9),
    "materiality_slice": (float, 0.0, 1e9),
}
#: The keys of the ``materiality:`` mapping -> their flat Policy field.
_MATERIALITY_KEYS = {"headline": "materiality_headline", "slice": "materiality_slice"}
#: Keys whose value is one of a few words: key -> allowed values.
_CHOICES: dict[str, tuple[str, ...]] = {
    "cell_weights": ("power", "uniform"),
}
#: Keys an override may set (thresholds that make sense per slice) besides severity.
_OVERRIDE_KEYS = (
    "min_effect",
    "min_effect_interval_sd",
    "max_labeler_share",
    "max_vendor_share",
    "materiality_headline",
    "materiality_slice",
)


@dataclass(frozen=True)
class Override:
    """Stricter (or looser) settings for the findings of one slice value, e.g. safety."""

    slice_column: str
    slice_value: str
    settings: dict[str, float] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=dict)

    def matches(self, column: str, value: str) -> bool:
        """True for the cell ``column=value`` and for pair cells that contain it."""
        cols, vals = column.split("+"), value.split("+")
        return any(
            c == self.slice_column and v == self.slice_value
            for c, v in zip(cols, vals, strict=False)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "slice": f"{self.slice_column}={self.slice_value}",
            **self.settings,
            "severity": dict(sorted(self.severity.items())),
        }


@dataclass(frozen=True)
class Policy:
    """Thresholds, severities and overrides of one policy file (see ``rules/README.md``)."""

    min_support: int = 30
    fdr: float = 0.02
    min_effect: float = 0.05
    min_effect_interval_sd: float = 0.25
    agreement_floor: float = 0.667
    imbalance_tv: float = 0.5
    max_labeler_share: float = 0.5
    max_vendor_share: float = 0.9
    max_headline_shift: float = 0.01
    gold_accuracy_floor: float = 0.7
    #: A significant finding blocks only if correcting its labels moves the headline by at
    #: least this much (pts; interval: label units), its slice by ``materiality_slice``,
    #: or the order of the models; otherwise it warns.
    materiality_headline: float = 0.5
    materiality_slice: float = 2.0
    cell_weights: str = "power"
    severity: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_SEVERITY))
    overrides: tuple[Override, ...] = ()
    path: str | None = None
    sha256: str | None = None

    def for_slice(self, column: str, value: str) -> tuple[dict[str, float], dict[str, str]]:
        """Settings and severities that apply to a slice cell (later overrides win)."""
        settings = {k: getattr(self, k) for k in _OVERRIDE_KEYS}
        severity = dict(self.severity)
        for o in self.overrides:
            if o.matches(column, value):
                settings.update(o.settings)
                severity.update(o.severity)
        return settings, severity

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["severity"] = dict(sorted(self.severity.items()))
        out["overrides"] = [o.to_dict() for o in self.overrides]
        return out


def default_rules_path() -> Path | None:
    """``rules/default.yaml`` beside the package (source checkout), if present."""
    p = Path(__file__).resolve().parent.parent / "rules" / "default.yaml"
    return p if p.exists() else None


class _Checker:
    """Collects problems with the YAML line of each key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Problem] = []

    def add(self, key: str, line: int | None, message: str, hint: str) -> None:
        self.problems.append(Problem("rules", key, 1, (line,) if line else (), message, hint))

    def number(self, key: str, value: Any, line: int | None, schema_key: str) -> float | None:
        typ, lo, hi = _SCHEMA[schema_key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if typ is int and ok and float(value) != int(value):
            ok = False
        if not ok:
            kind = "an integer" if typ is int else "a number"
            self.add(
                key,
                line,
                f"'{key}' must be {kind}, not {value!r}",
                f"give {kind} between {lo:g} and {hi:g}",
            )
            return None
        if not lo <= value <= hi:
            self.add(
                key,
                line,
                f"'{key}' = {value} is out of range",
                f"give a value between {lo:g} and {hi:g}",
            )
            return None
        return typ(value)

    def choice(self, key: str, value: Any, line: int | None, schema_key: str) -> str | None:
        allowed = _CHOICES[schema_key]
        if value in allowed:
            return str(value)
        self.add(
            key,
            line,
            f"'{key}' must be one of {', '.join(allowed)}, not {value!r}",
            f"use {' or '.join(allowed)}",
        )
        return None

    def materiality(self, prefix: str, value: Any, node: Any, line: int | None) -> dict[str, float]:
        """``materiality: {headline: 0.5, slice: 2}`` -> the flat Policy fields it sets."""
        out: dict[str, float] = {}
        if not isinstance(value, dict):
            self.add(
                prefix,
                line,
                f"'{prefix}' must be a mapping with 'headline' and/or 'slice'",
                "e.g. materiality: {headline: 0.5, slice: 2}",
            )
            return out
        lines = _key_lines(node)
        for k, v in value.items():
            key = f"{prefix}.{k}"
            if k not in _MATERIALITY_KEYS:
                self.add(
                    key, lines.get(str(k), line), f"unknown key '{k}'", "use headline or slice"
                )
                continue
            num = self.number(key, v, lines.get(str(k), line), _MATERIALITY_KEYS[k])
            if num is not None:
                out[_MATERIALITY_KEYS[k]] = num
        return out

    def severity(self, prefix: str, value: Any, node: Any, line: int | None) -> dict[str, str]:
        out: dict[str, str] = {}
        if not isinstance(value, dict):
            self.add(
                prefix,
                line,
                f"'{prefix}' must be a mapping of finding kind to info/warn/block",
                "see rules/README.md",
            )
            return out
        lines = _key_lines(node)
        for kind, level in value.items():
            key = f"{prefix}.{kind}"
            if kind not in FINDING_KINDS:
                self.add(
                    key,
                    lines.get(str(kind)),
                    f"unknown finding kind '{kind}'",
                    "use one of: " + ", ".join(FINDING_KINDS),
                )
            elif level not in SEVERITIES:
                self.add(
                    key,
                    lines.get(str(kind)),
                    f"severity must be info, warn or block, not {level!r}",
                    "use info, warn or block",
                )
            else:
                out[kind] = level
        return out


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy; ``None`` loads ``rules/default.yaml`` (or built-in defaults)."""
    if path is None:
        path = default_rules_path()
        if path is None:
            return Policy()
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise InputError(
            name,
            [
                Problem(
                    "rules", None, 0, (), "the rules file does not exist", "check the --rules path"
                )
            ],
        )
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise InputError(
            name, [Problem("rules", None, 0, (), "the rules file is not UTF-8", "save it as UTF-8")]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(
            name,
            [
                Problem(
                    "rules",
                    None,
                    1,
                    (line,) if line else (),
                    f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                    "fix the YAML syntax",
                )
            ],
            row_label="line",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            name,
            [
                Problem(
                    "rules",
                    None,
                    0,
                    (),
                    "the rules file must be a mapping of keys to values",
                    "see rules/README.md",
                )
            ],
        )
    chk = _Checker(name)
    lines = _key_lines(node)
    children = _child_nodes(node)
    values: dict[str, Any] = {}
    for key, value in data.items():
        line = lines.get(str(key))
        if key == "severity":
            values["severity"] = {
                **_DEFAULT_SEVERITY,
                **chk.severity("severity", value, children.get(key), line),
            }
        elif key == "overrides":
            values["overrides"] = _overrides(chk, value, children.get(key), line)
        elif key == "materiality":
            values.update(chk.materiality("materiality", value, children.get(key), line))
        elif key in _SCHEMA:
            v = chk.number(str(key), value, line, key)
            if v is not None:
                values[key] = v
        elif key in _CHOICES:
            w = chk.choice(str(key), value, line, key)
            if w is not None:
                values[key] = w
        else:
            chk.add(
                str(key),
                line,
                f"unknown key '{key}'",
                "known keys: "
                + ", ".join(
                    [
                        *(k for k in _SCHEMA if k not in _MATERIALITY_KEYS.values()),
                        *_CHOICES,
                        "materiality",
                        "severity",
                        "overrides",
                    ]
                ),
            )
    if chk.problems:
        raise InputError(name, chk.problems, row_label="line")
    return Policy(**values, path=name, sha256=hashlib.sha256(raw).hexdigest())


def _overrides(chk: _Checker, value: Any, node: Any, line: int | None) -> tuple[Override, ...]:
    if not isinstance(value, list):
        chk.add(
            "overrides",
            line,
            "'overrides' must be a list of mappings with a 'slice' key",
            "see rules/README.md",
        )
        return ()
    out: list[Override] = []
    items = node.value if isinstance(node, yaml.SequenceNode) else []
    for i, entry in enumerate(value):
        enode = items[i] if i < len(items) else None
        eline = enode.start_mark.line + 1 if enode is not None else line
        prefix = f"overrides[{i}]"
        if not isinstance(entry, dict):
            chk.add(prefix, eline, "each override must be a mapping", "see rules/README.md")
            continue
        elines = _key_lines(enode)
        echildren = _child_nodes(enode)
        sl = entry.get("slice")
        if not isinstance(sl, str) or "=" not in sl:
            chk.add(
                f"{prefix}.slice",
                elines.get("slice", eline),
                "each override needs 'slice: column=value'",
                "e.g. slice: category=safety",
            )
            continue
        col, val = (s.strip() for s in sl.split("=", 1))
        settings: dict[str, float] = {}
        severity: dict[str, str] = {}
        for key, v in entry.items():
            if key == "slice":
                continue
            kline = elines.get(str(key), eline)
            if key == "severity":
                severity = chk.severity(f"{prefix}.severity", v, echildren.get(key), kline)
            elif key == "materiality":
                settings.update(
                    chk.materiality(f"{prefix}.materiality", v, echildren.get(key), kline)
                )
            elif key in _OVERRIDE_KEYS and key not in _MATERIALITY_KEYS.values():
                num = chk.number(f"{prefix}.{key}", v, kline, key)
                if num is not None:
                    settings[key] = num
            else:
                chk.add(
                    f"{prefix}.{key}",
                    kline,
                    f"unknown key '{key}' in an override",
                    "an override may set: slice, severity, materiality, "
                    + ", ".join(k for k in _OVERRIDE_KEYS if k not in _MATERIALITY_KEYS.values()),
                )
        out.append(Override(col, val, settings, severity))
    return tuple(out)


def _key_lines(node: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            out[str(k.value)] = k.start_mark.line + 1
    return out


def _child_nodes(node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out[str(k.value)] = v
    return out
