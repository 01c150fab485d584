"""Alerts worth reading: a behavioural reason required, repeated causes folded."""

from __future__ import annotations

import pandas as pd

from healthscore.config import AlertParams
from healthscore.scoring.alerts import make_alerts
from healthscore.scoring.changes import change_reasons, reason_labels

PROFILE = ["subscriptions__days_to_renewal", "accounts__"]


def _rows(scores: dict[int, tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame({"account_id": list(scores),
                         "health_score": [s for s, _ in scores.values()],
                         "band": [b for _, b in scores.values()]})


BEFORE = _rows({1: (75, "green"), 2: (60, "yellow"), 3: (50, "yellow"), 4: (70, "green")})
NOW = _rows({1: (60, "yellow"),   # band and score drop; usage fell
             2: (45, "red"),      # new red, but only the renewal calendar moved
             3: (35, "red"),      # new red; only "other changes" and a 1-point usage line
             4: (55, "yellow")})  # drop; support got worse


def _changes() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": [1, 1, 2, 2, 3, 3, 4],
        "feature": ["events__active_users__30d", "accounts__segment", "subscriptions__days_to_renewal",
                    "model changed", "other changes", "events__count__30d", "tickets__open__now"],
        "label": ["Active users", "Segment", "Days to renewal", "model changed", "other changes",
                  "Events", "Open tickets"],
        "value_before": ["12", "SMB", "200", None, None, "40", "0"],
        "value_after": ["4", "Mid", "20", None, None, "38", "4"],
        "points_change": [-9.0, -6.0, -12.0, -3.0, -10.0, -1.0, -14.0],
    })


def test_reasons_leave_out_profile_remainder_model_and_small_lines():
    reasons = change_reasons(_changes(), top=3, profile=PROFILE, min_points=2.0)
    assert reasons.to_dict() == {1: "Active users: 12 -> 4 (-9 pts)",
                                 4: "Open tickets: 0 -> 4 (-14 pts)"}
    assert reason_labels("Active users: 12 -> 4 (-9 pts); NPS: 9 -> 3 (-2 pts)") == ["Active users", "NPS"]
    assert reason_labels(None) == [] and reason_labels(pd.NA) == []


def test_an_alert_without_a_behavioural_reason_is_not_raised():
    reasons = change_reasons(_changes(), top=3, profile=PROFILE, min_points=2.0)
    alerts = make_alerts(NOW, BEFORE, reasons, AlertParams())
    assert dict(zip(alerts["account_id"], alerts["kind"])) == {
        1: "band_drop, score_drop", 4: "band_drop, score_drop"}
    assert alerts["reason"].notna().all()
    loud = make_alerts(NOW, BEFORE, reasons, AlertParams(require_reason=False))
    assert set(loud["account_id"]) == {1, 2, 3, 4}


def test_a_drop_told_by_last_runs_alert_is_folded_but_a_new_red_is_not():
    reasons = change_reasons(_changes(), top=3, profile=PROFILE, min_points=2.0)
    last = pd.DataFrame({"account_id": [1, 4],
                         "reason": ["Active users: 20 -> 12 (-6 pts)", "Logins: 9 -> 2 (-5 pts)"]})
    alerts = make_alerts(NOW, BEFORE, reasons, AlertParams(), previous_alerts=last)
    assert list(alerts["account_id"]) == [4]  # 1: same leading cause as last run
    unfolded = make_alerts(NOW, BEFORE, reasons, AlertParams(fold=False), previous_alerts=last)
    assert set(unfolded["account_id"]) == {1, 4}
    # a new red whose cause was already told is still raised, as a new red only
    red_now = _rows({1: (35, "red"), 2: (45, "red"), 3: (35, "red"), 4: (55, "yellow")})
    red = make_alerts(red_now, BEFORE, reasons, AlertParams(), previous_alerts=last)
    assert dict(zip(red["account_id"], red["kind"]))[1] == "new_red"


def test_a_wobble_across_a_band_line_is_no_band_drop():
    before, now = _rows({1: (66, "green"), 2: (70, "green")}), _rows({1: (63, "yellow"), 2: (64, "yellow")})
    reasons = pd.Series({1: "Active users: 12 -> 4 (-9 pts)", 2: "Active users: 12 -> 4 (-9 pts)"})
    alerts = make_alerts(now, before, reasons, AlertParams(band_drop_points=5))
    assert dict(zip(alerts["account_id"], alerts["kind"])) == {2: "band_drop"}
    assert len(make_alerts(now, before, reasons, AlertParams(band_drop_points=0))) == 2
