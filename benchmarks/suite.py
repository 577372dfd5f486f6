"""The cross-method benchmark suite: which solver to use, and what coarse personalization is worth.

Suites (names in :data:`SUITES`):

``synthetic``
    Synthetic promotions (``co.datasets.make_promotions``): profit is estimated on a
    training half, every method learns its policy there for k = 1..8, and the policy is
    valued on the held-out half's **true** profit curves. Recovery = true profit of the
    policy / true profit of full (oracle) personalization.
``hillstrom``
    The MineThatData e-mail experiment: the same protocol, valued on held-out customers with
    step 3's estimators (``co.evaluation.policy_value``, self-normalized IPW, with its
    standard error).
``pmed``
    OR-Library pmed1-10 (p-median, optimum known): cost, excess over the optimum, proven gap.
``scaling``
    Time and peak memory against the number of individuals n (10^3 ... 10^6) and of
    treatments m, each cell in a fresh process with a time limit.
``smoke``
    A small version of all of the above that runs in about a minute.

Methods: the solvers ``ot``, ``ot-lloyd`` (the paper's plain Lloyd: ``ot`` with
``polish=False, restarts=1``), ``mip``, ``local-search``; the baselines ``grid-search``,
``kmeans-features``, ``kmeans-preferences``; and two peers outside coarseopt, EconML's
``DRPolicyTree`` with at most k leaves (``econml-policy-tree``) and a hand-written Pyomo
model of the classic formulation (``pyomo-classic``). Only an optional peer that is not
installed (EconML) is recorded as skipped, with the reason; a crash (a method, the data or the
estimation) is an error: a method's is recorded in its row, anything else ends the run.

Output (in the results directory): ``results.jsonl`` (one JSON object a line: first the run's
versions and machine facts, then one line per (suite, instance, method, k)), ``report.md``
(markdown tables) and ``plots/*.png``. ``python -m benchmarks --suite all --out DIR --docs
docs/benchmarks.md`` also rewrites the benchmark page of the documentation.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

import coarseopt as co
from coarseopt.exceptions import CoarseoptError
from coarseopt.progress import progress_bar

from . import _measure, _metrics, _peers

__all__ = ["SUITES", "METHODS", "Method", "run", "config_for"]

#: Suite names and what each measures.
_THREADS: int | None = 1  # thread-pool limit of the current run, handed to the scaling cells

SUITES = {
    "smoke": "a small version of every suite, about a minute",
    "synthetic": "synthetic promotions: recovery of true profit on held-out customers vs k",
    "hillstrom": "MineThatData e-mail experiment: held-out policy value (step 3 estimators) vs k",
    "pmed": "OR-Library pmed1-10: excess over the known optimum, time",
    "scaling": "time and peak memory vs n (10^3..10^6) and vs m",
    "all": "synthetic, hillstrom, pmed and scaling",
}


# ---------------------------------------------------------------------- methods
@dataclass(frozen=True)
class Method:
    """A method of the comparison: a registered solver with options, or a peer."""

    name: str
    solver: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    peer: str | None = None
    kind: str = "solver"
    about: str = ""


METHODS: dict[str, Method] = {
    m.name: m
    for m in [
        Method("ot", "ot", about="optimal-transport heuristic (the paper's method, default options)"),
        Method("ot-lloyd", "ot", {"polish": False, "restarts": 1, "bound": False},
               about="the paper's plain Lloyd: ot with polish=False, restarts=1 (and no bound)"),
        Method("mip", "mip", about="exact MIP (Pyomo + HiGHS), time-limited"),
        Method("local-search", "local-search", about="greedy + swap local search"),
        Method("grid-search", "grid-search", kind="baseline", about="best subset of the experiment's arms"),
        Method("kmeans-features", "kmeans-features", kind="baseline",
               about="k-means on features, best treatment per segment"),
        Method("kmeans-preferences", "kmeans-preferences", kind="baseline",
               about="k-means on estimated profit curves, best treatment per segment"),
        Method("econml-policy-tree", peer="econml", kind="peer",
               about="EconML DRPolicyTree of depth floor(log2 k): at most k leaves, arms only"),
        Method("pyomo-classic", peer="pyomo", kind="peer",
               about="hand-written Pyomo model, classic formulation (n*m x-variables), HiGHS"),
    ]
}


def method_available(method: Method) -> str | None:
    """None when ``method`` can run here, else the reason it cannot.

    Only an optional peer (EconML, the ``bench`` extra) can be missing. Everything else is a
    required dependency or a built-in solver: if it cannot run, the installation is broken
    and this raises instead of recording a skip.
    """
    if method.peer == "econml":
        return None if _peers.econml_available() else "econml is not installed (pip install 'coarseopt[bench]')"
    if method.peer == "pyomo":
        from pyomo.contrib.appsi.solvers import Highs

        if not Highs().available():
            raise RuntimeError("HiGHS is not available to Pyomo: highspy is a required dependency; reinstall coarseopt.")
        return None
    cls = co.get_solver(method.solver)
    cls.check_options(dict(method.options))
    return None


# ---------------------------------------------------------------------- configuration
def config_for(suite: str, quick: bool = False) -> dict[str, Any]:
    """Sizes, k values and time limits of one suite (``quick``: a lighter version for tests)."""
    if suite == "synthetic":
        return dict(n=20_000, ks=list(range(1, 9)), time_limit=30.0, stability_ks=[5], resamples=5,
                    stability_time_limit=10.0, pyomo_ks=[5], pyomo_max_cells=250_000, econml=True,
                    econml_stability_max_fit=10.0)
    if suite == "hillstrom":
        return dict(sample=None, ks=[1, 2, 3], time_limit=30.0, stability_ks=[2], resamples=3,
                    stability_time_limit=10.0, pyomo_ks=[2], pyomo_max_cells=250_000, econml=True,
                    econml_stability_max_fit=10.0)
    if suite == "pmed":
        return dict(names=None, time_limit=20.0, pyomo_max_cells=250_000)
    if suite == "scaling":
        return dict(ns=[1_000, 10_000, 100_000, 1_000_000], m=20, k=5, ms=[10, 50, 200], m_n=5_000,
                    time_limit=30.0, pyomo_max_cells=200_000)
    if suite == "smoke":
        if quick:
            return dict(
                synthetic=dict(n=2_000, ks=[2, 4], time_limit=5.0, stability_ks=[2], resamples=2,
                               stability_time_limit=2.0, pyomo_ks=[2], pyomo_max_cells=20_000, econml=False,
                               estimation=dict(cv=2, base_estimator="linear")),
                pmed=dict(names=["pmed1"], time_limit=10.0, pyomo_max_cells=0),
                scaling=dict(ns=[1_000], m=10, k=3, ms=[], m_n=1_000, time_limit=5.0, pyomo_max_cells=0,
                             isolate=False),
            )
        return dict(
            synthetic=dict(n=3_000, ks=[2, 5], time_limit=5.0, stability_ks=[5], resamples=2,
                           stability_time_limit=3.0, pyomo_ks=[2], pyomo_max_cells=40_000, econml=True,
                           econml_stability_max_fit=0.0, estimation=dict(cv=3)),
            hillstrom=dict(sample=6_000, ks=[2], time_limit=5.0, stability_ks=[], resamples=0,
                           stability_time_limit=3.0, pyomo_ks=[], pyomo_max_cells=0, econml=False,
                           estimation=dict(cv=3)),
            pmed=dict(names=["pmed1", "pmed2"], time_limit=10.0, pyomo_max_cells=10_000),
            scaling=dict(ns=[1_000, 10_000], m=20, k=5, ms=[50], m_n=2_000, time_limit=5.0,
                         pyomo_max_cells=0, isolate=False),
        )
    raise ValueError(f"Unknown suite {suite!r}; choose from {list(SUITES)}.")


# ---------------------------------------------------------------------- recording
class Recorder:
    """Appends one JSON object per line to ``results.jsonl`` (flushed at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("a", encoding="utf-8")
        self.start = time.perf_counter()

    def write(self, record: Mapping[str, Any]) -> None:
        record = {**record, "at": round(time.perf_counter() - self.start, 1)}
        self.fh.write(json.dumps(_jsonable(record), allow_nan=True) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _skip(rec: Recorder, suite: str, method: str, reason: str, **extra: Any) -> None:
    rec.write({"kind": "skip", "suite": suite, "method": method, "reason": reason, **extra})


# ---------------------------------------------------------------------- held-out suites
def _policy_on_test(method: Method, result: Any, data: Any) -> np.ndarray:
    """The column each held-out customer gets under ``method``'s learned policy."""
    from coarseopt_solvers.baselines import predict_segments

    if method.solver == "kmeans-features":
        return predict_segments(result, data.features_test)
    if method.solver == "kmeans-preferences":
        return predict_segments(result, data.profit_test)
    offered = np.asarray(result.offered, dtype=np.intp)
    return offered[data.profit_test[:, offered].argmax(axis=1)]


def _value_test(data: Any, columns: np.ndarray) -> dict[str, Any]:
    """Value of a held-out assignment: true (synthetic) or estimated by step 3 (Hillstrom)."""
    out: dict[str, Any] = {}
    n = columns.size
    if data.truth_test is not None:
        true = data.truth_test
        value = float(true[np.arange(n), columns].sum())
        oracle = float(true.max(axis=1).sum())
        offered = np.unique(columns)
        best_in_offered = float(true[:, offered].max(axis=1).sum())
        out.update(true_profit_per_customer=value / n, true_recovery=value / oracle if oracle else None,
                   true_recovery_offered=best_in_offered / oracle if oracle else None)
    else:
        labels = np.asarray(data.est.profit.columns, dtype=object)[columns]
        received = np.asarray(data.test.arms, dtype=object)[data.test.arm_index]
        pv = co.evaluation.policy_value(_realized_test(data), received, labels, method="snipw")
        out.update(test_value=pv.estimate, test_value_se=pv.se)
    return out


def _realized_test(data: Any) -> np.ndarray:
    from ._data import HILLSTROM_ECONOMICS, _realized_profit

    return _realized_profit(data.test, co.Economics(**HILLSTROM_ECONOMICS))


def _segment_facts(data: Any, assignment: np.ndarray) -> dict[str, Any]:
    facts = _metrics.segment_sizes(assignment)
    facts["fidelity"] = _metrics.fidelity(data.features_train, assignment)
    return facts


def _resampled_problem(problem: co.CoarseProblem, rows: np.ndarray) -> co.CoarseProblem:
    return co.CoarseProblem(
        np.asarray(problem.profit)[rows], problem.k, treatments=problem.treatments,
        features=None if problem.features is None else np.asarray(problem.features)[rows],
        arms=None if problem.arms is None else list(problem.arms),
    )


def _held_out_suite(suite: str, data: Any, cfg: Mapping[str, Any], methods: list[Method], rec: Recorder,
                    seed: int, bar: Any) -> None:
    est_profit = data.est.profit.to_numpy()
    full_est = float(est_profit.max(axis=1).sum())
    levels = data.est.treatments
    base = dict(kind="result", suite=suite, instance=data.name, n=int(est_profit.shape[0]),
                n_test=int(data.profit_test.shape[0]), m=int(data.m), estimate_seconds=round(data.estimate_seconds, 2))
    # Reference: full personalization on estimated profit, valued the same way (k = m).
    full_cols = data.profit_test.argmax(axis=1)
    rec.write({**base, "method": "full-personalization", "k": data.m, "status": "reference",
               "recovery": 1.0, **_value_test(data, full_cols)})
    for k in cfg["ks"]:
        problem = data.est.to_problem(k)
        for method in methods:
            bar.set_postfix_str(f"{suite} k={k} {method.name}")
            record = {**base, "method": method.name, "method_kind": method.kind, "k": k}
            try:
                if method.peer == "econml":
                    if not cfg.get("econml", True):
                        continue
                    record.update(_run_policy_tree(data, problem, k, seed, cfg, est_profit, full_est))
                elif method.peer == "pyomo":
                    if k not in cfg["pyomo_ks"] or problem.n * problem.m > cfg["pyomo_max_cells"]:
                        continue
                    record.update(_run_pyomo_held_out(data, problem, cfg, full_est))
                else:
                    record.update(_run_solver_held_out(method, data, problem, cfg, seed, levels,
                                                       stability=k in cfg["stability_ks"]))
            except Exception as exc:  # a failing method must not stop the run
                record.update(status="error", error=f"{type(exc).__name__}: {exc}",
                              traceback=traceback.format_exc(limit=3))
            rec.write(record)
            bar.update(1)


def _run_solver_held_out(method: Method, data: Any, problem: co.CoarseProblem, cfg: Mapping[str, Any],
                         seed: int, levels: Any, stability: bool) -> dict[str, Any]:
    result, seconds, peak = _measure.measure(
        lambda: co.solve(problem, method.solver, time_limit=cfg["time_limit"], seed=seed, **method.options))
    out = _result_facts(result, seconds, peak)
    if not result.has_solution:
        return out
    out.update(_segment_facts(data, result.assignment))
    out.update(_value_test(data, _policy_on_test(method, result, data)))
    if stability and cfg["resamples"] > 0:
        def offered_on(rows: np.ndarray) -> np.ndarray:
            r = co.solve(_resampled_problem(problem, rows), method.solver,
                         time_limit=cfg["stability_time_limit"], seed=seed, **method.options)
            return r.offered
        out["stability"] = _metrics.stability(offered_on, problem.n, result.offered, levels=levels,
                                              resamples=cfg["resamples"], seed=seed)
    return out


def _result_facts(result: Any, seconds: float, peak: float) -> dict[str, Any]:
    labels = [_label(x) for x in result.offered_labels]
    return dict(status=result.status, termination=result.termination, objective=result.objective,
                bound=result.bound, gap=result.gap, recovery=result.recovery, time=round(seconds, 4),
                solver_time=round(result.wall_time, 4), peak_mb=peak, offered=labels,
                message=result.message[:300])


def _label(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return round(float(x), 6)
    if isinstance(x, (int, np.integer)):
        return int(x)
    return str(x)


def _run_policy_tree(data: Any, problem: co.CoarseProblem, k: int, seed: int, cfg: Mapping[str, Any],
                     est_profit: np.ndarray, full_est: float) -> dict[str, Any]:
    arm_cols = np.asarray(data.est.arm_columns, dtype=np.intp)

    def fit(rows: np.ndarray | None = None) -> Any:
        x, y, t = data.features_train, data.profit_train_realized, data.train.arm_index
        if rows is not None:
            x, y, t = x[rows], y[rows], t[rows]
        return _peers.PolicyTreePeer(k, seed=seed).fit(y, t, x)

    # Trees of equal depth are the same policy (k = 4..7 all give depth 2): fit once per depth.
    depth = _peers.depth_for(k)
    cache = data.__dict__.setdefault("_policy_trees", {})
    if depth in cache:
        peer, seconds, peak = cache[depth]
    else:
        peer, seconds, peak = _measure.measure(fit)
        cache[depth] = (peer, seconds, peak)
    train_cols = arm_cols[peer.predict(data.features_train)]
    objective = float(est_profit[np.arange(train_cols.size), train_cols].sum())
    offered = np.unique(train_cols)
    out = dict(status="feasible", objective=objective, bound=None, gap=None, recovery=objective / full_est,
               time=round(seconds, 4), peak_mb=peak, depth=peer.depth, fit_shared_with_depth=depth,
               offered=[_label(data.est.profit.columns[j]) for j in offered])
    out.update(_segment_facts(data, train_cols))
    out.update(_value_test(data, arm_cols[peer.predict(data.features_test)]))
    if k in cfg["stability_ks"] and cfg["resamples"] > 0 and seconds > cfg.get("econml_stability_max_fit", 20.0):
        out["stability_note"] = f"not measured: one fit takes {seconds:.0f} s"
    elif k in cfg["stability_ks"] and cfg["resamples"] > 0:
        def offered_on(rows: np.ndarray) -> np.ndarray:
            return np.unique(arm_cols[fit(rows).predict(data.features_train)])
        out["stability"] = _metrics.stability(offered_on, data.features_train.shape[0], offered,
                                              levels=data.est.treatments, resamples=cfg["resamples"], seed=seed)
    return out


def _run_pyomo_held_out(data: Any, problem: co.CoarseProblem, cfg: Mapping[str, Any], full_est: float) -> dict[str, Any]:
    res, seconds, peak = _measure.measure(
        lambda: _peers.pyomo_classic(problem.profit, problem.k, time_limit=cfg["time_limit"]))
    out = _pyomo_facts(res, seconds, peak, full_est)
    if res.offered.size:
        out["offered"] = [_label(data.est.profit.columns[j]) for j in res.offered]
        out.update(_segment_facts(data, res.assignment))
        cols = res.offered[data.profit_test[:, res.offered].argmax(axis=1)]
        out.update(_value_test(data, cols))
    return out


def _pyomo_facts(res: Any, seconds: float, peak: float, full: float) -> dict[str, Any]:
    gap = None
    if res.bound is not None and np.isfinite(res.objective):
        gap = max(0.0, (res.bound - res.objective) / max(1.0, abs(res.bound)))
    return dict(status=res.status, termination=res.termination, objective=res.objective, bound=res.bound,
                gap=gap, recovery=res.objective / full if full else None, time=round(seconds, 4),
                build_time=round(res.build_time, 4), peak_mb=peak, variables=res.extras.get("variables"))


# ---------------------------------------------------------------------- pmed
def _pmed_suite(tag: str, cfg: Mapping[str, Any], methods: list[Method], rec: Recorder, seed: int, bar: Any) -> None:
    from .instances import orlib

    for name, problem, optimum in orlib(cfg["names"]):
        base = dict(kind="result", suite=tag, instance=name, n=problem.n, m=problem.m, k=problem.k,
                    optimum=optimum)
        for method in methods:
            bar.set_postfix_str(f"pmed {name} {method.name}")
            record = {**base, "method": method.name, "method_kind": method.kind}
            try:
                if method.peer == "pyomo":
                    if problem.n * problem.m > cfg["pyomo_max_cells"]:
                        continue
                    res, seconds, peak = _measure.measure(
                        lambda: _peers.pyomo_classic(problem.profit, problem.k, time_limit=cfg["time_limit"]))
                    record.update(_pyomo_facts(res, seconds, peak, problem.full_profit()))
                elif method.peer is not None or method.solver in ("grid-search", "kmeans-features"):
                    continue  # no arms, no features, no experiment: recorded once as a skip
                else:
                    result, seconds, peak = _measure.measure(
                        lambda: co.solve(problem, method.solver, time_limit=cfg["time_limit"], seed=seed,
                                         **method.options))
                    record.update(_result_facts(result, seconds, peak))
                cost = -record["objective"] if record.get("objective") is not None else None
                record["cost"] = cost
                record["excess"] = None if cost is None or not np.isfinite(cost) else (cost - optimum) / optimum
                if record.get("bound") is not None:
                    record["cost_lower_bound"] = -record["bound"]
            except Exception as exc:
                record.update(status="error", error=f"{type(exc).__name__}: {exc}")
            rec.write(record)
            bar.update(1)


# ---------------------------------------------------------------------- scaling
def _scaling_suite(tag: str, cfg: Mapping[str, Any], methods: list[Method], rec: Recorder, seed: int, bar: Any) -> None:
    cells = [("n", n, cfg["m"]) for n in cfg["ns"]] + [("m", cfg["m_n"], m) for m in cfg["ms"]]
    for axis, n, m in cells:
        for method in methods:
            if method.peer == "econml":
                continue
            if method.peer == "pyomo" and n * m > cfg["pyomo_max_cells"]:
                continue
            bar.set_postfix_str(f"scaling n={n} m={m} {method.name}")
            record = dict(kind="result", suite=tag, axis=axis, instance=f"curves n={n} m={m}", n=n, m=m,
                          k=cfg["k"], method=method.name, method_kind=method.kind)
            if cfg.get("isolate", True):
                record.update(_run_cell_in_process(method, n, m, cfg["k"], seed, cfg["time_limit"]))
            else:
                try:
                    record.update(scaling_cell(method.name, n, m, cfg["k"], seed, cfg["time_limit"]))
                except Exception as exc:
                    record.update(status="error", error=f"{type(exc).__name__}: {exc}")
            rec.write(record)
            bar.update(1)


# Imports the benchmark package under the name this process uses (installed, or the checkout's
# folder loaded under that name, as the command line does) and runs one cell.
_BOOT = """
import importlib, importlib.util, sys
folder, package, spec = sys.argv[1:4]
try:
    importlib.import_module(package)
except ImportError:
    found = importlib.util.spec_from_file_location(package, folder + "/__init__.py",
                                                   submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(found)
    sys.modules[package] = module
    found.loader.exec_module(module)
sys.exit(importlib.import_module(package + "._cell").main([spec]))
"""


def _run_cell_in_process(method: Method, n: int, m: int, k: int, seed: int, time_limit: float) -> dict[str, Any]:
    """One scaling cell in a fresh Python process (a hard timeout protects the run)."""
    package = __name__.rsplit(".", 1)[0]
    folder = str(Path(__file__).resolve().parent)
    spec = json.dumps(dict(method=method.name, n=n, m=m, k=k, seed=seed, time_limit=time_limit))
    hard = 3 * time_limit + 120
    try:
        env = dict(os.environ)
        if _THREADS is not None:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[var] = str(_THREADS)
        out = subprocess.run([sys.executable, "-c", _BOOT, folder, package, spec], capture_output=True, text=True,
                             timeout=hard, cwd=str(Path(folder).parent), env=env)
    except subprocess.TimeoutExpired:
        return dict(status="killed", error=f"no answer within {hard:.0f} s (time limit {time_limit} s)")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return dict(status="error", error=" | ".join(tail)[:500])
    return json.loads(lines[-1])


def _warm_up(method: Method, m: int, k: int, seed: int) -> None:
    """Solve a tiny instance first, so that imports and first-call costs are not timed."""
    from ._data import scaling_instance

    tiny = scaling_instance(200, m, seed=seed + 1).with_k(k)
    if method.peer == "pyomo":
        _peers.pyomo_classic(tiny.profit[:50], k, time_limit=10)
    else:
        co.solve(tiny, method.solver, time_limit=10, seed=seed, **method.options)


def scaling_cell(method_name: str, n: int, m: int, k: int, seed: int, time_limit: float) -> dict[str, Any]:
    """Generate the scaling instance and solve it once; what ``_cell`` prints as JSON."""
    from ._data import scaling_instance

    method = METHODS[method_name]
    _warm_up(method, m, k, seed)
    t0 = time.perf_counter()
    problem = scaling_instance(n, m, seed=seed).with_k(k)
    generate = time.perf_counter() - t0
    if method.peer == "pyomo":
        res, seconds, peak = _measure.measure(lambda: _peers.pyomo_classic(problem.profit, k, time_limit=time_limit))
        out = _pyomo_facts(res, seconds, peak, problem.full_profit())
    else:
        result, seconds, peak = _measure.measure(
            lambda: co.solve(problem, method.solver, time_limit=time_limit, seed=seed, **method.options))
        out = _result_facts(result, seconds, peak)
    out["generate_time"] = round(generate, 3)
    out["input_mb"] = round(problem.profit.nbytes / 2**20, 1)
    return out


# ---------------------------------------------------------------------- the entry point
def _methods(names: Iterable[str] | None) -> list[Method]:
    if names is None:
        return list(METHODS.values())
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {list(METHODS)}.")
    return [METHODS[n] for n in names]


def _expand(suites: Iterable[str]) -> list[str]:
    suites = list(suites)
    if isinstance(suites, str) or not suites:
        raise ValueError(f"'suites' must be a non-empty list of names from {list(SUITES)}; got {suites!r}.")
    bad = [s for s in suites if s not in SUITES]
    if bad:
        raise ValueError(f"Unknown suite(s) {bad}; choose from {list(SUITES)}.")
    out: list[str] = []
    for s in suites:
        for t in (["synthetic", "hillstrom", "pmed", "scaling"] if s == "all" else [s]):
            if t not in out:
                out.append(t)
    return out


def run(suites: list[str], out_dir: str | Path, *, quick: bool = False, progress: bool | None = None,
        methods: list[str] | None = None, seed: int = 0, threads: int | None = 1) -> Path:
    """Run benchmark suites and write results, tables and plots to ``out_dir``.

    Parameters
    ----------
    suites : list of str
        Names from :data:`SUITES` (``"all"`` = synthetic, hillstrom, pmed, scaling).
    out_dir : str or Path
        Results directory (created; an existing ``results.jsonl`` there is replaced).
    quick : bool, default False
        Lighter configurations (used by the test suite).
    progress : bool, optional
        Show a progress bar (default: when standard error is a terminal).
    methods : list of str, optional
        Restrict to these methods (names of :data:`METHODS`).
    seed : int, default 0
        Seeds data, splits and every solver.
    threads : int or None, default 1
        Limit of the BLAS / OpenMP thread pools (scikit-learn, numpy) during the run, also
        passed to the scaling cells' processes; None leaves them as they are. One thread
        gives timings that are comparable on a busy or small machine (HiGHS manages its own
        threads).

    Returns
    -------
    Path
        The results directory, holding ``results.jsonl``, ``report.md`` and ``plots/``.

    Examples
    --------
    >>> from benchmarks.suite import run                      # doctest: +SKIP
    >>> run(["smoke"], "benchmarks/results/suite-smoke")      # doctest: +SKIP
    """
    from . import _report

    names = _expand(suites)
    chosen = _methods(methods)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.jsonl"
    if path.exists():
        path.unlink()
    rec = Recorder(path)
    t_start = time.perf_counter()
    available, unavailable = [], {}
    for m in chosen:
        reason = method_available(m)
        if reason is None:
            available.append(m)
        else:
            unavailable[m.name] = reason
    rec.write({"kind": "meta", "suites": names, "quick": quick, "seed": seed, "threads": threads,
               "versions": _measure.versions(),
               "machine": _measure.machine_facts(), "commit": _measure.git_commit(),
               "methods": {m.name: {"about": m.about, "kind": m.kind, "solver": m.solver,
                                    "options": dict(m.options)} for m in chosen},
               "unavailable": unavailable,
               "config": {s: config_for(s, quick) for s in (["smoke"] if "smoke" in names else names)}})
    for name, reason in unavailable.items():
        _skip(rec, "all", name, reason)
    global _THREADS
    _THREADS = threads
    from threadpoolctl import threadpool_limits

    limiter = threadpool_limits(limits=threads) if threads is not None else None
    try:
        for suite in names:
            t0 = time.perf_counter()
            if suite == "smoke":
                cfg = config_for("smoke", quick)
                for sub, sub_cfg in cfg.items():
                    _run_suite(sub, sub_cfg, available, rec, seed, progress, label="smoke/")
            else:
                _run_suite(suite, config_for(suite, quick), available, rec, seed, progress)
            rec.write({"kind": "timing", "suite": suite, "seconds": round(time.perf_counter() - t0, 1)})
        rec.write({"kind": "timing", "suite": "total", "seconds": round(time.perf_counter() - t_start, 1)})
    finally:
        rec.close()
        if limiter is not None:
            limiter.restore_original_limits()
    _report.write_report(out)
    return out


def _run_suite(suite: str, cfg: Mapping[str, Any], methods: list[Method], rec: Recorder, seed: int,
               progress: bool | None, label: str = "") -> None:
    tag = label + suite
    if suite in ("synthetic", "hillstrom"):
        # The data are bundled or generated: a failure here is a crash, and the run fails.
        if suite == "synthetic":
            from ._data import promotions_split

            data = promotions_split(cfg["n"], seed=seed, **cfg.get("estimation", {}))
        else:
            from ._data import hillstrom_split

            data = hillstrom_split(sample=cfg["sample"], seed=seed, **cfg.get("estimation", {}))
        total = len(cfg["ks"]) * len(methods)
        with progress_bar(total=total, desc=tag, unit="cell", enabled=progress) as bar:
            _held_out_suite(tag, data, cfg, methods, rec, seed, bar)
    elif suite == "pmed":
        for m in methods:
            if m.peer == "econml" or m.solver in ("grid-search", "kmeans-features"):
                _skip(rec, tag, m.name, "not applicable: a p-median instance has no experiment, arms or features")
        names = cfg["names"] or [f"pmed{i}" for i in range(1, 11)]
        with progress_bar(total=len(names) * len(methods), desc=tag, unit="cell", enabled=progress) as bar:
            _pmed_suite(tag, cfg, methods, rec, seed, bar)
    elif suite == "scaling":
        for m in methods:
            if m.peer == "econml":
                _skip(rec, tag, m.name, "not applicable: learns from experiment data, not from a profit matrix")
            if m.peer == "pyomo":
                _skip(rec, tag, m.name, f"run only up to n*m = {cfg['pyomo_max_cells']:,} cells "
                                        "(model building in Python grows with n*m and cannot be interrupted)")
        total = (len(cfg["ns"]) + len(cfg["ms"])) * len(methods)
        with progress_bar(total=total, desc=tag, unit="cell", enabled=progress) as bar:
            _scaling_suite(tag, cfg, methods, rec, seed, bar)
