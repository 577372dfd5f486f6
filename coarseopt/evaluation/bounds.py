"""Confidence intervals for a partially identified value.

When the data identify only bounds ``[L, U]`` on a quantity (a policy's value at treatment
levels no customer was randomized to, bounded under a stated shape), Imbens & Manski (2004)
give an interval that covers the *true value* (not the whole identified set) with probability
at least ``1 - alpha`` uniformly over the width of the set:

.. math:: [\\hat L - c\\, \\hat s_L,\\ \\hat U + c\\, \\hat s_U], \\qquad
          \\Phi\\Big(c + \\frac{\\hat U - \\hat L}{\\max(\\hat s_L, \\hat s_U)}\\Big) - \\Phi(-c) = 1 - \\alpha,

so ``c`` moves from the two-sided ``z_{1 - alpha / 2}`` (a point, ``U = L``) to the one-sided
``z_{1 - alpha}`` (a wide set). Stoye (2009) shows the interval is valid when the estimated width
is not superefficient; here the bounds are estimated from different arms' customers, so it is not.

References: G. Imbens, C. Manski (2004), *Econometrica* 72(6); J. Stoye (2009), *Econometrica* 77(4).
"""

from __future__ import annotations

import numpy as np

__all__ = ["imbens_manski"]


def imbens_manski(lower: float, se_lower: float, upper: float, se_upper: float, alpha: float = 0.05
                  ) -> tuple[float, float, float]:
    """``(ci_low, ci_high, c)``: the Imbens-Manski interval of a value known to lie in
    ``[lower, upper]``, with the critical value ``c`` used.

    Examples
    --------
    >>> lo, hi, c = imbens_manski(1.0, 0.1, 1.0, 0.1)      # a point: the usual 95% interval
    >>> round(c, 3), round(lo, 3), round(hi, 3)
    (1.96, 0.804, 1.196)
    >>> round(imbens_manski(0.0, 0.1, 5.0, 0.1)[2], 3)     # a wide set: one-sided 1.645
    1.645
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    width = max(float(upper) - float(lower), 0.0)
    s = max(float(se_lower), float(se_upper))
    if s <= 0 or not np.isfinite(s):
        return float(lower), float(upper), 0.0
    ratio = width / s

    def excess(c: float) -> float:
        return norm.cdf(c + ratio) - norm.cdf(-c) - (1.0 - alpha)

    c = brentq(excess, 0.0, float(norm.ppf(1.0 - alpha / 2)) + 1e-9)
    return float(lower) - c * float(se_lower), float(upper) + c * float(se_upper), float(c)
