"""The alerts section in a real browser: one row per alert, worst score first, each with
its kind and its reason in words, its owner and a link to the account's page; past the
first few the rest fold away and open on a click; text from the data stays text; no
console errors; a screenshot in the test's folder."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

#: account -> (kind as scoring writes it, reason); 999 is not in the risk list.
ALERTS = {
    101: ("band_drop", "Active users in the last 30 days: 20 \u2192 6 (\u221212.6 pts)"),
    104: ("new_red", "Oldest unpaid invoice: 0 \u2192 52 days overdue (\u221213.0 pts)"),
    105: ("drop_points", "Last NPS answer: 9 \u2192 3 out of 10 (\u22129.6 pts)"),
    102: ("band_drop,drop_points", "<b>Open tickets</b>: 1 \u2192 5 (\u22125.2 pts)"),
    999: ("new_red", "Emails opened in the last 90 days: 40% \u2192 5% (\u22123.5 pts)"),
}
WORDS = {"band_drop": "Dropped a band", "new_red": "Newly red", "drop_points": "Score fell sharply"}


@pytest.fixture()
def alerts_report(portfolio, tmp_path, monkeypatch):
    from healthscore.config import ReportParams
    from healthscore.report import render, write_report

    monkeypatch.setattr(render, "ALERTS_SHOWN", 3)  # fold after three, as after twelve
    alerts = pd.DataFrame({"account_id": list(ALERTS), "kind": [k for k, _ in ALERTS.values()],
                           "reason": [r for _, r in ALERTS.values()]})
    # without change lines the stored reason is shown as it is
    inputs = dataclasses.replace(portfolio, alerts=alerts, changes=pd.DataFrame())
    out = tmp_path / "report"
    write_report(inputs, ReportParams(), out_dir=out)
    return out, inputs


def test_alerts_are_listed_worst_first_with_kind_reason_and_owner(page, alerts_report, tmp_path):
    out, inputs = alerts_report
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")
    section = page.locator("#alerts")
    assert section.locator("h2").inner_text() == f"New alerts ({len(ALERTS)})"
    assert page.locator("[data-testid=kpi-card][data-key=alerts] .value").inner_text() == str(len(ALERTS))
    shown = section.locator("#alerts-table tbody tr")
    assert shown.count() == 3
    rl = inputs.risk_list.set_index("account_id")
    known = sorted((a for a in ALERTS if a in rl.index), key=lambda a: (rl.loc[a, "health_score"], -rl.loc[a, "arr"]))
    order = [*known, 999]  # an account missing from the risk list comes last, by its id
    more = section.locator("details.more-alerts")
    assert more.locator("summary").inner_text() == f"Show the other {len(ALERTS) - 3} alerts"
    hidden = more.locator("tbody tr")
    assert not hidden.first.is_visible()
    more.locator("summary").click()
    assert hidden.first.is_visible()
    rows = [*shown.all(), *hidden.all()]
    assert len(rows) == len(ALERTS)
    for row, account in zip(rows, order):
        cells = row.locator("td").all_inner_texts()
        name = rl.loc[account, "name"] if account in rl.index else str(account)
        kind, reason = ALERTS[account]
        assert cells[0] == name
        assert cells[1] == (rl.loc[account, "owner"] if account in rl.index else "")
        assert cells[2] == "; ".join(WORDS[k] for k in kind.split(","))
        assert cells[3] == reason  # markup in a reason is shown as text
        assert "_" not in cells[2]  # no raw kind
        link = row.locator("td a")
        assert link.count() == (1 if account in rl.index else 0)  # every scored account has a page here
        if account in rl.index:
            assert (out / link.get_attribute("href")).is_file()
    scores = [float(s) for s in (row.locator("td").nth(4).inner_text() for row in rows[:-1])]
    assert scores == sorted(scores)
    assert page.locator("#alerts b").count() == 0
    section.screenshot(path=str(tmp_path / "alerts.png"))
    assert (tmp_path / "alerts.png").stat().st_size > 5_000
    assert page.errors == [] and page.dialogs == []


def test_no_alerts_says_so(page, portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.report import write_report

    out = tmp_path / "report"
    write_report(dataclasses.replace(portfolio, alerts=pd.DataFrame()), ReportParams(), out_dir=out)
    page.goto((out / "index.html").as_uri())
    assert page.locator("#alerts").inner_text().endswith("No alerts were raised in this run.")
    assert page.locator("#alerts-table").count() == 0 and page.errors == []
