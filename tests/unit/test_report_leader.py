"""The CS leader's view of the report: cards with the change since the last run, the
trend across runs, the ARR at risk in green accounts, owners by ARR at risk.

Four accounts scored on 2026-07-01 after runs on 2026-05-01 and 2026-06-01; every
figure readable here:

==  ============  =====  ==========  ========  =====  ====  ===========
id  name          owner  segment     ARR       risk   band  ARR at risk
==  ============  =====  ==========  ========  =====  ====  ===========
1   Big Green     Ann    Enterprise  400,000   10 %   green      40,000
2   Red One       Bo     SMB          10,000   60 %   red         6,000
3   Red Two       Bo     SMB          10,000   50 %   red         5,000
4   Yellow Mid    Ann    Mid-market   50,000   20 %   yellow     10,000
==  ============  =====  ==========  ========  =====  ====  ===========

61,000 at risk, 40,000 of it (66 %) in the one green account. Bo owns both red
accounts but 11,000 at risk; Ann none red but 50,000. The runs before recorded
red 1 / 3, yellow 1 / 0, green 2 / 1, alerts 3 / 2 and ARR at risk 50,000 / 70,000.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from healthscore.config import ReportParams
from healthscore.report import ReportInputs, read_report_inputs, render_report
from healthscore.report.leader import kpi_cards, run_trend
from healthscore.report.inputs import normalise_inputs
from healthscore.report.portfolio import build_portfolio

MAY, JUNE, JULY = pd.Timestamp("2026-05-01"), pd.Timestamp("2026-06-01"), pd.Timestamp("2026-07-01")
MINUS = "\u2212"
SCALE = {"offset": 35.0, "pdo": 10.0, "red_below": 50, "green_from": 70}
HORIZON = {"horizon_days": 365, "lead_days": 0, "grace_days": 30}

RISK_LIST = pd.DataFrame({
    "account_id": [1, 2, 3, 4], "name": ["Big Green", "Red One", "Red Two", "Yellow Mid"],
    "owner": ["Ann", "Bo", "Bo", "Ann"], "segment": ["Enterprise", "SMB", "SMB", "Mid-market"],
    "arr": [400_000.0, 10_000.0, 10_000.0, 50_000.0], "health_score": [80.0, 30.0, 35.0, 60.0],
    "band": ["green", "red", "red", "yellow"], "risk_proba": [0.10, 0.60, 0.50, 0.20],
    "arr_at_risk": [40_000.0, 6_000.0, 5_000.0, 10_000.0],
    "score_change": [0.0, -20.0, -5.0, 3.0], "previous_band": ["green", "yellow", "red", "red"],
    "top_drivers": [[], [], [], []], "model_version": "7", "as_of": JULY,
    "renewal_date": pd.to_datetime(["2026-08-01", "2026-07-21", "2027-03-01", "2026-09-15"]),
    "days_to_renewal": [31.0, 20.0, 243.0, 76.0], "renewal_risk": [0.05, 0.5, 0.3, 0.2],
})
ALERTS = pd.DataFrame({"account_id": [2], "kind": ["new_red"], "reason": ["Days overdue: 0 -> 45 (-12 pts)"]})
RUNS = (
    {"as_of": "2026-05-01", "counts": {"scored": 4, "red": 1, "yellow": 1, "green": 2, "alerts": 3},
     "arr_at_risk": [{"by": "all", "group": "all", "expected_arr_lost": 50_000.0}]},
    {"as_of": "2026-06-01", "counts": {"scored": 4, "red": 3, "yellow": 0, "green": 1, "alerts": 2},
     "arr_at_risk": [{"by": "all", "group": "all", "expected_arr_lost": 70_000.0}]},
)


def make_inputs(**overrides) -> ReportInputs:
    fields = dict(as_of=JULY, previous_as_of=JUNE, risk_list=RISK_LIST.copy(), alerts=ALERTS,
                  runs=RUNS, run_info={"model_version": "7", "scale": SCALE, "horizon": HORIZON},
                  model_info={"version": "7", "scale": SCALE})
    fields.update(overrides)
    return ReportInputs(**fields)


def _history(date, bands, risks, arr=(400_000.0, 10_000.0, 10_000.0, 50_000.0)):
    return pd.DataFrame({"account_id": [1, 2, 3, 4], "as_of": date, "health_score": 50.0,
                         "band": list(bands), "risk_proba": list(risks), "arr": list(arr)})


# ------------------------------------------------------------------ the trend


def test_the_trend_has_one_row_per_run_and_the_report_run_last():
    data = normalise_inputs(make_inputs())
    trend = build_portfolio(data, ReportParams(), pages={})["trend"]
    assert trend["runs"] == 3 and trend["shown"] == 3
    points = re.findall(r'class="run-point" data-as-of="([^"]+)"', str(trend["chart"]))
    assert points == ["2026-05-01", "2026-06-01", "2026-07-01"]
    assert len(re.findall(r'class="run-bar"', str(trend["chart"]))) == 3
    assert trend["words"] == ("Over 3 runs from 2026-05-01 to 2026-07-01: red accounts 1 \u2192 2; "
                              "ARR at risk $50k \u2192 $61k.")
    assert "2026-06-01: red 3, yellow 0, green 1, ARR at risk $70k" in str(trend["chart"])


def test_the_run_file_wins_and_the_history_fills_what_it_does_not_say():
    history = pd.concat([_history(MAY, ["green", "red", "red", "red"], [0.1, 0.5, 0.5, 0.5]),
                         _history(JUNE, ["green", "green", "red", "yellow"], [0.1, 0.2, 0.4, 0.3])])
    runs = ({"as_of": "2026-05-01"},  # an older run file with no counts: the history's
            {"as_of": "2026-06-01", "counts": {"scored": 4, "red": 9}},  # its own red count wins
            {"as_of": "2026-08-01", "counts": {"red": 0}})  # after the report's date: left out
    current = {"accounts": 4, "red": 2, "yellow": 1, "green": 1, "alerts": 1, "arr_at_risk": 61_000.0}
    trend = run_trend(runs, history, as_of=JULY, current=current).set_index("as_of")
    assert list(trend.index) == [MAY, JUNE, JULY]
    assert trend.loc[MAY, ["red", "yellow", "green"]].tolist() == [3, 0, 1]
    # ARR x risk: 400,000 x 10 % + 3 x (10,000, 10,000, 50,000) x 50 %
    assert trend.loc[MAY, "arr_at_risk"] == pytest.approx(40_000 + 5_000 + 5_000 + 25_000)
    assert trend.loc[JUNE, ["red", "yellow", "green"]].tolist() == [9, 1, 2]
    assert np.isnan(trend.loc[MAY, "alerts"])  # neither the run file nor the history says
    assert trend.loc[JULY].tolist() == [4, 2, 1, 1, 1, 61_000.0]


def test_without_the_arr_in_the_history_its_arr_at_risk_is_unknown_not_zero():
    history = _history(MAY, ["green"] * 4, [0.1] * 4).assign(arr=[400_000.0, np.nan, 1.0, 1.0])
    current = {"accounts": 4, "red": 2, "yellow": 1, "green": 1, "alerts": 1, "arr_at_risk": 61_000.0}
    trend = run_trend((), history, as_of=JULY, current=current)
    assert np.isnan(trend["arr_at_risk"].iloc[0]) and trend["green"].iloc[0] == 4
    cards = {c["key"]: c for c in kpi_cards(trend, currency="$")}
    assert cards["arr_at_risk"]["change_text"] == "no figure for 2026-05-01"
    assert cards["red"]["change_text"] == "+2 since 2026-05-01"


# ------------------------------------------------------------------ the cards


def test_cards_say_the_change_since_the_last_run_in_words_and_currency():
    html = render_report(make_inputs(), ReportParams(currency="\u20ac"))["index.html"]
    cards = re.findall(r'data-testid="kpi-card" data-key="(\w+)" title="([^"]+)"', html)
    assert cards == [
        ("red", f"Red: at risk 2 ({MINUS}1 since 2026-06-01)"),
        ("yellow", "Yellow: needs attention 1 (+1 since 2026-06-01)"),
        ("green", "Green: healthy 1 (unchanged since 2026-06-01)"),
        ("arr_at_risk", f"ARR at risk \u20ac61k ({MINUS}\u20ac9,000 since 2026-06-01)"),
        ("alerts", f"Alerts 1 ({MINUS}1 since 2026-06-01)"),
    ]
    changes = re.findall(r'<div class="change ([a-z]*)" data-testid="kpi-change">', html)
    assert changes == ["better", "", "same", "better", "better"]


def test_a_rise_in_red_is_worse_and_in_green_better():
    trend = pd.DataFrame({"as_of": [JUNE, JULY], "accounts": [4.0, 4.0], "red": [1.0, 3.0],
                          "yellow": [2.0, 0.0], "green": [1.0, 1.0], "alerts": [0.0, 2.0],
                          "arr_at_risk": [10_000.0, 2_500_000.0]})
    cards = {c["key"]: c for c in kpi_cards(trend, currency="$")}
    assert cards["red"]["direction"] == "worse" and cards["red"]["change_text"] == "+2 since 2026-06-01"
    assert cards["yellow"]["direction"] == "" and cards["green"]["direction"] == "same"
    assert cards["arr_at_risk"]["value"] == "$2.5M"
    assert cards["arr_at_risk"]["change_text"] == "+$2.5M since 2026-06-01"
    first = {c["key"]: c for c in kpi_cards(trend.tail(1), currency="$")}
    assert first["red"]["change_text"] == "first run: no change to show" and first["red"]["change"] is None


# ------------------------------------------------------- green share, owners


def test_the_arr_at_risk_in_green_accounts_is_called_out():
    html = render_report(make_inputs(), ReportParams())["index.html"]
    sentence = re.sub(r"<[^>]+>", "", html.split('data-testid="green-share">')[1].split("</p>")[0])
    assert sentence == ("$40k of the $61k ARR at risk (66%) is in green accounts: the one account that "
                        "looks healthy carries it. The most of it: Big Green ($40k).")
    assert '<a href="accounts/1.html">Big Green</a>' in html.split('data-testid="green-share">')[1]
    two = RISK_LIST.assign(band=["green", "red", "red", "green"])
    html = render_report(make_inputs(risk_list=two), ReportParams())["index.html"]
    sentence = re.sub(r"<[^>]+>", "", html.split('data-testid="green-share">')[1].split("</p>")[0])
    assert sentence == ("$50k of the $61k ARR at risk (82%) is in green accounts: 2 accounts that look "
                        "healthy, each with a small chance of being lost, add up to it. "
                        "The most of it: Big Green ($40k), Yellow Mid ($10k).")


def test_no_green_account_no_share_in_green_but_the_sentence_says_so():
    rl = RISK_LIST.assign(band=["yellow", "red", "red", "yellow"])
    html = render_report(make_inputs(risk_list=rl), ReportParams())["index.html"]
    sentence = html.split('data-testid="green-share">')[1].split("</p>")[0]
    assert sentence == ("$0 of the $61k ARR at risk (0%) is in green accounts: all of it sits in red and "
                        "yellow accounts.")


def test_owner_and_segment_cards_come_in_order_of_arr_at_risk():
    html = render_report(make_inputs(), ReportParams())["index.html"]
    owners = re.findall(r'data-testid="owner-card" data-arr-at-risk="([\d.]+)">\s*<h3>(\w+) ', html)
    assert owners == [("50000.00", "Ann"), ("11000.00", "Bo")]  # Bo has both reds, Ann the money
    segments = re.findall(r'data-testid="segment-card" data-arr-at-risk="[\d.]+">\s*<h3>([\w-]+) ', html)
    assert segments == ["Enterprise", "SMB", "Mid-market"]


def test_no_config_key_in_what_a_csm_reads():
    html = render_report(make_inputs(), ReportParams(max_accounts=1, renewal_days=5))["index.html"]
    visible = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", html, flags=re.S)
    assert "riskiest accounts of 4; the others are listed without a link" in visible
    assert "No account renews in the next 5 days." in visible
    assert not re.search(r"\b(report|score|alerts|params)\.[a-z_]+\b", visible), \
        re.search(r"\b(report|score|alerts|params)\.[a-z_]+\b", visible)


def test_renewals_are_on_the_overview_most_arr_at_risk_first():
    html = render_report(make_inputs(), ReportParams(renewal_days=90))["index.html"]
    table = html.split('id="renewals-table"')[1].split("</table>")[0]
    # ARR x renewal risk: Big Green 20,000, Yellow Mid 10,000, Red One 5,000 (Red Two renews later)
    assert re.findall(r'data-testid="renewal-at-risk">([^<]+)<', table) == ["$20,000", "$10,000", "$5,000"]


# ------------------------------------------------------------ from the files


def test_the_loader_keeps_every_runs_figures(tmp_path):
    from healthscore.scoring.outputs import DateOutputs, OutputLayout, write_date

    layout = OutputLayout(tmp_path / "outputs")
    bands = {MAY: ["green", "yellow", "red", "green"], JUNE: ["green", "red", "red", "red"],
             JULY: list(RISK_LIST["band"])}
    for (when, band), run in zip(bands.items(), (*RUNS, {"as_of": "2026-07-01"})):
        risk = RISK_LIST.assign(band=band, as_of=when)
        history = _history(when, band, RISK_LIST["risk_proba"]).drop(columns="as_of")
        alerts = ALERTS if when == JULY else ALERTS.iloc[:0]
        run = {**run, "model_version": "7", "scale": SCALE, "horizon": HORIZON,
               "catalogue": {}, "params": {"a": 1}}
        write_date(layout, DateOutputs(when, risk, history, pd.DataFrame({"account_id": [1], "points:x": [0.0]}),
                                       pd.DataFrame(), alerts, run),
                   write_csv=lambda frame, path: frame.to_csv(path, index=False), update_latest=True)
    inputs = read_report_inputs(layout.root)
    assert [r["as_of"] for r in inputs.runs] == ["2026-05-01", "2026-06-01", "2026-07-01"]
    assert all(set(r) <= {"as_of", "counts", "arr_at_risk"} for r in inputs.runs)  # no catalogue copies
    html = render_report(inputs, ReportParams())["index.html"]
    assert re.findall(r'class="run-point" data-as-of="([^"]+)"', html) == ["2026-05-01", "2026-06-01",
                                                                          "2026-07-01"]
    assert f'title="Red: at risk 2 ({MINUS}1 since 2026-06-01)"' in html
    earlier = read_report_inputs(layout.root, as_of="2026-06-01")
    assert [r["as_of"] for r in earlier.runs] == ["2026-05-01", "2026-06-01"]


def test_the_trend_says_amounts_whole_when_rounded_ones_would_read_the_same():
    from healthscore.report.leader import trend_view

    trend = pd.DataFrame({"as_of": [JUNE, JULY], "accounts": [4.0, 4.0], "red": [1.0, 2.0],
                          "yellow": [2.0, 1.0], "green": [1.0, 1.0], "alerts": [0.0, 1.0],
                          "arr_at_risk": [3_399_198.0, 3_364_864.0]})
    view = trend_view(trend, currency="$")
    assert view["words"].endswith("ARR at risk $3,399,198 \u2192 $3,364,864.")
    # the ARR axis starts at zero and ends on a round number above the largest figure
    assert ">$0</text>" in str(view["chart"]) and ">$5.0M</text>" in str(view["chart"])
