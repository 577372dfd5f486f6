"""Run one scaling cell in this process and print its record as one JSON line.

Used by the scaling suite, which starts ``python -m <package>._cell '<json spec>'`` per cell so
that every measurement starts from a fresh process and a hard timeout can stop it.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from .suite import _jsonable, scaling_cell

    spec = json.loads(argv[0])
    record = scaling_cell(spec["method"], spec["n"], spec["m"], spec["k"], spec["seed"], spec["time_limit"])
    print(json.dumps(_jsonable(record)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
