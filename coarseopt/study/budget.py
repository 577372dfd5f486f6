"""The study's budget (``[solve] budget``, ``budget_cost``): what each customer costs, the
policies that keep a budget, and profit against budget.

A budget ``B`` caps what the campaign spends on the study's customers,
``sum_i cost[i, a(i)] <= B``. Every policy is learned and applied with the same budget *per
customer*, ``B / n``: a fold's policy is learned on its training customers with ``B / n``
times their number, and the customers it is evaluated on (a fold, a held-out part, the
deployed policy's file) are assigned as a batch that spends at most ``B / n`` times theirs
(:func:`coarseopt.assign_within_budget`).

``budget = B`` (a number): the study's coarse policies, and full personalization they are
compared with, keep it. ``budget = [B1, B2, ...]``: the study's policies have no budget, and
for every budget and every k the study learns and evaluates the budgeted policy as well,
with full personalization under the same budget next to them (the multi-armed Qini curve of
Sverdrup, Wu, Athey & Wager, *Qini Curves for Multi-Armed Treatment Rules*, 2023, which has
budgets but no limit on the number of offered treatments): ``budget.csv`` and the report's
profit against budget.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable

import numpy as np

from ..config import ConfigError, StudyConfig
from .data import one_line, share_bounds

__all__ = ["Budget", "assigner"]

log = logging.getLogger("coarseopt")


class Budget:
    """The study's budget settings, resolved for its customers ``df`` (``n`` of them).

    Attributes
    ----------
    per_customer : float or None
        The budget every policy of the study keeps, per customer (``budget = B``: ``B / n``).
    curve : dict
        ``budget = [B1, ...]``: ``B -> B / n`` for the budgets of the profit-against-budget
        curve (empty for one budget: the study's own policies keep it).
    budgets : list of float
        Every budget given.
    cost_column : ndarray or None
        ``budget_cost = "<column>"``: each customer's cost under any treatment but the control.
    active : bool
        Whether a budget was given at all.
    """

    def __init__(self, cfg: StudyConfig, df: Any) -> None:
        given, n = cfg.solve["budget"], len(df)
        budgets = given if isinstance(given, list) else [given]
        self.per_customer = None if isinstance(given, list) else given / n
        self.curve = {b: b / n for b in budgets} if isinstance(given, list) else {}
        self.budgets = budgets
        self.cost_column = None
        self.active = bool(budgets)
        if self.active and cfg.solve["budget_cost"] != "expected":
            self.cost_column = df[cfg.solve["budget_cost"]].to_numpy(dtype=np.float64)
        if self.active and share_bounds(cfg):
            raise ConfigError(
                "[solve] budget with min_share / max_share: the study keeps one kind of constraint on the "
                "customers it evaluates; set either the budget or the share bounds."
            )

    def spend(self, est: Any, control: Any) -> Any:
        """What each customer of ``est`` costs under each treatment (a DataFrame like
        ``est.profit``), or None without a budget."""
        if not self.active:
            return None
        if self.cost_column is None:
            return est.spend()
        import pandas as pd

        from ..estimation.economics import spend_of_column

        control_col = int(np.asarray(est.arm_columns)[list(est.arms).index(control)])
        rows = np.asarray(est.profit.index, dtype=np.intp)  # the study's rows are positions
        cost = spend_of_column(self.cost_column[rows], est.profit.shape[1], control_col)
        return pd.DataFrame(cost, index=est.profit.index, columns=est.profit.columns)


    def realized(self, exp: Any, economics: Any) -> np.ndarray:
        """What each customer of the experiment ``exp`` cost under the arm received (the
        economics' spend at the realized outcome, or the cost column)."""
        if self.cost_column is not None:
            rows = np.asarray(exp.data.index, dtype=np.intp)
            treated = np.asarray(exp.arms, dtype=object)[exp.arm_index] != exp.control
            return self.cost_column[rows] * treated
        # (n, arms): every customer's realized outcome priced under every arm; keep the one received
        spend = economics.spend_matrix(np.asarray(exp.y, dtype=np.float64)[:, None], list(exp.arms),
                                       numeric=exp.is_numeric)
        return spend[np.arange(exp.n), exp.arm_index]


def assigner(cfg: StudyConfig) -> Callable:
    """``assign(profit, spend, offered, budget) -> columns``: how customers outside a solve
    get their treatment among ``offered`` (a SolveResult or column indices). With a budget
    per customer, the batch spends at most ``budget`` times its size
    (:func:`coarseopt.assign_within_budget`; a batch whose cheapest offers already cost more
    gets them, with a warning in the log); a coarse policy with share bounds keeps them
    (:func:`coarseopt.assign_offered`); otherwise each customer's most profitable column."""
    from ..assign import assign_offered, assign_within_budget

    shares = share_bounds(cfg)

    def assign(profit: np.ndarray, spend: np.ndarray | None, offered: Any, budget: float | None) -> np.ndarray:
        if budget is not None:  # a batch that cannot meet it: each customer's cheapest offer, said in the log
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cols = assign_within_budget(profit, spend, offered, budget * profit.shape[0], over_budget="cheapest")
            for w in caught:
                log.warning("%s (the spend columns show the overrun)", w.message)
            return cols
        # share bounds bind the coarse policies (SolveResults), not full personalization (columns)
        return assign_offered(profit, offered, **(shares if hasattr(offered, "assignment") else {}))

    return assign


def problem_of(est: Any, k: int, cfg: StudyConfig, spend: Any, budget: float | None) -> Any:
    """Step 2's problem for ``k`` on ``est`` with the study's constraints (``budget`` per
    customer, or None)."""
    kwargs = dict(share_bounds(cfg))
    if spend is not None:
        kwargs["cost"] = spend
    if budget is not None:
        kwargs["budget"] = budget * est.profit.shape[0]
    try:
        return est.to_problem(k, **kwargs)
    except ValueError as exc:  # shares that cannot add up for this k, a budget below the cheapest spend
        what = "budget" if budget is not None else "min_share / max_share"
        raise ConfigError(f"[solve] {what} with k={k}: {one_line(exc)}") from None


def split_table(table: Any, budget: Budget) -> tuple[Any, Any]:
    """The evaluation table without the profit-against-budget policies, and the budget table:
    one row per budget and policy (``budget``, ``offers``: ``k=K`` or full personalization,
    then the evaluation's columns). With one budget, the study's own coarse policies and full
    personalization; None without a budget."""
    import pandas as pd

    if not budget.active:
        return table, None
    curve = table["policy"].str.startswith("budget=")
    if budget.per_customer is not None:
        mine = table["policy"].str.startswith("k=") | (table["policy"] == "full personalization")
        rows = table[mine].copy()
        rows.insert(0, "budget", budget.budgets[0])
        rows.insert(1, "offers", rows["policy"].to_numpy())
    else:
        rows = table[curve].copy()
        parts = rows["policy"].str.extract(r"^budget=([^,]+), (.*)$")
        rows.insert(0, "budget", pd.to_numeric(parts[0]).to_numpy())
        rows.insert(1, "offers", parts[1].to_numpy())
    family = ["k", "lift_sim_ci_low", "lift_sim_ci_high", "p_adjusted"]  # the k family's, not these rows'
    rows = rows.drop(columns=[c for c in family if c in rows]).sort_values(["offers", "budget"], kind="stable").reset_index(drop=True)
    return table[~curve].reset_index(drop=True), rows
