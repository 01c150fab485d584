"""Drift monitoring and the retraining recommendation.

* :mod:`~healthscore.monitor.psi`: population stability over bins fixed at training;
* :mod:`~healthscore.monitor.reference`: the training window's bins and shares, saved
  with the model as ``reference.json`` by ``healthscore train``;
* :mod:`~healthscore.monitor.drift`: PSI of every feature and of the score on a
  scoring date, band shares, calibration of matured past scores, model age;
* :mod:`~healthscore.monitor.verdict`: the verdict in words, the alerts past
  ``params.monitor``, whether to retrain.

:func:`monitor_date` is what ``healthscore score`` (each run) and ``healthscore
monitor`` both call.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from healthscore.io.files import strict_json
from healthscore.monitor.drift import (band_shift, drift_table, matured_calibration,
                                       model_age_days)
from healthscore.monitor.reference import build_reference, check_reference, training_reference
from healthscore.monitor.verdict import drift_metrics, render_recommendation, summarise_drift

__all__ = ["build_reference", "drift_metrics", "monitor_date", "render_recommendation",
           "training_reference"]


def monitor_date(points: Any, risk_list: pd.DataFrame, exported: Any, *, as_of: Any,
                 layout: Any, tables: Any, params: Any) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """``(drift table or None, summary)`` of one scored date.

    Parameters
    ----------
    points : DataFrame or iterable of DataFrame
        The date's stored points (feature values as scored), or its parts one at a time
        (a bucketed run's spool: :func:`~healthscore.monitor.drift.feature_shares`).
    risk_list : DataFrame
        The date's risk list.
    exported : ExportedModel
        The model whose ``reference`` the date is compared with (None: "no training
        reference", no drift table).
    layout : OutputLayout
        Where the earlier risk lists are (matured calibration).
    tables : Tables or None
        The current data (outcomes of earlier runs); None: not measured.
    """
    reference = check_reference(exported.reference)
    table = bands = None
    if reference is not None:
        table = drift_table(points, risk_list, reference, catalogue=exported.catalogue,
                            monitor=params.monitor)
        bands = band_shift(risk_list, reference)
    matured = matured_calibration(layout, tables, params, horizon=exported.horizon, as_of=as_of)
    summary = summarise_drift(table, bands=bands, matured=matured,
                              age_days=model_age_days(reference, as_of), monitor=params.monitor)
    if reference is not None:
        summary["window"] = dict(reference.get("window") or {})
        summary["trained_until"] = reference.get("trained_until")
    return table, strict_json(summary)
