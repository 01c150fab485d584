"""Sentiment features from the ``surveys`` table (family ``sentiment``).

Scores are read as NPS answers (0-10). When a ``kind`` column exists and some rows
of the whole table say ``nps`` (any case), only such rows are used; otherwise every
row is (a plan choice, see :mod:`healthscore.features.plan`). Responses at
the same instant are ordered by score, so "the last response" never depends on the
input order.

``surveys__nps_last``
    Score of the latest response before ``q``.
``surveys__nps_change``
    Latest minus the one before it (NaN with fewer than two responses).
``surveys__nps_detractor``
    1 when the latest score is at most ``params.detractor_max``, else 0 (NaN: none).
``surveys__days_since_last``
    Days from the latest response to ``q``.
``surveys__days_since_last_detractor``
    Days from the latest response scoring at most ``params.detractor_max`` to ``q``
    (NaN: none).
``surveys__nps_mean__<w>d``, ``surveys__responses__<w>d``
    Mean score and number of responses in ``[q - w, q)``.
"""

from __future__ import annotations

import numpy as np

from healthscore.config import FeatureParams
from healthscore.features._base import Extracted, floats_of, times_of
from healthscore.features._windows import DAY_US, Queries, TimeIndex, ratio
from healthscore.data.tables import Tables

TABLE = "surveys"


def names(tables: Tables, params: FeatureParams, _types=()) -> list[str]:
    windows = [f"{w}d" for w in params.windows]
    return (["surveys__nps_last", "surveys__nps_change", "surveys__nps_detractor",
             "surveys__days_since_last", "surveys__days_since_last_detractor"]
            + [f"surveys__nps_mean__{w}" for w in windows]
            + [f"surveys__responses__{w}" for w in windows])


def extract(frame, params: FeatureParams, kind: str | None = None) -> Extracted:
    """``kind``: the plan's ``survey_kind`` (keep only rows of that kind), or None."""
    keep = ~np.isnan(floats_of(frame, "score"))
    if kind is not None and "kind" in frame.columns:
        values = frame["kind"]
        keep &= (values.astype("str").str.strip().str.lower().eq(kind) & values.notna()).to_numpy()
    rows = None if keep.all() else np.flatnonzero(keep)
    time, score = times_of(frame, "responded_at"), floats_of(frame, "score")
    if rows is not None:
        time, score = time[rows], score[rows]
    return Extracted({"time": time, "score": score}, rows=rows)


def compute(arrays, queries: Queries, *, params: FeatureParams, meta=None, context=None):
    out: dict[str, np.ndarray] = {}
    index = TimeIndex(arrays["code"], arrays["time"], queries, tiebreak=arrays["score"])
    score = index.take(arrays["score"])
    last, before = index.last(score, 1), index.last(score, 2)
    out["surveys__nps_last"] = last
    out["surveys__nps_change"] = last - before
    detractor = np.where(last <= params.detractor_max, 1.0, 0.0)
    detractor[np.isnan(last)] = np.nan
    out["surveys__nps_detractor"] = detractor
    out["surveys__days_since_last"] = (queries.time - index.last(index.time)) / DAY_US
    low = arrays["score"] <= params.detractor_max
    detractors = TimeIndex(arrays["code"][low], arrays["time"][low], queries)
    out["surveys__days_since_last_detractor"] = (
        queries.time - detractors.last(detractors.time)) / DAY_US
    sums = index.summer(arrays["score"])
    r0, start = index.rank(0), index.start()
    at_q = sums.at(r0, start)
    for w in params.windows:
        back = index.rank(w * DAY_US)
        n = (r0 - back).astype(np.float64)
        out[f"surveys__nps_mean__{w}d"] = ratio(at_q - sums.at(back, start), n)
        out[f"surveys__responses__{w}d"] = n
    return out
