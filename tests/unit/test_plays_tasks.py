"""Plays turn alerts into tasks: tiny hand-written alerts, risk list and family points
whose tasks can be read in the test."""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.config.plays import Play, PlayWhen
from healthscore.errors import ConfigError, DataError
from healthscore.plays import ARM_TASK, make_tasks, task_id
from healthscore.data.schema import ALERT_COLUMNS, TASK_COLUMNS

AS_OF = pd.Timestamp("2024-06-01")


def alerts_frame(rows):
    """rows: (account, kinds, band, score, change)."""
    out = []
    for account, kinds, band, score, change in rows:
        out.append({"account_id": account, "kind": ", ".join(kinds),
                    "new_red": "new_red" in kinds, "band_drop": "band_drop" in kinds,
                    "score_drop": "score_drop" in kinds, "previous_band": "yellow", "band": band,
                    "previous_score": score - change, "health_score": score, "score_change": change,
                    "reason": f"reason of {account}"})
    frame = pd.DataFrame(out).loc[:, list(ALERT_COLUMNS)]
    for c in ("previous_score", "health_score", "score_change"):
        frame[c] = frame[c].astype("Int64")
    return frame


@pytest.fixture()
def day():
    alerts = alerts_frame([
        ("a1", ["new_red", "band_drop"], "red", 30, -25),  # red, renews in 30 days
        ("a2", ["new_red"], "red", 40, -12),               # red, renews in 200 days, billing -8
        ("a3", ["score_drop"], "yellow", 55, -11),         # support -6
        ("a4", ["score_drop"], "green", 72, -10),          # nothing specific
        ("a5", ["new_red"], "red", 20, -30),               # renews exactly at as_of + 90 days
    ])
    renewal = {"a1": AS_OF + pd.Timedelta(days=30), "a2": AS_OF + pd.Timedelta(days=200),
               "a3": pd.NaT, "a4": AS_OF + pd.Timedelta(days=10),
               "a5": AS_OF + pd.Timedelta(days=90)}
    risk = pd.DataFrame({
        "account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
        "name": ["One", "Two", "Three", "Four", "Five", "Six"],
        "owner": ["ann", "bob", "ann", "cy", "bob", "cy"],
        "segment": ["smb", "mid", "smb", "ent", "smb", "ent"],
    })
    risk["renewal_date"] = risk["account_id"].map(renewal).astype("datetime64[us]")
    risk["days_to_renewal"] = (risk["renewal_date"] - AS_OF).dt.days.astype("Float64")
    history = pd.DataFrame({"account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
                            "points_billing": [-1.0, -8.0, 0.0, -4.9, -9.0, -20.0],
                            "points_support": [-7.0, 0.0, -6.0, 0.0, 0.0, -20.0]})
    return alerts, risk, history


def test_default_plays_make_one_task_per_alerted_account_first_play_wins(day):
    alerts, risk, history = day
    plays = make_params({}).plays
    tasks = make_tasks(alerts, risk, history, plays, as_of=AS_OF)
    assert tuple(tasks.columns) == TASK_COLUMNS
    got = dict(zip(tasks["account_id"], tasks["play"]))
    # a1: new red renewing in 30 days (its support points would match later plays too)
    # a2: new red but renewal in 200 days -> billing; a3: support; a4: billing -4.9 < 5 -> check-up;
    # a5: renewal on day 90 counts (within 90 days, inclusive); a6 raised no alert: no task
    assert got == {"a1": "renewal_save", "a2": "billing_follow_up", "a3": "support_review",
                   "a4": "health_check", "a5": "renewal_save"}
    row = tasks.set_index("account_id").loc["a1"]
    assert row["owner"] == "ann" and row["owner_role"] == "csm" and row["arm"] == ARM_TASK
    assert row["due_date"] == AS_OF + pd.Timedelta(days=3)
    assert row["name"] == "One" and row["reason"] == "reason of a1"
    assert row["alert_kind"] == "new_red, band_drop" and row["health_score"] == 30
    assert tasks["due_date"].is_monotonic_increasing
    assert tasks["task_id"].is_unique
    assert row["task_id"] == task_id(AS_OF, "renewal_save", "a1")


def test_conditions_band_segment_and_no_play(day):
    alerts, risk, history = day
    only_smb_red = [Play("smb_red", "Call", "csm", 5, PlayWhen(bands=["red"], segments=["smb"]))]
    tasks = make_tasks(alerts, risk, history, only_smb_red, as_of=AS_OF)
    assert sorted(tasks["account_id"]) == ["a1", "a5"]
    assert make_tasks(alerts, risk, history, [], as_of=AS_OF).empty
    none = make_tasks(alerts.iloc[:0], risk, history, only_smb_red, as_of=AS_OF)
    assert none.empty and tuple(none.columns) == TASK_COLUMNS


def test_task_ids_are_stable_across_reruns_and_dates_differ(day):
    alerts, risk, history = day
    plays = make_params({}).plays
    one = make_tasks(alerts, risk, history, plays, as_of=AS_OF)
    two = make_tasks(alerts.sample(frac=1, random_state=0), risk, history, plays, as_of=AS_OF)
    pd.testing.assert_frame_equal(one, two)
    later = make_tasks(alerts, risk, history, plays, as_of=AS_OF + pd.Timedelta(days=1))
    assert set(later["task_id"]).isdisjoint(one["task_id"])


def test_missing_column_is_named(day):
    alerts, risk, history = day
    plays = [Play("bill", "Call", "csm", 5, PlayWhen(family="billing"))]
    with pytest.raises(DataError, match="history: column 'points_billing' is missing"):
        make_tasks(alerts, risk, history.drop(columns="points_billing"), plays, as_of=AS_OF)
    with pytest.raises(DataError, match="risk_list: column 'renewal_date'"):
        make_tasks(alerts, risk.drop(columns="renewal_date"), history, plays, as_of=AS_OF)


@pytest.mark.parametrize("plays, message", [
    ([{"name": "a", "action": "x"}, {"name": "a", "action": "y"}], "distinct names"),
    ([{"name": "a", "action": "x", "when": {"family": "bills"}}], r"plays\[0\].when.family"),
    ([{"name": "a", "action": "x", "when": {"alerts": []}}], "at least one alert kind"),
    ([{"name": "a", "action": "x", "due": 3}], r"unknown key plays\[0\].due"),
    ([{"name": "Has Space", "action": "x"}], r"plays\[0\].name"),
])
def test_bad_plays_are_config_errors_naming_the_key(plays, message):
    with pytest.raises(ConfigError, match=message):
        make_params({"plays": plays})


def test_enabled_webhook_needs_a_url():
    with pytest.raises(ConfigError, match="notify.webhook.url"):
        make_params({"notify": {"webhook": {"enabled": True}}})
    assert not make_params({}).notify.webhook.enabled and not make_params({}).notify.email.enabled
