"""Policies: thresholds, severities and per-slice overrides from ``rules/*.yaml``.

The schema (which keys a policy may set, their types, ranges and defaults) is
generated from the rule registry (:mod:`evalaudit.rules.base`): the shared keys
plus each rule's own. Loading validates the file: an unknown key, a wrong type
or an out-of-range value raises :class:`~evalaudit.contract.InputError` naming
the file, the line and the key, every problem at once. ``rules/README.md``
documents the keys (its tables are generated from the registry too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from evalaudit.contract import InputError, Problem
from evalaudit.rules.base import RULES, SEVERITIES, PolicyKey, all_keys

__all__ = ["Override", "Policy", "default_rules_path", "load_policy", "with_ppi_strata"]


def _keys() -> dict[str, PolicyKey]:
    """YAML name -> key, from the registry as it is now."""
    return {k.name: k for k in all_keys()}


def _default_severity() -> dict[str, str]:
    return {r.kind: r.severity for r in RULES}


def _override_fields() -> tuple[str, ...]:
    """Policy fields an override may set (the per-slice keys)."""
    return tuple(k.field for k in all_keys() if k.per_slice)


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
    #: ``familywise`` (weighted Holm) or ``fdr`` (weighted Benjamini-Hochberg): how the one
    #: error budget of :func:`evalaudit.detection.detect_joint` is spent.
    error_control: str = "familywise"
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
    #: Item columns the human subset of LLM-judged items was drawn by (``headline.ppi`` is
    #: stratified by them); empty: humans a uniform random subset (MCAR).
    ppi_strata: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=_default_severity)
    overrides: tuple[Override, ...] = ()
    #: Values of keys declared by rules that are not fields above (added rules' keys).
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None
    #: Keys set for this run by a command-line option or an API argument rather than the
    #: file: key -> the option (``{"ppi_strata": "--ppi-strata"}``), for error messages.
    given_by: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """The value of a policy key (YAML name or field name), set or default."""
        f = name.replace(".", "_")
        if f in self.extra:
            return self.extra[f]
        if hasattr(self, f) and f not in ("extra", "severity", "overrides", "given_by"):
            return getattr(self, f)
        for k in all_keys():
            if k.field == f:
                return k.default
        raise KeyError(name)

    def for_slice(self, column: str, value: str) -> tuple[dict[str, float], dict[str, str]]:
        """Settings and severities that apply to a slice cell (later overrides win)."""
        settings = {k: self.get(k) for k in _override_fields()}
        severity = dict(self.severity)
        for o in self.overrides:
            if o.matches(column, value):
                settings.update(o.settings)
                severity.update(o.severity)
        return settings, severity

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out.pop("extra")
        out.pop("given_by")
        out["ppi_strata"] = list(self.ppi_strata)
        out.update(sorted(self.extra.items()))
        out["severity"] = dict(sorted(self.severity.items()))
        out["overrides"] = [o.to_dict() for o in self.overrides]
        return out


def with_ppi_strata(
    policy: Policy, strata: Sequence[str] | None, option: str = "--ppi-strata"
) -> Policy:
    """``policy`` with ``ppi_strata`` replaced by ``strata`` (a command-line option or an API
    argument, named by ``option`` in error messages); ``None`` or empty keeps the policy's.

    Duplicates are dropped (first kept). The columns are checked against the table by the
    audit (:func:`evalaudit.audit.ppi_strata_of`).
    """
    if not strata:
        return policy
    if isinstance(strata, str):
        strata = [strata]
    cols = tuple(dict.fromkeys(str(c).strip() for c in strata))
    return replace(policy, ppi_strata=cols, given_by={**policy.given_by, "ppi_strata": option})


def default_rules_path() -> Path | None:
    """``rules/default.yaml`` beside the package (source checkout), if present."""
    p = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    return p if p.exists() else None


class _Checker:
    """Collects problems with the YAML line of each key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Problem] = []

    def add(self, key: str, line: int | None, message: str, hint: str) -> None:
        self.problems.append(Problem("rules", key, 1, (line,) if line else (), message, hint))

    def number(self, key: str, value: Any, line: int | None, schema_key: str) -> float | None:
        spec = _keys()[schema_key]
        typ, lo, hi = spec.type, spec.low, spec.high
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

    def names(self, key: str, value: Any, line: int | None) -> tuple[str, ...] | None:
        """A list of column names (``ppi_strata: [failure_mode]``; ``[]`` is none)."""
        ok = isinstance(value, list) and all(
            isinstance(v, str) and v.strip() and v == v.strip() for v in value
        )
        if not ok:
            self.add(
                key,
                line,
                f"'{key}' must be a list of column names, not {value!r}",
                f"e.g. {key}: [failure_mode] (or [] for none)",
            )
            return None
        return tuple(dict.fromkeys(value))

    def choice(self, key: str, value: Any, line: int | None, schema_key: str) -> str | None:
        allowed = _keys()[schema_key].choices
        if value in allowed:
            return str(value)
        self.add(
            key,
            line,
            f"'{key}' must be one of {', '.join(allowed)}, not {value!r}",
            f"use {' or '.join(allowed)}",
        )
        return None

    def group(
        self, prefix: str, value: Any, node: Any, line: int | None, only: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """A mapping of dotted keys, e.g. ``materiality: {headline: 0.5, slice: 2}`` -> the
        Policy fields it sets; ``prefix`` may be ``overrides[0].materiality`` (its group is
        the last part). ``only``: the fields allowed here (an override's per-slice keys)."""
        group = prefix.rsplit(".", 1)[-1]
        members = {k.name.split(".", 1)[1]: k for k in all_keys() if k.name.startswith(group + ".")}
        if only:
            members = {m: k for m, k in members.items() if k.field in only}
        out: dict[str, Any] = {}
        example = ", ".join(f"{m}: {k.default:g}" for m, k in members.items())
        if not isinstance(value, dict):
            self.add(
                prefix,
                line,
                f"'{prefix}' must be a mapping with " + " and/or ".join(f"'{m}'" for m in members),
                f"e.g. {group}: {{{example}}}",
            )
            return out
        lines = _key_lines(node)
        for m, v in value.items():
            key = f"{prefix}.{m}"
            spec = members.get(str(m))
            if spec is None:
                self.add(
                    key,
                    lines.get(str(m), line),
                    f"unknown key '{m}'",
                    "use " + " or ".join(members),
                )
                continue
            num = self.number(key, v, lines.get(str(m), line), spec.name)
            if num is not None:
                out[spec.field] = num
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
            if kind not in {r.kind for r in RULES}:
                self.add(
                    key,
                    lines.get(str(kind)),
                    f"unknown finding kind '{kind}'",
                    "use one of: " + ", ".join(r.kind for r in RULES),
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
    keys = _keys()
    groups = {k.name.split(".", 1)[0] for k in keys.values() if "." in k.name}
    policy_fields = {f.name for f in fields(Policy)}
    for key, value in data.items():
        line = lines.get(str(key))
        if key == "severity":
            values["severity"] = {
                **_default_severity(),
                **chk.severity("severity", value, children.get(key), line),
            }
        elif key == "overrides":
            values["overrides"] = _overrides(chk, value, children.get(key), line)
        elif key in groups:
            values.update(chk.group(str(key), value, children.get(key), line))
        elif key in keys and keys[key].type is tuple:
            names = chk.names(str(key), value, line)
            if names is not None:
                values[keys[key].field] = names
        elif key in keys and keys[key].choices:
            w = chk.choice(str(key), value, line, key)
            if w is not None:
                values[keys[key].field] = w
        elif key in keys:
            v = chk.number(str(key), value, line, key)
            if v is not None:
                values[keys[key].field] = v
        else:
            known = [k for k in keys if "." not in k] + sorted(groups) + ["severity", "overrides"]
            chk.add(str(key), line, f"unknown key '{key}'", "known keys: " + ", ".join(known))
    extra = {k: v for k, v in values.items() if k not in policy_fields}
    values = {k: v for k, v in values.items() if k in policy_fields}
    if extra:
        values["extra"] = extra
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
    keys = _keys()
    per_slice = _override_fields()
    allowed = [k.name for k in keys.values() if k.per_slice]
    groups = {k.split(".", 1)[0] for k in allowed if "." in k}
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
            elif key in groups:
                settings.update(
                    chk.group(f"{prefix}.{key}", v, echildren.get(key), kline, per_slice)
                )
            elif key in keys and keys[key].field in per_slice and "." not in key:
                num = chk.number(f"{prefix}.{key}", v, kline, key)
                if num is not None:
                    settings[key] = num
            else:
                chk.add(
                    f"{prefix}.{key}",
                    kline,
                    f"unknown key '{key}' in an override",
                    "an override may set: slice, severity, "
                    + ", ".join(sorted({k.split(".", 1)[0] for k in allowed})),
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
