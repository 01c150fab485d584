"""The people behind the score in a real browser: an account page lists its contacts
(from ``people/<as_of>.parquet``) with role, last product use, latest survey and who
left; text from the data stays text; an account without contacts has no such section;
no console errors; a screenshot in the test's folder."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from healthscore.scoring.people import PEOPLE_COLUMNS

pytestmark = pytest.mark.browser

AS_OF = pd.Timestamp("2024-06-01")


def _people() -> pd.DataFrame:
    rows = [
        # account, user, role, name, email, started, left, status, last active, recent, survey, at
        (101, 1, "champion", "Ada <b>Byron</b>", "ada@acme.example", "2023-03-01", None, "current",
         "2024-05-29 10:00", 14.0, 9.0, "2024-04-02"),
        (101, 2, "executive_sponsor", "Grace Hopper", None, "2022-01-01", None, "current",
         None, 0.0, None, None),
        (101, 3, "champion", None, None, "2021-01-01", "2024-04-15", "left",
         "2024-04-14 16:00", 0.0, 4.0, "2024-03-01"),
    ]
    frame = pd.DataFrame(rows, columns=list(PEOPLE_COLUMNS))
    for column in ("started_at", "left_at", "last_active", "survey_at"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


@pytest.fixture()
def people_report(portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.report import write_report

    inputs = dataclasses.replace(portfolio, people=_people())
    out = tmp_path / "report"
    write_report(inputs, ReportParams(), out_dir=out)
    return out


def test_the_account_page_shows_the_people_behind_the_score(page, people_report, tmp_path):
    page.goto((people_report / "accounts" / "101.html").as_uri())
    page.wait_for_load_state("load")
    section = page.locator("#people")
    assert section.locator("h2").inner_text() == "The people behind the score"
    rows = section.locator("[data-testid=people] tbody tr")
    assert rows.count() == 3
    first, sponsor, gone = (rows.nth(i).locator("td") for i in range(3))
    assert first.nth(0).inner_text().startswith("Ada <b>Byron</b>")  # shown as text, not markup
    assert section.locator("b").count() == 0
    assert first.nth(1).inner_text() == "Champion"
    assert first.nth(2).inner_text() == "2024-05-29 (3 days ago), 14 events lately"
    assert first.nth(3).inner_text() == "9 on 2024-04-02"
    assert first.nth(4).inner_text() == "Since 2023-03-01"
    assert sponsor.nth(1).inner_text() == "Executive sponsor"
    assert sponsor.nth(2).inner_text() == "No product use recorded"
    assert sponsor.nth(3).inner_text() == "No answer yet"
    assert gone.nth(0).inner_text() == "User 3"
    assert rows.nth(2).get_attribute("class") == "person left"
    assert section.locator("[data-testid=person-left]").inner_text() == "Left on 2024-04-15"
    section.screenshot(path=str(tmp_path / "people.png"))
    assert page.errors == [] and page.dialogs == []


def test_an_account_without_contacts_has_no_people_section(page, people_report):
    page.goto((people_report / "accounts" / "102.html").as_uri())
    page.wait_for_load_state("load")
    assert page.locator("[data-testid=account-name]").count() == 1
    assert page.locator("#people").count() == 0 and page.errors == []
