"""The prepared logistic regression: a baseline beside every model, and a served
predictor when the small-data selection prefers it.

:class:`LogisticBaseline` fits scikit-learn on the model's features: median imputation
with missing indicators and standardisation for numbers, one-hot categories. Prepared
for few churned rows (:func:`healthscore.model.selection.fit_logistic` picks its
settings by inner folds): a signed ``log1p`` or a rank (normal quantile) transform of
skewed counts, an L1 penalty, and optionally correlated metrics averaged into groups
(:class:`~healthscore.model.grouping.CorrelatedGroups`). Its logit splits into one exact
term per input column (:meth:`LogisticBaseline.contributions`); its files are JSON and
the pipeline in skops format, loaded with an allowlist of types.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from healthscore.errors import ConfigError, ModelError
from healthscore.model.encoding import is_categorical

log = logging.getLogger(__name__)

#: A logistic regression's files: settings and columns (JSON), and its fitted
#: scikit-learn pipeline (skops, a format that loads without running pickled code).
LOGISTIC_FILE = "logistic.json"
LOGISTIC_PIPELINE = "logistic.skops"
LOGISTIC_FORMAT = 1

#: The types a logistic pipeline file may name beyond those skops trusts by default.
LOGISTIC_TRUSTED = ("numpy.dtype", "healthscore.model.logistic._signed_log1p",
                    "healthscore.model.grouping.CorrelatedGroups")


class LogisticBaseline:
    """Logistic regression on the model's features (scikit-learn pipeline).

    Parameters
    ----------
    C : float
        Inverse penalty strength.
    max_iter : int
    penalty : {"l2", "l1"}
    transform : {"none", "log1p", "rank"}
        Of numeric columns before imputation: none, ``sign(x) log1p(|x|)``, or ranks
        mapped to a standard normal (fitted on the training rows).
    group_above : float
        > 0: numeric columns correlated above it are averaged (standardised) first.
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 2000, penalty: str = "l2",
                 transform: str = "none", group_above: float = 0.0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.penalty = penalty
        self.transform = transform
        self.group_above = group_above

    def describe(self) -> str:
        """The settings in words, e.g. ``L1, C=0.1, rank``."""
        grouped = f", groups above |r| {self.group_above:g}" if self.group_above else ""
        return f"{self.penalty.upper()}, C={self.C:g}, {self.transform}{grouped}"

    def fit(self, X: pd.DataFrame, y: Any) -> "LogisticBaseline":
        target = np.asarray(y, dtype=np.int64)
        frame = _plain_frame(X)
        self.categorical_ = [c for c in frame.columns if frame[c].dtype == object]
        self.numeric_ = [c for c in frame.columns if c not in self.categorical_]
        if target.size and target.min() == target.max():
            # One class (e.g. the cold start --mode scorecard is for): nothing to
            # separate, so the baseline is the constant rate, as the base rate is.
            log.warning("logistic baseline: the training window has only label %d; "
                        "it predicts the constant rate", int(target[0]))
            self.constant_, self.pipeline_ = float(target[0]), None
            return self
        self.constant_ = None
        transformers = []
        if self.numeric_:
            numeric = make_pipeline(*_numeric_steps(self.transform, self.group_above, rows=len(frame)))
            transformers.append(("numeric", numeric, self.numeric_))
        if self.categorical_:
            transformers.append(
                ("categorical", OneHotEncoder(handle_unknown="ignore"), self.categorical_)
            )
        self.pipeline_ = Pipeline(
            [
                ("prepare", ColumnTransformer(transformers)),
                ("logistic", LogisticRegression(
                    C=self.C, max_iter=self.max_iter,
                    # liblinear shuffles its coordinates: seeded, the same run gives the same fit
                    **({"l1_ratio": 1.0, "solver": "liblinear", "random_state": 0}
                       if self.penalty == "l1" else {}))),
            ]
        )
        self.pipeline_.fit(frame, target)
        # the one-hot columns' shares on the fitting rows: with the standardised numbers'
        # means (0), the reference contributions() measures from (the base is the average logit)
        self.category_means_ = (_dense(self.pipeline_.named_steps["prepare"].named_transformers_["categorical"]
                                       .transform(frame[self.categorical_])).mean(axis=0)
                                if self.categorical_ else np.zeros(0))
        return self

    @property
    def feature_names(self) -> list[str]:
        """The columns read, in order (numbers, then categories)."""
        return list(self.numeric_) + list(self.categorical_)

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        if self.constant_ is not None:
            return np.full(len(X), self.constant_, dtype=np.float64)
        frame = _plain_frame(X[self.feature_names])
        return self.pipeline_.predict_proba(frame)[:, 1]

    def predict_logit(self, X: pd.DataFrame) -> np.ndarray:
        """The regression's log-odds, shape (n,)."""
        if self.constant_ is not None:
            p = min(max(self.constant_, 1e-6), 1 - 1e-6)
            return np.full(len(X), math.log(p / (1 - p)))
        return self.pipeline_.decision_function(_plain_frame(X[self.feature_names]))

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Each input column's exact share of :meth:`predict_logit`, shape (n, p + 1)
        in :attr:`feature_names` order; the last column is the base, the logit of the
        fitting rows' average prepared row. Rows add up to the logit.

        Every step before the regression is per column (transform, impute, scale) or,
        with groups, linear in the standardised columns, so the logit is a sum of one
        term per input column: a missing indicator counts for its column, a one-hot
        category for its categorical, a group's weight is shared among its members by
        their signs. Points are measured from the fitting rows' means (the linear
        model's SHAP values under independent columns)."""
        names = self.feature_names
        n = len(X)
        out = np.zeros((n, len(names) + 1))
        if self.constant_ is not None:
            out[:, -1] = self.predict_logit(X)
            return out
        frame = _plain_frame(X[names])
        prepare = self.pipeline_.named_steps["prepare"]
        regression = self.pipeline_.named_steps["logistic"]
        weights = regression.coef_[0]
        column = {name: j for j, name in enumerate(names)}
        base = float(regression.intercept_[0])
        parts = []  # (terms (n, k) measured from the fitting rows' average, input index (k,))
        if self.numeric_:
            numeric = prepare.named_transformers_["numeric"]
            out_slice = prepare.output_indices_["numeric"]
            steps = [step for _, step in numeric.steps]
            first_scaler = next(i for i, step in enumerate(steps) if isinstance(step, StandardScaler))
            standardised = numeric[: first_scaler + 1]
            values = standardised.transform(frame[self.numeric_])
            inputs = [str(c).removeprefix("missingindicator_")
                      for c in standardised.get_feature_names_out(self.numeric_)]
            w = weights[out_slice]
            if first_scaler + 1 < len(steps):  # groups, then a second scaler
                groups, scaler = steps[first_scaler + 1], steps[first_scaler + 2]
                labels = np.unique(groups.groups_)
                index = np.searchsorted(labels, groups.groups_)
                size = np.bincount(index, minlength=len(labels)).astype(np.float64)
                coef = groups.signs_ * w[index] / (scaler.scale_[index] * size[index])
                base -= float(np.sum(w * scaler.mean_ / scaler.scale_))
            else:
                coef = w
            # standardised on the fitting rows: their means are 0, so they are the reference
            parts.append((np.asarray(values, dtype=np.float64) * coef, [column[c] for c in inputs]))
        if self.categorical_:
            encoder = prepare.named_transformers_["categorical"]
            coef = weights[prepare.output_indices_["categorical"]]
            values = _dense(encoder.transform(frame[self.categorical_]))
            parts.append(((values - self.category_means_) * coef,
                          np.repeat([column[c] for c in self.categorical_], [len(c) for c in encoder.categories_])))
            base += float(np.dot(coef, self.category_means_))
        for terms, inputs in parts:
            for k, j in enumerate(inputs):
                out[:, j] += terms[:, k]
        out[:, -1] = base
        return out

    # ------------------------------------------------------------------ files

    def to_dict(self) -> dict[str, Any]:
        """Settings, columns and the categories' reference shares: what the pipeline file lacks."""
        return {"format": LOGISTIC_FORMAT, "kind": "logistic",
                "settings": {"C": self.C, "max_iter": self.max_iter, "penalty": self.penalty,
                             "transform": self.transform, "group_above": self.group_above},
                "numeric": list(self.numeric_), "categorical": list(self.categorical_),
                "constant": self.constant_,
                "category_means": None if self.constant_ is not None else [float(v) for v in self.category_means_]}

    def identity(self) -> bytes:
        """Settings, columns and the fitted weights as bytes: what decides a logit."""
        parts = [json.dumps(self.to_dict(), sort_keys=True).encode()]
        if self.pipeline_ is not None:
            regression = self.pipeline_.named_steps["logistic"]
            parts += [regression.coef_.tobytes(), regression.intercept_.tobytes()]
        return b"".join(parts)

    def save(self, directory: str | Path) -> Path:
        """Write ``logistic.json`` and, when fitted to two classes, the scikit-learn
        pipeline as ``logistic.skops`` (skops: no pickle) into ``directory``."""
        import skops.io

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.pipeline_ is not None:
            skops.io.dump(self.pipeline_, directory / LOGISTIC_PIPELINE)
        (directory / LOGISTIC_FILE).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "LogisticBaseline":
        """Read what :meth:`save` wrote; a pipeline file naming any type outside
        :data:`LOGISTIC_TRUSTED` (and scikit-learn's own) is refused, not run."""
        from healthscore.model.manifest import read_kind_json

        directory = Path(directory)
        data = read_kind_json(path := directory / LOGISTIC_FILE, kind="logistic", format=LOGISTIC_FORMAT,
                              what="a logistic regression")
        try:
            model = cls(**data["settings"])
            model.numeric_, model.categorical_ = list(data["numeric"]), list(data["categorical"])
            model.constant_ = None if data["constant"] is None else float(data["constant"])
            model.category_means_ = (None if data["category_means"] is None
                                     else np.asarray(data["category_means"], dtype=np.float64))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: not what a logistic regression export writes ({exc})") from None
        model.pipeline_ = None if model.constant_ is not None else _load_pipeline(directory / LOGISTIC_PIPELINE)
        return model


def _load_pipeline(path: Path) -> Pipeline:
    """The skops pipeline file at ``path``, refusing any type outside :data:`LOGISTIC_TRUSTED`."""
    import skops.io

    if not path.exists():
        raise ModelError(f"model folder {path.parent}: missing {path.name}")

    def damaged(exc: Exception) -> ModelError:  # skops raises whatever its reader met
        return ModelError(f"{path}: not a pipeline a logistic regression export writes "
                          f"({type(exc).__name__}: {exc})")

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:
        raise damaged(exc) from None
    refused = [t for t in untrusted if t not in LOGISTIC_TRUSTED]
    if refused:
        raise ModelError(f"{path}: refused to load type(s) {', '.join(refused)}")
    try:
        return skops.io.load(path, trusted=untrusted)
    except Exception as exc:
        raise damaged(exc) from None


def _dense(values: Any) -> np.ndarray:
    """A transformer's output as a float64 array (one-hot output may be sparse)."""
    return np.asarray(values.toarray() if hasattr(values, "toarray") else values, dtype=np.float64)


def _signed_log1p(X):
    return np.sign(X) * np.log1p(np.abs(X))


def _numeric_steps(transform: str, group_above: float, *, rows: int) -> list:
    """Transform, impute (median, with missing indicators), standardise[, group]."""
    from sklearn.preprocessing import FunctionTransformer, QuantileTransformer

    if transform not in ("none", "log1p", "rank"):
        raise ConfigError(f"logistic: transform must be none, log1p or rank, got {transform!r}")
    steps: list = [SimpleImputer(strategy="median", add_indicator=not group_above)]
    if transform == "log1p":
        steps.insert(0, FunctionTransformer(_signed_log1p, feature_names_out="one-to-one"))
    elif transform == "rank":
        steps.append(QuantileTransformer(output_distribution="normal", n_quantiles=max(2, min(200, rows)),
                                         subsample=None, random_state=0))
    steps.append(StandardScaler())
    if group_above:
        from healthscore.model.grouping import CorrelatedGroups

        steps += [CorrelatedGroups(group_above), StandardScaler()]
    return steps


def _plain_frame(X: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64 (inf -> NaN), categories as text with ``"(missing)"``."""
    out = {}
    for column in X.columns:
        series = X[column]
        if is_categorical(series):
            out[column] = series.astype("string").fillna("(missing)").astype(object)
        else:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            out[column] = np.where(np.isfinite(values), values, np.nan)
    return pd.DataFrame(out, index=X.index)
