"""Product-usage features from the ``events`` table (family ``usage``).

For a cutoff ``q`` and window ``w`` (days), the window is ``[q - w, q)``:

``events__count__<w>d``
    Events in the window.
``events__quantity__<w>d``
    Sum of ``quantity`` over them (when the column exists).
``events__active_days__<w>d``
    Distinct calendar days (UTC) with an event in the window.
``events__active_users__<w>d``
    Distinct ``user_id`` with an event in the window (breadth).
``events__event_types__<w>d``
    Distinct event types in the window (depth).
``events__<type>__count__<w>d``
    Events of one of the ``top_event_types`` most common types (chosen over the whole
    table, see :mod:`healthscore.features.plan`).
``events__count__<w>d_vs_prev_<w>d``, ``events__active_users__<w>d_vs_prev_<w>d``
    For ``trend_windows``: ``(a + 1) / (b + 1)`` with ``a`` the window's value and
    ``b`` that of ``[q - 2w, q - w)``; 1 means flat, and an account without events in
    both windows gets 1, not a division by zero.
``events__days_since_last``
    Days from the last event before ``q`` to ``q`` (NaN: no event yet).
``events__<type>__share__<w>d``
    For ``trend_windows``: the type's share of all events in the window (NaN: none).
``events__<type>__count__<w>d_vs_prev_<w>d``
    For ``trend_windows``: the type's trend, ``(a + 1) / (b + 1)`` as above.
``events__<type>__days_since_last``
    Days from the type's last event before ``q`` to ``q`` (NaN: none yet).
``events__count_per_user__<w>d``
    For ``trend_windows``: events per active user in the window (NaN: no user).
``events__count_tenure_scaled__<w>d``
    Events in the window scaled to a full window for an account younger than it:
    ``count * w / min(w, age)``, ``age`` the days since ``accounts.created_at``
    (at least one; NaN when unknown or not created yet). Equals the count otherwise.
``events__new_users__<w>d``
    For ``trend_windows``: users whose first event ever (before ``q``) is in the
    window (a new person in a seat, e.g. after a champion left).
``events__seat_utilisation__<w>d``
    Active users / ``accounts.seats`` (NaN when seats are 0 or unknown).
``events__lapsed_users__<w>d``
    For ``trend_windows``: users with an event in ``[q - 2w, q - w)`` and none in
    ``[q - w, q)`` (people who stopped using the product): distinct users in
    ``[q - 2w, q)`` minus those in ``[q - w, q)``.

Distinct counts are exact and vectorised: a group's (user's, type's, day's) rows
merged wherever consecutive rows are at most ``w`` apart form runs that are "live"
on ``(first, last + w]``, so distinct groups in ``[q - w, q)`` = runs started before
``q`` minus runs ended before ``q - w``: two prefix sums of per-row flags.
"""

from __future__ import annotations

import numpy as np

from healthscore.config import FeatureParams
from healthscore.features._base import AccountContext, Extracted, codes_of, floats_of, times_of
from healthscore.features._windows import (
    DAY_US, NAT, Queries, TimeIndex, cumsum0, distinct_in_window, group_gaps, is_integral, ratio,
)
from healthscore.features.plan import slugify
from healthscore.data.tables import Tables

TABLE = "events"


def names(tables: Tables, params: FeatureParams, event_types) -> list[str]:
    """The ``events__*`` columns built for these tables."""
    columns = set(tables[TABLE].columns)
    users = "user_id" in columns
    seats = "seats" in tables.accounts.columns
    windows = [f"{w}d" for w in params.windows]
    out = [f"events__count__{w}" for w in windows]
    if "quantity" in columns:
        out += [f"events__quantity__{w}" for w in windows]
    out += [f"events__active_days__{w}" for w in windows]
    if users:
        out += [f"events__active_users__{w}" for w in windows]
    out += [f"events__event_types__{w}" for w in windows]
    for slug in slugify(event_types):
        out += [f"events__{slug}__count__{w}" for w in windows]
    out += [f"events__count__{w}d_vs_prev_{w}d" for w in params.trend_windows]
    if users:
        out += [f"events__active_users__{w}d_vs_prev_{w}d" for w in params.trend_windows]
    out.append("events__days_since_last")
    for slug in slugify(event_types):
        out += [f"events__{slug}__share__{w}d" for w in params.trend_windows]
        out += [f"events__{slug}__count__{w}d_vs_prev_{w}d" for w in params.trend_windows]
        out.append(f"events__{slug}__days_since_last")
    if users:
        out += [f"events__count_per_user__{w}d" for w in params.trend_windows]
        out += [f"events__new_users__{w}d" for w in params.trend_windows]
    if "created_at" in tables.accounts.columns:
        out += [f"events__count_tenure_scaled__{w}" for w in windows]
    if users and seats:
        out += [f"events__seat_utilisation__{w}" for w in windows]
    if users:
        out += [f"events__lapsed_users__{w}d" for w in params.trend_windows]
    return out


def extract(frame, params: FeatureParams, event_types) -> Extracted:
    """Per-row arrays: ``time``, ``type`` (codes), ``user``, ``quantity``."""
    types, top = codes_of(frame["event"], event_types)
    arrays = {"time": times_of(frame, "timestamp"), "type": types}
    if "user_id" in frame.columns:
        user = frame["user_id"]
        if user.dtype.kind in "iu":
            arrays["user"] = user.to_numpy(dtype=np.int64)
        else:
            arrays["user"] = codes_of(user, [])[0]
    meta = {"top_codes": top, "slugs": slugify(event_types),
            "user_codes": "user" in arrays and frame["user_id"].dtype.kind not in "iu"}
    if "quantity" in frame.columns:
        arrays["quantity"] = floats_of(frame, "quantity")
        meta["quantity_integral"] = is_integral(arrays["quantity"])
    return Extracted(arrays, meta)


def compute(arrays, queries: Queries, *, params: FeatureParams, meta, context: AccountContext):
    """The ``events__*`` features of one partition's sorted cutoff rows."""
    out: dict[str, np.ndarray] = {}
    quantity = arrays.get("quantity")
    integral = meta.get("quantity_integral", True)
    tie = quantity if quantity is not None and not integral else None
    index = TimeIndex(arrays["code"], arrays["time"], queries, tiebreak=tie)
    code, time = index.code, index.time
    rank = {0: index.rank(0)}
    backs = {w * DAY_US for w in params.windows} | {w * DAY_US for w in params.trend_windows} \
        | {2 * w * DAY_US for w in params.trend_windows}
    for back in sorted(backs):
        rank[back] = index.rank(back)
    r0, start = rank[0], index.start()

    def count_in(back, end_back=0):
        return (rank[end_back] - rank[back]).astype(np.float64)

    for w in params.windows:
        out[f"events__count__{w}d"] = count_in(w * DAY_US)
    if quantity is not None:
        sums = index.summer(quantity, integral=integral)
        at_q = sums.at(r0, start)
        for w in params.windows:
            out[f"events__quantity__{w}d"] = at_q - sums.at(rank[w * DAY_US], start)

    # Calendar days: each (account, day) is one run live on (first, last + w].
    day = np.floor_divide(time, DAY_US)
    first = np.ones(len(time), dtype=bool)
    if len(time):
        first[1:] = (code[1:] != code[:-1]) | (day[1:] != day[:-1])
    last = np.ones(len(time), dtype=bool)
    last[:-1] = first[1:]
    first_cs, last_cs = cumsum0(first), cumsum0(last)
    for w in params.windows:
        out[f"events__active_days__{w}d"] = distinct_in_window(first_cs, last_cs, r0, rank[w * DAY_US])
    del day, first, last, first_cs, last_cs

    if "user" in arrays:
        user = index.take(arrays["user"])
        missing = user < 0 if meta["user_codes"] else None
        users, prev_gap = _distinct(code, user, time, rank, params, missing=missing, doubled=True)
        # a user's first row ever (a missing user id has gap 0, never a first)
        first_cs = cumsum0(prev_gap == np.iinfo(np.int64).max)
        for w in params.windows:
            out[f"events__active_users__{w}d"] = users[w][0]
        for w in params.trend_windows:
            now, prev = users[w]
            out[f"events__active_users__{w}d_vs_prev_{w}d"] = (now + 1) / (prev + 1)
            out[f"events__lapsed_users__{w}d"] = users[2 * w][0] - now
            out[f"events__count_per_user__{w}d"] = ratio(count_in(w * DAY_US), now)
            out[f"events__new_users__{w}d"] = (first_cs[r0] - first_cs[rank[w * DAY_US]]).astype(np.float64)
        del prev_gap, first_cs
        del user
    types = index.take(arrays["type"])
    for w, (now, _) in _distinct(code, types, time, rank, params, missing=types < 0)[0].items():
        if w in params.windows:
            out[f"events__event_types__{w}d"] = now
    for slug, type_code in zip(meta["slugs"], meta["top_codes"]):
        flags = types == type_code if type_code >= 0 else np.zeros(len(types), dtype=bool)
        cs = cumsum0(flags)
        for w in params.windows:
            out[f"events__{slug}__count__{w}d"] = (cs[r0] - cs[rank[w * DAY_US]]).astype(np.float64)
        for w in params.trend_windows:
            now = (cs[r0] - cs[rank[w * DAY_US]]).astype(np.float64)
            prev = (cs[rank[w * DAY_US]] - cs[rank[2 * w * DAY_US]]).astype(np.float64)
            out[f"events__{slug}__share__{w}d"] = ratio(now, count_in(w * DAY_US))
            out[f"events__{slug}__count__{w}d_vs_prev_{w}d"] = (now + 1) / (prev + 1)
        # the type's latest row before q: its cs[r0]-th row, if the account has one
        rows = np.flatnonzero(flags)
        seen = cs[r0] > cs[start]
        last = np.full(len(r0), np.nan)
        last[seen] = time[rows[cs[r0][seen] - 1]]
        out[f"events__{slug}__days_since_last"] = (queries.time - last) / DAY_US
    del types

    for w in params.trend_windows:
        now, prev = count_in(w * DAY_US), count_in(2 * w * DAY_US, w * DAY_US)
        out[f"events__count__{w}d_vs_prev_{w}d"] = (now + 1) / (prev + 1)
    out["events__days_since_last"] = (queries.time - index.last(time)) / DAY_US
    if context.created_at is not None:
        at = context.created_at[queries.account]
        created = np.where(at == NAT, np.nan, at.astype(np.float64))
        age = (queries.time - created) / DAY_US
        age[~(age > 0)] = np.nan
        for w in params.windows:
            scale = w / np.clip(age, 1.0, w)
            out[f"events__count_tenure_scaled__{w}d"] = count_in(w * DAY_US) * scale
    if "user" in arrays and context.seats is not None:
        seats = context.seats[queries.account]
        for w in params.windows:
            out[f"events__seat_utilisation__{w}d"] = ratio(out[f"events__active_users__{w}d"], seats)
    return out


def _distinct(code, group, time, rank, params: FeatureParams, *, missing=None, doubled=False):
    """Distinct groups per window, now and in the previous window (trend windows).

    Returns ``{w: (now, previous or None)}`` for every window and trend window, and
    with ``doubled`` for twice every trend window too; and the per-row gap to the
    group's previous row (:func:`group_gaps`).
    """
    prev_gap, next_gap = group_gaps(code, group, time, missing=missing)
    out = {}
    r0 = rank[0]
    spans = set(params.windows) | set(params.trend_windows)
    if doubled:
        spans |= {2 * w for w in params.trend_windows}
    for w in sorted(spans):
        span = w * DAY_US
        starts, ends = cumsum0(prev_gap > span), cumsum0(next_gap > span)
        now = distinct_in_window(starts, ends, r0, rank[span])
        prev = (distinct_in_window(starts, ends, rank[span], rank[2 * span])
                if w in params.trend_windows else None)
        out[w] = (now, prev)
    return out, prev_gap
