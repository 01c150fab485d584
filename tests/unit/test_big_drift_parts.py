"""Drift of a bucketed run from its spooled parts, one bucket at a time
(healthscore.monitor.drift.feature_shares, healthscore.scoring.spool.Spool.read_parts):
the bin counts of the parts summed give the drift table of the whole frame, to the
last bit, numeric and categorical features, missing values, unseen levels and a
feature the points lack included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.monitor.drift import drift_table, feature_shares
from healthscore.monitor.psi import categorical_counts, categorical_shares, numeric_counts
from healthscore.monitor.reference import current_shares, describe_values
from healthscore.scoring.spool import Spool


def _values(n: int, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    usage = rng.lognormal(1.0 + shift, 1.0, n)
    usage[rng.random(n) < 0.1] = np.nan
    plan = rng.choice(["basic", "pro", "team", "new-plan"], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    plan[rng.random(n) < 0.05] = None
    return pd.DataFrame({
        "account_id": np.arange(n, dtype=np.int64),
        "events__count__30d": usage,
        "tickets__open__now": rng.poisson(1.0 + shift, n).astype(np.float64),
        "accounts__plan": plan,
    })


@pytest.fixture(scope="module")
def reference() -> dict:
    train = _values(3000, seed=11)
    train["accounts__plan"] = train["accounts__plan"].where(train["accounts__plan"] != "new-plan", "basic")
    features = {n: describe_values(train[n], bins=10) for n in train.columns if "__" in n}
    features["emails__open_rate__90d"] = describe_values(train["events__count__30d"], bins=10)  # not scored now
    score = pd.Series(np.random.default_rng(1).integers(1, 101, 3000), dtype=np.float64)
    return {"format": 1, "bins": 10, "features": features, "score": describe_values(score, bins=10),
            "bands": {"red": 0.2, "yellow": 0.3, "green": 0.5}}


def _risk_list(n: int) -> pd.DataFrame:
    return pd.DataFrame({"account_id": np.arange(n), "health_score": np.random.default_rng(2).integers(1, 101, n)})


def test_counts_over_parts_add_up_to_the_shares_of_the_whole():
    values = _values(997, seed=3)["events__count__30d"].to_numpy()
    edges = [0.5, 1.0, 2.5, 7.0]
    whole = current_shares(values, {"kind": "numeric", "edges": edges})
    summed = sum(numeric_counts(values[k::5], edges) for k in range(5)) / len(values)
    assert np.array_equal(whole, summed)
    assert summed.sum() == pytest.approx(1.0) and summed[-1] > 0  # the missing values' bin
    plans = _values(997, seed=3)["accounts__plan"]
    levels = ["basic", "pro", "team"]
    counts = categorical_counts(plans, levels)
    assert counts[3] == (plans == "new-plan").sum() and counts[4] == plans.isna().sum()
    assert np.array_equal(categorical_shares(plans, levels), counts / len(plans))


def test_drift_of_the_parts_equals_the_drift_of_the_whole(reference):
    now = _values(2000, seed=7, shift=0.4)
    monitor = make_params().monitor
    whole = drift_table(now, _risk_list(len(now)), reference, catalogue={}, monitor=monitor)
    parts = [now.iloc[k::3] for k in range(3)]  # interleaved, as hashed buckets are
    by_part = drift_table(iter(parts), _risk_list(len(now)), reference, catalogue={}, monitor=monitor)
    pd.testing.assert_frame_equal(by_part, whole, check_exact=True)
    shifted = whole.set_index("name").loc[["events__count__30d", "tickets__open__now"], "psi"]
    assert whole["psi"].notna().sum() == 4 and (shifted > 0.01).all()
    missing = whole.set_index("name").loc["emails__open_rate__90d"]
    assert np.isnan(missing["psi"]) and missing["level"] == "unknown"


def test_a_feature_one_part_lacks_is_not_counted(reference):
    now = _values(600, seed=5)
    parts = [now.iloc[:300], now.iloc[300:].drop(columns=["tickets__open__now"])]
    shares = feature_shares(parts, reference)
    assert shares["tickets__open__now"] is None
    assert np.array_equal(shares["events__count__30d"],
                          current_shares(now["events__count__30d"], reference["features"]["events__count__30d"]))


def test_spooled_parts_read_one_bucket_at_a_time_give_the_whole_drift(tmp_path, reference):
    now = _values(900, seed=9, shift=0.2)
    buckets = [now.iloc[k::4] for k in range(4)]
    box = Spool(tmp_path, "2024-06-01")
    try:
        for part in buckets:
            box.add("points", part.assign(**{"points:events__count__30d": 1.0}))
        names = list(reference["features"])
        read = list(box.read_parts("points", columns=names))
        assert len(read) == 4 and [len(p) for p in read] == [len(b) for b in buckets]
        assert "points:events__count__30d" not in read[0].columns  # only the columns asked for
        monitor = make_params().monitor
        whole = drift_table(now, _risk_list(len(now)), reference, catalogue={}, monitor=monitor)
        spooled = drift_table(box.read_parts("points", columns=names), _risk_list(len(now)), reference,
                              catalogue={}, monitor=monitor)
        pd.testing.assert_frame_equal(spooled, whole, check_exact=True)
    finally:
        box.close()
