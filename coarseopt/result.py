"""The answer of a solver: which treatments are offered, who gets each, and what is proven."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

__all__ = ["SolveResult", "STATUSES", "LEARNED_ON", "warn_if_in_sample"]

#: Key of ``Series.attrs`` that carries the rows a policy was learned on.
LEARNED_ON = "coarseopt_learned_on"

#: ``optimal``: proven (bound == objective within tolerance); ``feasible``: a solution with no
#: proof; ``time_limit``: stopped by the time limit (best incumbent returned, with its bound);
#: ``infeasible``: the constraints cannot be met; ``error``: the backend failed.
STATUSES = ("optimal", "feasible", "time_limit", "infeasible", "error")


@dataclass(frozen=True, eq=False)
class SolveResult:
    """The result of :func:`coarseopt.solve`.

    Two facts are kept apart, as in Pyomo's solver interface: ``status`` says what is known
    about the returned solution (proven ``optimal``, merely ``feasible``, ...) and
    ``termination`` says why the solver stopped (``converged``, ``time_limit``,
    ``iteration_limit``, ``infeasible``, ``error``). ``has_solution`` tells whether
    ``offered`` / ``assignment`` hold a solution at all.

    Attributes
    ----------
    status : str
        One of :data:`STATUSES`.
    objective : float
        ``sum_i profit[i, assignment[i]]``, recomputed from the assignment (nan when there
        is no solution).
    bound : float or None
        A proven upper bound on the best achievable objective, when the solver has one.
    gap : float or None
        ``(bound - objective) / max(1, abs(bound))``.
    offered : ndarray of int
        Sorted column indices of the offered treatments (length <= k).
    assignment : ndarray of int, shape (n,)
        The column each individual is assigned to (always one of ``offered``).
    shares : ndarray of float
        Share of individuals assigned to each offered treatment, aligned with ``offered``.
    wall_time : float
        Seconds spent in the solver (validation and result checks included).
    solver : str
        The registered name of the solver.
    termination : str
        Why the solver stopped.
    message : str
        A human-readable note from the solver (empty when there is nothing to say).
    full_profit : float
        ``sum_i max_j profit[i, j]``: the profit of full personalization.
    treatment_labels : tuple
        Labels of all columns of the problem (to name offered treatments).
    extras : Mapping
        Solver-specific facts (iterations, restarts, formulation, bound history, ...).
    """

    status: str
    objective: float
    bound: float | None
    gap: float | None
    offered: np.ndarray
    assignment: np.ndarray
    shares: np.ndarray
    wall_time: float
    solver: str
    termination: str = "converged"
    message: str = ""
    full_profit: float = float("nan")
    treatment_labels: tuple = ()
    index: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("offered", "assignment", "shares"):
            arr = np.array(getattr(self, name))
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    # ------------------------------------------------------------------ derived facts
    @property
    def has_solution(self) -> bool:
        """Whether ``offered`` and ``assignment`` hold a solution."""
        return self.offered.size > 0

    @property
    def recovery(self) -> float:
        """``objective / full_profit``: the share of full personalization's profit captured."""
        if not self.full_profit or not np.isfinite(self.full_profit):
            return float("nan")
        return float(self.objective / self.full_profit)

    @property
    def learned_on(self):
        """Row labels of the individuals this result was learned from (the problem's index,
        or positions ``0..n-1``). Evaluating the policy on any of them is in-sample and
        optimistic; the evaluation functions warn with
        :class:`~coarseopt.exceptions.InSampleEvaluationWarning`."""
        import pandas as pd

        return self.index if self.index is not None else pd.RangeIndex(self.assignment.shape[0])

    @property
    def offered_labels(self) -> list:
        """The user's labels of the offered treatments."""
        return [self.treatment_labels[j] for j in self.offered] if self.treatment_labels else list(self.offered)

    @property
    def counts(self) -> np.ndarray:
        """Number of individuals assigned to each offered treatment."""
        return np.rint(self.shares * self.assignment.size).astype(np.int64)

    def assignment_series(self, labels: bool = True):
        """The assignment as a pandas Series indexed like the problem's rows.

        Parameters
        ----------
        labels : bool, default True
            Give treatment labels (True) or column indices (False).
        """
        import pandas as pd

        values = self.assignment
        if labels and self.treatment_labels:
            values = np.asarray(self.treatment_labels, dtype=object)[self.assignment]
        out = pd.Series(values, index=self.index, name="treatment")
        out.attrs[LEARNED_ON] = self.learned_on
        return out

    def segments(self):
        """One row per offered treatment: label, column, count and share of individuals."""
        import pandas as pd

        return pd.DataFrame(
            {
                "treatment": self.offered_labels,
                "column": self.offered,
                "count": self.counts,
                "share": self.shares,
            }
        )

    def summary(self) -> str:
        """A few lines a person can read."""
        bound = "none" if self.bound is None else f"{self.bound:.6g}"
        gap = "n/a" if self.gap is None else f"{100 * self.gap:.4f}%"
        lines = [
            f"solver {self.solver}: status {self.status} ({self.termination}) in {self.wall_time:.3f} s",
            f"objective {self.objective:.6g}   bound {bound}   gap {gap}   recovery {100 * self.recovery:.3f}%",
            "offered: " + ", ".join(f"{lab} ({100 * s:.1f}%)" for lab, s in zip(self.offered_labels, self.shares)),
        ]
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"SolveResult(solver={self.solver!r}, status={self.status!r}, objective={self.objective:.6g}, "
            f"bound={self.bound if self.bound is None else round(self.bound, 6)!r}, offered={self.offered_labels!r}, "
            f"wall_time={self.wall_time:.3f})"
        )


def warn_if_in_sample(name: str, policy: Any, rows: Any = None) -> None:
    """Warn (:class:`~coarseopt.exceptions.InSampleEvaluationWarning`) when ``policy`` (a
    :class:`SolveResult`, or a Series from its ``assignment_series``) is evaluated on customers it
    was learned from. ``rows``: the row labels of the customers being evaluated, when known;
    unknown rows with a learned policy of the same length count as the same customers."""
    import warnings

    import pandas as pd

    from .exceptions import InSampleEvaluationWarning, user_stacklevel

    if isinstance(policy, SolveResult):
        learned = policy.learned_on
    elif isinstance(policy, pd.Series):
        learned = policy.attrs.get(LEARNED_ON)
    else:
        return
    if learned is None:
        return
    overlap = len(learned) if rows is None else int(pd.Index(rows).isin(pd.Index(learned)).sum())
    if overlap:
        warnings.warn(
            f"'{name}' was learned on {overlap:,} of the customers it is evaluated on: the estimate is optimistic "
            "(the policy fits their noise). Evaluate it on held-out customers (ProfitEstimate.predict on a test "
            "split) or use the cross-fitted study, whose every fold's policy is learned without that fold.",
            InSampleEvaluationWarning, stacklevel=user_stacklevel(),
        )
