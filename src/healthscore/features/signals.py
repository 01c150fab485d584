"""Generic signals from the ``signals`` table (referrals, sponsor meetings, ...).

For each of the ``top_signal_types`` most common signals (chosen over the whole
table, see :mod:`healthscore.features.plan`) and window ``[q - w, q)``:

``signals__<signal>__count__<w>d``
    Signals of that type in the window.
``signals__<signal>__value__<w>d``
    Sum of their ``value`` (missing values count as 0), when the column exists.
``signals__<signal>__days_since_last``
    Days from the latest signal of that type before ``q`` to ``q`` (NaN: none).

The family of each signal type in explanations is ``params.signal_families``'s (see
:mod:`healthscore.features.catalogue`).
"""

from __future__ import annotations

import numpy as np

from healthscore.config import FeatureParams
from healthscore.features._base import Extracted, codes_of, floats_of, times_of
from healthscore.features._windows import (
    DAY_US, LocalPrefix, Queries, TimeIndex, cumsum0, is_integral,
)
from healthscore.features.plan import slugify
from healthscore.data.tables import Tables

TABLE = "signals"


def names(tables: Tables, params: FeatureParams, signal_types=()) -> list[str]:
    value = "value" in tables[TABLE].columns
    out = []
    for slug in slugify(signal_types):
        out += [f"signals__{slug}__count__{w}d" for w in params.windows]
        if value:
            out += [f"signals__{slug}__value__{w}d" for w in params.windows]
        out.append(f"signals__{slug}__days_since_last")
    return out


def extract(frame, params: FeatureParams, signal_types=()) -> Extracted:
    types, top = codes_of(frame["signal"], signal_types)
    arrays = {"time": times_of(frame, "timestamp"), "type": types}
    if "value" in frame.columns:
        arrays["value"] = np.nan_to_num(floats_of(frame, "value"), nan=0.0)
    return Extracted(arrays, {"top_codes": top, "slugs": slugify(signal_types)})


def compute(arrays, queries: Queries, *, params: FeatureParams, meta=None, context=None):
    out: dict[str, np.ndarray] = {}
    value = arrays.get("value")
    tie = value if value is not None and not is_integral(value) else None
    index = TimeIndex(arrays["code"], arrays["time"], queries, tiebreak=tie)
    types = index.take(arrays["type"])
    value_sorted = index.take(value) if value is not None else None
    r0, start = index.rank(0), index.start()
    for slug, type_code in zip(meta["slugs"], meta["top_codes"]):
        hit = types == type_code
        counts = cumsum0(hit)
        sums = (LocalPrefix(np.where(hit, value_sorted, 0.0), index.code)
                if value is not None else None)
        for w in params.windows:
            back = index.rank(w * DAY_US)
            out[f"signals__{slug}__count__{w}d"] = (counts[r0] - counts[back]).astype(np.float64)
            if sums is not None:
                out[f"signals__{slug}__value__{w}d"] = sums.at(r0, start) - sums.at(back, start)
        out[f"signals__{slug}__days_since_last"] = _days_since(index, hit, r0, start, queries)
    return out


def _days_since(index: TimeIndex, hit: np.ndarray, r0: np.ndarray, start: np.ndarray,
                queries: Queries) -> np.ndarray:
    """Days from the latest ``hit`` row before each cutoff to it (NaN: none)."""
    days = np.full(len(queries), np.nan)
    if not hit.any():
        return days
    # latest[i]: the last hit row at or before row i (rows sorted by account, time)
    latest = np.maximum.accumulate(np.where(hit, np.arange(len(hit)), -1))
    j = np.where(r0 > start, latest[np.maximum(r0 - 1, 0)], -1)
    ok = j >= start  # that row is the account's own
    days[ok] = (queries.time[ok] - index.time[j[ok]]) / DAY_US
    return days
