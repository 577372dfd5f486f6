"""Share bounds kept when held-out or new customers get their offered treatment (issue 15, item 3)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import coarseopt as co
from coarseopt.assign import assign_offered, solve_transport, transport_potentials
from coarseopt.exceptions import InfeasibleProblemError, ProblemError


def _customers(n: int, seed: int) -> np.ndarray:
    """Profits where treatment 0 is most customers' favourite (so max_share binds on it)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)) + np.array([1.0, 0.2, 0.0, -0.5])


def _brute_force(sub: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    n, s = sub.shape
    best = -np.inf
    for pos in itertools.product(range(s), repeat=n):
        counts = np.bincount(pos, minlength=s)
        if (counts >= lo).all() and (counts <= hi).all():
            best = max(best, float(sub[np.arange(n), pos].sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_transport_is_optimal_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, s = 7, 3
    sub = rng.normal(size=(n, s)) * rng.choice([1e-3, 1.0, 1e4])
    lo = rng.integers(0, 3, size=s)
    hi = np.maximum(lo, rng.integers(2, 5, size=s))
    if lo.sum() > n or hi.sum() < n:
        with pytest.raises(InfeasibleProblemError, match="share bounds"):
            solve_transport(sub, lo, hi)
        return
    pos, phi = solve_transport(sub, lo, hi)
    counts = np.bincount(pos, minlength=s)
    assert (counts >= lo).all() and (counts <= hi).all()
    assert sub[np.arange(n), pos].sum() == pytest.approx(_brute_force(sub, lo, hi), rel=1e-9, abs=1e-9)
    # complementary slackness: phi > 0 only at a full upper bound, phi < 0 only at a full lower bound
    scale = np.abs(sub).max()
    assert all(counts[j] == hi[j] for j in range(s) if phi[j] > 1e-7 * scale)
    assert all(counts[j] == lo[j] for j in range(s) if phi[j] < -1e-7 * scale)
    # the potentials' power cells give an assignment as good as the transport's (ties aside)
    red = sub - phi
    assert (red[np.arange(n), pos] >= red.max(axis=1) - 1e-7 * scale).all()


def test_held_out_customers_keep_the_share_bounds():
    """Regression: solving with max_share on training customers, then giving each held-out
    customer its best offered treatment, broke the bound (about 60% got treatment 0)."""
    train, held = _customers(2000, 0), _customers(3000, 1)
    result = co.solve(co.CoarseProblem(train, k=3, max_share=0.4), "enumerate")
    assert result.shares.max() <= 0.4 + 1e-12
    naive = np.asarray(result.offered)[held[:, result.offered].argmax(axis=1)]
    assert np.bincount(naive, minlength=4).max() / len(held) > 0.5  # what the old rule did

    batch = assign_offered(held, result, max_share=0.4)
    assert set(np.unique(batch)) <= set(result.offered.tolist())
    assert np.bincount(batch, minlength=4).max() <= 0.4 * len(held)
    # exact: no assignment that meets the bounds earns more on these customers
    lo, hi = np.zeros(3), np.full(3, 1200)
    pos, _ = solve_transport(held[:, result.offered], lo, hi)
    assert held[np.arange(3000), batch].sum() == pytest.approx(held[np.arange(3000), result.offered[pos]].sum())

    phi = transport_potentials(train, result, max_share=0.4)
    assert phi.shape == (3,) and phi.max() > 0
    one_at_a_time = [assign_offered(held[i : i + 1], result, max_share=0.4, potentials=phi)[0] for i in range(300)]
    share = np.bincount(one_at_a_time, minlength=4) / 300
    # drawn from the training population: shares approximately right (binomial noise, n = 300)
    assert share.max() <= 0.4 + 3 * np.sqrt(0.4 * 0.6 / 300)
    streamed = assign_offered(held, result, max_share=0.4, potentials=phi, method="potentials")
    assert abs(np.bincount(streamed, minlength=4).max() / 3000 - 0.4) < 3 * np.sqrt(0.24 / 3000) + 1e-3
    assert (streamed[:300] == one_at_a_time).all()


def test_min_share_on_new_customers():
    train, held = _customers(1500, 2), _customers(1000, 3)
    result = co.solve(co.CoarseProblem(train, k=2, min_share=0.3), "enumerate")
    got = assign_offered(held, result, min_share=0.3)
    counts = np.bincount(got, minlength=4)[result.offered]
    assert counts.min() >= 300
    phi = transport_potentials(train, result, min_share=0.3)
    assert phi.min() < 0  # the lower bound binds on the less popular offered treatment


def test_without_bounds_it_is_the_best_offered_treatment():
    P = _customers(50, 4)
    got = assign_offered(P, [1, 3])
    assert (got == np.array([1, 3])[P[:, [1, 3]].argmax(axis=1)]).all()
    assert transport_potentials(P, [1, 3]).tolist() == [0.0, 0.0]


def test_small_batch_falls_back_to_potentials_and_errors_without_them():
    P = _customers(1, 5)
    with pytest.raises(InfeasibleProblemError, match="potentials"):
        assign_offered(P, [0, 1, 2], min_share=0.3)  # 3 x ceil(0.3) = 3 > 1 customer
    got = assign_offered(P, [0, 1, 2], min_share=0.3, potentials=[0.5, 0.0, -0.5])
    assert got[0] == [0, 1, 2][int(np.argmax(P[0, :3] - np.array([0.5, 0.0, -0.5])))]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"offered": [0, 9]}, "offered"),
        ({"offered": []}, "offered"),
        ({"offered": [0, 1], "max_share": 1.5}, "max_share"),
        ({"offered": [0, 1], "min_share": [0.1, 0.2]}, "min_share"),
        ({"offered": [0, 1], "potentials": [1.0]}, "potentials"),
        ({"offered": [0, 1], "method": "fast"}, "method"),
        ({"offered": [0, 1], "method": "potentials"}, "potentials"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ProblemError, match=match):
        assign_offered(_customers(10, 6), **kwargs)
