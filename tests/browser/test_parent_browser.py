"""The parent-accounts view in a real browser: reached from the navigation of the
overview, one row per parent by ARR at risk, its drivers naming its accounts, its
accounts folded under it and linked to their pages; no console errors. Without
parents, no link and no page."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from healthscore.data.schema import PARENT_ID

pytestmark = pytest.mark.browser


@pytest.fixture()
def parent_report(portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.model.scale import HealthScale
    from healthscore.report import write_report
    from healthscore.scoring.parents import roll_up_parents

    from conftest import OFFSET, PDO  # tests/browser: the portfolio's scale

    # Initech (103) is a parent with its own contract over 101 and 104; 900 is only a group id
    parent = {101: 103, 104: 103, 105: 900, 106: 900}
    risk = portfolio.risk_list.assign(**{PARENT_ID: pd.array(
        [parent.get(a) for a in portfolio.risk_list["account_id"]], dtype="Int64")})
    wide = portfolio.points.pivot(index="account_id", columns="feature", values="points")
    wide = wide.add_prefix("points:").reset_index()
    catalogue = {f: {"label": lab, "family": fam} for f, lab, fam in
                 portfolio.points[["feature", "label", "family"]].drop_duplicates().itertuples(index=False)}
    parents, drivers = roll_up_parents(
        risk, wide, scale=HealthScale(OFFSET, PDO, 50, 70), catalogue=catalogue,
        profile=("subscriptions__days_to_renewal", "accounts__seats"), model_version="3", as_of=portfolio.as_of)
    inputs = dataclasses.replace(portfolio, risk_list=risk, parents=parents, parent_drivers=drivers)
    out = tmp_path / "report"
    write_report(inputs, ReportParams(), out_dir=out)
    return out, parents, risk


def test_parent_view_lists_parents_by_arr_at_risk_with_their_accounts(page, parent_report, tmp_path):
    out, parents, risk = parent_report
    page.goto((out / "index.html").as_uri())
    page.get_by_role("navigation", name="Report").get_by_role("link", name="Parent accounts").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/parents.html")
    assert page.get_by_role("heading", name="Parent accounts", exact=True).is_visible()
    rows = page.locator("#parents-table > tbody > tr[data-parent]")
    assert rows.count() == 2
    shown = [rows.nth(i).get_attribute("data-parent") for i in range(rows.count())]
    assert shown == [str(p) for p in parents.sort_values("arr_at_risk", ascending=False)[PARENT_ID]]
    hq = page.locator('#parents-table > tbody > tr[data-parent="103"]')
    assert hq.get_by_test_id("parent-risk").inner_text() == \
        f"{100 * parents.set_index(PARENT_ID).loc[103, 'arr_weighted_risk']:.0f}%"
    folded = page.locator('#parents-table tr[data-members-of="103"]')
    drivers = folded.get_by_test_id("parent-drivers").locator("li")
    assert drivers.count() >= 1 and "% of ARR)" in drivers.first.inner_text()
    members = folded.locator("tr[data-account]")
    assert not members.first.is_visible()  # folded until asked
    folded.locator("summary").click()
    assert members.count() == 3 and members.first.is_visible()
    names = set(risk.loc[risk["account_id"].isin([101, 103, 104]), "name"])
    assert {members.nth(i).locator("td").first.inner_text().split(" (the parent")[0]
            for i in range(3)} == names
    assert "the parent's own account" in folded.locator('tr[data-account="103"]').inner_text()
    group = page.locator('#parents-table > tbody > tr[data-parent="900"]')
    assert group.locator("td").first.inner_text() == "Parent 900"  # only a group id: no name
    assert page.locator('nav a[aria-current="page"]').inner_text() == "Parent accounts"
    link = members.locator("a")
    if link.count():  # an account with a page: it opens
        link.first.click()
        page.wait_for_load_state("load")
        assert "/accounts/" in page.url
    page.screenshot(path=str(tmp_path / "parents.png"), full_page=True)
    assert page.errors == [] and page.dialogs == []


def test_no_parents_no_view(page, report_dir):
    assert not (report_dir / "parents.html").exists()
    page.goto((report_dir / "index.html").as_uri())
    assert page.get_by_role("navigation", name="Report").get_by_role("link", name="Parent accounts").count() == 0
    assert page.errors == []
