"""Heuristics written once over a profit source (:mod:`coarseopt_solvers.kernels.source`).

:mod:`~coarseopt_solvers.heuristics.swap`
    The swap engine (greedy addition, swap descent, path-relinking), the multistart with
    an elite pool and the multilevel search driver of ``local-search``.
"""
