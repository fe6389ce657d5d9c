"""Policies: thresholds and severities read from ``rules/*.yaml``.

Loading validates the file: an unknown key, a wrong type or an out-of-range
value raises :class:`~evalaudit.contract.InputError` naming the file, the
line and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from evalaudit.contract import InputError, Problem

__all__ = ["FINDING_KINDS", "SEVERITIES", "Policy", "default_rules_path", "load_policy"]

FINDING_KINDS = (
    "lenient_labeler",
    "severe_labeler",
    "tilted_slice",
    "labeler_drift",
    "low_agreement",
    "concentration",
    "assignment_imbalance",
    "gold_failure",
    "data_quality",
    "headline_shift",
)
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

# key -> (type, low, high) ; bounds inclusive
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
}


@dataclass(frozen=True)
class Policy:
    """Thresholds and severities of one policy file (see ``rules/README.md``)."""

    min_support: int = 30
    fdr: float = 0.01
    min_effect: float = 0.05
    min_effect_interval_sd: float = 0.25
    agreement_floor: float = 0.667
    imbalance_tv: float = 0.5
    max_labeler_share: float = 0.5
    max_vendor_share: float = 0.9
    max_headline_shift: float = 0.01
    gold_accuracy_floor: float = 0.7
    severity: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_SEVERITY))
    path: str | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["severity"] = dict(sorted(self.severity.items()))
        return out


def default_rules_path() -> Path | None:
    """``rules/default.yaml`` beside the package (source checkout), if present."""
    p = Path(__file__).resolve().parent.parent / "rules" / "default.yaml"
    return p if p.exists() else None


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy; ``None`` loads ``rules/default.yaml`` (or built-in defaults)."""
    import hashlib

    if path is None:
        path = default_rules_path()
        if path is None:
            return Policy()
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise InputError(
            name,
            [
                Problem(
                    "rules", None, 0, (), "the rules file does not exist", "check the --rules path"
                )
            ],
        )
    text = p.read_text(encoding="utf-8", errors="replace")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(
            name,
            [
                Problem(
                    "rules",
                    None,
                    1,
                    (line + 1,) if line is not None else (),
                    f"not valid YAML: {getattr(exc, 'problem', exc)}",
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
    lines = _key_lines(node)
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = (lines.get(str(key), 0),) if lines.get(str(key)) else ()
        if key == "severity":
            sev = dict(_DEFAULT_SEVERITY)
            if not isinstance(value, dict):
                problems.append(
                    Problem(
                        "rules",
                        key,
                        1,
                        where,
                        "'severity' must be a mapping of finding kind to info/warn/block",
                        "see rules/README.md",
                    )
                )
                continue
            for kind, level in value.items():
                if kind not in FINDING_KINDS:
                    problems.append(
                        Problem(
                            "rules",
                            f"severity.{kind}",
                            1,
                            where,
                            f"unknown finding kind '{kind}'",
                            "use one of: " + ", ".join(FINDING_KINDS),
                        )
                    )
                elif level not in SEVERITIES:
                    problems.append(
                        Problem(
                            "rules",
                            f"severity.{kind}",
                            1,
                            where,
                            f"severity must be info, warn or block, not {level!r}",
                            "use info, warn or block",
                        )
                    )
                else:
                    sev[kind] = level
            values["severity"] = sev
            continue
        if key not in _SCHEMA:
            problems.append(
                Problem(
                    "rules",
                    str(key),
                    1,
                    where,
                    f"unknown key '{key}'",
                    "known keys: " + ", ".join([*_SCHEMA, "severity"]),
                )
            )
            continue
        typ, lo, hi = _SCHEMA[key]
        ok_type = isinstance(value, int | float) and not isinstance(value, bool)
        if typ is int and ok_type and float(value) != int(value):
            ok_type = False
        if not ok_type:
            problems.append(
                Problem(
                    "rules",
                    key,
                    1,
                    where,
                    f"'{key}' must be a {typ.__name__}, not {value!r}",
                    f"give a number between {lo:g} and {hi:g}",
                )
            )
            continue
        if not lo <= value <= hi:
            problems.append(
                Problem(
                    "rules",
                    key,
                    1,
                    where,
                    f"'{key}' = {value} is out of range",
                    f"give a value between {lo:g} and {hi:g}",
                )
            )
            continue
        values[key] = typ(value)
    if problems:
        raise InputError(name, problems, row_label="line")
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return Policy(**values, path=name, sha256=digest)


def _key_lines(node: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            out[str(k.value)] = k.start_mark.line + 1
    return out
