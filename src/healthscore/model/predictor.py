"""One contract for everything that scores: the :class:`Predictor` protocol.

Five classes implement it:

* :class:`~healthscore.model.estimator.HealthScoreModel` (renewal mode: one row, one
  renewal, one risk);
* :class:`BlendPredictor`: a ``HealthScoreModel`` and the rule scorecard mixed on the
  logit scale (small data, when the inner folds prefer the mix);
* :class:`LogisticPredictor`: the prepared L1 logistic regression (small data, when the
  inner folds prefer it), calibrated;
* :class:`HazardPredictor`: a ``HealthScoreModel`` that learned the hazard of each
  renewal interval, with the :class:`~healthscore.model.exposure.Horizon` of the served
  risk; it owns the interval expansion and :func:`~healthscore.model.exposure.combine_hazards`;
* :class:`~healthscore.model.baselines.RuleScorecard` (the cold-start mode).

:class:`~healthscore.model.export.ExportedModel` holds one with the health scale and
calls it, never asking which it is. Explanations dispatch on the predictor's class
(:func:`healthscore.scoring.explain.explain_predictor`), so this module knows nothing of them.
A bundle folder names its predictor by ``kind`` in its manifest; :func:`load_predictor`
reads the files that kind wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import pandas as pd
from scipy.special import expit

from healthscore.errors import ModelError
from healthscore.model.baselines import RuleScorecard
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.exposure import RENEWALS, Horizon, combine_hazards, expand_intervals
from healthscore.model.scale import HealthScale
from healthscore.model.logistic import LogisticBaseline

#: The file a hazard predictor writes beside its model's.
HORIZON_FILE = "horizon.json"


class Predictor(Protocol):
    """What scoring, export and tracking need of a fitted model.

    Attributes
    ----------
    kind : {"lightgbm", "blend", "logistic", "scorecard"}
        The name a bundle's manifest and a run's tags record.
    horizon : Horizon or None
        The outcome window of ``risk_proba`` for a hazard predictor; None when a row is
        one renewal. Scoring frames of a hazard predictor carry the calendar columns
        (:func:`healthscore.model.exposure.account_exposure`).
    scale_scores : bool
        True when the health score is the scale applied to the calibrated logit, so
        stored points rebuild a score; False for the rule scorecard, whose score is its
        own weighted rule points.
    """

    kind: str
    horizon: Horizon | None
    scale_scores: bool

    @property
    def feature_names(self) -> list[str]:
        """Columns read from a scoring frame, in order."""

    @property
    def tree_model(self) -> HealthScoreModel | None:
        """The LightGBM model behind the scores; None for the rule scorecard."""

    def predict_logit(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated logit of ``risk_proba``, shape (n,)."""

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """``risk_proba`` in [0, 1], shape (n,)."""

    def predict_renewal_risk(self, X: pd.DataFrame) -> np.ndarray:
        """The chance that the next renewal is lost, shape (n,)."""

    def health_score(self, X: pd.DataFrame, *, scale: HealthScale | None = None,
                     logit: np.ndarray | None = None) -> np.ndarray:
        """Health score 1..100 (int64), shape (n,); ``logit``, when given, is
        :meth:`predict_logit` of ``X`` already computed."""

    def identity(self) -> bytes:
        """What decides its scores (trees, calibration, encoding, rules, horizon), as
        bytes to hash into the model fingerprint."""

    def save(self, directory: str | Path) -> Path:
        """Write its files into ``directory`` (no pickle)."""


class ScaledLogit:
    """What a predictor whose score is the health scale on its logit shares: the risk
    from :meth:`predict_logit`, and the score from the scale (``scale_scores``)."""

    scale_scores = True

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """``risk_proba``, shape (n,)."""
        return expit(self.predict_logit(X))

    def health_score(self, X: pd.DataFrame, *, scale: HealthScale | None = None,
                     logit: np.ndarray | None = None) -> np.ndarray:
        if scale is None:
            raise ModelError(f"{type(self).__name__}: a health score needs the health scale")
        return scale.score_from_logit(self.predict_logit(X) if logit is None else logit)


class RenewalLogit(ScaledLogit):
    """A scaled-logit predictor whose row is one renewal: no horizon, and the next
    renewal's risk is ``risk_proba`` itself."""

    horizon = None

    def predict_renewal_risk(self, X: pd.DataFrame) -> np.ndarray:
        """The next renewal's risk: ``risk_proba`` (a row is one renewal)."""
        return self.predict_risk(X)


def _read_numbers(path: Path, keys: tuple[str, ...], *, kind: str, format: int, what: str) -> dict[str, float]:
    """The numbers ``keys`` of a model file of ``kind`` and ``format`` (``what`` names it)."""
    from healthscore.model.manifest import read_kind_json

    data = read_kind_json(path, kind=kind, format=format, what=what)
    try:
        return {k: float(data[k]) for k in keys}
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: not the numbers {what} export writes ({exc})") from None


class HazardPredictor(ScaledLogit):
    """A hazard model: the chance of a loss within ``horizon`` from per-interval hazards.

    Parameters
    ----------
    model : HealthScoreModel
        Fitted on renewal intervals (:func:`healthscore.model.exposure.make_interval_rows`);
        it reads the calendar columns of each interval.
    horizon : Horizon
        The outcome window of the served ``risk_proba``.

    An account row is its first interval (``exposure.account_exposure``) plus
    ``exposure__renewals``, the number of intervals in the window.
    """

    kind = "lightgbm"

    def __init__(self, model: HealthScoreModel, horizon: Horizon) -> None:
        if not isinstance(model, HealthScoreModel) or not isinstance(horizon, Horizon):
            raise ModelError(f"hazard predictor: expected a HealthScoreModel and a Horizon, got "
                             f"{type(model).__name__} and {type(horizon).__name__}")
        self.model = model
        self.horizon = horizon

    @property
    def feature_names(self) -> list[str]:
        return [*self.model.feature_names_, RENEWALS]

    @property
    def tree_model(self) -> HealthScoreModel:
        return self.model

    def interval_logits(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated hazard logit of each interval of ``X``'s accounts, and the account
        position of each (:func:`healthscore.model.exposure.expand_intervals`)."""
        rows, owner = expand_intervals(X)
        return self.model.predict_logit(rows), owner

    def predict_logit(self, X: pd.DataFrame) -> np.ndarray:
        """The window's logit: its intervals' hazards combined, shape (n,)."""
        logits, owner = self.interval_logits(X)
        return combine_hazards(logits, owner, len(X))

    def predict_renewal_risk(self, X: pd.DataFrame) -> np.ndarray:
        """The first interval's hazard, shape (n,): an account row is that interval, so
        no expansion."""
        return expit(self.model.predict_logit(X))

    def identity(self) -> bytes:
        return self.model.identity() + json.dumps(self.horizon.to_dict(), sort_keys=True).encode()

    def save(self, directory: str | Path) -> Path:
        directory = self.model.save(directory)
        self.horizon.save(directory / HORIZON_FILE)
        return directory


#: The file a blend writes beside its model's and its scorecard's.
BLEND_FILE = "blend.json"
BLEND_FORMAT = 1


class BlendPredictor(RenewalLogit):
    """LightGBM's margin and the rule scorecard's score mixed on the logit scale.

    ``logit = intercept + margin_coef * margin + card_coef * card_score``, where
    ``margin`` is the tree model's raw margin and ``card_score`` the scorecard's
    unrounded weighted rule points (0-100; ``card_coef`` is negative: more points,
    less risk). Both terms are linear in their parts, so TreeSHAP contributions and
    rule points add up to the score exactly (``scoring.explain``). ``share`` is
    LightGBM's share of the standardised mix, as chosen
    (:func:`healthscore.model.selection.fit_blend`); it is recorded, not used.
    """

    kind = "blend"

    def __init__(self, model: HealthScoreModel, card: RuleScorecard, *, intercept: float,
                 margin_coef: float, card_coef: float, share: float) -> None:
        if not isinstance(model, HealthScoreModel) or not isinstance(card, RuleScorecard):
            raise ModelError(f"blend: expected a HealthScoreModel and a RuleScorecard, got "
                             f"{type(model).__name__} and {type(card).__name__}")
        coefs = (intercept, margin_coef, card_coef, share)
        if not all(np.isfinite(c) for c in coefs):
            raise ModelError(f"blend: coefficients must be finite, got {coefs}")
        self.model, self.card = model, card
        self.intercept, self.margin_coef = float(intercept), float(margin_coef)
        self.card_coef, self.share = float(card_coef), float(share)

    @property
    def feature_names(self) -> list[str]:
        names = list(self.model.feature_names_)
        return names + [n for n in self.card.feature_names if n not in names]

    @property
    def tree_model(self) -> HealthScoreModel:
        return self.model

    def predict_logit(self, X: pd.DataFrame) -> np.ndarray:
        margin = self.model.predict_margin(X[self.model.feature_names_])
        return self.intercept + self.margin_coef * margin + self.card_coef * self.card.unclipped_score(X)

    def to_dict(self) -> dict:
        return {"format": BLEND_FORMAT, "kind": "blend", "intercept": self.intercept,
                "margin_coef": self.margin_coef, "card_coef": self.card_coef, "share": self.share}

    def identity(self) -> bytes:
        return (self.model.identity() + self.card.identity()
                + json.dumps(self.to_dict(), sort_keys=True).encode())

    def save(self, directory: str | Path) -> Path:
        directory = self.model.save(directory)
        self.card.save(directory)
        (directory / BLEND_FILE).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return directory


#: The file a served logistic regression writes beside the regression's own.
CALIBRATION_FILE = "logistic_calibration.json"
CALIBRATION_FORMAT = 1


class LogisticPredictor(RenewalLogit):
    """The prepared L1 logistic regression, served: ``logit = slope * regression logit
    + intercept`` (Platt's step on held-out logits, the level matched as LightGBM's
    is). The regression's logit is a sum of one term per column
    (:meth:`~healthscore.model.logistic.LogisticBaseline.contributions`), so its
    points add up to the score exactly (``scoring.explain``)."""

    kind = "logistic"
    tree_model = None

    def __init__(self, regression: LogisticBaseline, *, slope: float, intercept: float) -> None:
        if not isinstance(regression, LogisticBaseline) or not hasattr(regression, "constant_"):
            raise ModelError(f"logistic: expected a fitted LogisticBaseline, got {type(regression).__name__}")
        if not (np.isfinite(slope) and np.isfinite(intercept)):
            raise ModelError(f"logistic: calibration must be finite, got slope {slope}, intercept {intercept}")
        self.regression, self.slope, self.intercept = regression, float(slope), float(intercept)

    @property
    def feature_names(self) -> list[str]:
        return self.regression.feature_names

    def predict_logit(self, X: pd.DataFrame) -> np.ndarray:
        return self.slope * self.regression.predict_logit(X) + self.intercept

    def to_dict(self) -> dict:
        return {"format": CALIBRATION_FORMAT, "kind": "logistic", "slope": self.slope, "intercept": self.intercept}

    def identity(self) -> bytes:
        return self.regression.identity() + json.dumps(self.to_dict(), sort_keys=True).encode()

    def save(self, directory: str | Path) -> Path:
        directory = self.regression.save(directory)
        (directory / CALIBRATION_FILE).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return directory


def _load_logistic(directory: Path, scale: HealthScale) -> Predictor:
    calibration = _read_numbers(directory / CALIBRATION_FILE, ("slope", "intercept"), kind="logistic",
                                format=CALIBRATION_FORMAT, what="a logistic calibration")
    return LogisticPredictor(LogisticBaseline.load(directory), **calibration)


def _load_blend(directory: Path, scale: HealthScale) -> Predictor:
    coefs = _read_numbers(directory / BLEND_FILE, ("intercept", "margin_coef", "card_coef", "share"),
                          kind="blend", format=BLEND_FORMAT, what="a blend")
    return BlendPredictor(HealthScoreModel.load(directory), RuleScorecard.load(directory, scale=scale),
                          **coefs)


def _load_lightgbm(directory: Path, scale: HealthScale) -> Predictor:
    model = HealthScoreModel.load(directory)
    if (directory / HORIZON_FILE).exists():
        return HazardPredictor(model, Horizon.load(directory / HORIZON_FILE))
    return model


def _load_scorecard(directory: Path, scale: HealthScale) -> Predictor:
    return RuleScorecard.load(directory, scale=scale)


#: Manifest ``kind`` -> the reader of the files that kind writes.
LOADERS: dict[str, Callable[[Path, HealthScale], Predictor]] = {
    "lightgbm": _load_lightgbm,
    "blend": _load_blend,
    "logistic": _load_logistic,
    "scorecard": _load_scorecard,
}


def load_predictor(directory: str | Path, *, kind: object, scale: HealthScale) -> Predictor:
    """Read the predictor a bundle folder's manifest calls ``kind``.

    Raises
    ------
    ModelError
        ``kind`` is not one this package writes, or its files are damaged.
    """
    directory = Path(directory)
    loader = LOADERS.get(kind) if isinstance(kind, str) else None
    if loader is None:
        raise ModelError(f"{directory / 'manifest.json'}: unknown kind {kind!r}; expected "
                         f"{' or '.join(LOADERS)}")
    return loader(directory, scale)


def check_predictor(predictor: object) -> None:
    """Refuse an object that does not implement :class:`Predictor` (by its class, so
    an unfitted model is not asked for its learned state)."""
    needed = ("predict_logit", "predict_risk", "predict_renewal_risk", "health_score",
              "identity", "save")
    lacking = [n for n in needed if not callable(getattr(type(predictor), n, None))]
    lacking += [n for n in ("kind", "horizon", "scale_scores", "feature_names", "tree_model")
                if not hasattr(type(predictor), n) and n not in getattr(predictor, "__dict__", {})]
    if lacking:
        raise ModelError(f"exported model: a {type(predictor).__name__} is not a Predictor "
                         f"(no {', '.join(lacking)}); expected a HealthScoreModel, a "
                         "HazardPredictor, a BlendPredictor, a LogisticPredictor or a RuleScorecard")
