"""The only package that talks to MLflow: runs, the model registry, promotion, export.

* :mod:`~healthscore.tracking.session`: where MLflow points (``params.tracking.uri``,
  else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<project>/mlruns.db``), set per call
  inside :func:`tracking_session` and restored after; importing sets nothing.
* :mod:`~healthscore.tracking.runs`: :func:`log_training_run` (params, metrics, plots,
  tables, the model as a pyfunc whose loader is the installed
  :mod:`healthscore.model.pyfunc`) and :func:`save_pyfunc`.
* :mod:`~healthscore.tracking.monitoring`: :func:`log_drift_metrics`, a scoring run's
  drift metrics on the run that trained its model.
* :mod:`~healthscore.tracking.registry`: :func:`promote` behind the quality gates, the
  verified export of the champion, :func:`download_model` and :func:`load_model`
  (a URI or a folder to an :class:`~healthscore.model.export.ExportedModel`).

The model package never imports this one: tracking calls export, not the reverse.
"""

from healthscore.tracking.monitoring import log_drift_metrics
from healthscore.tracking.registry import CHAMPION, Promotion, download_model, load_model, promote
from healthscore.tracking.runs import MODEL_NAME_IN_RUN, LoggedRun, log_training_run, save_pyfunc
from healthscore.tracking.session import artifact_location, resolve_tracking_uri, tracking_session

__all__ = [
    "CHAMPION", "MODEL_NAME_IN_RUN", "LoggedRun", "Promotion", "artifact_location",
    "download_model", "load_model", "log_drift_metrics", "log_training_run", "promote", "resolve_tracking_uri",
    "save_pyfunc", "tracking_session",
]
