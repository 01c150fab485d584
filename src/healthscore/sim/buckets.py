"""The simulator straight into a bucketed source (:mod:`healthscore.io.buckets`), one
chunk of accounts in memory at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

from healthscore.data.end import observed_until_after
from healthscore.errors import DataError
from healthscore.io.buckets import account_bucket, write_aside


def simulate_buckets(spec: Any, root: str | Path, buckets: int, *, force: bool = False) -> Path:
    """Simulate ``spec`` straight into a bucketed source (no whole-source file).

    Each chunk of ``spec.chunk_accounts`` accounts is split by :func:`account_bucket`
    into ``ROOT/<table>/bucket=<k>/part-<chunk>.parquet``, so memory stays bounded by a
    chunk whatever the number of accounts; ``observed_until`` is what reading the whole
    simulation gives (the day after its latest dated row). Staged, then committed, as
    :func:`~healthscore.io.buckets.write_buckets` (``force`` as there).
    """
    from healthscore.data.schema import TABLES
    from healthscore.sim.run import iter_chunks

    if buckets < 1:
        raise DataError(f"buckets: expected an integer >= 1, got {buckets!r}")
    root = Path(root)

    def write(staging: Path) -> pd.Timestamp:
        latest = []  # each chunk's latest event time per table
        for chunk, (tables, _) in enumerate(iter_chunks(spec)):
            for name, table in tables.items():
                if not table.num_rows:
                    continue
                which = account_bucket(table.column("account_id").to_numpy(), buckets)
                for k in np.unique(which):
                    part = staging / name / f"bucket={k}"
                    part.mkdir(parents=True, exist_ok=True)
                    pq.write_table(table.filter(pa.array(which == k)), part / f"part-{chunk:05d}.parquet")
                column = TABLES[name].event_time if name in TABLES else None
                if column and column in table.column_names:
                    latest.append(pa.compute.max(table.column(column)).as_py())
        return observed_until_after(latest)  # as reading the whole simulation gives

    return write_aside(root, buckets, write, force=force)
