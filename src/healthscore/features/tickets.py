"""Support features from the ``tickets`` table (family ``support``).

A ticket is known from ``opened_at``; its close (``closed_at``) and its ``csat``
(given at close) only from ``closed_at``. So at a cutoff ``q``:

``tickets__opened__<w>d``
    Tickets opened in ``[q - w, q)``.
``tickets__open__now``
    Tickets opened before ``q`` and not closed before ``q`` (a ticket closed at or
    after ``q`` is open at ``q``). Needs ``closed_at``.
``tickets__opened__<w>d_vs_prev_<w>d``
    For ``trend_windows``: ``(a + 1) / (b + 1)``, tickets opened in ``[q - w, q)``
    against ``[q - 2w, q - w)``; above 1 means more tickets lately.
``tickets__high_priority__<w>d``, ``tickets__high_priority_share__<w>d``
    Number and share of the window's opened tickets whose ``priority`` is in
    ``params.high_priority`` (case-insensitive); the share is NaN when none were
    opened.
``tickets__days_since_last_high_priority``
    Days from the latest high-priority ticket opened before ``q`` to ``q`` (NaN: none).
``tickets__days_to_close_mean__<w>d``
    Mean days from open to close of the tickets closed in ``[q - w, q)``.
``tickets__csat_mean__<w>d``
    Mean ``csat`` of the tickets closed in ``[q - w, q)`` that have one.
"""

from __future__ import annotations

import numpy as np

from healthscore.config import FeatureParams
from healthscore.features._base import Extracted, floats_of, times_of
from healthscore.features._windows import DAY_US, NAT, Queries, Stab, TimeIndex, cumsum0, is_integral, ratio
from healthscore.data.tables import Tables

TABLE = "tickets"


def names(tables: Tables, params: FeatureParams, _types=()) -> list[str]:
    columns = set(tables[TABLE].columns)
    windows = [f"{w}d" for w in params.windows]
    out = [f"tickets__opened__{w}" for w in windows]
    out += [f"tickets__opened__{w}d_vs_prev_{w}d" for w in params.trend_windows]
    closed = "closed_at" in columns
    if closed:
        out.append("tickets__open__now")
    if "priority" in columns:
        out += [f"tickets__high_priority__{w}" for w in windows]
        out += [f"tickets__high_priority_share__{w}" for w in windows]
        out.append("tickets__days_since_last_high_priority")
    if closed:
        out += [f"tickets__days_to_close_mean__{w}" for w in windows]
        if "csat" in columns:
            out += [f"tickets__csat_mean__{w}" for w in windows]
    return out


def extract(frame, params: FeatureParams, _types=()) -> Extracted:
    arrays = {"opened": times_of(frame, "opened_at")}
    if "closed_at" in frame.columns:
        arrays["closed"] = times_of(frame, "closed_at")
    if "priority" in frame.columns:
        wanted = {str(p).strip().lower() for p in params.high_priority}
        priority = frame["priority"].astype("str").str.strip().str.lower()
        arrays["high"] = (priority.isin(wanted) & frame["priority"].notna()).to_numpy(dtype=bool)
    if "csat" in frame.columns:
        arrays["csat"] = floats_of(frame, "csat")
    return Extracted(arrays)


def compute(arrays, queries: Queries, *, params: FeatureParams, meta=None, context=None):
    out: dict[str, np.ndarray] = {}
    code, opened = arrays["code"], arrays["opened"]
    index = TimeIndex(code, opened, queries)
    opened_counts = {w: index.count(w * DAY_US) for w in params.windows}
    for w in params.windows:
        out[f"tickets__opened__{w}d"] = opened_counts[w]
    for w in params.trend_windows:
        now, prev = index.count(w * DAY_US), index.count(2 * w * DAY_US, w * DAY_US)
        out[f"tickets__opened__{w}d_vs_prev_{w}d"] = (now + 1) / (prev + 1)
    if "high" in arrays:
        high = cumsum0(index.take(arrays["high"]))
        r0 = index.rank(0)
        for w in params.windows:
            n_high = (high[r0] - high[index.rank(w * DAY_US)]).astype(np.float64)
            out[f"tickets__high_priority__{w}d"] = n_high
            out[f"tickets__high_priority_share__{w}d"] = ratio(n_high, opened_counts[w])
        flagged = arrays["high"]
        urgent = TimeIndex(code[flagged], opened[flagged], queries)
        out["tickets__days_since_last_high_priority"] = (
            queries.time - urgent.last(urgent.time)) / DAY_US
    if "closed" not in arrays:
        return out
    closed = arrays["closed"]
    out["tickets__open__now"] = Stab(code, opened, closed, queries).count()
    done = closed != NAT
    days = (closed[done] - opened[done]) / DAY_US
    _closed_means(out, "days_to_close_mean", code[done], closed[done], days, queries, params)
    if "csat" in arrays:
        rated = done & ~np.isnan(arrays["csat"])
        _closed_means(out, "csat_mean", code[rated], closed[rated], arrays["csat"][rated],
                      queries, params)
    return out


def _closed_means(out, measure, code, closed, values, queries, params) -> None:
    """Mean of ``values`` over the tickets closed in each window."""
    index = TimeIndex(code, closed, queries, tiebreak=None if is_integral(values) else values)
    sums = index.summer(values)
    r0, start = index.rank(0), index.start()
    at_q = sums.at(r0, start)
    for w in params.windows:
        back = index.rank(w * DAY_US)
        total = at_q - sums.at(back, start)
        out[f"tickets__{measure}__{w}d"] = ratio(total, (r0 - back).astype(np.float64))
