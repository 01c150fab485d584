"""Accounts in buckets: the bucketed source's layout, written and read one bucket at a time.

A feature row depends on its own account's rows only, and the few whole-table choices
(the most common event and signal types, category levels) are fixed by a
:class:`~healthscore.features.FeaturePlan`. So accounts split into buckets build
independently (:mod:`healthscore.features.spark`), and every scoring output is per
account as well (:mod:`healthscore.scoring.buckets`).

The bucketed source is a folder in the layout Spark's ``partitionBy`` writes::

    ROOT/buckets.json                      {"buckets": n, "observed_until": ...}
    ROOT/<table>/bucket=<k>/*.parquet      canonical rows of the accounts in bucket k

:func:`write_buckets` makes it from validated tables,
:func:`healthscore.sim.buckets.simulate_buckets` straight from the simulator at any
size; a Spark job can write the same thing from its own frames (canonical column
names, ``bucket`` from :func:`account_bucket`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from healthscore.config import DataParams
from healthscore.data.tables import Tables
from healthscore.data.validate import validate_tables
from healthscore.errors import DataError
from healthscore.io.files import write_json_atomic
from healthscore.io.mapping import map_tables
from healthscore.io.staging import Stage, folder_lock, has_pending_commit, is_bookkeeping, settle

META = "buckets.json"


def account_bucket(account_ids: Any, buckets: int) -> np.ndarray:
    """The bucket (0 .. ``buckets`` - 1) of each account id: a stable hash of the id's
    text, so integer and string ids bucket the same way on every machine."""
    text = pd.Series(account_ids).astype(str).to_numpy(dtype=object)
    return (pd.util.hash_array(text) % np.uint64(buckets)).astype(np.int64)


def write_buckets(tables: Tables, root: str | Path, buckets: int, *, force: bool = False) -> Path:
    """Write validated tables as a bucketed source (module docstring); returns ``root``.

    Every table gets a file in every bucket, empty where no account of the bucket has
    rows, so each bucket sees the same tables and columns. ``force``: write into a
    folder that holds other files (they are kept).
    """
    if buckets < 1:
        raise DataError(f"buckets: expected an integer >= 1, got {buckets!r}")
    root = Path(root)

    def write(staging: Path) -> pd.Timestamp:
        for name in tables:
            frame = tables[name]
            which = account_bucket(frame["account_id"], buckets)
            for k in range(buckets):
                part = staging / name / f"bucket={k}"
                part.mkdir(parents=True, exist_ok=True)
                table = pa.Table.from_pandas(frame[which == k], preserve_index=False)
                pq.write_table(table, part / "part-0.parquet")
        return tables.observed_until

    return write_aside(root, buckets, write, force=force)


def write_aside(root: Path, buckets: int, write: Any, *, force: bool = False) -> Path:
    """Run ``write(staging) -> observed_until`` in a staging folder inside ``root``, add
    the metadata, then commit it in place of the previous source's tables, under the
    folder's lock (:mod:`healthscore.io.staging`; a failed run leaves ``root`` whole)."""
    if root.exists() and not root.is_dir():
        raise DataError(f"{root}: is a file; expected a folder for a bucketed source")
    if not force and root.is_dir() and not (root / META).exists() and _names(root):
        raise DataError(f"{root}: exists and is not a bucketed source (holds {_names(root)[0]!r}, no "
                        f"{META}); refusing to replace it")
    with folder_lock(root, what="bucketed source"), Stage(root, "buckets") as stage:
        observed_until = write(stage.new)
        write_json_atomic({"buckets": buckets, "observed_until": str(observed_until)}, stage.new / META)
        entries = sorted(p.name for p in stage.new.iterdir() if p.name != META) + [META]
        # the previous source's tables that this one has not; none of a foreign folder's files
        stale = [] if not (root / META).exists() else [n for n in _names(root) if n not in entries]
        stage.commit(entries, remove=stale)
    return root


def _names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not is_bookkeeping(p.name))


def read_meta(root: str | Path) -> dict[str, Any]:
    if not isinstance(root, (str, Path)):  # a source that reads its own buckets (io.sql.SqlSource)
        return root.meta()
    if has_pending_commit(root):  # a killed write: finish it before reading
        settle(root)
    path = Path(root) / META
    if not path.exists():
        raise DataError(f"{root}: not a bucketed source (no {META}); make one with write_buckets")
    return json.loads(path.read_text())


def read_bucket(root: str | Path, bucket: int) -> Tables:
    """The tables of one bucket, validated as any source is (with the whole source's
    ``observed_until``, so a bucket keeps exactly the rows a single build keeps)."""
    if not isinstance(root, (str, Path)):  # a source that reads its own buckets (io.sql.SqlSource)
        return root.read_bucket(bucket)
    root = Path(root)
    meta = read_meta(root)
    raw = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        part = folder / f"bucket={bucket}"
        files = sorted(part.glob("*.parquet")) if part.is_dir() else []
        if files:
            raw[folder.name] = pa.concat_tables([pq.read_table(f) for f in files]).to_pandas()
        else:  # Spark writes no folder for a bucket without rows: same columns, no rows
            any_file = next(folder.glob("bucket=*/*.parquet"), None)
            if any_file is not None:
                raw[folder.name] = pq.read_schema(any_file).empty_table().to_pandas()
    frames, extras = map_tables(raw, DataParams())
    tables, _ = validate_tables(frames, extras=extras, observed_until=pd.Timestamp(meta["observed_until"]),
                                on_invalid_rows="error")
    return tables


def is_bucketed(source: str | Path | None) -> bool:
    """Whether ``source`` is a bucketed folder (:func:`write_buckets`)."""
    return source is not None and (Path(source) / META).is_file()
