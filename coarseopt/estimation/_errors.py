"""Errors raised by step 1 (experiment data, economics, CATE learners)."""

from __future__ import annotations

from typing import Any

from coarseopt.exceptions import ProblemError

__all__ = ["ExperimentError", "EconomicsError", "LearnerError"]


class ExperimentError(ProblemError):
    """Experiment data that cannot be used as given (missing arm, NaN outcome, bad column...)."""


class EconomicsError(ProblemError):
    """Margins or costs that do not fit the experiment (unknown arm, missing level...)."""


class LearnerError(ProblemError):
    """A CATE learner parameter or input outside its allowed range."""


def describe(value: Any, limit: int = 80) -> str:
    """A short ``repr`` for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
