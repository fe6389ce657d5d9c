"""evalaudit dashboard: ``streamlit run app.py``.

Opens on the bundled sample data with nothing configured. The sidebar picks
the view, the label file (sample, path or upload), the policy in ``rules/``
and an optional baseline version. Every number comes from the audit
(:class:`~evalaudit.result.AuditResult`) and the shared chart builders
(:mod:`evalaudit.render.charts`); the dashboard computes no statistic of its
own. Review decisions go to the same store the gate reads
(``$EVALAUDIT_HOME/reviews.db``, default ``./.evalaudit``).

Caching: the validated table is held once per (file sha256, input options)
with ``st.cache_resource`` (read-only; a copy per rerun would cost seconds at
10^6 rows); the audit, drift timelines and the version diff are
``st.cache_data`` keyed on the file's sha256, the options, the policy's
sha256 with the keys the inputs set over it (``ppi_strata``) and (for the audit) the
dismissed findings.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # a plain checkout works without `pip install -e .`
    sys.path.insert(0, str(ROOT))

from evalaudit import dashboard as dash  # noqa: E402
from evalaudit.contract import InputError, LabelKind  # noqa: E402
from evalaudit.render import charts  # noqa: E402
from evalaudit.render.judges import ppi_weighting  # noqa: E402
from evalaudit.result import AuditResult  # noqa: E402
from evalaudit.reviews import (  # noqa: E402
    REVIEWS_DB,
    Decision,
    ReviewStore,
    StoreError,
    decisions_for_gate,
    default_home,
    utc_today,
)
from evalaudit.rules import Policy, load_policy, with_ppi_strata  # noqa: E402
from evalaudit.validate import Ingested, IngestOptions, ingest  # noqa: E402

SAMPLE_DIR = ROOT / "sample_data"
RULES_DIR = ROOT / "rules"
#: How the PPI strata input names itself in the library's error (``--ppi-strata`` on the CLI).
PPI_STRATA_INPUT = "PPI strata (Input options)"
VIEWS = ("Overview", "Labelers", "Slices", "Judges", "Drift", "Impact", "Items", "Review")
SOURCES = ("Sample data", "Path", "Upload")
SEVERITY_BADGE = {
    "block": ":red-badge[BLOCK]",
    "warn": ":orange-badge[WARN]",
    "info": ":gray-badge[INFO]",
}
#: Columns of the cells table in the Slices view.
CELL_COLUMNS = (
    "labeler_id",
    "slice_value",
    "flagged",
    "n",
    "leniency",
    "ci_low",
    "ci_high",
    "tilt",
    "q_value",
    "weight",
    "finding",
)
#: Blocking findings listed (with a button to their evidence) above the Overview's metrics.
MAX_BLOCKING_SHOWN = 8
#: Most labelers drawn as drift panels at once.
MAX_DRIFT_PANELS = 8


# ================================================================== cached work
@st.cache_data(show_spinner=False, max_entries=64)
def file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file's bytes; re-read only when its size or mtime changes."""
    return dash.sha256_file(path)


@st.cache_resource(show_spinner=False, max_entries=4)
def load_table(sha256: str, opts_key: str, _path: str) -> tuple[Ingested | None, InputError | None]:
    """Read and validate a label file once per (sha256, options)."""
    try:
        return ingest(_path, dash.options_from_key(opts_key)), None
    except InputError as err:
        return None, err


@st.cache_data(show_spinner=False, max_entries=8)
def audit(
    sha256: str,
    opts_key: str,
    policy_key: str,
    decisions_key: tuple[tuple[str, ...], ...],
    today: str,
    _ing: Ingested,
    _policy: Policy,
    _decisions: tuple[Decision, ...],
) -> AuditResult:
    """The audit of a validated table with the review decisions applied (by the audit, once).

    ``policy_key`` identifies ``_policy`` (:func:`_policy_key`), ``decisions_key``
    ``_decisions`` for the cache (a new decision is a new key).
    """
    from datetime import date

    from evalaudit.audit import audit_ingested

    return audit_ingested(
        _ing, _policy, decisions=list(_decisions), today=date.fromisoformat(today)
    )


@st.cache_data(show_spinner=False, max_entries=32)
def drift_timeline(
    sha256: str, opts_key: str, labeler_ids: tuple[str, ...], order: str, _ing: Ingested
) -> pd.DataFrame:
    from evalaudit.audit import drift_timelines

    return drift_timelines(_ing, labeler_ids, order)


@st.cache_data(show_spinner=False, max_entries=4)
def version_diff(
    old_sha: str, new_sha: str, opts_key: str, fdr: float, _old: Ingested, _new: Ingested
) -> Any:
    from evalaudit.diff import diff_versions

    return diff_versions(_old, _new, fdr=fdr)


# ================================================================== inputs
@dataclass(frozen=True)
class Source:
    path: str
    name: str
    sha256: str


def _source_of_path(path: str | Path, name: str | None = None) -> Source:
    p = Path(path)
    st_ = p.stat()
    return Source(str(p), name or p.name, file_sha256(str(p), st_.st_size, st_.st_mtime_ns))


def _pick_file(prefix: str, label: str) -> Source | InputError | None:
    """A label file from the sample directory, a path or an upload (sidebar widgets)."""
    sb = st.sidebar
    choice = sb.radio(label, SOURCES, key=f"{prefix}_source", horizontal=True)
    if choice == "Sample data":
        files = dash.label_files(SAMPLE_DIR)
        if not files:
            return _missing(
                str(SAMPLE_DIR), "no sample data found", "run `evalaudit sample sample_data`"
            )
        names = [f.name for f in files]
        # the sample opens on labels.csv (the labeler audit); judges.csv is one pick away
        first = names.index("labels.csv") if "labels.csv" in names else 0
        name = sb.selectbox("Sample file", names, index=first, key=f"{prefix}_sample")
        return _source_of_path(SAMPLE_DIR / str(name))
    if choice == "Path":
        text = sb.text_input(
            "Path of the label file", key=f"{prefix}_path", placeholder="/data/labels.parquet"
        ).strip()
        if not text:
            return None
        p = Path(text).expanduser()
        if not p.is_file():
            return _missing(text, "the file does not exist (or is a directory)", "check the path")
        return _source_of_path(p, text)
    up = sb.file_uploader(
        "Upload a label file", type=list(dash.LABEL_FILE_TYPES), key=f"{prefix}_upload"
    )
    if up is None:
        return None
    staged = dash.stage_upload(up.name, up.getvalue())
    return _source_of_path(staged, up.name)


def _missing(path: str, message: str, hint: str) -> InputError:
    from evalaudit.contract import Problem

    return InputError(path, [Problem("exists", None, 0, (), message, hint)])


def _options() -> tuple[IngestOptions, tuple[str, ...]] | str:
    """Input options (as the CLI's) and the PPI strata (``--ppi-strata``, a policy key the
    audit checks); a string is an error message."""
    with st.sidebar.expander("Input options"):
        kinds = ["auto", *[k.value for k in LabelKind]]
        kind = st.selectbox("Label kind", kinds, key="opt_kind")
        positive = st.text_input("Passing label value (binary)", key="opt_positive").strip()
        order = st.text_input("Ordinal scale, lowest first (1,2,3,4,5)", key="opt_order").strip()
        dup = st.selectbox("Conflicting duplicates", ["error", "keep-last"], key="opt_duplicates")
        version = st.text_input("Version (when the file holds several)", key="opt_version").strip()
        slices = st.text_input("Slice columns (comma-separated; empty = auto)", key="opt_slices")
        cmap = st.text_input("Column names (item_id=question_id, ...)", key="opt_columns")
        judges = st.text_input(
            "LLM judges (labeler-id globs, comma-separated; or a labeler_type column)",
            key="opt_judges",
        )
        strata = st.text_input(
            "PPI strata (columns the human subset was drawn by, comma-separated)",
            key="opt_ppi_strata",
            help="As --ppi-strata: the PPI headline of LLM-judged items is weighted by stratum "
            "(the combinations of these slice columns); empty: the policy's ppi_strata, by "
            "default humans a uniform random subset.",
        )
    try:
        column_map = dash.parse_column_map(cmap)
    except ValueError as exc:
        return f"Column names: {exc}"
    split = [s.strip() for s in slices.split(",") if s.strip()]
    opts = IngestOptions(
        label_kind=LabelKind(kind) if kind != "auto" else None,
        positive=positive or None,
        order=tuple(s.strip() for s in order.split(",") if s.strip()) or None,
        duplicates=dup,  # type: ignore[arg-type]
        version=version or None,
        slices=tuple(split) or None,
        column_map=column_map,
        judges=tuple(g.strip() for g in judges.split(",") if g.strip()),
    )
    return opts, tuple(c.strip() for c in strata.split(",") if c.strip())


def _policy(ppi_strata: tuple[str, ...] = ()) -> Policy | InputError:
    """The policy picked in ``rules/`` with the PPI strata input applied as ``--ppi-strata``
    is (:func:`evalaudit.rules.with_ppi_strata`; the audit checks the columns)."""
    policy = _policy_file()
    if isinstance(policy, InputError):
        return policy
    return with_ppi_strata(policy, ppi_strata, PPI_STRATA_INPUT)


def _policy_key(policy: Policy) -> str:
    """The audit cache's key for ``policy``: its file's sha256 and the keys set over it."""
    return f"{policy.sha256 or 'built-in'} ppi_strata={list(policy.ppi_strata)!r}"


def _policy_file() -> Policy | InputError:
    files = sorted(RULES_DIR.glob("*.yaml")) if RULES_DIR.is_dir() else []
    names = [f.name for f in files]
    if not names:
        st.sidebar.caption("Policy: built-in defaults (no rules/ directory)")
        return load_policy(None)
    default = names.index("default.yaml") if "default.yaml" in names else 0
    name = st.sidebar.selectbox("Policy (rules/)", names, index=default, key="policy")
    try:
        return load_policy(RULES_DIR / str(name))
    except InputError as err:
        return err


# ================================================================== small UI helpers
def _pct(x: Any, digits: int = 1) -> str:
    return f"{float(x) * 100:.{digits}f}%" if _finite(x) else "n/a"


def _pts(x: Any, digits: int = 2) -> str:
    return f"{float(x) * 100:+.{digits}f} pts" if _finite(x) else "n/a"


def _finite(x: Any) -> bool:
    try:
        return x is not None and bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


def _ci(pair: Any, fmt: Any = _pct) -> str:
    if not pair or not all(_finite(v) for v in pair):
        return ""
    return f"95% CI {fmt(pair[0])} to {fmt(pair[1])}"


def _chart(chart: Any, note: str = "") -> None:
    if chart is None:
        if note:
            st.caption(note)
        return
    st.altair_chart(chart, width="content", theme=None)


def _paged(df: pd.DataFrame, key: str, size: int = dash.PAGE_SIZE) -> pd.DataFrame:
    """One page of ``df`` with a pagination widget below when it has more than one page."""
    n_pages = dash.page_count(len(df), size)
    if n_pages == 1:
        return df
    page = _page_no(key, n_pages)
    part = dash.page_slice(df, page, size)
    st.caption(f"rows {(page - 1) * size + 1:,}-{(page - 1) * size + len(part):,} of {len(df):,}")
    return part


def _page_no(key: str, n_pages: int) -> int:
    """The page the pagination widget ``{key}_page`` is on (1 when out of range, as the widget)."""
    page = st.session_state.get(f"{key}_page", 1)
    return page if isinstance(page, int) and 1 <= page <= n_pages else 1


def _pager(n_rows: int, key: str, size: int = dash.PAGE_SIZE) -> None:
    n_pages = dash.page_count(n_rows, size)
    if n_pages > 1:
        st.pagination(n_pages, key=f"{key}_page")


def _goto(view: str, **state: Any) -> None:
    """Button callback: switch the view and preset widget state (runs before the next run)."""
    st.session_state["view"] = view
    for k, v in state.items():
        st.session_state[k] = v


def _show_problems(err: InputError, what: str) -> None:
    """The validation problems as a table (the CLI's report), never a traceback."""
    errors = [p for p in err.problems if str(p.severity) == "error"]
    st.error(
        f"**{what}** `{err.path}` cannot be audited: {len(errors)} problem(s). "
        "Fix them and reload; nothing was computed."
    )
    st.dataframe(
        dash.problems_frame(err),
        hide_index=True,
        key="problems",
        column_config={
            "problem": st.column_config.TextColumn(width="large"),
            "fix": st.column_config.TextColumn(width="large"),
        },
    )


# ================================================================== the gate's view of reviews
@dataclass(frozen=True)
class Gate:
    result: AuditResult  # re-audited with the dismissed findings, as the gate does
    verdict: str
    blocking: tuple[dict[str, Any], ...]
    warnings: tuple[dict[str, Any], ...]
    in_force: dict[str, Decision]
    n_dismissed: int
    n_confirmed: int


def _gate(ing: Ingested, src: Source, opts_key: str, policy: Policy, home: Path) -> Gate:
    """The verdict the gate gives with this store's decisions (mirrors ``gate.run_gate``)."""
    from evalaudit.gate import FileRef, decide

    decisions = tuple(decisions_for_gate(None, home))
    key = tuple(
        sorted(
            (d.finding_id, d.action, d.by, d.reason, d.until or "", d.recorded_at)
            for d in decisions
        )
    )
    result = audit(
        src.sha256,
        opts_key,
        _policy_key(policy),
        key,
        utc_today().isoformat(),
        ing,
        policy,
        decisions,
    )
    outcome = result.review_outcome
    g = decide(result, outcome, policy, (FileRef("data", src.name, src.sha256),), None)
    return Gate(
        result=result,
        verdict=g.verdict,
        blocking=g.blocking,
        warnings=g.warnings,
        in_force={**outcome.dismissed, **outcome.confirmed},
        n_dismissed=len(outcome.dismissed),
        n_confirmed=len(outcome.confirmed),
    )


# ================================================================== views
def view_overview(ctx: Ctx) -> None:
    r, g = ctx.gate.result, ctx.gate
    n_block, n_warn = len(g.blocking), len(g.warnings)
    reviewed = (
        f" ({g.n_dismissed} dismissed, {g.n_confirmed} confirmed by review)"
        if g.n_dismissed or g.n_confirmed
        else ""
    )
    if g.verdict == "block":
        st.error(
            f"### Verdict: BLOCK\n{n_block} blocking finding(s), {n_warn} warning(s){reviewed}. "
            "The gate would stop this version."
        )
    elif g.verdict == "warn":
        st.warning(f"### Verdict: WARN\n{n_warn} warning(s){reviewed}; the gate passes.")
    else:
        st.success(f"### Verdict: PASS\nNo blocking finding or warning{reviewed}.")

    # the evidence behind each blocking finding, one click away
    for f in g.blocking[:MAX_BLOCKING_SHOWN]:
        cell = dash.cell_of_finding(f)
        c1, c2 = st.columns([5, 1.3], vertical_alignment="center")
        c1.markdown(f"{SEVERITY_BADGE['block']} `{f['id']}`: {f['message']}")
        if cell is not None:
            c2.button(
                "Show its items",
                key=f"goto_{f['id']}",
                on_click=_goto_cell,
                args=(ctx, cell),
                type="primary",
            )
        elif f["subject"].get("labeler_id"):
            c2.button(
                "Open labeler",
                key=f"goto_{f['id']}",
                on_click=_goto,
                args=("Labelers",),
                kwargs={"labeler": str(f["subject"]["labeler_id"])},
            )
    if len(g.blocking) > MAX_BLOCKING_SHOWN:
        st.caption(
            f"... and {len(g.blocking) - MAX_BLOCKING_SHOWN} more blocking finding(s) below."
        )

    h = r.headline or {}
    corr = h.get("corrected") or {}
    a = r.agreement
    acc = r.input
    cols = st.columns(5)
    cols[0].metric("Headline (reported)", _pct(h.get("score")), help=_ci(h.get("ci")))
    cols[0].caption(_ci(h.get("ci")))
    cols[1].metric("Without suspect labels", _pct(h.get("score_without_suspects")))
    cols[1].caption(
        f"{_ci(h.get('ci_without_suspects'))}; {h.get('suspect_labels', 0):,} suspect labels, "
        f"{h.get('items_dropped', 0):,} items lose every label"
    )
    cols[2].metric(
        "Corrected for leniency",
        _pct(corr.get("score_corrected")),
        delta=_pts(corr.get("delta")) if _finite(corr.get("delta")) else None,
        delta_color="off",
    )
    cols[2].caption(_ci(corr.get("delta_ci"), _pts).replace("95% CI", "delta 95% CI"))
    cols[3].metric(
        "Krippendorff's alpha", f"{a['alpha']:.3f}" if _finite(a.get("alpha")) else "n/a"
    )
    cols[3].caption(f"{a.get('level', '')}, {a.get('n_units', 0):,} items with 2+ labels")
    cols[4].metric("Rows used", f"{acc['rows_used']:,}")
    rejected = acc.get("rows_rejected") or {}
    cols[4].caption(
        f"of {acc['rows_read']:,} read; not used: "
        + (", ".join(f"{k} {v:,}" for k, v in rejected.items()) if rejected else "none")
    )
    st.caption(
        f"{acc['items']:,} items, {acc['labelers']:,} labelers. Labels: {r.label.get('description', '')}. "
        f"Slices: {', '.join(acc.get('slice_columns') or []) or 'none'}."
    )

    st.subheader("Top findings")
    fv = dash.findings_view(r, g.in_force)
    st.dataframe(
        fv.head(10),
        hide_index=True,
        key="top_findings",
        column_config=_findings_columns(),
    )
    if len(fv) > 10:
        with st.expander(f"All {len(fv)} findings"):
            st.dataframe(
                _paged(fv, "all_findings"), hide_index=True, column_config=_findings_columns()
            )
            _pager(len(fv), "all_findings")
    _chart(charts.headline_chart(r), "No headline score (nominal labels without a passing class).")


def _findings_columns() -> dict[str, Any]:
    return {
        "finding": st.column_config.TextColumn(width="medium"),
        "message": st.column_config.TextColumn(width="large"),
        "q": st.column_config.NumberColumn(format="%.2g"),
    }


def _goto_cell(ctx: Ctx, cell: tuple[str, str, str]) -> None:
    """Open the Slices view with ``cell`` selected in its table (an Overview button)."""
    labeler, column, value = cell
    show = "all"
    table = dash.cells_view(ctx.gate.result, column, show)
    hit = table.index[
        (table["labeler_id"] == labeler) & (table["slice_value"].astype(str) == value)
    ]
    st.session_state["view"] = "Slices"
    st.session_state["slice_col"] = column
    st.session_state["cells_show"] = show
    if len(hit):
        i = int(hit[0])
        key = _cells_key(column, show)
        if i >= dash.PAGE_SIZE:
            st.session_state[f"{key}_page"] = i // dash.PAGE_SIZE + 1
        st.session_state[key] = {"selection": {"rows": [i % dash.PAGE_SIZE], "columns": []}}


def _cells_key(column: str, show: str) -> str:
    """Widget key of a cells table: one per (slice column, filter), so a selection never
    carries over to another table; also its CSS class ``st-key-...`` (no special characters)."""
    return "cells-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{column}-{show}")


def view_labelers(ctx: Ctx) -> None:
    r = ctx.gate.result
    lv = dash.labelers_view(r)
    if lv.empty:
        st.info("No labelers.")
        return
    st.caption(
        "Ranked by shrunken leniency; click a column header to sort. Leniency and CI in "
        f"{charts.effect_units(ctx.kind)[1]} against peers on the same kind of items."
    )
    st.dataframe(
        _paged(lv, "labelers"),
        hide_index=True,
        key="labelers_table",
        column_config={
            "share": st.column_config.NumberColumn("share %", format="%.1f"),
            "leniency": st.column_config.NumberColumn(format="%+.1f"),
            "ci_low": st.column_config.NumberColumn(format="%+.1f"),
            "ci_high": st.column_config.NumberColumn(format="%+.1f"),
            "q_value": st.column_config.NumberColumn(format="%.3g"),
            "kappa": st.column_config.NumberColumn(format="%.2f"),
            "alpha_delta": st.column_config.NumberColumn(format="%+.3f"),
            "ds_quality": st.column_config.NumberColumn(format="%.2f"),
            "gold_accuracy": st.column_config.NumberColumn("gold acc %", format="%.1f"),
        },
    )
    _pager(len(lv), "labelers")
    _chart(charts.leniency_chart(r))

    ids = lv["labeler_id"].astype(str).tolist()
    if st.session_state.get("labeler") not in ids:
        flagged = charts.chart_labelers(r, 1)
        st.session_state["labeler"] = flagged[0] if flagged else ids[0]
    lid = st.selectbox("Labeler", ids, key="labeler")
    row = lv[lv["labeler_id"].astype(str) == lid].iloc[0]
    st.subheader(f"Labeler {lid}")
    unit = charts.effect_units(ctx.kind)[1]
    c = st.columns(4)
    c[0].metric("Labels", f"{int(row['n_labels']):,}")
    c[1].metric(
        f"Leniency ({unit})",
        f"{row['leniency']:+.1f}" if _finite(row["leniency"]) else "n/a",
    )
    c[1].caption(
        f"95% CI {row['ci_low']:+.1f} to {row['ci_high']:+.1f}"
        if _finite(row.get("ci_low")) and _finite(row.get("ci_high"))
        else ""
    )
    c[2].metric("Kappa vs consensus", f"{row['kappa']:.2f}" if _finite(row.get("kappa")) else "n/a")
    if "gold_accuracy" in row and _finite(row.get("gold_accuracy")):
        lab = r.labelers[r.labelers["labeler_id"].astype(str) == lid].iloc[0]
        c[3].metric("Gold accuracy", f"{row['gold_accuracy']:.1f}%")
        c[3].caption(
            f"{int(lab['n_gold']):,} gold items; 95% CI {_pct(lab.get('gold_ci_low'))} to "
            f"{_pct(lab.get('gold_ci_high'))}"
        )
    else:
        c[3].metric("Gold accuracy", "n/a")
        c[3].caption("no gold (honeypot) labels in this file")

    st.markdown(f"**{lid}'s slices** (flagged first)")
    cells = dash.cells_view(r)
    mine = cells[cells["labeler_id"].astype(str) == lid]
    if mine.empty:
        st.caption("No cells for this labeler.")
    else:
        st.dataframe(
            _paged(mine, f"labeler_cells_{lid}"),
            hide_index=True,
            key="labeler_cells_table",
            column_config=_cells_columns(),
        )
        _pager(len(mine), f"labeler_cells_{lid}")

    st.markdown(f"**{lid}'s leniency over time**")
    _drift_panels(ctx, [lid])


def _cells_columns() -> dict[str, Any]:
    return {
        "leniency": st.column_config.NumberColumn(format="%+.1f"),
        "ci_low": st.column_config.NumberColumn(format="%+.1f"),
        "ci_high": st.column_config.NumberColumn(format="%+.1f"),
        "tilt": st.column_config.NumberColumn(format="%+.1f"),
        "q_value": st.column_config.NumberColumn(format="%.3g"),
        "weight": st.column_config.NumberColumn(
            format="%.2f", help="p-value weight in the slice scan's weighted BH (mean 1)"
        ),
        "finding": st.column_config.TextColumn(width="medium"),
    }


def _drift_order(r: AuditResult) -> str | None:
    d = r.drift
    if d is None or d.empty or "order" not in d.columns:
        return None
    return "time" if (d["order"] == "time").any() else "batch"


def _drift_panels(ctx: Ctx, ids: list[str]) -> None:
    r = ctx.gate.result
    order = _drift_order(r)
    if order is None or not ids:
        st.caption("Drift was not tested (no timestamp or batch column, or too few labels).")
        return
    tl = drift_timeline(ctx.src.sha256, ctx.opts_key, tuple(ids), order, ctx.ing)
    _chart(charts.drift_chart(tl, r.drift, ctx.kind), "Too few labels to draw a timeline.")


def view_slices(ctx: Ctx) -> None:
    r = ctx.gate.result
    columns = dash.slice_columns(r)
    if not columns:
        st.info("No slice cells: the file has no slice columns (see Input options).")
        return
    if st.session_state.get("slice_col") not in columns:
        flagged = dash.cells_view(r, None, "flagged")
        st.session_state["slice_col"] = (
            str(flagged["slice_column"].iloc[0]) if len(flagged) else columns[0]
        )
    c1, c2 = st.columns([2, 3])
    col = c1.selectbox("Slice column", columns, key="slice_col")
    if "cells_show" not in st.session_state:
        st.session_state["cells_show"] = "all"
    show = c2.radio(
        "Cells",
        ["all", "tested", "flagged"],
        key="cells_show",
        horizontal=True,
        help="tested: enough labels (min_support) to test; flagged: a finding",
    )
    table = dash.cells_view(r, col, str(show))
    # the heat map above its table: beside it the table's 11 columns were cut off
    _chart(charts.heatmap_chart(r, col), f"No cells for {col}.")
    st.markdown(
        f"**Cells of {col}** ({len(table):,}; flagged first). "
        "Select a row to see the items behind it."
    )
    key = _cells_key(col, str(show))
    part = _paged(table, key)
    event = st.dataframe(
        part,
        hide_index=True,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        column_order=CELL_COLUMNS,
        column_config=_cells_columns(),
        height=460,
    )
    _pager(len(table), key)
    rows = list(event.selection.rows) if event is not None else []
    if not rows or rows[0] >= len(part):
        st.caption("No cell selected.")
        return
    cell = part.iloc[rows[0]]
    _cell_items(
        ctx, str(cell["labeler_id"]), str(cell["slice_column"]), str(cell["slice_value"]), cell
    )


def _cell_items(ctx: Ctx, labeler: str, column: str, value: str, cell: pd.Series) -> None:
    r = ctx.gate.result
    unit = charts.effect_units(ctx.kind)[1]
    st.subheader(f"Items behind {labeler} × {dash.cell_subject_text(column, value)}")
    fid = str(cell.get("finding") or "")
    finding = next((f for f in r.findings if f.id == fid), None) if fid else None
    lenient = cell.get("leniency")
    st.markdown(
        f"{int(cell['n']):,} labels; leniency "
        + (f"{lenient:+.1f} {unit}" if _finite(lenient) else "n/a")
        + (
            f" (95% CI {cell['ci_low']:+.1f} to {cell['ci_high']:+.1f})"
            if _finite(cell.get("ci_low")) and _finite(cell.get("ci_high"))
            else ""
        )
        + (f", q = {cell['q_value']:.2g}" if _finite(cell.get("q_value")) else "")
        + "."
    )
    if finding is not None:
        review = ctx.gate.in_force.get(fid)
        st.warning(
            f"**{finding.severity.upper()}** `{fid}`: {finding.message}"
            + (
                f"\n\nReview: {dash.DONE[review.action]} by {review.by}: {review.reason}"
                if review
                else ""
            )
        )
        st.button(
            "Review this finding",
            key="review_cell",
            on_click=_goto,
            args=("Review",),
            kwargs={"review_finding": fid},
        )
    pos = dash.cell_positions(ctx.ing.table, labeler, column, value)
    key = f"cellitems::{labeler}::{column}::{value}"
    n_pages = dash.page_count(len(pos))
    page = _page_no(key, n_pages)
    chunk = pos[(page - 1) * dash.PAGE_SIZE : page * dash.PAGE_SIZE]
    rows = dash.label_rows(ctx.ing.table, chunk)
    rows.insert(4, "other labels of the item", dash.peer_labels(ctx.ing.table, chunk).to_numpy())
    st.caption(
        f"{labeler}'s {len(pos):,} labels in this cell, in file order, with the other labels of "
        "each item" + (f" (page {page} of {n_pages})" if n_pages > 1 else "")
    )
    st.dataframe(rows, hide_index=True, key="cell_items_table")
    _pager(len(pos), key)
    if len(rows):
        c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
        item = c1.selectbox("Item", rows["item_id"].astype(str).unique().tolist(), key="cell_item")
        c2.button(
            "Show every label of this item",
            key="open_item",
            on_click=_goto,
            args=("Items",),
            kwargs={"item_id": item},
        )


def view_judges(ctx: Ctx) -> None:
    r = ctx.gate.result
    jv = dash.judges_view(r)
    if jv.empty:
        st.info(
            "No LLM judges beside humans in this file. Mark them with a `labeler_type` column "
            "(`human` / `model`, in the file or the labelers table) or list their ids under "
            "Input options > LLM judges (e.g. `gpt-*`); try the sample file `judges.csv`."
        )
        return
    unit = "pts" if r.label.get("kind") != "interval" else "units"
    st.subheader("Judges against the humans")
    st.caption(
        "Humans are the reference: bias is the judge's score minus the human consensus on the "
        f"items both graded ({unit}, item-clustered 95% CI); q from the audit's error budget."
    )
    st.dataframe(
        jv,
        hide_index=True,
        key="judges_table",
        column_config={
            "bias": st.column_config.NumberColumn(format="%+.1f"),
            "ci_low": st.column_config.NumberColumn(format="%+.1f"),
            "ci_high": st.column_config.NumberColumn(format="%+.1f"),
            "q_value": st.column_config.NumberColumn(format="%.3g"),
            "kappa": st.column_config.NumberColumn(format="%.2f"),
            "pass_when_humans_fail": st.column_config.NumberColumn(
                "passes humans' fails %", format="%.0f"
            ),
            "fail_when_humans_pass": st.column_config.NumberColumn(
                "fails humans' passes %", format="%.0f"
            ),
        },
    )
    conf = dash.judge_confusion(r)
    if not conf.empty:
        st.subheader("Judge vs human confusion")
        st.dataframe(
            conf,
            hide_index=True,
            key="judge_confusion",
            column_config={
                "judge passes %": st.column_config.NumberColumn(format="%.1f"),
                "judge fails %": st.column_config.NumberColumn(format="%.1f"),
            },
        )
    cols = sorted(set(r.judge_slices["slice_column"])) if not r.judge_slices.empty else []
    if cols:
        st.subheader("Bias per slice")
        col = st.selectbox("Slice column", cols, key="judge_slice_col")
        sv = dash.judge_slices_view(r, col)
        import altair as alt

        base = alt.Chart(sv).encode(
            y=alt.Y("slice_value:N", title=col),
            yOffset="judge:N",
            color=alt.Color("judge:N"),
        )
        bars = base.mark_bar().encode(x=alt.X("bias:Q", title=f"bias against humans ({unit})"))
        rules = base.mark_rule().encode(x="ci_low:Q", x2="ci_high:Q")
        st.altair_chart((bars + rules).properties(height=40 * len(sv) + 40), width="stretch")
        st.dataframe(
            sv,
            hide_index=True,
            key="judge_slices_table",
            column_config={
                c: st.column_config.NumberColumn(format="%+.1f")
                for c in ("bias", "ci_low", "ci_high", "tilt")
            },
        )
    pv = dash.ppi_view(r)
    if not pv.empty:
        ppi = r.headline["ppi"]
        st.subheader("PPI headline per model")
        st.caption(
            # the weights say the assumption (MCAR, or random within strata): said once
            f"Prediction-powered inference ({ppi['judge']}: {ppi['method']}). "
            f"Weights: {ppi_weighting(ppi)}"
            + (f" ({ppi['note']})" if ppi.get("note") else "")
            + ". Judge-only is the judge's mean over all its items; humans-only the human mean."
        )
        st.dataframe(
            pv,
            hide_index=True,
            key="ppi_table",
            column_config={
                c: st.column_config.NumberColumn(format="%.1f")
                for c in (
                    "ppi",
                    "ci_low",
                    "ci_high",
                    "judge_only",
                    "humans_only",
                    "humans_only_ci_low",
                    "humans_only_ci_high",
                )
            }
            | {"lambda": st.column_config.NumberColumn(format="%.2f")},
        )


def view_drift(ctx: Ctx) -> None:
    r = ctx.gate.result
    st.subheader("Drift of labelers")
    dv = dash.drift_view(r)
    if dv.empty:
        st.info(
            "Drift was not tested: the file has no timestamp or batch column, or too few labels."
        )
    else:
        n_flag = int(dv["flagged"].sum())
        st.caption(
            f"CUSUM change-point test on each labeler's leniency residuals, {len(dv):,} tests; "
            f"{n_flag} flagged (q < {ctx.policy.fdr:g} and at least the policy's minimum effect)."
        )
        st.dataframe(
            _paged(dv, "drift"),
            hide_index=True,
            key="drift_table",
            column_config={
                "before": st.column_config.NumberColumn(format="%+.1f"),
                "after": st.column_config.NumberColumn(format="%+.1f"),
                "effect": st.column_config.NumberColumn(format="%+.1f"),
                "q_value": st.column_config.NumberColumn(format="%.3g"),
            },
        )
        _pager(len(dv), "drift")
        from evalaudit.commands.report import drift_labelers

        default, _ = drift_labelers(r, MAX_DRIFT_PANELS)
        all_ids = list(dict.fromkeys(dv["labeler_id"].astype(str)))
        if not default:
            default = all_ids[:1]
        ids = st.multiselect(
            f"Labelers to draw (at most {MAX_DRIFT_PANELS})",
            all_ids,
            default=[i for i in default if i in all_ids],
            max_selections=MAX_DRIFT_PANELS,
            key="drift_ids",
        )
        _drift_panels(ctx, list(ids))

    st.subheader("Between versions")
    if ctx.baseline is None:
        st.caption("Pick a baseline version in the sidebar to compare this file with it.")
        return
    if isinstance(ctx.baseline, InputError):
        _show_problems(ctx.baseline, "The baseline")
        return
    old_src, old_ing = ctx.baseline
    try:
        d = version_diff(
            old_src.sha256, ctx.src.sha256, ctx.opts_key, ctx.policy.fdr, old_ing, ctx.ing
        )
    except InputError as err:
        _show_problems(err, "The comparison")
        return
    st.caption(f"baseline `{old_src.name}` (sha256 {old_src.sha256[:12]}) -> `{ctx.src.name}`")
    c = st.columns(4)
    c[0].metric("Items kept", f"{d.items.kept:,}")
    c[1].metric("Items added / removed", f"{d.items.added:,} / {d.items.removed:,}")
    c[2].metric("Labels changed", f"{d.labels.changed:,}")
    if d.headline is not None:
        c[3].metric(
            "Headline", _pct(d.headline.new), delta=_pts(d.headline.change), delta_color="off"
        )
        st.caption(
            f"Headline {_pct(d.headline.old)} -> {_pct(d.headline.new)}: "
            f"{_pts(d.headline.from_changed_items)} from the item set, "
            f"{_pts(d.headline.from_changed_labels)} from changed labels."
        )
    if len(d.labels.by_labeler):
        st.markdown("**Label changes by labeler**")
        st.dataframe(_paged(d.labels.by_labeler, "diff_lab"), hide_index=True)
        _pager(len(d.labels.by_labeler), "diff_lab")
    sig = d.significant_slices
    st.markdown(f"**Slices whose label distribution changed** ({len(sig)} of {len(d.slices)})")
    if len(sig):
        st.dataframe(sig, hide_index=True)


def view_impact(ctx: Ctx) -> None:
    r = ctx.gate.result
    h = r.headline
    st.subheader("Headline impact")
    if not h:
        st.info("No headline score for these labels (nominal labels without a passing class).")
        return
    corr = h.get("corrected") or {}
    st.markdown(
        f"Reported **{_pct(h['score'])}** ({_ci(h.get('ci'))}); without the "
        f"{h.get('suspect_labels', 0):,} suspect labels **{_pct(h.get('score_without_suspects'))}** "
        f"({_ci(h.get('ci_without_suspects'))}; {h.get('items_dropped', 0):,} items lose every "
        f"label); corrected for their leniency **{_pct(corr.get('score_corrected'))}** "
        f"(delta {_pts(corr.get('delta'))}, {_ci(corr.get('delta_ci'), _pts)})."
    )
    st.caption(f"Suspect labels: {h.get('suspects', '')}. Correction: {corr.get('method', '')}.")
    if h.get("ranking_changed"):
        st.warning("Removing the suspect labels changes the ranking of the models.")
    _chart(charts.headline_chart(r))

    models = dash.impact_table(h.get("per_model") or [], corr.get("per_model") or [], ["model"])
    if len(models):
        st.markdown("**Per model**")
        st.dataframe(models, hide_index=True, key="impact_models", column_config=_impact_columns())
    slices = dash.impact_table(
        h.get("per_slice") or [], corr.get("per_slice") or [], ["slice_column", "slice_value"]
    )
    if len(slices):
        st.markdown("**Per slice**")
        st.dataframe(
            _paged(slices, "impact_slices"),
            hide_index=True,
            key="impact_slices",
            column_config=_impact_columns(),
        )
        _pager(len(slices), "impact_slices")
    variants = h.get("variants") or {}
    if variants:
        st.markdown("**Which suspects move it**")
        st.dataframe(
            dash.variants_table(h),
            hide_index=True,
            key="impact_variants",
            column_config=_impact_columns(),
        )


def _impact_columns() -> dict[str, Any]:
    fmt = {c: st.column_config.NumberColumn(format="%.1f") for c in dash.IMPACT_SCORE_COLUMNS}
    fmt.update(
        {c: st.column_config.NumberColumn(format="%+.2f") for c in dash.IMPACT_DELTA_COLUMNS}
    )
    return fmt


def view_items(ctx: Ctx) -> None:
    table = ctx.ing.table
    if not st.session_state.get("item_id") and table.n_items:
        # open on an item with the most labels: the view is about comparing them
        st.session_state["item_id"] = str(table.item_ids[int(np.argmax(table.labels_per_item()))])
    item = st.text_input("Item id", key="item_id").strip()
    pos = dash.item_positions(table, item)
    if not len(pos):
        st.warning(f"No item `{item}` in this file.")
    else:
        st.markdown(f"**Every label of `{item}`** ({len(pos)}), in time order")
        st.dataframe(dash.label_rows(table, pos), hide_index=True, key="item_labels")

    st.subheader("Browse labels")
    labelers = ["(any)", *table.labeler_ids.astype(str).tolist()]
    who = st.selectbox("Labeler", labelers, key="browse_labeler")
    if who == "(any)":
        all_pos = np.arange(table.n_labels)
    else:
        code = table.labeler_ids.get_loc(who)
        all_pos = np.flatnonzero(table.frame["labeler"].to_numpy() == code)
    key = f"browse::{who}"
    n_pages = dash.page_count(len(all_pos))
    page = _page_no(key, n_pages)
    chunk = all_pos[(page - 1) * dash.PAGE_SIZE : page * dash.PAGE_SIZE]
    st.caption(f"{len(all_pos):,} labels in the table's order; page {page} of {n_pages:,}")
    st.dataframe(dash.label_rows(table, chunk), hide_index=True, key="browse_table")
    _pager(len(all_pos), key)


def view_review(ctx: Ctx) -> None:
    r = ctx.gate.result
    home = ctx.home
    st.subheader("Review findings")
    st.caption(
        f"Decisions are stored in `{(home / REVIEWS_DB).resolve()}`, the store `evalaudit gate` "
        "reads ($EVALAUDIT_HOME). A dismissed finding does not block; a confirmed one keeps its "
        "labels suspect. The latest decision on a finding applies."
    )
    flash = st.session_state.pop("flash", None)
    if flash:
        st.success(flash)
    if not r.findings:
        st.info("No findings to review.")
    else:
        ids = [f.id for f in r.findings]
        by_id = {f.id: f for f in r.findings}
        if st.session_state.get("review_finding") not in ids:
            st.session_state["review_finding"] = ids[0]
        fid = st.selectbox(
            "Finding",
            ids,
            key="review_finding",
            format_func=lambda i: f"{by_id[i].severity.upper()}  {i}",
        )
        f = by_id[str(fid)]
        dec = ctx.gate.in_force.get(f.id)
        st.markdown(f"**{f.severity.upper()}** `{f.id}`: {f.message}")
        st.caption(
            "Current decision: "
            + (
                f"{dash.DONE[dec.action]} by {dec.by} ({dec.reason})"
                + (f", until {dec.until}" if dec.until else "")
                if dec
                else "none"
            )
        )
        with st.form("review_form", clear_on_submit=True):
            action = st.radio(
                "Decision",
                ["dismiss", "confirm"],
                horizontal=True,
                key="review_action",
                captions=["not a problem: does not block", "real: its labels stay suspect"],
            )
            by = st.text_input("Your name", key="review_by")
            reason = st.text_area("Reason", key="review_reason", height=80)
            until = st.text_input("Until (optional, YYYY-MM-DD)", key="review_until")
            submitted = st.form_submit_button(
                "Record decision", type="primary", key="review_submit"
            )
        if submitted:
            _record(home, str(fid), str(action), by, reason, until)

    st.subheader("Past decisions")
    try:
        past = decisions_for_gate(None, home)
    except StoreError as exc:
        st.error(str(exc))
        return
    if not past:
        st.caption("No decision recorded yet.")
        return
    dv = dash.decisions_view(past, utc_today())
    st.dataframe(_paged(dv, "decisions"), hide_index=True, key="decisions_table")
    _pager(len(dv), "decisions")


def _record(home: Path, fid: str, action: str, by: str, reason: str, until: str) -> None:
    try:
        d = Decision.create(fid, action, by, reason, until.strip() or None)
        if d.until is not None and date.fromisoformat(d.until) < utc_today():
            raise ValueError(f"until {d.until} is in the past: the decision would never apply")
    except ValueError as exc:
        st.error(str(exc))
        return
    try:
        with ReviewStore.in_home(home) as store:
            stored = store.record(d)
    except StoreError as exc:
        st.error(str(exc))
        return
    st.session_state["flash"] = (
        f"Recorded: {stored.action} `{stored.finding_id}` by {stored.by} "
        f"at {stored.recorded_at} UTC."
    )
    st.rerun()


# ================================================================== main
@dataclass(frozen=True)
class Ctx:
    src: Source
    ing: Ingested
    opts_key: str
    policy: Policy
    gate: Gate
    home: Path
    baseline: tuple[Source, Ingested] | InputError | None

    @property
    def kind(self) -> str:
        return str(self.gate.result.label.get("kind") or "binary")


def main() -> None:
    st.set_page_config(page_title="evalaudit", layout="wide")
    st.sidebar.title("evalaudit")
    # deep link from the report's spot-check table: ?item=ID opens that item in Items
    linked = st.query_params.get("item")
    if linked and st.session_state.get("_linked_item") != linked:
        st.session_state["_linked_item"] = linked
        st.session_state["view"] = "Items"
        st.session_state["item_id"] = str(linked)
    if st.session_state.get("view") not in VIEWS:
        st.session_state["view"] = VIEWS[0]
    view = st.sidebar.radio("View", VIEWS, key="view")
    st.sidebar.divider()
    src = _pick_file("data", "Label file")
    given = _options()
    policy = _policy(given[1] if not isinstance(given, str) else ())
    use_baseline = st.sidebar.toggle(
        "Compare with a baseline version",
        key="use_baseline",
        help="An earlier version of the eval set; the Drift view compares the two.",
    )
    base_src = _pick_file("base", "Baseline file") if use_baseline else None

    if isinstance(given, str):
        st.error(given)
        return
    opts = given[0]
    if isinstance(policy, InputError):
        _show_problems(policy, "The policy")
        return
    if src is None:
        st.info("Choose a label file in the sidebar (a path, or upload one).")
        return
    if isinstance(src, InputError):
        _show_problems(src, "The label file")
        return
    opts_key = dash.options_key(opts)
    with st.spinner(f"Reading and validating {src.name} ..."):
        ing, err = load_table(src.sha256, opts_key, src.path)
    if err is not None or ing is None:
        err = err or _missing(src.path, "unreadable", "check the file")
        # the cache is keyed on content: name the file as the user chose it
        _show_problems(InputError(src.name, err.problems, err.row_label), "The label file")
        return
    home = default_home()
    with st.spinner(
        f"Auditing {ing.accounting.rows_used:,} labels (cached after the first run) ..."
    ):
        try:
            gate = _gate(ing, src, opts_key, policy, home)
        except InputError as err:  # the PPI strata name a column that is no slice
            _show_problems(InputError(src.name, err.problems, err.row_label), "The label file")
            return

    baseline: tuple[Source, Ingested] | InputError | None = None
    if isinstance(base_src, InputError):
        baseline = base_src
    elif base_src is not None:
        with st.spinner(f"Reading the baseline {base_src.name} ..."):
            old, berr = load_table(base_src.sha256, opts_key, base_src.path)
        if berr is not None:
            baseline = InputError(base_src.name, berr.problems, berr.row_label)
        else:
            baseline = (base_src, old)  # type: ignore[assignment]

    st.title(f"{view}: {src.name}")
    st.caption(
        f"sha256 {src.sha256[:12]} · {ing.accounting.rows_used:,} labels · policy "
        f"`{Path(policy.path).name if policy.path else 'built-in'}` · evalaudit {gate.result.evalaudit_version}"
    )
    ctx = Ctx(src, ing, opts_key, policy, gate, home, baseline)
    {
        "Overview": view_overview,
        "Labelers": view_labelers,
        "Slices": view_slices,
        "Judges": view_judges,
        "Drift": view_drift,
        "Impact": view_impact,
        "Items": view_items,
        "Review": view_review,
    }[str(view)](ctx)


main()
