"""One presentation layer: scores, effects, CIs and q-values in the label kind's units.

Every renderer (text, Markdown, HTML, charts, gate, dashboard) and every
finding message formats numbers through this module, so a number reads the
same everywhere and in the unit its label kind implies (DESIGN section 4):

==========  =============================  ======================================
label kind  score (mean item score)        effect / delta
==========  =============================  ======================================
binary      pass rate, ``60.2%``           points of pass rate, ``+0.81 pts``
nominal     share of the passing class     points of that share, ``+0.81 pts``
ordinal     rank scaled to [0, 1] of the   points of the scale rescaled to its
            scale, ``62.0% of scale``      range (0-100), ``+3.0 pts of scale``
interval    raw label units, ``5.31``      raw label units, ``+0.266``
==========  =============================  ======================================

``display_units`` and ``from_display`` convert between the score scale the
statistics use and the reader's unit, which is also the unit of the policy's
``materiality`` keys.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "effect_scale",
    "effect_unit",
    "fmt_ci",
    "fmt_effect",
    "fmt_impact",
    "fmt_num",
    "fmt_q",
    "fmt_score",
    "fmt_score_ci",
    "from_display",
    "is_missing",
    "score_scale",
    "score_unit",
    "to_display",
]


def _kind(kind: Any) -> str:
    """A label kind as its string ('binary', ...), from a LabelKind or a string."""
    return str(getattr(kind, "value", kind) or "binary")


def is_missing(x: Any) -> bool:
    """None, NaN or infinite: shown as 'n/a'."""
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def to_display(x: float, kind: Any) -> float:
    """A value on the score scale in the reader's unit (x 100 unless the labels are interval)."""
    return float(x) if _kind(kind) == "interval" else float(x) * 100.0


def from_display(x: float, kind: Any) -> float:
    """The inverse of :func:`to_display` (a policy threshold in reader units -> score scale)."""
    return float(x) if _kind(kind) == "interval" else float(x) / 100.0


def effect_unit(kind: Any) -> str:
    """The unit of effects and deltas, in words."""
    k = _kind(kind)
    if k == "interval":
        return "label units"
    if k == "ordinal":
        return "pts of scale"
    return "pts"


def effect_scale(kind: Any) -> tuple[float, str]:
    """Factor and unit that put an effect on the score scale in reader units (axes, tables).

    >>> effect_scale("binary"), effect_scale("ordinal"), effect_scale("interval")
    ((100.0, 'pts'), (100.0, 'pts of scale'), (1.0, 'label units'))
    """
    return (1.0 if _kind(kind) == "interval" else 100.0), effect_unit(kind)


def score_scale(kind: Any) -> tuple[float, str]:
    """Factor and unit of a score (headline): a pass rate in % for binary/nominal."""
    k = _kind(kind)
    if k == "interval":
        return 1.0, "label units"
    return 100.0, "% of scale" if k == "ordinal" else "%"


def score_unit(kind: Any) -> str:
    """What the headline score is, in words."""
    return {
        "binary": "pass rate",
        "nominal": "share of the passing class",
        "ordinal": "mean rank, as % of the scale's range",
        "interval": "mean score, in label units",
    }[_kind(kind)]


def fmt_num(x: Any, digits: int = 3) -> str:
    """A plain number with ``digits`` decimals, or 'n/a'."""
    return "n/a" if is_missing(x) else f"{float(x):.{digits}f}"


def fmt_effect(x: Any, kind: Any) -> str:
    """A signed effect or delta in the reader's unit: ``+6.6 pts``, ``+3.0 pts of scale``, ``-0.266``."""
    if is_missing(x):
        return "n/a"
    x = float(x)
    k = _kind(kind)
    if k == "interval":
        return f"{x:+.3g}"
    digits = 1 if abs(x) >= 0.01 or x == 0 else 2
    unit = " pts of scale" if k == "ordinal" else " pts"
    return f"{x * 100:+.{digits}f}{unit}"


def fmt_score(x: Any, kind: Any) -> str:
    """A score (headline, per model, per slice): ``60.2%``, ``62.0% of scale``, ``5.31``."""
    if is_missing(x):
        return "n/a"
    x = float(x)
    k = _kind(kind)
    if k == "interval":
        # raw units, two decimals (a 0-10 rubric reads 5.40, not 540.0%)
        return f"{x:.2f}" if abs(x) < 1e4 else f"{x:.4g}"
    if k == "ordinal":
        return f"{x * 100:.1f}% of scale"
    return f"{x * 100:.1f}%"


def _bare_score(x: Any, kind: Any) -> str:
    """A score without the ordinal suffix (inside a CI the suffix is said once)."""
    s = fmt_score(x, kind)
    return s.removesuffix(" of scale")


def fmt_score_ci(pair: Any, kind: Any) -> str:
    """A score's 95% CI: ``[58.9%, 61.4%]`` (ordinal: ``[61.0%, 63.0%] of scale``)."""
    if not pair or is_missing(pair[0]) or is_missing(pair[1]):
        return "n/a"
    out = f"[{_bare_score(pair[0], kind)}, {_bare_score(pair[1], kind)}]"
    return out + (" of scale" if _kind(kind) == "ordinal" else "")


def fmt_ci(pair: Any, kind: Any, sep: str = ", ", brackets: bool = True) -> str:
    """An effect's 95% CI: ``[+3.1 pts, +10.1 pts]`` (``sep=' to '``, ``brackets=False``
    for prose)."""
    if not pair or is_missing(pair[0]) or is_missing(pair[1]):
        return "n/a"
    body = f"{fmt_effect(pair[0], kind)}{sep}{fmt_effect(pair[1], kind)}"
    return f"[{body}]" if brackets else body


def fmt_q(q: Any, prefix: str = "") -> str:
    """A q-value for people: ``<0.001`` below 0.001, else three decimals (``prefix='q'`` gives
    ``q=0.006`` / ``q<0.001``)."""
    if is_missing(q):
        return f"{prefix}=n/a" if prefix else "n/a"
    q = float(q)
    if q < 0.001:
        return f"{prefix}<0.001"
    return f"{prefix}={q:.3f}" if prefix else f"{q:.3f}"


def fmt_impact(impact: Any, kind: Any) -> str:
    """A finding's impact in one line: ``headline -0.68 pts; slice -3.0 pts; material``
    (empty when not assessed)."""
    imp = impact or {}
    if not imp.get("assessed"):
        return ""
    parts = [f"headline {fmt_effect(imp['headline']['delta'], kind)}"]
    if imp.get("slice"):
        parts.append(f"slice {fmt_effect(imp['slice']['delta'], kind)}")
    if imp.get("ranking_changed"):
        parts.append("model order changes")
    parts.append("material" if imp.get("material") else "not material")
    return "; ".join(parts)
