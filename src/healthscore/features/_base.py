"""What every feature source module shares: its extracted columns and the context.

A source module (``events``, ``tickets``, ...) has three functions:

``names(tables, params, plan_types) -> list[str]``
    The columns it produces for these tables (optional columns that are absent
    simply remove the features that need them).
``extract(frame, params, plan) -> Extracted``
    Once per build: the table's columns as NumPy arrays, one value per row.
``compute(arrays, queries, *, params, meta, context) -> dict[str, ndarray]``
    Once per partition: the arrays of the partition's rows (with ``code``, the local
    account code) and its sorted cutoff rows; one float64 array per feature name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from healthscore.features._windows import as_us


@dataclass
class Extracted:
    """One table as arrays plus whole-table facts in ``meta``.

    ``rows``: the positions of the frame's rows the arrays hold (None: all, in order).
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
    rows: np.ndarray | None = None


@dataclass
class AccountContext:
    """Account attributes by account position (row of ``tables.accounts``).

    ``seats`` is float64 (NaN when unknown) or None when the column is absent;
    ``created_at`` int64 us (``NAT`` when unknown) or None.
    """

    seats: np.ndarray | None
    created_at: np.ndarray | None

    @classmethod
    def from_accounts(cls, accounts: pd.DataFrame) -> "AccountContext":
        seats = (accounts["seats"].to_numpy(dtype=np.float64, na_value=np.nan)
                 if "seats" in accounts.columns else None)
        created = as_us(accounts["created_at"]) if "created_at" in accounts.columns else None
        return cls(seats, created)


def times_of(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A timestamp column as int64 microseconds (NaT -> ``NAT``)."""
    return as_us(frame[column])


def floats_of(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as float64 (missing -> NaN); a read-only view when possible."""
    series = frame[column]
    if series.dtype == np.float64:
        return series.to_numpy()
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def codes_of(series: pd.Series, names) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a text column (-1 when missing) and the codes of ``names``
    (-1 for a name that does not occur)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    lookup = {str(v): i for i, v in enumerate(uniques)}
    wanted = np.array([lookup.get(str(n), -1) for n in names], dtype=np.int64)
    return codes.astype(np.int32 if len(uniques) < 2**31 - 1 else np.int64), wanted
