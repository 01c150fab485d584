"""``build_features``: point-in-time features for (account, cutoff) rows.

The time rule (DESIGN.md section 2): a row keyed by (``account_id``, ``cutoff_time``)
uses only table rows whose event time is strictly before ``cutoff_time``; a window of
``w`` days is ``[cutoff_time - w days, cutoff_time)``. Facts that arrive later than
a row's event time (a ticket's close, an invoice's payment, an email's open) count
only when they too are before the cutoff.

Accounts are processed in partitions of at most ``params.partition_accounts``
accounts (fewer when the span of cutoff times would overflow the int64 sort keys),
so memory is bounded by the largest partition. Every feature of a row depends only on
its own account's rows, so results are identical whatever the partitioning, and the
same function can run per account partition on Spark given the same
:class:`~healthscore.features.plan.FeaturePlan`.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import pandas as pd

from healthscore.config import FeatureParams
from healthscore.errors import DataError, SchemaError
from healthscore.features import accounts as account_source
from healthscore.features import derived
from healthscore.features import (billing, contacts, emails, events, milestones, signals, subscriptions,
                                 surveys, tickets)
from healthscore.features._base import AccountContext
from healthscore.features._windows import DAY_US, NAT, Clock, Queries, as_us
from healthscore.features.plan import (
    FeaturePlan, PlanCounts, check_attributes, check_params, top_counted,
)
from healthscore.data.tables import Tables

log = logging.getLogger(__name__)

#: Table sources in output order (accounts' own columns come first).
SOURCES = (subscriptions, events, tickets, billing, surveys, emails, signals, milestones)


def _types_for(module, event_types, signal_types):
    return {events: event_types, signals: signal_types}.get(module, ())


def _extract_choice(module, plan: FeaturePlan):
    if module is surveys:
        return plan.survey_kind
    return _types_for(module, plan.event_types, plan.signal_types)


def feature_names(tables: Tables, params: FeatureParams, *, event_types=(), signal_types=()) -> list[str]:
    """The feature columns built for these tables, in output order."""
    out = account_source.names(tables, params)
    for module in SOURCES:
        if module.TABLE in tables:
            out += module.names(tables, params, _types_for(module, event_types, signal_types))
    out += contacts.names(tables, params)  # several tables at once: per user, then per account
    return out + list(_derived_recipes(tables, params, out, event_types, signal_types))


def _derived_recipes(tables, params, built, event_types, signal_types):
    return derived.recipes(built, params, event_types=event_types, signal_types=signal_types,
                           seats="seats" in tables.accounts.columns)


def _with_pair_types(counts: pd.Series, top: tuple, params: FeatureParams) -> tuple:
    """The top types plus every type a ``ratio_pairs`` entry names that occurs in the
    table (``counts``: its :func:`~healthscore.features.plan.type_counts`), so it gets its
    own count columns."""
    named = [str(t) for pair in params.ratio_pairs for t in pair]
    present = set(counts.index[counts.to_numpy() > 0].astype("str")) if named else set()
    extra = [t for t in dict.fromkeys(named) if t in present and t not in top]
    return tuple(top) + tuple(extra)


def plan_features(tables: Tables, params: FeatureParams, *, counts: PlanCounts | None = None) -> FeaturePlan:
    """Make the whole-table choices of a build (see :mod:`healthscore.features.plan`).

    The top event and signal types are the most frequent over the whole table (ties by
    name); they look at no label, only at how common each type is. ``counts``: the
    :class:`~healthscore.features.plan.PlanCounts` of the whole data when ``tables`` is
    one part of it (a bucket): the plan is then the whole data's, the columns those
    of ``tables`` (every bucket has the same).
    """
    check_params(params)
    check_attributes(tables.accounts, params)
    if counts is None:
        counts = PlanCounts.of(tables, params)
    event_types = (_with_pair_types(counts.event_types,
                                    top_counted(counts.event_types, params.top_event_types), params)
                   if "events" in tables else ())
    signal_types = (_with_pair_types(counts.signal_types,
                                     top_counted(counts.signal_types, params.top_signal_types), params)
                    if "signals" in tables else ())
    names = feature_names(tables, params, event_types=event_types, signal_types=signal_types)
    return FeaturePlan(tuple(names), event_types, signal_types, counts.category_levels(),
                       "nps" if counts.nps else None)


def build_features(
    tables: Tables,
    cutoffs: pd.DataFrame,
    params: FeatureParams,
    *,
    plan: FeaturePlan | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Point-in-time features, one row per cutoff row.

    Parameters
    ----------
    tables : Tables
        Canonical tables. Absent optional tables or columns remove the features that
        need them.
    cutoffs : DataFrame, shape (n, >=2)
        ``account_id`` and ``cutoff_time`` (timestamps, naive UTC); other columns are
        ignored.
    params : FeatureParams
        Windows (days) and choices.
    plan : FeaturePlan, optional
        Whole-table choices (top types, category levels) made by
        :func:`plan_features`; pass the same plan to every partition of a distributed
        build. Default: made from ``tables``.
    progress : callable, optional
        Called as ``progress(done, total)`` after each account partition.

    Returns
    -------
    DataFrame, shape (n, 2 + features)
        ``account_id``, ``cutoff_time`` (datetime64[us]) in the input order with a
        fresh RangeIndex, then ``plan.feature_names``: float64, or ``category`` for
        categorical account attributes. A row whose account is not in ``accounts``,
        whose account was created at or after its cutoff, or whose cutoff is NaT gets
        NaN in every feature (the caller filters such rows; they are kept so that
        rows stay aligned with the input).

    Raises
    ------
    SchemaError
        ``cutoffs`` lacks a column, or ``account_attributes`` names a missing column.
    DataError
        Cutoff times are not timestamps, account ids have another dtype than
        ``accounts.account_id``, or ``plan`` was made for other columns.
    """
    check_params(params)
    check_attributes(tables.accounts, params)
    if plan is None:
        plan = plan_features(tables, params)
    else:
        params = contacts.params_for_names(params, plan.feature_names)  # the plan decides
        expected = feature_names(tables, params, event_types=plan.event_types,
                                 signal_types=plan.signal_types)
        if tuple(expected) != tuple(plan.feature_names):
            extra = sorted(set(expected) ^ set(plan.feature_names))
            raise DataError(
                f"feature plan does not match these tables: it lists {len(plan.feature_names)} "
                f"features, the tables give {len(expected)} (differing: {extra[:3]}); "
                "make the plan from tables with the same columns")
    accounts = tables.accounts
    account_ids, times = _read_cutoffs(cutoffs, accounts)
    index = pd.Index(accounts["account_id"])
    if not index.is_unique:
        repeated = index[index.duplicated()][0]
        raise DataError(f"accounts.account_id: {repeated!r} appears more than once; "
                        "expected one row per account")
    code = index.get_indexer(account_ids)
    context = AccountContext.from_accounts(accounts)
    valid = (code >= 0) & (times != NAT)
    if context.created_at is not None:
        created = np.where(code >= 0, context.created_at[np.maximum(code, 0)], NAT)
        valid &= ~((created != NAT) & (created >= times))
    if valid.any():
        out = _fill(tables, plan, params, code=code, times=times, valid=valid,
                    index=index, context=context, progress=progress)
    else:
        out = _empty_columns(plan, len(times))
        if progress is not None:
            progress(1, 1)
    return _assemble(cutoffs, times, out, plan)


def _empty_columns(plan: FeaturePlan, n: int) -> dict[str, np.ndarray]:
    """NaN (category code -1) for every feature of ``n`` rows."""
    categorical = set(plan.categories)
    return {name: (np.full(n, -1, np.int32) if name in categorical else np.full(n, np.nan))
            for name in plan.feature_names}


def _fill(tables, plan, params, *, code, times, valid, index, context, progress) -> dict:
    """Extract every table once, then compute partition after partition."""
    rows = np.flatnonzero(valid)
    row_code, row_time = code[rows], times[rows]
    back = max(max(params.windows), 2 * max(params.trend_windows, default=0)) * DAY_US
    clock = Clock.for_queries(row_time, max_back_us=back)
    size = min(params.partition_accounts, clock.capacity())
    queried = np.unique(row_code)
    # dense[i]: the account's rank among queried accounts (-1: not queried); the extra
    # last element makes get_indexer's -1 (unknown account) map to -1 too.
    dense = np.full(len(index) + 1, -1, dtype=np.int32)
    dense[queried] = np.arange(len(queried), dtype=np.int32)
    n_parts = -(-len(queried) // size)
    row_order, row_bounds = _split(dense[row_code] // size, n_parts)

    sources = []
    for module in SOURCES:
        if module.TABLE not in tables:
            continue
        frame = tables[module.TABLE]
        extracted = module.extract(frame, params, _extract_choice(module, plan))
        if not extracted.arrays:
            continue
        table_code = index.get_indexer(frame["account_id"])
        if extracted.rows is not None:
            table_code = table_code[extracted.rows]
        table_dense = dense[table_code]
        del table_code
        order, bounds = _split(np.where(table_dense >= 0, table_dense // size, -1), n_parts)
        sources.append((module, extracted, table_dense, order, bounds))
    attributes = account_source.account_values(tables.accounts, params, plan.categories)
    # Allocated after the extraction's temporaries are gone, and left uninitialised:
    # every computed row is written below, the others set to NaN at the end.
    categorical = set(plan.categories)
    out = {name: np.empty(len(times), np.int32 if name in categorical else np.float64)
           for name in plan.feature_names}
    written: set[str] = set()

    for part in range(n_parts):
        mine = row_order[row_bounds[part]:row_bounds[part + 1]]
        local_code = dense[row_code[mine]].astype(np.int64) - part * size
        key = clock.key(local_code, row_time[mine])
        order = np.argsort(key, kind="stable")
        mine = mine[order]
        queries = Queries(code=local_code[order], account=row_code[mine], time=row_time[mine],
                          clock=clock, n_accounts=min(size, len(queried) - part * size))
        positions = _as_slice(rows[mine])
        for module, extracted, table_dense, table_order, bounds in sources:
            take = table_order[bounds[part]:bounds[part + 1]]
            arrays = {k: v[take] for k, v in extracted.arrays.items()}
            arrays["code"] = table_dense[take].astype(np.int64) - part * size
            values = module.compute(arrays, queries, params=params, meta=extracted.meta,
                                    context=context)
            for name, column in values.items():
                out[name][positions] = column
            written.update(values)
        for name, column in attributes.items():
            out[name][positions] = column[queries.account]
        written.update(attributes)
        log.debug("features: partition %d/%d done (%d rows)", part + 1, n_parts, len(mine))
        if progress is not None:
            progress(part + 1, n_parts)
    people = contacts.compute(tables, params, account=row_code, times=row_time,
                              survey_kind=plan.survey_kind)
    for name, column in people.items():
        out[name][rows] = column
    written.update(people)
    recipes = _derived_recipes(tables, params, [n for n in plan.feature_names if n in written],
                               plan.event_types, plan.signal_types)
    seats = (context.seats[np.maximum(code, 0)] if context.seats is not None else None)
    out.update(derived.compute(out, recipes, seats=seats))
    written.update(recipes)
    if written != set(plan.feature_names):  # a source and its names() disagree: a bug
        raise RuntimeError(f"features computed {sorted(written ^ set(plan.feature_names))[:3]} "
                           "differ from the plan's names")
    skipped = np.flatnonzero(~valid)  # positions once, not a mask pass per feature
    for name, column in out.items():
        column[skipped] = -1 if name in categorical else np.nan
    return out


def _as_slice(positions: np.ndarray):
    """``positions`` as a slice when they are one increasing run (cutoff rows sorted by
    account and time, the usual case): a copy per feature instead of a scatter."""
    if len(positions) and positions[-1] - positions[0] == len(positions) - 1 \
            and bool(np.all(positions[1:] - positions[:-1] == 1)):
        return slice(int(positions[0]), int(positions[-1]) + 1)
    return positions


def _split(part: np.ndarray, n_parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions grouped by partition (stable, -1 dropped) and the group bounds."""
    if len(part) and part.min() < 0:
        keep = np.flatnonzero(part >= 0)
        part = part[keep]
    else:
        keep = None
    order = np.argsort(part.astype(np.uint16) if n_parts < 65_535 else part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(n_parts + 1))
    if keep is not None:
        order = keep[order]
    if len(order) < 2**31 - 1:
        order = order.astype(np.int32)
    return order, bounds


def _read_cutoffs(cutoffs: pd.DataFrame, accounts: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """The cutoff rows' account ids and times (int64 us, NaT -> NAT), checked."""
    for column in ("account_id", "cutoff_time"):
        if column not in cutoffs.columns:
            raise SchemaError(
                f"cutoffs: column {column!r} is missing (found: {', '.join(map(str, cutoffs.columns))}); "
                "expected account_id and cutoff_time")
    when = cutoffs["cutoff_time"]
    if isinstance(when.dtype, pd.DatetimeTZDtype):
        when = when.dt.tz_convert("UTC").dt.tz_localize(None)
    if not pd.api.types.is_datetime64_any_dtype(when):
        example = when.dropna().iloc[0] if when.notna().any() else None
        raise DataError(f"cutoffs.cutoff_time: expected timestamps (datetime64), got dtype "
                        f"{when.dtype} (e.g. {example!r})")
    ids = cutoffs["account_id"]
    reference = accounts["account_id"]
    if len(ids) and pd.api.types.is_numeric_dtype(ids) != pd.api.types.is_numeric_dtype(reference):
        raise DataError(
            f"cutoffs.account_id: dtype {ids.dtype} does not match accounts.account_id "
            f"({reference.dtype}); e.g. {ids.iloc[0]!r}")
    return ids, as_us(when.to_numpy())


def _assemble(cutoffs: pd.DataFrame, times: np.ndarray, out: dict, plan: FeaturePlan) -> pd.DataFrame:
    data = {
        "account_id": cutoffs["account_id"].to_numpy(),
        "cutoff_time": times.view("datetime64[us]"),
    }
    for name in plan.feature_names:
        if name in plan.categories:
            levels = list(plan.categories[name])
            data[name] = pd.Categorical.from_codes(out[name], categories=levels)
        else:
            data[name] = out[name]
    frame = pd.DataFrame(data, copy=False)
    frame["account_id"] = frame["account_id"].astype(cutoffs["account_id"].dtype)
    return frame
