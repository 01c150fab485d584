"""Property tests of the time rule and of the builder's invariances (hypothesis).

* Deleting, moving or adding rows dated at or after a cutoff, or moving facts that
  arrive at or after it (a ticket's close, a payment, an email open) to other such
  instants, changes no feature of any row cut off at or before it.
* Shuffling every table's rows and the cutoff rows changes nothing.
* The partitioning (``partition_accounts``, or separate builds per account group with
  one plan, as on Spark) changes nothing.

Equality is exact: sums depend only on the account's own rows in a canonical order.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from healthscore.features import build_features, plan_features
from healthscore.data.schema import TABLES
from healthscore.data.tables import Tables
from test_features_reference import PARAMS, random_cutoffs, random_tables

#: Facts of a row that become known later than its event time.
LATER_FACTS = {"tickets": ("closed_at",), "invoices": ("paid_at",),
               "emails": ("opened_at", "clicked_at")}
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _instants_after(q: pd.Timestamp, rng, n: int) -> pd.Series:
    """``n`` instants at or after ``q`` (``q`` itself included on purpose)."""
    offsets = rng.choice([0, 1, 86_400_000_000, 3 * 86_400_000_000 + 7], n)
    offsets = offsets + rng.integers(0, 40, n) * 86_400_000_000 * (rng.random(n) < 0.5)
    return pd.Series(q + pd.to_timedelta(offsets, "us")).astype("datetime64[us]")


def _shift_row_times(frame: pd.DataFrame, name: str, where: np.ndarray, new: pd.Series) -> None:
    """Set the event time of rows ``where`` to ``new``, moving their other times along."""
    spec = TABLES[name]
    event = spec.event_time
    delta = new.to_numpy() - frame.loc[where, event].to_numpy()
    for column in spec.timestamps:
        if column in frame.columns:
            frame.loc[where, column] = (frame.loc[where, column].to_numpy() + delta)


def future_edit(tables: Tables, q: pd.Timestamp, seed: int) -> Tables:
    """The tables with everything at or after ``q`` deleted, moved or added at random."""
    rng = np.random.default_rng(seed)
    frames = {}
    for name, frame in tables.frames.items():
        if name == "accounts":
            frames[name] = frame
            continue
        frame = frame.copy()
        event = TABLES[name].event_time
        future = (frame[event] >= q).to_numpy()
        for column in LATER_FACTS.get(name, ()):
            unknown = ~future & (frame[column].isna() | (frame[column] >= q)).to_numpy()
            moved = _instants_after(q, rng, int(unknown.sum()))
            moved[rng.random(len(moved)) < 0.3] = pd.NaT
            frame.loc[unknown, column] = moved.to_numpy()
        move = future & (rng.random(len(frame)) < 0.5)
        if move.any():
            _shift_row_times(frame, name, move, _instants_after(q, rng, int(move.sum())))
        frame = frame.loc[~(future & ~move & (rng.random(len(frame)) < 0.5))]
        extra = frame.sample(min(len(frame), 4), random_state=seed).reset_index(drop=True)
        if len(extra):
            _shift_row_times(extra, name, np.ones(len(extra), bool), _instants_after(q, rng, len(extra)))
        frames[name] = pd.concat([frame, extra], ignore_index=True)
    return Tables(frames, tables.observed_until)


@SETTINGS
@given(seed=st.integers(0, 5_000), pick=st.integers(0, 1_000), edit=st.integers(0, 2**31))
def test_rows_at_or_after_the_cutoff_change_nothing(seed, pick, edit):
    tables = random_tables(seed)
    cutoffs = random_cutoffs(tables, seed, n=12)
    plan = plan_features(tables, PARAMS)  # the whole-table choices are fixed on purpose
    q = cutoffs["cutoff_time"].iloc[pick % len(cutoffs)]
    changed = future_edit(tables, q, edit)
    before = build_features(tables, cutoffs, PARAMS, plan=plan)
    after = build_features(changed, cutoffs, PARAMS, plan=plan)
    known = (cutoffs["cutoff_time"] <= q).to_numpy()
    assert_frame_equal(after.loc[known], before.loc[known], check_exact=True)


@SETTINGS
@given(seed=st.integers(0, 5_000), shuffle=st.integers(0, 2**31))
def test_shuffling_rows_changes_nothing(seed, shuffle):
    tables = random_tables(seed)
    cutoffs = random_cutoffs(tables, seed, n=12)
    rng = np.random.default_rng(shuffle)
    frames = {name: frame.sample(frac=1.0, random_state=rng).reset_index(drop=True)
              for name, frame in tables.frames.items()}
    order = rng.permutation(len(cutoffs))
    expected = build_features(tables, cutoffs, PARAMS).iloc[order].reset_index(drop=True)
    got = build_features(Tables(frames, tables.observed_until),
                         cutoffs.iloc[order].reset_index(drop=True), PARAMS)
    assert_frame_equal(got, expected, check_exact=True)


@SETTINGS
@given(seed=st.integers(0, 5_000), size=st.sampled_from([1, 2, 3, 4, 1000]))
def test_partitioning_changes_nothing(seed, size):
    tables = random_tables(seed, n_accounts=7)
    cutoffs = random_cutoffs(tables, seed, n=16)
    expected = build_features(tables, cutoffs, PARAMS)
    params = dataclasses.replace(PARAMS, partition_accounts=size)
    assert_frame_equal(build_features(tables, cutoffs, params), expected, check_exact=True)


@SETTINGS
@given(seed=st.integers(0, 5_000), split=st.integers(1, 6))
def test_separate_builds_per_account_group_with_one_plan_agree(seed, split):
    """What a Spark ``applyInPandas`` over account groups does, with a broadcast plan."""
    tables = random_tables(seed, n_accounts=7)
    cutoffs = random_cutoffs(tables, seed, n=16)
    plan = plan_features(tables, PARAMS)
    expected = build_features(tables, cutoffs, PARAMS)
    ids = tables.accounts["account_id"].to_numpy()
    parts = []
    for group in (ids[:split], ids[split:]):
        mine = cutoffs["account_id"].isin(group).to_numpy()
        part = build_features(tables.subset(group), cutoffs.loc[mine], PARAMS, plan=plan)
        part.index = np.flatnonzero(mine)
        parts.append(part)
    unknown = ~cutoffs["account_id"].isin(ids).to_numpy()
    got = pd.concat(parts).sort_index()
    assert_frame_equal(got.reset_index(drop=True), expected.loc[~unknown].reset_index(drop=True),
                       check_exact=True)
