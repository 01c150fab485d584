"""The exported bundle: save, load and predict equal in-memory, for both kinds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from healthscore.config import ScorecardParams
from healthscore.errors import ModelError
from healthscore.model.baselines import RuleScorecard
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.export import ExportedModel, load_bundle, load_exported, save_bundle
from healthscore.model.scale import HealthScale
from healthscore.model.synthetic import make_training_frame

SCALE = HealthScale(offset=40.0, pdo=15.0, red_below=45, green_from=72)


@pytest.fixture(scope="module")
def frame():
    dataset, _ = make_training_frame(400, random_state=2)
    labelled = dataset[dataset["label"].notna()]
    features = labelled[[c for c in labelled.columns if "__" in c]]
    return features, labelled["label"].to_numpy(dtype=int)


def _round_trip(exported, features, tmp_path):
    save_bundle(exported, tmp_path / "bundle")
    loaded = load_exported(tmp_path / "bundle")
    pd.testing.assert_frame_equal(loaded.predict_frame(features), exported.predict_frame(features))
    return loaded


def test_lightgbm_bundle_round_trip(frame, tmp_path):
    X, y = frame
    model = HealthScoreModel(n_estimators=30, min_child_samples=10, n_jobs=1).fit(X, y)
    exported = ExportedModel("lightgbm", SCALE, model=model, metrics={"test_model_roc_auc": 0.8, "x": float("nan")},
                             catalogue={"a__b": {"label": "A"}}, info={"run_id": "r1"})
    loaded = _round_trip(exported, X, tmp_path)
    assert loaded.scale == SCALE and loaded.kind == "lightgbm"
    assert loaded.metrics == {"test_model_roc_auc": 0.8, "x": None}  # strict JSON
    assert loaded.info["run_id"] == "r1" and loaded.version is None
    assert json.loads((tmp_path / "bundle" / "manifest.json").read_text())["feature_names"] == list(X.columns)
    out = loaded.predict_frame(X)
    assert list(out.columns) == ["risk_proba", "health_score", "band"]
    assert np.array_equal(out["health_score"], SCALE.score_from_logit(model.predict_logit(X)))


def test_scorecard_bundle_round_trip(frame, tmp_path):
    X, y = frame
    card = RuleScorecard.from_params(ScorecardParams(), SCALE).fit(X, y)
    loaded = _round_trip(ExportedModel("scorecard", SCALE, scorecard=card), X, tmp_path)
    assert loaded.kind == "scorecard"
    assert np.array_equal(loaded.health_score(X), card.health_score(X))


def test_an_mlflow_folder_layout_and_registry_info_are_read(frame, tmp_path):
    X, y = frame
    card = RuleScorecard.from_params(ScorecardParams(), SCALE).fit(X, y)
    save_bundle(ExportedModel("scorecard", SCALE, scorecard=card), tmp_path / "artifacts" / "bundle")
    (tmp_path / "registry.json").write_text(json.dumps({"model_version": "7"}))
    assert load_exported(tmp_path).version == "7"


def test_missing_or_foreign_folders_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="healthscore promote"):
        load_exported(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="no exported model found"):
        load_exported(tmp_path)
    with pytest.raises(ModelError, match="manifest"):
        load_bundle(tmp_path)
