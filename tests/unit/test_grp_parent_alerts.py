"""Parent alerts on tiny hand-written frames: the accounts' rules on the parent's
ARR-weighted health, its reasons the accounts that fell, folding and the reason rule;
the parents as call-list rows and their accounts named."""

from __future__ import annotations

import pandas as pd

from healthscore.config import AlertParams
from healthscore.data.schema import PARENT_ID
from healthscore.scoring.history import trend_line
from healthscore.scoring.parent_alerts import (
    PARENT_ALERT_COLUMNS, children_text, make_parent_alerts, parent_accounts, parent_reasons,
)
from healthscore.scoring.risk_words import driver_lines, family_lines


def _risk() -> pd.DataFrame:
    # parent 10 is a group id (no account); account 3 is parent 20's own account
    return pd.DataFrame({
        "account_id": [1, 2, 3, 4, 5],
        "name": ["Acme EU", "Acme US", "Beta HQ", "Beta Labs", "Solo"],
        "owner": ["ann", "ann", "bob", "bob", "ann"],
        "segment": ["smb"] * 5,
        "arr": [300.0, 100.0, 50.0, 50.0, 10.0],
        "arr_at_risk": [150.0, 10.0, 25.0, 5.0, 1.0],
        "health_score": [25, 70, 40, 80, 50],
        "band": ["red", "green", "red", "green", "yellow"],
        "days_to_renewal": [200.0, 30.0, 400.0, 60.0, 10.0],
        "renewal_date": pd.to_datetime(["2025-01-01", "2024-07-01", "2025-08-01", "2024-08-01", "2024-06-11"]),
        "score_change": pd.array([-12, -3, -20, 0, -30], dtype="Int64"),
        PARENT_ID: pd.array([10, 10, pd.NA, 3, pd.NA], dtype="Int64"),
    })


def _parents(scores, bands) -> pd.DataFrame:
    return pd.DataFrame({PARENT_ID: pd.array([3, 10], dtype="Int64"), "name": ["Beta HQ", pd.NA],
                         "owner": ["bob", "ann"], "segment": ["smb", "smb"], "arr": [100.0, 400.0],
                         "arr_at_risk": [30.0, 160.0], "health_score": scores, "band": bands,
                         "top_drivers": ["Tickets (-4 pts: Beta HQ)", "Active users (-9 pts: Acme EU)"],
                         "points_usage": [-1.0, -9.0]})


ACCOUNT_ALERTS = pd.DataFrame({"account_id": [1], "kind": ["new_red"],
                               "reason": ["Active users: 9 -> 2 (-9 pts); Logins: 30 -> 3 (-8 pts)"]})


def test_reasons_name_the_accounts_that_fell_weighted_by_arr():
    reasons = parent_reasons(_risk(), ACCOUNT_ALERTS, top=3, min_points=7.0)
    # parent 10: Acme EU fell 12 (75% of ARR) with its alert's leading reason; Acme US fell 3 < 7
    assert reasons[10] == "Acme EU: -12 pts, 75% of ARR (Active users: 9 -> 2 (-9 pts))"
    # parent 3 (its own account and Beta Labs): Beta HQ fell 20 points, half the ARR
    assert reasons[3] == "Beta HQ: -20 pts, 50% of ARR"
    assert 5 not in reasons.index  # Solo has no parent
    both = parent_reasons(_risk(), None, top=1, min_points=1.0)
    assert both[10] == "Acme EU: -12 pts, 75% of ARR"  # the largest weighted fall, without alerts


def test_a_parent_that_turns_red_is_alerted_with_the_accounts_behind_it():
    params = AlertParams()
    previous = _parents([45, 60], ["yellow", "yellow"])
    now = _parents([44, 30], ["yellow", "red"])
    alerts = make_parent_alerts(now, previous, _risk(), ACCOUNT_ALERTS, params)
    assert list(alerts.columns) == list(PARENT_ALERT_COLUMNS)
    assert alerts[PARENT_ID].tolist() == [10]  # parent 3 moved one point: no rule fires
    row = alerts.iloc[0]
    assert row["kind"] == "new_red, band_drop, score_drop" and row["score_change"] == -30
    assert row["reason"].startswith("Acme EU: -12 pts, 75% of ARR")
    assert alerts[PARENT_ID].dtype == now[PARENT_ID].dtype


def test_first_date_reason_rule_and_folding():
    params = AlertParams()
    now = _parents([44, 30], ["yellow", "red"])
    assert make_parent_alerts(now, None, _risk(), ACCOUNT_ALERTS, params).empty  # nothing to compare
    quiet = _risk().assign(score_change=pd.array([-2, -1, -1, 0, -30], dtype="Int64"))
    previous = _parents([45, 60], ["yellow", "yellow"])
    assert make_parent_alerts(now, previous, quiet, None, params).empty  # no account fell: no reason
    told = make_parent_alerts(now, previous, _risk(), ACCOUNT_ALERTS, params)
    # the next date: parent 10 falls again, told by the same account: folded, not raised again
    later = _parents([44, 18], ["yellow", "red"])
    again = make_parent_alerts(later, now, _risk(), ACCOUNT_ALERTS, params, previous_alerts=told)
    assert again.empty
    fresh = make_parent_alerts(later, now, _risk(), ACCOUNT_ALERTS, params)
    assert fresh[PARENT_ID].tolist() == [10] and fresh.iloc[0]["kind"] == "score_drop"


def test_parents_as_risk_list_rows_and_their_accounts_named():
    rows = parent_accounts(_parents([44, 30], ["yellow", "red"]), _risk()).set_index("account_id")
    assert rows.loc[3, "name"] == "Beta HQ (parent)" and rows.loc[10, "name"] == "Parent 10"
    assert rows.loc[10, "days_to_renewal"] == 30.0  # its accounts' soonest renewal
    assert rows.loc[3, "days_to_renewal"] == 60.0 and rows.loc[10, "points_usage"] == -9.0
    named = children_text(_risk(), named=1)
    assert named[10] == "Acme EU (red, 25) and 1 more"
    assert children_text(_risk())[3] == "Beta HQ (red, 40), Beta Labs (green, 80)"


def test_the_shared_driver_and_family_blocks():
    lines = driver_lines((("What lowers the score", [{"points": -12.4, "t": "Active users"}]),
                          ("What raises the score", [])), lambda d: d["t"])
    assert lines == ["", "What lowers the score:", "    -12 pts  Active users", "",
                     "What raises the score:", "  (nothing)"]
    assert family_lines({"usage": -3.0, "billing": -7.5, "support": -0.01}) == [
        "  billing        -8 pts", "  usage          -3 pts"]
    assert family_lines([("usage", 0.0)]) == ["  (no behavioural signal costs points)"]
    trend = pd.DataFrame({"as_of": pd.to_datetime(["2024-05-01", "2024-06-01"]), "health_score": [71, 64]})
    assert trend_line(trend) == "Trend: 2024-05-01 71 -> 2024-06-01 64"
    assert trend_line(trend.iloc[:1]) is None
