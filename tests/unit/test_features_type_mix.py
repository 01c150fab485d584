"""Hand-written cases of the per-type behaviour metrics of the events builder: the share
of each type, its trend, its recency and events per active user. Answers read here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import FeatureParams
from healthscore.features import build_features, feature_names, plan_features
from healthscore.features.catalogue import build_catalogue
from healthscore.data.tables import Tables

Q = pd.Timestamp("2024-03-01")
US = pd.Timedelta(microseconds=1)
DAY = pd.Timedelta(days=1)
PARAMS = FeatureParams(windows=[7, 30], trend_windows=[30], top_event_types=2, top_signal_types=1)


def _tables(events: pd.DataFrame) -> Tables:
    ts = lambda *v: pd.Series(pd.to_datetime(list(v))).astype("datetime64[us]")  # noqa: E731
    return Tables({
        "accounts": pd.DataFrame({"account_id": [1], "seats": [4.0], "created_at": ts("2023-01-01")}),
        "subscriptions": pd.DataFrame({"account_id": [1], "subscription_id": ["1-1"],
                                       "start_date": ts("2023-01-01"), "end_date": ts("2025-01-01"),
                                       "mrr": [100.0]}),
        "events": events,
    }, pd.Timestamp("2025-01-01"))


def _events(rows) -> pd.DataFrame:
    return pd.DataFrame({"account_id": [1] * len(rows), "user_id": [r[2] for r in rows],
                         "timestamp": pd.Series([r[0] for r in rows]).astype("datetime64[us]"),
                         "event": pd.Series([r[1] for r in rows], dtype="str")})


def _features(rows, cutoff=Q) -> dict:
    cut = pd.DataFrame({"account_id": [1], "cutoff_time": pd.Series([cutoff]).astype("datetime64[us]")})
    return build_features(_tables(_events(rows)), cut, PARAMS).iloc[0].to_dict()


# three logins and one export in the last 30 days, one export in the 30 before; an
# export exactly at the cutoff is not known yet
ROWS = [(Q - 1 * DAY, "login", 7), (Q - 2 * DAY, "login", 8), (Q - 3 * DAY, "login", 7),
        (Q - 10 * DAY, "export", 7), (Q - 40 * DAY, "export", 8), (Q, "export", 9),
        (Q - 50 * DAY, "login", 7)]


def test_share_trend_recency_and_per_user_rate_of_each_type():
    f = _features(ROWS)
    assert f["events__login__share__30d"] == 3 / 4
    assert f["events__export__share__30d"] == 1 / 4
    assert f["events__login__count__30d_vs_prev_30d"] == (3 + 1) / (1 + 1)
    assert f["events__export__count__30d_vs_prev_30d"] == (1 + 1) / (1 + 1)
    assert f["events__login__days_since_last"] == 1.0
    assert f["events__export__days_since_last"] == 10.0     # the one at the cutoff is unknown
    assert f["events__count_per_user__30d"] == 4 / 2
    assert f["events__new_users__30d"] == 0.0              # 7 and 8 were seen 40+ days ago


def test_a_new_user_counts_once_in_the_window_of_their_first_event():
    f = _features(ROWS + [(Q - 5 * DAY, "login", 11), (Q - 4 * DAY, "export", 11)])
    assert f["events__new_users__30d"] == 1.0


def test_counts_of_a_young_account_are_scaled_to_a_full_window():
    young = _tables(_events(ROWS))
    young.accounts["created_at"] = pd.Series([Q - 15 * DAY]).astype("datetime64[us]")
    cut = pd.DataFrame({"account_id": [1], "cutoff_time": pd.Series([Q]).astype("datetime64[us]")})
    f = build_features(young, cut, PARAMS).iloc[0]
    assert f["events__count_tenure_scaled__30d"] == 4 * 30 / 15
    assert f["events__count_tenure_scaled__7d"] == 3                 # older than the window
    assert _features(ROWS)["events__count_tenure_scaled__30d"] == 4  # created long before


def test_no_events_give_nan_share_and_recency_and_flat_trend():
    f = _features(ROWS, cutoff=Q - 60 * DAY)
    assert np.isnan(f["events__login__share__30d"])
    assert np.isnan(f["events__login__days_since_last"])
    assert np.isnan(f["events__count_per_user__30d"])
    assert f["events__login__count__30d_vs_prev_30d"] == 1.0


def test_moving_an_event_after_the_cutoff_changes_nothing():
    before = _features(ROWS)
    moved = [(t + 100 * DAY, k, u) if t >= Q else (t, k, u) for t, k, u in ROWS]
    assert _features(moved) == before


def test_every_new_metric_has_a_catalogue_entry_family_and_phrase():
    tables = _tables(_events(ROWS))
    plan = plan_features(tables, PARAMS)
    names = feature_names(tables, PARAMS, event_types=plan.event_types)
    catalogue = build_catalogue(names)
    new = [n for n in names if "__share__" in n or "per_user" in n or "new_users" in n
           or (n.count("__") == 2 and n.endswith("days_since_last") and n != "events__days_since_last")
           or (n.count("__") == 3 and "_vs_prev_" in n)]
    assert len(new) == 2 * 3 + 2
    for name in new:
        info = catalogue[name]
        assert info.family == "usage"
        assert "'" in info.label or "user" in info.label
        assert "{value" in info.phrase
    assert catalogue["events__login__share__30d"].label == "Share of 'login' in all events, last 30 days"
