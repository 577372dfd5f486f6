"""Heterogeneity diagnostics: BLP calibration, GATES, RATE (AUTOC, Qini) and TOC curves.

Hand-worked small cases, independent computations (the RATE definitions by brute force over
tie-breaking orders, the BLP regression through the hat matrix, the doubly robust mean
against step 3's ``policy_value``, the standard error against grf's half-sample bootstrap),
and simulations: size and coverage with no heterogeneity, power and coverage with it, under
equal and unequal arm shares (the simulated experiments are those of
``benchmarks/heterogeneity.py``, whose numbers docs/evaluation.md records).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

import coarseopt as co
from coarseopt.evaluation import EvaluationError
from coarseopt.evaluation.heterogeneity import (
    BEST,
    _autoc_weights,
    _qini_weights,
    _table,
    _toc_weights,
    rank_weighted,
)

from benchmarks.heterogeneity import (
    EQUAL,
    POWER_SIZES,
    UNEQUAL,
    coverage,
    draw,
    experiment,
    learn,
    one_study,
    simulate,
)


def binomial_band(p: float, reps: int) -> float:
    return 3 * math.sqrt(p * (1 - p) / reps)


# ----------------------------------------------------------------------------- hand-worked
def test_rank_weights_hand_worked():
    # n = 3, sorted scores (3, 0, 0): TOC(1/3) = 3 - 1 = 2, TOC(2/3) = 1.5 - 1 = 0.5, TOC(1) = 0.
    # AUTOC = (2 + 0.5 + 0) / 3 = 5/6; Qini = (1/3 * 2 + 2/3 * 0.5 + 0) / 3 = 1/3.
    np.testing.assert_allclose(_autoc_weights(3), [5 / 18, -1 / 18, -4 / 18])
    np.testing.assert_allclose(_qini_weights(3), [1 / 9, 0.0, -1 / 9])
    s, g = np.array([3.0, 2.0, 1.0]), np.array([3.0, 0.0, 0.0])
    assert rank_weighted(s, g, _autoc_weights(3))[0] == pytest.approx(5 / 6)
    assert rank_weighted(s, g, _qini_weights(3))[0] == pytest.approx(1 / 3)
    assert rank_weighted(s, g, _toc_weights(3, 1 / 3))[0] == pytest.approx(2.0)
    # q = 1/2 of 3 customers: the first and half of the second (grf's fractional rule):
    # (3 + 0.5 * 0) / 1.5 - 1 = 1.
    assert rank_weighted(s, g, _toc_weights(3, 0.5))[0] == pytest.approx(1.0)
    # Reversed priority: the best customer treated last.
    # sorted scores (0, 0, 3): TOC = (-1, -1, 0), AUTOC = -2/3.
    assert rank_weighted(-s, g, _autoc_weights(3))[0] == pytest.approx(-2 / 3)


def _brute_rate(priority, gamma):
    """AUTOC, Qini, TOC(i/n) straight from the definitions, averaged over every order of ties."""
    n = len(priority)
    blocks = [np.flatnonzero(priority == v) for v in sorted(set(priority), reverse=True)]
    autocs, qinis, tocs = [], [], []
    for perms in itertools.product(*[list(itertools.permutations(b)) for b in blocks]):
        order = [i for p in perms for i in p]
        gs = gamma[order]
        ate = gs.mean()
        toc = [gs[: i].mean() - ate for i in range(1, n + 1)]
        autocs.append(np.mean(toc))
        qinis.append(np.mean([(i / n) * toc[i - 1] for i in range(1, n + 1)]))
        tocs.append(toc)
    return np.mean(autocs), np.mean(qinis), np.mean(tocs, axis=0)


def test_rate_matches_definitions_with_ties():
    rng = np.random.default_rng(0)
    priority = np.array([5.0, 3.0, 3.0, 3.0, 1.0, 0.0, 0.0])
    gamma = rng.normal(size=7)
    autoc, qini, toc = _brute_rate(priority, gamma)
    n = len(priority)
    assert rank_weighted(priority, gamma, _autoc_weights(n))[0] == pytest.approx(autoc, abs=1e-12)
    assert rank_weighted(priority, gamma, _qini_weights(n))[0] == pytest.approx(qini, abs=1e-12)
    for i in range(1, n + 1):
        assert rank_weighted(priority, gamma, _toc_weights(n, i / n))[0] == pytest.approx(toc[i - 1], abs=1e-12)


def test_constant_priority_has_no_ranking():
    rng = np.random.default_rng(1)
    X, A, y, _ = draw(300, EQUAL, 0.0, rng)
    pred = pd.DataFrame({1: np.full(300, 0.2), 2: np.full(300, -0.1)})
    tab = co.evaluation.heterogeneity(experiment(X, A, y), pred)
    np.testing.assert_allclose(tab[["autoc", "autoc_se", "qini", "qini_se"]].to_numpy(), 0.0, atol=1e-12)
    assert tab["blp_het"].isna().all() and tab["blp_het_p"].isna().all()
    sentence = co.evaluation.heterogeneity_verdict(1, tab.loc[1])
    assert sentence.startswith("No ranking to test")


# ----------------------------------------------------------------------------- independent computations
def test_blp_against_hat_matrix_regression():
    rng = np.random.default_rng(2)
    s, g = rng.normal(size=40), rng.normal(size=40) + 0.5
    from coarseopt.evaluation.heterogeneity import _blp

    out = _blp(s, g)
    # Intercept-and-slope regression (a reparametrization of [mean(s), s - mean(s)]).
    Z = np.c_[np.ones(40), s]
    H = Z @ np.linalg.solve(Z.T @ Z, Z.T)
    coef = np.linalg.solve(Z.T @ Z, Z.T @ g)
    e3 = (g - H @ g) / (1 - np.diag(H))
    bread = np.linalg.inv(Z.T @ Z)
    V = bread @ Z.T @ np.diag(e3**2) @ Z @ bread
    assert out["blp_het"] == pytest.approx(coef[1])
    assert out["blp_het_se"] == pytest.approx(math.sqrt(V[1, 1]))
    from scipy import stats

    assert out["blp_het_p"] == pytest.approx(stats.t.sf(coef[1] / math.sqrt(V[1, 1]), 38))
    ate_at_mean = coef[0] + coef[1] * s.mean()
    assert out["blp_ate"] * s.mean() == pytest.approx(ate_at_mean)
    assert out["ate"] == pytest.approx(g.mean())


def test_measured_lift_equals_step3_doubly_robust_values():
    rng = np.random.default_rng(3)
    X, A, y, _ = draw(600, UNEQUAL, 0.5, rng)
    exp = experiment(X, A, y)
    pred = pd.DataFrame(learn(*draw(600, UNEQUAL, 0.5, rng)[:3])(X), columns=[1, 2])
    tab = co.evaluation.heterogeneity(exp, pred)
    for arm in (1, 2):
        va = co.evaluation.policy_value(y, A, np.full(600, arm), method="dr", X=X)
        vc = co.evaluation.policy_value(y, A, np.zeros(600, dtype=int), method="dr", X=X)
        assert tab.loc[arm, "ate"] == pytest.approx(va.estimate - vc.estimate, rel=1e-10)
        d = va.influence - vc.influence  # paired: the same customers inform both values
        assert tab.loc[arm, "ate_se"] == pytest.approx(math.sqrt(np.dot(d, d) / (600 * 599)), rel=1e-10)


def _half_sample_se(priority, gamma, weights_of, reps, rng):
    """grf's half-sample bootstrap: sd of the estimate on random halves (no replacement)."""
    n = len(priority)
    m = n // 2
    est = []
    for _ in range(reps):
        idx = rng.choice(n, size=m, replace=False)
        p, g = priority[idx], gamma[idx]
        gs = g[np.argsort(-p, kind="stable")]
        est.append(float(np.dot(weights_of(m), gs)))
    return float(np.std(est, ddof=1))


@pytest.mark.parametrize("het", [0.0, 0.8])
def test_standard_errors_agree_with_half_sample_bootstrap(het):
    rng = np.random.default_rng(4)
    sc, _ = one_study(4000, EQUAL, het, rng)
    s, g = sc.priority[:, 0], sc.gamma[:, 0]
    for weights_of in (_autoc_weights, _qini_weights, lambda n: _toc_weights(n, 0.2)):
        _, se = rank_weighted(s, g, weights_of(len(s)))
        boot = _half_sample_se(s, g, weights_of, 400, rng)
        # 400 replicates estimate an sd to about 3.5%: agree within 15%.
        assert se == pytest.approx(boot, rel=0.15)


# ----------------------------------------------------------------------------- properties and the interface
def test_scale_and_control_column():
    rng = np.random.default_rng(5)
    X, A, y, _ = draw(800, EQUAL, 0.5, rng)
    exp = experiment(X, A, y)
    pred = pd.DataFrame(learn(*draw(800, EQUAL, 0.5, rng)[:3])(X), columns=[1, 2])
    tab = co.evaluation.heterogeneity(exp, pred)
    assert list(tab.index) == [1, 2, BEST]
    for col in ("blp_ate", "blp_ate_se", "blp_het", "blp_het_se", "blp_het_p", "autoc", "autoc_se", "qini", "qini_se"):
        assert col in tab.columns
    scaled = co.evaluation.heterogeneity(exp, 2.0 * pred)
    np.testing.assert_allclose(scaled["autoc"], tab["autoc"])
    np.testing.assert_allclose(scaled["qini_se"], tab["qini_se"])
    np.testing.assert_allclose(scaled["blp_het"], tab["blp_het"] / 2)
    np.testing.assert_allclose(scaled["blp_het_p"], tab["blp_het_p"])
    # A control column is subtracted: predictions of profit rather than lift give the same table.
    level = rng.normal(size=800)
    with_control = pd.DataFrame({0: level, 1: pred[1] + level, 2: pred[2] + level})
    pd.testing.assert_frame_equal(co.evaluation.heterogeneity(exp, with_control), tab)
    # Columns in another order, or only one arm.
    pd.testing.assert_frame_equal(co.evaluation.heterogeneity(exp, pred[[2, 1]]).loc[[1, 2]], tab.loc[[1, 2]])
    only = co.evaluation.heterogeneity(exp, pred[[2]])
    assert list(only.index) == [2, BEST]
    assert only.loc[2, "autoc"] == pytest.approx(only.loc[BEST, "autoc"])


def test_propensity_rule_and_economics():
    rng = np.random.default_rng(6)
    X, A, y, _ = draw(900, UNEQUAL, 0.5, rng)
    pred = pd.DataFrame(learn(*draw(900, UNEQUAL, 0.5, rng)[:3])(X), columns=[1, 2])
    exp = experiment(X, A, y)
    shares = np.bincount(A) / len(A)
    given = co.evaluation.heterogeneity(experiment(X, A, y, propensity=shares[A]), pred)
    estimated = co.evaluation.heterogeneity(exp, pred)
    # Same numbers; only the average lift's SE counts the shares as estimated when no column gives them.
    pd.testing.assert_frame_equal(given.drop(columns="ate_se"), estimated.drop(columns="ate_se"))
    assert not np.allclose(given["ate_se"], estimated["ate_se"])
    # The design's probabilities, not the sample shares, when a column gives them.
    design = co.evaluation.heterogeneity(experiment(X, A, y, propensity=np.array(UNEQUAL)[A]), pred)
    assert not np.allclose(design["ate"], given["ate"])
    # A subset: shares of the customers analysed (not of the experiment it was cut from).
    rows = np.arange(300)
    sub = co.evaluation.heterogeneity(exp.subset(rows), pred.iloc[rows])
    fresh = co.evaluation.heterogeneity(experiment(X[rows], A[rows], y[rows]), pred.iloc[rows].reset_index(drop=True))
    np.testing.assert_allclose(sub.to_numpy(), fresh.to_numpy())
    # Economics: profit = 2 y - 1 under every arm.
    econ = co.Economics(margin=2.0, cost=1.0)
    doubled = co.evaluation.heterogeneity(experiment(X, A, 2 * y - 1), pred)
    pd.testing.assert_frame_equal(co.evaluation.heterogeneity(exp, pred, economics=econ), doubled)


def test_gates_and_toc_tables():
    rng = np.random.default_rng(7)
    X, A, y, _ = draw(1000, EQUAL, 0.8, rng)
    exp = experiment(X, A, y)
    pred = pd.DataFrame(learn(*draw(1000, EQUAL, 0.8, rng)[:3])(X), columns=[1, 2])
    gt = co.evaluation.gates(exp, pred, groups=4)
    assert list(gt.columns) == [
        "arm", "group", "customers", "predicted", "measured", "measured_se", "ci_low", "ci_high"]
    one = gt[gt["arm"] == 1]
    assert one["customers"].sum() == 1000 and list(one["group"]) == [1, 2, 3, 4]
    assert one["predicted"].is_monotonic_increasing
    tab = co.evaluation.heterogeneity(exp, pred, groups=4)
    assert tab.loc[1, "gates_top_bottom"] == pytest.approx(one["measured"].iloc[-1] - one["measured"].iloc[0])
    toc = co.evaluation.toc_curves(exp, pred, q=[0.1, 0.5, 1.0])
    assert list(toc.columns) == ["arm", "q", "toc", "se", "ci_low", "ci_high"]
    last = toc[toc["q"] == 1.0]
    assert np.allclose(last["toc"], 0) and np.allclose(last["se"], 0)
    first = toc[(toc["arm"] == 1) & (toc["q"] == 0.1)].iloc[0]
    assert first["ci_low"] > 0  # strong heterogeneity: the top tenth responds more than average


def test_study_heterogeneity_is_json_and_speaks():
    rng = np.random.default_rng(8)
    X, A, y, _ = draw(1500, EQUAL, 1.0, rng)
    pred = pd.DataFrame(learn(*draw(1500, EQUAL, 1.0, rng)[:3])(X), columns=[1, 2])
    out = co.evaluation.study_heterogeneity(experiment(X, A, y), pred)
    json.dumps(out, allow_nan=True)
    assert out["verdict"] == out["verdicts"][BEST]
    assert out["verdicts"][1].startswith("Heterogeneity detected in arm 1's effect: calibration slope")
    assert {r["arm"] for r in out["table"]} == {1, 2, BEST}
    assert len(out["gates"]) == 15 and len(out["toc"]) == 60


def test_bad_input_names_the_argument():
    rng = np.random.default_rng(9)
    X, A, y, _ = draw(200, EQUAL, 0.0, rng)
    exp = experiment(X, A, y)
    pred = pd.DataFrame(rng.normal(size=(200, 2)), columns=[1, 2])
    h = co.evaluation.heterogeneity
    with pytest.raises(EvaluationError, match="'experiment'"):
        h(pd.DataFrame({"y": y}), pred)
    with pytest.raises(EvaluationError, match="'predicted_profit' has 199 rows"):
        h(exp, pred.iloc[:199])
    with pytest.raises(EvaluationError, match="no column for any non-control arm"):
        h(exp, pred.set_axis(["a", "b"], axis=1))
    bad = pred.copy()
    bad.iloc[5, 0] = np.nan
    with pytest.raises(EvaluationError, match="NaN"):
        h(exp, bad)
    with pytest.raises(EvaluationError, match="index"):
        h(exp, pred.set_axis(np.arange(200) + 1000))
    with pytest.raises(EvaluationError, match="'groups'"):
        h(exp, pred, groups=1)
    with pytest.raises(EvaluationError, match="'q'"):
        co.evaluation.toc_curves(exp, pred, q=[0.0, 0.5])
    with pytest.raises(EvaluationError, match="'alpha'"):
        h(exp, pred, alpha=2)
    with pytest.raises(EvaluationError, match="'cv'"):
        h(exp, pred, cv=1)


# ----------------------------------------------------------------------------- simulations
@pytest.mark.parametrize("shares", [EQUAL, UNEQUAL], ids=["equal", "unequal"])
def test_no_heterogeneity_size_and_coverage(shares):
    reps = 300
    out = simulate(shares, 0.0, 1000, reps, seed=11)
    rej, cov_a, cov_q = out["reject"], out["autoc_covers_0"], out["qini_covers_0"]
    # Rows: arm 1, arm 2, best predicted arm. Within 3 binomial sds of the nominal rate.
    assert np.all(np.abs(rej - 0.05) <= binomial_band(0.05, reps)), rej
    assert np.all(np.abs(cov_a - 0.95) <= binomial_band(0.95, reps)), cov_a
    assert np.all(np.abs(cov_q - 0.95) <= binomial_band(0.95, reps)), cov_q


@pytest.mark.slow
@pytest.mark.parametrize("shares", [EQUAL, UNEQUAL], ids=["equal", "unequal"])
def test_no_heterogeneity_size_and_coverage_long(shares):
    reps = 1500
    out = simulate(shares, 0.0, 1000, reps, seed=21)
    rej, cov_a, cov_q = out["reject"], out["autoc_covers_0"], out["qini_covers_0"]
    assert np.all((rej >= 0.02) & (rej <= 0.09)), rej
    assert np.all((cov_a >= 0.93) & (cov_a <= 0.97)), cov_a
    assert np.all((cov_q >= 0.93) & (cov_q <= 0.97)), cov_q


@pytest.mark.parametrize("shares", [EQUAL, UNEQUAL], ids=["equal", "unequal"])
def test_power_with_heterogeneity(shares):
    # The sizes documented in docs/evaluation.md: effect slopes het = 0.5 (arm 1: 0.2 + 0.5 x0;
    # arm 2: 0.2 - 0.25 x1; unit noise), a linear model learned on as many other customers.
    power = simulate(shares, 0.5, POWER_SIZES[shares], 150, seed=12)["reject"]
    assert np.all(power >= 0.8), power


@pytest.mark.parametrize("shares", [EQUAL, UNEQUAL], ids=["equal", "unequal"])
def test_coverage_with_heterogeneity(shares):
    reps = 120
    cov = coverage(shares, 0.5, 1000, reps, seed=13)
    assert np.all(np.abs(cov[:, :3] - 0.95) <= binomial_band(0.95, reps)), cov
    # GATES: five intervals per experiment, so the rate over 5 * reps intervals.
    assert np.all(np.abs(cov[:, 3] - 0.95) <= binomial_band(0.95, reps)), cov


@pytest.mark.slow
@pytest.mark.parametrize("shares", [EQUAL, UNEQUAL], ids=["equal", "unequal"])
def test_coverage_with_heterogeneity_long(shares):
    cov = coverage(shares, 0.5, 1000, 1000, seed=0)
    assert np.all((cov >= 0.93) & (cov <= 0.97)), cov


def test_benchmark_runner_quick(tmp_path):
    from benchmarks.heterogeneity import main

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    records = [json.loads(line) for line in (tmp_path / "heterogeneity.jsonl").read_text().splitlines()]
    sims = [r for r in records if r["section"] == "simulation"]
    assert len(sims) == 12 and all(0.0 <= r["reject"] <= 1.0 for r in sims)
    promotions = [r for r in records if r["section"] == "promotions"]
    assert promotions[-1]["arm"] == BEST and promotions[-1]["verdict"]
    assert "calibration slope" in (tmp_path / "heterogeneity.md").read_text()
