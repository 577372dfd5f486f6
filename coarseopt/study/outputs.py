"""The study's outputs: ``summary.json``, ``evaluation.csv``, ``assignment.csv``, ``profit.parquet``,
the saved policy and the report, written atomically (:func:`write_outputs`)."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..config import StudyConfig, dump_toml, evaluation_covariates
from ..exceptions import CoarseoptError
from ..tabular import jsonable
from .run import Study

log = logging.getLogger("coarseopt")


class OutputError(CoarseoptError, ValueError):
    """An output directory that cannot be written (exists and is not empty, not a directory)."""


def check_output_dir(out_dir: str | Path, force: bool = False) -> Path:
    """Refuse an output path that is a file, or a non-empty directory without ``force``.

    Raises
    ------
    OutputError
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory; choose another path.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputError(
            f"--out {out}: the directory exists and is not empty; pass --force to replace it, "
            "or choose another --out."
        )
    return out


def offered_with_customers(res: Any) -> list[tuple[Any, float]]:
    """``(label, share)`` of the offered treatments that some customer gets (a solver may
    return an offered treatment that no customer is assigned to: it is not offered)."""
    return [(lab, float(sh)) for lab, sh in zip(res.offered_labels, res.shares) if sh > 0]


def profit_unit(cfg: StudyConfig) -> str:
    """What one unit of the study's profit is, in words."""
    return f"profit per customer, in the units of \"{cfg.columns['outcome']}\" (margin x outcome - cost)"


def _summary_dict(study: Study) -> dict:
    results = {}
    for k, res in study.results.items():
        offered = offered_with_customers(res)
        n = int(np.asarray(res.assignment).size)
        results[str(k)] = {
            "k": k,
            "solver": res.solver,
            "status": res.status,
            "objective": res.objective,
            "objective_per_customer": res.objective / n if n else None,
            "bound": res.bound,
            "gap": res.gap,
            "recovery": res.recovery,
            "full_profit": res.full_profit,
            "spend": res.extras.get("spend"),
            "offered": [jsonable(lab) for lab, _ in offered],
            "shares": [sh for _, sh in offered],
            "wall_time": res.wall_time,
            "message": res.message,
            "rules": study.rules.get(k),
        }
    return {
        "source": study.config.source,
        "data": study.data_info,
        "learner": study.learner,
        "units": {
            "value": profit_unit(study.config),
            "lift": "difference in " + profit_unit(study.config) + " to the baseline policy",
            "objective": "total estimated incremental profit over the training customers (sum, not per customer)",
        },
        "id_column": study.config.columns["id"] or None,
        "evaluation_covariates": [str(c) for c in evaluation_covariates(study.config, study.features)],
        "treatments": [jsonable(t) for t in study.treatments],
        "control": jsonable(study.control),
        "split": study.split_method,
        "folds": int(study.config.split["folds"]) if study.split_method == "crossfit" else None,
        "n_train": int(len(study.train_index)),
        "n_test": int(len(study.test_index)),
        "recommended_k": study.recommended_k,
        "results": results,
        "evaluation": _records(study.evaluation),
        "budget": None if study.budget is None or not study.budget.active else {
            "budgets": study.budget.budgets,
            "policies_keep": study.budget.per_customer is not None,
            "cost": study.config.solve["budget_cost"],
            "per_customer": {str(b): b / max(1, len(study.assignment)) for b in study.budget.budgets},
            "table": _records(study.budget_table),
        },
        "comparisons": _records(study.comparisons),
        "arm_effects": _records(study.arm_effects),
        "heterogeneity": study.heterogeneity,
        "interpolation_check": _records(study.interpolation),
        "timings": study.timings,
        "versions": study.versions,
    }


def _finite_json(obj: Any) -> Any:
    """``obj`` with NaN / infinite floats as None (JSON has no NaN) and numpy scalars as Python."""
    if isinstance(obj, dict):
        return {str(k): _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_json(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _records(df) -> list:
    if df is None or not len(df):
        return []
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({k: jsonable(v) for k, v in rec.items()})  # NaN -> null in _finite_json
    return out


def _write_files(study: Study, tmp: Path) -> list[str]:
    cfg = study.config
    files = []
    from ..policy import save_policy
    files += save_policy(study, study.deployed, tmp)

    def dump(name: str, obj: Any) -> None:
        text = json.dumps(_finite_json(obj), indent=2, allow_nan=False)
        (tmp / name).write_text(text + "\n", encoding="utf-8")
        files.append(name)

    dump("summary.json", _summary_dict(study))
    segs = {
        str(k): {
            "k": k,
            "offered": [jsonable(lab) for lab, _ in offered_with_customers(study.results[k])],
            "segments": [seg for seg in study.segments[k] if seg.get("count", 1) > 0],
        }
        for k in study.results
    }
    dump("segments.json", segs)
    assignment = _with_ids(study, study.assignment)
    if cfg.output["assignment_format"] == "csv":
        assignment.to_csv(tmp / "assignment.csv", index=False)
        files.append("assignment.csv")
    else:
        assignment.to_parquet(tmp / "assignment.parquet", index=False)
        files.append("assignment.parquet")
    evaluation_table(study).to_csv(tmp / "evaluation.csv", index=False)
    files.append("evaluation.csv")
    if study.budget_table is not None:
        study.budget_table.to_csv(tmp / "budget.csv", index=False)
        files.append("budget.csv")
    profit = study.profit.copy()
    profit.columns = [str(c) for c in profit.columns]
    profit.index = _row_labels(study, profit.index)
    profit.to_parquet(tmp / "profit.parquet", index=True)
    files.append("profit.parquet")
    (tmp / "config.toml").write_text(
        "# The configuration this study ran with (every key filled in).\n" + dump_toml(cfg.as_dict()),
        encoding="utf-8",
    )
    files.append("config.toml")
    if cfg.output["report"]:
        from ..report import write_report

        write_report(study, tmp / "report.html")
        files.append("report.html")
    return files


def _with_ids(study: Study, assignment):
    """The assignment with the customer ids as its first column (one row per customer)."""
    if study.ids is None or assignment is None:
        return assignment
    if len(assignment) != len(study.ids):
        raise RuntimeError(f"internal: {len(assignment)} assignment rows for {len(study.ids)} ids")
    name = study.config.columns["id"]
    return assignment.drop(columns=[name], errors="ignore").assign(**{name: study.ids})[
        [name] + [c for c in assignment.columns if c != name]]


def _row_labels(study: Study, index):
    """Labels of profit rows (positions in the study's data): the customer ids, else ``row``."""
    import pandas as pd

    rows = np.asarray(index, dtype=np.int64)
    if study.ids is None:
        return pd.Index(rows, name="row")
    return pd.Index(study.ids[rows], name=study.config.columns["id"])


def evaluation_table(study: Study):
    """``study.evaluation`` as written to ``evaluation.csv``: ``k`` an integer (empty for
    policies that are not a choice of k), ``lift_over`` naming the policy every lift is
    measured against, and ``unit`` saying what the values are."""
    import pandas as pd

    table = study.evaluation.copy()
    if "k" in table:
        table["k"] = pd.array([None if pd.isna(v) else int(v) for v in table["k"]], dtype="Int64")
    base = study.config.evaluation["baseline"]
    base_name = "control" if base == "control" else f"everyone: {base}"
    if "lift" in table:
        at = list(table.columns).index("lift")
        table.insert(at, "lift_over", [("" if p == base_name else base_name) for p in table["policy"]])
    table["unit"] = profit_unit(study.config)
    return table


def write_outputs(study: Study, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write every output of ``study`` into ``out_dir``, atomically.

    Everything is first written into a temporary directory beside ``out_dir`` and then
    renamed into place, so a failure leaves no half-written files. An existing non-empty
    ``out_dir`` is replaced only with ``force=True``.

    Files: ``summary.json`` (per-k results, the evaluation, timings, versions),
    ``segments.json`` (offered treatments and segment profiles), ``assignment.csv`` or
    ``.parquet`` (per customer), ``evaluation.csv``, ``profit.parquet`` (the estimated
    profit of the training customers, ready for ``coarseopt solve``), ``config.toml``
    (the resolved config) and ``report.html``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    out = check_output_dir(out_dir, force)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        _write_files(study, tmp)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.rmdir(old)
            os.rename(out, old)
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
