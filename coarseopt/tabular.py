"""Reading the user's tables (CSV, also compressed, and Parquet) without silent changes.

pandas renames a repeated CSV header (``a, a`` becomes ``a, a.1``); for a table whose
columns name treatments or features that would silently invent a label, so a repeated
header is refused instead.

A CSV may be compressed (``.csv.gz``, ``.csv.bz2``, ``.csv.zip``, ``.csv.xz``, and
``.csv.zst`` when the ``zstandard`` module is installed): the compression is read from the
extension, everywhere a CSV is read.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_table", "format_of", "separator_hint", "DuplicateColumnsError", "COMPRESSIONS", "jsonable"]

from .exceptions import ProblemError

#: Extensions of compressed CSV files (pandas infers the codec from them).
COMPRESSIONS = (".gz", ".bz2", ".zip", ".xz", ".zst")

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class DuplicateColumnsError(ProblemError):
    """A table whose header repeats a column name."""


def format_of(path: str | os.PathLike[str]) -> str | None:
    """``"csv"`` for ``.csv`` (also compressed: ``.csv.gz``, ``.csv.bz2``, ...), ``"parquet"``
    for ``.parquet`` / ``.pq``, else None.

    >>> format_of("experiment.csv.gz"), format_of("profit.parquet"), format_of("data.txt")
    ('csv', 'parquet', None)
    """
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    if not suffixes:
        return None
    return _FORMATS.get(suffixes[-1])


def separator_hint(columns, remedy: str) -> str:
    """A hint when a header looks split on the wrong separator (one column ``a;b;c``), else "".

    ``remedy`` names how the user sets the separator (``[data] sep`` or ``--sep``).
    """
    for sep in (";", "\t", "|"):
        if any(sep in str(c) for c in columns):
            shown = "\\t" if sep == "\t" else sep
            return f" The header contains '{shown}': if the file is separated by '{shown}', {remedy} '{shown}'."
    return ""


def read_table(path: str | os.PathLike[str], fmt: str | None = None, *, sep: str = ","):
    """A CSV or Parquet file as a DataFrame; refuses a header that repeats a name.

    Parameters
    ----------
    path : path-like
    fmt : {"csv", "parquet"}, optional
        Default: from the file's extension (``.csv``, ``.csv.gz`` and the other compressed
        forms; ``.parquet`` / ``.pq``).
    sep : str, default ","
        The CSV field separator (e.g. ``";"``, ``"\\t"``).
    """
    import pandas as pd

    fmt = fmt or format_of(path) or "parquet"
    if fmt == "csv":
        header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, encoding="utf-8-sig",
                             keep_default_na=False)
        names = header.iloc[0].tolist() if len(header) else []
        repeated = sorted(name for name, count in Counter(names).items() if count > 1)
        if repeated:
            raise DuplicateColumnsError(
                f"the header repeats the column name(s) {repeated}; every column needs its own "
                "name. Rename the repeated columns."
            )
        return pd.read_csv(path, sep=sep, encoding="utf-8-sig")
    return pd.read_parquet(path)


def jsonable(x: Any) -> Any:
    """A value JSON can hold: numpy scalars as Python numbers, other objects (labels) as text."""
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)
