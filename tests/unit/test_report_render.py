"""The HTML report as a pure function: words, escaping, arithmetic, layout, writing.

Three accounts scored on two dates; base 60 points, every number readable here. The
segment is a profile fact (``score.profile_features``): base + its points is the
account's starting point (61, 61, 62.5), never a driver.

=====  ===========================  =================  ===============  ==========
id     name                         now (points)       before           score
=====  ===========================  =================  ===============  ==========
1      Acme                         -12, -6, +1 -> 43  0, +2, +1 -> 63  63 -> 43
2      <script>alert(1)</script>    0, +8, +1 -> 69    same             69 -> 69
3      Initech                      0, +15, +2.5       0, +10, +2.5     73 -> 78
=====  ===========================  =================  ===============  ==========

Next renewals (365-day risk horizon): Acme in 20 days (renewal risk 30 %, $3,000 of its
$10,000 at risk), account 2 in 10 days (5 %, $1,000 of $20,000), Initech in 153 days.
"""

from __future__ import annotations

import base64
import hashlib
import html as html_module
import re

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import ReportParams
from healthscore.errors import DataError, HealthscoreError
from healthscore.report import ReportInputs, read_report_inputs, render_report, write_report
from healthscore.scoring.actions import suggest_next_steps
from healthscore.scoring.profile import contract_words, starting_point_words
from healthscore.report.inputs import normalise_inputs
from healthscore.report.points import points_to_long
from healthscore.report.portfolio import table_records
from healthscore.scoring.risk_words import describe_risk

NOW, BEFORE = pd.Timestamp("2024-06-01"), pd.Timestamp("2024-05-01")
FEATURES = ["invoices__days_overdue__now", "events__active_users__30d", "accounts__segment"]
CATALOGUE = {
    "invoices__days_overdue__now": {"label": "Days overdue", "family": "billing", "unit": "days",
                                    "phrase": "Oldest unpaid invoice: {value:.0f} days overdue"},
    "events__active_users__30d": {"label": "Active users", "family": "usage", "unit": "users",
                                  "phrase": "Active users: {value:.0f} of {accounts__seats:.0f} seats"},
    "accounts__segment": {"label": "Segment", "family": "account", "unit": "category",
                          "phrase": "Segment: {value}"},
}
BASE, OFFSET, FACTOR = 60.0, 35.0, 10.0 / np.log(2)
XSS_NAME = "<script>alert(1)</script>"
XSS_OWNER = '"><img src=x onerror=alert(2)>'

# account -> per-feature (value, points), now and before
NOW_ROWS = {1: [(45, -12.0), (3, -6.0), ("SMB", 1.0)],
            2: [(0, 0.0), (18, 8.0), ("SMB", 1.0)],
            3: [(0, 0.0), (24, 15.0), ("Enterprise", 2.5)]}
BEFORE_ROWS = {1: [(0, 0.0), (12, 2.0), ("SMB", 1.0)],
               2: [(0, 0.0), (18, 8.0), ("SMB", 1.0)],
               3: [(0, 0.0), (20, 10.0), ("Enterprise", 2.5)]}


HORIZON = {"horizon_days": 365, "lead_days": 0, "grace_days": 30}
SCALE = {"offset": OFFSET, "pdo": 10.0, "red_below": 50, "green_from": 70}


def _long(rows):
    return pd.DataFrame([{"account_id": a, "feature": f, "value": v, "points": p}
                         for a, items in rows.items() for f, (v, p) in zip(FEATURES, items)])


def _scores(rows):
    unclipped = pd.Series({a: BASE + sum(p for _, p in items) for a, items in rows.items()})
    score = np.clip(np.floor(unclipped + 0.5), 1, 100)
    band = np.where(score < 50, "red", np.where(score >= 70, "green", "yellow"))
    risk = 1 / (1 + np.exp((unclipped - OFFSET) / FACTOR))
    return unclipped, score, band, risk


def make_inputs(now_rows=None, **overrides) -> ReportInputs:
    now_rows = NOW_ROWS if now_rows is None else now_rows
    unclipped, score, band, risk = _scores(now_rows)
    _, score0, band0, risk0 = _scores(BEFORE_ROWS)
    risk_list = pd.DataFrame({
        "account_id": [1, 2, 3], "name": ["Acme", XSS_NAME, "Initech"],
        "owner": ["Dana", XSS_OWNER, "Dana"], "segment": ["SMB", "SMB", "Enterprise"],
        "arr": [10_000.0, 20_000.0, 90_000.0], "health_score": score.values, "band": band,
        "risk_proba": risk.values, "arr_at_risk": [10_000.0, 20_000.0, 90_000.0] * risk.values,
        "score_change": score.values - score0.values, "previous_band": band0,
        "top_drivers": ["Oldest unpaid invoice: 45 days overdue (-12 pts)", "", ""],
        "model_version": "7", "as_of": NOW, "base_points": BASE,
        "renewal_date": pd.to_datetime(["2024-06-21", "2024-06-11", "2024-11-01"]),
        "days_to_renewal": [20.0, 10.0, 153.0], "renewal_risk": [0.30, 0.05, 0.02],
    })
    history = pd.concat([
        pd.DataFrame({"account_id": [1, 2, 3], "as_of": BEFORE, "health_score": score0.values,
                      "band": band0, "risk_proba": risk0.values}),
        pd.DataFrame({"account_id": [1, 2, 3], "as_of": NOW, "health_score": score.values,
                      "band": band, "risk_proba": risk.values}),
    ])
    now, then = _long(now_rows), _long(BEFORE_ROWS)
    changes = now.merge(then, on=["account_id", "feature"], suffixes=("_after", "_before"))
    changes["points_change"] = changes["points_after"] - changes["points_before"]
    fields = dict(
        as_of=NOW, previous_as_of=BEFORE, risk_list=risk_list, history=history, points=now,
        previous_points=then, changes=changes,
        alerts=pd.DataFrame({"account_id": [1], "kind": ["band_drop"], "reason": ["yellow to red"]}),
        run_info={"model_version": "7", "counts": {"scored": 3}, "horizon": HORIZON},
        model_info={"version": "7", "kind": "lightgbm", "catalogue": CATALOGUE, "scale": SCALE,
                    "metrics": {"test_model_roc_auc": 0.8, "test_scorecard_roc_auc": 0.7,
                                "test_model_churn_rate_red": 0.4}},
    )
    fields.update(overrides)
    return ReportInputs(**fields)


@pytest.fixture(scope="module")
def files():
    return render_report(make_inputs(), ReportParams(top_movers=2))


def _numbers(html: str, testid: str) -> list[float]:
    found = re.findall(rf'data-testid="{testid}">([^<]*)<', html)
    return [float(t.replace("\u2212", "-").replace("+", "")) for t in found]


# -------------------------------------------------------------------- words


@pytest.mark.parametrize("risk, words", [
    (0.25, "about 1 in 4 accounts like this are lost within 12 months"),
    (0.37, "about 1 in 3 accounts like this are lost within 12 months"),
    (0.14, "about 1 in 7 accounts like this are lost within 12 months"),
    (0.6, "about 3 in 5 accounts like this are lost within 12 months"),
    (0.05, "about 1 in 20 accounts like this are lost within 12 months"),
    (0.95, "about 9 in 10 accounts like this are lost within 12 months"),
    (0.99, "almost all accounts like this are lost within 12 months"),
    (0.004, "fewer than 1 in 100 accounts like this are lost within 12 months"),
    (np.nan, "no churn estimate"),
])
def test_risk_in_words_reads_as_a_frequency_within_the_horizon(risk, words):
    assert describe_risk(risk, horizon_days=365, outcome=ReportParams().outcome) == words


@pytest.mark.parametrize("days, words", [(730, "within 2 years"), (180, "within 6 months"),
                                         (90, "within 3 months"), (45, "within 45 days")])
def test_the_horizon_is_said_as_a_reader_says_it(days, words):
    assert describe_risk(0.25, horizon_days=days).endswith(f"are lost {words}")
    assert describe_risk(0.25) == "about 1 in 4 accounts like this are lost"  # horizon unknown: unsaid


def test_one_wording_of_a_risk_in_the_terminal_and_the_report():
    from healthscore.scoring.account import AccountExplanation, render_account

    risk = float(make_inputs().risk_list.set_index("account_id").loc[1, "risk_proba"])
    assert risk == pytest.approx(0.365, abs=0.001)
    words = describe_risk(risk, horizon_days=365, outcome=ReportParams().outcome)
    assert words == "about 1 in 3 accounts like this are lost within 12 months"
    page = html_module.unescape(render_report(make_inputs(), ReportParams())["accounts/1.html"])
    assert f"{words}." in page
    terminal = render_account(AccountExplanation(
        account_id=1, as_of=NOW, health_score=43, band="red", risk_proba=risk, unclipped_score=43.0,
        base=BASE, model_version="7", horizon_days=365, profile_score=61.0))
    assert f"({words})." in terminal
    assert "Chance of being lost within 12 months: 36%" in terminal
    assert "within 12 months <strong>36%</strong>" in page


def test_starting_point_words():
    assert contract_words(365) == "annual" and contract_words(31) == "monthly"
    assert contract_words(730) == "2-year" and contract_words(None) is None
    assert starting_point_words(77.5, segment="Enterprise", contract_days=365) == \
        "Accounts like this \u2014 Enterprise, annual \u2014 score 78"
    assert starting_point_words(61.2, segment=None, contract_days=None) == "Accounts like this score 61"


def test_next_steps_follow_the_costliest_drivers_and_ignore_profile_drivers():
    drivers = [("invoices__days_overdue__now", "billing", "Days overdue", -12.0),
               ("accounts__segment", "account", "Segment", -9.0),
               ("surveys__nps_last", "sentiment", "NPS", -1.0)]  # below min_points
    steps = suggest_next_steps(drivers, min_points=2.0)
    assert len(steps) == 1 and "finance" in steps[0].step and steps[0].because == ("Days overdue",)
    custom = suggest_next_steps(drivers, min_points=2.0, overrides={"segment": "Check the plan fits."})
    assert [s.step for s in custom][:2] == ["Check the overdue invoices with finance before your next call, "
                                            "and agree who contacts the customer's billing team.",
                                            "Check the plan fits."]


# ------------------------------------------------------------------ layout


def test_wide_points_read_like_long_points():
    wide = pd.DataFrame({"account_id": [1, 2], "base": [60.0, 60.0], "residual": [0.0, 0.5],
                         "invoices__days_overdue__now": [45.0, 0.0], "points:invoices__days_overdue__now": [-12.0, 0.0],
                         "accounts__seats": [25.0, 10.0]})
    long = points_to_long(wide)
    scored = long[long["feature"] == "invoices__days_overdue__now"].set_index("account_id")
    assert scored.loc[1, "value"] == 45.0 and scored.loc[1, "points"] == -12.0
    seats = long[long["feature"] == "accounts__seats"]
    assert seats["points"].isna().all() and list(seats["value"]) == [25.0, 10.0]
    assert set(long.loc[long["feature"] == "__residual__", "points"]) == {0.0, 0.5}


def test_normalised_risk_list_keeps_the_arithmetic():
    data = normalise_inputs(make_inputs(risk_list=make_inputs().risk_list.drop(columns="base_points")))
    row = data.risk_list.set_index("account_id").loc[1]
    # without an explicit base it is recovered from the risk: base + points = unclipped
    assert row["unclipped_score"] == pytest.approx(43.0)
    assert row["base_points"] == pytest.approx(BASE)
    assert row["top_drivers"] == ["Oldest unpaid invoice: 45 days overdue (-12 pts)"]


def test_only_the_riskiest_accounts_keep_every_feature_but_sums_and_patterns_see_all(tmp_path):
    from healthscore.report.portfolio import driver_patterns

    _write_scoring_outputs(tmp_path / "outputs")  # wide points, as `score` writes them
    inputs = read_report_inputs(tmp_path / "outputs")
    full = normalise_inputs(inputs)
    one = normalise_inputs(inputs, detail_accounts=1, min_points=5.0)
    assert sorted(one.points["feature"]) == sorted(full.points.loc[full.points["account_id"] == 1, "feature"])
    # no page at all: no long row is left; the rows costing an account at least 5
    # points are counted (hurt), never kept
    lean = normalise_inputs(inputs, detail_accounts=0, min_points=5.0)
    assert lean.points.empty and full.hurt is None
    counted = lean.hurt["features"]
    assert sorted(zip(counted.index, counted["accounts"], counted["points"])) == [
        ("events__active_users__30d", 1, -6.0), ("invoices__days_overdue__now", 1, -12.0)]
    # what is shown for every account is unchanged
    pd.testing.assert_frame_equal(lean.risk_list, full.risk_list)
    assert driver_patterns(lean, min_points=5.0, currency="$") == \
        driver_patterns(full, min_points=5.0, currency="$")
    means = lean.feature_points.set_index("feature")["mean_abs_points"]
    assert means["invoices__days_overdue__now"] == pytest.approx(12.0 / 3)  # over all 3 accounts
    assert means["events__active_users__30d"] == pytest.approx((6.0 + 8.0 + 15.0) / 3)


def test_the_previous_runs_hurting_accounts_are_counted_without_its_long_rows(tmp_path):
    from healthscore.report.portfolio import driver_patterns

    before = {1: [(30, -7.0), (3, -6.0), ("SMB", 1.0)], 2: [(10, -5.0), (18, 8.0), ("SMB", 1.0)],
              3: [(0, 0.0), (20, 10.0), ("Enterprise", 2.5)]}
    _write_scoring_outputs(tmp_path / "outputs", before_rows=before)
    inputs = read_report_inputs(tmp_path / "outputs")
    full = normalise_inputs(inputs)
    lean = normalise_inputs(inputs, detail_accounts=0, min_points=5.0)
    assert full.previous_hurt is None and lean.previous_hurt is not None  # counted (hurt_accounts)
    assert lean.previous_points.empty  # no page: none of the previous run's long rows are kept
    patterns = driver_patterns(lean, min_points=5.0, currency="$")
    assert patterns == driver_patterns(full, min_points=5.0, currency="$")
    before_of = {row["feature"]: row["before"] for row in patterns["drivers"]}
    assert before_of["invoices__days_overdue__now"] == 2 and before_of["events__active_users__30d"] == 1


def test_risk_list_without_accounts_is_an_error():
    with pytest.raises(DataError, match="risk_list"):
        render_report(make_inputs(risk_list=make_inputs().risk_list.iloc[:0]), ReportParams())


# ------------------------------------------------------------------ render


def test_pages_for_the_riskiest_accounts_only():
    files = render_report(make_inputs(), ReportParams(max_accounts=2))
    assert set(files) == {"index.html", "model.html", "accounts/1.html", "accounts/2.html"}
    assert "for the 2 riskiest accounts of 3" in files["index.html"]


def test_render_is_pure_and_deterministic():
    inputs = make_inputs()
    before = inputs.risk_list.copy(), inputs.points.copy()
    first = render_report(inputs, ReportParams())
    assert first == render_report(inputs, ReportParams())
    pd.testing.assert_frame_equal(inputs.risk_list, before[0])
    pd.testing.assert_frame_equal(inputs.points, before[1])


def test_text_from_the_data_is_escaped_everywhere(files):
    for name, html in files.items():
        assert "<script>alert(1)" not in html, name
        assert "<img src=x" not in html, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in files["accounts/2.html"]
    table = re.search(r'<script type="application/json" id="risk-data">(.*?)</script>', files["index.html"], re.S)
    rows = table_records(table.group(1))
    assert {r["name"] for r in rows} == {"Acme", XSS_NAME, "Initech"}  # the JSON round-trips
    assert "\\u003cscript\\u003e" in table.group(1)


def test_only_the_hashed_inline_script_may_run(files):
    html = files["index.html"]
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html
    assert "script-src 'none'" in files["accounts/1.html"]


def test_nothing_is_loaded_from_a_network(files):
    for name, html in files.items():
        assert not re.search(r'(src|href)="(https?:)?//', html), name
        assert "@import" not in html and "url(http" not in html, name


def test_account_page_points_add_up_to_the_unclipped_score(files):
    html = files["accounts/1.html"]
    drivers = _numbers(html, "driver-points")
    assert sorted(drivers) == [-12.0, -6.0]  # the segment (+1) is a profile fact: in the start
    start = _numbers(html, "start")[0]
    assert start == pytest.approx(BASE + 1.0)
    total = start + sum(drivers) + _numbers(html, "others")[0]
    assert total == pytest.approx(_numbers(html, "unclipped")[0], abs=0.05) == pytest.approx(43.0)
    assert _numbers(html, "score") == [43.0]


def test_account_page_says_what_to_do_why_and_what_changed(files):
    html = files["accounts/1.html"]
    assert "about 1 in 3 accounts like this are lost within 12 months" in html
    assert "Oldest unpaid invoice: 45 days overdue" in html
    assert "Active users: 3 of" not in html  # no seats value: the phrase falls back
    assert "Active users: 3" in html
    assert "finance" in html.split('id="next-steps"')[1].split("</section>")[0]
    changed = html.split('id="changes"')[1].split("</section>")[0]
    assert "since 2024-05-01" in changed and "<strong>63</strong> to <strong>43</strong>" in changed
    assert changed.index("Days overdue") < changed.index("Active users")  # -12 before -8


def test_a_change_against_its_healthy_direction_is_not_shown_to_a_csm():
    changes = make_inputs().changes.assign(against_direction=False)
    changes.loc[(changes["account_id"] == 1) & (changes["feature"] == FEATURES[1]), "against_direction"] = True
    html = render_report(make_inputs(changes=changes), ReportParams())["accounts/1.html"]
    changed = html.split('id="changes"')[1].split("</section>")[0]
    # scoring sets the flag (tests/unit/test_history.py); the page leaves the line out, its
    # points joining "all other signals together"
    assert 'data-testid="change-note"' not in changed and "Active users" not in changed
    assert "Days overdue" in changed and "All other signals together" in changed
    plain = render_report(make_inputs(), ReportParams())["accounts/1.html"]  # no such column: no word
    assert 'data-testid="change-note"' not in plain


def test_overview_movers_alerts_and_patterns(files):
    html = files["index.html"]
    movers = html.split('id="movers"')[1].split("</section>")[0]
    assert "Acme" in movers and "\u221220" in movers and "+5" in movers
    alerts = html.split('id="alerts"')[1].split("</section>")[0]
    # the reason is worded from the changes, as the account page shows them
    assert "Acme" in alerts and "Dropped a band" in alerts
    assert "Days overdue: 0 days \u2192 45 days (\u221212.0 pts); Active users: 12 \u2192 3 (\u22128.0 pts)" in alerts
    stored = render_report(make_inputs(changes=make_inputs().changes.iloc[:0]), ReportParams())["index.html"]
    assert "yellow to red" in stored.split('id="alerts"')[1]  # no change lines: the stored reason
    patterns = html.split('id="patterns"')[1].split("</section>")[0]
    # Days overdue hurts 1 account now and none before; Active users hurts account 1 now only
    assert re.search(r"Days overdue now hurts 1 accounts, \+1 since", patterns)


def test_model_page_compares_the_model_with_its_baselines(files):
    from healthscore.report.modelpage import metric_table

    html = files["model.html"]
    assert "Model (LightGBM)" in html and "Rule scorecard" in html
    # the served model's column says what it is when the selection chose another learner
    per_pred = {"model": {"roc_auc": 0.7}, "logistic": {"roc_auc": 0.7}}
    labels = [c["label"] for c in metric_table(per_pred, kind="logistic")["columns"]]
    assert labels == ["Model (logistic regression)", "Logistic regression"]
    assert "<strong title=\"best of the real predictors\">0.800</strong>" in html
    assert "40%" in html  # observed churn in the red band


# ------------------------------------------------------------------ writing


def test_write_report_replaces_a_previous_report_as_a_whole(tmp_path):
    out = tmp_path / "report"
    write_report(make_inputs(), ReportParams(), out_dir=out)
    assert (out / "accounts" / "3.html").exists()
    index = write_report(make_inputs(), ReportParams(max_accounts=1), out_dir=out)
    assert index == out / "index.html" and index.exists()
    assert sorted(p.name for p in (out / "accounts").iterdir()) == ["1.html"]


def test_a_failed_report_leaves_the_previous_one(tmp_path):
    out = tmp_path / "report"
    write_report(make_inputs(), ReportParams(), out_dir=out)
    before = (out / "index.html").read_text()
    with pytest.raises(DataError):
        write_report(make_inputs(risk_list=make_inputs().risk_list.iloc[:0]), ReportParams(), out_dir=out)
    assert (out / "index.html").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no staging left behind


def test_a_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(HealthscoreError, match="holds other files"):
        write_report(make_inputs(), ReportParams(), out_dir=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


# ---------------------------------------------------- loader and command


def _write_scoring_outputs(root, before_rows=None):
    """The two dates in the layout `healthscore score` writes (wide points); the first
    date's points ``before_rows`` (default :data:`BEFORE_ROWS`)."""
    from healthscore.scoring.outputs import DateOutputs, OutputLayout, write_date

    inputs = make_inputs()
    layout = OutputLayout(root)
    for when, rows in ((BEFORE, BEFORE_ROWS if before_rows is None else before_rows), (NOW, NOW_ROWS)):
        long = _long(rows)
        wide = long.pivot(index="account_id", columns="feature", values="points").add_prefix("points:")
        values = long.pivot(index="account_id", columns="feature", values="value")
        wide = pd.concat([values.astype({"accounts__segment": "string"}).astype(
            {f: float for f in FEATURES[:2]}), wide], axis=1).reset_index()
        wide.insert(1, "base", BASE)
        wide.insert(2, "residual", 0.0)
        hist = inputs.history[inputs.history["as_of"] == when].drop(columns="as_of")
        risk = inputs.risk_list.assign(as_of=when)
        if when == BEFORE:
            risk = risk.assign(health_score=hist["health_score"].to_numpy(), band=hist["band"].to_numpy(),
                               score_change=np.nan, previous_band=None)
        changes = inputs.changes.astype({"value_before": str, "value_after": str})  # text, as scoring
        changes = changes.iloc[:0] if when == BEFORE else changes
        alerts = inputs.alerts.iloc[:0] if when == BEFORE else inputs.alerts
        run = {"as_of": when.strftime("%Y-%m-%d"), "model_version": "7", "catalogue": CATALOGUE,
               "scale": SCALE, "counts": {"scored": 3}, "horizon": HORIZON}
        write_date(layout, DateOutputs(when, risk, hist, wide, changes, alerts, run),
                   write_csv=lambda frame, path: frame.to_csv(path, index=False), update_latest=True)


def test_loader_reads_what_scoring_writes(tmp_path):
    _write_scoring_outputs(tmp_path / "outputs")
    inputs = read_report_inputs(tmp_path / "outputs")
    assert inputs.as_of == NOW and inputs.previous_as_of == BEFORE
    assert sorted(inputs.history["as_of"].unique()) == [BEFORE, NOW]
    data = normalise_inputs(inputs)
    acme = data.points[data.points["account_id"] == 1].set_index("feature")
    assert acme.loc["invoices__days_overdue__now", "points"] == -12.0
    assert acme.loc["invoices__days_overdue__now", "label"] == "Days overdue"  # from the run's catalogue
    assert data.risk_list.set_index("account_id").loc[1, "unclipped_score"] == pytest.approx(43.0)
    earlier = read_report_inputs(tmp_path / "outputs", as_of="2024-05-01")
    assert earlier.previous_as_of is None and earlier.history["as_of"].max() == BEFORE
    with pytest.raises(DataError, match=r"scored dates: 2024-05-01, 2024-06-01"):
        read_report_inputs(tmp_path / "outputs", as_of="2024-05-15")


def test_report_command_prints_the_index_path(tmp_path, capsys):
    _write_scoring_outputs(tmp_path / "outputs")
    code = main(["--set", f"score.out_dir={tmp_path / 'outputs'}", "--set",
                 f"tracking.export_dir={tmp_path / 'no-model'}", "report"])
    assert code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(tmp_path / "outputs" / "report" / "index.html")
    assert "Acme" in (tmp_path / "outputs" / "report" / "accounts" / "1.html").read_text()


def test_report_command_without_scoring_runs_is_one_readable_error(tmp_path, capsys):
    assert main(["--set", f"score.out_dir={tmp_path}", "report"]) == 2
    assert "no scoring runs under" in capsys.readouterr().err


# ------------------------------------------- renewals, baseline, ARR at risk, scale


def _section(html: str, section: str) -> str:
    return html_module.unescape(html.split(f'id="{section}"')[1].split("</section>")[0])


def test_renewals_within_the_window_most_arr_at_risk_first(files):
    renewals = _section(files["index.html"], "renewals")
    assert "Renewing in the next 90 days (2)" in renewals
    ids = re.findall(r'<tr data-id="([^"]+)"', renewals)
    # Acme: $10,000 x 30 % = $3,000 at risk; account 2: $20,000 x 5 % = $1,000; Initech renews later
    assert ids == ["1", "2"]  # not by ARR (2 first) nor by date (2 first)
    assert [float(t.replace("$", "").replace(",", "")) for t in
            re.findall(r'data-testid="renewal-at-risk">([^<]*)<', renewals)] == [3000.0, 1000.0]
    acme = renewals.split('data-id="1"')[1].split("</tr>")[0]
    for shown in ("2024-06-21", ">20<", "$10,000", "30%", ">43<", "Red", "Dana"):
        assert shown in acme, shown
    narrow = render_report(make_inputs(), ReportParams(renewal_days=15))["index.html"]
    assert re.findall(r'<tr data-id="([^"]+)"', _section(narrow, "renewals")) == ["2"]


def test_the_next_renewal_is_on_the_account_page_and_in_the_risk_table(files):
    page = _section(files["accounts/1.html"], "account-title")
    assert "Next renewal <strong>2024-06-21</strong>, in 20 days: <strong>$10,000</strong> ARR at stake" in page
    assert 'data-testid="renewal-risk">30%<' in page
    table = re.search(r'<script type="application/json" id="risk-data">(.*?)</script>', files["index.html"], re.S)
    acme = next(r for r in table_records(table.group(1)) if r["id"] == "1")
    assert (acme["renewal"], acme["days"], acme["renewal_risk"], acme["arr"]) == ("2024-06-21", 20, 0.3, 10_000.0)


def test_profile_facts_are_the_starting_point_and_never_drivers():
    # the segment now costs Acme 9 points: a profile fact, so it lowers the start, not a driver
    rows = {**NOW_ROWS, 1: [(45, -12.0), (3, -6.0), ("SMB", -9.0)]}
    inputs = make_inputs(rows)
    inputs = make_inputs(rows, points=pd.concat([inputs.points, pd.DataFrame(
        {"account_id": [1], "feature": ["subscriptions__contract_days"], "value": [365.0], "points": [np.nan]})]))
    files = render_report(inputs, ReportParams(next_steps={"segment": "Check the plan fits."}))
    page = html_module.unescape(files["accounts/1.html"])
    assert "Accounts like this \u2014 SMB, annual \u2014 score 51." in page  # 60 - 9
    assert _numbers(files["accounts/1.html"], "start") == [51.0]
    hurting = page.split('id="hurting"')[1].split("</section>")[0]
    assert 'data-feature="accounts__segment"' not in page and "Segment" not in hurting
    assert "Check the plan fits." not in page  # no next step from a profile fact
    changed = _section(files["accounts/1.html"], "changes")
    # SMB -> SMB: the segment's line is the starting point's, 61 -> 51
    assert "Segment" not in changed and "Starting point for accounts like this" in changed
    assert re.search(r"<td>61</td><td>51</td>\s*<td class=\"num\"><span class=\"down\">\u221210.0", changed)
    index = html_module.unescape(files["index.html"])
    patterns, alerts = _section(files["index.html"], "patterns"), _section(files["index.html"], "alerts")
    assert "Segment:" not in patterns and "<td>Segment</td>" not in patterns
    assert "Segment" not in alerts and "Starting point for accounts like this: 61 \u2192 51" in alerts
    assert "Segment:" not in index.split('id="risk-list"')[0].split('id="patterns"')[1]


def test_why_it_changed_never_shows_an_unchanged_value():
    changes = make_inputs().changes.copy()
    # Initech: days overdue 0 -> 0, yet its points moved (a tree weighs it with the others)
    line = (changes["account_id"] == 3) & (changes["feature"] == "invoices__days_overdue__now")
    changes.loc[line, ["points_after", "points_change"]] = [-0.7, -0.7]
    alerts = pd.DataFrame({"account_id": [3], "kind": ["score_drop"],
                           "reason": ["Days overdue: 0, unchanged, weighs differently (-0.7 pts)"]})
    files = render_report(make_inputs(changes=changes, alerts=alerts), ReportParams())
    changed = _section(files["accounts/3.html"], "changes")
    assert "Days overdue" not in changed and "unchanged" not in changed
    assert "Active users" in changed and "All other signals together" in changed and "\u22120.7" in changed
    page = _section(files["accounts/3.html"], "account-title")
    index_alerts = _section(files["index.html"], "alerts")
    for shown in (page, index_alerts):
        assert "Days overdue" not in shown and "unchanged" not in shown
    assert "All other signals together (\u22120.7 pts)" in index_alerts


ARR_ROWS = [
    {"by": "all", "group": "all", "accounts": 3, "arr": 120_000.0, "expected_arr_lost": 41_000.0,
     "arr_lost_low": 10_000.0, "arr_lost_high": 90_000.0, "expected_accounts_lost": 1.2,
     "accounts_lost_low": 0, "accounts_lost_high": 2},
    {"by": "segment", "group": "SMB", "accounts": 2, "arr": 30_000.0, "expected_arr_lost": 11_000.0,
     "arr_lost_low": 0.0, "arr_lost_high": 30_000.0, "expected_accounts_lost": 0.9,
     "accounts_lost_low": 0, "accounts_lost_high": 2},
    {"by": "segment", "group": "Enterprise", "accounts": 1, "arr": 90_000.0, "expected_arr_lost": 30_000.0,
     "arr_lost_low": 0.0, "arr_lost_high": 90_000.0, "expected_accounts_lost": 0.3,
     "accounts_lost_low": 0, "accounts_lost_high": 1},
    {"by": "owner", "group": "Dana", "accounts": 2, "arr": 100_000.0, "expected_arr_lost": 35_000.0,
     "arr_lost_low": 10_000.0, "arr_lost_high": 90_000.0, "expected_accounts_lost": 0.8,
     "accounts_lost_low": 0, "accounts_lost_high": 2},
    {"by": "owner", "group": XSS_OWNER, "accounts": 1, "arr": 20_000.0, "expected_arr_lost": 6_000.0,
     "arr_lost_low": 0.0, "arr_lost_high": 20_000.0, "expected_accounts_lost": 0.3,
     "accounts_lost_low": 0, "accounts_lost_high": 1},
]


def test_arr_at_risk_is_said_with_its_range_in_total_and_per_group():
    run = {"model_version": "7", "horizon": HORIZON, "arr_at_risk": ARR_ROWS}
    files = render_report(make_inputs(run_info=run), ReportParams())
    arr = _section(files["index.html"], "arr-at-risk")
    assert ("All 3 accounts together are expected to lose $41k of ARR in the next 12 months; "
            "80% range $10k\u2013$90k.") in arr
    assert "about 1 account (80% range 0\u20132) lost" in arr
    segments = arr.split('id="arr-by-segment"')[1].split("</table>")[0]
    assert segments.index("Enterprise") < segments.index("SMB")  # most expected loss first
    assert "$30k</td><td class=\"num\">$0\u2013$90k" in segments
    patterns = _section(files["index.html"], "patterns")
    assert "expected to lose $11k of ARR in the next 12 months; 80% range $0\u2013$30k" in patterns
    assert "expected to lose $35k of ARR in the next 12 months; 80% range $10k\u2013$90k" in patterns
    kpi = files["index.html"].split('data-testid="kpi-arr-lost">')[1].split("</div></div>")[0]
    assert kpi.startswith("$41k</div>") and "in the next 12 months (80% range $10k\u2013$90k)" in kpi
    assert "<img src=x" not in files["index.html"]


def test_without_a_range_the_expected_loss_is_the_risk_lists_sum(files):
    arr = _section(files["index.html"], "arr-at-risk")
    # ARR x risk: 10,000 x 36.5 % + 20,000 x 8.6 % + 90,000 x 5.0 %
    assert make_inputs().risk_list["arr_at_risk"].sum() == pytest.approx(3_649 + 1_728 + 4_496, abs=1)
    assert "expected to lose $9,873 of ARR in the next 12 months." in arr
    assert "no range" in arr


def test_the_scale_and_bands_are_the_runs():
    """The run's scale draws the bands, not the model's nor a default of the report."""
    run = {"model_version": "7", "horizon": HORIZON,
           "scale": {"offset": OFFSET, "pdo": 10.0, "red_below": 45, "green_from": 75}}
    inputs = make_inputs(run_info=run, risk_list=make_inputs().risk_list.drop(columns="band"))
    data = normalise_inputs(inputs)
    assert dict(zip(data.risk_list["account_id"], data.risk_list["band"])) == {1: "red", 2: "yellow", 3: "green"}
    footer = render_report(inputs, ReportParams())["index.html"].split("<footer")[1]
    assert "red below 45, yellow from 45 to 74, green from 75" in footer
    no_scale = make_inputs(model_info={"version": "7", "catalogue": CATALOGUE})
    with pytest.raises(DataError, match="scale"):
        render_report(no_scale, ReportParams())


def test_a_large_book_lists_its_riskiest_renewals_and_counts_every_one():
    from healthscore.report.portfolio import RENEWALS_LISTED, renewals_view

    n = RENEWALS_LISTED + 37
    rng = np.random.default_rng(4)
    book = pd.DataFrame({
        "account_id": np.arange(n), "name": [f"A{i}" for i in range(n)], "owner": "Dana", "band": "red",
        "renewal_date": pd.Timestamp("2024-07-01"), "days_to_renewal": rng.integers(0, 91, n).astype(float),
        "arr": rng.integers(1, 50, n) * 1000.0, "renewal_risk": rng.random(n), "health_score": 40.0,
    })
    view = renewals_view(book, days=90, pages={}, currency="$")
    at_risk = book["arr"] * book["renewal_risk"]
    assert len(view["rows"]) == RENEWALS_LISTED and view["due"] == n and view["unlisted"] == 37
    assert view["accounts"] == f"{n:,}"
    assert [r["account_id"] for r in view["rows"]] == \
        [str(i) for i in at_risk.sort_values(ascending=False, kind="stable").index[:RENEWALS_LISTED]]
    from healthscore.scoring import wording as text

    assert view["at_risk"] == text.money(at_risk.sum(), symbol="$", compact=True)  # every renewal counted
