"""The per-feature points of one as-of date, stored wide.

``points/as_of=<date>/part-0.parquet`` has one row per scored account:

* ``account_id``;
* ``base`` and ``residual`` (the score of an average account, and what the points do
  not explain: 0 with Platt calibration); ``base + sum(points:*) + residual`` is the
  unclipped health score of the history;
* ``row_hash`` (uint64): a hash of the feature row, and ``model_fingerprint``: with
  both equal, a stored row's points can be reused (``params.score.incremental``);
* for every model feature ``f``: the value as scored in column ``f`` (float64, or text
  for categories) and its points in column ``points:f``; also the values (no points)
  of other features the catalogue phrases refer to (``accounts__seats``).

Wide keeps the why-it-changed arithmetic a matrix subtraction and a row renders
phrases that refer to other features (the report makes its own long form).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from healthscore.scoring.explain import Explanation
from healthscore.data.schema import POINTS_PREFIX


def points_column(feature: str) -> str:
    return f"{POINTS_PREFIX}{feature}"


def feature_names_of(frame: pd.DataFrame) -> list[str]:
    """Features of a stored points frame, in stored order."""
    return [c[len(POINTS_PREFIX):] for c in frame.columns if c.startswith(POINTS_PREFIX)]


def hash_rows(values: pd.DataFrame) -> np.ndarray:
    """uint64 hash of each feature row (values and column order; index ignored)."""
    return pd.util.hash_pandas_object(values, index=False, categorize=True).to_numpy()


def make_points_frame(
    account_ids: Any,
    values: pd.DataFrame,
    explanation: Explanation,
    *,
    row_hash: np.ndarray,
    model_fingerprint: str,
    value_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Assemble the wide points frame (see the module docstring); n rows in order.

    ``value_names``: feature values to keep (default: the model's features); add the
    ones the catalogue phrases refer to, so stored rows render the same phrases.
    """
    names = explanation.feature_names
    columns: dict[str, Any] = {
        "account_id": np.asarray(account_ids),
        "base": explanation.base,
        "residual": explanation.residual,
        "row_hash": np.asarray(row_hash, dtype=np.uint64),
        "model_fingerprint": np.full(len(explanation), model_fingerprint, dtype=object),
    }
    for name in dict.fromkeys([*names, *(value_names or ())]):
        series = values[name]
        if isinstance(series.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(series):
            columns[name] = series.astype("string").to_numpy()
        else:
            columns[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    points = pd.DataFrame(explanation.points, columns=[points_column(n) for n in names])
    head = pd.DataFrame(columns)
    head["model_fingerprint"] = head["model_fingerprint"].astype("string")
    return pd.concat([head, points], axis=1)


def points_matrix(frame: pd.DataFrame, names: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
    """(n, len(names)) float64 points of ``names``; 0 for a feature the frame lacks.

    ``rows``: positions of the rows to take (default: all), without copying the frame.
    """
    out = np.zeros((len(frame) if rows is None else len(rows), len(names)))
    for j, name in enumerate(names):
        column = points_column(name)
        if column in frame:
            values = frame[column].to_numpy(dtype=np.float64)
            out[:, j] = values if rows is None else values[rows]
    return out


def unclipped_of(frame: pd.DataFrame) -> np.ndarray:
    """``base + sum(points) + residual`` of each stored row."""
    names = feature_names_of(frame)
    return (frame["base"].to_numpy() + points_matrix(frame, names).sum(axis=1)
            + frame["residual"].to_numpy())

