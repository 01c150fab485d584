"""The call list on a hand-made risk list: who is on it, in what order, and why."""

from __future__ import annotations

import pandas as pd

from healthscore.config import CallParams
from healthscore.scoring.calls import CALL_COLUMNS, DEFAULT_STEP, make_calls, render_calls

RISK = pd.DataFrame({
    "account_id": [1, 2, 3, 4, 5, 6],
    "name": ["Acme", "Birch", "Cedar", "Dune", "Elm", "Fir"],
    "owner": ["Ana", "Ana", "Ana", "Ben", "Ben", "Ben"],
    "arr": [100_000.0, 50_000.0, 40_000.0, 30_000.0, 80_000.0, 20_000.0],
    "arr_at_risk": [20_000.0, 15_000.0, 12_000.0, 9_000.0, 30_000.0, 8_000.0],
    "health_score": [60, 38, 35, 30, 80, 33],
    "band": ["yellow", "red", "red", "red", "green", "red"],
    "days_to_renewal": [200.0, 300.0, 30.0, 20.0, 100.0, 400.0],
    "top_drivers": ["", "", "Overdue invoices: 3 (-9 pts); NPS: 2 (-3 pts)",
                    "Active users: 2 of 20 seats (-8 pts)", "", "Open tickets: 4 (-5 pts)"],
})
ALERTS = pd.DataFrame({
    "account_id": [1, 2],
    "kind": ["score_drop", "new_red, band_drop"],
    "reason": ["Active users: 12 -> 4 (-9 pts); Open tickets: 0 -> 3 (-7 pts)",
               "Days overdue: 0 -> 45 (-8 pts)"],
})
CHANGES = pd.DataFrame({
    "account_id": [1, 1, 2],
    "label": ["Active users", "Open tickets", "Days overdue"],
    "feature": ["events__active_users__30d", "tickets__open__now", "invoices__days_overdue__now"],
    "family": ["usage", "support", "billing"],
})
POINTS = pd.DataFrame({
    "account_id": [3, 4],
    "points:invoices__overdue__now": [-9.0, 0.0],
    "points:events__active_users__30d": [-3.0, -8.0],
    "points:subscriptions__days_to_renewal": [-20.0, -20.0],  # profile: never the reason
})
CATALOGUE = {"invoices__overdue__now": {"family": "billing"},
             "events__active_users__30d": {"family": "usage"}}


def _calls(**kw) -> pd.DataFrame:
    return make_calls(RISK, ALERTS, CHANGES, params=CallParams(**kw), catalogue=CATALOGUE,
                      points=POINTS, profile=["subscriptions__days_to_renewal"])


def test_who_is_on_the_list_and_in_what_order():
    calls = _calls(per_owner=5, renewal_days=90)
    assert list(calls.columns) == list(CALL_COLUMNS)
    # 5: green, no alert; 6: red but renews in 400 days, no alert
    assert list(zip(calls["owner"], calls["account_id"], calls["rank"])) == [
        ("Ana", 1, 1), ("Ana", 2, 2), ("Ana", 3, 3), ("Ben", 4, 1)]
    # ARR at stake times 1 + urgency: Acme 20k, sharp drop: 40k; Birch 15k, newly red: 30k;
    # Cedar 12k, renews in 30 days: 24k
    by_id = calls.set_index("account_id")
    assert by_id.loc[2, "priority"] == 15_000.0 * 2 and by_id.loc[1, "priority"] == 20_000.0 * 2
    assert by_id.loc[3, "why_now"] == "Renews in 30 days"
    assert by_id.loc[2, "why_now"] == "Newly red"


def test_each_call_has_one_reason_and_one_step():
    by_id = _calls().set_index("account_id")
    assert by_id.loc[1, "reason"] == "Active users: 12 -> 4 (-9 pts)"
    assert by_id.loc[1, "next_step"].startswith("Fewer people use the product")
    assert by_id.loc[2, "next_step"].startswith("Check the overdue invoices")
    # no alert: the risk list's costliest driver, its step from the stored points
    assert by_id.loc[3, "reason"] == "Overdue invoices: 3 (-9 pts)"
    assert by_id.loc[3, "next_step"].startswith("Check the overdue invoices")
    assert by_id.loc[4, "next_step"].startswith("Fewer people use the product")
    no_points = make_calls(RISK, ALERTS, CHANGES, params=CallParams(), catalogue=CATALOGUE)
    assert no_points.set_index("account_id").loc[3, "next_step"] == DEFAULT_STEP


def test_the_cap_per_owner_and_the_text():
    calls = _calls(per_owner=1)
    assert list(calls["account_id"]) == [1, 4]
    text = render_calls(calls, as_of="2026-07-01")
    assert text.splitlines()[0].startswith("Calls for the week of 2026-07-01 (2 accounts, 2 owners)")
    assert "Ana: 1 to contact" in text and "next: " in text
    empty = make_calls(RISK.iloc[[4]], ALERTS.iloc[:0], CHANGES.iloc[:0], params=CallParams(),
                       catalogue=CATALOGUE)
    assert empty.empty and render_calls(empty, as_of="2026-07-01").startswith("No calls")


def test_a_crm_signal_gets_its_own_step_not_the_usage_one():
    from healthscore.scoring.actions import step_for

    assert step_for("signals__competitor_mention__days_since_last", "engagement").startswith(
        "The customer mentioned a competitor")
    assert step_for("signals__contact_change__days_since_last", "engagement").startswith("Your contact changed")
    assert step_for("events__days_since_last__any", "usage").startswith("Nobody has used the product")
