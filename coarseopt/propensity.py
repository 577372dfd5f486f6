"""The one propensity rule of coarseopt, and its check.

Every step (estimation, evaluation, the study) takes the probability with which a customer
received an arm from a column the user names, else as each arm's share of the customers
being analysed. :func:`check_propensity_counts` warns when given probabilities are clearly
contradicted by how many customers received each arm.
"""

from __future__ import annotations

import warnings

import numpy as np

from .exceptions import PropensityWarning, user_stacklevel

__all__ = ["arm_shares", "check_propensity_counts"]


def arm_shares(codes: np.ndarray, n_arms: int | None = None) -> np.ndarray:
    """Each customer's probability of the arm received under the rule "each arm's share of
    these customers": ``count(codes == codes[i]) / n``."""
    codes = np.asarray(codes)
    counts = np.bincount(codes, minlength=n_arms or 0)
    return (counts / codes.shape[0])[codes]


def check_propensity_counts(
    codes: np.ndarray, labels: np.ndarray, *, e: np.ndarray | None = None, table: np.ndarray | None = None,
    what: str = "action", z_warn: float = 5.0,
) -> None:
    """Warn (:class:`~coarseopt.exceptions.PropensityWarning`) when given propensities are
    clearly contradicted by how many customers received each action.

    With a full table ``P[i, a]`` the count of action ``a`` has mean ``sum_i P[i, a]`` and
    variance ``sum_i P[i, a] (1 - P[i, a])``. With only the probability ``e_i`` of the received
    action, the Horvitz-Thompson count ``sum_{i: A_i = a} 1 / e_i`` estimates ``n`` for every
    action, with variance estimated by ``sum_{i: A_i = a} (1 - e_i) / e_i^2``. A standardized
    difference beyond ``z_warn`` (5 by default: a false alarm about once in 3 million) warns.
    """
    n = codes.shape[0]
    worst = None
    for a in np.unique(codes):
        mine = codes == a
        if table is not None:
            expected, var, observed = table[:, a].sum(), (table[:, a] * (1 - table[:, a])).sum(), float(mine.sum())
            text = f"{int(observed)} customers received it, the propensities expect {expected:.1f}"
        else:
            w = 1.0 / e[mine]
            observed, expected, var = w.sum(), float(n), (w * (w - 1.0)).sum()
            text = (f"its customers' inverse propensities sum to {observed:.1f}, "
                    f"where correct propensities give about n = {n}")
        z = (observed - expected) / np.sqrt(max(var, 1e-12))
        if abs(z) > z_warn and (worst is None or abs(z) > abs(worst[0])):
            worst = (z, labels[a], text)
    if worst is not None:
        z, label, text = worst
        warnings.warn(
            f"The given 'propensity' looks wrong for this experiment: for {what} {label!r}, {text} "
            f"(z = {z:.1f}). Check that the propensities are the assignment probabilities of the experiment that "
            "produced these data, or leave 'propensity' out to use each arm's share of the customers.",
            PropensityWarning, stacklevel=user_stacklevel(),
        )
