"""report.points.hurt_summary: what the overview's patterns count of the drivers hurting
accounts now, from the wide file a few columns at a time, equal to counting the long
rows joined to the risk list (the way the patterns were first counted), in both layouts;
labels shared by two features count each account once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.data.schema import POINTS_PREFIX
from healthscore.io.columns import COLUMN_GROUP
from healthscore.report.points import hurt_summary, normalise_points

PROFILE = ("subscriptions__contract_days",)
FEATURES = [f"events__type_{i}__30d" for i in range(COLUMN_GROUP + 4)] + list(PROFILE)
# two features under one label: an account hurt by both counts once for the label
CATALOGUE = {FEATURES[0]: {"label": "Shared label", "family": "usage"},
             FEATURES[COLUMN_GROUP + 1]: {"label": "Shared label", "family": "usage"}}


def _book(seed: int, accounts: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.arange(accounts) + 500
    wide = {"account_id": ids, "base": rng.normal(50, 1, accounts)}
    for f in FEATURES:
        pts = np.round(rng.normal(-1, 3, accounts), 2)
        pts[rng.random(accounts) < 0.1] = np.nan
        wide[f] = rng.random(accounts)
        wide[POINTS_PREFIX + f] = pts
    scored = ids[rng.random(accounts) < 0.8]  # some accounts of the file are not in the list
    risk_list = pd.DataFrame({
        "account_id": scored, "arr": np.where(rng.random(scored.size) < 0.1, np.nan,
                                               rng.integers(1, 100, scored.size) * 1000.0),
        "segment": rng.choice(["SMB", "Mid", "Enterprise"], scored.size),
        "owner": rng.choice(["ana", "bo", "cy", "dee"], scored.size),
    })
    return pd.DataFrame(wide), risk_list


def _by_hand(long: pd.DataFrame, risk_list: pd.DataFrame, limit: float):
    hurt = long[(long["points"] <= -limit) & ~long["profile"]]
    hurt = hurt.join(risk_list.set_index("account_id")[["arr", "segment", "owner"]], on="account_id", how="inner")
    features = hurt.groupby("feature").agg(accounts=("account_id", "nunique"), arr=("arr", "sum"),
                                           points=("points", "sum"), label=("label", "first"))
    groups = {column: hurt.groupby([column, "label"])["account_id"].nunique() for column in ("segment", "owner")}
    return features, groups


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_the_summary_equals_the_long_rows_counted_by_hand(layout):
    wide, risk_list = _book(7)
    long, _ = normalise_points(wide, CATALOGUE, profile=PROFILE)
    features, groups = _by_hand(long, risk_list, 2.0)
    assert len(features) > COLUMN_GROUP and features["accounts"].sum() > 50
    given = wide if layout == "wide" else long
    summary = hurt_summary(given, risk_list, min_points=2.0, catalogue=CATALOGUE, profile=PROFILE)
    got = summary["features"]
    assert list(got.index) == list(features.index) and not set(got.index) & set(PROFILE)
    assert list(got["accounts"]) == list(features["accounts"])
    np.testing.assert_allclose(got["arr"], features["arr"])
    np.testing.assert_allclose(got["points"], features["points"])
    assert list(got["label"]) == list(features["label"])
    for column, expected in groups.items():
        counted = summary[column].set_index(["group", "label"])["accounts"].sort_index()
        pd.testing.assert_series_equal(counted, expected.sort_index().astype(counted.dtype),
                                       check_names=False, check_index_type=False)
    shared = summary["segment"].query("label == 'Shared label'")["accounts"].sum()
    assert shared < got.loc[[FEATURES[0], FEATURES[COLUMN_GROUP + 1]], "accounts"].sum()  # once, not twice


def test_no_points_count_nothing():
    _, risk_list = _book(3)
    summary = hurt_summary(pd.DataFrame(), risk_list, min_points=2.0, catalogue={})
    assert summary["features"].empty and summary["segment"].empty and summary["owner"].empty
