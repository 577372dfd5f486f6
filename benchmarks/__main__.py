"""``python -m benchmarks --suite smoke --out DIR``: run benchmark suites from the command line."""

from __future__ import annotations

import argparse
import sys

from .suite import METHODS, SUITES, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--suite", action="append", choices=SUITES, dest="suites",
                        help="suite to run (repeatable; default: smoke)")
    parser.add_argument("--out", default="benchmarks/results/suite", help="results directory")
    parser.add_argument("--quick", action="store_true", help="lighter configurations")
    parser.add_argument("--method", action="append", choices=list(METHODS), dest="methods",
                        help="restrict to a method (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads during the run (0: leave them as they are; default 1)")
    parser.add_argument("--docs", default=None, help="also rewrite this documentation page from the run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--extras", default=None, metavar="DOCS",
                        help="only rewrite the recorded benchmarks' sections (fine grids, Euclidean) of this page, no run")
    args = parser.parse_args(argv)
    if args.extras:
        from ._report import refresh_extras

        print(refresh_extras(args.extras))
        return 0
    out = run(args.suites or ["smoke"], args.out, quick=args.quick, methods=args.methods, seed=args.seed,
              threads=args.threads or None, progress=False if args.no_progress else None)
    if args.docs:
        from ._report import write_docs

        write_docs(out, args.docs)
    print(out / "report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
