"""ARR at risk: exact expectations, the exact count range, the Monte Carlo ARR range.

The count range is checked against brute-force enumeration of every outcome, the ARR
range against the exact distribution on a tiny portfolio and by its coverage over
many seeded replications; the draws must not depend on how the accounts are chunked.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import DataError, SchemaError
from healthscore.scoring.arr_range import (
    ARR_RANGE_COLUMNS, STREAM_BLOCK, TOTAL, arr_at_risk, arr_at_risk_groups, describe_range,
    interval_coverage,
)


def _portfolio(n: int, *, seed: int, groups: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "account_id": np.arange(n) + 1000,
        "arr": rng.lognormal(9, 1.0, n).round(2),
        "risk_proba": rng.beta(1.2, 5, n),
    })
    if groups:
        frame["segment"] = rng.choice([f"s{k}" for k in range(groups)], n)
    return frame


def _exact(values: np.ndarray, probs: np.ndarray, q: float) -> float:
    """Lowest value whose CDF >= q, of a distribution given by atoms."""
    order = np.argsort(values, kind="stable")
    values, cdf = values[order], np.cumsum(probs[order])
    return float(values[np.searchsorted(cdf, q - 1e-12)])


def _enumerate(a: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every outcome of independent Bernoulli(p): (probability, count lost, ARR lost)."""
    outcomes = np.array(list(itertools.product([0, 1], repeat=len(p))))
    probs = np.prod(np.where(outcomes == 1, p, 1 - p), axis=1)
    return probs, outcomes.sum(axis=1), outcomes @ a


# -- expectations and certain outcomes ----------------------------------------------


def test_expected_values_are_exact_sums():
    frame = pd.DataFrame({"arr": [100.0, 200.0, 300.0, 50.0], "risk_proba": [0.1, 0.5, 1.0, 0.0]})
    row = arr_at_risk(frame, n_draws=50).iloc[0]
    assert row["group"] == TOTAL
    assert row["accounts"] == 4 and row["arr"] == 650.0
    assert row["expected_arr_lost"] == pytest.approx(10 + 100 + 300, abs=1e-9)
    assert row["expected_accounts_lost"] == pytest.approx(1.6, abs=1e-12)
    # 300 is always lost and 50 never: the range lies between 300 and 300 + 100 + 200
    assert 300 <= row["arr_lost_low"] <= row["arr_lost_high"] <= 600
    assert 1 <= row["accounts_lost_low"] <= row["accounts_lost_high"] <= 3


def test_certain_outcomes_collapse_the_range_to_what_happens():
    frame = pd.DataFrame({
        "arr": [1200.0, 300.0, 4500.0, 80.0, 999.0, 10.0],
        "risk_proba": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0],
        "segment": ["a", "a", "b", "b", "b", "c"],
    })
    table = arr_at_risk(frame, by="segment", n_draws=200).set_index("group")
    lost = {"a": (1200.0, 1), "b": (4500.0 + 999.0, 2), "c": (0.0, 0),
            TOTAL: (1200.0 + 4500.0 + 999.0, 3)}
    for group, (amount, count) in lost.items():
        row = table.loc[group]
        assert row["expected_arr_lost"] == row["arr_lost_low"] == row["arr_lost_high"] == amount
        assert row["expected_accounts_lost"] == count
        assert row["accounts_lost_low"] == row["accounts_lost_high"] == count


# -- the count range: exact -----------------------------------------------------------


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95])
def test_count_range_equals_brute_force_enumeration(level):
    rng = np.random.default_rng(7)
    p = rng.uniform(0.02, 0.9, 10)
    a = rng.lognormal(8, 1, 10)
    probs, counts, _ = _enumerate(a, p)
    row = arr_at_risk(pd.DataFrame({"arr": a, "risk_proba": p}), level=level, n_draws=10).iloc[0]
    assert row["accounts_lost_low"] == _exact(counts, probs, (1 - level) / 2)
    assert row["accounts_lost_high"] == _exact(counts, probs, (1 + level) / 2)


def test_count_range_of_groups_and_total_against_enumeration():
    rng = np.random.default_rng(11)
    p, a = rng.uniform(0.05, 0.95, 12), rng.lognormal(8, 1, 12)
    segment = np.array(list("aaaabbbbbccc"))
    table = arr_at_risk(pd.DataFrame({"arr": a, "risk_proba": p, "segment": segment}),
                        by="segment", level=0.8, n_draws=10).set_index("group")
    for group, mask in [("a", segment == "a"), ("c", segment == "c"), (TOTAL, segment != "")]:
        probs, counts, _ = _enumerate(a[mask], p[mask])
        assert table.loc[group, "accounts_lost_low"] == _exact(counts, probs, 0.1)
        assert table.loc[group, "accounts_lost_high"] == _exact(counts, probs, 0.9)


def test_count_range_of_a_large_group_matches_the_normal_approximation():
    # 20,000 accounts go through the FFT path; the CLT pins the 10 % / 90 % quantiles
    frame = _portfolio(20_000, seed=3)
    row = arr_at_risk(frame, n_draws=10).iloc[0]
    p = frame["risk_proba"].to_numpy()
    mean, sd = p.sum(), math.sqrt((p * (1 - p)).sum())
    assert row["accounts_lost_low"] == pytest.approx(mean - 1.2816 * sd, abs=2)
    assert row["accounts_lost_high"] == pytest.approx(mean + 1.2816 * sd, abs=2)


# -- the ARR range: Monte Carlo -------------------------------------------------------


def test_arr_range_ends_are_near_the_exact_quantiles():
    rng = np.random.default_rng(5)
    p, a = rng.uniform(0.05, 0.6, 10), rng.lognormal(9, 1, 10).round()
    probs, _, amounts = _enumerate(a, p)
    row = arr_at_risk(pd.DataFrame({"arr": a, "risk_proba": p}), n_draws=20_000).iloc[0]
    for value, q in [(row["arr_lost_low"], 0.1), (row["arr_lost_high"], 0.9)]:
        assert np.isclose(amounts, value).any()  # an atom of the distribution
        below, upto = probs[amounts < value - 1e-6].sum(), probs[amounts <= value + 1e-6].sum()
        # lowest atom whose CDF reaches q, up to Monte Carlo error (sd 0.002 here)
        assert below <= q + 0.01 and upto >= q - 0.01


def test_results_do_not_depend_on_chunk_accounts():
    frame = _portfolio(3 * STREAM_BLOCK + 77, seed=1, groups=4)
    reference = arr_at_risk(frame, by="segment", n_draws=300, random_state=42)
    for chunk in (1, STREAM_BLOCK, 300, 2 * STREAM_BLOCK, 10 ** 6):
        other = arr_at_risk(frame, by="segment", n_draws=300, random_state=42, chunk_accounts=chunk)
        pd.testing.assert_frame_equal(other, reference, check_exact=True)
    whole = arr_at_risk(frame, n_draws=300, random_state=42)
    pd.testing.assert_frame_equal(
        arr_at_risk(frame, n_draws=300, random_state=42, chunk_accounts=STREAM_BLOCK), whole,
        check_exact=True)


@pytest.mark.parametrize("logit_sd", [0.0, 0.3])
def test_several_groupings_read_one_set_of_draws(logit_sd):
    frame = _portfolio(2 * STREAM_BLOCK + 31, seed=5, groups=3)
    frame["owner"] = np.random.default_rng(6).choice(["ann", "bo", "cy", "di", "ed"], len(frame))
    options = dict(n_draws=500, random_state=3, logit_sd=logit_sd)
    tables = arr_at_risk_groups(frame, by=(None, "segment", "owner"), **options)
    assert len(tables) == 3
    totals = [t.loc[t["group"] == TOTAL].reset_index(drop=True) for t in tables]
    for other in totals[1:]:  # the same draws: the same total row in every table
        pd.testing.assert_frame_equal(other, totals[0], check_exact=True)
    for by, table in zip((None, "segment", "owner"), tables):  # each as it reads alone
        pd.testing.assert_frame_equal(table, arr_at_risk(frame, by=by, **options), check_exact=True)
    owners = tables[2].set_index("group").drop(TOTAL)
    assert list(owners.index) == ["ann", "bo", "cy", "di", "ed"]
    assert owners["accounts"].sum() == len(frame)
    assert owners["expected_arr_lost"].sum() == pytest.approx(totals[0]["expected_arr_lost"][0])


def test_the_seed_moves_only_the_monte_carlo_columns():
    frame = _portfolio(500, seed=2, groups=2)
    one = arr_at_risk(frame, by="segment", n_draws=400, random_state=0)
    two = arr_at_risk(frame, by="segment", n_draws=400, random_state=1)
    exact = [c for c in ARR_RANGE_COLUMNS if not c.startswith("arr_lost")]
    pd.testing.assert_frame_equal(one[exact], two[exact])
    assert not one["arr_lost_high"].equals(two["arr_lost_high"])


def test_ranges_cover_realised_losses_at_their_level():
    frame = _portfolio(300, seed=9)
    row = arr_at_risk(frame, level=0.8, n_draws=4000, random_state=0).iloc[0]
    a, p = frame["arr"].to_numpy(), frame["risk_proba"].to_numpy()
    replications = 500
    lost = np.random.default_rng(2024).random((replications, len(p))) < p
    arr_cover = interval_coverage(lost @ a, row["arr_lost_low"], row["arr_lost_high"])
    count_cover = interval_coverage(lost.sum(axis=1), row["accounts_lost_low"],
                                    row["accounts_lost_high"])
    tolerance = 3 * math.sqrt(0.8 * 0.2 / replications)  # binomial, 3 sd (0.054)
    assert abs(arr_cover - 0.8) <= tolerance
    # the count is discrete: its closed range holds at least 80 %, a little more
    assert 0.8 - tolerance <= count_cover <= 0.95


# -- groups -----------------------------------------------------------------------


def test_groups_add_up_to_the_total_row():
    frame = _portfolio(2000, seed=4, groups=3)
    table = arr_at_risk(frame, by="segment", n_draws=200)
    assert list(table.columns) == list(ARR_RANGE_COLUMNS)
    assert list(table["group"]) == ["s0", "s1", "s2", TOTAL]
    groups, total = table.iloc[:-1], table.iloc[-1]
    for column in ("accounts", "arr", "expected_arr_lost", "expected_accounts_lost"):
        assert groups[column].sum() == pytest.approx(total[column], rel=1e-12)
    expected = frame["arr"] @ frame["risk_proba"]
    assert total["expected_arr_lost"] == pytest.approx(expected, rel=1e-12)
    # ranges do not add: the total's is narrower than the sum of the groups'
    assert total["arr_lost_high"] - total["arr_lost_low"] < (
        groups["arr_lost_high"] - groups["arr_lost_low"]).sum()


def test_an_empty_frame_gives_a_zero_total():
    empty = pd.DataFrame({"arr": pd.Series(dtype=float), "risk_proba": pd.Series(dtype=float),
                          "segment": pd.Series(dtype=str)})
    for by in (None, "segment"):
        table = arr_at_risk(empty, by=by, n_draws=20)
        assert list(table["group"]) == [TOTAL]
        assert table.iloc[0, 1:].tolist() == [0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0]


# -- inputs -------------------------------------------------------------------------


@pytest.mark.parametrize(("column", "value"), [
    ("arr", np.nan), ("arr", np.inf), ("arr", -5.0),
    ("risk_proba", np.nan), ("risk_proba", 1.2), ("risk_proba", -0.1),
])
def test_bad_values_are_refused_with_column_count_and_row(column, value):
    frame = _portfolio(6, seed=0)
    frame.index = [f"r{i}" for i in range(6)]
    frame.loc[["r2", "r4"], column] = value
    message = rf"'{column}' has 2 row\(s\).*row 'r2' \(account_id=1002\)"
    with pytest.raises(DataError, match=message):
        arr_at_risk(frame)


def test_missing_columns_and_bad_groups_are_refused():
    frame = _portfolio(5, seed=0, groups=2)
    with pytest.raises(SchemaError, match="'revenue'"):
        arr_at_risk(frame, arr="revenue")
    with pytest.raises(SchemaError, match="'region'"):
        arr_at_risk(frame, by="region")
    with pytest.raises(DataError, match="'arr' .* dtype"):
        arr_at_risk(frame.assign(arr="lots"))
    with pytest.raises(DataError, match=r"'segment' has 1 row\(s\) missing"):
        arr_at_risk(frame.assign(segment=["a", None, "b", "a", "b"]), by="segment")
    with pytest.raises(DataError, match=r"'segment' has 2 row\(s\) named 'all'"):
        arr_at_risk(frame.assign(segment=["a", "all", "b", "all", "b"]), by="segment")


@pytest.mark.parametrize("options", [
    {"level": 0.0}, {"level": 1.0}, {"n_draws": 0}, {"chunk_accounts": 0}, {"random_state": -1},
    {"n_draws": 10.5},
])
def test_bad_options_are_refused(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        arr_at_risk(_portfolio(5, seed=0), **options)


# -- coverage and words ---------------------------------------------------------------


def test_interval_coverage_counts_cases_inside_ends_included():
    assert interval_coverage([1, 2, 5, 7], [0, 2, 4, 8], [2, 2, 4.5, 9]) == 0.5
    assert interval_coverage([1, 2, 3], 1.5, 3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="shapes"):
        interval_coverage([1, 2], [0, 0, 0], [3, 3, 3])
    with pytest.raises(ValueError, match="low > high"):
        interval_coverage([1], [2], [1])
    with pytest.raises(ValueError, match="no cases"):
        interval_coverage([], [], [])


def test_describe_range_uses_the_report_money_words():
    assert describe_range(1.23e6, 0.9e6, 1.5e6) == "$1.2M expected (80% range $900k\u2013$1.5M)"
    assert describe_range(52_000, 48_000, 48_400, level=0.9, currency="\u20ac") == (
        "\u20ac52k expected (90% range \u20ac48k)")


def test_a_shared_level_shift_widens_the_range_around_the_same_expectation():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"arr": rng.uniform(1e3, 1e5, 2000), "risk_proba": rng.uniform(0.01, 0.4, 2000)})
    alone = arr_at_risk(frame, n_draws=2000).iloc[-1]
    shared = arr_at_risk(frame, n_draws=2000, logit_sd=0.3).iloc[-1]
    assert shared["expected_arr_lost"] == alone["expected_arr_lost"]
    assert shared["arr_lost_high"] - shared["arr_lost_low"] > 2 * (alone["arr_lost_high"] - alone["arr_lost_low"])
    assert shared["accounts_lost_high"] - shared["accounts_lost_low"] > alone["accounts_lost_high"] - alone["accounts_lost_low"]
    with pytest.raises(ValueError, match="logit_sd"):
        arr_at_risk(frame, logit_sd=-1.0)


def test_the_level_spread_is_zero_for_calibrated_dates_and_finds_a_shift():
    from healthscore.model.calibration import level_spread

    rng = np.random.default_rng(6)
    dates = np.repeat(np.arange(12), 3000)
    p = rng.uniform(0.05, 0.3, len(dates))
    calibrated = rng.random(len(dates)) < p
    assert level_spread(p, calibrated, dates) < 0.05
    shift = rng.normal(0, 0.4, 12)[dates]
    moved = rng.random(len(dates)) < 1 / (1 + np.exp(-(np.log(p / (1 - p)) + shift)))
    assert 0.2 < level_spread(p, moved, dates) < 0.7
