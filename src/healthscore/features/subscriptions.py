"""Contract features from the ``subscriptions`` table (family ``contract``), and tenure.

A subscription is known from ``start_date`` together with its terms (``end_date``,
``mrr``): the contract says them when it is signed. It is active at ``q`` when
``start_date < q <= end_date`` (as in :func:`healthscore.dataset.timeline.count_covering`).

``subscriptions__mrr__now``
    MRR summed over the subscriptions active at ``q``.
``subscriptions__mrr_change__<w>d``
    MRR at ``q`` minus MRR at ``q - w`` (both from subscriptions started before them).
``subscriptions__days_to_renewal``
    Days from ``q`` to the latest ``end_date`` of the subscriptions active at ``q``
    (in renewal mode about ``lead_time_days``); NaN when none is active.
``subscriptions__contract_days``
    Length in days of that subscription.
``subscriptions__renewals``
    Subscriptions started before ``q``, minus the first one.
``accounts__tenure_days``
    Days from the earlier of ``accounts.created_at`` and the first subscription start
    before ``q`` to ``q``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import FeatureParams
from healthscore.features._base import AccountContext, Extracted, floats_of, times_of
from healthscore.features._windows import DAY_US, NAT, Queries, Stab, TimeIndex
from healthscore.data.tables import Tables

TABLE = "subscriptions"


def names(tables: Tables, params: FeatureParams, _types=()) -> list[str]:
    out = []
    if "mrr" in tables[TABLE].columns:
        out += ["subscriptions__mrr__now"]
        out += [f"subscriptions__mrr_change__{w}d" for w in params.windows]
    out += ["subscriptions__days_to_renewal", "subscriptions__contract_days",
            "subscriptions__renewals", "accounts__tenure_days"]
    return out


def extract(frame, params: FeatureParams, _types=()) -> Extracted:
    arrays = {"start": times_of(frame, "start_date"), "end": times_of(frame, "end_date")}
    if "mrr" in frame.columns:
        arrays["mrr"] = floats_of(frame, "mrr")
    return Extracted(arrays)


def compute(arrays, queries: Queries, *, params: FeatureParams, meta=None,
            context: AccountContext | None = None):
    out: dict[str, np.ndarray] = {}
    code, start, end = arrays["code"], arrays["start"], arrays["end"]
    if "mrr" in arrays:
        live = Stab(code, start, end, queries, values=arrays["mrr"])
        now = live.total(0)
        out["subscriptions__mrr__now"] = now
        for w in params.windows:
            out[f"subscriptions__mrr_change__{w}d"] = now - live.total(w * DAY_US)
    index = TimeIndex(code, start, queries, tiebreak=end)
    ends = index.take(end)
    r0, first = index.rank(0), index.start()
    started = r0 - first
    latest = pd.Series(ends).groupby(index.code, sort=False).cummax().to_numpy()
    positions = np.arange(len(ends))
    holder = np.maximum.accumulate(np.where(ends == latest, positions, -1)) if len(ends) else positions
    out["subscriptions__days_to_renewal"] = np.full(len(queries), np.nan)
    out["subscriptions__contract_days"] = np.full(len(queries), np.nan)
    last = r0 - 1
    active = started > 0
    active[active] = latest[last[active]] >= queries.time[active]
    j = holder[last[active]]
    out["subscriptions__days_to_renewal"][active] = (latest[last[active]] - queries.time[active]) / DAY_US
    out["subscriptions__contract_days"][active] = (ends[j] - index.time[j]) / DAY_US
    out["subscriptions__renewals"] = np.maximum(started - 1, 0).astype(np.float64)
    begin = np.full(len(queries), NAT)
    has = started > 0
    begin[has] = index.time[first[has]]
    if context is not None and context.created_at is not None:
        created = context.created_at[queries.account]
        known = (created != NAT) & (created < queries.time)
        begin = np.where(known & ((begin == NAT) | (created < begin)), created, begin)
    tenure = np.full(len(queries), np.nan)
    ok = begin != NAT
    tenure[ok] = (queries.time[ok] - begin[ok]) / DAY_US
    out["accounts__tenure_days"] = tenure
    return out
