"""The exported model: one folder that scoring loads without a tracking server.

A *bundle* folder holds plain files, never a pickle:

* ``manifest.json``: ``kind`` (``lightgbm``, ``blend``, ``logistic`` or ``scorecard``), format, package version,
  creation time, run information, and every other file's SHA-256 and size with the
  bundle ``fingerprint`` (:mod:`healthscore.model.manifest`);
* ``lightgbm``: ``model.txt``, ``calibration.json``, ``features.json``;
  ``scorecard``: ``scorecard.json``; ``blend``: both and ``blend.json``;
  ``logistic``: ``logistic.json``, ``logistic.skops`` (the scikit-learn pipeline, read
  by skops with an allowlist of types) and ``logistic_calibration.json``;
* ``horizon.json`` for a hazard model (the outcome window of ``risk_proba``);
* ``scale.json`` (the health scale), ``catalogue.json`` (feature catalogue, may be
  empty), ``metrics.json`` (flat test metrics of the run, as
  :meth:`~healthscore.model.training.TrainResult.flat_metrics` names them) and, when
  known, ``reliability.json`` (test reliability points) and ``plots/*.png``;
  ``reference.json`` when training fixed the drift reference (the training window's
  bins and shares per feature and of the score: :mod:`healthscore.monitor.reference`).

Loading verifies the manifest before any other file is parsed: a missing, added or
changed file is a :class:`~healthscore.errors.ModelError` naming it.

The MLflow model (``MLmodel``, a pyfunc whose loader is the installed
:mod:`healthscore.model.pyfunc`; no code in the folder) carries the bundle under
``data/bundle/``; ``healthscore promote`` copies that MLflow model folder to
``models/healthscore/``, adds ``registry.json`` (registered name, version, run id) and
then ``model_manifest.json`` over every file of the folder. :func:`load_exported` reads
a bundle or an MLflow model folder; a ``models:/`` / ``runs:/`` URI is downloaded by
:func:`healthscore.tracking.load_model`, which then calls it (this module imports no
MLflow and nothing of tracking).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy.special import expit

from healthscore import __version__
from healthscore.errors import ModelError
from healthscore.io.files import strict_json
from healthscore.io.staging import Stage, folder_lock
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.exposure import Horizon
from healthscore.model.manifest import (
    REEXPORT, REPROMOTE, read_model_json, verify_folder, write_manifest,
)
from healthscore.model.predictor import Predictor, check_predictor, load_predictor
from healthscore.model.scale import HealthScale

log = logging.getLogger(__name__)

#: 2: the manifest lists every file's SHA-256 and size.
BUNDLE_FORMAT = 2
MANIFEST = "manifest.json"
REGISTRY = "registry.json"
#: Written by ``healthscore promote`` over every file of the exported MLflow folder.
EXPORT_MANIFEST = "model_manifest.json"
#: Where a bundle sits in a folder: itself, an MLflow model folder (older: artifacts/).
_BUNDLE_PLACES = (".", "data/bundle", "artifacts/bundle")


@dataclass
class ExportedModel:
    """A model ready to score: a :class:`~healthscore.model.predictor.Predictor` plus
    the health scale, the feature catalogue and what the run knew of it.

    Attributes
    ----------
    predictor : Predictor
        A fitted :class:`~healthscore.model.estimator.HealthScoreModel` (one row, one
        renewal), :class:`~healthscore.model.predictor.HazardPredictor` (risk within a
        horizon) or :class:`~healthscore.model.baselines.RuleScorecard`.
    scale : HealthScale
    catalogue : dict
        Feature name -> catalogue entry (``FeatureInfo`` fields) as plain values.
    metrics : dict
        Flat test metrics of the training run.
    info : dict
        Manifest and registry information (``run_id``, ``model_version``, ...).
    reliability : list of dict or None
        Test reliability points (``predicted``, ``observed``, ``count``) for the report.
    reference : dict or None
        The drift reference of the training window (``reference.json``); None for a
        model saved without one.
    """

    predictor: Predictor
    scale: HealthScale
    catalogue: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    reliability: list[dict[str, Any]] | None = None
    reference: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_predictor(self.predictor)

    @property
    def kind(self) -> str:
        """``lightgbm``, ``blend``, ``logistic`` or ``scorecard``, as the manifest and the
        run record it."""
        return self.predictor.kind

    @property
    def horizon(self) -> Horizon | None:
        """The outcome window of a hazard model; None: one row, one risk (renewal mode)."""
        return self.predictor.horizon

    @property
    def model(self) -> HealthScoreModel | None:
        """The LightGBM model behind the scores; None for the rule scorecard and the
        logistic regression."""
        return self.predictor.tree_model

    @property
    def feature_names(self) -> list[str]:
        """Columns the model reads from a scoring frame."""
        return self.predictor.feature_names

    @property
    def version(self) -> str | None:
        """Registered model version, when the folder came from the registry."""
        value = self.info.get("model_version")
        return None if value is None else str(value)

    def predict_logit(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated logit of ``risk_proba``, shape (n,)."""
        return self.predictor.predict_logit(X)

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """``risk_proba``, shape (n,): for a hazard model, the chance of a loss within
        the horizon."""
        return self.predictor.predict_risk(X)

    def predict_renewal_risk(self, X: pd.DataFrame) -> np.ndarray:
        """The chance that the next renewal is lost, shape (n,): the first interval's
        hazard (hazard model); ``risk_proba`` otherwise (a row is one renewal)."""
        return self.predictor.predict_renewal_risk(X)

    def health_score(self, X: pd.DataFrame) -> np.ndarray:
        """Health score 1..100 (int64): the scale on the calibrated logit for LightGBM,
        the rule scorecard's own score for the scorecard."""
        return self.predictor.health_score(X, scale=self.scale)

    def predict_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """``risk_proba``, ``health_score``, ``band`` per row, indexed like ``X``
        (and ``renewal_risk`` for a hazard model)."""
        logit = self.predictor.predict_logit(X)
        score = self.predictor.health_score(X, scale=self.scale, logit=logit)
        out = pd.DataFrame(
            {"risk_proba": expit(logit), "health_score": score, "band": self.scale.band(score)},
            index=X.index,
        )
        if self.horizon is not None:
            out["renewal_risk"] = self.predictor.predict_renewal_risk(X)
        return out


def save_bundle(exported: ExportedModel, directory: str | Path, *,
                plots: Mapping[str, Any] | None = None) -> Path:
    """Write ``exported`` as a bundle folder, replacing ``directory`` as a whole.

    The files are written into a staging folder beside ``directory``, ``manifest.json``
    last (every file's SHA-256 and size), then committed in one journaled step under
    the parent folder's lock (:mod:`healthscore.io.staging`): a failure or a kill leaves
    the old folder. ``plots`` (name -> matplotlib figure) are saved as ``plots/<name>.png``.

    Raises
    ------
    ModelError
        ``directory`` holds files but is not a bundle (nothing is replaced then).
    """
    directory = Path(directory)
    if directory.exists() and not (directory / MANIFEST).exists() and (
            not directory.is_dir() or any(directory.iterdir())):
        raise ModelError(f"{directory}: not empty and not an exported model; refusing to "
                         "replace it (export into a new or empty folder)")
    with folder_lock(directory.parent, what="model folder"), \
            Stage(directory.parent, f"model-{directory.name}") as stage:
        bundle = stage.new / directory.name
        _write_bundle_files(exported, bundle, plots or {})
        write_manifest(bundle, strict_json({
            "format": BUNDLE_FORMAT,
            "kind": exported.kind,
            "package_version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "feature_names": exported.feature_names,
            "info": {k: v for k, v in exported.info.items()
                     if k not in ("model_version", "bundle_fingerprint")},
        }), name=MANIFEST)
        stage.commit([directory.name])
    return directory


def _write_bundle_files(exported: ExportedModel, directory: Path, plots: Mapping[str, Any]) -> None:
    directory.mkdir(parents=True)
    exported.predictor.save(directory)
    exported.scale.save(directory / "scale.json")
    _write_json(directory / "catalogue.json", exported.catalogue)
    _write_json(directory / "metrics.json", exported.metrics)
    if exported.reliability is not None:
        _write_json(directory / "reliability.json", exported.reliability)
    if exported.reference is not None:
        _write_json(directory / "reference.json", exported.reference)
    if plots:
        (directory / "plots").mkdir()
        for name, figure in plots.items():
            figure.savefig(directory / "plots" / f"{name}.png", dpi=80)


def verify_bundle(directory: str | Path) -> dict[str, Any]:
    """The bundle's manifest, once every file of ``directory`` matches it.

    Raises
    ------
    ModelError
        No manifest, or a file missing, added or changed since export; the message
        names the folder and the file.
    """
    return verify_folder(directory, name=MANIFEST, redo=REEXPORT)


def load_bundle(directory: str | Path) -> ExportedModel:
    """Read a bundle folder written by :func:`save_bundle` (no pickle), verified first."""
    directory = Path(directory)
    path = directory / MANIFEST
    manifest = verify_bundle(directory)
    _check_compatible(manifest, path)
    scale = HealthScale.load(directory / "scale.json")
    predictor = load_predictor(directory, kind=manifest.get("kind"), scale=scale)
    info = dict(manifest.get("info") or {})
    info.update(
        package_version=manifest.get("package_version"), created_at=manifest.get("created_at"),
        bundle_fingerprint=manifest["fingerprint"],
    )
    return ExportedModel(
        predictor,
        scale,
        catalogue=_read_typed(directory / "catalogue.json", {}, dict),
        metrics=_read_typed(directory / "metrics.json", {}, dict),
        info=info,
        reliability=_read_typed(directory / "reliability.json", None, list),
        reference=_read_typed(directory / "reference.json", None, dict),
    )


def _read_typed(path: Path, default: Any, kind: type) -> Any:
    value = read_model_json(path, default)
    if value is not default and not isinstance(value, kind):
        raise ModelError(f"{path}: expected a JSON {'object' if kind is dict else 'array'}, "
                         f"got {type(value).__name__}; {REEXPORT}")
    return value


def _check_compatible(manifest: Mapping[str, Any], path: Path) -> None:
    """The bundle's format is this package's, and its package is not newer than this one."""
    if manifest.get("format") != BUNDLE_FORMAT:
        raise ModelError(f"{path}: format {manifest.get('format')!r}, but healthscore "
                         f"{__version__} reads format {BUNDLE_FORMAT}; {REEXPORT}")
    written = str(manifest.get("package_version"))
    installed = __version__ != "0.0.0"  # "0.0.0": a source tree without metadata
    if installed and _release(written, path) > _release(__version__, path):
        raise ModelError(f"{path}: written by healthscore {written}, newer than the installed "
                         f"{__version__}; upgrade healthscore where the model is loaded")


def _release(version: str, path: Path) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise ModelError(f"{path}: package_version {version!r} is not a version; {REEXPORT}")
    return int(match[1]), int(match[2])


def find_bundle(folder: str | Path) -> Path:
    """The bundle inside an exported folder: the folder itself or ``data/bundle``."""
    folder = Path(folder)
    for place in _BUNDLE_PLACES:
        candidate = folder / place
        if (candidate / MANIFEST).exists():
            return candidate
    for place in _BUNDLE_PLACES:  # model files without a manifest: damaged, not foreign
        candidate = folder / place
        if any((candidate / name).exists() for name in ("model.txt", "scorecard.json", "scale.json")):
            raise ModelError(f"model folder {candidate}: no {MANIFEST}, so its files cannot be "
                             f"verified; {REEXPORT}")
    raise ModelError(
        f"{folder}: no exported model found (expected {MANIFEST} there or under "
        "data/bundle/); run `healthscore train` then `healthscore promote`"
    )


def write_export_manifest(folder: str | Path) -> dict[str, Any]:
    """List every file of an exported MLflow model folder into ``model_manifest.json``
    (last, atomically), with the fingerprint of the bundle it holds."""
    folder = Path(folder)
    bundle = verify_bundle(find_bundle(folder))
    header = {"format": 1, "package_version": __version__,
              "bundle_fingerprint": bundle["fingerprint"]}
    return write_manifest(folder, header, name=EXPORT_MANIFEST)


def verify_export(folder: str | Path) -> dict[str, Any] | None:
    """Check an exported MLflow model folder against its ``model_manifest.json``.

    A folder with ``registry.json`` (written by ``healthscore promote``) must have it;
    a folder without either (an MLflow artifact folder) has only its bundle's manifest.
    Returns the manifest, or None when there is none to check.
    """
    folder = Path(folder)
    if (folder / EXPORT_MANIFEST).exists() or (folder / REGISTRY).exists():
        return verify_folder(folder, name=EXPORT_MANIFEST, redo=REPROMOTE)
    return None


def is_model_uri(text: str | Path) -> bool:
    """Whether ``text`` names an MLflow model (``models:/``, ``runs:/``, a ``scheme://``
    URI) rather than a folder: such a name is loaded by :func:`healthscore.tracking.load_model`."""
    text = str(text)
    return "://" in text or text.startswith(("models:/", "runs:/"))


def load_exported(folder: str | Path) -> ExportedModel:
    """Load the model to score with from a folder: a bundle, or an MLflow model folder
    (``models/healthscore/``, or one downloaded from the registry).

    Every file is verified against its manifest before it is read; ``registry.json``
    (written by ``healthscore promote``) adds the registered version to ``info``.

    Raises
    ------
    ModelError
        No folder there, a URI (those go through :func:`healthscore.tracking.load_model`),
        or a damaged folder.
    """
    if isinstance(folder, str) and is_model_uri(folder):  # before Path folds its "//"
        raise ModelError(f"{folder}: a model URI, not a folder; load it with "
                         "healthscore.tracking.load_model (`healthscore score --model` does)")
    folder = Path(folder)
    if not folder.exists():
        raise ModelError(
            f"no exported model at {folder}; run `healthscore promote` to export the champion"
        )
    verify_export(folder)
    exported = load_bundle(find_bundle(folder))
    registry = read_model_json(folder / REGISTRY, {}, redo=REPROMOTE)
    if not isinstance(registry, dict):
        raise ModelError(f"{folder / REGISTRY}: expected a JSON object; {REPROMOTE}")
    exported.info.update(registry)
    return exported


def catalogue_dict(feature_names: list[str], *, features: Any = None,
                   frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """The feature catalogue of ``feature_names`` as plain values ({} when unavailable).

    ``features`` (``params.features``) gives the signal families; ``frame`` (the
    training set) marks its ``category`` columns as categorical, whatever their names.
    """
    try:
        from healthscore.features.catalogue import build_catalogue
    except ImportError:
        log.info("feature catalogue not available; exporting none")
        return {}
    categorical = [] if frame is None else [
        n for n in feature_names if n in frame.columns and isinstance(frame[n].dtype, pd.CategoricalDtype)]
    entries = build_catalogue(list(feature_names), categorical=categorical,
                              signal_families=None if features is None else features.signal_families)
    return {
        name: dataclasses.asdict(info) if dataclasses.is_dataclass(info) else dict(info)
        for name, info in entries.items()
    }


def _write_json(path: Path, value: Any) -> None:
    text = json.dumps(strict_json(value), indent=2, sort_keys=True, default=_plain, allow_nan=False)
    path.write_text(text + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
