"""Hand-written cases of the feature builder: the time rule at its boundaries, and the
behaviour around missing tables, columns and accounts. Each answer can be read here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from healthscore.config import FeatureParams
from healthscore.errors import ConfigError, DataError, SchemaError
from healthscore.features import build_features, feature_names, plan_features
from healthscore.data.tables import Tables

Q = pd.Timestamp("2024-03-01")  # the cutoff of most rows below
US = pd.Timedelta(microseconds=1)
SEC = pd.Timedelta(seconds=1)
DAY = pd.Timedelta(days=1)
PARAMS = FeatureParams(windows=[7, 30], trend_windows=[30], top_event_types=2, top_signal_types=1)


def ts(*values) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), format="ISO8601")).astype("datetime64[us]")


def make_tables(**frames) -> Tables:
    base = {
        "accounts": pd.DataFrame({"account_id": [1, 2], "segment": pd.Series(["SMB", "Ent"], dtype="str"),
                                  "seats": [4.0, 0.0], "created_at": ts("2023-01-01", "2023-01-01")}),
        "subscriptions": pd.DataFrame({"account_id": [1], "subscription_id": ["1-1"],
                                       "start_date": ts("2023-01-01"), "end_date": ts("2025-01-01"),
                                       "mrr": [100.0]}),
    }
    base.update(frames)
    return Tables(base, pd.Timestamp("2025-01-01"))


def cutoffs(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows or [(1, Q)], columns=["account_id", "cutoff_time"])
    frame["cutoff_time"] = frame["cutoff_time"].astype("datetime64[us]")
    return frame


def events(*times, users=None, kinds=None, account=1) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame({"account_id": [account] * n, "user_id": users or [7] * n,
                         "timestamp": ts(*times), "event": pd.Series(kinds or ["login"] * n, dtype="str")})


def one(tables, name, *, rows=None, params=PARAMS):
    return build_features(tables, cutoffs(*(rows or [(1, Q)])), params)[name].tolist()


# ------------------------------------------------------------------- time rule


def test_an_event_exactly_at_the_cutoff_is_excluded_one_before_included():
    tables = make_tables(events=events(Q, Q - US, Q - SEC))
    assert one(tables, "events__count__7d") == [2]
    assert one(tables, "events__days_since_last") == [pytest.approx(US / DAY)]


def test_window_edges_are_closed_at_the_start_open_at_the_cutoff():
    tables = make_tables(events=events(Q - 7 * DAY, Q - 7 * DAY - US, Q - DAY))
    assert one(tables, "events__count__7d") == [2]  # [q - 7 days, q)
    assert one(tables, "events__count__30d") == [3]


def test_trend_compares_with_the_previous_window_with_plus_one_smoothing():
    # 3 events in [q-30d, q), 1 in [q-60d, q-30d), 1 exactly at q-60d - 1us (outside both)
    tables = make_tables(events=events(Q - DAY, Q - 2 * DAY, Q - 30 * DAY, Q - 31 * DAY,
                                       Q - 60 * DAY - US))
    assert one(tables, "events__count__30d_vs_prev_30d") == [(3 + 1) / (1 + 1)]


def test_distinct_users_days_and_types_in_the_window():
    tables = make_tables(events=events(
        "2024-02-29 23:00", "2024-02-29 01:00", "2024-02-28 12:00", "2024-02-20", "2024-01-05",
        users=[1, 1, 2, 1, 3], kinds=["a", "b", "a", "a", "c"]))
    assert one(tables, "events__active_users__7d") == [2]
    assert one(tables, "events__active_days__7d") == [2]  # calendar days 28th and 29th
    assert one(tables, "events__event_types__7d") == [2]
    assert one(tables, "events__active_users__30d") == [2]
    assert one(tables, "events__a__count__30d") == [3]
    assert one(tables, "events__seat_utilisation__7d") == [0.5]  # 2 of 4 seats


def test_seat_utilisation_is_nan_without_seats():
    tables = make_tables(events=events("2024-02-29", account=2))
    assert np.isnan(one(tables, "events__seat_utilisation__7d", rows=[(2, Q)])[0])


def test_a_ticket_closed_at_or_after_the_cutoff_is_open_and_its_csat_unknown():
    tickets = pd.DataFrame({
        "account_id": [1, 1, 1], "ticket_id": [1, 2, 3],
        "opened_at": ts("2024-02-01", "2024-02-02", "2024-02-03"),
        "closed_at": ts("2024-02-05", Q, "2024-03-09"),
        "priority": pd.Series(["High", "low", "urgent"], dtype="str"), "csat": [4.0, 1.0, 1.0],
    })
    tables = make_tables(tickets=tickets)
    assert one(tables, "tickets__open__now") == [2]
    assert one(tables, "tickets__csat_mean__30d") == [4.0]
    assert one(tables, "tickets__days_to_close_mean__30d") == [4.0]
    assert one(tables, "tickets__high_priority_share__30d") == [pytest.approx(2 / 3)]


def test_an_invoice_paid_at_or_after_the_cutoff_is_unpaid_and_overdue():
    invoices = pd.DataFrame({
        "account_id": [1, 1, 1], "invoice_id": [1, 2, 3],
        "issued_at": ts("2024-01-01", "2024-01-15", "2024-02-20"),
        "due_at": ts("2024-01-31", "2024-02-14", "2024-03-20"),
        "paid_at": ts("2024-01-30", Q, "2024-03-02"),  # on time; paid at q; after q
        "amount": [10.0, 20.0, 40.0],
    })
    tables = make_tables(invoices=invoices)
    assert one(tables, "invoices__overdue__now") == [1]
    assert one(tables, "invoices__days_overdue__now") == [16.0]  # due 14 Feb, q 1 Mar
    assert one(tables, "invoices__unpaid_amount__now") == [60.0]  # invoice 2 and 3
    assert one(tables, "invoices__late__30d") == [1]  # due in window and not paid by due
    assert one(tables, "invoices__late_share__30d") == [0.5]  # due 31 Jan (= q - 30d) and 14 Feb


def test_late_invoices_and_payments_are_dated_as_known_at_the_cutoff():
    invoices = pd.DataFrame({
        "account_id": [1, 1, 1, 1], "invoice_id": [1, 2, 3, 4],
        "issued_at": ts("2023-12-01", "2024-01-01", "2024-01-15", "2024-02-20"),
        "due_at": ts("2023-12-31", "2024-01-31", "2024-02-14", Q),
        # late (paid after due); on time; unpaid at q (paid at q); due at q, never paid
        "paid_at": ts("2024-01-05", "2024-01-30", Q, pd.NaT),
        "amount": [10.0, 10.0, 20.0, 40.0],
    })
    tables = make_tables(invoices=invoices)
    assert one(tables, "invoices__days_since_last_late") == [16.0]  # due 14 Feb, unpaid at q
    assert one(tables, "invoices__days_since_last_payment") == [(Q - pd.Timestamp("2024-01-30")) / DAY]
    early = [(1, pd.Timestamp("2024-02-14"))]  # invoice 3 is due exactly at this cutoff
    assert one(tables, "invoices__days_since_last_late", rows=early) == [45.0]  # due 31 Dec
    assert np.isnan(one(tables, "invoices__days_since_last_payment",
                        rows=[(1, pd.Timestamp("2024-01-05"))])[0])


def test_high_priority_tickets_counts_trend_and_recency():
    tickets = pd.DataFrame({
        "account_id": [1, 1, 1, 1], "ticket_id": [1, 2, 3, 4],
        "opened_at": ts("2024-01-10", "2024-02-10", "2024-02-20", Q),
        "closed_at": ts("2024-01-11", "2024-02-11", pd.NaT, pd.NaT),
        "priority": pd.Series(["urgent", "HIGH", "low", "urgent"], dtype="str"), "csat": [np.nan] * 4,
    })
    tables = make_tables(tickets=tickets)
    assert one(tables, "tickets__high_priority__30d") == [1]  # the one at q is not known
    assert one(tables, "tickets__opened__30d_vs_prev_30d") == [(2 + 1) / (1 + 1)]
    assert one(tables, "tickets__days_since_last_high_priority") == [
        (Q - pd.Timestamp("2024-02-10")) / DAY]


def test_days_since_the_last_detractor_and_the_last_signal_of_each_type():
    surveys = pd.DataFrame({"account_id": [1, 1, 1], "responded_at": ts("2024-01-01", "2024-02-01", Q),
                            "score": [6.0, 9.0, 0.0]})
    signals = pd.DataFrame({"account_id": [1, 1, 1, 2], "timestamp": ts("2024-01-01", "2024-02-20", Q, "2024-02-28"),
                            "signal": pd.Series(["down grade"] * 4, dtype="str"), "value": [1.0] * 4})
    tables = make_tables(surveys=surveys, signals=signals)
    assert one(tables, "surveys__days_since_last_detractor") == [(Q - pd.Timestamp("2024-01-01")) / DAY]
    assert one(tables, "signals__down_grade__days_since_last") == [(Q - pd.Timestamp("2024-02-20")) / DAY]
    early = [(1, pd.Timestamp("2024-01-01"))]  # nothing strictly before
    assert np.isnan(one(tables, "signals__down_grade__days_since_last", rows=early)[0])


def test_lapsed_users_were_active_in_the_window_before_and_not_since():
    # user 1: active in both windows; user 2: only in [q-60d, q-30d); user 3: only before
    # q - 60d; user 4: only in the last 30 days
    tables = make_tables(events=events(
        "2024-02-20", "2024-01-20", "2024-01-25", "2023-12-15", "2024-02-27",
        users=[1, 1, 2, 3, 4]))
    assert one(tables, "events__lapsed_users__30d") == [1]
    assert one(tables, "events__active_users__30d_vs_prev_30d") == [(2 + 1) / (2 + 1)]


def test_a_survey_at_the_cutoff_is_excluded():
    surveys = pd.DataFrame({"account_id": [1, 1, 1], "responded_at": ts("2024-02-01", "2024-02-20", Q),
                            "score": [9.0, 5.0, 10.0]})
    tables = make_tables(surveys=surveys)
    assert one(tables, "surveys__nps_last") == [5.0]
    assert one(tables, "surveys__nps_change") == [-4.0]
    assert one(tables, "surveys__nps_detractor") == [1.0]
    assert one(tables, "surveys__responses__30d") == [2]


def test_an_email_opened_at_the_cutoff_is_not_opened_yet():
    emails = pd.DataFrame({"account_id": [1, 1], "sent_at": ts("2024-02-20", "2024-02-21"),
                           "opened_at": ts("2024-02-22", Q)})
    assert one(make_tables(emails=emails), "emails__open_rate__30d") == [0.5]


def test_an_email_sent_before_the_window_and_opened_inside_does_not_count():
    emails = pd.DataFrame({"account_id": [1, 1], "sent_at": ts("2024-01-01", "2024-02-25"),
                           "opened_at": ts("2024-02-26", pd.NaT)})
    assert one(make_tables(emails=emails), "emails__open_rate__30d") == [0.0]


def test_a_subscription_starting_at_the_cutoff_is_not_known():
    subs = pd.DataFrame({"account_id": [1, 1], "subscription_id": ["a", "b"],
                         "start_date": ts("2023-03-01", Q), "end_date": ts(Q, "2025-03-01"),
                         "mrr": [100.0, 500.0]})
    tables = make_tables(subscriptions=subs)
    assert one(tables, "subscriptions__mrr__now") == [100.0]  # start < q <= end
    assert one(tables, "subscriptions__days_to_renewal") == [0.0]
    assert one(tables, "subscriptions__renewals") == [0]


def test_rows_long_before_every_window_still_give_the_last_and_first():
    """Times older than the longest window share one sort key; order must not."""
    surveys = pd.DataFrame({"account_id": [1, 1], "responded_at": ts("2023-01-10", "2023-02-10"),
                            "score": [9.0, 4.0]})
    tables = make_tables(surveys=surveys, events=events("2023-02-01", "2023-01-01"))
    assert one(tables, "surveys__nps_last") == [4.0]
    assert one(tables, "events__days_since_last") == [(Q - pd.Timestamp("2023-02-01")) / DAY]


def test_an_account_created_at_the_cutoff_gets_nan_one_created_before_does_not():
    tables = make_tables(events=events("2024-02-29"))
    accounts = tables.accounts.assign(created_at=ts(Q, Q - US))
    tables = Tables({**tables.frames, "accounts": accounts}, tables.observed_until)
    got = build_features(tables, cutoffs((1, Q), (2, Q)), PARAMS)
    assert np.isnan(got.loc[0, "events__count__7d"]) and pd.isna(got.loc[0, "accounts__segment"])
    assert got.loc[1, "events__count__7d"] == 0 and got.loc[1, "accounts__segment"] == "Ent"


# ----------------------------------------------------------- shape and behaviour


def test_rows_keep_the_input_order_and_unknown_accounts_get_nan():
    tables = make_tables(events=events("2024-02-29"))
    frame = cutoffs((2, Q), (9, Q), (1, Q), (1, Q - 3 * DAY)).assign(label=[1, 0, 1, 0])
    got = build_features(tables, frame, PARAMS)
    assert got["account_id"].tolist() == [2, 9, 1, 1]
    assert got["events__count__7d"].tolist()[2:] == [1, 0]
    assert got.loc[1, got.columns[2:]].isna().all()
    assert "label" not in got.columns
    assert all("__" in c for c in got.columns[2:])
    assert got["cutoff_time"].dtype == "datetime64[us]"


def test_absent_tables_and_columns_remove_their_features():
    tables = make_tables(events=events("2024-02-29").drop(columns=["user_id"]))
    names = feature_names(tables, PARAMS)
    assert "events__count__7d" in names
    assert not any("active_users" in n or "seat_utilisation" in n for n in names)
    assert not any(n.startswith(("tickets__", "invoices__", "emails__")) for n in names)
    no_seats = Tables({**tables.frames, "accounts": tables.accounts.drop(columns=["seats"])},
                      tables.observed_until)
    assert "accounts__seats" not in feature_names(no_seats, PARAMS)


def test_categoricals_and_account_attributes():
    accounts = make_tables().accounts.assign(score=[1.5, 2.5], tier=pd.Series(["b", "a"], dtype="str"))
    tables = Tables({**make_tables().frames, "accounts": accounts}, pd.Timestamp("2025-01-01"))
    params = dataclasses.replace(PARAMS, account_attributes=["score", "tier"])
    got = build_features(tables, cutoffs((1, Q), (2, Q)), params)
    assert got["accounts__score"].tolist() == [1.5, 2.5]
    assert isinstance(got["accounts__tier"].dtype, pd.CategoricalDtype)
    assert list(got["accounts__tier"].cat.categories) == ["a", "b"]
    assert got["accounts__segment"].tolist() == ["SMB", "Ent"]


def test_progress_is_reported_per_partition():
    tables = make_tables(events=events("2024-02-29"))
    calls = []
    build_features(tables, cutoffs((1, Q), (2, Q)), dataclasses.replace(PARAMS, partition_accounts=1),
                   progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]


def test_plan_round_trips_and_a_mismatched_plan_is_refused():
    tables = make_tables(events=events("2024-02-29"))
    plan = plan_features(tables, PARAMS)
    assert type(plan).from_dict(plan.to_dict()) == plan
    other = make_tables()
    with pytest.raises(DataError, match="plan does not match"):
        build_features(other, cutoffs(), PARAMS, plan=plan)


def test_top_types_are_the_most_frequent_ties_by_name():
    tables = make_tables(events=events(*["2024-02-01"] * 5, kinds=["b", "c", "c", "a", "b"]))
    assert plan_features(tables, PARAMS).event_types == ("b", "c")


@pytest.mark.parametrize("change, match", [
    ({"windows": []}, "features.windows"), ({"windows": [0, 7]}, "features.windows"),
    ({"trend_windows": [30, 30]}, "features.trend_windows"),
    ({"partition_accounts": 0}, "features.partition_accounts"),
    ({"signal_families": {"referral": "vibes"}}, "features.signal_families.referral"),
])
def test_bad_params_are_refused_naming_the_key(change, match):
    with pytest.raises(ConfigError, match=match):
        build_features(make_tables(), cutoffs(), dataclasses.replace(PARAMS, **change))


def test_bad_cutoffs_are_refused():
    with pytest.raises(SchemaError, match="cutoff_time"):
        build_features(make_tables(), pd.DataFrame({"account_id": [1]}), PARAMS)
    with pytest.raises(DataError, match="expected timestamps"):
        build_features(make_tables(), pd.DataFrame({"account_id": [1], "cutoff_time": ["x"]}), PARAMS)
    with pytest.raises(DataError, match="does not match accounts.account_id"):
        build_features(make_tables(), cutoffs().assign(account_id=["1"]), PARAMS)
    with pytest.raises(SchemaError, match="account_attributes"):
        build_features(make_tables(), cutoffs(), dataclasses.replace(PARAMS, account_attributes=["nope"]))
    with pytest.raises(DataError, match="span"):
        far = pd.Series(np.array([Q.value // 1000, 2**62 + 2**61], dtype="int64").view("datetime64[us]"))
        build_features(make_tables(), pd.DataFrame({"account_id": [1, 1], "cutoff_time": far}), PARAMS)


def test_text_ids_and_missing_users_or_types():
    accounts = pd.DataFrame({"account_id": pd.Series(["a", "b"], dtype="str"),
                             "created_at": ts("2023-01-01", "2023-01-01")})
    subs = pd.DataFrame({"account_id": pd.Series(["a"], dtype="str"), "start_date": ts("2023-01-01"),
                         "end_date": ts("2025-01-01")})
    ev = pd.DataFrame({"account_id": pd.Series(["a"] * 4, dtype="str"),
                       "user_id": pd.Series(["u1", None, "u2", "u1"], dtype="str"),
                       "timestamp": ts("2024-02-27", "2024-02-28", "2024-02-28", "2024-02-29"),
                       "event": pd.Series(["x", "y", None, "x"], dtype="str")})
    tables = Tables({"accounts": accounts, "subscriptions": subs, "events": ev}, pd.Timestamp("2025-01-01"))
    frame = pd.DataFrame({"account_id": pd.Series(["a", "b"], dtype="str"),
                          "cutoff_time": pd.to_datetime([Q, Q]).tz_localize("UTC").tz_convert("Europe/Paris")})
    got = build_features(tables, frame, PARAMS)
    assert got["account_id"].tolist() == ["a", "b"]
    assert got["cutoff_time"].tolist() == [Q, Q]  # converted to naive UTC
    assert got["events__count__7d"].tolist() == [4, 0]
    assert got["events__active_users__7d"].tolist() == [2, 0]  # the missing user is no user
    assert got["events__event_types__7d"].tolist() == [2, 0]  # nor is the missing type


def test_clock_keys_fit_int64_at_capacity():
    from healthscore.features._windows import Clock
    span = ts("1700-01-01", "2260-01-01").to_numpy().view(np.int64)
    clock = Clock.for_queries(span, max_back_us=365 * 86_400_000_000)
    top = np.array([clock.capacity() - 1])
    assert 100 < clock.capacity() < 1000  # partitions shrink to fit 560 years of cutoffs
    assert int(clock.key(top, np.array([span[1] + 10**18]))[0]) > 0  # no wrap-around
    assert clock.key(np.array([0, 0]), np.array([clock.lo - 5, np.iinfo(np.int64).min])).tolist() == \
        [0, clock.hi - clock.lo]  # before lo clips to lo; NaT means "not yet": hi


def test_no_cutoff_rows_give_an_empty_frame_with_every_column():
    tables = make_tables(events=events("2024-02-29"))
    got = build_features(tables, cutoffs().iloc[:0], PARAMS)
    assert len(got) == 0 and list(got.columns[2:]) == feature_names(tables, PARAMS, event_types=("login",))


def test_duplicate_accounts_are_refused():
    tables = make_tables()
    twice = Tables({**tables.frames, "accounts": pd.concat([tables.accounts] * 2)}, tables.observed_until)
    with pytest.raises(DataError, match="more than once"):
        build_features(twice, cutoffs(), PARAMS)
