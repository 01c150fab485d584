"""The growth view: healthy and likely accounts only, by expected ARR gain, with their
signals; the page and its navigation link exist only when the risk list has
``expansion_proba``."""

from __future__ import annotations

import pandas as pd

from healthscore.report.growth import build_growth, has_growth

SHOWN = pd.DataFrame({
    "account_id": [1, 2, 3, 4, 5],
    "name": ["Acme", "Globex", "Initech", "Umbrella", "Hooli"],
    "owner": ["Dana", "Sam", "Dana", "Sam", "Dana"], "segment": ["SMB"] * 5,
    "band": ["green", "green", "red", "green", "yellow"],
    "health_score": [80, 75, 30, 90, 60], "arr": [10_000.0, 100_000.0, 500_000.0, 50_000.0, 80_000.0],
})
RAW = SHOWN[["account_id"]].assign(
    expansion_proba=[0.6, 0.3, 0.9, 0.1, 0.8],
    expansion_arr_gain=[2_400.0, 12_000.0, 180_000.0, 2_000.0, 25_600.0],
    expansion_signals=["New team onboarded (+9 pts); Seats used: 120% (+4 pts)", "Seats used: 95% (+3 pts)",
                       "", "", "Seats used: 130% (+6 pts)"],
)
RUN = {"expansion": {"healthy_bands": ["green"], "min_proba": 0.2, "top_accounts": 50,
                     "min_increase": 0.1, "horizon_days": 365, "model_version": "4"}}


def test_only_healthy_and_likely_accounts_by_expected_gain():
    view = build_growth(RAW, SHOWN, run=RUN, pages={2: "accounts/2.html"})
    # 3 is red (the largest gain, but not a pitch), 5 yellow, 4 below the 20 % floor
    assert [r["account_id"] for r in view["rows"]] == ["2", "1"]
    assert view["count"] == 2 and view["gain"] == "$14,400"
    assert view["rows"][0]["href"] == "accounts/2.html" and view["rows"][1]["href"] is None
    assert view["rows"][1]["signals"] == ["New team onboarded (+9 pts)", "Seats used: 120% (+4 pts)"]
    assert view["rise"] == "10%" and view["model_version"] == "4"


def test_the_run_settings_choose_bands_floor_and_length():
    run = {"expansion": {**RUN["expansion"], "healthy_bands": ["green", "yellow"], "min_proba": 0.5,
                         "top_accounts": 1}}
    view = build_growth(RAW, SHOWN, run=run, pages={})
    assert view["count"] == 2 and [r["account_id"] for r in view["rows"]] == ["5"]


def test_has_growth_needs_an_expansion_column_with_values():
    assert has_growth(RAW) and not has_growth(SHOWN) and not has_growth(None)
    assert not has_growth(RAW.assign(expansion_proba=float("nan")))


def _inputs(with_expansion: bool):
    import dataclasses
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "browser" / "conftest.py"  # the sample portfolio
    spec = importlib.util.spec_from_file_location("expansion_browser_portfolio", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inputs = module.make_portfolio()
    if not with_expansion:
        return inputs
    ids = inputs.risk_list["account_id"]
    proba = pd.Series(0.5, index=ids.index).where(ids != 106, 0.05)
    risk_list = inputs.risk_list.assign(expansion_proba=proba.to_numpy(),
                                        expansion_arr_gain=(proba * inputs.risk_list["arr"] * 0.3).to_numpy(),
                                        expansion_signals="Seats used: 120% (+4 pts)")
    return dataclasses.replace(inputs, risk_list=risk_list, run_info={**inputs.run_info, **RUN})


def test_the_report_has_the_page_and_its_link_only_with_an_expansion_model():
    from healthscore.config import ReportParams
    from healthscore.report import render_report

    plain = render_report(_inputs(False), ReportParams())
    assert "growth.html" not in plain and "growth.html" not in plain["index.html"]
    files = render_report(_inputs(True), ReportParams())
    assert 'href="growth.html"' in files["index.html"] and 'href="../growth.html"' in next(
        text for name, text in files.items() if name.startswith("accounts/"))
    page = files["growth.html"]
    assert 'aria-current="page">Growth' in page and "Seats used: 120% (+4 pts)" in page
    assert "<script>alert(1)" not in page  # names are escaped
