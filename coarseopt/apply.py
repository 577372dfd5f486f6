"""``coarseopt apply``: score a file of new customers with a saved policy, chunk by chunk.

The input (CSV or Parquet) is read in chunks of ``chunksize`` rows, each chunk is checked
against the policy's schema, assigned and appended to a temporary output beside ``out``,
which is renamed into place at the end: memory stays bounded by the chunk size whatever
the file's length, and a failure leaves no partial output. With share bounds each chunk is
assigned by the batch transport (its shares meet the bounds exactly, so the whole file's do
too); a last chunk too small for the bounds in whole customers uses the potentials.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .exceptions import SchemaError
from .policy import Policy, load_policy
from .pipeline import OutputError
from .progress import progress_bar

__all__ = ["apply_policy", "DEFAULT_CHUNKSIZE"]

#: Rows a chunk: large enough for exact per-chunk shares and fast vectorized prediction,
#: small enough that a chunk's working memory stays around a hundred MB.
DEFAULT_CHUNKSIZE = 100_000


def _kind(path: Path, what: str, *, compressed: bool = False) -> str:
    """``"csv"`` or ``"parquet"`` by the extension; ``compressed``: a compressed CSV is read too."""
    from .tabular import format_of

    kind = format_of(path) if compressed else {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(
        path.suffix.lower())
    if kind is None:
        also = " (also compressed: .csv.gz, .csv.bz2, .csv.zip, .csv.xz)" if compressed else ""
        raise SchemaError(f"{what} {str(path)!r}: expected a .csv or .parquet file{also}; got "
                          f"{''.join(path.suffixes) or 'no extension'}.")
    return kind


def _chunks(path: Path, kind: str, columns: list, categorical: list, chunksize: int) -> tuple[Iterator, int | None]:
    """Chunks of the columns used, and the number of rows when the file says so."""
    import pandas as pd

    if kind == "csv":
        header = [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]  # compressed too
        missing = [c for c in columns if c not in header]
        if missing:
            raise SchemaError(
                f"{str(path)!r} lacks the column(s) {missing} the policy needs; it has {header[:20]}."
            )
        reader = pd.read_csv(path, usecols=columns, dtype={c: str for c in categorical}, chunksize=chunksize,
                             keep_default_na=True)
        return iter(reader), None
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise SchemaError(f"{str(path)!r} lacks the column(s) {missing} the policy needs; it has {names[:20]}.")
    batches = pf.iter_batches(batch_size=chunksize, columns=columns)
    return (b.to_pandas() for b in batches), int(pf.metadata.num_rows)


def apply_policy(
    run_dir: str | Path | Policy,
    data: str | Path,
    out: str | Path,
    *,
    k: int | None = None,
    id_column: str | None = None,
    profit: bool = False,
    using: str = "model",
    unseen: str = "error",
    over_budget: str = "raise",
    force: bool = False,
    chunksize: int = DEFAULT_CHUNKSIZE,
    progress: bool | None = None,
) -> dict:
    """Assign every customer of the file ``data`` and write ``out`` (CSV or Parquet).

    Output columns: ``row`` (position in ``data``), the ``id_column`` if given,
    ``treatment``, and with ``profit`` one ``profit_<treatment>`` column per offered treatment
    (predicted incremental profit over the control).

    Parameters
    ----------
    run_dir : path or Policy
        A study's output directory (see :func:`coarseopt.load_policy`), or a policy.
    data, out : path
        ``.csv`` or ``.parquet``. ``out`` must not exist unless ``force``.
    k : int, optional
        Which k of the study (default: its recommended k).
    id_column : str, optional
        A column of ``data`` copied to the output (customer ids).
    using : {"model", "rules"}
        Assign with the models, or with the readable segment rules.
    unseen : {"error", "ignore"}
        Categories the study never saw: an error, or none of the seen categories.
    over_budget : {"raise", "cheapest"}
        A policy with a budget and a chunk whose cheapest offered treatments already cost
        more than its budget: an error, or each customer's cheapest offered treatment (see
        :meth:`Policy.assign`).
    chunksize : int
        Rows read and assigned at a time.

    Returns
    -------
    dict
        ``rows``, ``counts`` (customers per treatment), ``out``, ``k``.

    Raises
    ------
    SchemaError
        A file that does not fit the policy (the message names the rows, column and values).
    OutputError
        ``out`` exists (without ``force``) or is the input file.
    """
    import pandas as pd

    data, out = Path(data), Path(out)
    if isinstance(chunksize, bool) or not isinstance(chunksize, (int, np.integer)) or chunksize < 1:
        raise SchemaError(f"The 'chunksize' parameter must be an int >= 1. Got {chunksize!r} instead.")
    if not data.is_file():
        raise SchemaError(f"DATA {str(data)!r}: no such file.")
    in_kind, out_kind = _kind(data, "DATA", compressed=True), _kind(out, "--out")
    if out.exists() and out.resolve() == data.resolve():
        raise OutputError(f"--out {out}: is the input file; choose another path.")
    if out.exists() and not force:
        raise OutputError(f"--out {out}: exists; pass --force to replace it, or choose another path.")
    if out.exists() and not out.is_file():
        raise OutputError(f"--out {out}: exists and is not a file; choose another path.")
    policy = run_dir if isinstance(run_dir, Policy) else load_policy(run_dir, k)
    features = policy.features
    if id_column is not None and id_column in features:
        columns = list(features)
    else:
        columns = list(features) + ([id_column] if id_column is not None else [])
    categorical = [f["name"] for f in policy.schema["features"] if f["kind"] == "categorical"]
    chunks, total = _chunks(data, in_kind, columns, categorical, int(chunksize))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    counts: dict = {}
    start = 0
    writer = None
    bar = progress_bar(total=total, desc="assigning", unit="rows", enabled=progress)
    try:
        for chunk in chunks:
            end = start + len(chunk)
            chunk.index = pd.RangeIndex(start, end)
            try:
                treatment, pred = policy.assign_with_profit(chunk, using=using, unseen=unseen,
                                                            over_budget=over_budget)
            except SchemaError as exc:
                raise SchemaError(f"DATA {str(data)!r}, rows {start}-{end - 1}: {exc}") from None
            frame = pd.DataFrame({"row": np.arange(start, end, dtype=np.int64)})
            if id_column is not None:
                frame[id_column] = chunk[id_column].to_numpy()
            frame["treatment"] = _typed(treatment.to_numpy(), policy.offered)
            if profit:
                for j, lab in enumerate(policy.offered):
                    frame[f"profit_{lab}"] = pred.iloc[:, j].to_numpy()
            for lab, c in zip(*np.unique(frame["treatment"].astype(str), return_counts=True)):
                counts[lab] = counts.get(lab, 0) + int(c)
            writer = _write_chunk(frame, tmp, out_kind, writer, first=start == 0)
            bar.update(len(chunk))
            start = end
        if writer is not None:
            writer.close()
            writer = None
        if start == 0:  # an empty file: still one header
            frame = pd.DataFrame({"row": pd.Series(dtype=np.int64), "treatment": pd.Series(dtype=object)})
            _write_chunk(frame, tmp, out_kind, None, first=True)
        os.replace(tmp, out)
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    return {"rows": start, "counts": counts, "out": str(out), "k": policy.k}


def _typed(values: np.ndarray, labels: list) -> np.ndarray:
    """Treatment labels with one dtype for the whole file (floats for numeric levels)."""
    if all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) for x in labels):
        return values.astype(np.float64)
    return values.astype(str).astype(object)


def _write_chunk(frame: Any, tmp: Path, kind: str, writer: Any, *, first: bool) -> Any:
    if kind == "csv":
        frame.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(tmp, table.schema)
    writer.write_table(table.cast(writer.schema))
    return writer
