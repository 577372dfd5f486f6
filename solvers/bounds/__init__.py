"""Certified upper bounds: the Lagrangian (LP) bound and its budget extension.

One driver (:func:`.bundle.maximize_dual`, a level bundle method on the ``m`` column prices)
and an oracle per profit source:

:mod:`~coarseopt_solvers.bounds.bundle`
    The level bundle method, the driver and :class:`LagrangianBound`.
:mod:`~coarseopt_solvers.bounds.memory`
    The in-memory oracle and :func:`lagrangian_bound` / :func:`lagrangian_value`.
:mod:`~coarseopt_solvers.bounds.chunked`
    The chunked (dask) oracle and :func:`chunked_lagrangian_bound`.
:mod:`~coarseopt_solvers.bounds.columns`
    The same bound by column generation on many treatments, and Lagrangian fixing:
    :func:`column_generation_bound`, :func:`lagrangian_fixing`.
:mod:`~coarseopt_solvers.bounds.budget`
    The budget multiplier on top: :func:`budget_lagrangian_bound`.

Modules here import the kernels and nothing else of the solvers.
"""

from .budget import BudgetBound, budget_lagrangian_bound
from .bundle import LagrangianBound
from .chunked import chunked_lagrangian_bound, chunked_lagrangian_value
from .columns import ColumnBound, column_generation_bound, lagrangian_fixing
from .memory import lagrangian_bound, lagrangian_value

__all__ = ["LagrangianBound", "lagrangian_bound", "lagrangian_value", "chunked_lagrangian_bound",
           "chunked_lagrangian_value", "BudgetBound", "budget_lagrangian_bound", "ColumnBound",
           "column_generation_bound", "lagrangian_fixing"]
