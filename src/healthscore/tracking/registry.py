"""The model registry: promotion behind the quality gates, export, and loading by URI.

:func:`promote` moves the ``champion`` alias only when the quality gates pass, then
exports the champion folder for serverless scoring, verified and with a manifest of
every file. :func:`load_model` loads a ``models:/`` / ``runs:/`` URI (or a folder):
this package downloads, :func:`healthscore.model.export.load_exported` reads.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from healthscore.config import TrackingParams
from healthscore.errors import GateError, ModelError
from healthscore.io.staging import Stage, folder_lock
from healthscore.model.export import (
    REGISTRY, ExportedModel, find_bundle, is_model_uri, load_exported, verify_bundle,
    verify_export, write_export_manifest,
)
from healthscore.model.gates import GateCheck, check_gates
from healthscore.tracking.session import tracking_session

CHAMPION = "champion"


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
    more_gates: Callable[[str, str | None], list[GateCheck]] | None = None,
) -> Promotion:
    """Give ``version`` (default: the latest) the ``champion`` alias if the gates pass.

    ``more_gates(candidate_version, champion_version)``: further checks (the matured
    outcomes of ``healthscore promote``), decided with the others.

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
        if more_gates is not None:
            checks += more_gates(str(candidate.version), None if current is None else str(current.version))
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

    The downloaded bundle is verified first. Written next to the target, then committed
    in one journaled step under the parent folder's lock (:mod:`healthscore.io.staging`),
    so a failure or a kill leaves the old export.
    """
    export_dir = export_dir.resolve()
    with folder_lock(export_dir.parent, what="model folder"), \
            Stage(export_dir.parent, f"export-{export_dir.name}") as stage:
        folder = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{mv.version}", dst_path=str(stage.path / "download")
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
        os.replace(folder, stage.new / export_dir.name)
        stage.commit([export_dir.name])
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


def load_model(
    path_or_uri: str | Path, *, params: TrackingParams | None = None,
    project_dir: str | Path | None = None,
) -> ExportedModel:
    """The model to score with, from a folder or an MLflow model URI.

    A URI (``models:/healthscore@champion``, ``runs:/<run_id>/model``) is downloaded
    from the registry of ``params`` (default: env or the embedded store) and its
    registry information (registered name, version, alias) added to ``info``; a folder
    goes straight to :func:`~healthscore.model.export.load_exported`. Every file is
    verified against its manifest before it is read.
    """
    if not (isinstance(path_or_uri, str) and is_model_uri(path_or_uri)):
        return load_exported(path_or_uri)
    folder, registry = download_model(str(path_or_uri), params=params, project_dir=project_dir)
    exported = load_exported(folder)
    exported.info.update(registry)
    return exported
