"""Policy evaluation (step 3): exact small cases, invariances, input validation, results."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coarseopt as co

ev = co.evaluation
ALL = list(ev.METHODS)


def rba_data(n=600, K=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=n)
    action = rng.integers(0, K, size=n)
    y = 1.0 + 0.5 * x + (action == 1) * (x - 0.4) + 0.2 * (action == 2) + rng.normal(size=n)
    a = np.where(x > 0.4, 1, 2)
    b = np.where(x > 0.7, 1, 0)
    return y, action, a, b, x


def rbp_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=n)
    a = np.where(x > 0.5, 1, 0)
    b = np.where(x > 0.8, 1, 2)
    to_a = rng.uniform(size=n) < 0.5
    action = np.where(to_a, a, b)
    y = 1.0 + (action == 1) * (x - 0.5) + rng.normal(size=n)
    return y, action, a, b, np.where(to_a, "a", "b"), x


# ----------------------------------------------------------------------------- exact cases
def test_rbp_disagreement_matches_closed_form():
    """p_D * (mean(Y | a, D) - mean(Y | b, D)) with variance tau^2 p(1-p)/(n-1) + p^2 (SS_a/(n_a (n_a - 1))
    + SS_b/(n_b (n_b - 1))): the two-sample variance of the means with n_a - 1 and n_b - 1 degrees
    of freedom, plus that of the share p."""
    y, action, a, b, assigned, _ = rbp_data()
    n = y.size
    D = a != b
    ga, gb = D & (assigned == "a"), D & (assigned == "b")
    p = D.mean()
    tau = y[ga].mean() - y[gb].mean()
    ss = lambda v: float(((v - v.mean()) ** 2).sum())  # noqa: E731
    na, nb = ga.sum(), gb.sum()
    var = tau**2 * p * (1 - p) / (n - 1) + p**2 * (ss(y[ga]) / (na * (na - 1)) + ss(y[gb]) / (nb * (nb - 1)))
    r = ev.compare_policies(y, action, a, b, design="rbp", assigned=assigned)
    assert r.estimate == pytest.approx(p * tau, rel=1e-12)
    assert r.se == pytest.approx(np.sqrt(var), rel=1e-10)
    assert r.n == n and r.n_disagree == int(D.sum())
    # Without covariates and with one pooled cell, the regression estimator is the same one.
    reg = ev.compare_policies(y, action, a, b, design="rbp", assigned=assigned, method="regression")
    assert reg.estimate == pytest.approx(r.estimate, rel=1e-10)


def test_rbp_naive_is_difference_of_arm_means():
    y, action, a, b, assigned, _ = rbp_data()
    ya, yb = y[assigned == "a"], y[assigned == "b"]
    r = ev.compare_policies(y, action, a, b, design="rbp", assigned=assigned, method="naive")
    assert r.estimate == pytest.approx(ya.mean() - yb.mean())
    assert r.se == pytest.approx(np.sqrt(ya.var(ddof=1) / ya.size + yb.var(ddof=1) / yb.size))


def test_rba_disagreement_is_cell_weighted_difference_of_means():
    y, action, a, b, _ = rba_data()
    n = y.size
    want = 0.0
    for ca, cb in {(i, j) for i, j in zip(a, b) if i != j}:
        cell = (a == ca) & (b == cb)
        want += cell.sum() / n * (y[cell & (action == ca)].mean() - y[cell & (action == cb)].mean())
    r = ev.compare_policies(y, action, a, b)
    assert r.estimate == pytest.approx(want, rel=1e-12)
    assert r.extras["n_cells"] == 2


def test_ipw_with_given_uniform_probabilities():
    y, action, a, b, _ = rba_data(K=3)
    r = ev.compare_policies(y, action, a, b, method="ipw", propensity=1 / 3)
    score = 3 * ((action == a) * y - (action == b) * y)
    assert r.estimate == pytest.approx(score.mean())
    assert r.se == pytest.approx(score.std(ddof=1) / np.sqrt(y.size))


def test_ipw_default_uses_each_actions_share():
    """Without a propensity, IPW weights each action by its share of the customers given:
    V(p) = sum over actions a of mean_{A = a}(1{p = a} y), and the standard error carries the
    term of the estimated shares (a stratified mean's, not Horvitz-Thompson's)."""
    rng = np.random.default_rng(3)
    n = 4000
    action = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    y = rng.normal(size=n) + action
    pol = rng.integers(0, 3, size=n)
    v = ev.policy_value(y, action, pol, method="ipw")
    parts = [np.where(pol[action == j] == j, y[action == j], 0.0) for j in range(3)]
    assert v.estimate == pytest.approx(sum(p.mean() for p in parts), rel=1e-12)
    assert v.se == pytest.approx(np.sqrt(sum(p.var(ddof=0) / p.size for p in parts)), rel=1e-3)


def test_policy_value_exact():
    v = ev.policy_value([1.0, 3.0, 2.0, 6.0], ["x", "y", "x", "y"], ["y"] * 4)
    assert v.estimate == 4.5 and v.n_followed == 2 and v.method == "snipw"
    ht = ev.policy_value([1.0, 3.0, 2.0, 6.0], ["x", "y", "x", "y"], ["y"] * 4, method="ipw")
    assert ht.estimate == pytest.approx((3.0 + 6.0) * 2 / 4)
    assert ht.ci_low < ht.estimate < ht.ci_high


def test_values_difference_is_snipw_comparison():
    y, action, a, b, x = rba_data()
    va, vb = ev.policy_value(y, action, a), ev.policy_value(y, action, b)
    c = ev.compare_policies(y, action, a, b, method="snipw")
    assert c.estimate == pytest.approx(va.estimate - vb.estimate)
    # The paired SE is below the SE that adds the two variances (positively correlated values).
    assert c.se < np.hypot(va.se, vb.se)
    naive = ev.compare_policies(y, action, a, b, method="naive")
    assert naive.estimate == pytest.approx(c.estimate) and naive.se > c.se


def test_identical_policies():
    y, action, a, _, x = rba_data()
    for m in ALL:
        r = ev.compare_policies(y, action, a, a, method=m, X=x)
        assert r.estimate == pytest.approx(0.0, abs=1e-12), m
        assert r.n_disagree == 0
    r = ev.compare_policies(y, action, a, a)
    assert r.se == 0.0 and r.p_value == 1.0


# ----------------------------------------------------------------------------- invariances
def test_agreeing_customers_contribute_nothing():
    y, action, a, b, _ = rba_data()
    agree = a == b
    y2 = y.copy()
    y2[agree] += np.random.default_rng(1).normal(scale=100.0, size=agree.sum())
    for m in ("disagreement", "ipw", "regression"):
        r1 = ev.compare_policies(y, action, a, b, method=m)
        r2 = ev.compare_policies(y2, action, a, b, method=m)
        assert r2.estimate == pytest.approx(r1.estimate, rel=1e-10, abs=1e-12), m


@pytest.mark.parametrize("method", ALL)
def test_antisymmetric(method):
    y, action, a, b, x = rba_data()
    ab = ev.compare_policies(y, action, a, b, method=method, X=x)
    ba = ev.compare_policies(y, action, b, a, method=method, X=x)
    assert ab.estimate == pytest.approx(-ba.estimate, rel=1e-9, abs=1e-12)
    assert ab.se == pytest.approx(ba.se, rel=1e-9)


@pytest.mark.parametrize("method", [m for m in ALL if m != "dr"])
def test_invariant_to_order_of_customers(method):
    y, action, a, b, x = rba_data()
    perm = np.random.default_rng(3).permutation(y.size)
    r1 = ev.compare_policies(y, action, a, b, method=method, X=x)
    r2 = ev.compare_policies(y[perm], action[perm], a[perm], b[perm], method=method, X=x[perm])
    assert r2.estimate == pytest.approx(r1.estimate, rel=1e-9, abs=1e-12)
    assert r2.se == pytest.approx(r1.se, rel=1e-9)


def test_labels_lists_and_series_give_the_same_answer():
    y, action, a, b, x = rba_data()
    names = np.array(["none", "mens", "womens"], dtype=object)
    r_int = ev.compare_policies(y, action, a, b)
    r_lab = ev.compare_policies(
        pd.Series(y), pd.Series(names[action]), list(names[a]), pd.Series(names[b], index=np.arange(y.size) + 7)
    )
    assert r_lab.estimate == pytest.approx(r_int.estimate) and r_lab.se == pytest.approx(r_int.se)


def test_propensity_forms_agree():
    y, action, a, b, x = rba_data()
    probs = np.array([0.5, 0.3, 0.2])
    action = np.random.default_rng(5).choice(3, size=y.size, p=probs)  # drawn with these probabilities
    as_dict = ev.compare_policies(y, action, a, b, propensity={0: 0.5, 1: 0.3, 2: 0.2}, method="ipw")
    as_array = ev.compare_policies(y, action, a, b, propensity=probs[action], method="ipw")
    frame = pd.DataFrame(np.tile(probs, (y.size, 1)), columns=[0, 1, 2])
    as_frame = ev.compare_policies(y, action, a, b, propensity=frame, method="ipw")
    assert as_dict.estimate == pytest.approx(as_array.estimate) == pytest.approx(as_frame.estimate)


@pytest.mark.parametrize("form", ["dict", "array", "frame"])
def test_propensity_contradicted_by_the_counts_warns(form):
    """Equal probabilities given for an experiment that assigned 0.6 / 0.3 / 0.1: the counts
    contradict them, in every form the propensity can take; the data's own shares do not."""
    from coarseopt.exceptions import PropensityWarning

    rng = np.random.default_rng(0)
    n = 3000
    action = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    y = rng.normal(size=n)
    pol = rng.integers(0, 3, size=n)
    given = {"dict": {0: 1 / 3, 1: 1 / 3, 2: 1 / 3}, "array": np.full(n, 1 / 3),
             "frame": pd.DataFrame(np.full((n, 3), 1 / 3), columns=[0, 1, 2])}[form]
    with pytest.warns(PropensityWarning, match="looks wrong"):
        ev.policy_value(y, action, pol, propensity=given, method="ipw")
    shares = np.bincount(action) / n
    with warnings.catch_warnings():
        warnings.simplefilter("error", PropensityWarning)
        ev.policy_value(y, action, pol, propensity=shares[action], method="ipw")
        ev.policy_value(y, action, pol, method="ipw")


def test_dr_accepts_a_scikit_learn_regressor():
    from sklearn.linear_model import LinearRegression

    y, action, a, b, x = rba_data()
    own = ev.compare_policies(y, action, a, b, method="dr", X=x)
    skl = ev.compare_policies(y, action, a, b, method="dr", X=x, outcome_model=LinearRegression())
    assert skl.estimate == pytest.approx(own.estimate, rel=1e-8)
    # without covariates the outcome model is per-action means: still a valid estimate
    assert np.isfinite(ev.compare_policies(y, action, a, b, method="dr").se)


def test_covariate_frame_with_categories_and_callable_policies():
    y, action, a, b, x = rba_data()
    X = pd.DataFrame({"x": x, "region": np.where(x > 0.5, "north", "south")})
    r = ev.compare_policies(
        y, action, lambda X: np.where(X["x"] > 0.4, 1, 2), lambda X: np.where(X["x"] > 0.7, 1, 0), X=X, method="dr"
    )
    r0 = ev.compare_policies(y, action, a, b, X=X, method="dr")
    assert r.estimate == pytest.approx(r0.estimate)


# ----------------------------------------------------------------------------- coarse policies
def test_solve_result_as_policy_and_on_new_customers():
    rng = np.random.default_rng(0)
    cols = ["none", "mens", "womens"]
    profit = pd.DataFrame(rng.normal(size=(300, 3)), columns=cols)
    result = co.solve(co.CoarseProblem(profit, 2), solver="enumerate")
    action = rng.choice(cols, size=300)
    y = rng.normal(size=300)
    with pytest.warns(co.exceptions.InSampleEvaluationWarning):  # its own customers
        r = ev.compare_policies(y, action, result, np.full(300, "none", dtype=object))
    assert r.n_disagree == int((result.assignment_series().to_numpy() != "none").sum())
    new = pd.DataFrame(rng.normal(size=(50, 3)), columns=cols)
    pol = ev.coarse_policy(result, new[cols[::-1]])           # matched by column label
    best = np.asarray(result.offered)[np.argmax(new.to_numpy()[:, result.offered], axis=1)]
    assert list(pol) == [cols[j] for j in best]
    with pytest.raises(ev.EvaluationError, match="coarse_policy"), warnings.catch_warnings():
        warnings.simplefilter("ignore", co.exceptions.InSampleEvaluationWarning)
        ev.compare_policies(y[:50], action[:50], result, np.full(50, "none", dtype=object))
    with pytest.raises(ev.EvaluationError, match="profit"):
        ev.coarse_policy(result, np.zeros((5, 2)))


# ----------------------------------------------------------------------------- several policies
def test_compare_many_matches_pairwise_and_adjusts():
    y, action, a, b, x = rba_data()
    policies = {"a": a, "b": b, "all1": np.ones_like(a), "none": np.zeros_like(a)}
    many = ev.compare_many(y, action, policies, method="disagreement")
    assert len(many.table) == 6
    for _, row in many.table.iterrows():
        single = ev.compare_policies(y, action, policies[row.policy_a], policies[row.policy_b])
        assert row.estimate == pytest.approx(single.estimate) and row.se == pytest.approx(single.se)
    assert np.allclose(np.diag(many.cov), many.table["se"] ** 2)
    assert np.allclose(many.table["p_adjusted"], ev.holm(many.table["p_value"]))
    assert (many.table["p_adjusted"] >= many.table["p_value"]).all()
    # comparisons sharing customers are correlated
    assert np.abs(many.corr.to_numpy()[np.triu_indices(6, 1)]).max() > 0.3

    champ = ev.compare_many(y, action, policies, reference="none", adjust="maxt", method="dr", X=x)
    assert list(champ.table["policy_b"]) == ["none"] * 3
    t = champ.table
    assert (t["p_adjusted"] >= t["p_value"] - 1e-12).all()
    assert (t["p_adjusted"] <= np.minimum(1, 3 * t["p_value"]) + 1e-3).all()
    assert ((t["sim_ci_high"] - t["sim_ci_low"]) > (t["ci_high"] - t["ci_low"])).all()

    naive = ev.compare_many(y, action, policies, method="naive", adjust="bonferroni")
    single = ev.compare_policies(y, action, a, b, method="naive")
    assert naive.table.loc[0, "se"] == pytest.approx(single.se)


def test_compare_many_rbp_with_three_arms():
    rng = np.random.default_rng(4)
    n = 900
    x = rng.uniform(size=n)
    pols = pd.DataFrame({"p1": np.where(x > 0.5, "m", "w"), "p2": np.where(x > 0.3, "m", "w"), "p3": ["w"] * n})
    arm = rng.choice(["p1", "p2", "p3"], size=n)
    action = pols.to_numpy()[np.arange(n), pd.Index(pols.columns).get_indexer(arm)]
    y = rng.normal(size=n) + (action == "m") * x
    m = ev.compare_many(y, action, pols, design="rbp", assigned=arm)
    assert set(m.table["policy_a"]) == {"p1", "p2"} and m.design == "rbp"
    # The same comparison from the customers of the two arms alone, with the plain
    # two-arm analysis: consistent within the sampling error of the two estimates.
    keep = arm != "p2"
    two = ev.compare_policies(
        y[keep], None, pols["p1"][keep], pols["p3"][keep], design="rbp",
        assigned=np.where(arm[keep] == "p1", "a", "b"), method="naive",
    )
    row = m.table[(m.table.policy_a == "p1") & (m.table.policy_b == "p3")].iloc[0]
    assert abs(row.estimate - two.estimate) <= 4 * np.hypot(row.se, two.se)
    # and the disagreement analysis of all arms is the more precise one
    assert row.se < two.se


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12))
def test_holm_properties(p):
    adj = ev.holm(p)
    p = np.asarray(p)
    assert (adj >= p - 1e-15).all() and (adj <= 1.0).all()
    assert (adj <= ev.bonferroni(p) + 1e-15).all()
    order = np.argsort(p, kind="stable")
    assert (np.diff(adj[order]) >= -1e-15).all()     # monotone in the raw p-values


# ----------------------------------------------------------------------------- design calculator
def test_sample_size_rules_of_thumb():
    t = ev.sample_size(effect=0.01, sd=1.0, disagreement_share=0.2, n_actions=6).set_index(["design", "estimator"])
    v = t["var_per_customer"]
    assert v["rba", "naive"] / v["rbp", "naive"] == pytest.approx(6 / 2)
    assert v["rba", "disagreement"] / v["rbp", "disagreement"] == pytest.approx(6 / 2, rel=0.01)
    assert v["rbp", "disagreement"] / v["rbp", "naive"] == pytest.approx(0.2, rel=0.01)
    more = ev.sample_size(effect=0.01, sd=1.0, disagreement_share=0.2, n_actions=6, power=0.9)
    assert (more["n_customers"].to_numpy() > t["n_customers"].to_numpy()).all()
    # the classic two-sample formula: 4 sigma^2 (z_.975 + z_.8)^2 / Delta^2
    assert t.loc[("rbp", "naive"), "n_customers"] == int(np.ceil(4 * (1.959964 + 0.841621) ** 2 / 0.01**2))


# ----------------------------------------------------------------------------- errors
def test_support_errors():
    y, action, a, b, _ = rba_data(K=2)         # actions 0 and 1 only; policy a recommends 2
    with pytest.raises(ev.SupportError, match="policy_a.*no customer"):
        ev.compare_policies(y, action, a, b)
    with pytest.raises(ev.SupportError, match="probability 0"):
        frame = pd.DataFrame({0: np.full(y.size, 0.5), 1: 0.5, 2: 0.0})
        ev.compare_policies(y, action, a, b, propensity=frame)
    with pytest.raises(ev.SupportError):
        ev.policy_value(y, action, a)
    # a cell whose arm is empty: no customer with b's action among those where a says 2. Without
    # post-stratification the pooled disagreement set has none either: an error. Post-stratified,
    # the cell is too small to stand alone and is valued by Horvitz-Thompson, like method="ipw".
    y, action, a, b, _ = rba_data(n=60, K=3)
    D = a != b
    action = np.where(D & (action == 0), 1, action)
    with pytest.raises(ev.SupportError, match="no customer received"):
        ev.compare_policies(y, action, a, b, poststratify=False)
    r = ev.compare_policies(y, action, a, b)
    ipw = ev.compare_policies(y, action, a, b, method="ipw")
    assert r.extras["residual_share"] == pytest.approx(D.mean())
    assert r.estimate == pytest.approx(ipw.estimate, rel=1e-12)    # every disagreeing cell is residual
    assert r.se == pytest.approx(ipw.se, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"design": "abtest"}, "'design'.*'rba'"),
        ({"method": "magic"}, "'method'.*'disagreement'"),
        ({"alpha": 1.5}, "'alpha'"),
        ({"assigned": ["a"] * 600}, "'assigned' is only used"),
        ({"propensity": 0.0}, r"'propensity' must lie in \(0, 1\]"),
        ({"propensity": np.full(600, 1.5)}, r"\(0, 1\]"),
        ({"propensity": np.ones((600, 3))}, "DataFrame"),
        ({"propensity": {0: 0.5, 1: 0.3}}, "sum to 0.8"),
        ({"cv": 1, "method": "dr"}, "'cv'"),
        ({"outcome_model": "forest"}, "'outcome_model'"),
        ({"X": np.ones((10, 2))}, "'X' must have shape"),
    ],
)
def test_argument_errors(kwargs, match):
    y, action, a, b, _ = rba_data()
    with pytest.raises(ev.EvaluationError, match=match):
        ev.compare_policies(y, action, a, b, **kwargs)


def test_data_errors():
    y, action, a, b, _ = rba_data()
    with pytest.raises(ev.EvaluationError, match="'action' has 599 entries but 'y' has 600"):
        ev.compare_policies(y, action[:-1], a, b)
    y2 = y.copy()
    y2[5] = np.nan
    with pytest.raises(ev.EvaluationError, match="'y' holds 1 NaN.*position 5"):
        ev.compare_policies(y2, action, a, b)
    lab = np.array(["x"] * 600, dtype=object)
    lab[3] = None
    with pytest.raises(ev.EvaluationError, match="'policy_b' holds 1 missing"):
        ev.compare_policies(y, action, a, lab)
    assert issubclass(ev.EvaluationError, ValueError) and issubclass(ev.SupportError, co.ProblemError)


def test_rbp_errors():
    y, action, a, b, assigned, _ = rbp_data()
    with pytest.raises(ev.EvaluationError, match="needs 'assigned'"):
        ev.compare_policies(y, action, a, b, design="rbp")
    with pytest.raises(ev.EvaluationError, match="'assigned' holds 'c'"):
        ev.compare_policies(y, action, a, b, design="rbp", assigned=np.where(assigned == "a", "a", "c"))
    wrong = action.copy()
    wrong[(a != b) & (assigned == "a")] = 2      # policy a never recommends 2
    with pytest.raises(ev.EvaluationError, match="differs from it"):
        ev.compare_policies(y, wrong, a, b, design="rbp", assigned=assigned)
    # action=None: the recommendations of the assigned policy
    r1 = ev.compare_policies(y, None, a, b, design="rbp", assigned=assigned)
    r2 = ev.compare_policies(y, action, a, b, design="rbp", assigned=assigned)
    assert r1.estimate == r2.estimate


def test_sample_size_errors():
    with pytest.raises(ev.EvaluationError, match="'disagreement_share'.*\\(0, 1\\]"):
        ev.sample_size(0.1, 1.0, 1.5)
    with pytest.raises(ev.EvaluationError, match="'n_actions'"):
        ev.sample_size(0.1, 1.0, 0.5, n_actions=1)
    with pytest.raises(ev.EvaluationError, match="'effect'"):
        ev.sample_size(0.0, 1.0, 0.5)


# ----------------------------------------------------------------------------- results
def test_result_objects():
    y, action, a, b, x = rba_data()
    r = ev.compare_policies(y, action, a, b)
    with pytest.raises(AttributeError):
        r.estimate = 0.0
    d = r.to_dict()
    assert d["estimate"] == r.estimate and d["method"] == "disagreement" and d["design"] == "rba"
    assert "95% CI" in r.summary() and str(r.n_disagree) in r.summary()
    assert r.ci_low < r.estimate < r.ci_high
    assert r.influence.shape == (y.size,) and abs(r.influence.mean()) < 1e-10
    assert r.disagreement_share == pytest.approx((a != b).mean())
    table = ev.compare_estimators(y, action, a, b, X=x)
    assert list(table.index) == ALL
    assert table.loc["naive", "width_vs_naive"] == 1.0
    assert table.loc["disagreement", "width_vs_naive"] < 1.0
    assert ev.compare_estimators(y, action, a, b, methods=["naive"]).shape[0] == 1


def test_docstring_examples():
    import doctest

    from coarseopt.evaluation import compare, design, multiple, value

    for module in (compare, design, multiple, value):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_warning_when_a_cell_arm_is_tiny():
    y = np.arange(6.0)
    act = ["m", "w", "n", "m", "w", "n"]
    with pytest.warns(ev.EvaluationWarning, match="only 2 customers"):
        ev.compare_policies(y, act, ["m"] * 6, ["w"] * 6, poststratify=False)
    # post-stratified, a cell that small is valued by Horvitz-Thompson instead
    r = ev.compare_policies(y, act, ["m"] * 6, ["w"] * 6)
    assert r.extras["residual_share"] == 1.0
    assert r.estimate == pytest.approx(((0.0 + 3.0) - (1.0 + 4.0)) / 6 * 3)


def _unsupported(action, a, b) -> bool:
    """Whether the data cannot support the comparison (computed here, independently): a
    policy recommends an action nobody received. (Post-stratified cells too thin to stratify
    are valued by Horvitz-Thompson, never refused.)"""
    received = set(np.unique(action).tolist())
    return not set(np.unique(np.concatenate([a, b])).tolist()) <= received


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(120, 400), K=st.integers(2, 4))
def test_invariances_on_random_experiments(seed, n, K):
    """On random RBA experiments: renaming the actions changes nothing; the outcomes of
    customers on whom the policies agree do not move the disagreement estimate."""
    rng = np.random.default_rng(seed)
    action = rng.integers(0, K, size=n)
    a = rng.integers(0, K, size=n)
    b = np.where(rng.uniform(size=n) < 0.5, a, rng.integers(0, K, size=n))
    y = rng.normal(size=n) + action
    names = np.array([f"offer-{j}" for j in rng.permutation(K)], dtype=object)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ev.EvaluationWarning)
        for m in ("disagreement", "ipw", "snipw", "naive"):
            if _unsupported(action, a, b):
                # a recommended action without customers: refused (never guessed), whatever
                # the labels
                for args in ((y, action, a, b), (y, names[action], names[a], names[b])):
                    with pytest.raises(ev.SupportError):
                        ev.compare_policies(*args, method=m)
                continue
            r = ev.compare_policies(y, action, a, b, method=m)
            r2 = ev.compare_policies(y, names[action], names[a], names[b], method=m)
            assert r2.estimate == pytest.approx(r.estimate, abs=1e-12) and r2.se == pytest.approx(r.se, abs=1e-12)
            if m == "disagreement":
                y3 = np.where(a == b, y + rng.normal(scale=50.0, size=n), y)
                r3 = ev.compare_policies(y3, action, a, b, method=m)
                assert r3.estimate == pytest.approx(r.estimate, abs=1e-10)
                assert np.isfinite(r.se) and r.ci_low <= r.estimate <= r.ci_high
