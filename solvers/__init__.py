"""Built-in solver plugins of coarseopt (installed as the package ``coarseopt_solvers``).

Each module is one plugin registered through the entry-point group ``coarseopt.solvers`` in
``pyproject.toml``, exactly as a third-party package registers its own. The plugins depend
on the core (``coarseopt``); the core never imports them.
"""

from .kernels.source import read_profit_parquet

__all__ = ["read_profit_parquet"]
