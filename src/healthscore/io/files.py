"""Small files in and out: cutoffs, ground truth and oracle tables read; Parquet, JSON
and text written atomically (a temporary file beside the target, then renamed), so a
failed run never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from healthscore.errors import DataError

def read_cutoffs_file(path: str | Path) -> pd.DataFrame:
    """Read a cutoffs file as given (CSV cells as text, so ids keep their form)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"cutoffs file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=True)
    except Exception as exc:  # pyarrow / pandas raise many kinds
        raise DataError(f"cannot read cutoffs file {path}: {exc}") from None
    raise DataError(f"cutoffs file {path}: expected a .parquet or .csv file")


def read_ground_truth(path: str | Path) -> pd.DataFrame:
    """The simulator's ``ground_truth`` table (Parquet or CSV)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"ground truth {path} does not exist")
    if path.suffix == ".csv":
        return pd.read_csv(path, parse_dates=["renewal_date"])
    return pd.read_parquet(path)


def read_oracle(path: str | Path) -> pd.DataFrame:
    """The simulator's ``oracle`` table (Parquet or CSV): true risk per (account, cutoff)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"oracle {path} does not exist")
    if path.suffix == ".csv":
        frame = pd.read_csv(path, parse_dates=["cutoff_time", "next_renewal_date"])
        return frame.astype({"cutoff_time": "datetime64[us]",
                             "next_renewal_date": "datetime64[us]"})
    return pd.read_parquet(path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as Parquet at ``path`` atomically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def write_text_atomic(text: str, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def strict_json(value: Any) -> Any:
    """``value`` ready for strict JSON: NaN and infinities as None and numpy scalars as
    Python ones, through nested dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def json_text(obj: Any) -> str:
    """``obj`` as the JSON text :func:`write_json_atomic` writes (timestamps, numpy
    scalars and paths as plain values); ``json.loads`` of it then writes the same file."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default)


def write_json_atomic(obj: Any, path: str | Path) -> Path:
    return write_text_atomic(json_text(obj) + "\n", path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
