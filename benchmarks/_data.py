"""Data of the benchmark suites: held-out splits of experiments, and scaling instances.

A *held-out split* follows step 1 the way a user runs it: the experiment's customers are
split in two (stratified by arm); profit is estimated on the training half (cross-fitted);
every method learns its policy there; the policy is then applied to the held-out half, whose
estimated profit comes from the training half's models (``est.predict``), and valued there:
on the **true** profit curves for synthetic promotions, with step 3's estimators for
Hillstrom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import coarseopt as co

__all__ = ["HeldOut", "promotions_split", "hillstrom_split", "scaling_instance", "HILLSTROM_ECONOMICS"]

#: The economics of the bundled study configuration: 30% margin on spend, 0.10 per e-mail.
HILLSTROM_ECONOMICS = {"margin": 0.3, "cost": {"Mens E-Mail": 0.1, "Womens E-Mail": 0.1}}


@dataclass
class HeldOut:
    """An experiment split into a training half (policies are learned) and a test half."""

    name: str
    est: Any                      # ProfitEstimate of the training customers (out of fold)
    est_test: Any                 # the same models' predictions for the held-out customers
    train: Any                    # Experiment
    test: Any                     # Experiment
    profit_train_realized: np.ndarray  # realized profit of each training customer (EconML's outcome)
    truth_test: np.ndarray | None  # (n_test, m) true incremental profit, when known
    estimate_seconds: float

    @property
    def profit_test(self) -> np.ndarray:
        return self.est_test.profit.to_numpy()

    @property
    def features_train(self) -> np.ndarray:
        return self.est.features.to_numpy(dtype=np.float64)

    @property
    def features_test(self) -> np.ndarray:
        return self.est_test.features.to_numpy(dtype=np.float64)

    @property
    def m(self) -> int:
        return self.est.profit.shape[1]


def _realized_profit(exp: Any, economics: Any) -> np.ndarray:
    a, c = economics.unit_value(list(exp.arms), numeric=exp.is_numeric)
    return a[exp.arm_index] * exp.y - c[exp.arm_index]


def _base_estimator(name: str, seed: int) -> Any:
    """``"default"``: step 1's default model; ``"linear"``: ridge regression (fast, for smoke runs)."""
    if name == "default":
        return None
    if name == "linear":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=1.0)
    raise ValueError(f"'base_estimator' must be 'default' or 'linear'; got {name!r}.")


def promotions_split(n: int, *, seed: int = 0, test_size: float = 0.5, cv: int = 5,
                     base_estimator: str = "default") -> HeldOut:
    """Synthetic promotions with ``n`` customers (``co.datasets.make_promotions``).

    Profit is estimated on the generator's own treatment grid, so every estimated column
    has a true counterpart in ``truth.profit``.
    """
    import time

    from coarseopt.estimation import train_test_split_experiment

    df, truth = co.datasets.make_promotions(n, seed=seed)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    train, test = train_test_split_experiment(exp, test_size=test_size, random_state=seed)
    levels = np.asarray(truth.grid, dtype=np.float64) if hasattr(truth, "grid") else _truth_levels(truth)
    t0 = time.perf_counter()
    est = co.estimate_profit(train, truth.economics, grid=levels, random_state=seed, cv=cv,
                             base_estimator=_base_estimator(base_estimator, seed))
    est_test = est.predict(test)
    seconds = time.perf_counter() - t0
    true = _truth_matrix(truth, df, test, est)
    return HeldOut(f"promotions n={n}", est, est_test, train, test, _realized_profit(train, truth.economics),
                   true, seconds)


def _truth_levels(truth: Any) -> np.ndarray | None:
    profit = truth.profit
    if hasattr(profit, "columns"):
        try:
            return np.asarray(profit.columns, dtype=np.float64)
        except (TypeError, ValueError):
            return None
    levels = getattr(truth, "levels", None)
    return None if levels is None else np.asarray(levels, dtype=np.float64)


def _truth_matrix(truth: Any, df: Any, test: Any, est: Any) -> np.ndarray:
    """True incremental profit of the held-out customers, columns aligned with ``est``."""
    profit = truth.profit
    if hasattr(profit, "loc"):
        rows = profit.loc[test.data.index]
        cols = np.asarray(rows.columns, dtype=np.float64)
        want = np.asarray(est.profit.columns, dtype=np.float64)
        idx = [int(np.argmin(np.abs(cols - w))) for w in want]
        if not np.allclose(cols[idx], want):
            raise RuntimeError("The estimated treatment grid has levels the true curves lack.")
        return rows.to_numpy(dtype=np.float64)[:, idx]
    pos = df.index.get_indexer(test.data.index)
    return np.asarray(profit, dtype=np.float64)[pos]


def hillstrom_split(*, sample: int | None = None, seed: int = 0, test_size: float = 0.5, cv: int = 5,
                    base_estimator: str = "default") -> HeldOut:
    """The MineThatData e-mail experiment (three arms, control "No E-Mail")."""
    import time

    from coarseopt.estimation import train_test_split_experiment

    df = co.datasets.load_hillstrom()
    if sample is not None and sample < len(df):
        df = df.sample(sample, random_state=seed)
    exp = co.Experiment(df, outcome="spend", treatment="segment", control="No E-Mail",
                        features=["recency", "history", "mens", "womens", "newbie", "zip_code", "channel"])
    economics = co.Economics(**HILLSTROM_ECONOMICS)
    train, test = train_test_split_experiment(exp, test_size=test_size, random_state=seed)
    t0 = time.perf_counter()
    est = co.estimate_profit(train, economics, random_state=seed, cv=cv,
                             base_estimator=_base_estimator(base_estimator, seed))
    est_test = est.predict(test)
    seconds = time.perf_counter() - t0
    return HeldOut(f"hillstrom n={len(df)}", est, est_test, train, test, _realized_profit(train, economics),
                   None, seconds)


def scaling_instance(n: int, m: int, *, seed: int = 0, noise: float = 0.1) -> co.CoarseProblem:
    """Single-peaked profit curves driven by 4 features, for the scaling runs.

    Like :func:`benchmarks.instances.smooth_profit` (concave bumps over ``t = linspace(0,
    1, m)`` less a cost growing with the level, plus noise), but each customer's preferred
    level, scale and width depend on observed features ``x ~ N(0, I_4)``, so that
    ``kmeans-features`` has something to segment on. Arms: every 5th level, both ends
    included. Generated in blocks (``n = 10**6`` with ``m = 20`` takes about a second).
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, m)
    x = rng.standard_normal((n, 4))
    profit = np.empty((n, m))
    block = 200_000
    for s in range(0, n, block):
        xb = x[s : s + block]
        size = xb.shape[0]
        c = np.clip(0.45 + 0.2 * xb[:, 0] - 0.12 * xb[:, 1] + 0.08 * xb[:, 2] * xb[:, 3]
                    + 0.05 * rng.standard_normal(size), -0.1, 1.1)
        a = np.exp(0.3 * xb[:, 2] + 0.3 * rng.standard_normal(size))
        w = 0.55 + 0.15 * np.tanh(xb[:, 3])
        curves = a[:, None] * (1.0 - ((t[None, :] - c[:, None]) / w[:, None]) ** 2) - 0.2 * t[None, :]
        if noise:
            curves += noise * rng.standard_normal(curves.shape)
        profit[s : s + size] = curves
    arms = sorted(set(range(0, m, 5)) | {m - 1})
    return co.CoarseProblem(profit, k=1, treatments=t, features=x, arms=arms)
