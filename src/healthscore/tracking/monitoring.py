"""Drift metrics of a scoring run, logged to the MLflow run that trained its model.

Scoring runs without a tracking server: :func:`log_drift_metrics` logs only where that
run exists (the model carries its ``run_id`` and the store holds it), and never creates
a store. Each metric is stepped by the as-of date (days since 1970-01-01), so MLflow
draws each drift figure against the scoring dates.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from healthscore.config import TrackingParams
from healthscore.tracking.session import resolve_tracking_uri, tracking_session

log = logging.getLogger(__name__)

_BATCH = 1000  # MLflow's limit of metrics per log_batch call


def log_drift_metrics(run_id: str | None, metrics: Mapping[str, float], *, params: TrackingParams,
                      as_of: Any, project_dir: str | Path | None = None) -> bool:
    """Log ``metrics`` to run ``run_id`` at step = the as-of date; whether they were.

    False (and nothing written) when there is no run id, the store is an SQLite file
    that does not exist, or the store does not hold the run.
    """
    if not run_id or not metrics:
        return False
    uri = resolve_tracking_uri(params, project_dir=project_dir)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return False
    when = pd.Timestamp(as_of)
    step = int((when - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1))
    stamp = int(when.timestamp() * 1000)
    batch = [Metric(key, float(value), stamp, step) for key, value in sorted(metrics.items())]
    try:
        with tracking_session(params, project_dir=project_dir) as client:
            client.get_run(run_id)
            for start in range(0, len(batch), _BATCH):
                client.log_batch(run_id, metrics=batch[start:start + _BATCH])
    except MlflowException as exc:
        log.info("drift metrics not logged to MLflow run %s: %s", run_id, exc.message)
        return False
    return True
