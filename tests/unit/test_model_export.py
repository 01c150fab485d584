"""The exported bundle: save, load and predict equal in-memory, for both kinds."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from healthscore.config import ScorecardParams
from healthscore.errors import ModelError
from healthscore.model.baselines import RuleScorecard
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.export import (
    ExportedModel, load_bundle, load_exported, save_bundle, write_export_manifest,
)
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
    exported = ExportedModel(model, SCALE, metrics={"test_model_roc_auc": 0.8, "x": float("nan")},
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
    loaded = _round_trip(ExportedModel(card, SCALE), X, tmp_path)
    assert loaded.kind == "scorecard"
    assert np.array_equal(loaded.health_score(X), card.health_score(X))


def test_an_mlflow_folder_layout_and_registry_info_are_read(frame, tmp_path):
    X, y = frame
    card = RuleScorecard.from_params(ScorecardParams(), SCALE).fit(X, y)
    save_bundle(ExportedModel(card, SCALE), tmp_path / "data" / "bundle")
    (tmp_path / "registry.json").write_text(json.dumps({"model_version": "7"}))
    with pytest.raises(ModelError, match="no model_manifest.json.*healthscore promote"):
        load_exported(tmp_path)  # registry.json without the export manifest
    manifest = write_export_manifest(tmp_path)
    assert set(manifest["files"]) >= {"registry.json", "data/bundle/manifest.json", "data/bundle/scorecard.json"}
    loaded = load_exported(tmp_path)
    assert loaded.version == "7"
    assert loaded.info["bundle_fingerprint"] == manifest["bundle_fingerprint"]
    (tmp_path / "registry.json").write_text(json.dumps({"model_version": "8"}))
    with pytest.raises(ModelError, match=r"registry.json was changed after export"):
        load_exported(tmp_path)


def test_the_manifest_lists_every_file_and_the_fingerprint_follows_the_content(frame, tmp_path):
    X, y = frame
    card = RuleScorecard.from_params(ScorecardParams(), SCALE).fit(X, y)
    save_bundle(ExportedModel(card, SCALE), tmp_path / "a")
    save_bundle(ExportedModel(card, SCALE, metrics={"m": 1.0}), tmp_path / "b")
    first, second = (json.loads((tmp_path / n / "manifest.json").read_text()) for n in "ab")
    on_disk = {p.name for p in (tmp_path / "a").iterdir()} - {"manifest.json"}
    assert set(first["files"]) == on_disk
    assert first["files"]["scale.json"]["size"] == (tmp_path / "a" / "scale.json").stat().st_size
    assert first["files"]["scale.json"] == second["files"]["scale.json"]
    assert first["fingerprint"] != second["fingerprint"]  # metrics.json differs
    assert load_bundle(tmp_path / "a").info["bundle_fingerprint"] == first["fingerprint"]


def test_save_bundle_replaces_a_bundle_but_not_a_foreign_folder(frame, tmp_path):
    X, y = frame
    card = RuleScorecard.from_params(ScorecardParams(), SCALE).fit(X, y)
    exported = ExportedModel(card, SCALE, reliability=[{"predicted": 0.1}])
    save_bundle(exported, tmp_path / "bundle")
    save_bundle(dataclasses.replace(exported, reliability=None), tmp_path / "bundle")
    assert not (tmp_path / "bundle" / "reliability.json").exists()  # no stale file left
    load_bundle(tmp_path / "bundle")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ModelError, match="not empty and not an exported model"):
        save_bundle(exported, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_missing_or_foreign_folders_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="healthscore promote"):
        load_exported(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="no exported model found"):
        load_exported(tmp_path)
    with pytest.raises(ModelError, match="manifest"):
        load_bundle(tmp_path)
