"""The typed headline: the score people read, per model and per slice, and its counterfactuals.

:class:`Headline` is a frozen view of ``AuditResult.headline`` (the JSON's
``headline`` object, DESIGN section 6, which stays the wire format): one
:class:`ScopeScore` per scope (overall, each model, each slice value), each with
the reported score and CI and its two counterfactuals, *exclusion* (suspect labels
dropped, paired over the items that keep one) and *correction* (suspect labels
shifted by their estimated effect, every item kept). ``estimator`` names how the
score was estimated ("mean item score"), so a prediction-powered estimate (PPI++)
can sit beside it as another scope set later without changing the readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Counterfactual", "Headline", "ScopeScore"]


def _pair(x: Any) -> tuple[float | None, float | None]:
    if not x:
        return (None, None)
    return (x[0], x[1])


@dataclass(frozen=True)
class Counterfactual:
    """One counterfactual of a scope: the score after, and the change with its 95% CI."""

    score: float | None
    delta: float | None
    delta_ci: tuple[float | None, float | None]
    items_dropped: int = 0


@dataclass(frozen=True)
class ScopeScore:
    """The headline of one scope: ``scope`` is "overall", "model" or a slice column."""

    scope: str
    value: str | None
    score: float | None
    ci: tuple[float | None, float | None]
    items: int
    exclusion: Counterfactual | None
    corrected: Counterfactual | None


@dataclass(frozen=True)
class Headline:
    """The headline overall, per model and per slice; ``ranking_changed`` once corrected."""

    overall: ScopeScore
    per_model: tuple[ScopeScore, ...]
    per_slice: tuple[ScopeScore, ...]
    ranking_changed: bool
    suspect_labels: int
    estimator: str = "mean item score"

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Headline | None:
        """The typed view of ``AuditResult.headline`` (None when labels have no score)."""
        if not d:
            return None
        corr = d.get("corrected") or {}
        c_model = {m["model"]: m for m in corr.get("per_model") or []}
        c_slice = {(s["slice_column"], s["slice_value"]): s for s in corr.get("per_slice") or []}

        def scope(r: dict[str, Any], name: str, value: str | None, c: dict | None) -> ScopeScore:
            exclusion = (
                Counterfactual(
                    r.get("score_without_suspects"),
                    r.get("delta"),
                    _pair(r.get("delta_ci")),
                    int(r.get("items_dropped") or 0),
                )
                if "score_without_suspects" in r
                else None
            )
            corrected = (
                Counterfactual(c.get("score_corrected"), c.get("delta"), _pair(c.get("delta_ci")))
                if c
                else None
            )
            return ScopeScore(
                name,
                value,
                r.get("score"),
                _pair(r.get("ci")),
                int(r.get("items") or 0),
                exclusion,
                corrected,
            )

        return cls(
            overall=scope(d, "overall", None, corr or None),
            per_model=tuple(
                scope(m, "model", m["model"], c_model.get(m["model"]))
                for m in d.get("per_model") or []
            ),
            per_slice=tuple(
                scope(
                    s,
                    s["slice_column"],
                    s["slice_value"],
                    c_slice.get((s["slice_column"], s["slice_value"])),
                )
                for s in d.get("per_slice") or []
            ),
            ranking_changed=bool(corr.get("ranking_changed", d.get("ranking_changed", False))),
            suspect_labels=int(d.get("suspect_labels") or 0),
        )
