"""``HealthScoreModel``: a calibrated LightGBM churn classifier, scikit-learn style.

``__init__`` stores parameters only; ``fit`` learns and returns ``self``; learned state
ends in ``_``. The booster is trained with native categoricals, early stopping on a
validation window and deterministic settings (same data and seed, same model bytes).
The raw margin is calibrated by Platt scaling on the validation window
(``calibrated_logit = a * margin + b``, see :mod:`healthscore.model.calibration`).

Persistence (:mod:`healthscore.model.model_files`) is three plain files, no pickle: ``model.txt`` (LightGBM's text format),
``calibration.json`` and ``features.json`` (feature order and categorical levels).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from healthscore.errors import DataError, ModelError
from healthscore.model.calibration import fit_calibrator
from healthscore.model.encoding import encode_frame, learn_columns
from healthscore.model.exposure import LEAD
from healthscore.model.model_files import read_model, write_model
from healthscore.model.split import stratified_holdout
from healthscore.model.tree_split import split_trees

class HealthScoreModel(ClassifierMixin, BaseEstimator):
    """Calibrated LightGBM binary classifier of churn (label 1 = churned).

    A fitted model is a :class:`~healthscore.model.predictor.Predictor` of renewal
    mode (one row, one renewal); a hazard model is wrapped in a
    :class:`~healthscore.model.predictor.HazardPredictor`.

    Parameters
    ----------
    n_estimators : int
        Cap on boosting rounds; early stopping picks the number kept.
    learning_rate, num_leaves, max_depth, min_child_samples : LightGBM tree settings
        (``min_child_samples`` is LightGBM's ``min_data_in_leaf``).
    subsample, subsample_freq, colsample_bytree, reg_lambda : LightGBM bagging,
        feature sampling and L2 settings.
    early_stopping_rounds : int
        Rounds without improvement of the validation log loss before stopping;
        0 disables early stopping.
    holdout_share : float
        When ``fit`` gets no validation window: the seeded, stratified share of rows
        held out for early stopping and calibration (0 = none: calibrate in-sample).
    calibration : {"platt", "isotonic"}
        Platt (default) keeps explanations additive; isotonic is report-only.
    inner_folds : int
        0 (default): early stopping and calibration on the validation window. ``k >= 2``:
        ``fit`` gets ``cutoffs`` instead; the tree count is chosen by ``k``
        expanding-window folds over the cutoff days
        (:func:`~healthscore.model.inner_cv.cv_tree_count`), the booster is refitted on
        every row with that count, and Platt is fitted on the out-of-fold margins.
    random_state : int
        Seed of LightGBM and of the holdout split.
    n_jobs : int
        LightGBM threads (fixed, for reproducible results).

    Attributes
    ----------
    booster_ : lightgbm.Booster
        Trimmed to the best iteration.
    calibrator_ : Calibrator
    feature_names_ : list of str
        Feature order of the booster.
    categories_ : dict of str to list of str
        Levels of each categorical feature; code i = level i, unseen or missing = NaN.
    classes_ : ndarray of shape (2,)
        ``classes_[1]`` is the churned class.
    best_iteration_ : int
        Trees kept.
    validation_ : {"given", "holdout", "in-sample", "inner-cv"}
        Where early stopping and calibration got their rows.
    """

    #: Predictor contract (healthscore.model.predictor): a row is one renewal.
    kind = "lightgbm"
    horizon = None
    scale_scores = True

    def __init__(
        self,
        *,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        max_depth: int = 3,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 100,
        holdout_share: float = 0.25,
        calibration: Literal["platt", "isotonic"] = "platt",
        inner_folds: int = 0,
        random_state: int = 42,
        n_jobs: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.holdout_share = holdout_share
        self.calibration = calibration
        self.inner_folds = inner_folds
        self.random_state = random_state
        self.n_jobs = n_jobs

    @classmethod
    def from_params(cls, model: Any, calibration: Any = None, *,
                    inner_folds: int = 0) -> "HealthScoreModel":
        """Build from ``params.model`` (ModelParams) and ``params.calibration``;
        ``inner_folds`` from ``params.small_data`` where the data is small."""
        return cls(
            inner_folds=inner_folds,
            n_estimators=model.n_estimators,
            learning_rate=model.learning_rate,
            num_leaves=model.num_leaves,
            max_depth=model.max_depth,
            min_child_samples=model.min_child_samples,
            subsample=model.subsample,
            subsample_freq=model.subsample_freq,
            colsample_bytree=model.colsample_bytree,
            reg_lambda=model.reg_lambda,
            early_stopping_rounds=model.early_stopping_rounds,
            holdout_share=model.holdout_share,
            calibration=calibration.method if calibration is not None else "platt",
            random_state=model.random_state,
            n_jobs=model.n_jobs,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------- fitting

    def fit(self, X: Any, y: Any, *, X_val: Any = None, y_val: Any = None,
            cutoffs: Any = None) -> "HealthScoreModel":
        """Train the booster, stop early and calibrate.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
            Numeric columns and categorical ones (``category``, ``object`` or
            ``string`` dtype); NaN = missing.
        y : array of shape (n,)
            Two classes; the larger (sorted) one is churn.
        X_val, y_val : optional
            The validation window (later cutoffs than ``X``) for early stopping and
            calibration. Without it, a seeded stratified ``holdout_share`` of ``X`` is
            held out.
        cutoffs : array of shape (n,), optional
            With ``inner_folds``: each row of ``X``'s cutoff time (``X`` is then the whole
            training part, and no ``X_val`` is given).

        Returns
        -------
        self
        """
        if (X_val is None) != (y_val is None):
            raise ValueError("fit: give both X_val and y_val, or neither")
        frame = self._frame_for_fit(X)
        target = self._fit_target(y)
        if len(target) != len(frame):
            raise ValueError(f"fit: X has {len(frame)} rows but y has {len(target)}")
        self.feature_names_, self.categories_ = learn_columns(frame)
        matrix = encode_frame(frame, self.feature_names_, self.categories_)
        if self.inner_folds:
            if cutoffs is None or X_val is not None:
                raise ValueError("fit: inner_folds needs cutoffs and no X_val")
            return self._fit_inner_cv(matrix, target, np.asarray(cutoffs))

        if X_val is not None:
            train_m, train_y = matrix, target
            val_m = self._matrix(X_val, fitting=True)
            val_y = self._encode_target(y_val)
            self.validation_ = "given"
        else:
            held = stratified_holdout(target, share=float(self.holdout_share), seed=self.random_state)
            if held is None:
                train_m, train_y, val_m, val_y = matrix, target, None, None
                self.validation_ = "in-sample"
            else:
                fit_idx, val_idx = held
                train_m, train_y = matrix[fit_idx], target[fit_idx]
                val_m, val_y = matrix[val_idx], target[val_idx]
                self.validation_ = "holdout"

        self.booster_ = self._train_booster(train_m, train_y, val_m, val_y)
        self.best_iteration_ = int(self.booster_.num_trees())
        calib_m, calib_y = (train_m, train_y) if val_m is None else (val_m, val_y)
        margin = self.booster_.predict(calib_m, raw_score=True, num_threads=self.n_jobs)
        self.calibrator_ = fit_calibrator(margin, calib_y, method=self.calibration)
        return self

    def _fit_inner_cv(self, matrix: np.ndarray, target: np.ndarray, cutoffs: np.ndarray):
        """Tree count by inner time-ordered folds, Platt on their out-of-fold margins."""
        from healthscore.model.inner_cv import cv_tree_count, inner_time_folds, oof_calibrator

        if len(cutoffs) != len(target):
            raise ValueError(f"fit: X has {len(target)} rows but cutoffs has {len(cutoffs)}")
        folds = inner_time_folds(cutoffs, target, n_folds=int(self.inner_folds))
        if not folds:
            raise ModelError(f"fit: none of the {self.inner_folds} inner folds has churned and "
                             "retained rows on both sides; fewer inner_folds or more data")
        categorical = [i for i, n in enumerate(self.feature_names_) if n in self.categories_]
        best, self.oof_margin_, self.inner_curve_ = cv_tree_count(
            self._lgb_params(), matrix, target, folds, rounds=int(self.n_estimators),
            feature_names=list(self.feature_names_), categorical=categorical)
        self.inner_folds_ = len(folds)
        self.booster_ = self._train_booster(matrix, target, None, None, rounds=best)
        self.best_iteration_ = int(self.booster_.num_trees())
        margin = self.booster_.predict(matrix, raw_score=True, num_threads=self.n_jobs)
        self.calibrator_ = oof_calibrator(self.oof_margin_, target, folds, refit_margin=margin,
                                          method=self.calibration)
        self.validation_ = "inner-cv"
        return self

    def _train_booster(self, train_m, train_y, val_m, val_y, *, rounds: int | None = None) -> lgb.Booster:
        categorical = [i for i, n in enumerate(self.feature_names_) if n in self.categories_]
        dtrain = lgb.Dataset(
            train_m,
            label=train_y,
            feature_name=list(self.feature_names_),
            categorical_feature=categorical,
            params={"verbosity": -1},
            free_raw_data=True,
        )
        valid_sets, callbacks = [], []
        if val_m is not None and self.early_stopping_rounds > 0:
            valid_sets = [lgb.Dataset(val_m, label=val_y, reference=dtrain)]
            stop = lgb.early_stopping(
                self.early_stopping_rounds, first_metric_only=True, verbose=False
            )
            callbacks = [stop]
        booster = lgb.train(
            self._lgb_params(),
            dtrain,
            num_boost_round=int(self.n_estimators if rounds is None else rounds),
            valid_sets=valid_sets,
            valid_names=["validation"] * len(valid_sets),
            callbacks=callbacks,
        )
        best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
        # Keep only the trees used: smaller files, cheaper TreeSHAP.
        return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))

    def _lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "max_depth": int(self.max_depth),
            "min_data_in_leaf": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": int(self.subsample_freq),
            "feature_fraction": float(self.colsample_bytree),
            "lambda_l2": float(self.reg_lambda),
            "seed": int(self.random_state),
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": int(self.n_jobs),
            "verbosity": -1,
        }

    def _frame_for_fit(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            validate_data(self, X=X, reset=True, skip_check_array=True)
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise ValueError(f"fit: expected a non-empty frame, got shape {X.shape}")
            return X
        array = validate_data(
            self, X=X, reset=True, dtype=np.float64, ensure_all_finite="allow-nan"
        )
        return pd.DataFrame(array, columns=[f"f{i}" for i in range(array.shape[1])])

    def _fit_target(self, y: Any) -> np.ndarray:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"HealthScoreModel needs 2 classes in y; got {len(self.classes_)} class"
            )
        if len(self.classes_) > 2:
            raise ValueError(
                "Only binary classification is supported: HealthScoreModel got "
                f"{len(self.classes_)} classes in y"
            )
        return self._encode_target(y)

    def _encode_target(self, y: Any) -> np.ndarray:
        y = column_or_1d(np.asarray(y), warn=True)
        if pd.isna(pd.Series(y)).any():
            raise DataError("label: missing values (censored rows?) where 0/1 was expected")
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[codes], y):
            raise ValueError(f"y has labels other than the fitted classes {self.classes_.tolist()}")
        return codes.astype(np.int64)

    # ---------------------------------------------------------------- predicting

    def _matrix(self, X: Any, *, fitting: bool = False) -> np.ndarray:
        """Encode ``X`` exactly as at fit time: float64 (n, p) in ``feature_names_`` order."""
        if not fitting:
            check_is_fitted(self)
        if isinstance(X, pd.DataFrame):
            names = getattr(self, "feature_names_in_", None)
            if names is not None:
                missing = [n for n in names if n not in X.columns]
                if missing:
                    raise DataError(
                        f"scoring frame: missing feature column(s) {', '.join(missing[:5])}"
                        f"{' ...' if len(missing) > 5 else ''}; the model expects "
                        f"{len(names)} features"
                    )
                X = X.loc[:, list(names)]
            validate_data(self, X=X, reset=False, skip_check_array=True)
            frame = X.set_axis(self.feature_names_, axis=1)
        else:
            array = validate_data(
                self, X=X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan"
            )
            frame = pd.DataFrame(array, columns=self.feature_names_)
        return encode_frame(frame, self.feature_names_, self.categories_)

    def predict_margin(self, X: Any) -> np.ndarray:
        """Raw LightGBM log-odds, shape (n,)."""
        matrix = self._matrix(X)
        return self.booster_.predict(matrix, raw_score=True, num_threads=self.n_jobs)

    def predict_logit(self, X: Any) -> np.ndarray:
        """Calibrated logit of churn, shape (n,); Platt: ``a * margin + b`` (a hazard
        model's slope and intercept move with the interval's lead, see
        :class:`~healthscore.model.calibration.Calibrator`)."""
        margin = self.predict_margin(X)
        return self.calibrator_.logit(margin, self.lead_years(X))

    def lead_years(self, X: Any) -> np.ndarray | float:
        """The lead of each row in years (``exposure__lead_days / 365``) when the model
        reads it and its calibration uses it; else 0."""
        calibrator = self.calibrator_
        if (calibrator.a_lead == 0.0 and calibrator.b_lead == 0.0) or LEAD not in self.feature_names_:
            return 0.0
        if isinstance(X, pd.DataFrame):
            values = X[LEAD] if LEAD in X.columns else X.iloc[:, self.feature_names_.index(LEAD)]
        else:
            values = np.asarray(X)[:, self.feature_names_.index(LEAD)]
        return np.nan_to_num(np.asarray(values, dtype=np.float64)) / 365.0

    def predict_risk(self, X: Any) -> np.ndarray:
        """Calibrated churn probability (``risk_proba``), shape (n,), in [0, 1]."""
        return expit(self.predict_logit(X))

    def predict_renewal_risk(self, X: Any) -> np.ndarray:
        """The next renewal's risk: ``risk_proba`` (a row is one renewal), shape (n,)."""
        return self.predict_risk(X)

    def health_score(self, X: Any, *, scale: Any = None, logit: np.ndarray | None = None) -> np.ndarray:
        """Health score 1..100 (int64): ``scale`` on the calibrated logit (``logit``,
        when given, is :meth:`predict_logit` of ``X`` already computed)."""
        if scale is None:
            raise ModelError("HealthScoreModel: a health score needs the health scale")
        return scale.score_from_logit(self.predict_logit(X) if logit is None else logit)

    @property
    def feature_names(self) -> list[str]:
        """Columns read from a scoring frame (``feature_names_``)."""
        check_is_fitted(self)
        return list(self.feature_names_)

    @property
    def tree_model(self) -> "HealthScoreModel":
        return self

    def identity(self) -> bytes:
        """Trees, calibration and feature encoding as bytes: what decides a score."""
        return (self.booster_.model_to_string().encode() + self.calibrator_.to_json().encode()
                + json.dumps([self.feature_names_, self.categories_], sort_keys=True).encode())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Shape (n, 2): columns ``classes_`` (retained, churned)."""
        risk = self.predict_risk(X)
        return np.column_stack([1.0 - risk, risk])

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class of each row."""
        risk = self.predict_risk(X)
        return self.classes_[(risk >= 0.5).astype(np.int64)]

    def contributions(self, X: Any) -> np.ndarray:
        """TreeSHAP contributions in raw margin space, shape (n, p + 1).

        Columns follow ``feature_names_``; the last is the expected value (base).
        Each row sums to :meth:`predict_margin`.
        """
        matrix = self._matrix(X)
        return self.booster_.predict(matrix, pred_contrib=True, num_threads=self.n_jobs)

    def interval_contributions(self, rows: pd.DataFrame, owner: np.ndarray, *,
                               varying: Sequence[str]) -> np.ndarray:
        """:meth:`contributions` of ``rows``, the intervals of accounts: the rows of one
        account (the same ``owner``, consecutive) differ only in the ``varying``
        columns. The trees that split on none of them are explained on each account's
        first row and repeated over its rows, the others on every row
        (:func:`healthscore.model.tree_split.split_trees`): equal to
        ``contributions(rows)`` up to the order of floating-point additions."""
        owner = np.asarray(owner)
        fixed, moving = self._tree_split(tuple(varying))
        if fixed is None or len(rows) == 0:
            return self.contributions(rows)
        first = np.r_[True, owner[1:] != owner[:-1]]
        account = np.cumsum(first) - 1
        out = fixed.predict(self._matrix(rows.iloc[np.flatnonzero(first)]), pred_contrib=True,
                            num_threads=self.n_jobs)[account]
        if moving is not None:
            out += moving.predict(self._matrix(rows), pred_contrib=True, num_threads=self.n_jobs)
        return out

    def _tree_split(self, varying: tuple[str, ...]) -> tuple[Any, Any]:
        """The booster's trees cut by ``varying`` (cached per booster and columns)."""
        key = (id(self.booster_), varying)
        cached = getattr(self, "_tree_splits", None)
        if cached is None or cached[0] != key:
            self._tree_splits = cached = (key, split_trees(self.booster_, varying))
        return cached[1]

    # --------------------------------------------------------------- persistence

    def save(self, directory: str | Path) -> Path:
        """Write ``model.txt``, ``calibration.json`` and ``features.json`` into ``directory``
        (:func:`healthscore.model.model_files.write_model`)."""
        check_is_fitted(self)
        return write_model(self, directory)

    @classmethod
    def load(cls, directory: str | Path) -> "HealthScoreModel":
        """Read a model written by :meth:`save` (no pickle involved;
        :func:`healthscore.model.model_files.read_model`).

        Raises
        ------
        ModelError
            A file is missing, not valid JSON, or not what :meth:`save` writes; the
            message names the file. ``model.txt`` is checked before LightGBM parses it.
        """
        return read_model(cls, directory)
