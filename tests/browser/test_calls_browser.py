"""The call list at the top of the report, in a real browser: first card after the
headline figures, per owner the accounts to call with ARR at stake, why and one next
step, linked to their pages; no console errors; a screenshot in the test's folder."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

pytestmark = pytest.mark.browser


@pytest.fixture()
def calls_report(portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.report import write_report
    from healthscore.scoring.calls import CALL_COLUMNS

    rl = portfolio.risk_list.sort_values("arr_at_risk", ascending=False)
    rows = []
    for owner, group in rl.groupby("owner", sort=False):
        for rank, (_, acc) in enumerate(group.head(2).iterrows(), start=1):
            rows.append({"owner": owner, "rank": rank, "account_id": acc["account_id"], "name": acc["name"],
                         "arr": acc["arr"], "arr_at_risk": acc["arr_at_risk"],
                         "health_score": acc["health_score"], "band": acc["band"], "days_to_renewal": 40,
                         "urgency": 1, "why_now": "renews in 40 days",
                         "reason": "Active users, last 30 days: 12 -> 4 (-9 pts)",
                         "next_step": "Few of the paid seats are in use: plan an onboarding session.",
                         "priority": 1.0})
    calls = pd.DataFrame(rows, columns=list(CALL_COLUMNS)).astype(str)
    out = tmp_path / "report"
    write_report(dataclasses.replace(portfolio, calls=calls), ReportParams(), out_dir=out)
    return out, calls


def test_the_call_list_comes_first_with_a_reason_and_a_step(page, calls_report, tmp_path):
    out, calls = calls_report
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")
    assert page.errors == [] and page.dialogs == []
    cards = page.locator("main section.card")
    assert cards.first.get_attribute("id") == "calls"  # the first card on the page
    assert page.locator("[data-testid=call-owner]").count() == calls["owner"].nunique()
    items = page.locator("[data-testid=call]")
    assert items.count() == len(calls)
    first = items.first.inner_text()
    assert calls["name"].iloc[0] in first and "ARR at stake" in first
    assert "Why: Active users" in first and "Next: Few of the paid seats" in first
    link = items.first.locator("a")
    if link.count():
        assert (out / link.get_attribute("href")).is_file()
    page.locator("#calls").screenshot(path=str(tmp_path / "calls.png"))
    assert (tmp_path / "calls.png").stat().st_size > 0


def test_no_call_list_no_card(page, portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.report import write_report

    out = tmp_path / "report"
    write_report(portfolio, ReportParams(), out_dir=out)
    page.goto((out / "index.html").as_uri())
    assert page.locator("#calls").count() == 0 and page.errors == []
