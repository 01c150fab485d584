"""The churn model, its baselines, evaluation and the exported model format.

* :func:`split_by_time`: out-of-time train / validation / test split.
* :class:`HealthScoreModel`: calibrated LightGBM (scikit-learn estimator).
* :class:`HealthScale`: risk -> 1-100 health score and band.
* :class:`RuleScorecard`, :class:`LogisticBaseline`, :class:`BaseRateBaseline`.
* :func:`metrics_table` and the plots: evaluation.
* :func:`train_models` -> :class:`TrainResult`: the whole training stage, pure.
* :class:`ExportedModel`, :func:`load_exported`: what scoring loads.
"""

from healthscore.model.baselines import BaseRateBaseline, RuleScorecard
from healthscore.model.logistic import LogisticBaseline
from healthscore.model.calibration import Calibrator
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.evaluation import band_table, classification_metrics, metrics_table
from healthscore.model.export import ExportedModel, load_bundle, load_exported, save_bundle
from healthscore.model.gates import GateCheck, check_gates
from healthscore.model.scale import HealthScale
from healthscore.model.split import split_by_time, split_windows
from healthscore.model.train_result import TrainResult
from healthscore.model.training import train_models

__all__ = [
    "BaseRateBaseline",
    "Calibrator",
    "ExportedModel",
    "GateCheck",
    "HealthScale",
    "HealthScoreModel",
    "LogisticBaseline",
    "RuleScorecard",
    "TrainResult",
    "band_table",
    "check_gates",
    "classification_metrics",
    "load_bundle",
    "load_exported",
    "metrics_table",
    "save_bundle",
    "split_by_time",
    "split_windows",
    "train_models",
]
