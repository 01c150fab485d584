"""Stable encoding of a feature frame into LightGBM's float matrix.

Categorical columns (``category``, ``object``, ``string``) become codes into levels
learned at fit time and stored with the model, so a scoring frame encodes identically
whatever its own category order; an unseen level or a missing value becomes NaN
(LightGBM's "missing"). Levels are compared as strings, so ``1`` and ``"1"`` match.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from healthscore.errors import DataError


def is_categorical(series: pd.Series) -> bool:
    """True for columns encoded as categories (not numbers nor booleans)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return True
    return not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))


def learn_columns(frame: pd.DataFrame) -> tuple[list[str], dict[str, list[str]]]:
    """Feature names (as strings, in column order) and the levels of categoricals.

    A ``category`` column keeps its declared categories (in order); another
    categorical column gets its sorted distinct non-missing values.
    """
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"feature frame: duplicated column name(s) {', '.join(duplicated)}")
    categories: dict[str, list[str]] = {}
    for name, column in zip(names, frame.columns):
        series = frame[column]
        if not is_categorical(series):
            continue
        if isinstance(series.dtype, pd.CategoricalDtype):
            levels = [str(v) for v in series.cat.categories]
        else:
            levels = sorted({str(v) for v in series.dropna().unique()})
        if len(set(levels)) != len(levels):
            raise DataError(f"feature {name}: categories collide once written as text: {levels}")
        categories[name] = levels
    return names, categories


def encode_frame(
    frame: pd.DataFrame, names: list[str], categories: dict[str, list[str]]
) -> np.ndarray:
    """Float64 matrix of shape (n, len(names)) in ``names`` order.

    ``frame`` holds the columns ``names`` (positionally when their labels differ, as for
    a frame built from an array). Numeric values pass through (missing = NaN);
    categorical ones become level codes (unseen or missing = NaN).
    """
    if frame.shape[1] != len(names):
        raise DataError(f"feature frame: expected {len(names)} columns, got {frame.shape[1]}")
    out = np.empty((len(frame), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        series = frame.iloc[:, j]
        if name in categories:
            levels = pd.Index(categories[name], dtype="string")
            codes = levels.get_indexer(series.astype("string")).astype(np.float64)
            codes[codes < 0] = np.nan  # unseen level or missing value
            out[:, j] = codes
        else:
            if is_categorical(series):
                try:
                    series = pd.to_numeric(series.astype("object"), errors="raise")
                except (TypeError, ValueError):
                    example = series.dropna().iloc[0] if series.notna().any() else None
                    raise DataError(
                        f"feature {name}: expected numbers (as at training), got "
                        f"{series.dtype} values such as {example!r}"
                    ) from None
            out[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return out
