"""``mip`` on a lazy (dask) profit matrix (work in progress: loads the matrix into memory)."""

from __future__ import annotations

from coarseopt.solver import _materialize

__all__ = ["solve_lazy"]


def solve_lazy(solver, problem, context):
    """Solve a lazy problem with the ``mip`` solver ``solver``."""
    return solver._solve(_materialize(problem, solver.name), context)
