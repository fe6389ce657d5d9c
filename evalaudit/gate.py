"""The promotion gate: an audit, a policy and review decisions -> a verdict and an exit code.

Exit codes: 0 pass (warnings allowed), 1 blocked by a finding, 2 usage or
input error (raised as :class:`~evalaudit.contract.InputError`). The gate's
JSON is deterministic: the same inputs give byte-identical output (sorted
findings, no timestamps; review decisions appear without their recording
time), and so is the attestation (:func:`attestation`), which also records what
the options set over the policy file and how the data was read.

Reviews: a dismissed finding does not block and its labels are not suspect
in the counterfactual; a confirmed one stays suspect; an expired decision no
longer applies; a decision matching no finding is reported as stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from evalaudit import __version__
from evalaudit.audit import Profiler, audit_ingested
from evalaudit.io import sha256_of
from evalaudit.render.gate import (
    render_gate_markdown,
    render_gate_text,
    render_junit,
)
from evalaudit.result import AuditResult, clean_json
from evalaudit.reviews import ReviewOutcome, decisions_for_gate
from evalaudit.rules import RULES, Policy
from evalaudit.validate import IngestOptions
from evalaudit.verdicts import EXIT_BLOCKED, EXIT_PASS, exit_code_of, verdict_of_severities

__all__ = [
    "EXIT_BLOCKED",
    "EXIT_PASS",
    "GateResult",
    "attestation",
    "render_gate_markdown",
    "render_gate_text",
    "render_junit",
    "run_gate",
    "verify_attestation",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:evalaudit:predicate:gate:v1"
#: Policy keys a run can set over the policy file (``--ppi-strata`` / ``ppi_strata=``): the
#: attestation's ``policy.set_for_run`` always has each, empty when the file's value applied.
RUN_POLICY_KEYS = ("ppi_strata",)


@dataclass(frozen=True)
class FileRef:
    role: str
    path: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict with everything that led to it."""

    audit: AuditResult
    outcome: ReviewOutcome
    policy: Policy
    files: tuple[FileRef, ...]
    baseline: dict[str, Any] | None = None
    verdict: str = "pass"
    blocking: tuple[dict[str, Any], ...] = ()
    warnings: tuple[dict[str, Any], ...] = ()
    rules: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    #: How the data was read (None: the defaults), and the day review expiry was judged on
    #: when one was given (None: the day of the run); the attestation records both.
    options: IngestOptions | None = None
    today: date | None = None

    @property
    def exit_code(self) -> int:
        return exit_code_of(self.verdict)

    def to_dict(self) -> dict[str, Any]:
        return clean_json(
            {
                "schema_version": 1,
                "evalaudit_version": __version__,
                "verdict": self.verdict,
                "exit_code": self.exit_code,
                "inputs": [f.to_dict() for f in self.files],
                "policy": {
                    "path": self.policy.path,
                    "sha256": self.policy.sha256,
                    "set_for_run": _set_for_run(self.policy),
                },
                # the same record as the attestation's: a --json consumer can tell two gates
                # of one file apart by how they read it (columns, --judges, --as-of ...)
                "options": _options_predicate(self.options, self.today),
                "blocking": list(self.blocking),
                "warnings": list(self.warnings),
                "reviews": self.outcome.to_dict(),
                "rules": list(self.rules),
                "baseline": self.baseline,
                "audit": self.audit.to_dict(),
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def __repr__(self) -> str:
        ids = [f["id"] for f in self.blocking]
        return (
            f"GateResult(verdict={self.verdict!r}, exit_code={self.exit_code}, "
            f"blocking={ids!r}, warnings={len(self.warnings)})"
        )

    def _repr_html_(self) -> str:
        return f"<p><b>gate: {self.verdict.upper()}</b> (exit {self.exit_code})</p>" + (
            self.audit._repr_html_()
        )


def run_gate(
    data: str,
    policy: Policy,
    options: IngestOptions | None = None,
    baseline: str | None = None,
    reviews: str | None = None,
    home: str | None = None,
    gold_path: str | None = None,
    today: date | None = None,
    profiler: Profiler | None = None,
    engine: str | None = None,
) -> GateResult:
    """Audit ``data``, apply ``policy`` and the review decisions, and decide.

    ``engine`` reads and validates ``data`` and ``baseline`` when they are files (see
    :func:`evalaudit.engine.ingest_with`: ``auto`` picks the out-of-core engine for a
    large file, as ``evalaudit audit`` does); an in-memory table is read as it is.
    """
    from evalaudit.reviews import utc_today

    prof = profiler or Profiler()
    gold = None
    if gold_path:
        from evalaudit.aggregate import read_gold_file

        gold = read_gold_file(gold_path)
    decisions = decisions_for_gate(reviews, home)

    from evalaudit.engine import ingest_with

    prof.input_path = data if isinstance(data, str) else None
    with prof.step("read and validate"):
        ing = ingest_with(data, options, engine)
    old = None
    if baseline:
        with prof.step("read baseline"):
            old = ingest_with(baseline, options, engine)
    result, outcome = audit_with_reviews(ing, policy, decisions, today or utc_today(), gold, prof)
    diff_dict = None
    if old is not None:
        from evalaudit.diff import diff_versions

        with prof.step("diff"):
            diff_dict = diff_versions(old, ing).to_dict()
    files = [FileRef("data", ing.path, ing.sha256)]
    if baseline and old is not None:
        files.append(FileRef("baseline", baseline, old.sha256))
    for role, path in (
        ("items", options.items if options else None),
        ("labelers", options.labelers if options else None),
        ("gold", gold_path),
        ("reviews", reviews),
    ):
        if path:
            files.append(FileRef(role, path, sha256_of(path)))
    return decide(result, outcome, policy, tuple(files), diff_dict, options=options, today=today)


def audit_with_reviews(
    ing: Any,
    policy: Policy,
    decisions: Any,
    day: date,
    gold: Any = None,
    profiler: Profiler | None = None,
) -> tuple[AuditResult, ReviewOutcome]:
    """The audit with the review decisions in force on ``day`` applied (by the audit, once).

    A dismissed finding's labels stop being suspect, which changes the
    counterfactual headline (and possibly ``headline_shift``): the audit
    recomputes that part itself; nothing runs twice.
    """
    result = audit_ingested(ing, policy, profiler, gold=gold, decisions=decisions, today=day)
    outcome = result.review_outcome
    assert outcome is not None  # decisions were given
    return result, outcome


def reviewed_result(result: AuditResult, outcome: ReviewOutcome) -> AuditResult:
    """The audit as a reviewer left it: dismissed findings become ``info`` and say by whom.

    The verdict is recomputed from the remaining severities. Used by the
    scheduled report, so a dismissed finding does not alert every week.
    """
    from dataclasses import replace

    from evalaudit.findings import verdict_of

    findings = []
    for f in result.findings:
        d = outcome.dismissed.get(f.id)
        if d is not None:
            until = f" until {d.until}" if d.until else ""
            f = replace(
                f,
                severity="info",
                message=f"Dismissed by {d.by}{until} ({d.reason}): {f.message}",
                evidence={
                    **f.evidence,
                    "review": d.verdict_dict(),
                    "severity_before_review": f.severity,
                },
            )
        elif f.id in outcome.confirmed:
            f = replace(
                f, evidence={**f.evidence, "review": outcome.confirmed[f.id].verdict_dict()}
            )
        findings.append(f)
    return replace(result, findings=tuple(findings), verdict=verdict_of(findings))


def decide(
    result: AuditResult,
    outcome: ReviewOutcome,
    policy: Policy,
    files: tuple[FileRef, ...],
    baseline: dict[str, Any] | None,
    *,
    options: IngestOptions | None = None,
    today: date | None = None,
) -> GateResult:
    """The verdict: block if a finding blocks and is not dismissed; warn likewise; else pass.

    ``options`` and ``today`` are what :func:`run_gate` was given, kept for the attestation.
    """
    dismissed = set(outcome.dismissed)
    confirmed = set(outcome.confirmed)
    findings = [f.to_dict() for f in result.findings]
    for f in findings:
        f["review"] = (
            "dismissed" if f["id"] in dismissed else "confirmed" if f["id"] in confirmed else None
        )
    live = [f for f in findings if f["review"] != "dismissed"]
    blocking = sorted((f for f in live if f["severity"] == "block"), key=lambda f: f["id"])
    warnings = sorted((f for f in live if f["severity"] == "warn"), key=lambda f: f["id"])
    verdict = verdict_of_severities(f["severity"] for f in live)
    rules = []
    for rule in RULES:
        mine = [f for f in findings if f["kind"] == rule.kind]
        live_mine = [f for f in mine if f["review"] != "dismissed"]
        worst = verdict_of_severities(f["severity"] for f in live_mine)
        rules.append(
            {
                "code": rule.code,
                "name": rule.name,
                "kind": rule.kind,
                "status": {"pass": "pass", "warn": "warn", "block": "fail"}[worst],
                "findings": sorted(f["id"] for f in live_mine),
                "dismissed": sorted(f["id"] for f in mine if f["review"] == "dismissed"),
            }
        )
    return GateResult(
        audit=result,
        outcome=outcome,
        policy=policy,
        files=files,
        baseline=baseline,
        verdict=verdict,
        blocking=tuple(blocking),
        warnings=tuple(warnings),
        rules=tuple(rules),
        options=options,
        today=today,
    )


# ------------------------------------------------------------------ attestation
def attestation(g: GateResult) -> str:
    """What was gated, as an in-toto Statement v1 (JSON, no timestamps: byte-identical).

    Subjects are the input files (data, baseline, side tables, gold, reviews)
    with their sha256; the predicate holds the evalaudit version, the policy
    and reviews files with digests, the verdict, the finding ids and the
    review decisions applied, and what else changed the figures or the verdict:

    - ``policy.set_for_run``: the policy keys the run set over the file
      (:data:`RUN_POLICY_KEYS`: ``ppi_strata`` from ``--ppi-strata`` or the API's
      ``ppi_strata=``), each always present, ``[]`` when the file's value applied;
    - ``options``: how the data was read and judged, under the keyword names of
      :func:`evalaudit.gate` (``format``, ``delimiter``, ``control``, ``columns``,
      ``label_kind``, ``positive``, ``order``, ``labels``, ``slices``, ``duplicates``,
      ``version``, ``skip_invalid``, ``labels_exact``, ``judges``) and ``today`` (the
      ``--as-of`` date, ISO); ``null`` / ``[]`` / ``{}`` / ``false`` when not given
      (``slices: null`` is auto-detected, ``today: null`` the day of the run). The side
      tables, gold file and baseline are subjects; ``--engine`` is not recorded (every
      engine gives the same figures).

    Keys are sorted; the same inputs give the same bytes.
    """
    subjects = [
        {"name": Path(f.path).name, "digest": {"sha256": f.sha256}, "annotations": {"role": f.role}}
        for f in g.files
    ]
    reviews = next((f for f in g.files if f.role == "reviews"), None)
    o = g.outcome
    predicate = {
        "evalaudit_version": __version__,
        "policy": {
            "path": g.policy.path,
            "digest": {"sha256": g.policy.sha256},
            "set_for_run": _set_for_run(g.policy),
        },
        "options": _options_predicate(g.options, g.today),
        "reviews": (
            {"path": reviews.path, "digest": {"sha256": reviews.sha256}} if reviews else None
        ),
        "verdict": g.verdict,
        "exit_code": g.exit_code,
        "findings": sorted(f.id for f in g.audit.findings),
        "blocking": [f["id"] for f in g.blocking],
        "decisions_applied": [
            d.verdict_dict() for d in (*o.dismissed.values(), *o.confirmed.values())
        ],
    }
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    return json.dumps(statement, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _set_for_run(policy: Policy) -> dict[str, Any]:
    """Each of :data:`RUN_POLICY_KEYS` the run set over the policy file (``[]``: it did not)."""
    return {k: list(getattr(policy, k)) if k in policy.given_by else [] for k in RUN_POLICY_KEYS}


def _options_predicate(options: IngestOptions | None, today: date | None) -> dict[str, Any]:
    """The gate's input options under :func:`evalaudit.gate`'s keyword names (JSON values)."""
    o = options or IngestOptions()

    def listed(v: tuple[str, ...] | None) -> list[str] | None:
        return list(v) if v is not None else None

    return {
        "format": o.fmt,
        "delimiter": o.delimiter,
        "control": o.control,
        "columns": dict(sorted(o.column_map.items())),
        "label_kind": str(o.label_kind.value) if o.label_kind is not None else None,
        "positive": o.positive,
        "order": listed(o.order),
        "labels": listed(o.labels),
        "slices": listed(o.slices),
        "duplicates": o.duplicates,
        "version": o.version,
        "skip_invalid": bool(o.skip_invalid),
        "labels_exact": bool(o.labels_exact),
        "judges": list(o.judges),
        "today": today.isoformat() if today is not None else None,
    }


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str


def verify_attestation(attestation_path: str, data_path: str) -> Verification:
    """Is ``data_path`` the data file that was gated? (Raises InputError on a bad attestation.)"""
    from evalaudit.contract import InputError, Problem

    def bad(msg: str) -> InputError:
        return InputError(
            attestation_path,
            [Problem("attestation", None, 0, (), msg, "pass the file written by gate --attest")],
        )

    try:
        st = json.loads(Path(attestation_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad("the attestation file does not exist") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not a JSON attestation ({exc})") from None
    if (
        not isinstance(st, dict)
        or st.get("_type") != STATEMENT_TYPE
        or not isinstance(st.get("subject"), list)
    ):
        raise bad("not an in-toto Statement v1 (missing _type or subject)")
    if st.get("predicateType") != PREDICATE_TYPE:
        raise bad(f"predicateType is not {PREDICATE_TYPE}")
    if not Path(data_path).is_file():
        raise InputError(
            data_path,
            [Problem("exists", None, 0, (), "the data file does not exist", "check the path")],
        )
    digest = sha256_of(data_path)
    data_subjects = [
        s
        for s in st["subject"]
        if isinstance(s, dict) and (s.get("annotations") or {}).get("role") == "data"
    ]
    for s in data_subjects:
        if (s.get("digest") or {}).get("sha256") == digest:
            return Verification(
                True,
                f"{data_path} is the data file that was gated "
                f"(sha256 {digest}; verdict {st['predicate'].get('verdict')})",
            )
    expected = ", ".join((s.get("digest") or {}).get("sha256", "?") for s in data_subjects)
    return Verification(
        False,
        f"{data_path} is NOT the data file that was gated: sha256 "
        f"{digest}, attested {expected or 'none'}",
    )
