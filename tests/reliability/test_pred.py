"""One Predictor contract, MLflow at the edge (issue 13, deliverables 2 and 4).

* Bundles written by the code before the Predictor contract (``data/base_bundles``,
  made by ``data/make_base_bundles.py`` at commit 7f7a9a0: a renewal LightGBM model, a
  hazard model and a rule scorecard) load, score and fingerprint exactly as then, and
  saving them again writes the same files, byte for byte but the creation time.
* Each predictor class keeps the contract, and ``ExportedModel`` only calls it.
* The model package imports neither MLflow nor ``healthscore.tracking``; a URI goes
  through ``tracking.load_model``.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import ModelError
from healthscore.scoring.explain import explain_model, explain_predictor
from healthscore.model.baselines import RuleScorecard
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.export import ExportedModel, load_exported, save_bundle
from healthscore.model.predictor import HazardPredictor, check_predictor
from healthscore.model.scale import HealthScale
from healthscore.scoring.engine import explain_rows, model_identity

BASE = Path(__file__).parent / "data" / "base_bundles"
KINDS = ("renewal", "hazard", "scorecard")
SRC = Path(__file__).resolve().parents[2] / "src" / "healthscore"


def _case(name: str) -> tuple[ExportedModel, pd.DataFrame, pd.DataFrame]:
    exported = load_exported(BASE / name / "bundle")
    inputs = pd.read_parquet(BASE / name / "inputs.parquet")
    expected = pd.read_parquet(BASE / name / "expected.parquet")
    return exported, inputs, expected


@pytest.mark.parametrize("name", KINDS)
def test_a_bundle_of_the_base_code_scores_and_fingerprints_as_then(name):
    exported, inputs, expected = _case(name)
    pd.testing.assert_frame_equal(exported.predict_frame(inputs), expected, check_exact=True)
    fingerprints = json.loads((BASE / "fingerprints.json").read_text())
    assert model_identity(exported)[1] == fingerprints[name]


@pytest.mark.parametrize("name", KINDS)
def test_saving_a_base_bundle_again_writes_the_same_files(name, tmp_path):
    exported, _, _ = _case(name)
    save_bundle(exported, tmp_path / "again")
    before, after = BASE / name / "bundle", tmp_path / "again"
    names = sorted(p.relative_to(before).as_posix() for p in before.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(after).as_posix() for p in after.rglob("*") if p.is_file())
    for file in names:
        if file != "manifest.json":
            assert (after / file).read_bytes() == (before / file).read_bytes(), file
    old, new = (json.loads((folder / "manifest.json").read_text()) for folder in (before, after))
    for manifest in (old, new):
        manifest.pop("created_at")
        manifest.pop("package_version")
    for key in ("created_at", "package_version"):  # loading adds them to info, as before
        new["info"].pop(key)
    assert new == old  # kind, format, feature names, info, every file's hash, fingerprint


def test_each_kind_loads_as_its_predictor_class():
    classes = {name: type(_case(name)[0].predictor) for name in KINDS}
    assert classes == {"renewal": HealthScoreModel, "hazard": HazardPredictor,
                       "scorecard": RuleScorecard}
    kinds = {name: _case(name)[0].kind for name in KINDS}
    assert kinds == {"renewal": "lightgbm", "hazard": "lightgbm", "scorecard": "scorecard"}


@pytest.mark.parametrize("name", KINDS)
def test_the_exported_model_is_its_predictor_plus_the_scale(name):
    exported, inputs, _ = _case(name)
    predictor = exported.predictor
    np.testing.assert_array_equal(exported.predict_logit(inputs), predictor.predict_logit(inputs))
    np.testing.assert_array_equal(exported.predict_risk(inputs), predictor.predict_risk(inputs))
    np.testing.assert_array_equal(exported.health_score(inputs),
                                  predictor.health_score(inputs, scale=exported.scale))
    assert exported.feature_names == predictor.feature_names
    assert exported.horizon is predictor.horizon and exported.model is predictor.tree_model
    # the explanation adds up to the score the predictor gives, by the predictor's class
    explanation = explain_model(exported, inputs)
    again = explain_predictor(predictor, inputs, scale=exported.scale)
    np.testing.assert_array_equal(explanation.points, again.points)
    np.testing.assert_array_equal(explanation.health_score, exported.health_score(inputs))
    np.testing.assert_allclose(explanation.base + explanation.points.sum(axis=1)
                               + explanation.residual, explanation.unclipped, atol=1e-9)


@pytest.mark.parametrize("name", KINDS)
def test_explaining_in_chunks_equals_explaining_at_once(name):
    exported, inputs, _ = _case(name)
    whole, _, _ = explain_rows(exported, inputs, chunk_rows=len(inputs))
    parts, _, _ = explain_rows(exported, inputs, chunk_rows=5)
    np.testing.assert_allclose(parts.points, whole.points, atol=1e-12)
    np.testing.assert_array_equal(parts.health_score, whole.health_score)
    np.testing.assert_allclose(parts.risk_proba, whole.risk_proba, atol=1e-12)


def test_the_renewal_risk_of_a_hazard_model_is_its_first_interval():
    exported, inputs, expected = _case("hazard")
    first = exported.predictor.tree_model.predict_risk(inputs)
    np.testing.assert_array_equal(exported.predict_renewal_risk(inputs), first)
    assert "renewal_risk" in expected.columns
    renewal, inputs, _ = _case("renewal")
    np.testing.assert_array_equal(renewal.predict_renewal_risk(inputs), renewal.predict_risk(inputs))


def test_something_that_is_not_a_predictor_is_refused_by_name():
    with pytest.raises(ModelError, match=r"a str is not a Predictor \(no predict_logit"):
        ExportedModel("lightgbm", HealthScale())
    with pytest.raises(ModelError, match="hazard predictor: expected a HealthScoreModel and a Horizon"):
        HazardPredictor(HealthScoreModel(), None)
    check_predictor(HealthScoreModel())  # an unfitted model is a Predictor by its class
    with pytest.raises(TypeError, match="cannot explain a dict"):
        explain_predictor({}, pd.DataFrame(), scale=HealthScale())


def test_load_exported_takes_a_folder_and_sends_a_uri_to_tracking(tmp_path):
    with pytest.raises(ModelError, match=r"models:/healthscore@champion: a model URI, not a "
                                         r"folder; load it with healthscore\.tracking\.load_model"):
        load_exported("models:/healthscore@champion")
    from healthscore import tracking

    shutil.copytree(BASE / "scorecard" / "bundle", tmp_path / "card")
    assert tracking.load_model(str(tmp_path / "card")).kind == "scorecard"  # a folder: no MLflow


def test_importing_the_model_package_imports_no_mlflow_nor_tracking():
    code = ("import sys, healthscore.model, healthscore.model.pyfunc, healthscore.scoring.engine; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow' "
            "or m.startswith('healthscore.tracking')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(SRC.parent), "PATH": ""})
    assert done.stdout.strip() == "[]"


def _imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_module_outside_tracking_names_mlflow_and_the_model_never_names_tracking():
    for path in SRC.rglob("*.py"):
        if path.parent.name == "tracking":
            continue
        names = _imported(path)
        assert not {n for n in names if n.split(".")[0] == "mlflow"}, path
        if path.parent.name == "model":
            assert not {n for n in names if n.startswith("healthscore.tracking")}, path
