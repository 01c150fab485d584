"""The growth view in a real browser: reached from the navigation of the overview, its
accounts healthy and likely to expand in order of expected ARR gain, each with its
signals, linked to the account page where one exists; no console errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.browser

SIGNALS = "Last 'new team onboarded' signal 30 days ago (+12 pts); Active users in the last 30 days: 24 of 25 seats (+4 pts)"


@pytest.fixture()
def growth_report(portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.report import write_report

    risk = portfolio.risk_list
    proba = np.linspace(0.9, 0.1, len(risk))
    inputs = dataclasses.replace(
        portfolio,
        risk_list=risk.assign(expansion_proba=proba, expansion_arr_gain=proba * risk["arr"].to_numpy() * 0.3,
                              expansion_signals=SIGNALS),
        run_info={**portfolio.run_info, "expansion": {
            "healthy_bands": ["green", "yellow"], "min_proba": 0.2, "top_accounts": 50,
            "min_increase": 0.1, "horizon_days": 365, "model_version": "2"}})
    out = tmp_path / "report"
    write_report(inputs, ReportParams(), out_dir=out)
    return out, inputs.risk_list


def test_growth_view_lists_healthy_likely_accounts_by_expected_gain(page, growth_report, tmp_path):
    out, risk = growth_report
    page.goto((out / "index.html").as_uri())
    page.get_by_role("navigation", name="Report").get_by_role("link", name="Growth").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/growth.html")
    assert page.get_by_role("heading", name="Growth opportunities").is_visible()
    expected = risk.loc[risk["band"].isin(["green", "yellow"]) & (risk["expansion_proba"] >= 0.2)]
    expected = expected.sort_values("expansion_arr_gain", ascending=False)
    rows = page.locator("#growth-table tbody tr")
    assert rows.count() == len(expected) > 0
    shown = [rows.nth(i).get_attribute("data-account") for i in range(rows.count())]
    assert shown == [str(a) for a in expected["account_id"]]
    first = rows.nth(0)
    assert first.locator("ul.signals li").count() == 2
    assert "new team onboarded" in first.inner_text()
    assert page.get_by_test_id("growth-count").inner_text() == str(len(expected))
    assert page.locator('nav a[aria-current="page"]').inner_text() == "Growth"
    link = first.locator("a")
    if link.count():  # the account has a page: it opens
        link.click()
        page.wait_for_load_state("load")
        assert "/accounts/" in page.url
    page.screenshot(path=str(tmp_path / "growth.png"), full_page=True)
    assert page.errors == [] and page.dialogs == []


def test_risk_table_shows_and_sorts_the_expansion_chance(page, growth_report, portfolio, tmp_path):
    out, risk = growth_report
    page.goto((out / "index.html").as_uri())
    table = page.locator("#risk-table")
    head = table.locator("th[data-key=expansion]")
    assert head.inner_text().strip().lower().startswith("expansion")
    head.locator("button").click()  # the highest chance first
    first = table.locator("tbody tr").nth(0)
    best = risk.loc[risk["expansion_proba"].idxmax()]
    assert first.get_attribute("data-id") == str(best["account_id"])
    assert first.locator("td.expansion").inner_text() == f"{round(100 * best['expansion_proba'])}%"
    assert table.locator("tbody tr").count() == table.locator("td.expansion").count()
    assert page.errors == [] and page.dialogs == []
    # without an expansion model the table has no such column
    from healthscore.config import ReportParams
    from healthscore.report import write_report
    plain = tmp_path / "plain"
    write_report(portfolio, ReportParams(), out_dir=plain)
    page.goto((plain / "index.html").as_uri())
    assert page.locator("#risk-table th[data-key=expansion]").count() == 0
    assert page.locator("#risk-table td.expansion").count() == 0
