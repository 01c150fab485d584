"""A stored date's file split once into one Parquet part per account bucket.

A bucketed run reads the previous date's history and points one bucket of accounts at
a time (:class:`~healthscore.scoring.history.PreviousDate`). The buckets hash the
accounts (:func:`healthscore.io.buckets.account_bucket`), so every row group of the
date's file (sorted by account) holds accounts of every bucket and an account filter
skips none: each bucket decoded the whole file, K buckets K times the widest file of
the book, and the next day grew with the book times the buckets. Split once, in one
pass over the file's row groups, each bucket reads its own part: the same rows in the
same order (a part keeps the file's order), the same columns and dtypes (the file's
schema, its pandas metadata included).

The parts live in a staging folder of the output folder
(:class:`~healthscore.io.staging.Stage`): removed by :meth:`BucketSplit.close` and,
after a killed run, by the next writer of the folder, never seen as outputs.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from healthscore.io.buckets import account_bucket
from healthscore.io.staging import Stage

#: Rows of the file read at a time while splitting, at most (one batch of every column
#: in memory, and its copy in bucket order) ...
SPLIT_ROWS = 65_536
#: ... and fewer when a batch of the file's rows would take more memory than this: the
#: points file of a wide model is ~4 KB a row.
SPLIT_BYTES = 64 * 2**20
#: Bytes a row of a column of a type of no fixed width counts for in :func:`_batch_rows`.
TEXT_BYTES = 32


class BucketSplit:
    """The Parquet file ``path`` as one part per bucket of ``buckets`` under a staging
    folder of ``root``; :meth:`read` gives what ``pandas.read_parquet(path, filters=
    [("account_id", "in", ids)])`` gives."""

    def __init__(self, path: str | Path, *, buckets: int, root: str | Path, label: str) -> None:
        self.path = Path(path).resolve()  # absolute: read by worker processes or Spark tasks
        self.buckets = int(buckets)
        self._stage = Stage(Path(root).resolve(), f"split-{label}").__enter__()
        self.parts: dict[int, Path] = {}
        try:
            self._split()
        except BaseException:
            self.close()
            raise

    def _split(self) -> None:
        source = pq.ParquetFile(self.path)
        schema = source.schema_arrow  # with the pandas metadata: the same dtypes read back
        writers: dict[int, pq.ParquetWriter] = {}
        # The parts are read once, by this run: no statistics, and dictionary pages only
        # for the dictionary columns (a categorical reads back with its own categories).
        # A write costs per column chunk, so a batch gives each bucket one slice (its
        # rows in the file's order) and a few threads write the buckets' slices at once
        # (Parquet writes release the GIL).
        options = {"write_statistics": False,
                   "use_dictionary": [f.name for f in schema if pa.types.is_dictionary(f.type)]}

        def write(k: int, rows: pa.RecordBatch) -> None:
            writers[k].write_batch(rows)

        try:
            with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
                for batch in source.iter_batches(batch_size=_batch_rows(schema)):
                    which = account_bucket(batch.column("account_id").to_numpy(zero_copy_only=False),
                                           self.buckets)
                    order = np.argsort(which, kind="stable")  # stable: the file's order in a bucket
                    ordered, which = batch.take(pa.array(order)), which[order]
                    keys, starts = np.unique(which, return_index=True)
                    ends = [*starts[1:].tolist(), len(which)]
                    for k in keys.tolist():
                        if k not in writers:
                            self.parts[k] = self._stage.new / f"bucket-{k:05d}.parquet"
                            writers[k] = pq.ParquetWriter(self.parts[k], schema, **options)
                    # one slice per bucket, each bucket's writer used by one thread at a time
                    list(pool.map(write, keys.tolist(),
                                  [ordered.slice(a, b - a) for a, b in zip(starts.tolist(), ends)]))
        finally:
            for writer in writers.values():
                writer.close()

    def read(self, account_ids: Any) -> pd.DataFrame:
        """The rows of ``account_ids``, in the file's order: from their bucket's part
        when they share one (a bucket's accounts), else from the file."""
        ids = list(account_ids)
        filters = [("account_id", "in", ids)]
        buckets = np.unique(account_bucket(ids, self.buckets)) if ids else np.zeros(0, dtype=np.int64)
        if len(buckets) != 1:
            return pd.read_parquet(self.path, filters=filters)
        part = self.parts.get(int(buckets[0]))
        if part is None:  # no row of that bucket: the file's empty answer (its columns)
            return pd.read_parquet(self.path, filters=filters)
        return pd.read_parquet(part, filters=filters)

    def close(self) -> None:
        """Remove the parts (idempotent)."""
        shutil.rmtree(self._stage.path, ignore_errors=True)


def _batch_rows(schema: pa.Schema) -> int:
    """Rows read at a time: :data:`SPLIT_ROWS`, fewer when a row of ``schema`` (its
    fixed-width columns' widths, :data:`TEXT_BYTES` for each other) is wide."""
    per_row = sum(f.type.byte_width if pa.types.is_primitive(f.type) and f.type.bit_width >= 8
                  else TEXT_BYTES for f in schema)
    return max(1, min(SPLIT_ROWS, SPLIT_BYTES // max(1, per_row)))


def split_previous(previous: Any, *, buckets: int) -> Any:
    """``previous`` (a :class:`~healthscore.scoring.history.PreviousDate`; anything else is
    returned as it is) with its history and points split per bucket of ``buckets``
    (:meth:`~healthscore.scoring.history.PreviousDate.close` removes the parts)."""
    from healthscore.scoring.history import PreviousDate

    if not isinstance(previous, PreviousDate) or int(buckets) < 2:
        return previous
    layout, label = previous.layout, f"{previous.as_of:%Y-%m-%d}"
    parts: dict[str, BucketSplit] = {}
    try:
        for kind, folder in (("history", layout.history_partition(previous.as_of)),
                             ("points", layout.points_partition(previous.as_of))):
            if (folder / "part-0.parquet").exists():  # else read_partition's named error, per bucket
                parts[kind] = BucketSplit(folder / "part-0.parquet", buckets=buckets, root=layout.root,
                                          label=f"{kind}-{label}")
    except BaseException:
        for split in parts.values():
            split.close()
        raise
    return previous.with_parts(parts)
