"""Solver registry: plugins found through the entry-point group ``coarseopt.solvers``.

The built-in solvers register exactly as a third-party package would, in its
``pyproject.toml``::

    [project.entry-points."coarseopt.solvers"]
    my-solver = "my_package.my_module:MySolver"

Names resolve only to registered entry points (or classes passed to
:func:`register_solver`): a config file can never make coarseopt import arbitrary code.
"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from typing import Any

from .exceptions import SolverUnavailableError, UnknownSolverError
from .problem import CoarseProblem
from .result import SolveResult
from .solver import Solver

__all__ = ["ENTRY_POINT_GROUP", "solve", "available_solvers", "registered_solvers", "get_solver", "register_solver"]

ENTRY_POINT_GROUP = "coarseopt.solvers"

_EXTRA: dict[str, type[Solver]] = {}
_LOADED: dict[str, type[Solver]] = {}


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def registered_solvers() -> list[str]:
    """Every registered solver name, whether or not its dependencies are installed."""
    return sorted(set(_entry_points()) | set(_EXTRA))


def register_solver(cls: type[Solver], name: str | None = None, *, replace: bool = False) -> type[Solver]:
    """Register a :class:`Solver` subclass in this process (entry points do it at install).

    Usable as a decorator. Refuses to shadow a registered name unless ``replace=True``.
    """
    if not (isinstance(cls, type) and issubclass(cls, Solver)):
        raise TypeError(f"register_solver expects a Solver subclass; got {cls!r}.")
    name = name or cls.name
    if not name:
        raise ValueError("A solver needs a name: set the class attribute 'name' or pass name=.")
    if not replace and name in registered_solvers():
        raise ValueError(f"A solver named {name!r} is already registered; pass replace=True to override it.")
    _EXTRA[name] = cls
    _LOADED.pop(name, None)
    return cls


def get_solver(name: str) -> type[Solver]:
    """The solver class registered as ``name``.

    Raises
    ------
    UnknownSolverError
        No plugin registers ``name`` (the message lists the registered ones).
    SolverUnavailableError
        The plugin is registered but its dependencies do not import.
    """
    if not isinstance(name, str):
        raise UnknownSolverError(f"The 'solver' argument must be a solver name (str); got {name!r}.")
    if name in _EXTRA:
        return _EXTRA[name]
    if name in _LOADED:
        return _LOADED[name]
    eps = _entry_points()
    if name not in eps:
        raise UnknownSolverError(
            f"Unknown solver {name!r}. Registered solvers: {', '.join(registered_solvers())}."
        )
    try:
        cls = eps[name].load()
    except ImportError as exc:
        raise SolverUnavailableError(
            f"Solver {name!r} is registered but cannot be imported ({exc}). Install its dependencies, "
            "or pick another solver from coarseopt.available_solvers()."
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Solver)):
        raise SolverUnavailableError(f"Entry point {name!r} does not name a coarseopt Solver class.")
    if not cls.available():
        raise SolverUnavailableError(
            f"Solver {name!r} needs {', '.join(cls.requires)}, which is not installed."
        )
    _LOADED[name] = cls
    return cls


def available_solvers() -> list[str]:
    """The registered solvers whose dependencies import, sorted by name."""
    names = []
    for name in registered_solvers():
        try:
            get_solver(name)
        except SolverUnavailableError:
            continue
        except Exception as exc:  # a broken third-party plugin must not break coarseopt
            warnings.warn(f"Solver plugin {name!r} failed to load: {exc!r}", RuntimeWarning, stacklevel=2)
            continue
        names.append(name)
    return names


def solve(
    problem: CoarseProblem,
    solver: str = "ot",
    *,
    time_limit: float | None = None,
    seed: int | None = 0,
    progress: bool | None = None,
    **options: Any,
) -> SolveResult:
    """Solve a coarse personalization problem with a registered solver.

    Parameters
    ----------
    problem : CoarseProblem
    solver : str, default "ot"
        A name from :func:`available_solvers`.
    time_limit : float, optional
        Seconds; the best solution found by then is returned with status ``time_limit``
        (and its bound, where the solver has one).
    seed : int or None, default 0
        Seeds every random choice: the same inputs and seed give the same result.
    progress : bool, optional
        Show progress bars (default: only when standard error is a terminal).
    **options
        Solver-specific options; unknown ones raise :class:`OptionError` listing the valid ones.

    Returns
    -------
    SolveResult
        Never raises merely because the result is not optimal: check ``result.status``.

    Examples
    --------
    >>> import numpy as np, coarseopt as co
    >>> profit = np.array([[3.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.0, 1.0, 2.0]])
    >>> result = co.solve(co.CoarseProblem(profit, k=1), solver="enumerate")
    >>> result.offered.tolist(), result.objective, result.status
    ([2], 6.0, 'optimal')
    """
    cls = get_solver(solver)
    return cls(**options).solve(problem, time_limit=time_limit, seed=seed, progress=progress)
