"""Engagement features from the ``emails`` table (family ``engagement``).

An email is known from ``sent_at``; its open and click only from ``opened_at`` /
``clicked_at``. For window ``[q - w, q)``:

``emails__sent__<w>d``
    Emails sent in the window.
``emails__open_rate__<w>d``, ``emails__click_rate__<w>d``
    Share of them opened (clicked) before ``q``; NaN when none were sent.

Counting "sent in the window and opened before ``q``" is two-dimensional; it is
split into one-dimensional counts: opened before ``q``, minus sent before ``q - w``
(and opened some time), plus those sent before ``q - w`` but opened at or after ``q``
(live on ``(sent + w, opened]``, a handful of slow openers).
"""

from __future__ import annotations

import numpy as np

from healthscore.config import FeatureParams
from healthscore.features._base import Extracted, times_of
from healthscore.features._windows import DAY_US, NAT, Queries, Stab, TimeIndex, cumsum0, ratio
from healthscore.data.tables import Tables

TABLE = "emails"
_REACTIONS = (("opened", "opened_at", "open_rate"), ("clicked", "clicked_at", "click_rate"))


def names(tables: Tables, params: FeatureParams, _types=()) -> list[str]:
    columns = set(tables[TABLE].columns)
    windows = [f"{w}d" for w in params.windows]
    out = [f"emails__sent__{w}" for w in windows]
    for _, column, measure in _REACTIONS:
        if column in columns:
            out += [f"emails__{measure}__{w}" for w in windows]
    return out


def extract(frame, params: FeatureParams, _types=()) -> Extracted:
    arrays = {"sent": times_of(frame, "sent_at")}
    for key, column, _ in _REACTIONS:
        if column in frame.columns:
            arrays[key] = times_of(frame, column)
    return Extracted(arrays)


def compute(arrays, queries: Queries, *, params: FeatureParams, meta=None, context=None):
    out: dict[str, np.ndarray] = {}
    code, sent = arrays["code"], arrays["sent"]
    index = TimeIndex(code, sent, queries)
    sent_counts = {w: index.count(w * DAY_US) for w in params.windows}
    for w in params.windows:
        out[f"emails__sent__{w}d"] = sent_counts[w]
    for key, _, measure in _REACTIONS:
        if key not in arrays:
            continue
        reacted_at = arrays[key]
        done = reacted_at != NAT
        reacted = TimeIndex(code[done], reacted_at[done], queries)
        before_q = (reacted.rank(0) - reacted.start()).astype(np.int64)
        flag_cs = cumsum0(index.take(done))
        start = index.start()
        for w in params.windows:
            span = w * DAY_US
            sent_before = flag_cs[index.rank(span)] - flag_cs[start]
            slow = done & (reacted_at - sent > span)
            late = Stab(code[slow], sent[slow] + span, reacted_at[slow], queries).count()
            n = (before_q - sent_before).astype(np.float64) + late
            out[f"emails__{measure}__{w}d"] = ratio(n, sent_counts[w])
    return out
