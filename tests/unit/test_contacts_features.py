"""Per-user features rolled up to the account (``contacts__*``): the time rule on tiny
hand-written tables, the contacts table's validation, and a brute-force reference."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from healthscore.config import FeatureParams, make_params
from healthscore.data.known import as_known_at
from healthscore.data.validate import validate_tables
from healthscore.errors import SchemaError, ValidationError
from healthscore.features import build_catalogue, build_features, render_phrase

Q = pd.Timestamp("2024-03-01")
ON = make_params({"features": {"contacts": {"enabled": True, "window_days": 30, "left_days": 60,
                                            "power_user_share": 0.5}}}).features


def _frames(**extra) -> dict[str, pd.DataFrame]:
    day = pd.Timedelta(days=1)
    events = pd.DataFrame({
        "account_id": [1] * 9 + [2] * 3,
        "user_id": [11, 11, 11, 12, 12, 13, 11, 12, 11, 21, 21, 22],
        "timestamp": [Q - 40 * day, Q - 35 * day, Q - 5 * day, Q - 45 * day, Q - 50 * day,
                      Q - 10 * day, Q,  # exactly at the cutoff: never used
                      Q - 1 * day, Q - pd.Timedelta(microseconds=1),
                      Q - 100 * day, Q - 70 * day, Q - 20 * day],
        "event": ["login"] * 12,
    })
    surveys = pd.DataFrame({
        "account_id": [1, 1, 1], "user_id": [11, 11, 12],
        "responded_at": [Q - 20 * day, Q, Q - 2 * day],  # the one at Q is not used
        "score": [4.0, 10.0, 9.0],
    })
    contacts = pd.DataFrame({
        "account_id": [1, 1, 2, 2, 2],
        "user_id": [11, 19, 21, 23, 29],
        "role": ["Champion", "Executive Sponsor", "champion", "champion", "executive-sponsor"],
        "started_at": [Q - 400 * day, Q - 400 * day, Q - 500 * day, Q - 30 * day, pd.NaT],
        "left_at": [pd.NaT, Q, Q - 30 * day, pd.NaT, pd.NaT],  # 19 leaves on the cutoff day
    })
    frames = {
        "accounts": pd.DataFrame({"account_id": [1, 2], "seats": [10.0, 5.0]}),
        "subscriptions": pd.DataFrame({"account_id": [1, 2], "start_date": [Q - 500 * day] * 2,
                                       "end_date": [Q + 300 * day] * 2}),
        "events": events, "surveys": surveys, "contacts": contacts,
    }
    frames.update(extra)
    return frames


def _build(frames, params=ON, when=Q):
    tables, _ = validate_tables(frames, observed_until=Q + pd.Timedelta(days=30))
    cutoffs = pd.DataFrame({"account_id": [1, 2], "cutoff_time": [when, when]})
    return tables, build_features(tables, cutoffs, params).set_index("account_id")


def test_off_by_default_leaves_the_feature_set_as_it_was():
    tables, _ = validate_tables(_frames(), observed_until=Q + pd.Timedelta(days=30))
    cutoffs = pd.DataFrame({"account_id": [1], "cutoff_time": [Q]})
    plain = build_features(tables, cutoffs, FeatureParams())
    without = {k: v for k, v in tables.frames.items() if k != "contacts"}
    other = build_features(dataclasses.replace(tables, frames=without), cutoffs, FeatureParams())
    assert not [c for c in plain.columns if c.startswith("contacts__")]
    pd.testing.assert_frame_equal(plain, other)


def test_champion_features_use_only_rows_strictly_before_the_cutoff():
    _, f = _build(_frames())
    # account 1: champion 11, events at, Q-1us (the one at Q is not used)
    assert f.loc[1, "contacts__champion_events__30d"] == 2
    assert f.loc[1, "contacts__champion_days_since_active"] == pytest.approx(1 / 86_400_000_000)
    # latest survey before Q is 4 (the 10 on the cutoff day is not known yet)
    assert f.loc[1, "contacts__champion_survey_last"] == 4.0
    assert f.loc[1, "contacts__champion_tenure_days"] == 400
    # account 2: champion 21 left at Q-30; the heir 23 started at Q-30, no event of its own
    assert f.loc[2, "contacts__champion_events__30d"] == 0
    assert math.isnan(f.loc[2, "contacts__champion_days_since_active"])
    assert f.loc[2, "contacts__champion_tenure_days"] == 30
    assert math.isnan(f.loc[2, "contacts__champion_survey_last"])


def test_left_at_on_or_after_the_cutoff_is_not_counted():
    _, f = _build(_frames())
    assert f.loc[1, "contacts__left__60d"] == 0  # the sponsor leaves at Q: not yet
    assert f.loc[2, "contacts__left__60d"] == 1  # the champion left at Q - 30 days
    _, later = _build(_frames(), when=Q + pd.Timedelta(microseconds=1))
    assert later.loc[1, "contacts__left__60d"] == 1
    # the sponsor who left is no champion; the champion is unchanged
    assert later.loc[1, "contacts__champion_tenure_days"] == pytest.approx(400, abs=1e-6)


def test_power_users_still_active():
    _, f = _build(_frames())
    # account 1, previous window: 11 has 2 events, 12 has 2 (ties by id: 11
    # first); share 0.5 of 2 users = 1 power user (11), active in [Q-30, Q): 1 of 1
    assert f.loc[1, "contacts__power_users_active__30d"] == 1.0
    # account 2: no user in [Q-60, Q-30) -> NaN
    assert math.isnan(f.loc[2, "contacts__power_users_active__30d"])


def test_inferred_leaver_without_a_contacts_table():
    frames = _frames()
    del frames["contacts"]
    tables, f = _build(frames)
    assert "contacts__champion_events__30d" not in f.columns
    # account 2: the top user of is 21, silent in [Q-60, Q)
    assert f.loc[2, "contacts__left__60d"] == 1
    # account 1: the top user of has none: NaN
    assert math.isnan(f.loc[1, "contacts__left__60d"])


def test_rows_shuffled_or_after_the_cutoff_change_nothing():
    _, f = _build(_frames())
    frames = _frames()
    day = pd.Timedelta(days=1)
    frames["events"] = pd.concat([frames["events"], pd.DataFrame({
        "account_id": [1, 2], "user_id": [12, 23], "timestamp": [Q + day, Q], "event": ["x", "x"]})])
    frames["contacts"] = pd.concat([frames["contacts"], pd.DataFrame({
        "account_id": [1], "user_id": [18], "role": ["champion"], "started_at": [Q], "left_at": [pd.NaT]})])
    frames = {k: v.sample(frac=1.0, random_state=3).reset_index(drop=True) for k, v in frames.items()}
    _, g = _build(frames)
    columns = [c for c in f.columns if c.startswith("contacts__")]
    pd.testing.assert_frame_equal(f[columns].sort_index(), g[columns].sort_index())


def test_known_at_drops_contacts_not_started_and_blanks_a_later_leave():
    tables, _ = validate_tables(_frames(), observed_until=Q + pd.Timedelta(days=30))
    known = as_known_at(tables, Q - pd.Timedelta(days=30))
    contacts = known["contacts"].set_index("user_id")
    assert 23 not in contacts.index  # starts exactly at T: not known yet
    assert pd.isna(contacts.loc[19, "left_at"]) and pd.isna(contacts.loc[21, "left_at"])


def test_validation_reads_roles_and_names_bad_rows():
    tables, _ = validate_tables(_frames(), observed_until=Q + pd.Timedelta(days=30))
    assert set(tables["contacts"]["role"]) == {"champion", "executive_sponsor"}
    bad = _frames()
    bad["contacts"] = bad["contacts"].drop(columns="role")
    with pytest.raises(SchemaError, match="table contacts has no column 'role'"):
        validate_tables(bad)
    clash = _frames()
    clash["contacts"] = pd.concat([clash["contacts"], clash["contacts"].iloc[[0]].assign(role="admin")])
    with pytest.raises(ValidationError, match=r"contacts.*account_id, user_id"):
        validate_tables(clash)
    backwards = _frames()
    backwards["contacts"].loc[0, "left_at"] = Q - pd.Timedelta(days=500)
    tables, report = validate_tables(backwards, observed_until=Q + pd.Timedelta(days=30))
    assert 11 not in set(tables["contacts"]["user_id"])
    assert any(p.table == "contacts" and p.column == "left_at" for p in report.problems)


def _brute(tables, account, q, params):
    """The definitions, row by row, for one cutoff."""
    c = params.contacts
    w, n = pd.Timedelta(days=c.window_days), pd.Timedelta(days=c.left_days)
    ev = tables["events"].loc[lambda e: (e.account_id == account) & (e.timestamp < q)]
    count = lambda lo, hi: ev.loc[(ev.timestamp >= lo) & (ev.timestamp < hi)].groupby("user_id").size()
    prev, now = count(q - 2 * w, q - w), count(q - w, q)
    out = {}
    if len(prev):
        ranked = sorted(prev.items(), key=lambda kv: (-kv[1], kv[0]))
        k = math.ceil(c.power_user_share * len(ranked))
        out["power"] = sum(u in now.index for u, _ in ranked[:k]) / k
    else:
        out["power"] = np.nan
    ct = tables["contacts"].loc[lambda t: t.account_id == account]
    ct = ct.loc[ct.started_at.isna() | (ct.started_at < q)]
    out["left"] = float(((ct.left_at < q) & (ct.left_at >= q - n)).sum())
    live = ct.loc[(ct.role == "champion") & ~(ct.left_at < q)]
    if len(live):
        champ = live.assign(s=live.started_at.fillna(pd.Timestamp.min)).sort_values(["s", "user_id"]).iloc[-1]
        out["events"] = float(now.get(champ.user_id, 0))
    else:
        out["events"] = np.nan
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_a_row_by_row_reference_on_random_data(seed):
    rng = np.random.default_rng(seed)
    day = pd.Timedelta(days=1)
    n_events = 600
    events = pd.DataFrame({
        "account_id": rng.integers(1, 6, n_events), "user_id": rng.integers(1, 8, n_events),
        "timestamp": Q - pd.to_timedelta(rng.integers(0, 200 * 24, n_events), unit="h"), "event": "e"})
    contacts = pd.DataFrame({
        "account_id": np.repeat(np.arange(1, 6), 3), "user_id": np.tile([1, 2, 3], 5),
        "role": rng.choice(["champion", "admin"], 15),
        "started_at": Q - pd.to_timedelta(rng.integers(0, 300, 15), unit="D"),
        "left_at": Q - pd.to_timedelta(rng.integers(-50, 120, 15), unit="D")})
    contacts.loc[contacts.left_at < contacts.started_at, "left_at"] = pd.NaT
    frames = {"accounts": pd.DataFrame({"account_id": np.arange(1, 6)}),
              "subscriptions": pd.DataFrame({"account_id": np.arange(1, 6), "start_date": Q - 400 * day,
                                             "end_date": Q + 300 * day}),
              "events": events, "contacts": contacts}
    tables, _ = validate_tables(frames, observed_until=Q + 60 * day)
    times = [Q - 60 * day, Q - 7 * day, Q]
    cutoffs = pd.DataFrame({"account_id": np.repeat(np.arange(1, 6), 3), "cutoff_time": times * 5})
    built = build_features(tables, cutoffs, ON)
    for row in built.itertuples(index=False):
        want = _brute(tables, row.account_id, row.cutoff_time, ON)
        got = row._asdict()
        assert got["contacts__power_users_active__30d"] == pytest.approx(want["power"], nan_ok=True)
        assert got["contacts__left__60d"] == want["left"]
        assert got["contacts__champion_events__30d"] == pytest.approx(want["events"], nan_ok=True)


def test_catalogue_entries_and_phrases():
    _, f = _build(_frames())
    names = [c for c in f.columns if c.startswith("contacts__")]
    catalogue = build_catalogue(names)
    assert catalogue["contacts__champion_survey_last"].family == "sentiment"
    assert catalogue["contacts__left__60d"].family == "usage"
    assert catalogue["contacts__left__60d"].healthy_direction == -1
    row = f.loc[2].to_dict()
    assert render_phrase(catalogue["contacts__left__60d"], row) == \
        "Contacts who left the account in the last 60 days: 1"
    assert render_phrase(catalogue["contacts__power_users_active__30d"],
                         {"contacts__power_users_active__30d": 0.5}).endswith(": 50%")


def test_a_model_s_names_decide_which_contact_features_are_built():
    from healthscore.features.contacts import params_for_names

    off = FeatureParams()
    names = ["events__count__30d", "contacts__champion_events__14d", "contacts__left__45d"]
    wanted = params_for_names(off, names).contacts
    assert (wanted.enabled, wanted.window_days, wanted.left_days) == (True, 14, 45)
    assert params_for_names(off, ["events__count__30d"]) is off
    assert not params_for_names(ON, ["events__count__30d"]).contacts.enabled
    assert params_for_names(ON, [f"contacts__left__{ON.contacts.left_days}d",
                                 "contacts__power_users_active__30d"]) is ON
