"""coarseopt's benchmark suite (installed as ``coarseopt_benchmarks``; run from a checkout as
``python -m benchmarks.<module>``). Results go to ``benchmarks/results/``."""
