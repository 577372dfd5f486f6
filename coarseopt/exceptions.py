"""The exception hierarchy of coarseopt.

Every error the library raises on purpose derives from :class:`CoarseoptError` and from the
built-in class a user would catch for that kind of mistake (``ValueError`` for bad input,
``ImportError`` for a missing optional dependency, ``RuntimeError`` for a backend failure).
Messages name the argument, the value and the remedy.
"""

from __future__ import annotations

__all__ = [
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
]


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
