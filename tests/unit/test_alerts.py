"""Alert rules on hand-built histories, and the reasons they carry."""

from __future__ import annotations

import pandas as pd

from healthscore.config import AlertParams
from healthscore.scoring.alerts import make_alerts
from healthscore.scoring.changes import change_reasons


def _rows(scores: dict[int, tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": list(scores),
        "health_score": [s for s, _ in scores.values()],
        "band": [b for _, b in scores.values()],
    })


BEFORE = _rows({1: (75, "green"), 2: (60, "yellow"), 3: (45, "red"), 4: (80, "green"),
                5: (55, "yellow"), 6: (72, "green")})
NOW = _rows({1: (66, "yellow"),   # band drop green -> yellow (9 points: no drop alert)
             2: (48, "red"),      # new red, band drop, drop of 12
             3: (30, "red"),      # still red, drop of 15: score drop only
             4: (81, "green"),    # better: nothing
             5: (55, "yellow"),   # same: nothing
             6: (71, "green"),    # 1 point down, same band: nothing
             7: (20, "red")})     # first scored, red: new red


def _by_account(alerts: pd.DataFrame) -> dict[int, str]:
    return dict(zip(alerts["account_id"], alerts["kind"]))


def test_rules_fire_on_the_right_accounts():
    alerts = make_alerts(NOW, BEFORE, pd.Series(dtype="string"), AlertParams(drop_points=10, require_reason=False))
    assert _by_account(alerts) == {
        1: "band_drop",
        2: "new_red, band_drop, score_drop",
        3: "score_drop",
        7: "new_red",
    }
    row = alerts.set_index("account_id").loc[2]
    assert (row["previous_band"], row["band"]) == ("yellow", "red")
    assert (row["previous_score"], row["health_score"], row["score_change"]) == (60, 48, -12)
    # worst drop first
    assert list(alerts["account_id"])[:2] == [3, 2]


def test_drop_threshold_is_inclusive_and_rules_can_be_turned_off():
    alerts = make_alerts(NOW, BEFORE, pd.Series(dtype="string"), AlertParams(drop_points=9, require_reason=False))
    assert "score_drop" in _by_account(alerts)[1]  # exactly 9 points down
    quiet = make_alerts(NOW, BEFORE, pd.Series(dtype="string"),
                        AlertParams(new_red=False, band_drop=False, drop_points=0))
    assert quiet.empty
    only_red = make_alerts(NOW, BEFORE, pd.Series(dtype="string"),
                           AlertParams(new_red=True, band_drop=False, drop_points=0,
                                       require_reason=False))
    assert _by_account(only_red) == {2: "new_red", 7: "new_red"}


def test_no_alert_on_the_first_date_ever_scored():
    alerts = make_alerts(NOW, None, pd.Series(dtype="string"), AlertParams())
    assert alerts.empty
    assert "reason" in alerts.columns


def test_reasons_are_the_changes_that_lowered_the_score_most():
    changes = pd.DataFrame({
        "account_id": [2, 2, 2, 2, 3],
        "feature": ["events__active_users__30d", "tickets__open__now", "invoices__x", "other changes",
                    "surveys__nps_last"],
        "label": ["Active users (30 days)", "Open tickets", "Overdue", "other changes", "NPS"],
        "value_before": ["12", "0", "0", None, "9"],
        "value_after": ["4", "3", "0", None, "3"],
        "points_change": [-8.0, -5.0, 2.0, -0.4, -15.0],
    })
    reasons = change_reasons(changes, top=2)
    assert reasons.loc[2] == ("Active users (30 days): 12 -> 4 (-8 pts); "
                              "Open tickets: 0 -> 3 (-5 pts)")
    alerts = make_alerts(NOW, BEFORE, reasons, AlertParams(require_reason=False))
    by_id = alerts.set_index("account_id")["reason"]
    assert by_id.loc[3] == "NPS: 9 -> 3 (-15 pts)"
    assert pd.isna(by_id.loc[7])  # first scored: nothing changed
