"""Datasets: a bundled real experiment and a synthetic one whose truth is known.

- :func:`load_hillstrom`: the MineThatData e-mail experiment (64,000 customers, three arms).
- :func:`make_promotions`: a randomized discount experiment with heterogeneous logit
  demand, returned with its true profit curves.
"""

from .hillstrom import HILLSTROM_SHA256, load_hillstrom
from .promotions import PromotionTruth, make_promotions

__all__ = ["load_hillstrom", "make_promotions", "PromotionTruth", "HILLSTROM_SHA256"]
