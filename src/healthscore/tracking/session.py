"""Where MLflow points: the tracking URI, the artifact root, a session that restores both.

``params.tracking.uri``, else ``MLFLOW_TRACKING_URI``, else the embedded store
``sqlite:///<project>/mlruns.db`` with artifacts in ``<project>/mlartifacts/``
(``<project>`` = the directory the command runs in). The URI is set per call, inside
:func:`tracking_session`, and restored after; importing this module sets nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import mlflow
from mlflow import MlflowClient

from healthscore.config import TrackingParams


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

def experiment_id(client: MlflowClient, params: TrackingParams, project_dir) -> str:
    experiment = client.get_experiment_by_name(params.experiment)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(
        params.experiment, artifact_location=artifact_location(params, project_dir=project_dir)
    )
