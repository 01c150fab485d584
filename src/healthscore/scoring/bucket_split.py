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

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from healthscore.io.buckets import account_bucket
from healthscore.io.staging import Stage

#: Rows of the file read at a time while splitting (one batch of every column in memory).
SPLIT_ROWS = 16_384


class BucketSplit:
    """The Parquet file ``path`` as one part per bucket of ``buckets`` under a staging
    folder of ``root``; :meth:`read` gives what ``pandas.read_parquet(path, filters=
    [("account_id", "in", ids)])`` gives."""

    def __init__(self, path: str | Path, *, buckets: int, root: str | Path, label: str) -> None:
        self.path = Path(path)
        self.buckets = int(buckets)
        self._stage = Stage(root, f"split-{label}").__enter__()
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
        try:
            for batch in source.iter_batches(batch_size=SPLIT_ROWS):
                which = account_bucket(batch.column("account_id").to_numpy(zero_copy_only=False), self.buckets)
                for k in np.unique(which).tolist():
                    if k not in writers:
                        self.parts[k] = self._stage.new / f"bucket-{k:05d}.parquet"
                        writers[k] = pq.ParquetWriter(self.parts[k], schema)
                    writers[k].write_batch(batch.filter(pa.array(which == k)))
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
