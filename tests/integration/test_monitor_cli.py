"""`healthscore score` keeps each run's drift and `healthscore monitor` says whether to
retrain: simulated tables, a small model saved with its training reference, a stable
period, a planted usage shift, a model saved without a reference, and the calibration
of a past run whose outcomes have matured."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import make_params
from healthscore.model import ExportedModel, HealthScale, load_exported
from healthscore.model.export import catalogue_dict, save_bundle
from healthscore.model.exposure import Horizon
from healthscore.scoring import OutputLayout
from healthscore.monitor.drift import matured_calibration
from healthscore.monitor.reference import build_reference
from healthscore.monitor.verdict import summarise_drift

SHIFT_FROM = pd.Timestamp("2025-06-01")
EARLY, D1, D2 = "2024-06-01", "2025-09-01", "2025-10-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    from healthscore.dataset.pipeline import build_dataset

    root = tmp_path_factory.mktemp("monitor-cli")
    data, tables, labelled, names = simulated_renewals(root, accounts=500, months=36, seed=11)
    params = make_params({})
    exported = ExportedModel(simulated_renewals.fit(labelled, names, 30), HealthScale(),
                             catalogue=catalogue_dict(names))
    save_bundle(exported, root / "model-old")  # saved before drift monitoring: no reference
    dataset = build_dataset(tables, params)
    window = dataset[(dataset["cutoff_time"] < SHIFT_FROM)
                     & (dataset["cutoff_time"] >= SHIFT_FROM - pd.DateOffset(months=6))]
    exported.reference = build_reference(window, exported, bins=10, trained_until=SHIFT_FROM)
    save_bundle(exported, root / "model")
    # the planted shift: after a release, the largest segment keeps a quarter of its events
    shifted = root / "shifted"
    shutil.copytree(data, shifted)
    events = pd.read_parquet(shifted / "events.parquet")
    accounts = pd.read_parquet(shifted / "accounts.parquet")
    segment = accounts["segment"].value_counts().index[0]
    hit = events["account_id"].isin(accounts.loc[accounts["segment"] == segment, "account_id"]) \
        & (pd.to_datetime(events["timestamp"]) >= SHIFT_FROM)
    events.loc[~(hit & (np.arange(len(events)) % 4 != 0))].to_parquet(shifted / "events.parquet", index=False)
    return {"root": root, "data": data, "shifted": shifted, "tables": tables, "params": params}


def cli(out, command, *args):
    return main(["--set", f"score.out_dir={out}", command, *args])


def score(world, out, as_of, *, data=None, model="model", report=False):
    return cli(out, "score", "--as-of", as_of, "--data", str(data or world["data"]),
               "--model", str(world["root"] / model), *([] if report else ["--no-report"]))


def monitor(world, out, capsys, *, data=None, model="model"):
    capsys.readouterr()
    assert cli(out, "monitor", "--data", str(data or world["data"]), "--model",
               str(world["root"] / model)) == 0
    return capsys.readouterr().out


def test_the_reference_is_listed_in_the_bundle_manifest(world):
    manifest = json.loads((world["root"] / "model" / "manifest.json").read_text())
    assert "reference.json" in manifest["files"]
    loaded = load_exported(world["root"] / "model")
    assert loaded.reference["trained_until"] == "2025-06-01"
    assert load_exported(world["root"] / "model-old").reference is None


def test_a_stable_period_keeps_the_model(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    assert score(world, out, D1) == 0
    assert score(world, out, D2, report=True) == 0
    run = json.loads((out / "run" / f"{D2}.json").read_text())
    assert run["drift"]["reference"] and not run["drift"]["retrain"], run["drift"]["verdict"]
    table = pd.read_parquet(OutputLayout(out).drift(D2))
    assert table["name"].iloc[0] == "health_score" and len(table) > 100
    printed = monitor(world, out, capsys)
    assert f"monitor {D2}" in printed and "no retraining needed" in printed
    assert "band shares now vs training" in printed
    page = (out / "report" / "model.html").read_text()
    assert "Drift since training" in page and "No retraining needed" in page


def test_a_planted_usage_shift_recommends_retraining(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    assert score(world, out, D2, data=world["shifted"]) == 0
    run = json.loads((out / "run" / f"{D2}.json").read_text())
    assert run["drift"]["retrain"]
    printed = monitor(world, out, capsys, data=world["shifted"])
    assert "RETRAIN: feature drift" in printed
    assert "usage features drifted since training (PSI" in printed


def test_a_model_without_reference_still_scores(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    assert score(world, out, D2, model="model-old") == 0
    run = json.loads((out / "run" / f"{D2}.json").read_text())
    assert run["drift"]["verdict"][0].startswith("no training reference")
    assert not OutputLayout(out).drift(D2).exists()
    assert "no training reference" in monitor(world, out, capsys, model="model-old")


def test_matured_outcomes_judge_the_calibration_of_a_past_run(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    assert score(world, out, EARLY) == 0
    params, tables = world["params"], world["tables"]
    horizon = Horizon.from_params(params.timeline, params.labels)
    layout = OutputLayout(out)
    matured = matured_calibration(layout, tables, params, horizon=horizon, as_of=D2)
    assert matured["status"] == "measured" and matured["as_of"] == EARLY
    assert matured["accounts"] == len(layout.read_table("risk_list", EARLY))
    assert 0.5 < matured["roc_auc"] <= 1 and np.isfinite(matured["ece"])
    # the same run with its red accounts' risk overstated by 40 points: off at the red band
    path = layout.risk_list(EARLY)
    risk = pd.read_parquet(path)
    red = risk["band"] == "red"
    risk.loc[red, "risk_proba"] = np.minimum(risk.loc[red, "risk_proba"] + 0.4, 0.99)
    risk.to_parquet(path, index=False)
    off = matured_calibration(layout, tables, params, horizon=horizon, as_of=D2)
    summary = summarise_drift(None, bands=None, matured=off, age_days=np.nan,
                              monitor=params.monitor)
    assert summary["retrain"]
    assert any(line.startswith("calibration off by") and "at the red band" in line
               for line in summary["verdict"]), summary["verdict"]
    # too few matured accounts: not judged
    few = summarise_drift(None, bands=None, matured={**off, "accounts": 10}, age_days=np.nan,
                          monitor=params.monitor)
    assert not few["retrain"] and "not judged" in few["verdict"][1]


def test_drift_metrics_go_to_the_models_run_only_where_it_exists(tmp_path, mlflow_store):
    import mlflow
    from mlflow import MlflowClient

    from healthscore.tracking import log_drift_metrics

    tracking = make_params({}).tracking
    mlflow.set_tracking_uri(mlflow_store)  # the test's own store (conftest), whatever ran before
    with mlflow.start_run() as run:
        pass
    assert log_drift_metrics(run.info.run_id, {"drift_psi_score": 0.3, "drift_psi/a__b": 0.1},
                             params=tracking, as_of="2025-10-01")
    history = MlflowClient(tracking_uri=mlflow_store).get_metric_history(run.info.run_id, "drift_psi_score")
    assert [(m.step, m.value) for m in history] == [(20362, 0.3)]  # days since 1970-01-01
    assert not log_drift_metrics("0" * 32, {"x": 1.0}, params=tracking, as_of="2025-10-01")
    absent = tmp_path / "none" / "mlruns.db"
    assert not log_drift_metrics(run.info.run_id, {"x": 1.0}, as_of="2025-10-01",
                                 params=make_params({"tracking": {"uri": f"sqlite:///{absent}"}}).tracking)
    assert not absent.exists()
