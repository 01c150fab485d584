"""Headless Chromium for the report's browser tests, and a small portfolio to show.

The portfolio's risk is for a 365-day horizon; days to renewal and seats are profile
facts (the accounts' starting point), the other signals are drivers.

Chromium is Debian's package (``apt-get install chromium``; ``.ci/run`` installs it),
driven by Playwright for Python; ``playwright install`` is never used. Without a
browser the tests are skipped, except under ``CI=true`` where a missing browser
fails them.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from healthscore.config import ReportParams
from healthscore.report import ReportInputs, write_report

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

# feature -> (label, family, unit, phrase)
CATALOGUE = {
    "events__active_users__30d": ("Active users, 30 days", "usage", "users",
                                  "Active users in the last 30 days: {value:.0f} of {accounts__seats:.0f} seats"),
    "events__count__30d_vs_prev_30d": ("Usage trend, 30 days", "usage", "ratio",
                                       "Usage compared with the 30 days before: {value:.0%}"),
    "invoices__days_overdue__now": ("Days overdue", "billing", "days",
                                    "Oldest unpaid invoice: {value:.0f} days overdue"),
    "tickets__open__now": ("Open tickets", "support", "events", "Open support tickets: {value:.0f}"),
    "surveys__nps_last": ("Last NPS answer", "sentiment", "score", "Last NPS answer: {value:.0f} out of 10"),
    "emails__open_rate__90d": ("Email open rate, 90 days", "engagement", "share",
                               "Emails opened in the last 90 days: {value:.0%}"),
    "subscriptions__days_to_renewal": ("Days to renewal", "contract", "days", "Renewal in {value:.0f} days"),
    "accounts__seats": ("Seats", "account", "users", "Seats paid for: {value:.0f}"),
}

ACCOUNTS = pd.DataFrame({
    "account_id": [101, 102, 103, 104, 105, 106, 107, 108],
    "name": ["Acme Analytics", "Globex", "Initech", "<script>alert(1)</script>",
             "Umbrella Health", "Stark Logistics", "Wayne Media", "Hooli Cloud"],
    "owner": ["Dana Lee", "Sam Ortiz", "Dana Lee", "Priya Nair", "Sam Ortiz", "Priya Nair",
              "Dana Lee", "Sam Ortiz"],
    "segment": ["Mid-market", "SMB", "Enterprise", "SMB", "Mid-market", "Enterprise", "SMB", "SMB"],
    "arr": [48_000.0, 12_000.0, 150_000.0, 9_000.0, 36_000.0, 220_000.0, 15_000.0, 7_500.0],
    # next renewal: days from 2024-06-01 and the chance that renewal is lost
    "days_to_renewal": [30.0, 12.0, 75.0, 200.0, 88.0, 40.0, 5.0, 91.0],
    "renewal_risk": [0.40, 0.30, 0.06, 0.5, 0.10, 0.02, 0.20, 0.9],
})
BASE = 66.0
OFFSET, PDO = 35.0, 10.0


def _values(rng: np.random.Generator, account: int, month: int) -> dict[str, float]:
    bad = account in (101, 104) and month == 1  # two accounts turn bad in the second month
    seats = 25.0
    return {
        "events__active_users__30d": float(rng.integers(4, 12) if bad else rng.integers(14, 25)),
        "events__count__30d_vs_prev_30d": float(rng.uniform(0.4, 0.7) if bad else rng.uniform(0.9, 1.3)),
        "invoices__days_overdue__now": float(rng.integers(35, 70) if bad or account == 105 else 0),
        "tickets__open__now": float(rng.integers(0, 6)),
        "surveys__nps_last": float(rng.integers(2, 6) if bad else rng.integers(7, 11)),
        "emails__open_rate__90d": float(rng.uniform(0.05, 0.6)),
        "subscriptions__days_to_renewal": float(rng.integers(20, 300)),
        "accounts__seats": seats,
    }


def _points(values: dict[str, float]) -> dict[str, float]:
    return {
        "events__active_users__30d": (values["events__active_users__30d"] - 15) * 0.9,
        "events__count__30d_vs_prev_30d": (values["events__count__30d_vs_prev_30d"] - 1.0) * 20,
        "invoices__days_overdue__now": -0.25 * values["invoices__days_overdue__now"],
        "tickets__open__now": 1.0 - 1.3 * values["tickets__open__now"],
        "surveys__nps_last": (values["surveys__nps_last"] - 7) * 1.6,
        "emails__open_rate__90d": (values["emails__open_rate__90d"] - 0.3) * 10,
        "subscriptions__days_to_renewal": 0.3 if values["subscriptions__days_to_renewal"] > 90 else -1.2,
        "accounts__seats": 0.4,
    }


def make_portfolio() -> ReportInputs:
    """Eight accounts scored on two dates; two turn bad in the second month."""
    rng = np.random.default_rng(7)
    factor = PDO / np.log(2)
    dates = [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-06-01")]
    points, history, risk = {}, [], []
    for month, as_of in enumerate(dates):
        rows = []
        for account in ACCOUNTS["account_id"]:
            values = _values(rng, account, month)
            for feature, pts in _points(values).items():
                label, family, unit, phrase = CATALOGUE[feature]
                rows.append({"account_id": account, "feature": feature, "value": values[feature],
                             "points": round(pts, 3), "label": label, "family": family,
                             "unit": unit, "phrase": phrase})
        frame = pd.DataFrame(rows)
        points[as_of] = frame
        unclipped = BASE + frame.groupby("account_id")["points"].sum()
        score = np.clip(np.floor(unclipped + 0.5), 1, 100)
        proba = 1 / (1 + np.exp(-(OFFSET - unclipped) / factor))
        band = np.where(score < 50, "red", np.where(score >= 70, "green", "yellow"))
        history.append(pd.DataFrame({"account_id": unclipped.index, "as_of": as_of, "health_score": score.values,
                                     "band": band, "risk_proba": proba.values}))
        risk.append((unclipped, score, proba, band))
    unclipped, score, proba, band = risk[1]
    before = history[0].set_index("account_id")
    drivers = (points[dates[1]].sort_values("points").groupby("account_id")
               .apply(lambda g: [f"{r.label} ({r.points:+.1f} pts)" for r in g.head(3).itertuples()],
                      include_groups=False))
    risk_list = ACCOUNTS.assign(
        health_score=score.values, band=band, risk_proba=proba.values,
        arr_at_risk=ACCOUNTS["arr"].to_numpy() * proba.values,
        score_change=score.values - before["health_score"].reindex(score.index).values,
        previous_band=before["band"].reindex(score.index).values,
        top_drivers=drivers.reindex(score.index).values, model_version="3", as_of=dates[1],
        base_points=BASE,
        renewal_date=dates[1] + pd.to_timedelta(ACCOUNTS["days_to_renewal"], unit="D"),
    )
    now, then = points[dates[1]], points[dates[0]]
    changes = now.merge(then[["account_id", "feature", "value", "points"]], on=["account_id", "feature"],
                        suffixes=("_now", "_before"))
    changes["points_change"] = changes["points_now"] - changes["points_before"]
    alerts = pd.DataFrame({"account_id": [101, 104], "kind": ["band_drop", "new_red"],
                           "reason": ["Fell two bands, from green to red", "Newly red: the score fell by more than 10 points"]})
    metrics = {"test_model_roc_auc": 0.81, "test_scorecard_roc_auc": 0.68, "test_logistic_roc_auc": 0.77,
               "test_base_rate_roc_auc": 0.5, "test_model_ece": 0.018, "test_scorecard_ece": 0.07,
               "test_model_brier": 0.11, "test_logistic_brier": 0.12, "test_model_churn_rate_red": 0.41,
               "test_model_churn_rate_yellow": 0.17, "test_model_churn_rate_green": 0.04,
               "test_model_share_red": 0.2, "test_model_share_yellow": 0.3, "test_model_share_green": 0.5}
    model_info = {
        "version": "3", "kind": "lightgbm", "created_at": "2024-04-20T08:00:00+00:00", "metrics": metrics,
        "scale": {"offset": OFFSET, "pdo": PDO, "red_below": 50, "green_from": 70},
        "reliability": {"predicted": [0.05, 0.15, 0.3, 0.5], "observed": [0.04, 0.17, 0.28, 0.55]},
    }
    return ReportInputs(
        as_of=dates[1], previous_as_of=dates[0], risk_list=risk_list,
        history=pd.concat(history, ignore_index=True), points=now, previous_points=then,
        changes=changes, alerts=alerts,
        run_info={"accounts": 8, "model_version": "3",
                  "horizon": {"horizon_days": 365, "lead_days": 0, "grace_days": 30}},
        model_info=model_info,
    )


@pytest.fixture(scope="session")
def accounts():
    """The sample portfolio's accounts (id, name, owner, segment, arr)."""
    return ACCOUNTS.copy()


@pytest.fixture
def portfolio():
    """The sample portfolio's report inputs, to render with other params."""
    return make_portfolio()


@pytest.fixture(scope="session")
def report_dir(tmp_path_factory):
    """The sample portfolio's report, written once per session."""
    out = tmp_path_factory.mktemp("report") / "report"
    write_report(make_portfolio(), ReportParams(top_movers=5), out_dir=out)
    return out


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium; skipped when absent (failed under CI=true)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    in_ci = os.environ.get("CI", "").lower() == "true"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if in_ci:
            pytest.fail("playwright is not installed (CI=true requires the browser tests)")
        pytest.skip("playwright is not installed")
    if executable is None:
        if in_ci:
            pytest.fail("chromium is not installed; CI=true requires the browser tests "
                        "(apt-get install -y chromium, as .ci/run does)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors, page errors and dialogs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.dialogs = []
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    context.close()
