"""The small seeded hyperparameter search of ``healthscore train --tune``.

Optuna's TPE sampler (seeded by ``params.model.random_state``) proposes tree settings;
each trial fits :class:`HealthScoreModel` on the training window with early stopping
and calibration on the validation window, and is scored by the validation log loss of
its calibrated risk. The test window is never seen. ``tune.n_trials`` bounds the
search, and ``tune.timeout_seconds`` its wall time (with a timeout, how many trials run
depends on the machine, so the result may differ between machines; 0 means no limit).

The space stays within cheap-to-explain trees: ``num_leaves`` 4-15, ``max_depth`` 2-4.
The trials table is returned, not logged: :mod:`healthscore.tracking` writes one MLflow
child run per trial under the training run. On the demo data (2,000 simulated accounts
over 36 months, ~10,000 training rows) the default 20 trials take about a minute on 2 cores.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

from healthscore.errors import ConfigError
from healthscore.model.estimator import HealthScoreModel

log = logging.getLogger(__name__)

#: name -> (type, low, high, log scale): small trees only, so explanations stay cheap.
SPACE: dict[str, tuple[type, float, float, bool]] = {
    "learning_rate": (float, 0.02, 0.2, True),
    "num_leaves": (int, 4, 15, False),
    "max_depth": (int, 2, 4, False),
    "min_child_samples": (int, 10, 300, True),
    "reg_lambda": (float, 0.01, 30.0, True),
    "colsample_bytree": (float, 0.4, 1.0, False),
    "subsample": (float, 0.5, 1.0, False),
}


def tune_model_params(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    *,
    model: Any,
    calibration: Any,
    tune: Any,
) -> tuple[Any, pd.DataFrame]:
    """Search tree settings; return the best ``ModelParams`` and the trials table.

    Parameters
    ----------
    X_train, y_train, X_val, y_val
        Training and validation windows (features, 0/1 labels).
    model : ModelParams
        Start point and fixed settings (seed, threads, caps).
    calibration : CalibrationParams
    tune : TuneParams
        ``n_trials`` and ``timeout_seconds``.

    Returns
    -------
    (ModelParams, DataFrame)
        The best settings (the start point is trial 0, so the result is never worse on
        validation than the defaults) and one row per trial: ``trial`` (0-based), its
        settings, ``val_log_loss``, ``trees`` and ``seconds`` (fit and scoring time).
    """
    if tune.n_trials < 1 or tune.timeout_seconds < 0:
        raise ConfigError(
            f"tune: expected n_trials >= 1 and timeout_seconds >= 0 (0: no limit), got "
            f"{tune.n_trials} and {tune.timeout_seconds}"
        )
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: list[dict[str, Any]] = []

    def objective(trial: "optuna.Trial") -> float:
        settings = {}
        for name, (kind, low, high, log_scale) in SPACE.items():
            suggest = trial.suggest_int if kind is int else trial.suggest_float
            settings[name] = suggest(name, low, high, log=log_scale)
        candidate = dataclasses.replace(model, **settings)
        started = time.perf_counter()
        fitted = HealthScoreModel.from_params(candidate, calibration).fit(
            X_train, y_train, X_val=X_val, y_val=y_val
        )
        loss = float(log_loss(y_val, fitted.predict_risk(X_val), labels=[0, 1]))
        rows.append({"trial": trial.number, **settings, "val_log_loss": loss,
                     "trees": fitted.best_iteration_,
                     "seconds": round(time.perf_counter() - started, 3)})
        return loss

    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=model.random_state)
    )
    start = {}
    for name, (kind, low, high, _) in SPACE.items():
        value = getattr(model, name)
        if name == "max_depth" and value <= 0:  # unlimited depth: start from the deepest allowed
            value = high
        start[name] = kind(min(max(value, low), high))
    study.enqueue_trial(start)  # the configured settings are trial 0
    study.optimize(objective, n_trials=tune.n_trials, timeout=tune.timeout_seconds or None)
    best = dataclasses.replace(model, **study.best_params)
    log.info("tuning: %d trial(s), best validation log loss %.5f", len(rows), study.best_value)
    return best, pd.DataFrame(rows)
