"""Monte Carlo checks of the policy-evaluation estimators (fixed seeds).

A known data-generating process: x ~ U(0, 1) and z ~ Bernoulli(1/2), three actions with
mean outcomes mu_k(x, z) linear in x and z, and N(0, 1) noise; policy a gives action 2 below 0.15 and action 1 above, policy b
gives action 0 below 0.3 and action 1 above, so they disagree on 30% of customers, in two
cells ((2, 0) and (1, 0)). The true difference is an integral computed exactly below.

Every tolerance comes from the replications themselves: biases are judged against the
standard error of the mean estimate (the estimator's own SE over sqrt(R)), coverage against
93-97% over R = 1000 replications (the binomial SE of a 95% coverage is 0.7 points), spreads
against the sampling error of a standard deviation, 1 / sqrt(2 (R - 1)) relative.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import coarseopt as co

ev = co.evaluation

R = 1000          # replications per scenario
N = 1000          # customers per replication
Z = 4.0           # z-value of every tolerance: many checks, each must be a real failure
METHODS = ["disagreement", "naive", "regression", "ipw", "snipw", "dr"]

INTERCEPT = np.array([1.0, 0.8, 1.3])
SLOPE = np.array([1.0, 1.6, 0.2])
GAIN = np.array([0.0, 0.5, 1.0])    # effect of z under each action


def policy_a(x):
    return np.where(x < 0.15, 2, 1)


def policy_b(x):
    return np.where(x < 0.3, 0, 1)


def mu(x, z, k):
    return INTERCEPT[k] + SLOPE[k] * x + GAIN[k] * z


def _truth() -> dict:
    # Midpoint rule on a grid whose cells do not straddle the breakpoints: exact for these
    # piecewise linear integrands.
    g = np.tile((np.arange(200_000) + 0.5) / 200_000, 2)
    z = np.repeat([0.0, 1.0], 200_000)
    da = mu(g, z, policy_a(g))
    db = mu(g, z, policy_b(g))
    dis = policy_a(g) != policy_b(g)
    return {
        "delta": float(np.mean(da - db)),
        "p_d": float(dis.mean()),
        "tau": float(np.mean((da - db)[dis])),
        "var_a": float(np.var(da)) + 1.0,       # outcome variance under a (noise variance 1)
        "var_b": float(np.var(db)) + 1.0,
        "var_a_d": float(np.var(da[dis])) + 1.0,
        "var_b_d": float(np.var(db[dis])) + 1.0,
    }


TRUTH = _truth()


def _rba_probs(z, unequal):
    if not unequal:
        return np.full((z.size, 3), 1.0 / 3.0)
    # Probabilities depend on z inside every cell, and so does the outcome: unweighted cell
    # means would be biased.
    return np.where(z[:, None] == 1, [0.6, 0.3, 0.1], [0.1, 0.3, 0.6])


def _simulate(design: str, unequal: bool, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {m: np.empty((R, 2)) for m in METHODS}
    out["values"] = np.empty((R, 2))
    out["ignored"] = np.empty(R)
    for r in range(R):
        x = rng.uniform(size=N)
        z = (rng.uniform(size=N) < 0.5).astype(float)
        a, b = policy_a(x), policy_b(x)
        kwargs = {"design": design, "X": np.column_stack([x, z])}
        if design == "rba":
            P = _rba_probs(z, unequal)
            u = rng.uniform(size=N)[:, None]
            action = (u > np.cumsum(P, axis=1)).sum(axis=1)
            kwargs["propensity"] = P[np.arange(N), action]
        else:
            q = np.where(z == 1, 0.8, 0.3) if unequal else np.full(N, 0.5)
            to_a = rng.uniform(size=N) < q
            action = np.where(to_a, a, b)
            kwargs["assigned"] = np.where(to_a, "a", "b")
            kwargs["propensity"] = np.where(to_a, q, 1.0 - q)
        y = mu(x, z, action) + rng.normal(size=N)
        table = ev.compare_estimators(y, action, a, b, **kwargs)
        for m in METHODS:
            out[m][r] = table.loc[m, "estimate"], table.loc[m, "se"]
        naive = ev.compare_policies(y, action, a, b, method="naive", **kwargs)
        out["values"][r] = naive.extras["value_a"], naive.extras["value_b"]
        if unequal:
            kwargs.pop("propensity")
            out["ignored"][r] = ev.compare_policies(y, action, a, b, **kwargs).estimate
    return out


@functools.lru_cache(maxsize=None)
def _scenario(design: str, unequal: bool) -> dict:
    seed = {"rba": 11, "rbp": 23}[design] + int(unequal)
    return _simulate(design, unequal, seed)


@pytest.fixture(scope="module", params=[("rba", False), ("rba", True), ("rbp", False), ("rbp", True)],
                ids=["rba-equal", "rba-unequal", "rbp-equal", "rbp-unequal"])
def sim(request):
    design, unequal = request.param
    return design, unequal, _scenario(design, unequal)


def _predicted():
    """The design calculator's ``n Var`` for this process (three equally likely actions under
    RBA, one half each under RBP)."""
    t = TRUTH
    table = ev.sample_size(
        effect=abs(t["delta"]), sd=np.sqrt((t["var_a"] + t["var_b"]) / 2),
        sd_disagree=np.sqrt((t["var_a_d"] + t["var_b_d"]) / 2), disagreement_share=t["p_d"], n_actions=3,
    )
    return table.set_index(["design", "estimator"])["var_per_customer"]


def _boot_log_sd(num: np.ndarray, den: np.ndarray, stat, seed: int = 5, draws: int = 400) -> float:
    """Bootstrap (over replications) standard deviation of log(stat(num) / stat(den))."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num.size, size=(draws, num.size))
    return float(np.log(stat(num[idx]) / stat(den[idx])).std(ddof=1))


def _var(v):
    return v.var(axis=-1, ddof=1)



def _honest(design, m):
    """Methods whose standard error is meant to be exact (not the two-sample RBA naive one)."""
    return not (design == "rba" and m == "naive")


@pytest.mark.parametrize("method", METHODS)
def test_unbiased(sim, method):
    design, _, out = sim
    est, se = out[method][:, 0], out[method][:, 1]
    # The estimator's own SE; for the naive RBA analysis (which overstates it) the spread.
    scale = np.sqrt(np.mean(se**2)) if _honest(design, method) else est.std(ddof=1)
    assert abs(est.mean() - TRUTH["delta"]) <= Z * scale / np.sqrt(R), (est.mean(), TRUTH["delta"])


@pytest.mark.parametrize("method", METHODS)
def test_coverage(sim, method):
    design, _, out = sim
    est, se = out[method][:, 0], out[method][:, 1]
    covered = np.mean(np.abs(est - TRUTH["delta"]) <= 1.959964 * se)
    if _honest(design, method):
        assert 0.93 <= covered <= 0.97, covered
        # and the SE matches the spread of the estimates
        assert abs(np.sqrt(np.mean(se**2)) / est.std(ddof=1) - 1.0) <= Z / np.sqrt(2 * (R - 1))
    else:
        assert covered > 0.97, covered


@pytest.mark.parametrize("design", ["rba", "rbp"])
def test_ignoring_unequal_probabilities_is_biased(design):
    """The unequal-probability scenarios are informative: without the propensities the
    disagreement estimator is visibly biased (and with them it is not, see test_unbiased)."""
    out = _scenario(design, True)
    scale = np.sqrt(np.mean(out["disagreement"][:, 1] ** 2))
    assert abs(out["ignored"].mean() - TRUTH["delta"]) > Z * scale / np.sqrt(R)


@pytest.mark.parametrize("unequal", [False, True], ids=["equal", "unequal"])
def test_rba_naive_overstates_and_disagreement_is_narrower(unequal):
    out = _scenario("rba", unequal)
    va, vb = out["values"][:, 0], out["values"][:, 1]
    # The same customers inform both policy values: the estimates move together ...
    corr = np.corrcoef(va, vb)[0, 1]
    assert corr > Z / np.sqrt(R)
    # ... so the two-sample SE overstates the spread of the naive estimate,
    naive_est, naive_se = out["naive"][:, 0], out["naive"][:, 1]
    assert np.sqrt(np.mean(naive_se**2)) / naive_est.std(ddof=1) > 1.0 + Z / np.sqrt(2 * (R - 1))
    # and the disagreement interval is narrower, and right (coverage tested above).
    dis_se = out["disagreement"][:, 1]
    ratio = np.mean(dis_se) / np.mean(naive_se)
    assert ratio < 1.0
    print(f"RBA: corr(V_a, V_b) = {corr:.3f}; SE disagreement / SE naive = {ratio:.3f}")


def test_rba_costs_about_k_over_2_times_rbp():
    """For a pair fixed in advance, randomizing over K = 3 actions instead of the two
    policies multiplies the disagreement estimator's variance by about K / 2."""
    rba = _scenario("rba", False)["disagreement"][:, 0]
    rbp = _scenario("rbp", False)["disagreement"][:, 0]
    pred = _predicted()
    want = pred["rba", "disagreement"] / pred["rbp", "disagreement"]
    # (6 p_D s_D^2 + t) / (4 p_D s_D^2 + t) with t = tau^2 p_D (1 - p_D) >= 0: at most K / 2
    assert 1.0 < want <= 1.5
    got = rba.var(ddof=1) / rbp.var(ddof=1)
    assert abs(np.log(got / want)) <= Z * _boot_log_sd(rba, rbp, _var), (got, want)
    print(f"var(RBA) / var(RBP) = {got:.3f} (predicted {want:.3f}, K / 2 = 1.5)")


def test_rbp_variance_ratio_close_to_disagreement_share():
    out = _scenario("rbp", False)
    d, nv = out["disagreement"][:, 0], out["naive"][:, 0]
    ratio = d.var(ddof=1) / nv.var(ddof=1)
    # Prediction: the design calculator's formula with this process's moments (q = 1/2).
    t = TRUTH
    p = _predicted()
    pred = p["rbp", "disagreement"] / p["rbp", "naive"]
    # Within the sampling error of the log variance ratio (bootstrap over replications).
    assert abs(np.log(ratio) - np.log(pred)) <= Z * _boot_log_sd(d, nv, _var), (ratio, pred)
    # The prediction is p_D times the ratio of the outcome variances among disagreeing
    # customers and overall, plus a term of order tau^2: close to p_D.
    print(f"RBP: var(disagreement) / var(naive) = {ratio:.3f} (p_D = {t['p_d']:.2f}, predicted {pred:.3f})")
