"""Hand-written cases of the derived behaviour metrics (features/derived.py): ratios
between two event or signal types, rates per seat, change against the previous window.
Answers read here; every input row at or after the cutoff must not count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.config import FeatureParams
from healthscore.errors import ConfigError
from healthscore.features import build_features, plan_features
from healthscore.features.catalogue import build_catalogue
from healthscore.data.tables import Tables

Q = pd.Timestamp("2024-03-01")
DAY = pd.Timedelta(days=1)
US = pd.Timedelta(microseconds=1)


def _ts(values) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values))).astype("datetime64[us]")


def _tables(events, signals=None, seats=4.0) -> Tables:
    frames = {
        "accounts": pd.DataFrame({"account_id": [1], "seats": [seats],
                                  "created_at": _ts(["2023-01-01"])}),
        "subscriptions": pd.DataFrame({"account_id": [1], "subscription_id": ["1-1"],
                                       "start_date": _ts(["2023-01-01"]),
                                       "end_date": _ts(["2025-01-01"]), "mrr": [100.0]}),
        "events": pd.DataFrame({"account_id": [1] * len(events), "user_id": [7] * len(events),
                                "timestamp": _ts([e[0] for e in events]),
                                "event": pd.Series([e[1] for e in events], dtype="str")}),
    }
    if signals is not None:
        frames["signals"] = pd.DataFrame({"account_id": [1] * len(signals),
                                          "timestamp": _ts([s[0] for s in signals]),
                                          "signal": pd.Series([s[1] for s in signals], dtype="str"),
                                          "value": [1.0] * len(signals)})
    return Tables(frames, pd.Timestamp("2025-01-01"))


def _row(tables, params) -> dict:
    cut = pd.DataFrame({"account_id": [1], "cutoff_time": _ts([Q])})
    return build_features(tables, cut, params).iloc[0].to_dict()


def test_ratio_of_two_event_types_counts_only_rows_before_the_cutoff():
    # 'dislike' is rare: not among the top type, yet named in a pair it gets counted
    events = ([(Q - k * DAY, "like") for k in range(1, 7)]          # 6 likes in 30 days
              + [(Q - DAY, "dislike"), (Q - 2 * DAY, "dislike"), (Q - 3 * DAY, "dislike")]
              + [(Q, "dislike"), (Q + DAY, "dislike"),             # at / after the cutoff
                 (Q - US, "like")])                                # 7th like, just before
    params = FeatureParams(windows=[7, 30], trend_windows=[30], top_event_types=1,
                           ratio_pairs=[["dislike", "like"]])
    row = _row(_tables(events), params)
    assert row["events__dislike_per_like__30d"] == pytest.approx(3 / 7)
    assert "events__dislike__count__30d" in row  # the pair's type has its own counts


def test_ratio_is_missing_when_the_denominator_has_none_and_pairs_from_signals():
    events = [(Q - DAY, "login")]
    signals = [(Q - 5 * DAY, "feature_request"), (Q - 6 * DAY, "feature_request"),
               (Q - 7 * DAY, "referral"), (Q + DAY, "referral")]
    params = FeatureParams(windows=[30], trend_windows=[30], top_event_types=1,
                           top_signal_types=0,
                           ratio_pairs=[["feature_request", "referral"], ["referral", "login"],
                                        ["login", "nosuchtype"]])
    row = _row(_tables(events, signals), params)
    assert row["signals__feature_request_per_referral__30d"] == pytest.approx(2.0)
    # a pair across tables or naming an absent type gives no column
    assert not any("_per_login" in k or "nosuchtype" in k for k in row)
    params = FeatureParams(windows=[30], trend_windows=[30], top_event_types=1,
                           ratio_pairs=[["referral", "feature_request"]])
    row = _row(_tables(events, [(Q - 5 * DAY, "referral"), (Q + DAY, "feature_request")]), params)
    assert np.isnan(row["signals__referral_per_feature_request__30d"])


def test_rate_per_seat():
    events = [(Q - k * DAY, "login") for k in range(1, 9)] + [(Q, "login")]
    params = FeatureParams(windows=[7, 30], trend_windows=[30], top_event_types=1,
                           per_seat=["events__count", "events__active_users"])
    row = _row(_tables(events, seats=4.0), params)
    assert row["events__count_per_seat__7d"] == pytest.approx(7 / 4)
    assert row["events__count_per_seat__30d"] == pytest.approx(8 / 4)
    assert row["events__active_users_per_seat__30d"] == pytest.approx(1 / 4)
    row = _row(_tables(events, seats=0.0), params)
    assert np.isnan(row["events__count_per_seat__30d"])


def test_change_against_the_previous_window():
    # 30 days before the cutoff: 2 events; the 30 before those: 4 -> -50 %
    events = ([(Q - DAY, "login"), (Q - 29 * DAY, "login")]
              + [(Q - (31 + k) * DAY, "login") for k in range(4)] + [(Q, "login")])
    params = FeatureParams(windows=[30, 60, 90], trend_windows=[30], top_event_types=1,
                           pct_change=["events__count"])
    row = _row(_tables(events), params)
    assert row["events__count_pct_change__30d"] == pytest.approx(-0.5)
    assert "events__count_pct_change__60d" not in row  # no 120-day window
    # nothing in the previous window: missing, not infinite
    row = _row(_tables([(Q - DAY, "login")]), params)
    assert np.isnan(row["events__count_pct_change__30d"])


def test_every_derived_name_has_a_catalogue_entry_with_a_phrase():
    events = [(Q - DAY, "like"), (Q - DAY, "dislike")]
    params = FeatureParams(windows=[30, 60], trend_windows=[30], top_event_types=1,
                           ratio_pairs=[["dislike", "like"]], per_seat=["events__count"],
                           pct_change=["events__count"])
    plan = plan_features(_tables(events), params)
    catalogue = build_catalogue(plan.feature_names)
    for name in ("events__dislike_per_like__30d", "events__count_per_seat__30d",
                 "events__count_pct_change__30d"):
        info = catalogue[name]
        assert info.phrase.format(value=0.25) and info.unit and info.family == "usage"
    assert catalogue["events__count_per_seat__30d"].healthy_direction == 1


@pytest.mark.parametrize("raw, key", [({"ratio_pairs": [["like"]]}, "ratio_pairs"),
                                      ({"ratio_pairs": [["a", "a"]]}, "ratio_pairs"),
                                      ({"per_seat": ["count"]}, "per_seat"),
                                      ({"pct_change": ["events__count__30d"]}, "pct_change")])
def test_bad_derived_params_name_the_key(raw, key):
    params = FeatureParams(windows=[30], trend_windows=[30], **raw)
    with pytest.raises(ConfigError, match=key):
        plan_features(_tables([(Q - DAY, "like")]), params)
