"""Segment rules people can read: an exact shallow policy tree over the offered treatments.

Given customers' features ``x_i`` and the estimated profit ``R_ij`` of giving customer ``i``
offered treatment ``j``, a policy tree of depth ``d`` (at most 3 here) maps each customer to
one treatment through at most ``d`` axis-aligned questions (``x_f <= t``). The tree returned
maximizes the total estimated profit of its assignment,

.. math::

    \\max_{T \\in \\mathcal{T}_d} \\sum_i R_{i, T(x_i)},

over every tree of depth ``d`` whose thresholds are *candidate thresholds*: every distinct
value of a feature when it has at most ``max_bins`` of them, else ``max_bins - 1`` quantile
cut points. This is the exhaustive search of R ``policytree`` (Sverdrup, Kanodia, Zhou,
Athey & Wager 2020, *policytree: Policy learning via doubly robust empirical welfare
maximization over trees*, JOSS; Zhou, Athey & Wager 2023, *Offline multi-action policy
learning*, Operations Research), made fast by binning each feature once and working on
cumulative sums of the profits:

- depth 1: per feature, the cumulative sums over its bins give every split's value in one
  pass (``O(n p s)``);
- depth 2: the profit sums over pairs of bins of every pair of features, cumulated along both,
  give the best depth-1 tree on each side of every top split (``O(n p^2 s + p^2 B^2 s)``);
- depth 3: the same with triples of features (``O(n p^3 s + p^3 B^3 s)``).

Here ``n`` customers, ``p`` features, ``s`` offered treatments, ``B`` bins a feature.
Unlike a greedy tree (EconML's ``DRPolicyTree``), the split at the root is chosen knowing the
best subtrees below it. A split whose two sides give the same treatment is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import ProblemError

__all__ = ["PolicyTree", "fit_policy_tree", "DEFAULT_BINS"]

#: Candidate thresholds a feature (``max_bins``) by depth: exact search stays fast on 10^5
#: customers and a dozen features (``benchmarks/apply.py``).
DEFAULT_BINS = {1: 256, 2: 64, 3: 16}


# ---------------------------------------------------------------------- the search
def _bins(X: np.ndarray, max_bins: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bin codes (n, p) and, per feature, the largest value of each bin (the thresholds)."""
    n, p = X.shape
    codes = np.empty((n, p), dtype=np.int64)
    tops = []
    for f in range(p):
        values = np.unique(X[:, f])
        if values.size > max_bins:
            cuts = np.unique(np.quantile(X[:, f], np.arange(1, max_bins) / max_bins, method="inverted_cdf"))
            values = np.concatenate([cuts[cuts < values[-1]], values[-1:]])
        code = np.searchsorted(values, X[:, f], side="left")  # x <= values[b]  <=>  code <= b
        codes[:, f] = code
        distinct = np.unique(X[:, f])
        above = distinct[np.minimum(np.searchsorted(distinct, values, side="right"), distinct.size - 1)]
        tops.append(np.array([_round_between(lo, hi) for lo, hi in zip(values, above)]))
    return codes, tops


def _round_between(lo: float, hi: float) -> float:
    """The shortest decimal ``d`` with ``lo <= d < hi`` (``lo`` when none is shorter): the
    same split of the customers as ``x <= lo``, written as a person would."""
    if not hi > lo:
        return float(lo)
    for k in range(-6, 17):
        d = float(np.ceil(lo * 10.0**k) / 10.0**k) if k >= 0 else float(np.ceil(lo / 10.0**-k) * 10.0**-k)
        if lo <= d < hi:
            return d
    return float(lo)


def _hist(codes: np.ndarray, R: np.ndarray, cols: tuple[int, ...], B: int) -> np.ndarray:
    """Profit sums by the bins of the features ``cols``: shape (B,) * len(cols) + (s,)."""
    flat = np.zeros(codes.shape[0], dtype=np.int64)
    for f in cols:
        flat = flat * B + codes[:, f]
    size = B ** len(cols)
    out = np.stack([np.bincount(flat, weights=R[:, j], minlength=size) for j in range(R.shape[1])], axis=-1)
    return out.reshape((B,) * len(cols) + (R.shape[1],))


def _v1(H: np.ndarray) -> np.ndarray:
    """Best depth-1 value of sets given by their per-feature histograms ``H (..., p, B, s)``
    (a split at the last bin puts everyone left: the leaf)."""
    C = np.cumsum(H, axis=-2)
    total = C[..., -1:, :]
    return (C.max(axis=-1) + (total - C).max(axis=-1)).max(axis=(-1, -2))


def _v2(H2: np.ndarray) -> np.ndarray:
    """Best depth-2 value of sets given by pair histograms ``H2 (..., p, p, B, B, s)``
    (``H2[f, g, a, c]``: profit of the customers in bin ``a`` of f and bin ``c`` of g)."""
    L = np.cumsum(H2, axis=-3)  # (..., f, g, b, c, s): customers with bin_f <= b
    L = np.moveaxis(L, -3, -4)  # (..., f, b, g, c, s)
    total = H2[..., 0:1, :, :, :, :].sum(axis=-3)  # (..., 1, g, c, s): the whole set per feature g
    total = np.expand_dims(total, -4)  # (..., 1, 1, g, c, s)
    children = _v1(L) + _v1(total - L)  # (..., f, b)
    return children.max(axis=(-1, -2))


def _split_values(codes: np.ndarray, R: np.ndarray, depth: int, B: int) -> np.ndarray:
    """``value[f, b]``: best total of a depth-``depth`` tree whose root splits f after bin b."""
    p = codes.shape[1]
    if depth == 1:
        H = np.stack([_hist(codes, R, (f,), B) for f in range(p)])  # (p, B, s)
        C = np.cumsum(H, axis=1)
        return C.max(axis=-1) + (C[:, -1:, :] - C).max(axis=-1)
    out = np.empty((p, B))
    if depth == 2:
        for f in range(p):
            H2 = np.stack([_hist(codes, R, (f, g), B) for g in range(p)])  # (g, a, c, s)
            left = np.moveaxis(np.cumsum(H2, axis=1), 1, 0)  # (b, g, c, s)
            whole = H2.sum(axis=1)[None]  # (1, g, c, s)
            out[f] = _v1(left) + _v1(whole - left)
        return out
    H2_all = np.stack([np.stack([_hist(codes, R, (g, h), B) for h in range(p)]) for g in range(p)])
    for f in range(p):
        H3 = np.stack([np.stack([_hist(codes, R, (f, g, h), B) for h in range(p)]) for g in range(p)])
        left = np.moveaxis(np.cumsum(H3, axis=2), 2, 0)  # (b, g, h, c, e, s)
        out[f] = _v2(left) + _v2(H2_all[None] - left)
    return out


def _grow(codes: np.ndarray, R: np.ndarray, depth: int, B: int, tops: list, names: list, labels: list) -> dict:
    total = R.sum(axis=0)
    leaf = {"treatment": labels[int(total.argmax())]}
    if depth == 0 or codes.shape[0] < 2:
        return leaf
    values = _split_values(codes, R, depth, B)
    f, b = np.unravel_index(int(values.argmax()), values.shape)
    best = float(values[f, b])
    tol = 1e-9 * (1.0 + float(np.abs(R).sum()))
    if best <= float(total.max()) + tol or b >= tops[f].size - 1:
        return leaf
    go_left = codes[:, f] <= b
    left = _grow(codes[go_left], R[go_left], depth - 1, B, tops, names, labels)
    right = _grow(codes[~go_left], R[~go_left], depth - 1, B, tops, names, labels)
    if "treatment" in left and "treatment" in right and left["treatment"] == right["treatment"]:
        return left
    return {"feature": names[f], "threshold": _number(tops[f][b]), "left": left, "right": right}


def _number(x: Any) -> float | int:
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


# ---------------------------------------------------------------------- the result
@dataclass(frozen=True)
class PolicyTree:
    """A fitted policy tree: who gets which offered treatment, as questions about features.

    Attributes
    ----------
    tree : dict
        Nested JSON-ready nodes: ``{"feature", "threshold", "left", "right"}`` (customers with
        ``feature <= threshold`` go left) or ``{"treatment"}`` at a leaf.
    depth : int
        The depth searched (the tree may be shallower where a split does not pay).
    treatments : list
        The offered treatments it chooses among.
    features : list of str
        The (encoded) feature columns it may ask about.
    categories : dict
        ``encoded column -> (column, category)`` for one-hot columns, to write
        ``column = 'category'`` instead of a threshold on a 0/1 column.
    max_bins : int
        Candidate thresholds a feature.
    kept : float or None
        Share of the model-based assignment's estimated profit that the tree keeps on the
        customers it was fitted on (set by :func:`fit_policy_tree` when given that value).
    value : float
        Total estimated profit of the tree's assignment on those customers.
    """

    tree: dict
    depth: int
    treatments: list
    features: list
    categories: dict = field(default_factory=dict)
    max_bins: int = 0
    kept: float | None = None
    value: float = float("nan")

    # -------------------------------------------------------------- use
    def predict(self, X: Any) -> np.ndarray:
        """The treatment of every row of ``X`` (a DataFrame with the encoded feature columns)."""
        n = len(X)
        out = np.empty(n, dtype=object)
        self._fill(self.tree, X, np.arange(n), out)
        return out

    def _fill(self, node: dict, X: Any, rows: np.ndarray, out: np.ndarray) -> None:
        if "treatment" in node:
            out[rows] = node["treatment"]
            return
        col = np.asarray(X[node["feature"]], dtype=np.float64)[rows]
        left = col <= node["threshold"]
        self._fill(node["left"], X, rows[left], out)
        self._fill(node["right"], X, rows[~left], out)

    # -------------------------------------------------------------- readable forms
    def _condition(self, node: dict, left: bool, sql: bool) -> str:
        feat, thr = node["feature"], node["threshold"]
        if feat in self.categories and 0 <= thr < 1:  # a one-hot column: "is (not) this category"
            col, cat = self.categories[feat]
            op = ("<>" if sql else "!=") if left else "="
            return f"{_sql_name(col) if sql else col} {op} {_literal(cat)}"
        op = "<=" if left else ">"
        name = _sql_name(feat) if sql else feat
        return f"{name} {op} {thr}"

    @property
    def text(self) -> str:
        """The tree as if / else lines."""
        lines: list[str] = []

        def walk(node: dict, indent: str) -> None:
            if "treatment" in node:
                lines.append(f"{indent}offer {_literal(node['treatment'])}")
                return
            lines.append(f"{indent}if {self._condition(node, True, False)}:")
            walk(node["left"], indent + "    ")
            lines.append(f"{indent}else:  # {self._condition(node, False, False)}")
            walk(node["right"], indent + "    ")

        walk(self.tree, "")
        return "\n".join(lines)

    @property
    def sql(self) -> str:
        """The tree as one SQL ``CASE`` expression over the input columns."""
        if "treatment" in self.tree:
            return f"CASE WHEN 1 = 1 THEN {_literal(self.tree['treatment'])} END"
        parts: list[str] = []

        def walk(node: dict, conds: list[str]) -> None:
            if "treatment" in node:
                parts.append(f"  WHEN {' AND '.join(conds)} THEN {_literal(node['treatment'])}")
                return
            walk(node["left"], conds + [self._condition(node, True, True)])
            walk(node["right"], conds + [self._condition(node, False, True)])

        walk(self.tree, [])
        return "CASE\n" + "\n".join(parts) + "\nEND"

    def to_dict(self) -> dict:
        """JSON-ready: ``depth``, ``text``, ``sql``, ``tree``, ``kept`` and the rest."""
        return {
            "depth": self.depth,
            "text": self.text,
            "sql": self.sql,
            "tree": self.tree,
            "kept": self.kept,
            "value": self.value,
            "treatments": list(self.treatments),
            "features": list(self.features),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "max_bins": self.max_bins,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "PolicyTree":
        """The inverse of :meth:`to_dict`."""
        return cls(
            tree=d["tree"], depth=int(d["depth"]), treatments=list(d["treatments"]), features=list(d["features"]),
            categories={k: tuple(v) for k, v in d.get("categories", {}).items()}, max_bins=int(d.get("max_bins", 0)),
            kept=d.get("kept"), value=float(d["value"]) if d.get("value") is not None else float("nan"),
        )

    def __str__(self) -> str:
        return self.text


def _sql_name(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def fit_policy_tree(
    X: Any,
    profit: Any,
    *,
    depth: int = 2,
    max_bins: int | None = None,
    categories: dict | None = None,
    reference: float | None = None,
) -> PolicyTree:
    """The exact depth-``depth`` policy tree maximizing the total estimated profit.

    Parameters
    ----------
    X : pandas.DataFrame of shape (n, p)
        Numeric (encoded) features of the customers.
    profit : pandas.DataFrame of shape (n, s)
        Estimated profit of each customer under each offered treatment (columns: the
        treatment labels).
    depth : {1, 2, 3}, default 2
    max_bins : int, optional
        Candidate thresholds a feature (default :data:`DEFAULT_BINS` by depth).
    categories : dict, optional
        ``encoded column -> (column, category)`` of one-hot columns (for readable rules).
    reference : float, optional
        Total estimated profit of the model-based assignment on these customers: sets
        ``kept = value / reference`` (None when ``reference <= 0``).

    Returns
    -------
    PolicyTree

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [20, 30, 40, 50]})
    >>> R = pd.DataFrame({"a": [1.0, 1.0, 0.0, 0.0], "b": [0.0, 0.0, 2.0, 2.0]})
    >>> print(fit_policy_tree(X, R, depth=1).text)
    if age <= 30:
        offer 'a'
    else:  # age > 30
        offer 'b'
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not 1 <= depth <= 3:
        raise ProblemError(f"The 'depth' parameter of fit_policy_tree must be 1, 2 or 3. Got {depth!r} instead.")
    B = DEFAULT_BINS[int(depth)] if max_bins is None else max_bins
    if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < 2:
        raise ProblemError(f"The 'max_bins' parameter must be an int >= 2. Got {max_bins!r} instead.")
    names = [str(c) for c in X.columns]
    Xv = np.asarray(X, dtype=np.float64)
    R = np.asarray(profit, dtype=np.float64)
    labels = list(profit.columns)
    if Xv.ndim != 2 or R.ndim != 2 or Xv.shape[0] != R.shape[0] or Xv.shape[0] == 0:
        raise ProblemError(
            f"'X' and 'profit' must have the same rows (>= 1); got shapes {Xv.shape} and {R.shape}."
        )
    if not (np.isfinite(Xv).all() and np.isfinite(R).all()):
        raise ProblemError("'X' and 'profit' must be finite; drop or impute missing values first.")
    codes, tops = _bins(Xv, int(B))
    tree = _grow(codes, R, int(depth), int(B), tops, names, labels)
    out = PolicyTree(tree=tree, depth=int(depth), treatments=labels, features=names,
                     categories=dict(categories or {}), max_bins=int(B))
    col = {lab: j for j, lab in enumerate(labels)}
    picked = np.array([col[t] for t in out.predict(X)])
    value = float(R[np.arange(len(picked)), picked].sum())
    kept = value / reference if reference is not None and reference > 0 else None
    return PolicyTree(tree=tree, depth=out.depth, treatments=labels, features=names, categories=out.categories,
                      max_bins=out.max_bins, kept=kept, value=value)
