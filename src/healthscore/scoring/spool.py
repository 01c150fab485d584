"""One date's wide outputs spooled to disk bucket by bucket, merged with bounded memory.

Scoring a bucketed source (:mod:`healthscore.scoring.buckets`) makes, per bucket, the
points (a value and a points column per feature: the widest frame) and the why-it-changed
lines of that bucket's accounts. Held for every bucket until the write, they made the
peak grow with the book; here each bucket's frames go to a Parquet part as soon as
they are made (sorted by account, in row groups of :data:`ROW_GROUP_ROWS`), and
:meth:`Spool.write_merged` writes the date's one file from the parts as sorted runs:
the parts are read ``MERGE_ROWS`` account rows at a time (an account-id range, pushed
down to the row groups' statistics), sorted and appended. The file is the one a
whole-source run writes, row for row (tested).

The parts live in a staging folder of the output folder (:class:`~healthscore.io.staging.Stage`):
removed by :meth:`Spool.close`, and, after a killed run, by the next writer of the
folder, so they are never seen as outputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from healthscore.io.staging import Stage

#: Rows per Parquet row group of the spooled parts and of the merged files: a read
#: filtered by account (the previous date per bucket) holds one group at a time.
ROW_GROUP_ROWS = 16_384
#: Account rows read from the parts at once while merging.
MERGE_ROWS = 65_536
#: Frames spooled, and the keys of their order (the order one whole-source run gives).
SPOOLED = {"points": ("account_id",), "changes": ("account_id", "rank")}


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as Parquet in row groups of :data:`ROW_GROUP_ROWS` (no index)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False, row_group_size=ROW_GROUP_ROWS)


def write_part(folder: Path, kind: str, frame: pd.DataFrame, number: int) -> Path:
    """One bucket's ``kind`` frame as part ``number`` under ``folder / kind`` (sorted by
    the kind's keys when spooled, :data:`SPOOLED`); returns its path."""
    path = Path(folder) / kind / f"part-{int(number):05d}.parquet"
    keys = SPOOLED.get(kind)
    write_parquet(frame if keys is None or frame.empty else frame.sort_values(list(keys), kind="stable"),
                  path)
    return path


class Spool:
    """The spooled parts of one date under ``root`` (the output folder).

    ``add(kind, frame)`` per bucket; then :meth:`read` (rows and columns wanted only)
    and :meth:`write_merged` (the date's file); :meth:`close` removes the parts.
    """

    def __init__(self, root: str | Path, label: str) -> None:
        self._stage = Stage(root, f"spool-{label}").__enter__()
        self.folder = self._stage.new
        self.parts: dict[str, list[Path]] = {kind: [] for kind in SPOOLED}
        self._empty: dict[str, pd.DataFrame] = {}

    def add(self, kind: str, frame: pd.DataFrame) -> None:
        """Spool one bucket's ``kind`` frame (an empty one keeps only its columns)."""
        if frame.empty:
            self._empty.setdefault(kind, frame.iloc[:0].copy())
            return
        self.parts[kind].append(write_part(self.folder, kind, frame, len(self.parts[kind])))

    def adopt(self, kind: str, path: Path) -> None:
        """Take a part another process wrote into :attr:`folder` with :func:`write_part`
        (a Spark task, :mod:`healthscore.scoring.spark`) as if :meth:`add` had written it."""
        if pq.read_metadata(path).num_rows == 0:
            self._empty.setdefault(kind, pd.read_parquet(path))
            return
        self.parts[kind].append(Path(path))

    def read(self, kind: str, *, account_ids: Any = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The spooled ``kind`` rows (of ``account_ids`` only; ``columns`` only, with
        ``account_id``), in the merged file's order."""
        keys = list(SPOOLED[kind])
        paths = self.parts[kind]
        cols = None
        if columns is not None:  # those the parts have, in their order
            wanted = {*keys, *columns}
            cols = [c for c in (pq.read_schema(paths[0]).names if paths else keys) if c in wanted]
        if not paths:
            empty = self._empty.get(kind, pd.DataFrame(columns=keys))
            return empty if cols is None else empty.loc[:, [c for c in cols if c in empty.columns]]
        where = None
        if account_ids is not None:
            where = pc.field("account_id").isin(pa.array(pd.Series(list(account_ids)).to_numpy()))
        tables = [pq.read_table(p, columns=cols, filters=where) for p in paths]
        table = _sorted(pa.concat_tables(tables, promote_options="permissive"), keys)
        del tables  # the parts' buffers (the sorted copy is its own): one copy less at the peak
        return table.to_pandas()

    def read_parts(self, kind: str, *, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """The spooled ``kind`` rows one part (one bucket) at a time, in the parts' order,
        ``columns`` only (with the keys); no part: the empty frame :meth:`read` gives.
        For what adds up over the rows in any order (the drift's bin counts)."""
        paths = self.parts[kind]
        if not paths:
            yield self.read(kind, columns=columns)
            return
        cols = None
        if columns is not None:
            wanted = {*SPOOLED[kind], *columns}
            cols = [c for c in pq.read_schema(paths[0]).names if c in wanted]
        for path in paths:
            yield pq.read_table(path, columns=cols).to_pandas()

    def write_merged(self, kind: str, path: Path) -> None:
        """The date's ``kind`` file at ``path``, merged from the parts in key order
        (module docstring); no part: the empty frame a bucket gave."""
        paths = self.parts[kind]
        if not paths:
            write_parquet(self._empty.get(kind, pd.DataFrame()), path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        schema = pa.unify_schemas([pq.read_schema(p) for p in paths], promote_options="permissive")
        keys = list(SPOOLED[kind])
        with pq.ParquetWriter(path, schema) as writer:
            for where in _account_ranges(paths):
                parts = [pq.read_table(p, filters=where, schema=schema) for p in paths]
                writer.write_table(_sorted(pa.concat_tables(parts), keys), row_group_size=ROW_GROUP_ROWS)

    def close(self) -> None:
        """Remove the parts (idempotent)."""
        shutil.rmtree(self._stage.path, ignore_errors=True)


def _account_ranges(paths: Sequence[Path]):
    """Filters of consecutive account-id ranges of about :data:`MERGE_ROWS` rows each,
    covering every row of ``paths`` (only the ``account_id`` column is read)."""
    ids = np.sort(np.concatenate([pq.read_table(p, columns=["account_id"])["account_id"].to_numpy(
        zero_copy_only=False) for p in paths]))
    starts = list(dict.fromkeys(ids[::MERGE_ROWS].tolist()))
    field = pc.field("account_id")
    for i, lo in enumerate(starts):
        yield (field >= lo) & (field < starts[i + 1]) if i + 1 < len(starts) else field >= lo


def _sorted(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """``table`` sorted by ``keys`` ascending (a stable sort: ties keep their order)."""
    return table.take(pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys]))
