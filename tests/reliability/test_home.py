"""One home per concept (issue 13, deliverable 3): the scale and bands, risk in words,
a feature's phrase and value, and the output column names each have one
implementation, and the report builds from them instead of guessing.

Two accounts, base 60 points, one feature: every number is readable here.

=====  ========================  ======  ======
id     days overdue (value/pts)  score   band
=====  ========================  ======  ======
1      45 days / -12             48      red
2      0 days / +0               60      yellow
=====  ========================  ======  ======
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import healthscore
from healthscore.data import schema
from healthscore.config import ReportParams, ScoreParams
from healthscore.scoring.drivers import catalogue_entry
from healthscore.errors import DataError
from healthscore.features.catalogue import build_catalogue
from healthscore.features.phrases import feature_info, format_value, render_phrase
from healthscore.model.scale import HealthScale
from healthscore.report import ReportInputs, render_report
from healthscore.report import charts
from healthscore.report.inputs import normalise_inputs
from healthscore.scoring.risk_list import PhraseBook

SRC = Path(healthscore.__file__).parent
NOW = pd.Timestamp("2024-06-01")
FEATURE = "invoices__days_overdue__now"
CATALOGUE = {FEATURE: {"label": "Days overdue", "family": "billing", "unit": "days",
                       "phrase": "Oldest unpaid invoice: {value:.0f} days overdue"}}
SCALE = {"offset": 35.0, "pdo": 10.0, "red_below": 50, "green_from": 70}


def _risk_list(**renamed) -> pd.DataFrame:
    frame = pd.DataFrame({
        "account_id": [1, 2], "name": ["Acme", "Initech"], "owner": ["Dana", "Dana"],
        "segment": ["SMB", "SMB"], "arr": [10_000.0, 20_000.0], "health_score": [48, 60],
        "band": ["red", "yellow"], "risk_proba": [0.35, 0.11], "arr_at_risk": [3_500.0, 2_200.0],
        "top_drivers": ["Oldest unpaid invoice: 45 days overdue (-12 pts)", ""],
        "model_version": "1", "as_of": NOW,
    })
    return frame.rename(columns=renamed)


def _wide_points(prefix: str = schema.POINTS_PREFIX) -> pd.DataFrame:
    return pd.DataFrame({"account_id": [1, 2], schema.POINTS_BASE: [60.0, 60.0],
                         schema.POINTS_RESIDUAL: [0.0, 0.0], FEATURE: [45.0, 0.0],
                         f"{prefix}{FEATURE}": [-12.0, 0.0]})


def _inputs(**fields) -> ReportInputs:
    base = dict(as_of=NOW, risk_list=_risk_list(), points=_wide_points(),
                run_info={"scale": SCALE, "catalogue": CATALOGUE,
                          "horizon": {"horizon_days": 365}})
    base.update(fields)
    return ReportInputs(**base)


# ------------------------------------------------------------ output column names


def test_the_report_reads_the_schemas_names_and_guesses_no_alias():
    data = normalise_inputs(_inputs())
    assert list(data.risk_list["health_score"]) == [48, 60]
    acme = data.points[(data.points["account_id"] == 1) & (data.points["feature"] == FEATURE)]
    assert list(acme["points"]) == [-12.0]
    # an old name for the score is no longer read as the score: a named error instead
    with pytest.raises(DataError, match="'health_score'"):
        normalise_inputs(_inputs(risk_list=_risk_list(health_score="score")))
    # a risk column under another name is not the risk: it is implied by the score
    implied = normalise_inputs(_inputs(risk_list=_risk_list(risk_proba="churn_proba"))).risk_list
    assert implied.loc[0, "risk_proba"] == pytest.approx(float(HealthScale(**SCALE).risk_from_score(48)))
    assert implied.loc[0, "risk_proba"] != pytest.approx(0.35)
    # points under an old prefix are not points
    with pytest.raises(DataError, match=re.escape(schema.POINTS_PREFIX)):
        normalise_inputs(_inputs(points=_wide_points(prefix="points__")))


def test_scoring_writes_the_schemas_columns():
    from healthscore.scoring import alerts, changes, history, points, risk_list

    assert risk_list.RISK_LIST_COLUMNS is schema.RISK_LIST_COLUMNS
    assert changes.CHANGE_COLUMNS is schema.CHANGE_COLUMNS
    assert alerts.ALERT_COLUMNS is schema.ALERT_COLUMNS
    assert history.HISTORY_COLUMNS[:len(schema.HISTORY_HEAD_COLUMNS)] == schema.HISTORY_HEAD_COLUMNS
    assert points.points_column("x") == f"{schema.POINTS_PREFIX}x"


def test_the_changes_are_read_under_the_names_scoring_writes():
    changes = pd.DataFrame({
        "account_id": [1], "previous_as_of": [NOW - pd.Timedelta(days=31)], "rank": [1],
        "feature": [FEATURE], "label": ["Days overdue"], "family": ["billing"],
        "value_before": ["0"], "value_after": ["45"], "points_before": [0.0], "points_after": [-12.0],
        "points_change": [-12.0], "unclipped_change": [-12.0], "score_change": [-12],
        "against_direction": [False],
    })[list(schema.CHANGE_COLUMNS)]
    data = normalise_inputs(_inputs(changes=changes))
    line = data.changes.iloc[0]
    assert (line["value_before"], line["value_now"], line["points_now"]) == ("0", "45", -12.0)


# --------------------------------------------------------------- scale and bands


def test_the_scales_defaults_are_the_params_defaults():
    params = ScoreParams()
    assert HealthScale() == HealthScale.from_params(params)


def test_risk_and_score_map_back_and_forth_through_one_scale():
    scale = HealthScale(offset=40.0, pdo=20.0, red_below=45, green_from=75)
    risk = np.array([0.02, 0.3, 0.5, 0.9])
    assert np.allclose(scale.risk_from_score(scale.unclipped_from_risk(risk)), risk)
    assert scale.unclipped_from_risk(np.array([0.5]))[0] == pytest.approx(40.0)


def test_the_histogram_colours_each_bin_by_the_scales_band():
    scale = HealthScale(offset=35.0, pdo=10.0, red_below=45, green_from=75)
    svg = str(charts.score_histogram([46.0, 72.0, 80.0], ["yellow", "yellow", "green"], scale=scale))
    fills = {lo: fill for fill, lo in re.findall(r'fill="(#[0-9a-f]{6})"><title>Scores (\d+)-', svg)}
    colour = {v: k for k, v in charts.BAND_FILL.items()}
    assert len(fills) == 20
    for lo, fill in fills.items():
        assert colour[fill] == scale.band(int(lo)), lo
    assert colour[fills["45"]] == "yellow" and colour[fills["70"]] == "yellow"  # the run's bands


# ------------------------------------------------------------- a feature in words


def test_the_risk_list_the_terminal_and_the_report_word_a_feature_alike():
    entry = build_catalogue([FEATURE])[FEATURE]
    row = {FEATURE: 45.0}
    assert PhraseBook({FEATURE: entry}).describe(FEATURE, row) == render_phrase(entry, row) == \
        "Oldest unpaid invoice is 45 days past due"
    # an entry as catalogue.json stores it (a dict) reads the same
    as_dict = {k: getattr(entry, k) for k in ("label", "family", "unit", "phrase")}
    assert PhraseBook({FEATURE: as_dict}).describe(FEATURE, row) == render_phrase(entry, row)
    # the report's account page shows the same phrase
    page = render_report(_inputs(model_info={"catalogue": {FEATURE: as_dict}}), ReportParams())
    assert "Oldest unpaid invoice is 45 days past due" in page["accounts/1.html"]


def test_a_feature_without_an_entry_gets_one_label_and_family_everywhere():
    name = "exposure__lead_days"
    info = feature_info(name)
    assert info.family == catalogue_entry({}, name)["family"] == "contract"
    assert render_phrase(info, {name: 12.0}) == f"{info.label}: 12"
    assert PhraseBook({}).describe(name, {name: 12.0}) == f"{info.label}: 12"


@pytest.mark.parametrize("value, unit, spec, words", [
    (0.35, "share", None, "35%"), (0.35, None, ".0%", "35%"), (45.0, "days", None, "45 days"),
    (1.0, "days", None, "1 day"), (2.345, None, None, "2.35"), (1250.0, None, None, "1,250"),
    (None, "days", None, "none recorded"), (np.nan, None, ".0f", "none recorded"),
    ("SMB", None, ".0f", "SMB"),
])
def test_one_wording_of_a_value(value, unit, spec, words):
    assert format_value(value, unit, spec=spec) == words


# ------------------------------------------------------------- one definition each


def _definitions(name: str) -> list[str]:
    found = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
                found.append(str(path.relative_to(SRC)))
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found.append(str(path.relative_to(SRC)))
    return found


@pytest.mark.parametrize("name, home", [
    ("format_value", "features/phrases.py"), ("render_phrase", "features/phrases.py"),
    ("feature_label", "features/phrases.py"), ("money", "features/phrases.py"),
    ("is_missing", "features/phrases.py"), ("describe_risk", "scoring/risk_words.py"),
    ("horizon_words", "scoring/risk_words.py"),
    ("SOURCE_FAMILY", "features/catalogue.py"), ("HealthScale", "model/scale.py"),
    ("RISK_LIST_COLUMNS", "data/schema.py"), ("CHANGE_COLUMNS", "data/schema.py"),
    ("ALERT_COLUMNS", "data/schema.py"), ("POINTS_PREFIX", "data/schema.py"),
])
def test_each_concept_is_defined_once(name, home):
    assert _definitions(name) == [home]


def test_no_private_copy_of_the_missing_value_test():
    copies = [name for name in ("_missing", "_is_missing", "_given") if _definitions(name)]
    assert copies == [], {name: _definitions(name) for name in copies}


def test_a_driver_without_a_value_reads_the_same_on_the_page_and_in_the_terminal():
    points = _wide_points().astype({FEATURE: "float64"})
    points.loc[0, FEATURE] = np.nan  # Acme's days overdue unknown, yet it costs 12 points
    page = render_report(_inputs(points=points), ReportParams())["accounts/1.html"]
    terminal = PhraseBook(CATALOGUE).describe(FEATURE, {FEATURE: np.nan})
    assert terminal == "Days overdue: not available"
    assert f'class="driver-phrase">{terminal}<' in page
