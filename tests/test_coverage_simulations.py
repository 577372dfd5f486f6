"""Coverage of the intervals coarseopt prints, by simulation (fixed seeds).

Modelled on ``test_evaluation_simulation.py`` (which covers ``compare_policies`` /
``compare_estimators`` on a linear process with N = 1000): every interval is checked for

- coverage of the true value in 93-97% over R = 1000 replications (the binomial SE of a 95%
  coverage is 0.7 points);
- its standard error against the spread of the estimates (root mean square SE / standard
  deviation within ``Z / sqrt(2 (R - 1))`` of one);
- bias of the estimates, judged in Monte Carlo standard errors (``Z`` times the root mean
  square SE over ``sqrt(R)``),

under equal and unequal arm shares (0.55 / 0.25 / 0.15 / 0.05), with the propensities given
and by the default rule (each action's share of the customers given), and under designs
randomized by action (RBA) and by policy (RBP).

The data-generating process is deliberately hard: few customers (n = 800, of whom 40
receive the rarest arm), four actions whose mean outcomes are nonlinear in the covariate
(the default linear outcome model of ``"dr"``, ``"regression"`` and the step-1 learner is
misspecified), heteroskedastic noise, and policies that disagree on 70% of the customers. The true values are integrals over the
uniform covariate, computed on a grid whose cells do not straddle the policies'
breakpoints.

What is covered here: ``co.evaluation.policy_value`` (``"snipw"``, ``"ipw"``, ``"dr"``);
``compare_policies`` on this second process, with the non-default ``poststratify``
settings; ``compare_many``'s per-comparison intervals, its max-|t| simultaneous intervals
and the family-wise error of its Holm / Bonferroni / max-|t| adjustments (under a global
and a partial null); ``ProfitEstimate.policy_value().ci`` and ``arm_effects``' ``aipw_se``.
The default selection (``-m "not slow"``) takes about 70 s of CPU; marked ``slow`` (and run
by ``make test``, as in CI): the remaining ``compare_many`` scenarios, two of the four
held-out step-1 scenarios, and the step-1 model cross-fitted on each replication.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Callable

import numpy as np
import pandas as pd
import pytest

import coarseopt as co

ev = co.evaluation

R = 1000                 # replications per scenario
N = 800                  # customers per replication (small: 40 receive the 5% arm)
Z = 4.0                  # z-value of every tolerance: many checks, each must be a real failure
BAND = (0.93, 0.97)      # coverage of a 95% interval over R = 1000
Z95 = 1.959963984540054
UNEQUAL = np.array([0.55, 0.25, 0.15, 0.05])
EQUAL = np.full(4, 0.25)
SHARES = {"equal": EQUAL, "unequal": UNEQUAL}
GRID = (np.arange(1_000_000) + 0.5) / 1_000_000   # midpoints; breakpoints are multiples of 0.05


# ---------------------------------------------------------------------- the process
def mu_hard(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Mean outcome under action ``k``: nonlinear in ``x`` (a linear model is misspecified)."""
    table = np.stack([
        1.0 + np.sin(2 * np.pi * x),
        1.0 + np.cos(2 * np.pi * x),
        0.5 + 3.0 * x**2,
        2.5 - 3.0 * x,
    ])
    return np.take_along_axis(table, np.asarray(k)[None, :], axis=0)[0]


def mu_null(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """No action changes anything: every difference of policy values is zero."""
    return 1.0 + np.sin(2 * np.pi * x) + 0.0 * np.asarray(k)


def mu_partial(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Only action 3 changes the outcome (by +1): policies that never recommend it tie."""
    return 1.0 + np.sin(2 * np.pi * x) + 1.0 * (np.asarray(k) == 3)


def noise_sd(x: np.ndarray) -> np.ndarray:
    return 0.5 + x


#: Policies: each maps x to an action in 0..3. ``a`` and ``b`` disagree on 70% of customers.
POLICIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "a": lambda x: np.where(x < 0.35, 3, np.where(x < 0.7, 0, 2)),
    "b": lambda x: np.where(x < 0.5, 1, 2),
    "c": lambda x: np.where(x < 0.6, 0, 1),
    "d": lambda x: np.where(x < 0.35, 2, np.where(x < 0.8, 1, 0)),
}
#: For the partial null: c, d and e never recommend action 3 (their values tie), a does.
NULL_POLICIES = {"a": POLICIES["a"], "c": POLICIES["c"], "d": POLICIES["d"],
                 "e": lambda x: np.where(x < 0.45, 1, 0)}


def value(mu, policy) -> float:
    return float(np.mean(mu(GRID, policy(GRID))))


def test_the_process_is_as_described():
    a, b = POLICIES["a"](GRID), POLICIES["b"](GRID)
    assert np.mean(a != b) == pytest.approx(0.70, abs=1e-6)
    # the true difference is far from zero, and a linear fit of mu is far from mu
    assert abs(value(mu_hard, POLICIES["a"]) - value(mu_hard, POLICIES["b"])) > 0.15
    for k in range(4):
        y = mu_hard(GRID, np.full(GRID.size, k))
        fit = np.polyval(np.polyfit(GRID, y, 1), GRID)
        assert np.sqrt(np.mean((y - fit) ** 2)) > 0.05 or k == 3
    assert {value(mu_partial, NULL_POLICIES[p]) for p in "cde"} == {value(mu_partial, NULL_POLICIES["c"])}


def draw_rba(rng, shares, mu=mu_hard, n=N):
    x = rng.uniform(size=n)
    action = (rng.uniform(size=n)[:, None] > np.cumsum(shares)[None, :-1]).sum(axis=1)
    y = mu(x, action) + noise_sd(x) * rng.normal(size=n)
    return x, action, y


@contextlib.contextmanager
def _quiet():
    """The small-cell warnings are expected with a 5% arm (they are tested elsewhere); they
    would only flood the output here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ev.EvaluationWarning)
        yield


def check_interval(est, se, truth, *, band=BAND, label=""):
    """Coverage in the band, SE against the spread, bias in Monte Carlo SEs."""
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    r = est.size
    covered = float(np.mean(np.abs(est - truth) <= Z95 * se))
    rms = float(np.sqrt(np.mean(se**2)))
    ratio = rms / float(est.std(ddof=1))
    bias = float(est.mean() - truth)
    facts = f"{label}: coverage {covered:.3f}, SE/spread {ratio:.3f}, bias {bias:.4f} (MC SE {rms / np.sqrt(r):.4f})"
    print(facts)
    assert band[0] <= covered <= band[1], facts
    assert abs(ratio - 1.0) <= Z / np.sqrt(2 * (r - 1)), facts
    assert abs(bias) <= Z * rms / np.sqrt(r), facts


# ---------------------------------------------------------------------- policy_value
VALUE_METHODS = ("snipw", "ipw", "dr")


@functools.lru_cache(maxsize=None)
def _policy_value_runs(shares: str, given: bool) -> dict:
    rng = np.random.default_rng({"equal": 101, "unequal": 202}[shares] + int(given))
    p = SHARES[shares]
    out = {(pol, m): np.empty((R, 2)) for pol in "ab" for m in VALUE_METHODS}
    with _quiet():
        for r in range(R):
            x, action, y = draw_rba(rng, p)
            kwargs = {"propensity": p[action]} if given else {}
            for pol in "ab":
                rec = POLICIES[pol](x)
                for m in VALUE_METHODS:
                    v = ev.policy_value(y, action, rec, method=m, X=x[:, None], **kwargs)
                    # the printed interval is estimate +- z se
                    assert v.ci_low == pytest.approx(v.estimate - Z95 * v.se)
                    out[pol, m][r] = v.estimate, v.se
    return out


@pytest.mark.parametrize("given", [True, False], ids=["propensity-given", "propensity-default"])
@pytest.mark.parametrize("shares", ["equal", "unequal"])
@pytest.mark.parametrize("method", VALUE_METHODS)
@pytest.mark.parametrize("policy", ["a", "b"])
def test_policy_value_coverage(policy, method, shares, given):
    out = _policy_value_runs(shares, given)[policy, method]
    check_interval(out[:, 0], out[:, 1], value(mu_hard, POLICIES[policy]),
                   label=f"policy_value {policy} {method} {shares} given={given}")


# ---------------------------------------------------------------------- compare_policies
PAIR_METHODS = ("disagreement", "naive", "regression", "ipw", "snipw", "dr")
#: (design, shares, poststratify): the defaults, then the non-default cell settings.
PAIR_SCENARIOS = [
    ("rba", "equal", None), ("rba", "unequal", None), ("rbp", "equal", None), ("rbp", "unequal", None),
    ("rba", "equal", False), ("rba", "unequal", False), ("rbp", "equal", True), ("rbp", "unequal", True),
]
RBP_Q = {"equal": 0.5, "unequal": 0.8}   # probability of policy a under RBP


@functools.lru_cache(maxsize=None)
def _pair_runs(design: str, shares: str, poststratify) -> dict:
    seed = 300 + 10 * PAIR_SCENARIOS.index((design, shares, poststratify))
    rng = np.random.default_rng(seed)
    methods = PAIR_METHODS if poststratify is None else ("disagreement", "regression")
    out = {m: np.empty((R, 2)) for m in methods}
    with _quiet():
        for r in range(R):
            if design == "rba":
                x, action, y = draw_rba(rng, SHARES[shares])
                kwargs = {}
            else:
                x = rng.uniform(size=N)
                q = RBP_Q[shares]
                to_a = rng.uniform(size=N) < q
                action = np.where(to_a, POLICIES["a"](x), POLICIES["b"](x))
                y = mu_hard(x, action) + noise_sd(x) * rng.normal(size=N)
                kwargs = {"assigned": np.where(to_a, "a", "b"), "propensity": q}
            table = ev.compare_estimators(y, action, POLICIES["a"](x), POLICIES["b"](x), design=design,
                                          X=x[:, None], methods=methods, poststratify=poststratify, **kwargs)
            for m in methods:
                out[m][r] = table.loc[m, "estimate"], table.loc[m, "se"]
    return out


def _pair_cases():
    cases = []
    for design, shares, post in PAIR_SCENARIOS:
        for m in (PAIR_METHODS if post is None else ("disagreement", "regression")):
            tag = "" if post is None else f"-poststratify={post}"
            cases.append(pytest.param(design, shares, post, m, id=f"{design}-{shares}{tag}-{m}"))
    return cases


@pytest.mark.parametrize(("design", "shares", "poststratify", "method"), _pair_cases())
def test_compare_policies_coverage_on_the_hard_process(design, shares, poststratify, method):
    out = _pair_runs(design, shares, poststratify)[method]
    truth = value(mu_hard, POLICIES["a"]) - value(mu_hard, POLICIES["b"])
    label = f"compare {design} {shares} poststratify={poststratify} {method}"
    if design == "rba" and method == "naive":
        # The two-sample SE of the naive RBA analysis overstates (documented): the interval
        # is conservative, never too narrow.
        est, se = out[:, 0], out[:, 1]
        covered = np.mean(np.abs(est - truth) <= Z95 * se)
        assert covered >= BAND[0], (label, covered)
        assert np.sqrt(np.mean(se**2)) / est.std(ddof=1) >= 1.0 - Z / np.sqrt(2 * (R - 1)), label
        return
    check_interval(out[:, 0], out[:, 1], truth, label=label)


# ---------------------------------------------------------------------- compare_many
#: (process, design, shares): the hard process for coverage, the null ones for error rates.
MANY_SCENARIOS = [
    ("hard", "rba", "equal"), ("hard", "rba", "unequal"), ("hard", "rbp", "equal"), ("hard", "rbp", "unequal"),
    ("null", "rba", "equal"), ("null", "rba", "unequal"),
    ("partial", "rba", "equal"), ("partial", "rba", "unequal"), ("partial", "rbp", "unequal"),
]
#: Run by default (the others are marked slow): unequal shares under both designs, and
#: both kinds of null.
MANY_FAST = {("hard", "rba", "unequal"), ("hard", "rbp", "unequal"), ("null", "rba", "unequal"),
             ("partial", "rba", "equal")}


def _many_params(keep):
    return [pytest.param(*s, id="-".join(s), marks=() if s in MANY_FAST else pytest.mark.slow)
            for s in MANY_SCENARIOS if keep(s)]

PROCESSES = {"hard": (mu_hard, POLICIES), "null": (mu_null, POLICIES), "partial": (mu_partial, NULL_POLICIES)}
RBP_SHARES = {"equal": None, "unequal": [0.5, 0.3, 0.15, 0.05]}   # policy shares under RBP (None: default)
ADJUST = ("holm", "bonferroni", "maxt")
N_DRAWS = 10_000          # max-|t| draws per analysis (the critical value to about 0.02)


@functools.lru_cache(maxsize=None)
def _many_runs(process: str, design: str, shares: str) -> dict:
    mu, policies = PROCESSES[process]
    names = list(policies)
    rng = np.random.default_rng(500 + 10 * MANY_SCENARIOS.index((process, design, shares)))
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    out = {
        "est": np.empty((R, len(pairs))), "se": np.empty((R, len(pairs))),
        "ci": np.empty((R, len(pairs), 2)), "sim": np.empty((R, len(pairs), 2)),
        "value": np.empty((R, len(names))), "value_se": np.empty((R, len(names))),
        **{adj: np.empty((R, len(pairs)), dtype=bool) for adj in ADJUST},
    }
    with _quiet():
        for r in range(R):
            if design == "rba":
                x, action, y = draw_rba(rng, SHARES[shares], mu)
                kwargs = {}
            else:
                x = rng.uniform(size=N)
                q = np.full(len(names), 1 / len(names)) if RBP_SHARES[shares] is None else np.array(RBP_SHARES[shares])
                g = (rng.uniform(size=N)[:, None] > np.cumsum(q)[None, :-1]).sum(axis=1)
                recs = np.stack([policies[k](x) for k in names])
                action = recs[g, np.arange(N)]
                y = mu(x, action) + noise_sd(x) * rng.normal(size=N)
                kwargs = {"assigned": np.asarray(names)[g], "action": action,
                          "propensity": None if RBP_SHARES[shares] is None else dict(zip(names, q))}
            recs = {k: policies[k](x) for k in names}
            if design == "rba":
                res = ev.compare_many(y, action, recs, adjust="maxt", n_draws=N_DRAWS, seed=r)
            else:
                res = ev.compare_many(y, kwargs["action"], recs, design="rbp", assigned=kwargs["assigned"],
                                      propensity=kwargs["propensity"], adjust="maxt", n_draws=N_DRAWS, seed=r)
            t = res.table
            out["maxt"][r] = t["reject"].to_numpy()
            # Holm and Bonferroni from the same p-values (checked against compare_many's own
            # adjust="holm" / "bonferroni" on the first replications)
            out["holm"][r] = ev.holm(t["p_value"]) <= 0.05
            out["bonferroni"][r] = ev.bonferroni(t["p_value"]) <= 0.05
            if r < 3:
                for c, (i, j) in enumerate(pairs):  # under RBA each row is the pairwise comparison
                    if design == "rba":
                        one = ev.compare_policies(y, action, recs[names[i]], recs[names[j]])
                        assert (one.estimate, one.se) == pytest.approx((t["estimate"][c], t["se"][c]), rel=1e-9)
                for adj in ("holm", "bonferroni"):
                    if design == "rba":
                        again = ev.compare_many(y, action, recs, adjust=adj)
                    else:
                        again = ev.compare_many(y, kwargs["action"], recs, design="rbp", assigned=kwargs["assigned"],
                                                propensity=kwargs["propensity"], adjust=adj)
                    assert (again.table["reject"].to_numpy() == out[adj][r]).all()
                    np.testing.assert_allclose(again.table["estimate"], t["estimate"])
            out["est"][r], out["se"][r] = t["estimate"], t["se"]
            out["ci"][r] = t[["ci_low", "ci_high"]].to_numpy()
            out["sim"][r] = t[["sim_ci_low", "sim_ci_high"]].to_numpy()
            out["value"][r], out["value_se"][r] = res.values["value"], res.values["se"]
    values = np.array([value(mu, policies[k]) for k in names])
    out["truth"] = np.array([values[i] - values[j] for i, j in pairs])
    out["true_values"] = values
    out["pairs"] = [(names[i], names[j]) for i, j in pairs]
    return out


def _pooled(est, se, truth):
    """Coverage of all the intervals of one scenario together, and each one's SE / spread."""
    covered = float(np.mean(np.abs(est - truth[None, :]) <= Z95 * se))
    ratio = np.sqrt(np.mean(se**2, axis=0)) / est.std(axis=0, ddof=1)
    bias = (est.mean(axis=0) - truth) / (np.sqrt(np.mean(se**2, axis=0)) / np.sqrt(est.shape[0]))
    return covered, ratio, bias


@pytest.mark.parametrize(("process", "design", "shares"), _many_params(lambda s: s[0] == "hard"))
def test_compare_many_intervals_cover(process, design, shares):
    """Under RBA each comparison's interval is the pairwise one (``compare_policies``, whose
    coverage is tested above; checked on the first replications in ``_many_runs``). Here:
    all of them together cover 93-97%, each SE matches its spread, no estimate is biased; and so
    for each policy's value (self-normalized, under RBA)."""
    out = _many_runs(process, design, shares)
    np.testing.assert_allclose(out["ci"][..., 1] - out["ci"][..., 0], 2 * Z95 * out["se"], rtol=1e-9)
    checks = [("comparisons", out["est"], out["se"], out["truth"])]
    if design == "rba":
        checks.append(("values", out["value"], out["value_se"], out["true_values"]))
    for what, est, se, truth in checks:
        covered, ratio, bias = _pooled(est, se, truth)
        print(f"compare_many {design} {shares} {what}: coverage {covered:.3f}, SE/spread {np.round(ratio, 3)}, "
              f"bias/MC SE {np.round(bias, 2)}")
        assert BAND[0] <= covered <= BAND[1], (what, covered)
        assert np.all(np.abs(ratio - 1.0) <= Z / np.sqrt(2 * (R - 1))), (what, ratio)
        assert np.all(np.abs(bias) <= Z), (what, bias)


@pytest.mark.parametrize(("process", "design", "shares"), _many_params(lambda s: s[0] == "hard"))
def test_max_t_intervals_cover_all_comparisons_at_once(process, design, shares):
    out = _many_runs(process, design, shares)
    lo, hi = out["sim"][..., 0], out["sim"][..., 1]
    every = np.all((lo <= out["truth"]) & (out["truth"] <= hi), axis=1).mean()
    # the separate intervals would not (six comparisons): the simultaneous ones are wider
    separately = np.all((out["ci"][..., 0] <= out["truth"]) & (out["truth"] <= out["ci"][..., 1]), axis=1).mean()
    print(f"max-t {design} {shares}: all covered {every:.3f} (separate intervals {separately:.3f})")
    assert BAND[0] <= every <= BAND[1], every
    assert separately < BAND[0], separately


def _family_wise_error(out, adj):
    null = np.isclose(out["truth"], 0.0, atol=1e-12)
    return float(np.mean((out[adj] & null[None, :]).any(axis=1))), null


#: binomial tolerance of a 5% error rate over R replications
ERR_TOL = Z * np.sqrt(0.05 * 0.95 / R)


@pytest.mark.parametrize(("process", "design", "shares"), _many_params(lambda s: s[0] != "hard"))
def test_adjusted_tests_control_the_family_wise_error(process, design, shares):
    out = _many_runs(process, design, shares)
    fwer = {adj: _family_wise_error(out, adj)[0] for adj in ADJUST}
    null = _family_wise_error(out, "holm")[1]
    unadjusted = np.mean((np.abs(out["est"]) > Z95 * out["se"])[:, null].any(axis=1))
    print(f"{process} {design} {shares}: family-wise error {fwer}, unadjusted {unadjusted:.3f}")
    # Without adjustment the family-wise error is well above 5% here (so the test can fail) ...
    assert unadjusted > 0.05 + ERR_TOL, unadjusted
    # ... every adjustment keeps it at most 5%; under the global null max-|t| (exact for
    # jointly normal estimates) is close to 5%, Bonferroni and Holm below.
    for adj in ADJUST:
        assert fwer[adj] <= 0.05 + ERR_TOL, (adj, fwer)
    if process == "null":
        assert abs(fwer["maxt"] - 0.05) <= ERR_TOL, fwer
    # Holm is uniformly at least as powerful as Bonferroni (rejects a superset)
    assert (out["holm"] | ~out["bonferroni"]).all()
    if process == "partial":
        # the comparisons with a true difference are found, by every adjustment
        for adj in ADJUST:
            power = out[adj][:, ~null].mean()
            assert power > 0.5, (adj, power)


# ---------------------------------------------------------------------- step 1: ProfitEstimate
ARMS = ("control", "mail", "call", "visit")   # labels of actions 0..3; "control" is the control


def _experiment(x, action, y, propensity=None):
    data = pd.DataFrame({"x": x, "arm": np.asarray(ARMS, dtype=object)[action], "y": y})
    if propensity is not None:
        data["e"] = propensity
    return co.Experiment(data, outcome="y", treatment="arm", features=["x"], control="control",
                         propensity=None if propensity is None else "e")


def _truth_profit():
    base = mu_hard(GRID, np.zeros(GRID.size, dtype=int))
    arm_effects = np.array([float(np.mean(mu_hard(GRID, np.full(GRID.size, k)) - base)) for k in range(4)])
    policy = float(np.mean(mu_hard(GRID, POLICIES["a"](GRID)) - base))
    return arm_effects, policy


def _linear():
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def _profit_runs(shares: str, given: bool, crossfit: bool, reps: int) -> dict:
    """AIPW policy value and arm effects of a linear (misspecified) step-1 model: either
    fitted once on separate customers and applied to each replication's held-out experiment
    (``predict``), or cross-fitted on each replication itself."""
    seed = {"equal": 700, "unequal": 800}[shares] + int(given) + 2 * int(crossfit)
    rng = np.random.default_rng(seed)
    p = SHARES[shares]
    fixed = None
    if not crossfit:
        x, action, y = draw_rba(rng, p, n=4000)
        fixed = co.estimate_profit(_experiment(x, action, y), base_estimator=_linear(), cv=2)
    out = {"value": np.empty((reps, 2)), "ci": np.empty((reps, 2)), "effects": np.empty((reps, 4)),
           "effects_se": np.empty((reps, 4))}
    for r in range(reps):
        x, action, y = draw_rba(rng, p)
        exp = _experiment(x, action, y, p[action] if given else None)
        est = co.estimate_profit(exp, base_estimator=_linear(), cv=2) if crossfit else fixed.predict(exp)
        pv = est.policy_value(np.asarray(ARMS, dtype=object)[POLICIES["a"](x)])
        out["value"][r] = pv.estimate, pv.se
        out["ci"][r] = pv.ci
        eff = est.arm_effects.loc[list(ARMS)]
        out["effects"][r], out["effects_se"][r] = eff["aipw"], eff["aipw_se"]
    return out


@functools.lru_cache(maxsize=None)
def _profit_scenario(shares: str, given: bool, crossfit: bool) -> dict:
    return _profit_runs(shares, given, crossfit, R)


def _check_profit(out, shares, given, crossfit):
    effects, policy = _truth_profit()
    tag = f"{shares} given={given} crossfit={crossfit}"
    est, se = out["value"][:, 0], out["value"][:, 1]
    np.testing.assert_allclose(out["ci"][:, 1] - out["ci"][:, 0], 2 * Z95 * se, rtol=1e-9)
    check_interval(est, se, policy, label=f"ProfitEstimate.policy_value {tag}")
    assert np.all(out["effects_se"][:, 0] == 0) and np.all(out["effects"][:, 0] == 0)  # the control
    for k in range(1, 4):
        check_interval(out["effects"][:, k], out["effects_se"][:, k], effects[k],
                       label=f"arm_effects {ARMS[k]} {tag}")


@pytest.mark.parametrize(("shares", "given"), [
    pytest.param("equal", True, id="equal-propensity-column"),
    pytest.param("unequal", False, id="unequal-propensity-default"),
    pytest.param("equal", False, id="equal-propensity-default", marks=pytest.mark.slow),
    pytest.param("unequal", True, id="unequal-propensity-column", marks=pytest.mark.slow),
])
def test_profit_estimate_intervals_on_held_out_customers(shares, given):
    _check_profit(_profit_scenario(shares, given, False), shares, given, False)


@pytest.mark.slow
@pytest.mark.parametrize("shares", ["equal", "unequal"])
def test_profit_estimate_intervals_cross_fitted(shares):
    """The step-1 model cross-fitted on each replication's own customers (the policy fixed
    in advance): the AIPW intervals stay honest."""
    _check_profit(_profit_scenario(shares, False, True), shares, False, True)
