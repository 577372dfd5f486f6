"""The exception hierarchy of coarseopt.

Every error the library raises on purpose derives from :class:`CoarseoptError` and from the
built-in class a user would catch for that kind of mistake (``ValueError`` for bad input,
``ImportError`` for a missing optional dependency, ``RuntimeError`` for a backend failure).
Messages name the argument, the value and the remedy.
"""

from __future__ import annotations

#: The names of the error classes, which ``coarseopt`` also exports at the top level.
ERRORS = (
    "CoarseoptError",
    "ProblemError",
    "InfeasibleProblemError",
    "OptionError",
    "UnknownSolverError",
    "SolverUnavailableError",
    "UnsupportedProblemError",
    "SolverError",
    "PolicyFileError",
    "SchemaError",
)

__all__ = [*ERRORS, "InSampleEvaluationWarning", "PropensityWarning", "ShapeWarning"]


class CoarseoptError(Exception):
    """Base class of every error raised by coarseopt on purpose."""


class ProblemError(CoarseoptError, ValueError):
    """A problem (or other user input) that violates its own definition."""


class InfeasibleProblemError(ProblemError):
    """Constraints that no assignment can meet (e.g. share bounds that cannot add up)."""


class OptionError(CoarseoptError, ValueError):
    """An unknown solver option, or an option value outside its allowed range."""


class UnknownSolverError(CoarseoptError, ValueError):
    """A solver name that no installed plugin registers."""


class SolverUnavailableError(CoarseoptError, ImportError):
    """A registered solver whose dependencies (or backend) are not installed."""


class UnsupportedProblemError(CoarseoptError, ValueError):
    """A valid problem that this particular solver cannot handle (it says which can)."""


class SolverError(CoarseoptError, RuntimeError):
    """A solver or backend failed in a way that is not the user's input."""


class PolicyFileError(CoarseoptError, ValueError):
    """A saved policy that cannot be loaded safely: altered, of an unknown format version, or
    not a saved policy at all."""


class SchemaError(CoarseoptError, ValueError):
    """Customers' data that does not fit a policy's feature schema (a missing feature, an
    unseen category, text in a numeric column)."""


class InSampleEvaluationWarning(UserWarning):
    """A policy evaluated on customers it was learned from: the estimate is optimistic.

    Evaluate on held-out customers, or with the cross-fitted study, whose every fold's policy
    is learned without that fold's customers.
    """


class ShapeWarning(UserWarning):
    """A stated shape of the outcome in the treatment level (``monotone``) that the measured
    arm means contradict: bounds between the arms rest on it."""


class PropensityWarning(UserWarning):
    """Given (or assumed) assignment probabilities that the counts of each arm clearly contradict."""


def user_stacklevel() -> int:
    """The ``stacklevel`` of a warning issued by the caller of this function that points at the
    first frame outside coarseopt (the user's line), however deep the library's calls."""
    import sys

    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in ("coarseopt", "coarseopt_solvers"):
        frame, level = frame.f_back, level + 1
    return level
