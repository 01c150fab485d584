"""The leader view's plays card in a real browser: per play the accounts treated and
held out, the churn in each, the accounts saved per 100 treated with its 90 % interval,
the verdict the `plays` command prints and the ARR saved; "no play has matured outcomes
yet" when none has; no console errors; a screenshot in the test's folder.

The uplift table is :func:`healthscore.plays.uplift.measure_uplift`'s on hand-written
outcomes: ``onboard`` 300 treated of whom 15 lost, 300 held out of whom 60 lost (saves 15
in 100; 1,000 of ARR each: 45,000 saved); ``exec_call`` 50 / 50 with 10 and 11 lost.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from healthscore.plays.uplift import measure_uplift

pytestmark = pytest.mark.browser


def _arm(play: str, arm: str, n: int, lost: int, start: int) -> pd.DataFrame:
    return pd.DataFrame({"play": play, "account_id": range(start, start + n), "as_of": pd.Timestamp("2023-04-01"),
                         "arm": arm, "matured": True, "arr": 1000.0,
                         "lost": pd.array([1] * lost + [0] * (n - lost), dtype="Int64")})


def _write(portfolio, tmp_path, uplift, plays):
    from healthscore.config import ReportParams
    from healthscore.report import write_report

    inputs = dataclasses.replace(portfolio, uplift=uplift,
                                 run_info={**portfolio.run_info, "plays": plays})
    out = tmp_path / "report"
    write_report(inputs, ReportParams(), out_dir=out)
    return out


def _open(page, out):
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")


def test_the_plays_card_shows_each_plays_measured_uplift(page, portfolio, tmp_path):
    outcomes = pd.concat([_arm("onboard", "task", 300, 15, 0), _arm("onboard", "holdout", 300, 60, 300),
                          _arm("exec_call", "task", 50, 10, 600), _arm("exec_call", "holdout", 50, 11, 650)],
                         ignore_index=True)
    uplift = measure_uplift(outcomes).assign(as_of=pd.Timestamp("2024-06-01"))
    out = _write(portfolio, tmp_path, uplift, ["onboard", "exec_call"])
    _open(page, out)
    card = page.locator("[data-testid=plays-card]")
    assert card.is_visible()
    assert card.locator("[data-testid=plays-words]").inner_text().startswith("Outcomes known until 2024-06-01")
    rows = card.locator("[data-testid=play-row]")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.play)") == ["onboard", "exec_call"]
    on = card.locator("[data-testid=play-row][data-play=onboard]")
    assert on.get_attribute("data-status") == "works"
    assert on.locator("[data-testid=play-treated]").inner_text() == "300"
    assert on.locator("[data-testid=play-held-out]").inner_text() == "300"
    assert on.locator("[data-testid=play-saved]").inner_text() == "+15.0"
    expected = uplift.set_index("play")
    assert on.locator("[data-testid=play-verdict]").inner_text() == expected.loc["onboard", "verdict"]
    assert on.locator("[data-testid=play-verdict]").inner_text().startswith("saves about 15 in 100 accounts")
    assert on.locator("[data-testid=play-arr-saved]").inner_text() == "about $45k"
    assert "5%" in on.inner_text() and "20%" in on.inner_text()
    ex = card.locator("[data-testid=play-row][data-play=exec_call]")
    assert ex.get_attribute("data-status") == "unclear"
    assert ex.locator("[data-testid=play-verdict]").inner_text().startswith("no measurable effect yet")
    assert ex.locator("[data-testid=play-arr-saved]").inner_text() == "none measured yet"
    card.screenshot(path=str(tmp_path / "plays.png"))
    assert page.errors == [] and page.dialogs == []


def test_no_matured_play_is_said_and_a_run_without_plays_has_no_card(page, portfolio, tmp_path):
    out = _write(portfolio, tmp_path / "waiting", pd.DataFrame(), ["onboard"])
    _open(page, out)
    card = page.locator("[data-testid=plays-card]")
    assert card.is_visible()
    assert card.locator("[data-testid=plays-words]").inner_text().startswith("No play has matured outcomes yet")
    assert card.locator("[data-testid=play-row]").count() == 0
    assert page.errors == []
    out = _write(portfolio, tmp_path / "none", pd.DataFrame(), [])
    _open(page, out)
    assert page.locator("[data-testid=plays-card]").count() == 0
    assert page.errors == []
