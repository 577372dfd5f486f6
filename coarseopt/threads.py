"""One thread per BLAS / OpenMP library inside a parallel unit of work.

coarseopt parallelizes over folds and model fits (joblib); inside each, libraries such as
OpenBLAS and OpenMP (scikit-learn's gradient boosting) must run on one thread, or they
oversubscribe the cores (one fit was measured 100 times slower on a loaded machine).
Finding the loaded libraries scans the process's memory map, which costs milliseconds: the
scan is kept and redone only after new Python modules were imported (which is how new
native libraries arrive).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

__all__ = ["single_threaded"]

_cache: dict[str, Any] = {"modules": -1, "controller": None}


def _controller():
    n = len(sys.modules)
    if _cache["modules"] != n:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            return None
        _cache["controller"] = ThreadpoolController()
        _cache["modules"] = len(sys.modules)
    return _cache["controller"]


def single_threaded(user_api: str | None = None):
    """A context manager that limits the loaded thread pools (``user_api``: ``"blas"``,
    ``"openmp"`` or ``None`` for both) to one thread."""
    controller = _controller()
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api=user_api)
