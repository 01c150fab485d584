"""What one training run produced, in memory (:class:`TrainResult`), and its metrics
flattened for MLflow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, TYPE_CHECKING

import pandas as pd

from healthscore.model.baselines import BaseRateBaseline, RuleScorecard
from healthscore.model.logistic import LogisticBaseline
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.evaluation import METRICS
from healthscore.model.export import ExportedModel
from healthscore.model.scale import HealthScale
from healthscore.model.split import SplitWindows

if TYPE_CHECKING:  # matplotlib loads only where a plot is drawn
    from matplotlib.figure import Figure


@dataclass
class TrainResult:
    """Everything one training run produced, in memory.

    ``predictors`` of the tables: ``model`` (the exported one: LightGBM in ``ml`` mode,
    the rule scorecard in ``scorecard`` mode), ``logistic``, ``scorecard``,
    ``base_rate`` and, with ground truth, ``oracle``.
    """

    mode: Literal["ml", "scorecard"]
    exported: ExportedModel
    model: HealthScoreModel | None
    scorecard: RuleScorecard
    logistic: LogisticBaseline
    base_rate: BaseRateBaseline
    scale: HealthScale
    feature_names: list[str]
    windows: SplitWindows
    counts: pd.DataFrame
    metrics: pd.DataFrame
    validation_metrics: pd.DataFrame
    bands: pd.DataFrame
    predictions: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)
    oracle_auc_ratio: float | None = None
    example: pd.DataFrame | None = None
    model_params: Any = None
    tuning: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None
    selection: Any = None  # healthscore.model.selection.Selection: which predictor won and why

    def overall(self, predictor: str = "model") -> dict[str, float]:
        """Test metrics of one predictor over all test rows."""
        row = self.metrics.query("segment == 'all' and predictor == @predictor")
        return {} if row.empty else row.iloc[0].drop(["segment", "predictor"]).to_dict()

    def flat_metrics(self) -> dict[str, float]:
        """Metric name -> value, for MLflow: ``test_<predictor>_<metric>``,
        ``val_<predictor>_<metric>``, ``segment/<segment>/test_<predictor>_<metric>``,
        ``test_<predictor>_churn_rate_<band>``, ``rows_<window>``, ``churned_<window>``."""
        out: dict[str, float] = {}
        for row in self.metrics.itertuples(index=False):
            prefix = "" if row.segment == "all" else f"segment/{_safe(row.segment)}/"
            for metric in (*METRICS, "rows", "churned"):
                if metric in ("rows", "churned") and row.segment == "all":
                    continue
                out[f"{prefix}test_{row.predictor}_{metric}"] = float(getattr(row, metric))
        for row in self.validation_metrics.itertuples(index=False):
            for metric in METRICS:
                out[f"val_{row.predictor}_{metric}"] = float(getattr(row, metric))
        for row in self.bands.itertuples(index=False):
            out[f"test_{row.predictor}_churn_rate_{row.band}"] = float(row.churn_rate)
            out[f"test_{row.predictor}_share_{row.band}"] = float(row.share)
        for row in self.counts.itertuples(index=False):
            out[f"rows_{row.window}"] = float(row.rows)
            out[f"churned_{row.window}"] = float(row.churned)
        if self.model is not None:
            out["best_iteration"] = float(self.model.best_iteration_)
        if self.oracle_auc_ratio is not None:
            out["test_model_auc_to_oracle"] = float(self.oracle_auc_ratio)
        return out


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text))
