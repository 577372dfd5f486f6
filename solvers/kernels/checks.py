"""Checks of a warm-start offered set given by a user."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from coarseopt.exceptions import OptionError


def check_offered(init: Any, m: int, k: int, name: str = "init") -> np.ndarray:
    """Column indices of a warm start, checked against a problem with ``m`` treatments."""
    arr = np.asarray(init)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise OptionError(f"{name!r} must be a sequence of column indices (ints); got {init!r}.")
    arr = arr.astype(np.intp)
    if arr.size and (arr.min() < 0 or arr.max() >= m):
        raise OptionError(f"{name!r} holds column indices outside [0, {m}): {arr.tolist()}.")
    if np.unique(arr).size != arr.size:
        raise OptionError(f"{name!r} must not repeat a column; got {arr.tolist()}.")
    if arr.size > k:
        raise OptionError(f"{name!r} offers {arr.size} treatments, more than k = {k}; give at most k.")
    return arr


def check_offered_option(value: Any) -> tuple[int, ...]:
    """Validator of a solver option holding column indices (before the problem is known)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError("must be a sequence of column indices (ints)")
    out = []
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError("must be a sequence of column indices (ints)")
        if v < 0:
            raise ValueError("must hold column indices >= 0")
        out.append(int(v))
    if len(set(out)) != len(out):
        raise ValueError("must not repeat a column")
    return tuple(out)
