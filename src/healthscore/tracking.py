"""The only module that talks to MLflow: runs, the model registry, promotion, export.

Where: ``params.tracking.uri``, else ``MLFLOW_TRACKING_URI``, else the embedded store
``sqlite:///<project>/mlruns.db`` with artifacts in ``<project>/mlartifacts/``
(``<project>`` = the directory the command runs in). The URI is set per call, inside
:func:`tracking_session`, and restored after; importing this module sets nothing.

A training run logs params, the data fingerprint, metrics of the model and of every
baseline, plots, tables, the feature catalogue and the model as a pyfunc (loader module
:mod:`healthscore.model.pyfunc`, the bundle as data: no code in the model folder)
registered as ``params.tracking.registered_model``; with ``train --tune``, one nested child run per tuning trial.
:func:`promote` moves the ``champion`` alias only when the quality gates pass, then
exports the champion folder for serverless scoring, verified and with a manifest of
every file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any, Iterator

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from healthscore.config import TrackingParams, params_to_dict
from healthscore.errors import GateError, ModelError
from healthscore.io import replace_dir
from healthscore.model.export import (
    REGISTRY, find_bundle, save_bundle, verify_bundle, verify_export, write_export_manifest,
)
from healthscore.model.gates import GateCheck, check_gates

log = logging.getLogger(__name__)

CHAMPION = "champion"
MODEL_NAME_IN_RUN = "model"
#: Packages the pyfunc imports besides healthscore itself (which must be installed
#: where the model is served: ``mlflow models serve --env-manager local``).
_REQUIREMENTS = ("lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "pyyaml")


def resolve_tracking_uri(params: TrackingParams, *, project_dir: str | Path | None = None) -> str:
    """``params.uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<project>/mlruns.db``."""
    if params.uri:
        return params.uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    project = Path(project_dir or Path.cwd()).resolve()
    return f"sqlite:///{project / 'mlruns.db'}"


def artifact_location(params: TrackingParams, *, project_dir: str | Path | None = None) -> str:
    """Artifact root of a new experiment: ``params.artifact_location`` as a URI
    (a relative path is taken from the project directory)."""
    location = params.artifact_location
    if "://" in location:
        return location
    return (Path(project_dir or Path.cwd()) / location).resolve().as_uri()


_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


@contextlib.contextmanager
def tracking_session(
    params: TrackingParams, *, project_dir: str | Path | None = None
) -> Iterator[MlflowClient]:
    """Point MLflow at the project's store for the ``with`` block; yields a client.

    MLflow's setters also write ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI`` into
    the environment; both the setting and those variables are restored on exit.
    Artifact progress bars are off inside the block unless the user set that variable.
    """
    uri = resolve_tracking_uri(params, project_dir=project_dir)
    saved = {name: os.environ.get(name) for name in (*_URI_VARIABLES, _PROGRESS_BAR)}
    os.environ.setdefault(_PROGRESS_BAR, "false")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None unsets it
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _experiment_id(client: MlflowClient, params: TrackingParams, project_dir) -> str:
    experiment = client.get_experiment_by_name(params.experiment)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(
        params.experiment, artifact_location=artifact_location(params, project_dir=project_dir)
    )


@dataclass(frozen=True)
class LoggedRun:
    """Where a training run landed."""

    run_id: str
    experiment_id: str
    model_uri: str
    registered_model: str
    model_version: str


def log_training_run(
    result: Any,
    *,
    params: Any,
    dataset_meta: dict[str, Any] | None = None,
    catalogue: dict[str, Any] | None = None,
    command: str | None = None,
    project_dir: str | Path | None = None,
) -> LoggedRun:
    """Log one :class:`~healthscore.model.training.TrainResult` and register its model.

    Parameters
    ----------
    result : TrainResult
    params : healthscore.config.Params
        Every section (logged flat as ``section.key``); ``params.tracking`` says where.
    dataset_meta : dict, optional
        The training set's sidecar (``data_fingerprint``, counts, ...).
    catalogue : dict, optional
        Feature catalogue as plain values, logged and exported with the model.
    command : str, optional
        The command line, kept as a tag.
    """
    tracking: TrackingParams = params.tracking
    meta = dict(dataset_meta or {})
    flat = result.flat_metrics()
    with tracking_session(tracking, project_dir=project_dir) as client:
        experiment_id = _experiment_id(client, tracking, project_dir)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_params(_flat_params(params_to_dict(params)))
            mlflow.set_tags(
                {
                    "mode": result.mode,
                    "model_kind": result.exported.kind,
                    "data_fingerprint": str(meta.get("data_fingerprint", "")),
                    "content_fingerprint": str(meta.get("content_fingerprint", "")),
                    "package_version": _dist_version("healthscore"),
                    "command": command or "",
                    **{f"split.{k}": v for k, v in result.windows.describe().items()},
                }
            )
            mlflow.log_metrics(flat)
            for name, figure in result.figures.items():
                mlflow.log_figure(figure, f"plots/{name}.png")
            for name, table in (
                ("metrics", result.metrics),
                ("validation_metrics", result.validation_metrics),
                ("bands", result.bands),
                ("counts", result.counts),
            ):
                mlflow.log_text(table.to_csv(index=False), f"tables/{name}.csv")
            if result.tuning is not None:
                mlflow.log_text(result.tuning.to_csv(index=False), "tables/tuning.csv")
                tuned = dataclasses.asdict(result.model_params)
                mlflow.log_params({f"tuned.{k}": json.dumps(v) for k, v in tuned.items()})
                _log_tuning_trials(result.tuning, experiment_id=experiment_id)
            mlflow.log_dict(catalogue or {}, "catalogue.json")
            mlflow.log_dict({k: v for k, v in meta.items() if k != "params"}, "dataset_meta.json")

            exported = dataclasses.replace(
                result.exported,
                catalogue=dict(catalogue or {}),
                metrics=flat,
                info={"run_id": run.info.run_id, "data_fingerprint": meta.get("data_fingerprint")},
                reliability=None if result.reliability is None
                else result.reliability.to_dict(orient="records"),
            )
            with tempfile.TemporaryDirectory() as tmp:
                bundle = save_bundle(exported, Path(tmp) / "bundle", plots=result.figures)
                info = _log_pyfunc(bundle, tracking.registered_model, example=result.example)
    return LoggedRun(
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        model_uri=info.model_uri,
        registered_model=tracking.registered_model,
        model_version=str(info.registered_model_version),
    )


def _log_tuning_trials(trials: Any, *, experiment_id: str) -> None:
    """One child run per tuning trial under the active (training) run.

    ``trials`` is the table of :func:`healthscore.model.tuning.tune_model_params`:
    ``trial``, the tried settings, ``val_log_loss``, ``trees`` and ``seconds``. Each
    child run is named ``trial-<n>`` and holds the settings as params, the other three
    as metrics and ``best`` (true for the chosen trial) as a tag.
    """
    metrics = [c for c in ("val_log_loss", "trees", "seconds") if c in trials.columns]
    settings = [c for c in trials.columns if c not in (*metrics, "trial")]
    trials = trials.reset_index(drop=True)
    best = trials["val_log_loss"].idxmin() if "val_log_loss" in trials.columns else None
    for index, row in enumerate(trials.to_dict(orient="records")):  # keeps ints as ints
        number = int(row.get("trial", index))
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"trial-{number:03d}",
                              nested=True):
            mlflow.log_params({name: row[name] for name in settings})
            mlflow.log_metrics({name: float(row[name]) for name in metrics})
            mlflow.set_tags({"tuning_trial": str(number), "best": str(index == best).lower()})


def _log_pyfunc(bundle: Path, registered_model: str, *, example=None):
    """Log ``bundle`` as the run's pyfunc and register it (see :func:`_pyfunc_options`)."""
    return mlflow.pyfunc.log_model(name=MODEL_NAME_IN_RUN, registered_model_name=registered_model,
                                   **_pyfunc_options(bundle, example=example))


def save_pyfunc(bundle: str | Path, path: str | Path, *, example=None) -> Path:
    """Write the MLflow model folder of ``bundle`` at ``path``, as a run logs it, without
    a tracking store (to serve a bundle from a folder, or to test the pyfunc)."""
    mlflow.pyfunc.save_model(str(path), **_pyfunc_options(Path(bundle), example=example))
    return Path(path)


def _pyfunc_options(bundle: Path, *, example=None) -> dict[str, Any]:
    """The pyfunc is loaded by the installed :mod:`healthscore.model.pyfunc` (a loader
    module) with the bundle as its data: the folder holds no code or pickle to run."""
    from healthscore.model.pyfunc import LOADER_MODULE

    signature = ModelSignature(
        inputs=None,  # features vary with params; categories arrive as category or text
        outputs=Schema(
            [
                ColSpec("double", "risk_proba"),
                ColSpec("long", "health_score"),
                ColSpec("string", "band"),
            ]
        ),
    )
    return dict(
        loader_module=LOADER_MODULE,
        data_path=str(bundle),
        signature=signature,
        input_example=None if example is None else _json_ready(example),
        pip_requirements=[f"{name}=={_dist_version(name)}" for name in _REQUIREMENTS],
    )


def _json_ready(frame):
    """Categories as text, so the input example is plain JSON like a REST request."""
    from healthscore.model.encoding import is_categorical

    out = frame.copy()
    for column in out.columns:
        if is_categorical(out[column]):
            out[column] = out[column].astype("string").astype(object)
    return out


def _flat_params(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat_params(value, f"{name}."))
        else:
            out[name] = json.dumps(value, default=str)[:6000]
    return out


# --------------------------------------------------------------------- promotion


@dataclass(frozen=True)
class Promotion:
    """The outcome of :func:`promote`."""

    registered_model: str
    version: str
    previous_champion: str | None
    checks: list[GateCheck]
    export_dir: Path | None


def _version_metrics(client: MlflowClient, mv) -> dict[str, float]:
    run = client.get_run(mv.run_id)
    metrics = run.data.metrics
    return {
        "roc_auc": metrics.get("test_model_roc_auc", float("nan")),
        "ece": metrics.get("test_model_ece", float("nan")),
    }


def promote(
    version: int | str | None,
    *,
    params: TrackingParams,
    project_dir: str | Path | None = None,
    export: bool = True,
) -> Promotion:
    """Give ``version`` (default: the latest) the ``champion`` alias if the gates pass.

    Raises
    ------
    GateError
        A gate failed; the message names it and its figures. Nothing is changed.
    ModelError
        No such registered model or version, or its model folder fails verification
        (:mod:`healthscore.model.manifest`); the alias is not moved then.
    """
    name = params.registered_model
    with tracking_session(params, project_dir=project_dir) as client:
        versions = client.search_model_versions(f"name='{name}'")
        if not versions:
            raise ModelError(
                f"registry: no version of model '{name}'; run `healthscore train` first"
            )
        if version is None:
            candidate = max(versions, key=lambda v: int(v.version))
        else:
            matches = [v for v in versions if str(v.version) == str(version)]
            if not matches:
                known = ", ".join(sorted((str(v.version) for v in versions), key=int))
                raise ModelError(f"registry: model '{name}' has no version {version} (has {known})")
            candidate = matches[0]
        try:
            current = client.get_model_version_by_alias(name, CHAMPION)
        except MlflowException:
            current = None
        champion_metrics = None
        if current is not None and current.version != candidate.version:
            champion_metrics = _version_metrics(client, current)
        checks = check_gates(
            _version_metrics(client, candidate),
            champion_metrics,
            params.gates,
            candidate_name=f"version {candidate.version}",
            champion_name=f"champion (version {current.version})" if current else "champion",
        )
        failed = [c for c in checks if not c.passed]
        if failed:
            raise GateError(
                f"model '{name}' version {candidate.version} not promoted: "
                + "; ".join(f"gate {c.gate} failed: {c.message}" for c in failed)
            )
        export_dir = None
        if export:  # first: a model that cannot be exported (damaged) does not become champion
            target = Path(project_dir or Path.cwd()) / params.export_dir
            export_dir = _export(client, name, candidate, target)
        client.set_registered_model_alias(name, CHAMPION, candidate.version)
    return Promotion(
        registered_model=name,
        version=str(candidate.version),
        previous_champion=None if current is None else str(current.version),
        checks=checks,
        export_dir=export_dir,
    )


def _registry_info(name: str, mv) -> dict[str, Any]:
    return {
        "registered_model": name,
        "model_version": str(mv.version),
        "run_id": mv.run_id,
        "model_uri": f"models:/{name}/{mv.version}",
    }


def _export(client: MlflowClient, name: str, mv, export_dir: Path) -> Path:
    """Replace ``export_dir`` by the MLflow model folder of ``mv`` plus ``registry.json``
    and ``model_manifest.json`` (every file's SHA-256, written last).

    The downloaded bundle is verified first. Written next to the target then swapped in,
    so a failure leaves the old export.
    """
    export_dir = export_dir.resolve()
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=export_dir.parent))
    try:
        folder = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{mv.version}", dst_path=str(staging / "model")
            )
        )
        try:
            verify_export(folder)
            verify_bundle(find_bundle(folder))
        except ModelError as exc:  # name the version, not the staging folder
            text = str(exc).replace(str(folder), f"models:/{name}/{mv.version}")
            raise ModelError(f"registry: model '{name}' version {mv.version}: {text}") from None
        info = _registry_info(name, mv) | {
            "alias": CHAMPION,
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (folder / REGISTRY).write_text(json.dumps(info, indent=2) + "\n")
        write_export_manifest(folder)
        replace_dir(folder, export_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return export_dir


def download_model(
    uri: str, *, params: TrackingParams | None = None, project_dir: str | Path | None = None
) -> tuple[Path, dict[str, Any]]:
    """Download an MLflow model URI to a temporary folder; returns it and registry info.

    ``models:/name@alias`` and ``models:/name/version`` resolve through the registry,
    so the info names the version. The folder is left for the caller's process (it is
    small); it lives under the system's temporary directory.
    """
    params = params or TrackingParams()
    with tracking_session(params, project_dir=project_dir) as client:
        info: dict[str, Any] = {}
        if uri.startswith("models:/"):
            ref = uri[len("models:/"):]
            try:
                if "@" in ref:
                    model_name, alias = ref.split("@", 1)
                    mv = client.get_model_version_by_alias(model_name, alias)
                    info = _registry_info(model_name, mv) | {"alias": alias}
                elif "/" in ref:
                    model_name, number = ref.split("/", 1)
                    info = _registry_info(model_name, client.get_model_version(model_name, number))
            except MlflowException as exc:
                raise ModelError(f"registry: cannot resolve {uri}: {exc.message}") from None
        target = Path(tempfile.mkdtemp(prefix="healthscore-model-"))
        try:
            folder = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target))
        except MlflowException as exc:
            raise ModelError(f"cannot download model {uri}: {exc.message}") from None
    return Path(folder), info
