"""The plays card of the leader view (report/leader.py ``plays_view``), from the uplift
table :func:`healthscore.plays.uplift.measure_uplift` makes, on hand-written outcomes:

=========  =======  ==========  ==========  ===========  ===========
play       treated  lost        held out    lost         matured
=========  =======  ==========  ==========  ===========  ===========
onboard    200      10 (5 %)    200         40 (20 %)    all
exec_call  60       12 (20 %)   60          13 (22 %)    all
late       30       -           10          -            none
discount   100      30 (30 %)   100         10 (10 %)    all
=========  =======  ==========  ==========  ===========  ===========

Every account carries 1,000 of ARR: onboard saves 15 in 100 (ARR saved 15 % x 200,000
= 30,000); exec_call's interval spans zero; late has nothing matured; discount loses
20 in 100.
"""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.plays.uplift import measure_uplift
from healthscore.report.leader import plays_view

MINUS = "\u2212"


def _arm(play: str, arm: str, n: int, lost: int | None, start: int) -> pd.DataFrame:
    matured = lost is not None
    return pd.DataFrame({
        "play": play, "account_id": range(start, start + n), "as_of": pd.Timestamp("2025-01-01"),
        "arm": arm, "matured": matured, "arr": 1000.0,
        "lost": pd.array([1] * (lost or 0) + [0] * (n - (lost or 0)), dtype="Int64") if matured
        else pd.array([pd.NA] * n, dtype="Int64"),
    })


@pytest.fixture()
def uplift():
    parts = [_arm("onboard", "task", 200, 10, 0), _arm("onboard", "holdout", 200, 40, 200),
             _arm("exec_call", "task", 60, 12, 400), _arm("exec_call", "holdout", 60, 13, 460),
             _arm("late", "task", 30, None, 520), _arm("late", "holdout", 10, None, 550),
             _arm("discount", "task", 100, 30, 600), _arm("discount", "holdout", 100, 10, 700)]
    table = measure_uplift(pd.concat(parts, ignore_index=True))
    return table.assign(as_of=pd.Timestamp("2026-06-01"))


def test_each_play_shows_its_arms_churn_interval_verdict_and_arr_saved(uplift):
    view = plays_view(uplift, plays=["onboard", "exec_call", "late"], currency="$")
    assert view["matured"] and view["as_of"] == "2026-06-01"
    assert view["words"].startswith("Outcomes known until 2026-06-01")
    rows = {r["play"]: r for r in view["rows"]}
    assert list(rows) == ["onboard", "exec_call", "late", "discount"]
    on = rows["onboard"]
    assert (on["treated"], on["held_out"], on["treated_churn"], on["held_out_churn"]) == ("200", "200", "5%", "20%")
    assert on["saved"] == "+15.0" and on["status"] == "works" and on["direction"] == "better"
    low, high = uplift.set_index("play").loc["onboard", ["low", "high"]]
    assert 0 < low < 0.15 < high
    assert on["interval"] == f"+{low * 100:.1f} to +{high * 100:.1f}"
    # the sentence the `plays` command prints, word for word
    assert on["verdict"] == uplift.set_index("play").loc["onboard", "verdict"]
    assert on["verdict"].startswith("saves about 15 in 100 accounts it touches, 90 % interval ")
    assert on["arr_saved"] == "about $30k"

    ex = rows["exec_call"]
    assert ex["status"] == "unclear" and ex["saved"] == "+1.7"
    assert ex["interval"].startswith(MINUS) and ex["arr_saved"] == "none measured yet"
    assert ex["verdict"].startswith("no measurable effect yet") and "more accounts needed" in ex["verdict"]

    late = rows["late"]
    assert late["status"] == "pending" and late["pending"] == "40" and late["saved"] == "n/a"
    assert late["verdict"].startswith("not measurable: ")

    harm = rows["discount"]
    assert harm["status"] == "harms" and harm["direction"] == "worse" and harm["saved"] == f"{MINUS}20.0"
    assert harm["arr_saved"] == "none: it loses accounts" and harm["verdict"].endswith("review the play")


def test_no_matured_play_is_said_and_no_play_shows_no_card(uplift):
    assert plays_view(pd.DataFrame(), plays=None, currency="$") is None
    assert plays_view(pd.DataFrame(), plays=[], currency="$") is None
    waiting = plays_view(pd.DataFrame(), plays=["onboard"], currency="$")
    assert not waiting["matured"] and waiting["rows"] == []
    assert waiting["words"].startswith("No play has matured outcomes yet")
    only_late = plays_view(uplift[uplift["play"] == "late"], plays=["late"], currency="$")
    assert not only_late["matured"] and "no play has matured outcomes yet" in only_late["words"]
    assert [r["play"] for r in only_late["rows"]] == ["late"]
