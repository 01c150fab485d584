"""The CS leader's view in a real browser: the headline cards say the change since the
last run, the trend chart has one point per run, the ARR at risk in green accounts is
said in one sentence, owner and segment cards come most ARR at risk first, renewals due
soon are on the overview; no console errors; a screenshot in the test's folder.

The sample portfolio (conftest) is scored on 2024-05-01 and 2024-06-01; a run on
2024-04-01 is added here as a run file summary, as the loader keeps them.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

MINUS = "\u2212"


def _runs(portfolio):
    """Run summaries of 2024-04-01 (figures made up) and 2024-05-01 (counted from the
    portfolio's history, ARR at risk from its ARR x risk)."""
    history = portfolio.history
    may = history[history["as_of"] == pd.Timestamp("2024-05-01")]
    arr = portfolio.risk_list.set_index("account_id")["arr"]
    counts = may["band"].value_counts()
    may_run = {"as_of": "2024-05-01",
               "counts": {"scored": len(may), "alerts": 0,
                          **{b: int(counts.get(b, 0)) for b in ("red", "yellow", "green")}},
               "arr_at_risk": [{"by": "all", "group": "all",
                                "expected_arr_lost": float((may.set_index("account_id")["risk_proba"] * arr).sum())}]}
    april = {"as_of": "2024-04-01", "counts": {"scored": 8, "red": 3, "yellow": 3, "green": 2, "alerts": 4},
             "arr_at_risk": [{"by": "all", "group": "all", "expected_arr_lost": 90_000.0}]}
    return (april, may_run)


@pytest.fixture()
def leader_report(portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.report import write_report

    inputs = dataclasses.replace(portfolio, runs=_runs(portfolio))
    out = tmp_path / "report"
    write_report(inputs, ReportParams(renewal_days=90), out_dir=out)
    return out, inputs


def _open(page, out):
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")


def test_cards_show_the_change_since_the_last_run(page, leader_report):
    out, inputs = leader_report
    _open(page, out)
    rl = inputs.risk_list
    may = inputs.history[inputs.history["as_of"] == pd.Timestamp("2024-05-01")]
    cards = page.locator("[data-testid=kpi-card]")
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.key)") == ["red", "yellow", "green", "arr_at_risk",
                                                                      "alerts"]
    for band in ("red", "yellow", "green"):
        card = page.locator(f"[data-testid=kpi-card][data-key={band}]")
        now, before = int((rl["band"] == band).sum()), int((may["band"] == band).sum())
        assert card.locator(".value").inner_text() == str(now)
        delta = now - before
        expected = ("unchanged since 2024-05-01" if delta == 0 else
                    f"{'+' if delta > 0 else MINUS}{abs(delta)} since 2024-05-01")
        assert card.locator("[data-testid=kpi-change]").inner_text() == expected
    alerts = page.locator("[data-testid=kpi-card][data-key=alerts]")
    assert alerts.locator(".value").inner_text() == str(len(inputs.alerts))
    assert alerts.locator("[data-testid=kpi-change]").inner_text() == f"+{len(inputs.alerts)} since 2024-05-01"
    money = page.locator("[data-testid=kpi-card][data-key=arr_at_risk] [data-testid=kpi-change]").inner_text()
    assert money.endswith(" since 2024-05-01") and "$" in money and money[0] in "+" + MINUS
    # more red is worse, more green better: the change's class says which (its colour)
    for band, rise in (("red", "worse"), ("green", "better")):
        delta = int((rl["band"] == band).sum()) - int((may["band"] == band).sum())
        fall = {"worse": "better", "better": "worse"}[rise]
        change = page.locator(f"[data-testid=kpi-card][data-key={band}] [data-testid=kpi-change]")
        assert change.get_attribute("class").split()[-1] == (rise if delta > 0 else fall if delta < 0 else "same")
    assert page.errors == []


def test_the_trend_has_one_point_per_run(page, leader_report, tmp_path):
    out, inputs = leader_report
    _open(page, out)
    trend = page.locator("#trend")
    assert trend.is_visible()
    points = trend.locator("svg circle.run-point")
    assert points.evaluate_all("ps => ps.map(p => p.dataset.asOf)") == ["2024-04-01", "2024-05-01", "2024-06-01"]
    assert trend.locator("svg g.run-bar").count() == 3
    # the later the point, the lower it sits when ARR at risk fell, and the reverse
    ys = [float(y) for y in points.evaluate_all("ps => ps.map(p => p.getAttribute('cy'))")]
    assert ys[0] < ys[1]  # 90k at risk in April, less in May: April's point is higher
    assert "Over 3 runs from 2024-04-01 to 2024-06-01: red accounts 3" in trend.inner_text()
    box = trend.locator("svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 150
    trend.screenshot(path=str(tmp_path / "leader-trend.png"))
    assert (tmp_path / "leader-trend.png").stat().st_size > 5_000
    assert page.errors == []


def test_owner_cards_come_in_order_of_arr_at_risk(page, leader_report):
    out, inputs = leader_report
    _open(page, out)
    expected = inputs.risk_list.groupby("owner")["arr_at_risk"].sum().sort_values(ascending=False)
    owners = page.locator("[data-testid=owner-card]")
    names = owners.evaluate_all("cs => cs.map(c => c.querySelector('h3').firstChild.textContent.trim())")
    assert names == list(expected.index)
    values = [float(v) for v in owners.evaluate_all("cs => cs.map(c => c.dataset.arrAtRisk)")]
    assert values == sorted(values, reverse=True)
    assert values == pytest.approx(list(expected.round(2)), abs=0.01)
    assert "ARR at risk" in owners.first.inner_text() and "$" in owners.first.inner_text()
    segments = page.locator("[data-testid=segment-card]")
    seg_values = [float(v) for v in segments.evaluate_all("cs => cs.map(c => c.dataset.arrAtRisk)")]
    assert seg_values == sorted(seg_values, reverse=True) and len(seg_values) == inputs.risk_list["segment"].nunique()
    assert page.errors == []


def test_green_share_renewals_and_a_screenshot(page, leader_report, tmp_path):
    out, inputs = leader_report
    _open(page, out)
    rl = inputs.risk_list
    share = rl.loc[rl["band"] == "green", "arr_at_risk"].sum() / rl["arr_at_risk"].sum()
    sentence = page.locator("[data-testid=green-share]").inner_text()
    assert f"ARR at risk ({100 * share:.0f}%) is in green accounts" in sentence
    assert "The most of it: " in sentence
    renewals = page.locator("#renewals-table tbody [data-testid=renewal-at-risk]")
    due = rl[(rl["days_to_renewal"] >= 0) & (rl["days_to_renewal"] <= 90)]
    assert renewals.count() == len(due) > 0
    at_risk = [float(v) for v in renewals.evaluate_all("cs => cs.map(c => c.dataset.sort)")]
    assert at_risk == sorted(at_risk, reverse=True)
    text = page.locator("main").inner_text()
    assert "report." not in text and "max_accounts" not in text
    path = tmp_path / "leader.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    assert page.errors == [] and page.dialogs == []


def test_a_first_run_says_so_and_draws_one_point(page, portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.report import write_report

    june = portfolio.history[portfolio.history["as_of"] == pd.Timestamp("2024-06-01")]
    first = dataclasses.replace(portfolio, history=june, previous_as_of=None, runs=())
    out = tmp_path / "report"
    write_report(first, ReportParams(), out_dir=out)
    _open(page, out)
    assert page.locator("#trend svg circle.run-point").count() == 1
    changes = page.locator("[data-testid=kpi-change]").all_inner_texts()
    assert changes == ["first run: no change to show"] * 5
    assert page.errors == []
