"""What the subcommands of the ``coarseopt`` command line share: the one-line usage error,
reading a user's table, printing, and writing a table atomically."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2

__all__ = [
    "EXIT_OK",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "ID_NAMES",
    "looks_like_id",
    "UsageError",
    "arg_of",
    "progress_of",
    "say",
    "read_table_arg",
    "no_column",
    "parse_options",
    "parse_k",
    "column_list",
    "one_line",
    "finite",
    "atomic_table",
    "json_default",
]


class UsageError(Exception):
    """Bad command-line input found after parsing (exit 2, one line)."""


# ---------------------------------------------------------------------------- parser
def arg_of(args: argparse.Namespace, name: str, default: Any = False) -> Any:
    return getattr(args, name, default)


def progress_of(args: argparse.Namespace) -> bool | None:
    return False if arg_of(args, "quiet") else None


def say(args: argparse.Namespace, text: str = "") -> None:
    if not arg_of(args, "quiet"):
        print(text, flush=True)


def read_table_arg(path: str, what: str, sep: str = ","):
    from ..tabular import format_of, read_table

    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} {path!r}: no such file.")
    if not p.is_file():
        raise UsageError(f"{what} {path!r}: not a file.")
    fmt = format_of(p)
    if fmt is None:
        raise UsageError(
            f"{what} {path!r}: expected a .csv (also .csv.gz, .csv.bz2, .csv.zip, .csv.xz) or .parquet file; "
            f"got {''.join(p.suffixes) or 'no extension'}."
        )
    try:
        return read_table(p, fmt, sep=sep)
    except Exception as exc:  # the user's file: report the parser's reason in one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{what} {path!r}: cannot be read: {first}") from None


def no_column(flag: str, column: str, df, path: str) -> UsageError:
    from ..tabular import separator_hint

    return UsageError(
        f"{flag} {column!r}: no such column in {path!r}; columns: {column_list(df)}."
        + separator_hint(df.columns, "pass --sep")
    )


def parse_options(items: list[str], flag: str) -> dict:
    from ..config import ConfigError, parse_override

    out = {}
    for item in items:
        try:
            key, value = parse_override(item)
        except ConfigError:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE.") from None
        out[key] = value
    return out


def parse_k(values: list[str]) -> list[int]:
    ks: list[int] = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            try:
                k = int(part)
            except ValueError:
                raise UsageError(f"-k {part!r}: must be an integer >= 1.") from None
            if k < 1:
                raise UsageError(f"-k {k}: must be an integer >= 1 (the number of treatments to offer).")
            ks.append(k)
    return sorted(set(ks))


def column_list(df) -> str:
    names = [str(c) for c in df.columns]
    return ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def finite(v: Any) -> Any:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def atomic_table(df, path: Path) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_default(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    return str(v)


# ---------------------------------------------------------------------------- main


ID_NAMES = ("id", "index", "key", "uuid", "row", "unnamed: 0")


def looks_like_id(name: Any, col) -> bool:
    """An integer column, unique per row, named like an id (``customer_id``, ``ID``, ``index``)
    or numbering the rows (0..n-1 or 1..n)."""
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_integer_dtype(col) or pd.api.types.is_bool_dtype(col) or not col.is_unique:
        return False
    low = str(name).strip().lower()
    named = low in ID_NAMES or low.endswith(("_id", " id", "-id", ".id", "_key", "_no", "_number")) or str(
        name).endswith(("Id", "ID"))
    values = np.sort(col.to_numpy())
    numbering = len(values) > 1 and values[-1] - values[0] == len(values) - 1 and values[0] in (0, 1)
    return named or numbering
