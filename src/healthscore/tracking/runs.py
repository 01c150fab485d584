"""Training runs: params, metrics, plots, tables and the model as a registered pyfunc.

A training run logs params, the data fingerprint, metrics of the model and of every
baseline, plots, tables, the feature catalogue and the model as a pyfunc (loader module
:mod:`healthscore.model.pyfunc`, the bundle as data: no code in the model folder)
registered as ``params.tracking.registered_model``; with ``train --tune``, one nested
child run per tuning trial.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

import mlflow
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from healthscore.config import TrackingParams, params_to_dict
from healthscore.model.export import save_bundle
from healthscore.model.pyfunc import LOADER_MODULE
from healthscore.tracking.session import experiment_id as _experiment_id
from healthscore.tracking.session import tracking_session

MODEL_NAME_IN_RUN = "model"
#: Packages the pyfunc imports besides healthscore itself (which must be installed
#: where the model is served: ``mlflow models serve --env-manager local``).
_REQUIREMENTS = ("lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "pyyaml")

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
