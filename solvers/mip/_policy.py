"""The ``auto`` rules of ``mip``: which formulation, and when to run the warm-start heuristics.

One place for both paths (in memory and chunked), so that they choose alike.
"""

from __future__ import annotations

from ..bounds.columns import worth_generating
from . import _formulation as F

#: ``formulation="auto"`` solves the aggregated model directly up to this many distinct
#: prefix sets (its ``z`` variables), and uses Benders decomposition beyond.
AUTO_NODE_LIMIT = 5000
#: ... and when aggregation pays: at most this share of the radius model's ``z`` variables
#: (``n`` times the number of levels). Data that do not aggregate (distances of p-median
#: instances, noisy curves) go to Benders decomposition and its branch and bound.
AUTO_MAX_COMPRESSION = 0.2

#: ``warm_start="auto"`` runs the heuristics only above this many individuals: below, the
#: exact methods find their own incumbents faster than the heuristics run (on the Benders
#: path, the Lagrangian heuristic at the root of the branch and bound).
AUTO_WARM_MIN_N = 2000
#: Under a budget (and no share bounds), ``auto`` uses Benders decomposition with priced cuts
#: from this many individuals on when identical individuals do not halve the rows: there the
#: classic model's LP relaxation splits customers across the budget and its gap closes slowly
#: (``python -m benchmarks.budget --parts mip``: at 20,000 x 30 Benders proves the optimum in
#: 1-3 s, the classic model ends its 60 s at a 14% gap).
AUTO_BUDGET_BENDERS_MIN_N = 5000
#: ... and treatment elimination only from this many profit entries on.
ELIMINATION_MIN_ELEMENTS = 2_000_000


def auto_node_limit(individuals: int, levels: int) -> int:
    """The most distinct prefix sets ``formulation="auto"`` solves as the aggregated model."""
    return int(min(AUTO_NODE_LIMIT, AUTO_MAX_COMPRESSION * individuals * levels))


def auto_formulation(prefix: F.PrefixSets) -> str:
    """``formulation="auto"`` without side constraints on the assignment: ``"aggregated"``
    when the aggregated model is small and much smaller than the radius model, else
    ``"benders"``."""
    limit = auto_node_limit(prefix.stats["individuals"], prefix.stats["levels"])
    return "aggregated" if prefix.num_nodes <= limit else "benders"


def auto_elimination(individuals: int, treatments: int, k: int) -> bool:
    """Treatment elimination (the bound by column generation, then Lagrangian fixing) before
    any model: on many treatments, a few times ``k``, and data large enough that a model on
    every column costs more than the warm-start heuristic and the bound (fine treatment
    grids at scale; not the OR-Library's square distance matrices or small experiments,
    which the models solve faster by themselves)."""
    return (individuals > AUTO_WARM_MIN_N and individuals * treatments >= ELIMINATION_MIN_ELEMENTS
            and worth_generating(treatments, k))


def auto_budget_benders(individuals: int, side) -> bool:
    """``formulation="auto"`` under a budget: Benders decomposition with priced cuts (rather
    than the classic model) on many individuals, without share bounds."""
    return side.budget is not None and side.min_count is None and individuals >= AUTO_BUDGET_BENDERS_MIN_N
