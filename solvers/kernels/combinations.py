"""The best offered set among all combinations of a few columns, checked in batches."""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np


def best_of_combinations(
    m: int,
    r: int,
    batch: int,
    values: Callable[[np.ndarray], np.ndarray],
    *,
    out_of_time: Callable[[], bool] | None = None,
    progress: Callable[[int], object] | None = None,
) -> tuple[float, np.ndarray | None, int, bool]:
    """The ``r``-subset of ``range(m)`` with the largest ``values``, every subset checked.

    Subsets are built in lexicographic order, ``batch`` at a time, as an ``(batch, r)`` array
    given to ``values`` (which returns one value per row); ties go to the first. Returns
    ``(best value, best subset, subsets checked, stopped)``: ``stopped`` is True when
    ``out_of_time()``, asked after every batch, ended the search (then ``checked`` may still
    be every subset, when time ran out with the last batch).
    """
    combos = itertools.combinations(range(m), r)
    best_val, best_set, checked = -np.inf, None, 0
    while True:
        chunk = np.array(list(itertools.islice(combos, batch)), dtype=np.intp).reshape(-1, r)
        if chunk.shape[0] == 0:
            return best_val, best_set, checked, False
        vals = values(chunk)
        t = int(vals.argmax())
        if vals[t] > best_val:
            best_val, best_set = float(vals[t]), chunk[t]
        checked += chunk.shape[0]
        if progress is not None:
            progress(chunk.shape[0])
        if out_of_time is not None and out_of_time():
            return best_val, best_set, checked, True
