"""The notebooks' helpers: profiles, churn tables, signal comparisons, SHAP objects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from healthscore import analysis
from healthscore.errors import DataError
from healthscore.scoring.explain import explain_model
from healthscore.features import build_catalogue
from healthscore.model import HealthScale, HealthScoreModel
from healthscore.model.export import ExportedModel
from healthscore.model.synthetic import make_training_frame
from healthscore.sim.simulate import SimulationSpec
from healthscore.data.tables import Tables

T = pd.Timestamp
SCALE = HealthScale(offset=35.0, pdo=10.0, red_below=50, green_from=70)


def _times(*texts) -> pd.Series:
    return pd.Series(pd.to_datetime(list(texts), format="ISO8601")).astype("datetime64[us]")


def _tables() -> Tables:
    accounts = pd.DataFrame({
        "account_id": np.array([1, 2, 3], dtype=np.int64),
        "segment": ["SMB", None, "Enterprise"],
        "created_at": _times("2023-02-10", "2023-04-01", "2022-12-31"),
    })
    subscriptions = pd.DataFrame({
        "account_id": np.array([1, 2, 3], dtype=np.int64),
        "subscription_id": ["s1", "s2", "s3"],
        "start_date": _times("2023-01-15", "2023-01-20", "2023-03-02"),
        "end_date": _times("2024-01-15", "2024-01-20", "2024-03-02"),
        "mrr": [10.0, np.nan, 30.0],
    })
    events = pd.DataFrame({
        "account_id": np.array([1, 1, 3], dtype=np.int64),
        "user_id": ["u", "v", "w"],
        "timestamp": _times("2023-01-05", "2023-01-31 23:59:00", "2023-03-01"),
        "event": ["login"] * 3,
    })
    return Tables({"accounts": accounts, "subscriptions": subscriptions, "events": events},
                  T("2024-04-01"))


# ------------------------------------------------------------------- locations


def test_find_project_root_walks_up_to_the_markers(tmp_path):
    project = tmp_path / "project"
    (project / "notebooks" / "deep").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    (project / "params.yaml").write_text("")
    assert analysis.find_project_root(project / "notebooks" / "deep") == project.resolve()


def test_find_project_root_falls_back_to_the_package_source(tmp_path):
    root = analysis.find_project_root(tmp_path)  # no markers above a temporary folder
    assert (root / "pyproject.toml").is_file() and (root / "params.yaml").is_file()
    assert (root / "src" / "healthscore" / "analysis.py").is_file()


def test_ensure_source_prefers_the_given_folder_then_the_fallback(tmp_path):
    spec = SimulationSpec(n_accounts=3, months=1, seed=0)
    given, fallback = tmp_path / "given", tmp_path / "fallback"
    given.mkdir()
    fallback.mkdir()
    assert analysis.ensure_source(given, fallback=fallback, spec=spec) == given
    assert analysis.ensure_source(None, fallback=fallback, spec=spec) == fallback
    with pytest.raises(DataError, match="missing"):
        analysis.ensure_source(tmp_path / "missing", fallback=fallback, spec=spec)


def test_ensure_source_simulates_when_nothing_is_there(tmp_path):
    spec = SimulationSpec(n_accounts=3, months=1, seed=0)
    made = analysis.ensure_source(None, fallback=tmp_path / "absent", spec=spec)
    assert made != tmp_path / "absent"
    assert (made / "accounts.parquet").is_file() and (made / "subscriptions.parquet").is_file()
    assert len(pd.read_parquet(made / "accounts.parquet")) == 3


# --------------------------------------------------------------------- profile


def test_missing_values_counts_per_column():
    missing = analysis.missing_values(_tables()).set_index(["table", "column"])
    assert missing.loc[("accounts", "segment"), "missing"] == 1
    assert missing.loc[("accounts", "segment"), "share"] == pytest.approx(1 / 3)
    assert missing.loc[("subscriptions", "mrr"), "missing"] == 1
    assert missing.loc[("events", "event"), "missing"] == 0
    assert list(missing.index.get_level_values("table").unique()) == ["accounts", "subscriptions", "events"]


def test_monthly_rows_fills_empty_months_with_zero():
    monthly = analysis.monthly_rows(_tables())
    assert list(monthly.index) == [T("2023-01-01"), T("2023-02-01"), T("2023-03-01")]
    assert monthly["events"].tolist() == [2, 0, 1]          # 23:59 on Jan 31 is January
    assert monthly["subscriptions"].tolist() == [2, 0, 1]   # by start_date
    assert "accounts" not in monthly                         # no event time


# ------------------------------------------------------------------------ churn


def _dataset() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": np.array([1, 2, 3, 1], dtype=np.int64),
        "cutoff_time": _times("2023-10-17", "2023-10-22", "2023-12-03", "2024-01-01"),
        "renewal_date": _times("2024-01-15", "2024-01-20", "2024-03-02", None),
        "label": pd.array([1, 0, 0, pd.NA], dtype="Int8"),
        "events__count__30d": [1.0, 5.0, 9.0, 2.0],
    })


def test_renewal_outcomes_drops_censored_rows_and_adds_groups():
    out = analysis.renewal_outcomes(_dataset(), _tables())
    assert out["account_id"].tolist() == [1, 2, 3]
    assert out["label"].tolist() == [1, 0, 0]
    assert out["segment"].tolist() == ["SMB", "(unknown)", "Enterprise"]
    assert out["cohort"].tolist() == ["2023Q1", "2023Q2", "2022Q4"]
    assert out["renewal_month"].tolist() == [T("2024-01-01"), T("2024-01-01"), T("2024-03-01")]


def test_renewal_month_falls_back_to_the_cutoff_in_horizon_mode():
    dataset = _dataset().assign(renewal_date=pd.NaT, label=pd.array([1, 0, 0, 1], dtype="Int8"))
    out = analysis.renewal_outcomes(dataset, _tables())
    assert out["renewal_month"].tolist() == [
        T("2023-10-01"), T("2023-10-01"), T("2023-12-01"), T("2024-01-01")
    ]


def test_churn_rate_by_counts_and_brackets_the_rate():
    outcomes = pd.DataFrame({"segment": ["A"] * 4 + ["B"] * 2, "label": [1, 0, 0, 0, 1, 1]})
    table = analysis.churn_rate_by(outcomes, "segment").set_index("segment")
    assert table.loc["A", ["rows", "churned"]].tolist() == [4, 1]
    assert table.loc["A", "churn_rate"] == pytest.approx(0.25)
    assert table.loc["B", "churn_rate"] == pytest.approx(1.0)
    assert (table["low"] <= table["churn_rate"]).all() and (table["churn_rate"] <= table["high"]).all()
    assert table.loc["B", "high"] == pytest.approx(1.0) and table.loc["B", "low"] < 1.0
    with pytest.raises(DataError, match="cohort"):
        analysis.churn_rate_by(outcomes, "cohort")


def test_compare_signals_direction_and_missing_share():
    dataset = pd.DataFrame({
        "label": pd.array([0, 0, 1, 1, pd.NA], dtype="Int8"),
        "up": [1.0, 2.0, 3.0, 4.0, 100.0],      # higher with churn
        "down": [4.0, 3.0, 2.0, 1.0, 100.0],    # lower with churn
        "gappy": [1.0, np.nan, 5.0, np.nan, 1.0],
    })
    table = analysis.compare_signals(dataset, ["up", "down", "gappy"]).set_index("feature")
    assert table.loc["up", "roc_auc"] == 1.0 and table.loc["down", "roc_auc"] == 0.0
    assert table.loc["up", "retained_median"] == 1.5 and table.loc["up", "churned_median"] == 3.5
    assert table.loc["gappy", "missing_share"] == 0.5      # over labelled rows only
    assert table.loc["gappy", "churned_mean"] == 5.0
    with pytest.raises(DataError, match="nope"):
        analysis.compare_signals(dataset, ["nope"])


# ---------------------------------------------------------------- explanations


@pytest.fixture(scope="module")
def fitted():
    dataset, _ = make_training_frame(300, months=24, random_state=3)
    dataset = dataset.loc[dataset["label"].notna()].reset_index(drop=True)
    names = [c for c in dataset.columns if "__" in c]
    model = HealthScoreModel(n_estimators=40, min_child_samples=20, random_state=0, n_jobs=1)
    model.fit(dataset[names], dataset["label"].to_numpy(dtype=int))
    return model, dataset[names].head(30)


def test_shap_explanation_in_log_odds_adds_up_to_the_margin(fitted):
    model, X = fitted
    explanation = analysis.shap_explanation(model, X)
    assert explanation.values.shape == X.shape
    total = explanation.base_values + explanation.values.sum(axis=1)
    np.testing.assert_allclose(total, model.predict_margin(X), atol=1e-9)
    # categories become level codes, for colouring
    segment = list(X.columns).index("accounts__segment")
    assert np.issubdtype(explanation.data.dtype, np.floating)
    assert set(np.unique(explanation.data[:, segment])) <= {0.0, 1.0, 2.0}


def test_shap_explanation_in_points_adds_up_to_the_score(fitted):
    model, X = fitted
    exported = ExportedModel(model, SCALE)
    labels = {"events__seat_utilisation__30d": "Seat utilisation"}
    points = analysis.shap_explanation(exported, X, labels=labels)
    reference = explain_model(exported, X)
    total = points.base_values + points.values.sum(axis=1)
    np.testing.assert_allclose(total, reference.unclipped, atol=1e-9)
    np.testing.assert_allclose(points.values, reference.points)
    assert "Seat utilisation" in points.feature_names
    # the same with a bare model and an explicit scale
    bare = analysis.shap_explanation(model, X, scale=SCALE)
    np.testing.assert_allclose(bare.values, reference.points)


def test_driver_table_lists_the_largest_points_in_words(fitted):
    model, X = fitted
    explanation = explain_model(model, X, scale=SCALE)
    catalogue = build_catalogue(list(X.columns))
    row = int(np.argmin(explanation.health_score))
    table = analysis.driver_table(explanation, X, row, catalogue=catalogue, k=3)
    hurting = table.query("direction == 'hurting'")
    helping = table.query("direction == 'helping'")
    assert len(hurting) <= 3 and len(helping) <= 3 and len(table) > 0
    assert (hurting["points"] < 0).all() and (helping["points"] > 0).all()
    assert hurting["points"].is_monotonic_increasing and helping["points"].is_monotonic_decreasing
    worst = int(np.argmin(explanation.points[row]))
    assert hurting.iloc[0]["feature"] == explanation.feature_names[worst]
    assert hurting.iloc[0]["points"] == pytest.approx(explanation.points[row, worst])
    assert all(isinstance(p, str) and p for p in table["phrase"])
    # an exported catalogue (plain dicts) gives the same phrases
    as_dicts = {name: dataclasses.asdict(info) for name, info in catalogue.items()}
    again = analysis.driver_table(explanation, X, row, catalogue=as_dicts, k=3)
    assert again["phrase"].tolist() == table["phrase"].tolist()
