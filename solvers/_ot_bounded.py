"""The ``ot`` solver under segment-size (share) bounds.

Bounds apply to *offered* treatments: ``min_count[j] <= count_j <= max_count[j]`` for every
offered ``j``. The Lloyd alternation keeps its two steps:

- transport step: the exact bounded transport of ``_ot_transport`` (counts met exactly);
- support step: atom ``r`` may move to column ``t`` only if its current segment size is
  allowed at ``t`` (``min_count[t] <= |C_r| <= max_count[t]``); among those, the distinct
  columns maximizing the segments' total profit (a linear assignment). The assignment stays
  feasible after the move, so the objective never decreases.

Offering fewer than ``k`` treatments can be better here (every offered treatment must serve
at least its minimum), so the polish also tries to drop an atom or add one.

Polish (``polish=True``): each round tries, under the exact bounded transport followed by
the bounded Lloyd alternation, every *drop* of one atom, the *add* of the column with the
largest free-assignment gain (when fewer than ``k`` are offered) and the ``8`` best *swaps*
as screened by their value under free assignment (the fast-interchange gains, O(nm) for all
swaps); the first move that improves is taken, until none does. The result is a local
optimum with respect to drops, that add and the screened swaps, not to every swap.

Above ``sample_size`` individuals the restarts and the polish run on a uniform row sample
whose count bounds keep the same shares; the two best sets are then re-run on all rows by
the bounded Lloyd alternation.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._ot_transport import bounded_transport
from .heuristics.lloyd import seed_atoms, support_step
from .kernels.blocks import segment_sums

__all__ = ["solve_bounded"]

_SCREENED = 8


def _feasible_set(atoms: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int) -> bool:
    return bool(lo[atoms].sum() <= n <= hi[atoms].sum()) and bool((lo[atoms] <= n).all())


def _transport(profit, atoms, lo, hi, method, reg):
    sub = profit[:, atoms]
    pos, info = bounded_transport(sub, lo[atoms], hi[atoms], method=method, reg=reg)
    value = float(sub[np.arange(sub.shape[0]), pos].sum())
    return pos, value, info


def _lloyd_bounded(profit, atoms, lo, hi, *, method, reg, max_iter, deadline):
    atoms = np.array(atoms, dtype=np.intp)
    n = profit.shape[0]
    pos, value, info = _transport(profit, atoms, lo, hi, method, reg)
    certified = info["optimal"]
    it = 0
    while it < max_iter and not (deadline is not None and time.perf_counter() >= deadline):
        it += 1
        counts = np.bincount(pos, minlength=atoms.size)
        sums = segment_sums(profit, pos, atoms.size)
        allowed = (lo[None, :] <= counts[:, None]) & (counts[:, None] <= hi[None, :])
        new = support_step(sums, allowed)
        if not allowed[np.arange(atoms.size), new].all() or np.array_equal(np.sort(new), np.sort(atoms)):
            break
        new_pos, new_value, new_info = _transport(profit, new, lo, hi, method, reg)
        if new_value <= value + 1e-12 * max(1.0, abs(value)):
            break
        atoms, pos, value, certified = new, new_pos, new_value, new_info["optimal"]
    return atoms, pos, value, {"iterations": it, "transport_optimal": certified}


def _screened_swaps(profit, atoms, usable, limit):
    """The ``limit`` best swaps (r out, j in) by their gain under free assignment."""
    sub = profit[:, atoms]
    order = np.argsort(-sub, axis=1)
    b1 = sub[np.arange(sub.shape[0]), order[:, 0]]
    b2 = sub[np.arange(sub.shape[0]), order[:, 1]] if atoms.size > 1 else np.full(sub.shape[0], -np.inf)
    c1 = order[:, 0]
    d = profit - b1[:, None]
    gain = np.maximum(d, 0.0).sum(axis=0)
    loss = np.zeros((atoms.size, profit.shape[1]))
    low = np.maximum(np.minimum(d, 0.0), (b2 - b1)[:, None])
    for r in range(atoms.size):
        loss[r] = low[c1 == r].sum(axis=0)
    delta = gain[None, :] + loss
    delta[:, ~usable] = -np.inf
    delta[:, atoms] = -np.inf
    flat = np.argsort(-delta, axis=None)[:limit]
    return [(int(f // profit.shape[1]), int(f % profit.shape[1])) for f in flat if np.isfinite(delta.flat[f])]


def _search(profit, k, lo, hi, usable, prm, rng, bar, deadline):
    """Restarts of the bounded Lloyd alternation and the polish on ``profit`` (all rows or a
    row sample, with bounds ``lo``/``hi`` for that many rows).

    Returns ``(candidates, extras, timed_out)``: ``candidates`` maps each distinct final set
    (a tuple in segment order) to ``(value, atoms, pos, info)``.
    """
    n = profit.shape[0]
    method, reg = prm["shares_method"], prm["reg"]
    # How many atoms: k if some k-set can be feasible, fewer when the minimums forbid it.
    sizes = [s for s in range(min(k, int(usable.sum())), 0, -1)
             if np.sort(lo[usable])[:s].sum() <= n and np.sort(hi[usable])[::-1][:s].sum() >= n]
    extras: dict[str, Any] = {}
    timed_out = False
    found: dict[tuple, tuple] = {}
    tried = 0
    for r in range(prm["restarts"]):
        if r > 0 and deadline is not None and time.perf_counter() >= deadline:
            timed_out = True
            break
        for s in sizes:
            init = prm["init"] if (r == 0 and prm["init"] is not None) else None
            atoms = seed_atoms(profit, s, rng, greedy=(r == 0), allowed=usable,
                               start=None if init is None else [j for j in init if usable[j]][:s])
            if not _feasible_set(atoms, lo, hi, n):
                # swap in the columns that make the set feasible: largest capacity first
                cap_order = np.argsort(-hi)
                atoms = np.array([j for j in cap_order if usable[j]][:s], dtype=np.intp)
                if not _feasible_set(atoms, lo, hi, n):
                    continue
            out = _lloyd_bounded(profit, atoms, lo, hi, method=method, reg=reg,
                                 max_iter=prm["max_iter"], deadline=deadline)
            tried += 1
            key = tuple(np.sort(out[0]).tolist())
            if key not in found or out[2] > found[key][2]:
                found[key] = out
            break
        bar.update(1)
    extras["restarts"] = tried
    if not found:
        return found, extras, timed_out
    atoms, pos, value, info = max(found.values(), key=lambda t: t[2])
    extras["lloyd_objective"] = value
    if prm["polish"]:
        improved = True
        rounds = 0
        while improved and not (deadline is not None and time.perf_counter() >= deadline):
            improved = False
            rounds += 1
            moves = [np.delete(atoms, r) for r in range(atoms.size) if atoms.size > 1]  # drop one
            if atoms.size < k:  # add the column of largest free-assignment gain
                base = profit[:, atoms].max(axis=1)
                gain = np.maximum(profit - base[:, None], 0.0).sum(axis=0)
                gain[~usable] = -np.inf
                gain[atoms] = -np.inf
                if np.isfinite(gain).any():
                    moves.insert(0, np.append(atoms, int(np.argmax(gain))))
            for r, j in _screened_swaps(profit, atoms, usable, _SCREENED):
                cand = atoms.copy()
                cand[r] = j
                moves.append(cand)
            for cand in moves:
                if not _feasible_set(cand, lo, hi, n):
                    continue
                out = _lloyd_bounded(profit, cand, lo, hi, method=method, reg=reg,
                                     max_iter=prm["max_iter"], deadline=deadline)
                if out[2] > value + 1e-12 * max(1.0, abs(value)):
                    atoms, pos, value, info = out
                    found[tuple(np.sort(atoms).tolist())] = out
                    improved = True
                    break
        extras["polish_rounds"] = rounds
        extras["polish_gain"] = value - extras["lloyd_objective"]
    return found, extras, timed_out


def _sample_bounds(lo, hi, n, size):
    """Count bounds for a row sample of ``size`` rows with the same shares as ``lo``/``hi``."""
    lo_s = np.where(lo > n, size + 1, np.maximum(1, np.ceil(lo * size / n - 1e-9))).astype(np.int64)
    hi_s = np.minimum(size, np.floor(hi * size / n + 1e-9)).astype(np.int64)
    return lo_s, hi_s


def solve_bounded(problem: Any, k: int, prm: dict, context: Any, deadline: float | None):
    """Restarts of the bounded Lloyd alternation, then the polish (drops, add, screened swaps).

    Above ``sample_size`` individuals the restarts and the polish run on a uniform row sample
    with the same shares; the two best sets are then re-run on all rows by the bounded Lloyd
    alternation (not polished again there).

    Returns ``(offered, assignment, extras, timed_out)``; ``offered`` is None when no
    feasible set was found.
    """
    profit = problem.profit
    n = problem.n
    lo = np.asarray(problem.min_count, dtype=np.int64)
    hi = np.minimum(np.asarray(problem.max_count, dtype=np.int64), n)
    usable = lo <= hi
    rng = context.rng
    method, reg = prm["shares_method"], prm["reg"]
    sampled = n > prm["sample_size"]
    if sampled:
        idx = np.sort(rng.choice(n, prm["sample_size"], replace=False))
        data = profit[idx]
        lo_d, hi_d = _sample_bounds(lo, hi, n, idx.size)
        usable_d = usable & (lo_d <= hi_d)
    else:
        data, lo_d, hi_d, usable_d = profit, lo, hi, usable
    with context.bar(total=prm["restarts"], desc="ot restarts (shares)", unit="start") as bar:
        found, extras, timed_out = _search(data, k, lo_d, hi_d, usable_d, prm, rng, bar, deadline)
    extras["transport_method"] = method
    extras["sampled"] = sampled
    if not found:
        return None, None, extras, timed_out
    ranked = sorted(found.values(), key=lambda t: -t[2])
    if sampled:
        best = None
        for atoms, *_ in ranked[:2]:
            if not _feasible_set(atoms, lo, hi, n):
                continue
            out = _lloyd_bounded(profit, atoms, lo, hi, method=method, reg=reg,
                                 max_iter=prm["max_iter"], deadline=deadline)
            if best is None or out[2] > best[2]:
                best = out
        if best is None:
            return None, None, extras, timed_out
    else:
        best = ranked[0]
    atoms, pos, value, info = best
    if deadline is not None and time.perf_counter() >= deadline:
        timed_out = True
    extras["transport_optimal"] = bool(info["transport_optimal"])
    return np.sort(atoms), atoms[pos], extras, timed_out
