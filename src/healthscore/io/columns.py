"""A wide Parquet file read a few columns at a time.

The points of a scoring date (``points/as_of=<date>/part-0.parquet``) hold a value and
a points column per feature for every scored account: at a million accounts and two
hundred features, gigabytes in pandas. A view that needs per-account sums, one
feature's column at a time or a few accounts' rows reads them from
:class:`ParquetColumns` instead of the whole frame.

:class:`ParquetColumns` answers the part of the :class:`pandas.DataFrame` interface
such code uses (``columns``, ``empty``, ``index``, ``len``, ``frame[name]`` and
``frame[[names]]``), so the same function takes a frame or the file. Each column comes
out as ``pandas.read_parquet`` of the whole file gives it: the same dtype, the same
values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from healthscore.errors import DataError

#: Columns of a wide file (or frame) taken at a time by the code that reads it a few
#: columns at a time (the report's points, the peer standings): one Parquet read per
#: group, never the whole numeric frame, never one read per column.
COLUMN_GROUP = 32
#: Columns pyarrow adds for a stored pandas index (never data).
_INDEX_PREFIX = "__index_level_"


class ParquetColumns:
    """A Parquet file whose columns are read when asked for.

    Parameters
    ----------
    path : path
        The Parquet file.
    drop : tuple of str
        Columns never shown (as if the file had not them).
    """

    def __init__(self, path: str | Path, *, drop: tuple[str, ...] = ()) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        try:
            meta = pq.read_metadata(self.path)
            names = pq.read_schema(self.path).names
        except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
            raise DataError(f"{self.path}: not a readable Parquet file ({exc})") from None
        self.num_rows = int(meta.num_rows)
        self.columns = pd.Index([n for n in names if n not in drop and not n.startswith(_INDEX_PREFIX)],
                                dtype=object)

    # ------------------------------------------------- the frame's interface

    @property
    def empty(self) -> bool:
        return self.num_rows == 0 or len(self.columns) == 0

    @property
    def index(self) -> pd.RangeIndex:
        return pd.RangeIndex(self.num_rows)

    @property
    def shape(self) -> tuple[int, int]:
        return self.num_rows, len(self.columns)

    def __len__(self) -> int:
        return self.num_rows

    def __getitem__(self, key: Any) -> pd.Series | pd.DataFrame:
        """``[name]``: one column as a Series; ``[[names]]``: those columns as a frame."""
        if isinstance(key, str):
            return self.read([key])[key]
        return self.read(list(key))

    def read(self, columns: Iterable[str]) -> pd.DataFrame:
        """The ``columns`` (in that order) of every row; KeyError naming an absent one."""
        columns = list(dict.fromkeys(columns))
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise KeyError(f"{self.path}: no column {missing[0]!r}")
        if not columns:
            return pd.DataFrame(index=self.index)
        return pd.read_parquet(self.path, columns=columns)

    def rows(self, values: Iterable[Any], *, column: str = "account_id") -> pd.DataFrame:
        """Every column of the rows whose ``column`` is one of ``values``, in the file's
        order (the filter is pushed down to the Parquet scan)."""
        values = list(dict.fromkeys(values))
        columns = list(self.columns)
        if not values:
            import pyarrow.parquet as pq

            return pq.read_schema(self.path).empty_table().to_pandas().loc[:, columns]
        return pd.read_parquet(self.path, columns=columns, filters=[(column, "in", values)])

    def __repr__(self) -> str:
        return f"ParquetColumns({str(self.path)!r}, {self.num_rows} rows x {len(self.columns)} columns)"
