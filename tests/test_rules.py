"""Exact policy trees: against brute force over all trees on small cases, and readable forms."""

from __future__ import annotations

import itertools
import sqlite3

import numpy as np
import pandas as pd
import pytest

from coarseopt.exceptions import ProblemError
from coarseopt.rules import PolicyTree, fit_policy_tree


def _case(seed: int, n: int = 9, p: int = 2, s: int = 3, levels: int = 5):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.integers(0, levels, size=(n, p)).astype(float), columns=[f"x{j}" for j in range(p)])
    R = pd.DataFrame(rng.normal(size=(n, s)), columns=[f"t{j}" for j in range(s)])
    return X, R


def _all_trees(X: np.ndarray, depth: int):
    """Every tree of depth <= ``depth`` as a function rows -> leaf id, with its leaf count."""
    n, p = X.shape
    splits = [(f, t) for f in range(p) for t in np.unique(X[:, f])]
    if depth == 0:
        yield lambda rows: np.zeros(len(rows), dtype=int), 1
        return
    yield lambda rows: np.zeros(len(rows), dtype=int), 1
    for f, t in splits:
        for left, nl in list(_all_trees(X, depth - 1)):
            for right, nr in list(_all_trees(X, depth - 1)):
                def tree(rows, f=f, t=t, left=left, right=right, nl=nl):
                    go = X[rows, f] <= t
                    out = np.empty(len(rows), dtype=int)
                    out[go] = left(rows[go])
                    out[~go] = nl + right(rows[~go])
                    return out
                yield tree, nl + nr


def _brute_force_explicit(X: pd.DataFrame, R: pd.DataFrame, depth: int) -> float:
    """Max over explicit trees and every assignment of treatments to their leaves."""
    Xv, Rv = X.to_numpy(), R.to_numpy()
    rows = np.arange(len(Xv))
    best = -np.inf
    for tree, leaves in _all_trees(Xv, depth):
        leaf = tree(rows)
        # the best treatment of each leaf is chosen independently: enumerate them anyway
        for acts in itertools.product(range(Rv.shape[1]), repeat=leaves):
            best = max(best, float(Rv[rows, np.asarray(acts)[leaf]].sum()))
    return best


def _brute_force_recursive(Xv: np.ndarray, Rv: np.ndarray, depth: int) -> float:
    """The definition: a leaf, or the best split into two trees one level shallower."""
    best = float(Rv.sum(axis=0).max()) if len(Rv) else 0.0
    if depth == 0 or len(Rv) < 2:
        return best
    for f in range(Xv.shape[1]):
        for t in np.unique(Xv[:, f]):
            go = Xv[:, f] <= t
            best = max(best, _brute_force_recursive(Xv[go], Rv[go], depth - 1)
                       + _brute_force_recursive(Xv[~go], Rv[~go], depth - 1))
    return best


def _value(tree: PolicyTree, X: pd.DataFrame, R: pd.DataFrame) -> float:
    picked = R.columns.get_indexer(tree.predict(X))
    return float(R.to_numpy()[np.arange(len(R)), picked].sum())


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("depth", [1, 2])
def test_optimal_against_every_tree(seed, depth):
    X, R = _case(seed, n=7 if depth == 2 else 9, levels=4 if depth == 2 else 6)
    tree = fit_policy_tree(X, R, depth=depth)
    assert tree.value == pytest.approx(_value(tree, X, R))
    assert tree.value == pytest.approx(_brute_force_explicit(X, R, depth), abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_optimal_against_the_recursive_definition(seed, depth):
    X, R = _case(100 + seed, n=14, p=3, s=3, levels=4)
    tree = fit_policy_tree(X, R, depth=depth)
    assert _value(tree, X, R) == pytest.approx(_brute_force_recursive(X.to_numpy(), R.to_numpy(), depth), abs=1e-9)


def test_deeper_is_never_worse_and_beats_greedy():
    """XOR-like profits: a greedy root split gains nothing, the exact depth-2 tree finds all."""
    X = pd.DataFrame({"a": [0, 0, 1, 1] * 5, "b": [0, 1, 0, 1] * 5, "noise": np.arange(20) % 3})
    good = (X["a"] ^ X["b"]).to_numpy()
    R = pd.DataFrame({"t0": 1.0 - good, "t1": good.astype(float)})
    v = [fit_policy_tree(X, R, depth=d).value for d in (1, 2, 3)]
    assert v[0] <= v[1] <= v[2]
    assert v[1] == pytest.approx(20.0)  # every customer gets its better treatment
    assert v[0] < 20.0


def test_binned_features_search_the_candidate_thresholds():
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    R = pd.DataFrame({"a": (X["x"] > 0.3).astype(float), "b": (X["x"] <= 0.3).astype(float)})
    tree = fit_policy_tree(X, R, depth=1, max_bins=8)
    thresholds = np.quantile(X["x"], np.arange(1, 8) / 8, method="inverted_cdf")
    assert tree.tree["feature"] == "x"
    # the written threshold splits the customers exactly as one of the candidate thresholds does
    left = X["x"] <= tree.tree["threshold"]
    assert any((left == (X["x"] <= t)).all() for t in thresholds)
    exact = fit_policy_tree(X, R, depth=1, max_bins=1000)
    assert exact.value == pytest.approx(400.0)
    assert tree.value <= exact.value


def test_readable_forms_agree_with_predict():
    rng = np.random.default_rng(7)
    X = pd.DataFrame({"age": rng.integers(18, 80, 300).astype(float), "web=1": rng.integers(0, 2, 300).astype(float),
                      "spend": rng.gamma(2.0, 50.0, 300).round(2)})
    R = pd.DataFrame({
        0.0: np.zeros(300),
        0.1: (X["age"] > 40) * 2.0 - 1.0 + X["web=1"] * 0.5,
        "big 'deal'": (X["spend"] > 120) * 3.0 - 1.5,
    })
    tree = fit_policy_tree(X, R, depth=2, categories={"web=1": ("channel", "web")})
    assert "if " in tree.text and "offer" in tree.text
    con = sqlite3.connect(":memory:")
    frame = X.rename(columns={"web=1": "channel"})
    frame["channel"] = np.where(X["web=1"] == 1, "web", "phone")
    frame.to_sql("customers", con, index=False)
    got = [r[0] for r in con.execute(f"SELECT {tree.sql} FROM customers")]
    expected = [str(t) if not isinstance(t, float) else t for t in tree.predict(X)]
    assert [str(g) for g in got] == [str(e) for e in expected]
    back = PolicyTree.from_dict(tree.to_dict())
    assert (back.predict(X) == tree.predict(X)).all() and back.sql == tree.sql
    d = tree.to_dict()
    assert {"depth", "text", "sql", "tree", "kept"} <= set(d)


def test_kept_share_and_single_leaf():
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    R = pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [0.0, 0.0, 0.0]})
    tree = fit_policy_tree(X, R, depth=2, reference=4.0)
    assert tree.tree == {"treatment": "a"} and tree.kept == pytest.approx(0.75)
    assert tree.sql.startswith("CASE") and tree.text == "offer 'a'"


@pytest.mark.parametrize("kwargs, match", [({"depth": 4}, "depth"), ({"depth": 0}, "depth"), ({"max_bins": 1}, "max_bins")])
def test_bad_arguments(kwargs, match):
    X, R = _case(0)
    with pytest.raises(ProblemError, match=match):
        fit_policy_tree(X, R, **kwargs)
    with pytest.raises(ProblemError, match="same rows"):
        fit_policy_tree(X.iloc[:3], R)
