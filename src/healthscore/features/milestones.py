"""Onboarding milestones from the ``events`` table (family ``usage``; issue 18).

Built when ``features.milestones.enabled``; measured from the account's start
``s = accounts.created_at`` and, as every feature, from rows strictly before the
cutoff ``q`` only:

``events__days_to_first_value``
    Days from ``s`` to the first event of a ``core_events`` type (any event when the
    list is empty) before ``q``; NaN while the account has none yet (the tree model
    reads "not reached yet" together with the tenure).
``events__seats_activated``
    Distinct users with an event in ``[s, q)`` per ``accounts.seats`` (NaN when seats
    are 0 or unknown): how much of what was bought is in use.
``events__first_days_count__<d>d``
    For each ``early_days`` ``d``: events in ``[s, min(s + d, q))``, scaled to a full
    ``d`` days for an account younger than ``d`` (``count * d / max(age, 1)``, as
    :mod:`healthscore.features.events`' tenure-scaled counts): a young account is not
    judged on days it has not lived through.

Without ``created_at`` (or ``user_id``, ``seats``) the features that need it are not
built. Every value depends on the account's own rows only, so partitioning does not
change it.
"""

from __future__ import annotations

import numpy as np

from healthscore.config import FeatureParams
from healthscore.features._base import AccountContext, Extracted, codes_of, times_of
from healthscore.features._windows import DAY_US, NAT, Queries, TimeIndex, cumsum0, group_gaps, ratio
from healthscore.data.tables import Tables

TABLE = "events"


def names(tables: Tables, params: FeatureParams, _types=()) -> list[str]:
    """The milestone columns built for these tables (none when off)."""
    if not params.milestones.enabled or "created_at" not in tables.accounts.columns:
        return []
    out = ["events__days_to_first_value"]
    if "user_id" in tables[TABLE].columns and "seats" in tables.accounts.columns:
        out.append("events__seats_activated")
    out += [f"events__first_days_count__{d}d" for d in params.milestones.early_days]
    return out


def extract(frame, params: FeatureParams, _types=()) -> Extracted:
    """Per-row ``time``, ``core`` (1 for a first-value event) and ``user`` codes."""
    if not params.milestones.enabled:
        return Extracted({})
    arrays = {"time": times_of(frame, "timestamp")}
    core = params.milestones.core_events
    if core:
        arrays["core"] = np.isin(frame["event"].astype("string").to_numpy(dtype=object),
                                 [str(c) for c in core]).astype(np.int8)
    else:
        arrays["core"] = np.ones(len(frame), dtype=np.int8)
    if "user_id" in frame.columns:
        arrays["user"] = codes_of(frame["user_id"].astype("string"), [])[0]
    return Extracted(arrays)


def compute(arrays, queries: Queries, *, params: FeatureParams, meta=None,
            context: AccountContext | None = None) -> dict[str, np.ndarray]:
    """The milestone features of one partition's sorted cutoff rows."""
    if context is None or context.created_at is None:
        return {}
    index = TimeIndex(arrays["code"], arrays["time"], queries)
    code, time = index.code, index.time
    start_row, r0 = index.start(), index.rank(0)
    created = context.created_at[queries.account]
    known = created != NAT
    begin = np.where(known, created, queries.time)  # unknown start: nothing counts
    age_days = np.where(known, (queries.time - begin) / DAY_US, np.nan)
    out: dict[str, np.ndarray] = {}
    # Per account, keys relative to its start; clipped just outside [0, span] so that
    # every threshold inside it is exact whatever the partition's clock.
    span = max([*params.milestones.early_days, 1]) * DAY_US
    stride = span + 3
    start_of = np.full(queries.n_accounts, NAT, dtype=np.int64)  # per local account
    start_of[queries.code] = begin
    row_begin = start_of[code]
    relative = np.clip(time - row_begin, -1, span + 1) + 1
    keys = code.astype(np.int64) * stride + relative
    q_code = queries.code.astype(np.int64)
    at_begin = np.searchsorted(keys, q_code * stride + 1)  # first row at or after s

    core = index.take(arrays["core"]).astype(bool)
    core_cs = cumsum0(core)
    rows = np.flatnonzero(core)
    # the first core row at or after s and before q
    reached = core_cs[r0] > core_cs[np.maximum(at_begin, start_row)]
    first = np.full(len(r0), np.nan)
    if reached.any():
        nth = core_cs[np.maximum(at_begin, start_row)][reached]
        first[reached] = time[rows[nth]]
    out["events__days_to_first_value"] = np.where(known, (first - begin) / DAY_US, np.nan)

    if "user" in arrays and context.seats is not None:
        user = index.take(arrays["user"])
        # a user's first row at or after s: rows before s are left out of the gaps
        late = time >= row_begin
        prev_gap, _ = group_gaps(code, np.where(late, user, -1), time, missing=(user < 0) | ~late)
        first_cs = cumsum0(prev_gap == np.iinfo(np.int64).max)
        users = (first_cs[r0] - first_cs[np.maximum(at_begin, start_row)]).astype(np.float64)
        seats = context.seats[queries.account]
        out["events__seats_activated"] = np.where(known, ratio(users, seats), np.nan)

    for d in params.milestones.early_days:
        until = np.minimum(d * DAY_US, np.where(known, queries.time - begin, 0))
        end = np.searchsorted(keys, q_code * stride + 1 + np.maximum(until, 0))
        end = np.minimum(end, r0)  # strictly before q, also when q - s < d
        count = np.maximum(end - np.maximum(at_begin, start_row), 0).astype(np.float64)
        scale = d / np.clip(age_days, 1.0, d)
        out[f"events__first_days_count__{d}d"] = np.where(known, count * scale, np.nan)
    return out
