"""`healthscore train --tune`: a seeded search on the validation window, one MLflow child
run per trial under the training run, in a temporary store."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from healthscore.cli import main
from healthscore.io.datasets import make_meta, write_dataset
from healthscore.model.synthetic import make_training_frame
from healthscore.model.tuning import SPACE

FAST = ["--set", "model.n_estimators=60", "--set", "model.learning_rate=0.1",
        "--set", "model.early_stopping_rounds=10", "--set", "model.min_child_samples=20",
        "--set", "model.n_jobs=1"]


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A training set on disk and an MLflow store of this test only."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    dataset, _ = make_training_frame(800, random_state=3)
    write_dataset(dataset, tmp_path / "dataset.parquet", meta=make_meta(data_fingerprint="t", params={}))
    return f"sqlite:///{tmp_path / 'mlruns.db'}"


def _runs(uri: str):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("healthscore")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def test_tune_logs_each_trial_as_a_child_run_of_the_training_run(store, capsys):
    # the tuned LightGBM is exported whatever the small-data selection says (this set is small)
    overrides = ["--set", f"tracking.uri={store}", *FAST, "--set", "tune.n_trials=3",
                 "--set", "small_data.select=false"]
    assert main([*overrides, "train", "--data", "dataset.parquet", "--tune"]) == 0
    assert "trained (ml)" in capsys.readouterr().out
    parents, children = _runs(store)
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.info.run_name for c in children) == ["trial-000", "trial-001", "trial-002"]
    for child in children:
        assert set(SPACE) <= set(child.data.params)
        assert "." not in child.data.params["num_leaves"]  # an int stays an int
        assert child.data.metrics["val_log_loss"] > 0 and child.data.metrics["trees"] >= 1
        assert child.data.metrics["seconds"] > 0
    # the best child is the one with the lowest validation loss, and the parent's tuned
    # settings are that child's
    best = [c for c in children if c.data.tags["best"] == "true"]
    assert len(best) == 1
    assert best[0].data.metrics["val_log_loss"] == min(c.data.metrics["val_log_loss"] for c in children)
    for name in SPACE:
        assert float(parent.data.params[f"tuned.{name}"]) == pytest.approx(float(best[0].data.params[name]))
    # trial 0 is the configured start point
    first = next(c for c in children if c.info.run_name == "trial-000")
    assert float(first.data.params["learning_rate"]) == pytest.approx(0.1)
    # the test window never enters the search: no child holds a test metric
    assert not any(k.startswith("test_") for c in children for k in c.data.metrics)


def test_train_without_tune_logs_no_child_run(store):
    assert main(["--set", f"tracking.uri={store}", *FAST, "train", "--data", "dataset.parquet"]) == 0
    parents, children = _runs(store)
    assert len(parents) == 1 and children == []
    assert not any(k.startswith("tuned.") for k in parents[0].data.params)
    assert mlflow.get_tracking_uri() != store  # the session restored the URI


def test_no_timeout_runs_every_trial_and_bad_settings_are_refused():
    from healthscore.config import CalibrationParams, ModelParams, SplitParams, TuneParams
    from healthscore.errors import ConfigError
    from healthscore.model.split import split_by_time
    from healthscore.model.training import feature_columns
    from healthscore.model.tuning import tune_model_params

    dataset, _ = make_training_frame(400, random_state=5)
    train, validation, _ = split_by_time(dataset, SplitParams())
    names = feature_columns(dataset)
    args = (train[names], train["label"].to_numpy(int), validation[names], validation["label"].to_numpy(int))
    model = ModelParams(n_estimators=30, early_stopping_rounds=5, min_child_samples=10, n_jobs=1)
    _, trials = tune_model_params(*args, model=model, calibration=CalibrationParams(),
                                  tune=TuneParams(n_trials=2, timeout_seconds=0))
    assert list(trials["trial"]) == [0, 1]
    for bad in (TuneParams(n_trials=0), TuneParams(timeout_seconds=-1)):
        with pytest.raises(ConfigError, match="tune: expected"):
            tune_model_params(*args, model=model, calibration=CalibrationParams(), tune=bad)
