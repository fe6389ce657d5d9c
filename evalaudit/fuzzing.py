"""Malformed inputs for every format evalaudit reads, and how the CLI must answer them.

Used by ``tests/test_fuzz.py`` (hypothesis drives the choices) and
``benchmarks/fuzz.py`` (a seeded loop over many cases). A case is a file:
a label table (CSV, TSV, Parquet, JSON Lines), a policy (rules YAML) or a
review-decisions file, made by mutating a small valid input. Running it
through the CLI in-process must end in one of two ways:

- ``audited``: exit 0 or 1 (the gate's block), outputs written;
- ``input_error``: exit 2 with a message that names the file, and no output
  file (nor a temporary one) left behind.

Anything else is a failure: ``traceback`` (a Python traceback or the CLI's
"internal error" on stderr), ``partial_output`` (an output file after exit 2,
or a leftover temporary file), ``unnamed_error`` (exit 2 without the file's
name), ``bad_exit`` (any other exit code).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["EXPORT_KINDS", "FAILURES", "KINDS", "Case", "base_labels", "make_case", "run_case"]

FAILURES = ("traceback", "partial_output", "unnamed_error", "bad_exit")
#: Labeling-tool exports (:mod:`evalaudit.readers`), made from the base labels in each tool's
#: documented schema (:mod:`evalaudit.readers.examples`) and mutated structurally (keys
#: dropped, values of the wrong JSON type, lists emptied or repeated) and byte-wise. They run
#: through ``evalaudit validate`` (the reader and the contract; the statistics downstream
#: see the same validated table as from a CSV, which the other kinds fuzz through ``audit``),
#: and one case in ten through ``evalaudit audit``.
EXPORT_KINDS = (
    "label-studio",
    "label-studio-min",
    "label-studio-csv",
    "prodigy",
    "argilla",
    "inspect",
    "langsmith",
    "langfuse",
)
KINDS = ("csv", "tsv", "parquet", "jsonl", "rules", "reviews", *EXPORT_KINDS)


@dataclass(frozen=True)
class Case:
    kind: str  # one of KINDS
    mutation: str
    data: bytes
    #: the CLI command an export case runs (``validate`` or ``audit``)
    command: str = "audit"

    @property
    def suffix(self) -> str:
        return {
            "label-studio": ".json",
            "label-studio-min": ".json",
            "label-studio-csv": ".csv",
            "prodigy": ".jsonl",
            "argilla": ".jsonl",
            "inspect": ".json",
            "langsmith": ".jsonl",
            "langfuse": ".jsonl",
            "csv": ".csv",
            "tsv": ".tsv",
            "parquet": ".parquet",
            "jsonl": ".jsonl",
            "rules": ".yaml",
            "reviews": ".yaml",
        }[self.kind]


_BASE: pd.DataFrame | None = None


def base_labels() -> pd.DataFrame:
    """A small valid eval set (seeded): 240 items, 8 labelers, every column of the contract."""
    global _BASE
    if _BASE is None:
        from evalaudit.simulate import simulate

        _BASE = simulate(n_items=240, n_labelers=8, seed=5).labels.astype(str)
    return _BASE.copy()


# ---------------------------------------------------------------- label-table mutations
def _frame_mutations(rng: random.Random) -> dict[str, Callable[[pd.DataFrame], pd.DataFrame]]:
    def drop_required(df: pd.DataFrame) -> pd.DataFrame:
        return df.drop(columns=[rng.choice(["item_id", "labeler_id", "label"])])

    def extra_columns(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["notes"] = [rng.choice(["", "x", "=1+1", "a,b", '"q"']) for _ in range(len(df))]
        df["score_raw"] = [str(rng.random()) for _ in range(len(df))]
        return df

    def empty_ids(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        col = rng.choice(["item_id", "labeler_id", "label"])
        idx = rng.sample(range(len(df)), k=min(len(df), rng.randint(1, 5)))
        df.loc[df.index[idx], col] = rng.choice(["", "NaN", "nan", "None", " "])
        return df

    def huge_strings(df: pd.DataFrame) -> pd.DataFrame:
        if df.empty:
            return df
        df = df.copy()
        col = rng.choice(["item_id", "labeler_id", "label", "category"])
        df.loc[df.index[rng.randrange(len(df))], col] = "x" * rng.choice([10_000, 200_000])
        return df

    def mixed_label_kinds(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        n = rng.randint(1, max(1, len(df) // 2))
        idx = rng.sample(range(len(df)), k=min(n, len(df)))
        df.loc[df.index[idx], "label"] = [
            rng.choice(["1", "0", "3.5", "maybe", "PASS", "-2"]) for _ in idx
        ]
        return df

    def formula_values(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["labeler_id"] = df["labeler_id"].map(lambda s: rng.choice(["=", "+", "-", "@"]) + s)
        return df

    def bad_timestamps(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        idx = rng.sample(range(len(df)), k=min(len(df), rng.randint(1, 10)))
        df.loc[df.index[idx], "timestamp"] = [
            rng.choice(["yesterday", "2026-13-45", "1e400", "", "NaT", "12:00"]) for _ in idx
        ]
        return df

    def conflicting_duplicates(df: pd.DataFrame) -> pd.DataFrame:
        if df.empty:
            return df
        row = df.iloc[[rng.randrange(len(df))]].copy()
        row["label"] = row["label"].map({"pass": "fail", "fail": "pass"})
        return pd.concat([df, row], ignore_index=True)

    def slice_varies_within_item(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["category"] = [rng.choice(["a", "b", "c"]) for _ in range(len(df))]
        return df

    def one_row(df: pd.DataFrame) -> pd.DataFrame:
        return df.iloc[:1]

    def one_labeler(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["labeler_id"] = "solo"
        return df.drop_duplicates(["item_id", "labeler_id"])

    def unicode_ids(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df["labeler_id"] = df["labeler_id"] + rng.choice(
            ["\u00e9", "\u4e2d", "\U0001f600", "\u202e", "<script>", "\t"]
        )
        return df

    return {
        f.__name__: f
        for f in (
            drop_required,
            extra_columns,
            empty_ids,
            huge_strings,
            mixed_label_kinds,
            formula_values,
            bad_timestamps,
            conflicting_duplicates,
            slice_varies_within_item,
            one_row,
            one_labeler,
            unicode_ids,
        )
    }


def _byte_mutations(rng: random.Random) -> dict[str, Callable[[bytes], bytes]]:
    def bom(b: bytes) -> bytes:
        return b"\xef\xbb\xbf" + b

    def crlf(b: bytes) -> bytes:
        return b.replace(b"\n", b"\r\n")

    def stray_quote(b: bytes) -> bytes:
        i = rng.randrange(len(b) + 1)
        return b[:i] + b'"' + b[i:]

    def truncate(b: bytes) -> bytes:
        return b[: rng.randrange(len(b) + 1)]

    def random_bytes(b: bytes) -> bytes:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))

    def splice_garbage(b: bytes) -> bytes:
        i = rng.randrange(len(b) + 1)
        return b[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 50))) + b[i:]

    def null_bytes(b: bytes) -> bytes:
        i = rng.randrange(len(b) + 1)
        return b[:i] + b"\x00" * rng.randint(1, 10) + b[i:]

    def latin1(b: bytes) -> bytes:
        return b.replace(b"pass", "pässé".encode("latin-1"), 3)

    def empty(b: bytes) -> bytes:
        return b""

    return {
        f.__name__: f
        for f in (
            bom,
            crlf,
            stray_quote,
            truncate,
            random_bytes,
            splice_garbage,
            null_bytes,
            latin1,
            empty,
        )
    }


def _serialise(df: pd.DataFrame, kind: str, rng: random.Random) -> bytes:
    if kind == "csv":
        return df.to_csv(index=False).encode("utf-8")
    if kind == "tsv":
        return df.to_csv(index=False, sep="\t").encode("utf-8")
    if kind == "jsonl":
        lines = []
        for rec in df.to_dict(orient="records"):
            if rng.random() < 0.1:  # wrong JSON types for some values
                rec = {
                    k: rng.choice([v, 1, 2.5, True, None, [v], {"v": v}]) for k, v in rec.items()
                }
            lines.append(json.dumps(rec))
        if rng.random() < 0.1:
            lines.insert(
                rng.randrange(len(lines) + 1), rng.choice(["[1, 2]", '"str"', "42", "{bad json"])
            )
        return ("\n".join(lines) + "\n").encode("utf-8")
    # parquet: sometimes with typed (non-string) columns
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = df.copy()
    if rng.random() < 0.3 and len(out):
        out["item_id"] = range(len(out))
    if rng.random() < 0.2 and len(out):
        out["label"] = [rng.choice([0, 1, 2.5]) for _ in range(len(out))]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(out, preserve_index=False), buf)
    return buf.getvalue()


_RULES_SNIPPETS = (
    "fdr: 0.01\n",
    "fdr: 2\n",
    "fdr: .nan\n",
    "fdr: [1, 2]\n",
    "min_support: 1.5\n",
    "min_support: -3\n",
    "severity: block\n",
    "severity:\n  tilted_slice: loud\n",
    "severity:\n  nope: warn\n",
    "overrides: 5\n",
    "overrides:\n  - slice: x\n",
    "overrides:\n  - slice: category=safety\n    min_effect: abc\n",
    "unknown_key: 1\n",
    "- a\n- b\n",
    "fdr: 0.01\nfdr: 0.02\n",
    "{{{",
    "max_headline_shift: 1e999\n",
    "min_effect: true\n",
    "",
    "agreement_floor: null\n",
    "!!python/object:os.system 'x'\n",
)


def _rules_case(rng: random.Random) -> tuple[str, bytes]:
    k = rng.randint(1, 4)
    text = "".join(rng.choice(_RULES_SNIPPETS) for _ in range(k))
    data = text.encode("utf-8")
    if rng.random() < 0.2:
        name, f = rng.choice(list(_byte_mutations(rng).items()))
        return f"rules+{name}", f(data or b"fdr: 0.01\n")
    return "rules", data


def _reviews_case(rng: random.Random) -> tuple[str, bytes]:
    good = {
        "finding_id": "lenient_labeler:lab001",
        "action": "dismiss",
        "by": "Dana",
        "reason": "checked",
        "until": None,
        "recorded_at": "2026-01-01T00:00:00Z",
    }
    entries = []
    for _ in range(rng.randint(0, 4)):
        e = dict(good)
        what = rng.choice(["ok", "drop", "type", "value", "extra"])
        key = rng.choice(list(good))
        if what == "drop":
            e.pop(key)
        elif what == "type":
            e[key] = rng.choice([1, 2.5, True, [1], {"a": 1}])
        elif what == "value":
            e[key] = rng.choice(["", "nonsense", "2026-13-45", "dismiss", "x:y", "  "])
        elif what == "extra":
            e["colour"] = "red"
        entries.append(e)
    import yaml

    doc = rng.choice(
        [
            {"version": 1, "decisions": entries},
            {"version": 2, "decisions": entries},
            {"decisions": entries},
            entries,
            "text",
            None,
        ]
    )
    data = yaml.safe_dump(doc).encode("utf-8")
    if rng.random() < 0.2:
        name, f = rng.choice(list(_byte_mutations(rng).items()))
        return f"reviews+{name}", f(data)
    return "reviews", data


_EXPORTS: dict[str, bytes] = {}


def _export(kind: str) -> bytes:
    """The base labels (first 120 items) as a valid export of ``kind`` (made once)."""
    if kind not in _EXPORTS:
        from evalaudit.readers import examples as ex

        df = base_labels()
        df = df[df["item_id"].isin(df["item_id"].drop_duplicates().head(120))]
        if kind == "label-studio":
            text = ex.to_label_studio(df, cancelled=3)
        elif kind == "label-studio-min":
            text = json.dumps(ex.to_label_studio_min(df))
        elif kind == "label-studio-csv":
            text = pd.DataFrame(ex.to_label_studio_min(df)).to_csv(index=False)
        elif kind == "prodigy":
            text = ex.to_prodigy(df, ignored=3)
        elif kind == "argilla":
            text = ex.to_argilla(df, drafts=1)
        elif kind == "inspect":
            text = ex.to_inspect(df, errors=1)
        elif kind == "langsmith":
            text = ex.to_langsmith(df)
        else:
            text = ex.to_langfuse(df)
        _EXPORTS[kind] = text.encode("utf-8")
    return _EXPORTS[kind]


_ODD_VALUES: tuple[object, ...] = (
    None,
    1,
    2.5,
    True,
    "",
    "x",
    "PASS ",
    [],
    {},
    [1, 2],
    {"a": 1},
    -1e308,
)


def _poke(node: object, rng: random.Random, depth: int = 0) -> object:
    """Change one place of a parsed JSON value: drop a key, retype a value, empty or repeat a list."""
    if isinstance(node, dict) and node:
        key = rng.choice(list(node))
        what = rng.random()
        if what < 0.2:
            return {k: v for k, v in node.items() if k != key}
        if what < 0.45 or depth > 6:
            return {**node, key: rng.choice(_ODD_VALUES)}
        return {**node, key: _poke(node[key], rng, depth + 1)}
    if isinstance(node, list) and node:
        i = rng.randrange(len(node))
        what = rng.random()
        if what < 0.1:
            return []
        if what < 0.2:
            return [*node, node[i]]
        if what < 0.3:
            return [*node[:i], rng.choice(_ODD_VALUES), *node[i + 1 :]]
        return [*node[:i], _poke(node[i], rng, depth + 1), *node[i + 1 :]]
    return rng.choice(_ODD_VALUES)


def _export_case(rng: random.Random, kind: str) -> Case:
    data = _export(kind)
    names = []
    text = data.decode("utf-8")
    pokes = rng.choice([0, 1, 1, 2, 3, 8])
    if pokes and kind != "label-studio-csv":
        if text.lstrip().startswith("[") or kind == "inspect":
            value = json.loads(text)
            for _ in range(pokes):
                value = _poke(value, rng)
            data = json.dumps(value).encode("utf-8")
        else:
            lines = [json.loads(x) for x in text.splitlines() if x.strip()]
            for _ in range(pokes):
                i = rng.randrange(len(lines))
                lines[i] = _poke(lines[i], rng)
            data = ("\n".join(json.dumps(x) for x in lines) + "\n").encode("utf-8")
        names.append(f"poke{pokes}")
    elif pokes:  # the CSV export: blank or odd cells
        rows = text.splitlines()
        for _ in range(pokes):
            i = rng.randrange(1, len(rows))
            cells = rows[i].split(",")
            j = rng.randrange(len(cells))
            cells[j] = rng.choice(["", "x", '"', "PASS", "{", "1e999"])
            rows[i] = ",".join(cells)
        data = ("\n".join(rows) + "\n").encode("utf-8")
        names.append(f"cells{pokes}")
    if rng.random() < 0.3 and data:
        name, g = rng.choice(list(_byte_mutations(rng).items()))
        data = g(data)
        names.append(name)
    command = "audit" if rng.random() < 0.1 else "validate"
    return Case(kind, "+".join(names) or "valid", data, command)


def make_case(rng: random.Random, kind: str | None = None) -> Case:
    """One malformed (or sometimes valid) input of ``kind`` (random kind when None)."""
    kind = kind or rng.choice(KINDS)
    if kind in EXPORT_KINDS:
        return _export_case(rng, kind)
    if kind == "rules":
        m, data = _rules_case(rng)
        return Case(kind, m, data)
    if kind == "reviews":
        m, data = _reviews_case(rng)
        return Case(kind, m, data)
    df = base_labels()
    names = []
    frame_muts = _frame_mutations(rng)
    for _ in range(rng.randint(0, 2)):
        name, f = rng.choice(list(frame_muts.items()))
        try:
            df = f(df)
        except KeyError:  # an earlier mutation dropped the column this one edits
            continue
        names.append(name)
    data = _serialise(df, kind, rng)
    if rng.random() < 0.5 and data:
        name, g = rng.choice(list(_byte_mutations(rng).items()))
        data = g(data)
        names.append(name)
    return Case(kind, "+".join(names) or "valid", data)


def run_case(case: Case, workdir: Path, valid_labels: Path) -> str:
    """Run the CLI on ``case`` in-process; return its outcome (see the module docstring)."""
    from evalaudit.cli import main

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"input{case.suffix}"
    path.write_bytes(case.data)
    out = workdir / "out.json"
    out.unlink(missing_ok=True)
    if case.kind == "rules":
        args = ["audit", str(valid_labels), "--rules", str(path), "--json", str(out), "-q"]
    elif case.kind == "reviews":
        args = [
            "gate",
            str(valid_labels),
            "--reviews",
            str(path),
            "--json",
            str(out),
            "-q",
            "--home",
            str(workdir / "home"),
        ]
    elif case.kind in EXPORT_KINDS:
        args = [case.command, str(path), "--json", str(out)]
        args += ["-q"] if case.command == "audit" else []
        if case.kind in ("label-studio-min", "label-studio-csv") and case.mutation != "valid":
            args += ["--format", case.kind]  # a poked record may not look like one any more
    else:
        args = ["audit", str(path), "--json", str(out), "-q"]
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        try:
            code = main(args)
        except SystemExit as exc:  # never expected: main returns codes
            code = exc.code if isinstance(exc.code, int) else 99
    stderr = err.getvalue()
    leftovers = [p for p in workdir.iterdir() if p.name.startswith(".out.")]
    if "Traceback" in stderr or "internal error" in stderr:
        return "traceback"
    if leftovers:
        return "partial_output"
    if code in (0, 1):
        return "audited" if out.exists() else "partial_output"
    if code == 2:
        if out.exists() and args[0] != "validate":  # validate --json reports the problems
            return "partial_output"
        return "input_error" if str(path) in stderr else "unnamed_error"
    return "bad_exit"
