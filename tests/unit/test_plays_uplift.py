"""Uplift of a play from its hold-out: outcomes on tiny hand-written tables, the
interval arithmetic, the verdict, and the bars over seeded repetitions of a direct
simulation of outcomes with a planted effect per cause."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from healthscore.data.validate import validate_tables
from healthscore.errors import DataError
from healthscore.plays import ARM_HOLDOUT, ARM_TASK, assign_arms
from healthscore.plays.uplift import (UPLIFT_COLUMNS, UpliftSettings, accounts_needed, attach_outcomes,
                                      difference_interval, first_assignments, measure_uplift, wilson_interval)

T0 = pd.Timestamp("2024-01-01")


@pytest.fixture()
def tables():
    frames = {
        "accounts": pd.DataFrame({"account_id": [1, 2, 3, 4]}),
        "subscriptions": pd.DataFrame({
            "account_id": [1, 2, 2, 3, 4],
            "start_date": ["2023-03-01", "2023-06-01", "2024-06-01", "2023-09-01", "2023-01-01"],
            "end_date": ["2024-03-01", "2024-06-01", "2025-06-01", "2024-09-01", "2026-01-01"],
            "mrr": [100.0, 50.0, 50.0, 10.0, 10.0]}),
        "interventions": pd.DataFrame({"account_id": [1, 2, 3], "play": ["call", "call", "other"],
                                       "date": ["2024-01-05", "2023-12-01", "2024-01-05"]}),
    }
    return validate_tables(frames, observed_until=pd.Timestamp("2025-01-01"))[0]


def test_outcomes_read_from_the_subscriptions_with_the_horizon(tables):
    tasks = pd.DataFrame({"play": "call", "account_id": [1, 2, 3, 4, 1],
                          "as_of": [T0, T0, T0, pd.Timestamp("2024-10-01"), pd.Timestamp("2024-02-01")],
                          "arm": [ARM_TASK, ARM_TASK, ARM_HOLDOUT, ARM_HOLDOUT, ARM_HOLDOUT]})
    first = first_assignments(tasks)
    assert len(first) == 4  # account 1 counts once, in its first arm
    assert first.set_index("account_id").loc[1, "arm"] == ARM_TASK
    out = attach_outcomes(first, tables, settings=UpliftSettings(horizon_days=180)).set_index("account_id")
    # 1 ends 2024-03-01 with no successor: lost within 180 days; 2 renews; 3 ends 2024-09-01,
    # after the horizon (2024-06-29): not lost within it; 4's horizon ends after the data: pending
    assert out["matured"].tolist() == [True, True, True, False]
    assert out.loc[[1, 2, 3], "lost"].tolist() == [1, 0, 0] and pd.isna(out.loc[4, "lost"])
    # a touch of the same play on or after the assignment: 1 yes; 2 before it; 3 another play
    assert out["touched"].tolist() == [True, False, False, False]


def test_bad_arm_and_missing_column_are_named():
    tasks = pd.DataFrame({"play": ["call"], "account_id": [1], "as_of": [T0], "arm": ["control"]})
    with pytest.raises(DataError, match="column 'arm' holds 'control'"):
        first_assignments(tasks)
    with pytest.raises(DataError, match="column 'arm' is missing"):
        first_assignments(tasks.drop(columns="arm"))


def test_wilson_and_newcombe_match_published_values():
    # Newcombe (1998), table II, example (a): 56/70 - 48/80, 95 %: 0.0524 to 0.3339
    d, low, high = difference_interval(56, 70, 48, 80, level=0.95)
    assert d == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    # example (h): 10/10 - 0/10, 95 %: 0.6075 to 1.0
    assert difference_interval(10, 10, 0, 10, level=0.95)[1:] == pytest.approx((0.6075, 1.0), abs=5e-4)
    low, high = wilson_interval(0, 20, level=0.95)
    assert low == 0.0 and high == pytest.approx(0.1611, abs=5e-4)


def test_accounts_needed_matches_the_two_proportion_formula():
    # 20 % churn held out, a 5-point saving, half held out, 90 % two-sided, 80 % power:
    # 713 per arm by the textbook formula
    assert accounts_needed(0.20, 0.05, holdout_share=0.5) == pytest.approx(1426, abs=2)
    # a smaller hold-out needs more accounts in all; a bigger effect far fewer
    assert accounts_needed(0.20, 0.05, holdout_share=0.2) > 1426
    assert accounts_needed(0.20, 0.10, holdout_share=0.5) < 400


def outcome_frame(arms, lost, arr=None, play="p"):
    n = len(arms)
    frame = pd.DataFrame({"play": play, "account_id": np.arange(n), "as_of": T0, "arm": arms,
                          "matured": True, "lost": pd.array(lost, dtype="Int64")})
    if arr is not None:
        frame["arr"] = arr
    return frame


def test_verdicts_in_words_and_arr_saved():
    # 400 treated with 20 lost, 200 held out with 30 lost: saves 10 in 100
    arms = [ARM_TASK] * 400 + [ARM_HOLDOUT] * 200
    lost = [1] * 20 + [0] * 380 + [1] * 30 + [0] * 170
    row = measure_uplift(outcome_frame(arms, lost, arr=[1000.0] * 600)).iloc[0]
    assert tuple(measure_uplift(outcome_frame(arms, lost)).columns) == UPLIFT_COLUMNS
    assert row["works"] and row["saved_per_account"] == pytest.approx(0.10)
    assert row["verdict"].startswith("saves about 10 in 100 accounts it touches, 90 % interval ")
    assert row["arr_saved"] == pytest.approx(0.10 * 400_000)
    assert row["treated_arr_lost"] == 20_000 and row["held_out_arr_lost"] == 30_000
    # the same churn in both arms: no effect yet, and how many more accounts
    flat = measure_uplift(outcome_frame(arms, [1] * 40 + [0] * 360 + [1] * 20 + [0] * 180)).iloc[0]
    assert not flat["works"] and flat["accounts_needed"] > 0
    assert flat["verdict"].startswith("no measurable effect yet") and "more accounts needed" in flat["verdict"]
    # no hold-out at all: not measurable, said so
    alone = measure_uplift(outcome_frame([ARM_TASK] * 10, [0] * 10)).iloc[0]
    assert alone["verdict"].startswith("not measurable: no hold-out")


# ------------------------------------------------------------------ the bars
# A direct simulation of outcomes (the full simulator is too slow for hundreds of
# repetitions; tests/integration/test_plays_holdout_sim.py runs it end to end): the
# play is aimed at accounts with low breadth (an onboarding play) or a budget cut; it
# lowers the churn of low-breadth accounts by a known share and does nothing for a
# budget cut. Arms by the same seeded, stratified hash as the tasks.

N_ACCOUNTS, REPS, HOLDOUT = 1200, 250, 0.3
CHURN = {"low_breadth": 0.30, "budget_cut": 0.40}
LOW_BREADTH_SHARE = 0.6


def simulate_play(seed: int, effect_on_low_breadth: float) -> tuple[pd.DataFrame, float]:
    """One repetition: the outcomes frame and the planted effect (the expected churn
    saved per treated account)."""
    rng = np.random.default_rng([7_001, seed])
    ids = np.arange(N_ACCOUNTS) + seed * 100_000
    low = rng.random(N_ACCOUNTS) < LOW_BREADTH_SHARE
    strata = pd.DataFrame({"band": rng.choice(["red", "yellow"], N_ACCOUNTS),
                           "segment": rng.choice(["SMB", "Mid-Market", "Enterprise"], N_ACCOUNTS, p=[.6, .3, .1])})
    arms = assign_arms(ids.tolist(), strata, play="onboarding", share=HOLDOUT, seed=seed)
    base = np.where(low, CHURN["low_breadth"], CHURN["budget_cut"])
    treated = arms == ARM_TASK
    p = np.where(treated & low, base * (1 - effect_on_low_breadth), base)
    lost = (rng.random(N_ACCOUNTS) < p).astype(int)
    truth = LOW_BREADTH_SHARE * CHURN["low_breadth"] * effect_on_low_breadth
    frame = outcome_frame(arms, lost, play="onboarding")
    return frame, truth


def test_bars_interval_covers_the_planted_effect_about_90_percent():
    covered, works = 0, 0
    for seed in range(REPS):
        frame, truth = simulate_play(seed, effect_on_low_breadth=0.4)
        row = measure_uplift(frame).iloc[0]
        covered += row["low"] <= truth <= row["high"]
        works += bool(row["works"])
    coverage = covered / REPS
    assert 0.85 <= coverage <= 0.96, coverage
    assert works / REPS > 0.5  # a 7-point saving on 1,200 accounts is seen most times


def test_bars_a_null_play_is_flagged_as_working_at_most_10_percent():
    flagged, covered = 0, 0
    for seed in range(REPS):
        frame, truth = simulate_play(seed, effect_on_low_breadth=0.0)
        row = measure_uplift(frame).iloc[0]
        flagged += bool(row["works"])
        covered += row["low"] <= 0.0 <= row["high"]
        assert truth == 0.0
    assert flagged / REPS <= 0.10, flagged
    assert 0.85 <= covered / REPS <= 0.96
