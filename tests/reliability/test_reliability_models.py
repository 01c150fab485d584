"""Verified model folders: every damage to an exported model is a named ModelError.

One small real model is exported once per module (a bundle, and an MLflow model folder
exported as ``healthscore promote`` does); each case damages a copy. In process,
loading raises a ModelError naming the file; through ``healthscore score`` in a
subprocess, the run exits 2 with one error line, no traceback, no native abort, and the
outputs of an earlier run unchanged. The pyfunc runs no code from the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from healthscore.errors import ModelError
from healthscore.model import ExportedModel, HealthScale, load_exported
from healthscore.model.export import (
    MANIFEST, REGISTRY, catalogue_dict, load_bundle, save_bundle, write_export_manifest,
)
from healthscore.model.manifest import write_manifest

AS_OF = "2024-05-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    """Simulated tables, a small LightGBM model on their renewals, its bundle and the
    MLflow model folder of it (registry.json and model_manifest.json as promote writes)."""
    from healthscore.tracking import save_pyfunc

    root = tmp_path_factory.mktemp("models")
    data, _, labelled, names = simulated_renewals(root, accounts=120, months=16, seed=5)
    model = simulated_renewals.fit(labelled, names, 20)
    exported = ExportedModel(model, HealthScale(),
                             catalogue=catalogue_dict(names), metrics={"test_model_roc_auc": 0.7},
                             reliability=[{"predicted": 0.1, "observed": 0.2, "count": 9}])
    bundle = save_bundle(exported, root / "bundle")
    folder = save_pyfunc(bundle, root / "mlflow", example=labelled[names].head(3))
    (folder / REGISTRY).write_text(json.dumps({"model_version": "3", "registered_model": "healthscore"}))
    write_export_manifest(folder)
    return {"data": data, "bundle": bundle, "mlflow": folder, "exported": exported,
            "X": labelled[names].head(60)}


@pytest.fixture()
def bundle(world, tmp_path):
    """A copy of the bundle for one test to damage."""
    return Path(shutil.copytree(world["bundle"], tmp_path / "bundle"))


# ------------------------------------------------------------------------ damage


def bump_digit(path: Path, marker: str) -> None:
    """A same-length edit: the first digit after ``marker`` and a '.', one higher."""
    text = path.read_text()
    start = text.index(marker)
    dot = text.index(".", start + len(marker))
    digit = text[dot + 1]
    assert digit.isdigit(), (marker, text[start:dot + 5])
    path.write_text(text[:dot + 1] + str((int(digit) + 1) % 10) + text[dot + 2:])


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def append(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\nTree=99\nnum_leaves=2\n")


def resize_tree(path: Path) -> None:
    """One tree one byte longer than its tree_sizes entry says (LightGBM misreads it)."""
    text = path.read_text()
    index = text.index("leaf_value=", text.index("Tree=0")) + len("leaf_value=")
    path.write_text(text[:index] + "0" + text[index:])


def swap_features(path: Path) -> None:
    features = json.loads(path.read_text())
    names = features["feature_names"]
    names[0], names[1] = names[1], names[0]
    path.write_text(json.dumps(features, indent=2) + "\n")


def garbage(path: Path) -> None:
    path.write_text('{"offset": 35.0, not json')


def remanifest(folder: Path) -> None:
    """Rewrite the manifest over the damaged files: damage that the checksums pass."""
    header = json.loads((folder / MANIFEST).read_text())
    write_manifest(folder, {k: v for k, v in header.items() if k not in ("files", "fingerprint")},
                   name=MANIFEST)


CHECKSUM_CASES = {
    # case: (file, damage, what the message says)
    "truncate model.txt": ("model.txt", truncate, r"model\.txt has \d+ bytes, expected \d+"),
    "append to model.txt": ("model.txt", append, r"model\.txt has \d+ bytes"),
    "edit a leaf value": ("model.txt", lambda p: bump_digit(p, "leaf_value="),
                          r"model\.txt was changed after export"),
    "edit a threshold": ("model.txt", lambda p: bump_digit(p, "threshold="),
                         r"model\.txt was changed after export"),
    "edit the calibration": ("calibration.json", lambda p: bump_digit(p, '"a":'),
                             r"calibration\.json was changed after export"),
    "swap the feature order": ("features.json", swap_features, r"features\.json (has|was)"),
    "edit the scale": ("scale.json", lambda p: bump_digit(p, '"offset":'),
                       r"scale\.json was changed after export"),
    "garbage JSON": ("metrics.json", garbage, r"metrics\.json has \d+ bytes"),
    "delete a file": ("catalogue.json", Path.unlink, r"catalogue\.json is missing"),
    "add a file": ("extra.py", lambda p: p.write_text("import os\n"),
                   r"extra\.py is not listed in manifest\.json"),
    "delete the manifest": (MANIFEST, Path.unlink, r"no manifest\.json, so its files cannot be verified"),
    "garbage manifest": (MANIFEST, garbage, r"manifest\.json: not valid JSON"),
    "edit the manifest's hashes": (MANIFEST, lambda p: p.write_text(re.sub(
        r'"sha256": "[0-9a-f]', '"sha256": "0', p.read_text(), count=1)), r"fingerprint does not match"),
}

# damage inside a folder whose manifest was rewritten to match: the readers still refuse
VERIFIED_CASES = {
    "truncated model.txt": ("model.txt", truncate, r"model\.txt: not a complete LightGBM model"),
    "resized tree": ("model.txt", resize_tree, r"model\.txt: not a complete LightGBM model"),
    "appended tree": ("model.txt", append, r"model\.txt: not a complete LightGBM model"),
    "swapped features": ("features.json", swap_features, r"features\.json: feature_names differ"),
    "garbage calibration": ("calibration.json", garbage, r"calibration\.json: not valid JSON"),
    "garbage features": ("features.json", garbage, r"features\.json: not valid JSON"),
    "garbage scale": ("scale.json", garbage, r"scale\.json: not valid JSON"),
    "garbage metrics": ("metrics.json", garbage, r"metrics\.json: not valid JSON"),
    "garbage catalogue": ("catalogue.json", garbage, r"catalogue\.json: not valid JSON"),
    "scale of the wrong shape": ("scale.json", lambda p: p.write_text("[1, 2]"),
                                 r"scale\.json: expected a JSON object"),
    "scale of the wrong type": ("scale.json", lambda p: p.write_text(
        '{"offset": "x", "pdo": 10, "red_below": 50, "green_from": 75}'), r"scale\.json: expected numbers"),
    "metrics of the wrong shape": ("metrics.json", lambda p: p.write_text("[0.7]"),
                                   r"metrics\.json: expected a JSON object, got list"),
    "features without params": ("features.json", lambda p: p.write_text(
        '{"format": 1, "kind": "lightgbm"}'), r"features\.json: not the feature list"),
}


def damage(folder: Path, case: dict, name: str, *, verified: bool = False) -> str:
    file, hurt, pattern = case[name]
    hurt(folder / file)
    if verified:
        remanifest(folder)
    return pattern


# ------------------------------------------------------------------- in process


def test_an_untouched_folder_loads_and_predicts_equal_to_memory(world):
    X = world["X"]
    expected = world["exported"].predict_frame(X)
    for folder in (world["bundle"], world["mlflow"]):
        loaded = load_exported(folder)
        pd.testing.assert_frame_equal(loaded.predict_frame(X), expected)
        assert re.fullmatch(r"[0-9a-f]{64}", loaded.info["bundle_fingerprint"])
    assert load_exported(world["mlflow"]).version == "3"
    served = mlflow.pyfunc.load_model(str(world["mlflow"])).predict(X)
    pd.testing.assert_frame_equal(served, expected.reset_index(drop=True))


@pytest.mark.parametrize("name", list(CHECKSUM_CASES))
def test_damage_is_a_model_error_naming_the_file(bundle, name):
    pattern = damage(bundle, CHECKSUM_CASES, name)
    with pytest.raises(ModelError, match=pattern) as caught:
        load_exported(bundle)
    assert str(bundle) in str(caught.value) and "re-export" in str(caught.value)


@pytest.mark.parametrize("name", list(VERIFIED_CASES))
def test_damage_behind_a_rewritten_manifest_is_still_a_named_error(bundle, name):
    pattern = damage(bundle, VERIFIED_CASES, name, verified=True)
    with pytest.raises(ModelError, match=pattern):
        load_bundle(bundle)


def test_a_scorecard_bundle_with_garbage_rules_is_a_named_error(tmp_path):
    from healthscore.config import ScorecardParams
    from healthscore.model.baselines import RuleScorecard
    from healthscore.model.synthetic import make_training_frame

    dataset, _ = make_training_frame(300, random_state=1)
    labelled = dataset[dataset["label"].notna()]
    card = RuleScorecard.from_params(ScorecardParams(), HealthScale()).fit(
        labelled[[c for c in labelled.columns if "__" in c]], labelled["label"].to_numpy(dtype=int))
    folder = save_bundle(ExportedModel(card, HealthScale()), tmp_path / "card")
    for text, pattern in (('{"rules": [', r"scorecard\.json: not valid JSON"),
                          ('{"format": 1, "kind": "scorecard"}', r"scorecard\.json: not the rules")):
        (folder / "scorecard.json").write_text(text)
        remanifest(folder)
        with pytest.raises(ModelError, match=pattern):
            load_bundle(folder)


def test_the_export_manifest_covers_the_mlflow_folder(world, tmp_path):
    folder = Path(shutil.copytree(world["mlflow"], tmp_path / "mlflow"))
    (folder / REGISTRY).write_text(json.dumps({"model_version": "9", "registered_model": "healthscore"}))
    with pytest.raises(ModelError, match=r"registry\.json (has|was) .*healthscore promote"):
        load_exported(folder)
    shutil.copy(world["mlflow"] / REGISTRY, folder / REGISTRY)
    bump_digit(folder / "MLmodel", "python_version: ")
    with pytest.raises(ModelError, match=r"MLmodel was changed after export"):
        load_exported(folder)
    (folder / "model_manifest.json").unlink()
    with pytest.raises(ModelError, match=r"no model_manifest\.json"):
        load_exported(folder)


# ----------------------------------------------------------------------- pyfunc


@pytest.mark.parametrize("where", ["_mlflow_code.py", "data/bundle/_mlflow_code.py"])
def test_the_pyfunc_runs_no_code_from_the_folder(world, tmp_path, where):
    """A code file planted in the folder (where models-from-code kept one) never runs:
    loading is a named error before anything of the folder is executed."""
    folder = Path(shutil.copytree(world["mlflow"], tmp_path / "mlflow"))
    marker = tmp_path / "marker"
    (folder / where).write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "import mlflow.models\nmlflow.models.set_model(None)\n")
    with pytest.raises(ModelError, match=re.escape(Path(where).name) + " is not listed"):
        mlflow.pyfunc.load_model(str(folder))
    assert not marker.exists()


def test_the_pyfunc_checks_the_bundle_manifest(world, tmp_path):
    folder = Path(shutil.copytree(world["mlflow"], tmp_path / "mlflow"))
    bump_digit(folder / "data" / "bundle" / "model.txt", "leaf_value=")
    with pytest.raises(ModelError, match=r"model\.txt was changed after export"):
        mlflow.pyfunc.load_model(str(folder))
    # with the export manifest gone and the bundle's rewritten, the bundle's still checks
    (folder / "model_manifest.json").unlink()
    (folder / REGISTRY).unlink()
    resize_tree(folder / "data" / "bundle" / "model.txt")
    remanifest(folder / "data" / "bundle")
    with pytest.raises(ModelError, match=r"not a complete LightGBM model"):
        mlflow.pyfunc.load_model(str(folder))


def test_a_bundle_of_a_newer_package_or_format_is_refused(bundle):
    header = json.loads((bundle / MANIFEST).read_text())
    for field, value, pattern in (("package_version", "99.0.0", r"newer than the installed"),
                                  ("format", 1, r"format 1, but healthscore")):
        (bundle / MANIFEST).write_text(json.dumps({**header, field: value}))
        remanifest(bundle)
        with pytest.raises(ModelError, match=pattern):
            load_bundle(bundle)


# -------------------------------------------------------------------------- CLI


def _run_score(world, model: Path, out: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2] / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "healthscore.cli", "--set", f"score.out_dir={out}", "score",
         "--as-of", AS_OF, "--data", str(world["data"]), "--model", str(model), "--no-report"],
        cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", errors="replace",
        timeout=300)


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# the damage that aborted the process (LightGBM reading past its buffer) or scored silently;
# the in-process matrix above covers every case's message
CLI_CASES = [("checksum", "truncate model.txt"), ("checksum", "edit a leaf value"),
             ("verified", "truncated model.txt"), ("verified", "resized tree")]


@pytest.fixture(scope="module")
def scored(world, tmp_path_factory):
    """Outputs of a good run, to check that a refused run leaves them as they were."""
    root = tmp_path_factory.mktemp("scored")
    done = _run_score(world, world["bundle"], root / "outputs", root)
    assert done.returncode == 0, done.stderr
    return root / "outputs"


def test_the_scoring_run_records_the_bundle_fingerprint(world, scored):
    from healthscore.scoring import OutputLayout

    run = OutputLayout(scored).read_run(AS_OF)
    manifest = json.loads((world["bundle"] / MANIFEST).read_text())
    assert run["model_bundle_fingerprint"] == manifest["fingerprint"]
    assert run["model_fingerprint"]  # the content hash of what decides a score, as before


def test_a_damaged_horizon_is_a_named_error(tmp_path):
    from healthscore.model.exposure import Horizon

    path = tmp_path / "horizon.json"
    for text, pattern in (("{horizon", r"horizon\.json: not valid JSON"),
                          ('{"horizon_days": "a year", "lead_days": 0, "grace_days": 0}',
                           r"horizon\.json: expected whole numbers")):
        path.write_text(text)
        with pytest.raises(ModelError, match=pattern):
            Horizon.load(path)


@pytest.mark.parametrize("kind, name", CLI_CASES)
def test_score_with_a_damaged_model_exits_2_in_one_line_and_changes_nothing(
        world, scored, bundle, tmp_path, kind, name):
    cases = CHECKSUM_CASES if kind == "checksum" else VERIFIED_CASES
    file = cases[name][0]
    damage(bundle, cases, name, verified=kind == "verified")
    out = tmp_path / "outputs"
    shutil.copytree(scored, out)
    before = _snapshot(out)
    done = _run_score(world, bundle, out, tmp_path)
    # a native abort is -6 here (134 in a shell)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and file in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert _snapshot(out) == before
