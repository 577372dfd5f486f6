"""The mixed-integer formulations of the coarse personalization problem, as sparse arrays.

One :class:`Formulation` holds a model in the form every backend understands::

    maximize    constant + c @ v
    subject to  row_lower <= A @ v <= row_upper,   col_lower <= v <= col_upper,
                v_j integer where ``integer[j]``

with named *column families* (``y``: one binary per treatment; ``x``: assignment variables
of the classic model; ``z``: the "none of my top-r treatments is offered" variables of the
radius model) and named *row families* (``cardinality``, ``assign``, ``link``, ``chain``,
``min_share``, ``budget``, ...). The HiGHS path passes the arrays straight to the solver; the
Pyomo path (:func:`coarseopt_solvers.mip.build_model`) builds one named, indexed Pyomo
component per family from the very same arrays, so both describe the same model.

Formulations (``P`` is the ``n x m`` profit matrix, ``S`` the offered set, ``k`` its size limit)

*classic* (the reference; Cornuéjols, Nemhauser & Wolsey 1980)::

    max  sum_ij P_ij x_ij
    s.t. sum_j x_ij = 1 (i),   x_ij <= y_j (i, j),   1 <= sum_j y_j <= k,
         y binary, 0 <= x <= 1.

*radius* (Cornuéjols, Nemhauser & Wolsey 1980; Elloumi 2010; García, Labbé & Marín 2011).
Sort row ``i`` descending, ``v_i1 >= v_i2 >= ...``, with top-r sets ``T_i^r``. Then
``max_{j in S} P_ij = v_i1 - sum_r (v_ir - v_i,r+1) z_i^r`` where ``z_i^r = 1`` when no
treatment of ``T_i^r`` is offered. Levels with a zero gap are dropped, and only
``r <= m - k`` matter (a set of ``m - k + 1`` treatments always meets ``S`` when ``|S| = k``).
The linking constraints are written as a chain over the kept levels
``r_1 < r_2 < ...`` of each individual::

    z_i^{r_1} + sum_{j in T_i^{r_1}} y_j >= 1,
    z_i^{r_t} - z_i^{r_{t-1}} + sum_{j in T_i^{r_t} \\ T_i^{r_{t-1}}} y_j >= 0,

which implies ``z_i^r >= 1 - sum_{j in T_i^r} y_j`` and gives the same LP bound as the
classic model, with ``O(m)`` nonzeros per individual instead of ``O(m^2)``.

*aggregated*: the radius model in which every distinct prefix set ``T`` carries one variable
``z_T`` whose objective coefficient is the sum of the gaps of all ``(i, r)`` with
``T_i^r = T``; each distinct (parent set, child set) pair of consecutive kept levels gives
one chain row ``z_T - z_T' + sum_{j in T \\ T'} y_j >= 0``. Exact, and for profit curves that
are smooth in an ordered treatment the number of distinct sets does not grow with ``n``.

Side constraints (any formulation): forced (``y_j = 1``), forbidden (``y_j = 0``, the column
leaves every prefix set), mutually exclusive pairs (``y_a + y_b <= 1``). Constraints on
the assignment itself (share bounds ``lo_j y_j <= sum_i x_ij <= hi_j y_j`` and a budget
``sum_ij cost_ij x_ij <= B``) need the ``x`` variables: the classic model.

References
----------
Cornuéjols, G., Nemhauser, G. L., & Wolsey, L. A. (1980). A canonical representation of
simple plant location problems and its applications. SIAM J. Algebraic Discrete Methods 1(3).
Elloumi, S. (2010). A tighter formulation of the p-median problem. J. Comb. Optim. 19(1).
García, S., Labbé, M., & Marín, A. (2011). Solving large p-median problems with a radius
formulation. INFORMS J. Computing 23(4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..kernels.blocks import top_entries

__all__ = ["Formulation", "SideConstraints", "PrefixSets", "prefix_sets", "classic", "radius", "identical_rows",
           "expand_counts"]


# ---------------------------------------------------------------------- side constraints
@dataclass(frozen=True)
class SideConstraints:
    """Business constraints, already resolved to column indices.

    Attributes
    ----------
    forced, forbidden : ndarray of int
        Treatments that must / must not be offered.
    exclusive : ndarray of shape (q, 2)
        Pairs of treatments that may not both be offered.
    cost : ndarray of shape (n, m) or None
        ``cost[i, j]``: the cost of giving treatment ``j`` to individual ``i``.
    budget : float or None
        Upper bound on ``sum_i cost[i, a(i)]``.
    min_count, max_count : ndarray of shape (m,) or None
        Share bounds as counts of individuals (from the problem).
    """

    forced: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    forbidden: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    exclusive: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.intp))
    cost: np.ndarray | None = None
    budget: float | None = None
    min_count: np.ndarray | None = None
    max_count: np.ndarray | None = None

    @property
    def needs_assignment(self) -> bool:
        """Whether a constraint acts on the assignment (then only ``classic`` applies)."""
        return self.min_count is not None or self.budget is not None

    def without(self, family: str) -> "SideConstraints":
        """A copy with one family (``"budget"``, ``"shares"``, ``"exclusive"``,
        ``"forced"``, ``"forbidden"``) removed: used to tell which one makes a model infeasible."""
        empty = np.zeros(0, dtype=np.intp)
        changes = {
            "budget": dict(cost=None, budget=None),
            "shares": dict(min_count=None, max_count=None),
            "exclusive": dict(exclusive=np.zeros((0, 2), dtype=np.intp)),
            "forced": dict(forced=empty),
            "forbidden": dict(forbidden=empty),
        }[family]
        data = {f: getattr(self, f) for f in self.__dataclass_fields__}
        data.update(changes)
        return SideConstraints(**data)


# ---------------------------------------------------------------------- the model arrays
@dataclass
class Formulation:
    """A maximization MIP in sparse array form, with named column and row families.

    ``columns[name] = (start, stop)`` and ``rows[name] = (start, stop)`` give the index
    ranges of each family. ``nodes`` describes the ``z`` columns of a radius model (for each
    ``z`` column: one representative ``(individual, level)``); ``x_index`` the ``(i, j)`` pair
    of each ``x`` column of a classic model.
    """

    kind: str
    n: int
    m: int
    k: int
    constant: float
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    matrix: sparse.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    columns: dict
    rows: dict
    x_index: np.ndarray | None = None
    stats: dict = field(default_factory=dict)

    @property
    def num_col(self) -> int:
        return int(self.cost.size)

    @property
    def num_row(self) -> int:
        return int(self.row_lower.size)

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    def y_values(self, col_value: np.ndarray) -> np.ndarray:
        a, b = self.columns["y"]
        return np.asarray(col_value[a:b])

    def start_vector(self, profit: np.ndarray, offered: np.ndarray, assignment: np.ndarray | None = None,
                     prefix: "PrefixSets | None" = None) -> np.ndarray:
        """A full column vector for the offered set (a warm start for the backend)."""
        v = np.zeros(self.num_col)
        a, b = self.columns["y"]
        v[a + np.asarray(offered, dtype=np.intp)] = 1.0
        if self.kind == "classic":
            if assignment is None:
                sub = profit[:, offered]
                assignment = np.asarray(offered)[sub.argmax(axis=1)]
            lookup = {(int(i), int(j)): c for c, (i, j) in enumerate(self.x_index)}
            xa, _ = self.columns["x"]
            for i, j in enumerate(assignment):
                c = lookup.get((i, int(j)))
                if c is not None:
                    v[xa + c] = 1.0
        elif prefix is not None and "z" in self.columns:
            za, zb = self.columns["z"]
            v[za:zb] = prefix.node_values(offered)
        return v


def _stack_rows(blocks: list[tuple[str, sparse.spmatrix, np.ndarray, np.ndarray]], num_col: int):
    mats, lows, ups, rows = [], [], [], {}
    start = 0
    for name, mat, lo, up in blocks:
        if mat.shape[0] == 0:
            continue
        mats.append(mat.tocsr())
        lows.append(np.broadcast_to(np.asarray(lo, dtype=float), (mat.shape[0],)))
        ups.append(np.broadcast_to(np.asarray(up, dtype=float), (mat.shape[0],)))
        rows[name] = (start, start + mat.shape[0])
        start += mat.shape[0]
    if mats:
        matrix = sparse.vstack(mats, format="csr")
        return matrix, np.concatenate(lows), np.concatenate(ups), rows
    return sparse.csr_matrix((0, num_col)), np.zeros(0), np.zeros(0), rows


def _treatment_rows(m: int, k: int, side: SideConstraints, num_col: int) -> list:
    """Rows on ``y`` only: cardinality, at least one treatment, exclusive pairs."""
    ones = sparse.csr_matrix((np.ones(m), (np.zeros(m, dtype=np.intp), np.arange(m))), shape=(1, num_col))
    blocks = [("cardinality", ones, 1.0, float(k))]
    q = side.exclusive.shape[0]
    if q:
        r = np.repeat(np.arange(q), 2)
        excl = sparse.csr_matrix((np.ones(2 * q), (r, side.exclusive.reshape(-1))), shape=(q, num_col))
        blocks.append(("exclusive", excl, -np.inf, 1.0))
    return blocks


def _y_bounds(m: int, side: SideConstraints) -> tuple[np.ndarray, np.ndarray]:
    lo, up = np.zeros(m), np.ones(m)
    lo[side.forced] = 1.0
    up[side.forbidden] = 0.0
    if side.min_count is not None:
        up[side.min_count > side.max_count] = 0.0  # cannot be offered within its share bounds
    return lo, up


# ---------------------------------------------------------------------- classic
def classic(profit: np.ndarray, k: int, side: SideConstraints, weights: np.ndarray | None = None) -> Formulation:
    """The classic (strong) facility-location formulation; see the module docstring.

    ``x_ij`` exists only for allowed (not forbidden) treatments. With share bounds the rows
    ``lo_j y_j <= sum_i x_ij <= hi_j y_j`` are added; with a budget, ``sum cost_ij x_ij <= B``
    and ``x`` becomes binary (a budget breaks the integrality of the assignment polytope).

    With ``weights`` each row stands for ``weights[g]`` identical individuals (same profit
    row and, with a budget, the same cost row; see :func:`identical_rows`): ``x_gj`` is then
    the *number* of them given ``j`` (an integer in ``[0, w_g]``), ``sum_j x_gj = w_g`` and
    ``x_gj <= w_g y_j``. The model is exact: identical individuals are interchangeable.
    """
    n, m = profit.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    allowed = np.setdiff1d(np.arange(m), side.forbidden)
    s = allowed.size
    nx = n * s
    num_col = m + nx
    ii = np.repeat(np.arange(n), s)
    jj = np.tile(allowed, n)
    xcol = m + np.arange(nx)
    cost = np.concatenate([np.zeros(m), profit[ii, jj]])
    ylo, yup = _y_bounds(m, side)
    col_lower = np.concatenate([ylo, np.zeros(nx)])
    col_upper = np.concatenate([yup, w[ii]])
    integer = np.zeros(num_col, dtype=bool)
    integer[:m] = True
    if side.budget is not None or weights is not None:
        integer[m:] = True
    assign = sparse.csr_matrix((np.ones(nx), (ii, xcol)), shape=(n, num_col))
    r = np.arange(nx)
    link = sparse.csr_matrix(
        (np.concatenate([np.ones(nx), -w[ii]]), (np.concatenate([r, r]), np.concatenate([xcol, jj]))),
        shape=(nx, num_col),
    )
    blocks = [("assign", assign, w, w), ("link", link, -np.inf, 0.0)]
    blocks += _treatment_rows(m, k, side, num_col)
    if side.min_count is not None:
        # sum_i x_ij - lo_j y_j >= 0 and sum_i x_ij - hi_j y_j <= 0, one row per allowed j
        t = np.searchsorted(allowed, jj)
        total = float(w.sum())
        for name, counts, lo, up in (("min_share", side.min_count, 0.0, np.inf),
                                     ("max_share", side.max_count, -np.inf, 0.0)):
            c = np.minimum(counts[allowed], total).astype(float)
            mat = sparse.csr_matrix(
                (np.concatenate([np.ones(nx), -c]),
                 (np.concatenate([t, np.arange(s)]), np.concatenate([xcol, allowed]))),
                shape=(s, num_col),
            )
            blocks.append((name, mat, lo, up))
    if side.budget is not None:
        bc = side.cost[ii, jj]
        mat = sparse.csr_matrix((bc, (np.zeros(nx, dtype=np.intp), xcol)), shape=(1, num_col))
        blocks.append(("budget", mat, -np.inf, float(side.budget)))
    matrix, row_lower, row_upper, rows = _stack_rows(blocks, num_col)
    return Formulation(
        kind="classic", n=n, m=m, k=k, constant=0.0, cost=cost, col_lower=col_lower,
        col_upper=col_upper, integer=integer, matrix=matrix, row_lower=row_lower,
        row_upper=row_upper, columns={"y": (0, m), "x": (m, num_col)}, rows=rows,
        x_index=np.column_stack([ii, jj]),
        stats={"variables": num_col, "rows": int(row_lower.size), "nonzeros": int(matrix.nnz)},
    )


def identical_rows(profit: np.ndarray, cost: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups of individuals with the same profit row (and the same cost row when ``cost`` is
    given): ``(first, inverse, counts)``, ``first[g]`` a member of group ``g``,
    ``inverse[i]`` the group of individual ``i``, ``counts[g]`` its size."""
    data = profit if cost is None else np.hstack([profit, np.asarray(cost)])
    data = np.ascontiguousarray(data, dtype=np.float64)
    _, first, inverse, counts = np.unique(data, axis=0, return_index=True, return_inverse=True, return_counts=True)
    return first, inverse.reshape(-1), counts


def expand_counts(counts: np.ndarray, inverse: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """An assignment of individuals from per-group counts ``counts[g, t]`` (how many members of
    group ``g`` get ``columns[t]``; each row sums to the group's size), members in row order."""
    counts = np.rint(counts).astype(np.int64)
    members = np.argsort(inverse, kind="stable")  # individuals grouped, groups in order
    treatment = np.repeat(np.tile(columns, counts.shape[0]), counts.reshape(-1))
    out = np.empty(inverse.size, dtype=np.intp)
    out[members] = treatment
    return out


# ---------------------------------------------------------------------- radius
@dataclass
class PrefixSets:
    """The kept prefix sets of the radius model (see :func:`prefix_sets`).

    Attributes
    ----------
    order : ndarray (g, R)
        Column indices in descending profit order, for each group of individuals (a group
        is one individual, or, aggregated, all individuals with the same top-R order).
    node_of_level : ndarray (N,), level : ndarray (N,), group : ndarray (N,)
        For each kept ``(group, level)`` pair: its ``z`` node, its level ``r`` and group.
    node_coef : ndarray (num_nodes,)
        Objective coefficient (summed gaps) of each node.
    node_rep : ndarray (num_nodes,)
        One pair index per node (its representative).
    constant : float
        ``sum_i v_i1``.
    """

    order: np.ndarray
    group: np.ndarray
    level: np.ndarray
    node_of_level: np.ndarray
    node_coef: np.ndarray
    node_rep: np.ndarray
    constant: float
    R: int
    stats: dict

    @property
    def num_nodes(self) -> int:
        return int(self.node_coef.size)

    def node_values(self, offered: np.ndarray) -> np.ndarray:
        """``z_T = 1`` when no treatment of ``T`` is offered, for every node."""
        offered = np.asarray(offered, dtype=np.intp)
        if self.num_nodes == 0:
            return np.zeros(0)
        size = max(int(self.order.max(initial=0)), int(offered.max(initial=0))) + 1
        hit = np.zeros(size, dtype=bool)
        hit[offered] = True
        h = hit[self.order]  # (groups, R)
        # position of the first offered treatment in each group's order; z = 1 iff it is >= r
        first = np.where(h.any(axis=1), h.argmax(axis=1), self.order.shape[1])
        g = self.group[self.node_rep]
        r = self.level[self.node_rep]
        return (first[g] >= r).astype(float)


def _sorted_top(profit: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices of the ``width`` largest entries of each row, in descending order, and
    their values; in row blocks to bound the temporary memory."""
    n, m = profit.shape
    idx_dtype = np.uint8 if m <= 256 else (np.uint16 if m <= 65536 else np.int32)
    order = np.empty((n, width), dtype=idx_dtype)
    vals = np.empty((n, width), dtype=np.float64)
    step = max(1, 4_000_000 // m)
    for s in range(0, n, step):
        order[s : s + step], vals[s : s + step] = top_entries(np.asarray(profit[s : s + step], dtype=np.float64), width)
    return order, vals


def _group_rows(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of ``order``: (index of a representative per group, group of each
    row). Hashes each row to 64 bits (a random linear form modulo 2**64, in row blocks), then
    verifies every row against its group's representative, so a hash collision can never
    merge different rows."""
    n, width = order.shape
    rng = np.random.default_rng(12345)
    w = rng.integers(1, 2**63 - 1, size=width, dtype=np.int64).astype(np.uint64)
    h = np.empty(n, dtype=np.uint64)
    step = max(1, (1 << 22) // max(1, width))
    for s in range(0, n, step):
        block = order[s : s + step].astype(np.uint64)
        block += np.uint64(1)
        block *= w
        h[s : s + step] = block.sum(axis=1, dtype=np.uint64)  # wraps around modulo 2**64
    _, rep, inv = np.unique(h, return_index=True, return_inverse=True)
    if not np.array_equal(order, order[rep[inv]]):  # a collision: fall back to exact rows
        _, rep, inv = np.unique(order, axis=0, return_index=True, return_inverse=True)
    return rep, inv.reshape(-1)


@dataclass
class SortedRows:
    """Each row's ``R + 1`` best allowed treatments in descending order (``order``: positions
    among ``allowed``; ``vals``: their profits) and the grouping of the rows by their top-``R``
    order (``rep``: a representative row per group, ``inv``: the group of each row). Shared by
    :func:`prefix_sets` and the Benders groups, which sort and group the same way."""

    R: int
    order: np.ndarray
    vals: np.ndarray
    rep: np.ndarray
    inv: np.ndarray


def sort_rows(profit: np.ndarray, allowed: np.ndarray, R: int) -> SortedRows:
    """Sort and group the rows of ``profit[:, allowed]`` (see :class:`SortedRows`)."""
    sub = profit if allowed.size == profit.shape[1] else profit[:, allowed]
    order, vals = _sorted_top(sub, R + 1)
    if R > 0 and profit.shape[0] > 1:
        rep, inv = _group_rows(order[:, :R])
    else:
        rep, inv = np.zeros(1, dtype=np.intp), np.zeros(profit.shape[0], dtype=np.intp)
    return SortedRows(R=R, order=order, vals=vals, rep=rep, inv=inv)


def prefix_levels(num_allowed: int, k: int, full_range: bool) -> int:
    """The number ``R`` of kept levels: ``m' - k``, or ``m' - 1`` with ``full_range``."""
    return num_allowed - 1 if full_range else max(0, num_allowed - min(k, num_allowed))


def prefix_sets(profit: np.ndarray, k: int, *, aggregate: bool, allowed: np.ndarray | None = None,
                full_range: bool = False, rows: SortedRows | None = None,
                max_nodes: int | None = None) -> PrefixSets | None:
    """Sorted prefixes of each row and the distinct kept prefix sets.

    Parameters
    ----------
    profit : ndarray (n, m)
    k : int
        Size limit of the offered set; only levels ``r <= m' - k`` are kept (``m'`` the number
        of allowed treatments), or all ``r <= m' - 1`` with ``full_range`` (when fewer than
        ``k`` treatments might be offered, e.g. under exclusive pairs).
    aggregate : bool
        Give individuals with the same prefix set one node (the *aggregated* model).
    allowed : ndarray of int, optional
        Treatments that may be offered (default: all).
    rows : SortedRows, optional
        The rows already sorted and grouped by :func:`sort_rows` (same ``allowed`` and levels).
    max_nodes : int, optional
        With ``aggregate``: return ``None`` as soon as it is clear that there are more
        distinct prefix sets than this (:func:`count_prefix_sets`, level by level), without
        building them all (noisy curves have about one per individual and level).

    Notes
    -----
    Each row is sorted once (``argpartition`` when few levels matter). With ``aggregate``
    individuals are first grouped by their whole top-R order (their gap vectors summed), then
    each kept prefix set is encoded exactly as a bitmask over the treatments (``ceil(m / 64)``
    words built by a cumulative sum along the sorted order) and de-duplicated with
    ``numpy.unique``.
    """
    n, m = profit.shape
    allowed = np.arange(m) if allowed is None else np.asarray(allowed, dtype=np.intp)
    R = prefix_levels(allowed.size, k, full_range)
    if rows is None or rows.R != R:
        rows = sort_rows(profit, allowed, R) if aggregate else None
    if rows is None:  # the radius model: no grouping needed
        sub = profit if allowed.size == m else profit[:, allowed]
        order_loc, vals = _sorted_top(sub, R + 1)
    else:
        order_loc, vals = rows.order, rows.vals
    constant = float(vals[:, 0].sum())
    stats = {"individuals": n, "levels": R}
    if aggregate and n > 1 and R > 0:
        rep, inv = rows.rep, rows.inv
        g = rep.size
        stats["groups"] = int(g)
        # count first when most groups are single individuals (noisy curves: the count stops
        # after a few levels, before any gap is summed), else after summing the groups' gaps
        count_first = max_nodes is not None and 2 * g > n
        if count_first:
            def kept_at(r: int) -> np.ndarray:
                positive = vals[:, r] > vals[:, r + 1]
                return positive[rep] if g == n else np.bincount(inv, weights=positive, minlength=g) > 0

            if count_prefix_sets(order_loc[rep], kept_at, R, allowed.size, max_nodes) is None:
                return None
        gaps = vals[:, :-1] - vals[:, 1:]  # (n, R): gap of level r = 1..R
        if g < n:
            gsum = np.zeros((g, R))
            for c in range(R):
                gsum[:, c] = np.bincount(inv, weights=gaps[:, c], minlength=g)
            gaps = gsum
            order_loc = order_loc[rep]
        if max_nodes is not None and not count_first and count_prefix_sets(
                order_loc, lambda r: gaps[:, r] > 0, R, allowed.size, max_nodes) is None:
            return None
    else:
        gaps = vals[:, :-1] - vals[:, 1:]
    del vals
    return prefix_nodes(order_loc, gaps, allowed, m, constant, R, stats, aggregate=aggregate)


def count_prefix_sets(order_loc: np.ndarray, kept_at, levels: int, width: int, limit: int) -> int | None:
    """The number of distinct kept prefix sets of the groups' orders ``order_loc`` (positions
    among ``width`` allowed treatments), or ``None`` as soon as it exceeds ``limit``.
    ``kept_at(r)`` gives the groups that keep level ``r + 1`` (a positive gap there), for
    ``r < levels``; it is called only for the levels reached. Level by level (sets of
    different sizes never coincide): each group's set grows by one treatment (a bit of a
    ``ceil(width / 64)``-word mask), and the distinct masks among the groups that keep the
    level are counted."""
    g, R = order_loc.shape[0], int(levels)
    W = (width + 63) // 64
    keys = np.zeros((g, W), dtype=np.uint64)
    rows = np.arange(g)
    total = 0
    for r in range(R):
        col = order_loc[:, r].astype(np.int64)
        keys[rows, col // 64] |= np.left_shift(np.uint64(1), (col % 64).astype(np.uint64))
        kept = kept_at(r)
        if not kept.any():
            continue
        level = keys[kept]
        if W == 1:
            total += np.unique(level[:, 0]).size
        else:
            total += np.unique(np.ascontiguousarray(level).view(np.dtype((np.void, 8 * W))).reshape(-1)).size
        if total > limit:
            return None
    return total


def prefix_nodes(order_loc: np.ndarray, gaps: np.ndarray, allowed: np.ndarray, m: int, constant: float, R: int,
                 stats: dict, *, aggregate: bool) -> PrefixSets:
    """The kept levels and distinct prefix-set nodes of :func:`prefix_sets` from the groups'
    sorted orders ``order_loc`` (positions among ``allowed``) and their (summed) gap vectors
    ``gaps`` (g, R); shared with the chunked preprocessing of a lazy matrix."""
    order = allowed[order_loc[:, :R].astype(np.intp)] if R else np.zeros((gaps.shape[0], 0), dtype=np.intp)
    gi, lv = np.nonzero(gaps > 0)  # kept (group, level index r-1), sorted by group then level
    coef = gaps[gi, lv]
    level = lv + 1
    stats["kept_levels"] = int(gi.size)
    if aggregate and gi.size:
        W = (m + 63) // 64
        keys = np.zeros((gi.size, W), dtype=np.uint64)
        # bitmask of T^r = cumulative OR (a sum: the bits are distinct) of the first r columns
        word = order // 64
        bit = np.left_shift(np.uint64(1), (order % 64).astype(np.uint64))
        for w in range(W):
            cum = np.cumsum(np.where(word == w, bit, np.uint64(0)), axis=1, dtype=np.uint64)
            keys[:, w] = cum[gi, lv]
            del cum
        if W == 1:
            _, node_rep, node = np.unique(keys[:, 0], return_index=True, return_inverse=True)
        else:
            view = np.ascontiguousarray(keys).view(np.dtype((np.void, 8 * W))).reshape(-1)
            _, node_rep, node = np.unique(view, return_index=True, return_inverse=True)
        node = node.reshape(-1)
        node_coef = np.bincount(node, weights=coef)
    else:
        node = np.arange(gi.size)
        node_rep = np.arange(gi.size)
        node_coef = coef
    stats["nodes"] = int(node_coef.size)
    return PrefixSets(order=order, group=gi, level=level, node_of_level=node, node_coef=node_coef,
                      node_rep=node_rep, constant=constant, R=R, stats=stats)


def radius(profit: np.ndarray, k: int, side: SideConstraints, *, aggregate: bool,
           prefix: PrefixSets | None = None, any_size: bool = False) -> tuple[Formulation, PrefixSets]:
    """The radius formulation (``aggregate=False``) or its aggregated form; see the module
    docstring. Returns the model and the prefix sets it was built from.

    With ``any_size`` (or exclusive pairs) every level ``r <= m' - 1`` is kept, so that the
    objective is exact for an offered set of any size (needed when further constraints
    might keep fewer than ``k`` treatments offered); otherwise it is exact for ``|S| = k``
    and an upper bound on ``f(S')`` for a completion ``S' \\supseteq S``."""
    if side.needs_assignment:
        raise ValueError("share bounds and budgets need the classic formulation")
    n, m = profit.shape
    allowed = np.setdiff1d(np.arange(m), side.forbidden)
    if prefix is None:
        prefix = prefix_sets(profit, k, aggregate=aggregate, allowed=allowed,
                             full_range=any_size or side.exclusive.shape[0] > 0)
    nodes = prefix.num_nodes
    num_col = m + nodes
    cost = np.concatenate([np.zeros(m), -prefix.node_coef])
    ylo, yup = _y_bounds(m, side)
    col_lower = np.concatenate([ylo, np.zeros(nodes)])
    col_upper = np.concatenate([yup, np.ones(nodes)])
    integer = np.zeros(num_col, dtype=bool)
    integer[:m] = True

    # chain edges: consecutive kept levels of the same group
    g, lvl, node = prefix.group, prefix.level, prefix.node_of_level
    first = np.ones(g.size, dtype=bool)
    first[1:] = g[1:] != g[:-1]
    parent = np.where(first, -1, np.roll(node, 1))
    prev_level = np.where(first, 0, np.roll(lvl, 1))
    key = (parent + 1).astype(np.int64) * (nodes + 1) + node
    _, e_rep = np.unique(key, return_index=True)
    e_rep = np.sort(e_rep)
    e_par, e_child = parent[e_rep], node[e_rep]
    e_from, e_to, e_grp = prev_level[e_rep], lvl[e_rep], g[e_rep]
    n_edge = e_rep.size
    length = e_to - e_from  # number of y terms on the row
    total_y = int(length.sum())
    row_y = np.repeat(np.arange(n_edge), length)
    offs = np.repeat(np.cumsum(length) - length, length)
    pos = np.repeat(e_from, length) + (np.arange(total_y) - offs)
    col_y = prefix.order[np.repeat(e_grp, length), pos]
    has_par = e_par >= 0
    rows_ = np.concatenate([np.arange(n_edge), np.flatnonzero(has_par), row_y])
    cols_ = np.concatenate([m + e_child, m + e_par[has_par], col_y])
    vals_ = np.concatenate([np.ones(n_edge), -np.ones(int(has_par.sum())), np.ones(total_y)])
    chain = sparse.csr_matrix((vals_, (rows_, cols_)), shape=(n_edge, num_col))
    blocks = [("chain", chain, np.where(has_par, 0.0, 1.0), np.inf)]
    blocks += _treatment_rows(m, k, side, num_col)
    matrix, row_lower, row_upper, rows = _stack_rows(blocks, num_col)
    kind = "aggregated" if aggregate else "radius"
    stats = dict(prefix.stats, variables=num_col, rows=int(row_lower.size), nonzeros=int(matrix.nnz))
    f = Formulation(
        kind=kind, n=n, m=m, k=k, constant=prefix.constant, cost=cost, col_lower=col_lower,
        col_upper=col_upper, integer=integer, matrix=matrix, row_lower=row_lower,
        row_upper=row_upper, columns={"y": (0, m), "z": (m, num_col)}, rows=rows, stats=stats,
    )
    return f, prefix
