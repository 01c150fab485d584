"""The three plain files of a :class:`~healthscore.model.estimator.HealthScoreModel`, no
pickle: ``model.txt`` (LightGBM's text format), ``calibration.json`` (the
:class:`~healthscore.model.calibration.Calibrator`) and ``features.json`` (feature order,
categorical levels, the estimator's parameters)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from healthscore.errors import ModelError
from healthscore.model.calibration import Calibrator
from healthscore.model.manifest import REEXPORT, check_model_text, read_model_json

FORMAT_VERSION = 1


def write_model(model: Any, directory: str | Path) -> Path:
    """Write a fitted model's three files into ``directory``; returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.txt").write_text(model.booster_.model_to_string())
    (directory / "calibration.json").write_text(model.calibrator_.to_json() + "\n")
    features = {
        "format": FORMAT_VERSION,
        "kind": "lightgbm",
        "feature_names": list(model.feature_names_),
        "named_input": getattr(model, "feature_names_in_", None) is not None,
        "categories": model.categories_,
        "classes": model.classes_.tolist(),
        "best_iteration": model.best_iteration_,
        "validation": model.validation_,
        # a setting at its default that older bundles lack is left out, so a bundle saved
        # again writes the same bytes (inner_folds: the small-data path's fit only)
        "params": {k: v for k, v in model.get_params().items() if not (k == "inner_folds" and not v)},
    }
    (directory / "features.json").write_text(json.dumps(features, indent=2) + "\n")
    return directory


def read_model(cls: type, directory: str | Path) -> Any:
    """A ``cls`` (the estimator class) read from the files :func:`write_model` wrote.

    Raises
    ------
    ModelError
        A file is missing, not valid JSON, or not what :func:`write_model` writes; the
        message names the file. ``model.txt`` is checked before LightGBM parses it.
    """
    directory = Path(directory)
    paths = [directory / n for n in ("model.txt", "calibration.json", "features.json")]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise ModelError(f"model folder {directory}: missing {', '.join(missing)}; {REEXPORT}")
    features = read_model_json(paths[2])
    if not isinstance(features, dict) or features.get("format") != FORMAT_VERSION \
            or features.get("kind") != "lightgbm":
        found = features if isinstance(features, dict) else {}
        raise ModelError(
            f"{paths[2]}: expected a lightgbm model of format {FORMAT_VERSION}, got "
            f"kind={found.get('kind')!r} format={found.get('format')!r}"
        )
    text = paths[0].read_text(encoding="utf-8", errors="replace")
    check_model_text(text, paths[0])
    calibration = read_model_json(paths[1])
    try:
        model = cls(**features["params"])
        model.feature_names_ = [str(n) for n in features["feature_names"]]
        model.categories_ = {str(k): list(v) for k, v in features["categories"].items()}
        model.classes_ = np.asarray(features["classes"])
        model.best_iteration_ = int(features["best_iteration"])
        model.validation_ = features["validation"]
        named = bool(features["named_input"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{paths[2]}: not the feature list a model export writes "
                         f"({type(exc).__name__}: {exc}); {REEXPORT}") from None
    if not isinstance(calibration, dict):
        raise ModelError(f"{paths[1]}: expected a JSON object; {REEXPORT}")
    model.calibrator_ = Calibrator.from_dict(calibration)
    try:
        model.booster_ = lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise ModelError(f"{paths[0]}: LightGBM cannot read it ({exc}); {REEXPORT}") from None
    # LightGBM writes spaces in names as underscores
    if model.booster_.feature_name() != [re.sub(r"\s", "_", n) for n in model.feature_names_]:
        raise ModelError(f"{paths[2]}: feature_names differ from those of {paths[0].name}; "
                         f"{REEXPORT}")
    model.n_features_in_ = len(model.feature_names_)
    if named:
        model.feature_names_in_ = np.asarray(model.feature_names_, dtype=object)
    return model
