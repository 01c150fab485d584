"""Population stability index (PSI) over bins fixed at training.

A numeric feature's bins are the training window's quantile edges (``bins`` equal-count
bins, ties merged: a feature that is 0 on 60 % of rows has one bin for them), plus one
bin for missing values; a categorical feature's bins are its training levels, one for
any level unseen at training and one for missing values. Values are binned identically
at training and at scoring by :func:`numeric_shares` / :func:`categorical_shares`.

``PSI = sum_b (a_b - e_b) * ln(a_b / e_b)`` over the bins, ``e`` the training shares and
``a`` the current ones, each share floored at :data:`FLOOR` so an empty bin counts as a
large shift rather than an infinite one. Convention: below 0.1 stable, 0.1 to 0.25 a
moderate shift, above 0.25 a major one (``params.monitor``).

Pure: arrays in, arrays and floats out.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

#: Share given to an empty bin in the PSI (either side).
FLOOR = 1e-4
#: Bin of a level unseen at training, and of a missing value (categorical features).
OTHER, MISSING = "(other)", "(missing)"


def quantile_edges(values: Any, *, bins: int) -> list[float]:
    """Interior bin edges of ``values``: their ``1/bins .. (bins-1)/bins`` quantiles,
    duplicates merged (finite values only; ``[]`` when none)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return []
    edges = np.quantile(x, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return [float(e) for e in np.unique(edges)]


def numeric_counts(values: Any, edges: Sequence[float]) -> np.ndarray:
    """How many of ``values`` fall in each bin of :func:`numeric_shares` (float64, exact:
    the counts of parts of the values add up to those of the whole)."""
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    index = np.where(finite, np.searchsorted(np.asarray(edges, dtype=np.float64),
                                             np.where(finite, x, 0.0), side="left"),
                     len(edges) + 1)
    return np.bincount(index, minlength=len(edges) + 2).astype(np.float64)


def numeric_shares(values: Any, edges: Sequence[float]) -> np.ndarray:
    """Share of ``values`` in each bin: ``(-inf, e0], (e0, e1], ..., (e_last, inf)`` and
    missing (NaN or infinite) last; shape ``(len(edges) + 2,)``, zeros when empty."""
    x = np.asarray(values, dtype=np.float64)
    return numeric_counts(x, edges) / max(x.size, 1)


def category_text(values: Any) -> pd.Series:
    """Category values as text, missing as :data:`MISSING` (training frames hold
    ``category`` columns, stored points hold text)."""
    series = pd.Series(values).astype(object)
    return series.where(series.notna(), MISSING).astype(str)


def category_levels(values: Any) -> list[str]:
    """Training levels of a categorical feature, sorted, missing left out."""
    return sorted(set(category_text(values)) - {MISSING})


def categorical_counts(values: Any, levels: Sequence[str]) -> np.ndarray:
    """How many of ``values`` are at each bin of :func:`categorical_shares` (float64, exact)."""
    text = category_text(values)
    known = {level: i for i, level in enumerate(levels)}
    index = text.map(lambda v: known.get(v, len(levels) + (v == MISSING))).to_numpy(np.int64)
    return np.bincount(index, minlength=len(levels) + 2).astype(np.float64)


def categorical_shares(values: Any, levels: Sequence[str]) -> np.ndarray:
    """Share of ``values`` at each of ``levels``, then unseen levels, then missing;
    shape ``(len(levels) + 2,)``."""
    return categorical_counts(values, levels) / max(len(values), 1)


def psi(expected: Any, actual: Any) -> float:
    """Population stability index of ``actual`` shares against ``expected`` shares
    (same bins); NaN when either side is empty."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"psi: {e.size} reference bins against {a.size} current bins")
    if e.sum() <= 0 or a.sum() <= 0:
        return float("nan")
    e, a = np.maximum(e, FLOOR), np.maximum(a, FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))
