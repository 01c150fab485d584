"""Lifecycle stages and onboarding milestones (issue 18), on hand-written tables whose
answers can be read here: the stage at its thresholds, and each milestone feature at
the time rule's boundaries (an event exactly at the cutoff, one before the account's
start, a window the account has not lived through)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from healthscore.config import FeatureParams, make_params
from healthscore.config.lifecycle import LifecycleParams, MilestoneParams
from healthscore.data.tables import Tables
from healthscore.errors import ConfigError, DataError
from healthscore.features import build_catalogue, build_features, feature_names
from healthscore.features.lifecycle import lifecycle_stage, stage_of_rows

START = pd.Timestamp("2024-01-01")
DAY = pd.Timedelta(days=1)
US = pd.Timedelta(microseconds=1)
MILESTONES = MilestoneParams(enabled=True, core_events=["report_view"], early_days=[7, 30])
PARAMS = FeatureParams(windows=[7, 30], trend_windows=[30], top_event_types=2, top_signal_types=1,
                       milestones=MILESTONES)
NAMES = ["events__days_to_first_value", "events__seats_activated",
         "events__first_days_count__7d", "events__first_days_count__30d"]


def ts(*values) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values))).astype("datetime64[us]")


def make_tables(events: pd.DataFrame) -> Tables:
    return Tables({
        "accounts": pd.DataFrame({"account_id": [1, 2], "seats": [4.0, np.nan],
                                  "created_at": ts(START, START - 400 * DAY)}),
        "subscriptions": pd.DataFrame({"account_id": [1, 2], "subscription_id": ["1-1", "2-1"],
                                       "start_date": ts(START, START - 400 * DAY),
                                       "end_date": ts("2026-01-01", "2026-01-01"), "mrr": [0.0, 100.0]}),
        "events": events,
    }, pd.Timestamp("2026-01-01"))


def events(*rows) -> pd.DataFrame:
    """rows: (account, user, time, event)."""
    frame = pd.DataFrame(rows, columns=["account_id", "user_id", "timestamp", "event"])
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")
    frame["event"] = frame["event"].astype("str")
    return frame


def build(tables, rows, params=PARAMS) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account_id", "cutoff_time"])
    frame["cutoff_time"] = frame["cutoff_time"].astype("datetime64[us]")
    return build_features(tables, frame, params)


BOOK = events(
    (1, 10, START - DAY, "report_view"),        # before the start: never a milestone
    (1, 10, START + 2 * DAY, "login"),
    (1, 11, START + 9 * DAY, "report_view"),    # the first value: 9 days in
    (1, 12, START + 19 * DAY, "report_view"),   # exactly at the cutoff below: excluded
    (2, 20, START - 10 * DAY, "login"),
)
Q = START + 19 * DAY


# ------------------------------------------------------------------- the stage


def test_the_stage_changes_at_the_threshold_and_unknown_tenure_is_unknown():
    params = LifecycleParams(enabled=True, onboarding_days=90)
    stage = lifecycle_stage([0.0, 89.999, 90.0, 2000.0, np.nan], params=params)
    assert stage.tolist() == ["onboarding", "onboarding", "mature", "mature", "unknown"]


def test_trial_only_with_a_threshold_and_only_while_young():
    params = LifecycleParams(enabled=True, onboarding_days=90, trial_max_mrr=0.0)
    stage = lifecycle_stage([10.0, 10.0, 10.0, 400.0], [0.0, 50.0, np.nan, 0.0], params=params)
    assert stage.tolist() == ["trial", "onboarding", "onboarding", "mature"]
    off = LifecycleParams(enabled=True, onboarding_days=90)
    assert lifecycle_stage([10.0], [0.0], params=off).tolist() == ["onboarding"]


def test_the_stage_of_feature_rows_is_point_in_time():
    """The same account is onboarding at one cutoff and mature at a later one, and the
    tenure it is read from is that of the builder (strictly before each cutoff)."""
    tables = make_tables(BOOK)
    frame = build(tables, [(1, START + 89 * DAY), (1, START + 90 * DAY), (2, START + 89 * DAY)])
    stages = stage_of_rows(frame, params=LifecycleParams(enabled=True, onboarding_days=90))
    assert stages.tolist() == ["onboarding", "mature", "mature"]


def test_a_frame_without_tenure_is_a_clear_error():
    with pytest.raises(DataError, match="accounts__tenure_days"):
        stage_of_rows(pd.DataFrame({"account_id": [1]}), params=LifecycleParams())


# ------------------------------------------------------------------- milestones


def test_milestones_read_only_rows_from_the_start_to_the_cutoff():
    frame = build(make_tables(BOOK), [(1, Q)])
    row = frame.iloc[0]
    assert row["events__days_to_first_value"] == pytest.approx(9.0)
    assert row["events__seats_activated"] == pytest.approx(2 / 4)  # users 10 and 11, not 12
    assert row["events__first_days_count__7d"] == 1.0               # [start, start + 7 days)
    # 19 days old: the two events of its 19 days scaled to a full 30
    assert row["events__first_days_count__30d"] == pytest.approx(2 * 30 / 19)


def test_an_event_just_before_the_cutoff_counts_and_none_yet_is_nan():
    frame = build(make_tables(BOOK), [(1, Q + US), (1, START + 5 * DAY)])
    assert frame.loc[0, "events__seats_activated"] == pytest.approx(3 / 4)
    assert np.isnan(frame.loc[1, "events__days_to_first_value"])  # no core event yet
    assert frame.loc[1, "events__first_days_count__7d"] == pytest.approx(1 * 7 / 5)


def test_a_mature_account_keeps_its_first_days_and_unknown_seats_give_nan():
    frame = build(make_tables(BOOK), [(1, START + 200 * DAY), (2, START + 20 * DAY)])
    assert frame.loc[0, "events__first_days_count__30d"] == 3.0  # no scaling past 30 days
    assert frame.loc[0, "events__first_days_count__7d"] == 1.0
    assert np.isnan(frame.loc[1, "events__seats_activated"])
    assert np.isnan(frame.loc[1, "events__days_to_first_value"])  # a login only: no core event yet


def test_any_event_is_the_first_value_without_core_events():
    params = dataclasses.replace(PARAMS, milestones=dataclasses.replace(MILESTONES, core_events=[]))
    frame = build(make_tables(BOOK), [(1, Q)], params)
    assert frame.loc[0, "events__days_to_first_value"] == pytest.approx(2.0)


def test_milestones_do_not_depend_on_partitions_or_row_order():
    tables = make_tables(BOOK)
    rows = [(1, Q), (2, Q), (1, START + 3 * DAY), (1, START + 40 * DAY)]
    whole = build(tables, rows)
    parted = build(tables, rows, dataclasses.replace(PARAMS, partition_accounts=1))
    pd.testing.assert_frame_equal(whole, parted)
    flipped = build(tables, rows[::-1])
    pd.testing.assert_frame_equal(whole, flipped.iloc[::-1].reset_index(drop=True))


def test_off_by_default_the_columns_are_those_of_before():
    tables = make_tables(BOOK)
    off = feature_names(tables, dataclasses.replace(PARAMS, milestones=MilestoneParams()))
    on = feature_names(tables, PARAMS)
    assert not set(NAMES) & set(off)
    assert on == off + NAMES  # appended: the columns of before keep their order


def test_every_milestone_has_a_catalogue_entry_with_a_phrase():
    catalogue = build_catalogue([*NAMES, "accounts__seats"])
    assert {catalogue[n].family for n in NAMES} == {"usage"}
    assert catalogue["events__days_to_first_value"].healthy_direction == -1
    assert "first 30 days" in catalogue["events__first_days_count__30d"].label
    assert "{accounts__seats" in catalogue["events__seats_activated"].phrase


def test_params_load_and_a_misspelt_key_is_named():
    params = make_params({"lifecycle": {"enabled": True, "onboarding_days": 120},
                          "features": {"milestones": {"enabled": True, "core_events": ["report_view"]}}})
    assert params.lifecycle.onboarding_days == 120 and params.features.milestones.core_events == ["report_view"]
    assert make_params({}).lifecycle == LifecycleParams() and not make_params({}).features.milestones.enabled
    with pytest.raises(ConfigError, match="lifecycle.onboarding_dayz"):
        make_params({"lifecycle": {"onboarding_dayz": 90}})
    with pytest.raises(ConfigError, match="lifecycle.onboarding_days"):
        make_params({"lifecycle": {"onboarding_days": 0}})


# ------------------------------------------------------- windows not lived through


def test_window_spans_and_the_age_scaled_features_are_never_masked():
    from healthscore.features.lifecycle import window_span_days

    assert window_span_days("events__count__90d") == 90
    assert window_span_days("events__login__count__30d") == 30
    assert window_span_days("events__count__30d_vs_prev_30d") == 60
    assert window_span_days("events__count_tenure_scaled__90d") is None
    assert window_span_days("events__first_days_count__30d") is None
    assert window_span_days("accounts__tenure_days") is None
    assert window_span_days("events__days_since_last") is None


def test_a_window_longer_than_the_accounts_life_is_masked_not_zero():
    from healthscore.features.lifecycle import mask_unlived_windows

    frame = build(make_tables(BOOK), [(1, Q), (1, START + 45 * DAY), (2, Q)])
    masked = mask_unlived_windows(frame)
    # 19 days old: its 7-day window is lived through, its 30-day one is not
    assert masked.loc[0, "events__count__7d"] == frame.loc[0, "events__count__7d"]
    assert np.isnan(masked.loc[0, "events__count__30d"])
    assert np.isnan(masked.loc[0, "events__count__30d_vs_prev_30d"])  # reads 60 days
    assert masked.loc[1, "events__count__30d"] == frame.loc[1, "events__count__30d"]
    assert np.isnan(masked.loc[1, "events__count__30d_vs_prev_30d"])
    pd.testing.assert_series_equal(masked.iloc[2], frame.iloc[2])  # 400+ days old
    assert masked.loc[0, "events__first_days_count__30d"] == frame.loc[0, "events__first_days_count__30d"]
    assert not np.isnan(frame.loc[0, "events__count__30d"])  # the input is left as it was
