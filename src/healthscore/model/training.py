"""Training as a pure function: dataset frame + params -> :class:`TrainResult`.

Splits by cutoff time, trains the model (or, in ``scorecard`` mode, only the rule
scorecard) and every baseline on the same windows, evaluates all of them on the test
window (overall, per segment, per band, and against the simulator's oracle when ground
truth is given) and draws the plots. No file, no MLflow: ``tracking.py`` logs the
result, ``commands/train.py`` wires it.
"""

from __future__ import annotations

from collections.abc import Sequence

import logging
from typing import Any, Literal

import numpy as np
import pandas as pd

from healthscore.errors import DataError, InsufficientDataError
from healthscore.io.datasets import stable_share
from healthscore.model.baselines import BaseRateBaseline, RuleScorecard
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.evaluation import (
    band_table,
    metrics_table,
    plot_lift,
    reliability_table,
    plot_reliability,
    plot_roc,
)
from healthscore.model.export import ExportedModel
from healthscore.model.predictor import HazardPredictor
from healthscore.model.exposure import (
    EXPOSURE_FEATURES, Horizon, account_exposure, make_interval_rows, window_risk,
)
from healthscore.model.hazard_level import calibrate_hazards
from healthscore.model.logistic import LogisticBaseline
from healthscore.model.oracle import oracle_risk
from healthscore.model.scale import HealthScale
from healthscore.model.selection import inner_metrics, prepared_logistic, served_logistic
from healthscore.model.split import split_by_time, split_windows
from healthscore.model.train_result import TrainResult
from healthscore.progress import Progress

log = logging.getLogger(__name__)

SEGMENT = "accounts__segment"
KEYS = ("account_id", "cutoff_time", "renewal_date")


def hazard_feature_columns(dataset: pd.DataFrame, *, exclude: Sequence[str] = ()) -> list[str]:
    """The inputs of a hazard model: the training set's features and the interval's
    calendar (:data:`~healthscore.model.exposure.EXPOSURE_FEATURES`), last."""
    names = feature_columns(dataset, exclude=exclude)
    return [n for n in names if n not in EXPOSURE_FEATURES] + list(EXPOSURE_FEATURES)


def feature_columns(dataset: pd.DataFrame, *, exclude: Sequence[str] = ()) -> list[str]:
    """The feature columns of a training set: every column whose name contains ``__``,
    less those named in ``exclude`` (``params.model.exclude_features``)."""
    names = [str(c) for c in dataset.columns if "__" in str(c) and str(c) not in set(exclude)]
    if not names:
        raise DataError("training set: no feature column (names containing '__') found")
    return names


def train_models(
    dataset: pd.DataFrame,
    *,
    split: Any,
    model: Any,
    calibration: Any,
    scorecard: Any,
    score: Any,
    mode: Literal["ml", "scorecard"] = "ml",
    ground_truth: pd.DataFrame | None = None,
    tune: Any = None,
    horizon: Horizon | None = None,
    observed_until: pd.Timestamp | None = None,
    small_data: Any = None,
) -> TrainResult:
    """Train, calibrate and evaluate the model beside its baselines.

    Parameters
    ----------
    dataset : DataFrame
        The training set of ``build-dataset`` (architecture.md): keys, ``label``
        (Int8, ``<NA>`` = censored, left out) and ``__`` feature columns.
    split, model, calibration, scorecard, score : params sections
        ``SplitParams``, ``ModelParams``, ``CalibrationParams``, ``ScorecardParams``,
        ``ScoreParams`` (offset, pdo and bands only).
    mode : {"ml", "scorecard"}
        ``ml`` trains LightGBM and refuses below ``model.min_churned_rows`` churned
        training rows; ``scorecard`` exports the rule scorecard instead.
    ground_truth : DataFrame, optional
        Simulator truth with ``account_id``, ``renewal_date``, ``churn_proba``: adds the
        ``oracle`` predictor on the same test rows.
    tune : TuneParams, optional
        ``ml`` mode: search tree settings first (:mod:`healthscore.model.tuning`) on
        the training and validation windows; the trials land in ``result.tuning``.
    horizon : Horizon, optional
        A horizon-mode training set (``lost_at`` present): LightGBM learns the hazard
        of each renewal interval (:mod:`healthscore.model.exposure`) and every
        predictor is evaluated on the chance of a loss within the horizon, on the test
        window's cutoffs whose whole horizon is known. Each fit reads outcomes only up
        to the start of the window it is judged on: training intervals end before the
        validation window, validation intervals before the test window. The exported
        model is then refitted the same way on every outcome known at
        ``observed_until`` (the last months validate it): the model that is served.
    observed_until : Timestamp, optional
        The end of the data (the dataset sidecar's ``observed_until``); with
        ``horizon``.
    small_data : SmallDataParams, optional
        Renewal mode, ``ml``: the prepared L1 logistic regression and the selection
        among LightGBM, logistic regression and scorecard (:mod:`healthscore.model.selection`;
        the winner it can export is exported when ``small_data.select``). Below
        ``small_data.max_churned_rows`` churned rows in the training and validation
        windows, these form one training part whose inner time-ordered folds choose the
        tree count, fit the calibration and make the selection; no refusal below
        ``model.min_churned_rows`` then. Without it: LightGBM only, as before.

    Raises
    ------
    InsufficientDataError
        ``ml`` mode with too few churned training rows.
    DataError
        No feature columns, or an empty split window.
    """
    if mode not in ("ml", "scorecard"):
        raise DataError(f"train: mode must be 'ml' or 'scorecard', got {mode!r}")
    names = feature_columns(dataset, exclude=model.exclude_features)
    windows = split_windows(dataset, split)
    train, validation, test = split_by_time(dataset, split)
    if horizon is not None:
        if observed_until is None:
            raise DataError("train: a horizon model needs the data's observed_until (dataset sidecar)")
        names = hazard_feature_columns(dataset, exclude=model.exclude_features)
        train = make_interval_rows(dataset.loc[dataset["cutoff_time"] <= windows.validation_start],
                                   horizon=horizon, known_until=windows.validation_start)
        inside = (dataset["cutoff_time"] > windows.validation_start) & (dataset["cutoff_time"] <= windows.test_start)
        validation = make_interval_rows(dataset.loc[inside], horizon=horizon,
                                        known_until=windows.test_start)
        test = account_exposure(test, horizon)
    y_train, y_val, y_test = (_labels(w) for w in (train, validation, test))
    churned = int(y_train.sum())
    small = (mode == "ml" and horizon is None and small_data is not None
             and churned + int(y_val.sum()) < small_data.max_churned_rows)
    if mode == "ml" and churned < model.min_churned_rows and not (small and small_data.select):
        from healthscore.model.selection import expectation

        raise InsufficientDataError(
            f"training window: {churned} churned row(s) (label 1) out of {len(train)}; "
            f"at least {model.min_churned_rows} (params.model.min_churned_rows) are needed "
            "to learn a model. Use the rule scorecard instead: healthscore train --mode scorecard"
            + (f"; {expectation(churned)}" if expectation(churned) else "")
        )
    scale = HealthScale.from_params(score)
    ml = mode == "ml"  # the steps: baselines, [tuning, model, served model,] evaluation
    bar = Progress(2 + ml * (1 + (tune is not None) + (horizon is not None)), what="train", unit="steps").start()
    X_train, X_val, X_test = train[names], validation[names], test
    if horizon is None:
        X_test = test[names]

    base_rate = BaseRateBaseline().fit(X_train, y_train)
    card = RuleScorecard.from_params(scorecard, scale)
    if small_data is not None and horizon is None:
        logistic = prepared_logistic(X_train, y_train, X_val, y_val, small_data)
    else:
        logistic = LogisticBaseline().fit(X_train, y_train)
    if not small:
        card = card.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    bar.advance()
    fitted: HealthScoreModel | None = None
    selection = inner = None
    trials = None
    if mode == "ml" and tune is not None:
        from healthscore.model.tuning import tune_model_params

        model, trials = tune_model_params(
            X_train, y_train, X_val, y_val, model=model, calibration=calibration, tune=tune
        )
        bar.advance()
    if mode == "ml":
        if small:
            from healthscore.model.selection import fit_small_data

            inner = fit_small_data(pd.concat([train, validation]), names, model=model,
                                   calibration=calibration, card=card, small_data=small_data)
            fitted, logistic, card, selection = inner.model, inner.logistic, inner.card, inner.selection
        elif horizon is not None:
            fitted = fit_hazard(dataset, names, horizon=horizon, train_until=windows.validation_start,
                                known_until=windows.test_start, model=model, calibration=calibration)
        else:
            fitted = HealthScoreModel.from_params(model, calibration).fit(
                X_train, y_train, X_val=X_val, y_val=y_val
            )
        if selection is None and small_data is not None and horizon is None:
            from healthscore.model.selection import select_on_validation

            selection = select_on_validation(y_val, {
                "lightgbm": fitted.predict_margin(X_val),
                "logistic": logistic.predict_logit(X_val),
                "scorecard": -card.health_score(X_val).astype(np.float64)},
                margin=small_data.min_auc_gain)
        if selection is not None:
            log.info("selection: %s", selection.reason)
        if selection is not None and small_data.select and selection.exported == "scorecard":
            mode, fitted = "scorecard", None
        exported = ExportedModel(fitted if horizon is None else HazardPredictor(fitted, horizon), scale) \
            if fitted is not None else ExportedModel(card, scale)
        if selection is not None and small_data.select and selection.exported in ("blend", "logistic"):
            exported = ExportedModel(inner.exported_predictor() if inner is not None else served_logistic(
                logistic, logistic.predict_logit(X_val), y_val), scale)
        bar.advance()
    else:
        exported = ExportedModel(card, scale)
    evaluated = exported
    if mode == "ml" and horizon is not None:
        served = fit_served_model(dataset, horizon=horizon, observed_until=observed_until,
                                  split=split, model=model, calibration=calibration)
        exported = ExportedModel(HazardPredictor(served, horizon), scale)
        bar.advance()

    def risks_of(frame: pd.DataFrame, *, intervals: bool = False) -> dict[str, np.ndarray]:
        """Each predictor's risk of ``frame``'s rows: of an interval (its hazard) when
        ``intervals``, else of the row's whole window."""
        def risk(predictor):
            if predictor is evaluated and evaluated.kind == "scorecard":
                predictor = card  # --mode scorecard: its risk is the card's, hazard per interval
            if intervals and predictor is evaluated:
                return predictor.model.predict_risk(frame)
            if horizon is None or intervals or predictor is evaluated:
                return predictor.predict_risk(frame)
            return window_risk(predictor.predict_risk, frame)

        return {
            "model": risk(evaluated),
            "logistic": risk(logistic),
            "scorecard": risk(card),
            "base_rate": risk(base_rate),
        }

    bins = calibration.ece_bins
    test_risks = risks_of(X_test)
    ratio = None
    if ground_truth is not None and horizon is not None and (
            "risk_horizon" not in ground_truth or "horizon_days" in ground_truth
            and (ground_truth["horizon_days"] != horizon.horizon_days).any()):
        log.warning("oracle: the ground truth has no risk_horizon of a %d-day horizon (simulate "
                    "with --oracle-horizon-days %d and pass oracle.parquet); no oracle for the "
                    "horizon risk", horizon.horizon_days, horizon.horizon_days)
        ground_truth = None
    if ground_truth is not None:
        test_risks["oracle"] = (oracle_risk(test, ground_truth) if horizon is None else oracle_risk(
            test, ground_truth, keys=("account_id", "cutoff_time"), value="risk_horizon"))
    segments = test[SEGMENT] if SEGMENT in test.columns else None
    metrics = metrics_table(y_test, test_risks, segments=segments, n_bins=bins)
    validation_metrics = (inner_metrics(inner, pd.concat([train, validation]), base_rate, n_bins=bins)
                          if inner is not None else
                          metrics_table(y_val, risks_of(X_val, intervals=horizon is not None), n_bins=bins))
    if ground_truth is not None:  # both AUCs on the rows that have ground truth
        matched = ~np.isnan(test_risks["oracle"])
        pair = metrics_table(
            y_test[matched], {k: test_risks[k][matched] for k in ("model", "oracle")}
        ).set_index("predictor")["roc_auc"]
        ratio = float(pair["model"] / pair["oracle"])

    model_scores = evaluated.health_score(X_test)
    card_scores = (card.health_score(X_test) if horizon is None
                   else scale.score(test_risks["scorecard"]))
    bands = pd.concat(
        [
            band_table(y_test, scale.band(model_scores)).assign(predictor="model"),
            band_table(y_test, scale.band(card_scores)).assign(predictor="scorecard"),
        ],
        ignore_index=True,
    )[["predictor", "band", "rows", "churned", "churn_rate", "share"]]

    keys = [k for k in KEYS if k in test.columns]
    predictions = test[keys].reset_index(drop=True).assign(label=y_test)
    if segments is not None:
        predictions[SEGMENT] = segments.to_numpy()
    for name, values in test_risks.items():
        predictions[f"risk_{name}"] = values
    predictions["health_score"] = model_scores
    predictions["band"] = scale.band(model_scores)

    figures = {
        "reliability": plot_reliability(y_test, test_risks, n_bins=bins),
        "roc": plot_roc(y_test, test_risks),
        "lift": plot_lift(y_test, test_risks),
    }
    counts = pd.DataFrame(
        [
            _count("train", train),
            _count("validation", validation),
            _count("test", test),
            _count("censored", dataset.loc[dataset["label"].isna()]),
        ]
    )
    bar.advance()
    return TrainResult(
        mode=mode,
        exported=exported,
        model=fitted,
        scorecard=card,
        logistic=logistic,
        base_rate=base_rate,
        scale=scale,
        feature_names=names,
        windows=windows,
        counts=counts,
        metrics=metrics,
        validation_metrics=validation_metrics,
        bands=bands,
        predictions=predictions,
        figures=figures,
        oracle_auc_ratio=ratio,
        example=test[[*keys[:1], *exported.feature_names]].head(5).reset_index(drop=True)
        if mode == "ml" else test[[*keys[:1], *names]].head(5).reset_index(drop=True),
        model_params=model if mode == "ml" or trials is not None else None,
        reliability=reliability_table(y_test, test_risks["model"], n_bins=bins),
        tuning=trials,
        selection=selection,
    )


def fit_served_model(dataset: pd.DataFrame, *, horizon: Horizon, observed_until: pd.Timestamp,
                     split: Any, model: Any, calibration: Any) -> HealthScoreModel:
    """The hazard model on every outcome known at ``observed_until``: what ``train``
    exports (:func:`fit_hazard`; the latest ``split.validation_months`` of cutoffs stop
    the boosting, the earlier ones train on what was known at their end). Needs no
    whole horizon of labels, so it also runs on a short history (a backtest's early
    dates)."""
    names = hazard_feature_columns(dataset, exclude=model.exclude_features)
    start = served_train_until(observed_until, horizon=horizon, split=split)
    return fit_hazard(dataset, names, horizon=horizon, train_until=start,
                      known_until=pd.Timestamp(observed_until), model=model, calibration=calibration)


def served_train_until(observed_until: pd.Timestamp, *, horizon: Horizon, split: Any) -> pd.Timestamp:
    """The last cutoff :func:`fit_served_model` trains the booster on: the latest
    ``split.validation_months`` before the data's end (less the grace) stop it."""
    end = pd.Timestamp(observed_until) - pd.Timedelta(days=horizon.grace_days)
    return end - pd.DateOffset(months=split.validation_months)


def fit_hazard(dataset: pd.DataFrame, names: list[str], *, horizon: Horizon,
               train_until: pd.Timestamp, known_until: pd.Timestamp, model: Any,
               calibration: Any) -> HealthScoreModel:
    """The hazard model of a horizon-mode training set, on outcomes known at ``known_until``.

    Accounts are split by a seeded hash of their id: ``model.holdout_share`` of them
    are held out. The booster learns from the other accounts' intervals of cutoffs up
    to ``train_until`` (outcomes known then) and stops early on their later cutoffs'
    intervals (outcomes known at ``known_until``). The Platt step, whose slope and
    level move with the lead, is then fitted on the intervals of the held-out accounts
    at every cutoff, as far as ``known_until`` shows them: accounts the trees never saw.
    """
    held = _held_out(dataset["account_id"], share=model.holdout_share, seed=model.random_state)
    early = (dataset["cutoff_time"] <= train_until).to_numpy()
    known = (dataset["cutoff_time"] <= known_until).to_numpy()
    train = make_interval_rows(dataset.loc[~held & early], horizon=horizon, known_until=train_until)
    validation = make_interval_rows(dataset.loc[~held & ~early & known], horizon=horizon,
                                    known_until=known_until)
    calib = make_interval_rows(dataset.loc[held & known], horizon=horizon, known_until=known_until)
    log.info("hazard model: %d training intervals (cutoffs to %s), %d validating, %d of held-out "
             "accounts calibrating", len(train), pd.Timestamp(train_until).date(), len(validation),
             len(calib))
    fitted = HealthScoreModel.from_params(model, calibration).fit(
        train[names], _labels(train), X_val=validation[names], y_val=_labels(validation))
    return calibrate_hazards(fitted, calib[names], calib, recent_from=train_until, horizon=horizon)


def _held_out(ids: pd.Series, *, share: float, seed: int) -> np.ndarray:
    """A stable ``share`` of accounts, by a seeded hash of their id."""
    return stable_share(ids, share=share, key=f"{seed:016d}"[:16])


def _labels(window: pd.DataFrame) -> np.ndarray:
    return window["label"].to_numpy(dtype=np.int64)


def _count(name: str, window: pd.DataFrame) -> dict[str, Any]:
    cutoffs = pd.to_datetime(window["cutoff_time"])
    churned = int(window["label"].fillna(0).astype(np.int64).sum()) if name != "censored" else 0
    return {
        "window": name,
        "rows": len(window),
        "churned": churned,
        "first_cutoff": cutoffs.min() if len(window) else pd.NaT,
        "last_cutoff": cutoffs.max() if len(window) else pd.NaT,
    }
