"""Reading the user's tables (CSV, Parquet) without silent changes.

pandas renames a repeated CSV header (``a, a`` becomes ``a, a.1``); for a table whose
columns name treatments or features that would silently invent a label, so a repeated
header is refused instead.
"""

from __future__ import annotations

import csv
import os
from collections import Counter

__all__ = ["read_table", "DuplicateColumnsError"]

from .exceptions import ProblemError


class DuplicateColumnsError(ProblemError):
    """A table whose header repeats a column name."""


def read_table(path: str | os.PathLike[str], fmt: str | None = None):
    """A CSV or Parquet file as a DataFrame; refuses a header that repeats a name.

    Parameters
    ----------
    path : path-like
    fmt : {"csv", "parquet"}, optional
        Default: from the file's extension (``.csv``; ``.parquet`` / ``.pq``).
    """
    import pandas as pd

    fmt = fmt or ("csv" if str(path).lower().endswith(".csv") else "parquet")
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
        repeated = sorted(name for name, count in Counter(header).items() if count > 1)
        if repeated:
            raise DuplicateColumnsError(
                f"the header repeats the column name(s) {repeated}; every column needs its own "
                "name. Rename the repeated columns."
            )
        return pd.read_csv(path)
    return pd.read_parquet(path)
