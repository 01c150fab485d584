"""Lifecycle stages end to end (issue 18): simulated tables, a small LightGBM model
trained here, ``healthscore score`` with ``lifecycle.enabled`` and without, the stage
in the risk list, in ``explain``, on the account page and counted in the report, and
the backtest's metrics per stage. Off, the outputs are those of before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import make_params
from healthscore.data.schema import RISK_LIST_COLUMNS
from healthscore.model import ExportedModel, HealthScale
from healthscore.model.export import catalogue_dict, save_bundle
from healthscore.scoring import OutputLayout

AS_OF = "2024-06-01"
DAYS = 120
ON = ["--set", "lifecycle.enabled=true", "--set", f"lifecycle.onboarding_days={DAYS}"]


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("lifecycle")
    data, tables, labelled, names = simulated_renewals(root, accounts=240, months=24, seed=5)
    model = simulated_renewals.fit(labelled, names, 30)
    save_bundle(ExportedModel(model, HealthScale(), catalogue=catalogue_dict(names)), root / "model")
    return {"root": root, "data": data, "model": root / "model", "tables": tables}


def score(world, out, *extra) -> OutputLayout:
    assert main(["--set", f"score.out_dir={out}", *extra, "score", "--as-of", AS_OF,
                 "--data", str(world["data"]), "--model", str(world["model"])]) == 0
    return OutputLayout(out)


@pytest.fixture(scope="module")
def runs(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("lifecycle-runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # no params.yaml here: defaults
        return {"off": score(world, root / "off"), "on": score(world, root / "on", *ON)}


def tenure_at(tables, as_of: pd.Timestamp) -> pd.Series:
    """Days from the earlier of created_at and the first subscription start before
    ``as_of`` to ``as_of``, per account: written out here, not taken from the builder."""
    subs = tables.subscriptions
    first = subs.loc[subs["start_date"] < as_of].groupby("account_id")["start_date"].min()
    created = tables.accounts.set_index("account_id")["created_at"]
    created = created.where(created < as_of)
    begin = pd.concat([first, created], axis=1).min(axis=1)
    return (as_of - begin) / pd.Timedelta(days=1)


def test_the_risk_list_says_each_accounts_stage_at_the_as_of_date(world, runs):
    risk = pd.read_parquet(runs["on"].risk_list(AS_OF))
    assert list(risk.columns) == [*RISK_LIST_COLUMNS[:4], "lifecycle_stage", *RISK_LIST_COLUMNS[4:]]
    tenure = risk["account_id"].map(tenure_at(world["tables"], pd.Timestamp(AS_OF)))
    expected = np.where(tenure < DAYS, "onboarding", "mature")
    assert risk["lifecycle_stage"].tolist() == expected.tolist()
    assert {"onboarding", "mature"} <= set(risk["lifecycle_stage"])  # both occur in this book
    csv = pd.read_csv(runs["on"].risk_list(AS_OF, suffix="csv"))
    assert csv["lifecycle_stage"].tolist() == risk["lifecycle_stage"].tolist()


def test_off_the_outputs_are_those_of_before(runs):
    off = pd.read_parquet(runs["off"].risk_list(AS_OF))
    on = pd.read_parquet(runs["on"].risk_list(AS_OF))
    assert tuple(off.columns) == RISK_LIST_COLUMNS
    pd.testing.assert_frame_equal(on.drop(columns="lifecycle_stage"), off)
    page = (runs["off"].root / "report" / "index.html").read_text()
    assert "stage-counts" not in page and "lifecycle-stage" not in page
    for kind in ("history", "points"):
        pd.testing.assert_frame_equal(runs["on"].read_partition(kind, AS_OF), runs["off"].read_partition(kind, AS_OF))


def test_explain_and_the_report_show_the_stage(runs, capsys):
    risk = pd.read_parquet(runs["on"].risk_list(AS_OF))
    young = risk.loc[risk["lifecycle_stage"] == "onboarding"].iloc[0]
    assert main(["--set", f"score.out_dir={runs['on'].root}", *ON, "explain", str(young["account_id"])]) == 0
    assert "stage: onboarding" in capsys.readouterr().out
    assert main(["--set", f"score.out_dir={runs['off'].root}", "explain", str(young["account_id"])]) == 0
    assert "stage:" not in capsys.readouterr().out
    report = runs["on"].root / "report"
    index = (report / "index.html").read_text()
    counts = risk["lifecycle_stage"].value_counts()
    assert (f"By lifecycle stage: onboarding {counts['onboarding']:,}, mature {counts['mature']:,}."
            in index)
    pages = [p.read_text() for p in report.rglob("*.html") if p.name != "index.html"]
    assert any('data-testid="lifecycle-stage">mature<' in p or 'data-testid="lifecycle-stage">onboarding<' in p
               for p in pages)


def test_the_backtest_reports_metrics_per_stage(runs):
    from healthscore.backtest import summarise

    risk = pd.read_parquet(runs["on"].risk_list(AS_OF))
    lost = (risk["account_id"] % 5 == 0).astype(int)  # any outcome: the grouping is under test
    rows = risk.assign(lost=lost, term="annual", as_of=pd.Timestamp(AS_OF))
    metrics = summarise(rows).query("as_of == 'all' and group == 'stage'").set_index("value")
    assert set(metrics.index) == set(risk["lifecycle_stage"])
    for stage, part in rows.groupby("lifecycle_stage"):
        assert metrics.loc[stage, "accounts"] == len(part) and metrics.loc[stage, "lost"] == part["lost"].sum()
    assert "stage" not in set(summarise(rows.drop(columns="lifecycle_stage"))["group"])


def test_a_model_with_milestones_scores_young_accounts(world, tmp_path, monkeypatch):
    """Trained and scored with ``features.milestones.enabled``: the milestone columns
    reach the model, its points and the stored values."""
    from healthscore.dataset.pipeline import build_dataset
    from healthscore.io.sources import read_source
    from healthscore.model import HealthScoreModel

    monkeypatch.chdir(tmp_path)
    params = make_params({"features": {"milestones": {"enabled": True}}})
    tables, _ = read_source(params.data, source=world["data"])
    dataset = build_dataset(tables, params)
    labelled = dataset[dataset["label"].notna()]
    names = [c for c in dataset.columns if "__" in c]
    milestones = ["events__days_to_first_value", "events__seats_activated",
                  "events__first_days_count__7d", "events__first_days_count__30d"]
    assert set(milestones) <= set(names)
    model = HealthScoreModel(n_estimators=30, num_leaves=5, max_depth=3, min_child_samples=5,
                             early_stopping_rounds=0, holdout_share=0.0, n_jobs=1)
    model.fit(labelled[names], labelled["label"].astype(int))
    save_bundle(ExportedModel(model, HealthScale(), catalogue=catalogue_dict(names)), tmp_path / "model")
    out = tmp_path / "outputs"
    assert main(["--set", f"score.out_dir={out}", "--set", "features.milestones.enabled=true", *ON,
                 "score", "--as-of", AS_OF, "--data", str(world["data"]), "--model", str(tmp_path / "model"),
                 "--no-report"]) == 0
    points = OutputLayout(out).read_partition("points", AS_OF)
    assert {f"points:{n}" for n in milestones} <= set(points.columns)
    assert points["events__first_days_count__30d"].notna().any()


def test_the_run_records_the_lifecycle_params_only_when_on(runs):
    assert runs["on"].read_run(AS_OF)["params"]["lifecycle"] == {
        "enabled": True, "onboarding_days": DAYS, "trial_max_mrr": None}
    assert "lifecycle" not in runs["off"].read_run(AS_OF)["params"]
