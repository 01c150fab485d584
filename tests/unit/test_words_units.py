"""One precision and one unit per feature, its scale shown, currency everywhere, and the
small wording rules (first-seen signals, plurals)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.features import build_catalogue, build_features, render_phrase
from healthscore.features.catalogue import FeatureInfo
from healthscore.features.phrases import format_value, value_text
from healthscore.scoring import OutputLayout
from healthscore.scoring.calls import make_calls, render_calls
from healthscore.config import CallParams
from healthscore.scoring.changes import describe_change, reason_labels
from healthscore.scoring.wording import count_words
from test_features_reference import PARAMS, random_cutoffs, random_tables


@pytest.mark.parametrize("value, unit, spec, words", [
    (1.88, "csat", ".1f", "1.9 of 5"), (1.88, "csat", None, "1.9 of 5"), (7.0, "nps", ".0f", "7 of 10"),
    (15.0, "days", ".0f", "15 days"), (1.0, "days", ".0f", "1 day"), (0.4, "days", ".0f", "0 days"),
    (1200.0, "currency", ",.0f", "$1,200"), (300.0, "currency", "+,.0f", "+$300"),
    (-300.0, "currency", "+,.0f", "-$300"), (0.0, "currency", "+,.0f", "$0"),
    (0.5, "ratio", ".2f", "0.50x"), (0.16, "share", ".0%", "16%"), (0.16, "share", None, "16%"),
    (np.nan, "csat", ".1f", "none recorded"),
])
def test_a_value_has_one_wording_with_its_unit_and_scale(value, unit, spec, words):
    assert format_value(value, unit, spec=spec) == words


def test_the_currency_symbol_is_the_one_given():
    info = build_catalogue(["subscriptions__mrr_change__90d"])["subscriptions__mrr_change__90d"]
    row = {"subscriptions__mrr_change__90d": -250.0}
    assert render_phrase(info, row, currency="\u20ac") == "MRR change over the last 90 days: -\u20ac250"
    assert value_text(info, 250.0, currency="\u20ac") == "+\u20ac250"


def test_every_phrase_says_its_value_as_the_value_column_does():
    built = build_features(random_tables(3, scale=2), random_cutoffs(random_tables(3, scale=2), 3), PARAMS)
    names = [c for c in built.columns if "__" in c]
    categorical = [n for n in names if isinstance(built[n].dtype, pd.CategoricalDtype)]
    catalogue = build_catalogue(names, categorical=categorical)
    checked = 0
    for _, row in built.head(40).iterrows():
        for info in catalogue.values():
            if info.kind != "numeric" or pd.isna(row[info.name]):
                continue
            phrase, said = render_phrase(info, row), value_text(info, row[info.name])
            assert said in phrase, (info.name, said, phrase)
            assert "days days" not in phrase and " 1 days" not in phrase, phrase
            checked += 1
    assert checked > 100
    for name, scale in (("tickets__csat_mean__90d", "of 5"), ("surveys__nps_last", "of 10")):
        if name in catalogue:
            assert scale in render_phrase(catalogue[name], {name: 3.0})


def test_an_entry_stored_before_values_carried_units_reads_the_same():
    old = FeatureInfo("events__days_since_last", "Days since the last product event", "usage", "days",
                      "Last product event {value:.0f} days ago", "numeric", -1)
    assert render_phrase(old, {"events__days_since_last": 15.0}) == "Last product event 15 days ago"
    ratio = FeatureInfo("events__count__30d_vs_prev_30d", "Trend", "usage", "ratio",
                        "Product events vs before: {value:.2f}x", "numeric", 1)
    assert render_phrase(ratio, {"events__count__30d_vs_prev_30d": 0.5}) == "Product events vs before: 0.50x"
    new = build_catalogue(["events__days_since_last"])["events__days_since_last"]
    assert render_phrase(new, {"events__days_since_last": 1.0}) == "Last product event 1 day ago"


def test_a_signal_seen_for_the_first_time_says_so():
    line = {"feature": "signals__competitor_mention__days_since_last",
            "label": "Days since the last 'competitor mention' signal", "value_before": "none recorded",
            "value_after": "15 days", "points_change": -5.0}
    text = describe_change(line)
    assert text == "First 'competitor mention' signal 15 days ago (-5 pts)"
    assert describe_change({**line, "value_before": "missing"}) == text  # lines stored earlier
    # the report's alert box words it the same (its arrow aside)
    from healthscore.report.changes_view import change_reason
    assert change_reason([{**line, "value_now": line["value_after"]}], profile=(), profile_now=None) == \
        "First 'competitor mention' signal 15 days ago (\u22125.0 pts)"
    assert reason_labels(f"{text}; Open tickets: 0 -> 4 (-3 pts)") == [
        "First 'competitor mention' signal 15 days ago", "Open tickets"]
    # the call list still finds its signal, and so its next step
    risk = pd.DataFrame({"account_id": [1], "name": ["Acme"], "owner": ["Ana"], "arr": [1e5],
                         "arr_at_risk": [2e4], "health_score": [40], "band": ["red"],
                         "days_to_renewal": [300.0], "top_drivers": [""]})
    alerts = pd.DataFrame({"account_id": [1], "kind": ["new_red"], "reason": [text]})
    changes = pd.DataFrame([{**line, "account_id": 1, "family": "sentiment"}])
    calls = make_calls(risk, alerts, changes, params=CallParams(), catalogue={})
    assert calls["reason"].iloc[0] == text
    assert calls["next_step"].iloc[0].startswith("The customer mentioned a competitor")
    header = render_calls(calls, as_of="2026-07-01").splitlines()[0]
    assert header.endswith("(1 account, 1 owner)")
    assert count_words(2, "owner") == "2 owners" and count_words(1_200, "account") == "1,200 accounts"


# ------------------------------------------------------------------- on a real run

D1, D2 = "2024-05-01", "2024-06-01"
EURO = "\u20ac"


@pytest.fixture(scope="module")
def scored_in_euros(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("words-units")
    data, _, labelled, names = simulated_renewals(root, accounts=200, months=18, seed=11)
    simulated_renewals.save(labelled, names, 40, root / "model")
    out = root / "outputs"
    common = ["--set", f"score.out_dir={out}", "--set", f"report.currency={EURO}",
              "--set", "alerts.reason_min_points=0.5", "--set", "alerts.drop_points=2",
              "--set", "calls.renewal_days=200"]
    for as_of, report in ((D1, ["--no-report"]), (D2, [])):
        assert main([*common, "score", "--as-of", as_of, "--data", str(data),
                     "--model", str(root / "model"), *report]) == 0
    return OutputLayout(out), common


def test_the_terminal_prints_amounts_in_the_currency_of_the_params(scored_in_euros, capsys):
    layout, common = scored_in_euros
    risk = layout.read_table("risk_list", D2)
    capsys.readouterr()
    assert main([*common, "calls"]) == 0
    calls = capsys.readouterr().out
    assert EURO in calls and "$" not in calls
    for account in risk["account_id"].head(5):
        assert main([*common, "explain", str(account)]) == 0
        text = capsys.readouterr().out
        assert f"ARR {EURO}" in text and "$" not in text, text
    assert not risk["top_drivers"].str.contains("$", regex=False).any()
    changes = layout.read_table("changes", D2)
    assert not changes["value_after"].astype(str).str.contains("$", regex=False).any()
    # an amount among the change lines and the explanations carries the symbol
    catalogue = layout.read_run(D2)["catalogue"]
    money = [n for n, e in catalogue.items() if e["unit"] == "currency"]
    amounts = changes.loc[changes["feature"].isin(money) & changes["value_after"].notna(), "value_after"]
    assert len(amounts) and amounts.str.contains(EURO, regex=False).all(), amounts.head()
    account = changes.loc[changes["feature"].isin(money), "account_id"].iloc[0]
    assert main([*common, "explain", str(account)]) == 0
    text = capsys.readouterr().out
    amount_lines = [line for line in text.splitlines() if any(
        catalogue[n]["label"] in line for n in money)]
    assert amount_lines and all(EURO in line for line in amount_lines), text


def test_a_page_says_a_value_once_with_one_precision(scored_in_euros):
    layout, _ = scored_in_euros
    catalogue = layout.read_run(D2)["catalogue"]
    by_label = {e["label"]: e for e in catalogue.values()}
    pages = sorted((layout.root / "report" / "accounts").glob("*.html"))
    checked = 0
    for page in pages[:30]:
        html = page.read_text(encoding="utf-8")
        phrases = re.findall(r'<div class="driver-phrase">([^<]*)</div>', html)
        table = html.split('id="signals"')[1].split("</section>")[0]
        for label, value in re.findall(r"<tr><td>([^<]*)</td><td class=\"hide-sm\">[^<]*</td><td>([^<]*)</td>",
                                       table):
            entry = by_label.get(label)
            if entry is None or value == "none recorded":
                continue
            assert any(value in p for p in phrases), (page.name, label, value)
            if entry["unit"] == "csat":
                assert value.endswith(" of 5") and re.fullmatch(r"\d\.\d of 5", value)
            checked += 1
        assert "$" not in html
    assert checked > 0
