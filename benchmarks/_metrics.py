"""Segment quality: sizes and balance, tree fidelity, stability across bootstrap resamples.

- **sizes / balance**: shares of the offered treatments, largest first; ``balance`` is the
  effective number of segments ``exp(entropy of the shares)`` divided by the number of
  segments (1 = equal sizes, near 0 = one segment holds almost everyone).
- **fidelity**: cross-validated accuracy with which a shallow decision tree on the
  customers' features reproduces the assignment (can a marketer describe the segments with
  a few rules?). 1 means the segments are a depth-``d`` tree of features.
- **stability**: re-solve on bootstrap resamples of the individuals and compare the
  offered treatments with those of the full sample: mean Jaccard index of the offered sets
  and, for a 1-D numeric treatment, the mean distance from each offered level to the
  nearest level offered on the resample, as a share of the range of levels.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["segment_sizes", "fidelity", "stability", "offered_distance"]


def segment_sizes(assignment: np.ndarray) -> dict[str, object]:
    """Shares of the segments (largest first), their number, smallest share and balance."""
    _, counts = np.unique(np.asarray(assignment), return_counts=True)
    shares = np.sort(counts / counts.sum())[::-1]
    entropy = float(-(shares * np.log(shares)).sum())
    return {
        "segments": int(shares.size),
        "shares": [round(float(s), 4) for s in shares],
        "min_share": round(float(shares[-1]), 4),
        "balance": round(float(np.exp(entropy) / shares.size), 4),
    }


def fidelity(features: np.ndarray, assignment: np.ndarray, *, depth: int = 3, max_rows: int = 20_000,
             seed: int = 0) -> float:
    """3-fold cross-validated accuracy of a depth-``depth`` tree predicting ``assignment``."""
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(assignment)
    if np.unique(y).size < 2:
        return 1.0
    rng = np.random.default_rng(seed)
    if y.size > max_rows:
        rows = rng.choice(y.size, max_rows, replace=False)
        x, y = x[rows], y[rows]
    cv = KFold(n_splits=3, shuffle=True, random_state=seed)
    tree = DecisionTreeClassifier(max_depth=depth, random_state=seed)
    return round(float(cross_val_score(tree, x, y, cv=cv).mean()), 4)


def offered_distance(reference: np.ndarray, other: np.ndarray, levels: np.ndarray | None) -> float | None:
    """Mean distance from each reference level to the nearest ``other`` level, over the range."""
    if levels is None or len(reference) == 0 or len(other) == 0:
        return None
    levels = np.asarray(levels, dtype=np.float64)
    if levels.ndim != 1:
        return None
    span = float(levels.max() - levels.min()) or 1.0
    a, b = levels[np.asarray(reference)], levels[np.asarray(other)]
    return float(np.abs(a[:, None] - b[None, :]).min(axis=1).mean() / span)


def stability(solve_offered: Callable[[np.ndarray], np.ndarray], n: int, reference: np.ndarray, *,
              levels: np.ndarray | None = None, resamples: int = 5, seed: int = 0) -> dict[str, object]:
    """Compare ``reference`` with the offered sets found on bootstrap resamples.

    Parameters
    ----------
    solve_offered : callable
        ``rows -> offered column indices``: solve the same method on the individuals
        ``rows`` (drawn with replacement).
    n : int
        Number of individuals.
    reference : array of int
        The offered set on the full sample.
    levels : array of float, optional
        Numeric 1-D treatment levels, for the level distance.
    """
    rng = np.random.default_rng(seed)
    ref = set(np.asarray(reference).tolist())
    jaccard, distance = [], []
    for _ in range(resamples):
        rows = rng.integers(0, n, n)
        other = np.asarray(solve_offered(rows))
        got = set(other.tolist())
        jaccard.append(len(ref & got) / max(1, len(ref | got)))
        d = offered_distance(np.asarray(sorted(ref)), other, levels)
        if d is not None:
            distance.append(d)
    return {
        "jaccard": round(float(np.mean(jaccard)), 4),
        "level_shift": round(float(np.mean(distance)), 4) if distance else None,
        "resamples": resamples,
    }
