"""The 1-100 health score: a points-to-double-odds scale on the calibrated logit.

``health_score = clip(round(offset - factor * calibrated_logit), 1, 100)`` with
``factor = pdo / ln 2``: the score at even odds of churn is ``offset`` and every
``pdo`` points halve the odds of churn. Higher is healthier; ``risk_proba`` and
``health_score`` never mean the same thing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit as _expit
from scipy.special import logit as _logit

from healthscore.config import ScoreParams
from healthscore.errors import ConfigError, ModelError

#: Bands, worst first.
BANDS: tuple[str, str, str] = ("red", "yellow", "green")

_EPS = 1e-12  # keeps logit finite at risk 0 or 1
_DEFAULT = ScoreParams()  # the defaults are params.yaml's (score section), said once there


def round_score(unclipped: Any) -> np.ndarray:
    """The 1..100 health score (int64) of unclipped scores: rounded half up
    (``floor(x + 0.5)``), then clipped. Every score of the project is rounded here."""
    return np.clip(np.floor(np.asarray(unclipped, dtype=np.float64) + 0.5), 1, 100).astype(np.int64)


@dataclass(frozen=True)
class HealthScale:
    """Maps a calibrated churn risk (or its logit) to a 1-100 health score and a band.

    Parameters
    ----------
    offset : float
        Score at even odds (risk 0.5).
    pdo : float
        Points to double the odds: ``pdo`` more points halve the odds of churn. > 0.
    red_below : int
        Scores below this are ``red``.
    green_from : int
        Scores from this up are ``green``; in between is ``yellow``.

    The defaults are :class:`healthscore.config.ScoreParams`'s. This class is the one
    home of the mapping risk <-> logit <-> score and of the bands: scoring, the
    explanations and the report all map and band through it.
    """

    offset: float = float(_DEFAULT.offset)
    pdo: float = float(_DEFAULT.pdo)
    red_below: int = int(_DEFAULT.red_below)
    green_from: int = int(_DEFAULT.green_from)

    def __post_init__(self) -> None:
        if not (self.pdo > 0 and math.isfinite(self.pdo)):
            raise ConfigError(f"score.pdo: expected a positive number, got {self.pdo!r}")
        if not 1 <= self.red_below <= self.green_from <= 101:
            raise ConfigError(
                "score bands: expected 1 <= red_below <= green_from <= 101, got "
                f"red_below={self.red_below}, green_from={self.green_from}"
            )

    @classmethod
    def from_params(cls, params: Any) -> "HealthScale":
        """Build from :class:`healthscore.config.ScoreParams` (its offset, pdo, bands)."""
        return cls(
            offset=float(params.offset),
            pdo=float(params.pdo),
            red_below=int(params.red_below),
            green_from=int(params.green_from),
        )

    @property
    def factor(self) -> float:
        """Points per unit of logit: ``pdo / ln 2``."""
        return self.pdo / math.log(2.0)

    # ------------------------------------------------------------------ mapping

    def unclipped_from_logit(self, logit: Any) -> np.ndarray:
        """``offset - factor * logit``, not rounded nor clipped (float array)."""
        return self.offset - self.factor * np.asarray(logit, dtype=np.float64)

    #: Alias used by :mod:`healthscore.scoring.explain` (architecture.md's name).
    unclipped = unclipped_from_logit

    def score_from_logit(self, logit: Any) -> np.ndarray:
        """Health score (int64, 1..100) of calibrated logits.

        Rounds half up (``floor(x + 0.5)``), so equal logits always give equal scores
        and a higher logit never gives a higher score.
        """
        unclipped = self.unclipped_from_logit(logit)
        if np.isnan(unclipped).any():
            raise ModelError("health score: a calibrated logit is NaN; expected finite values")
        return round_score(unclipped)

    def score(self, risk: Any) -> np.ndarray:
        """Health score (int64, 1..100) of calibrated churn risks in [0, 1]."""
        risk = np.asarray(risk, dtype=np.float64)
        if np.isnan(risk).any() or (risk < 0).any() or (risk > 1).any():
            raise ModelError("health score: expected risk_proba in [0, 1] without NaN")
        return self.score_from_logit(_logit(np.clip(risk, _EPS, 1 - _EPS)))

    def unclipped_from_risk(self, risk: Any) -> np.ndarray:
        """The unclipped score of risks (float array; NaN stays NaN), risks kept off 0
        and 1 so the logit is finite."""
        return self.unclipped_from_logit(_logit(np.clip(np.asarray(risk, dtype=np.float64), _EPS, 1 - _EPS)))

    def logit_from_score(self, score: Any) -> np.ndarray:
        """Inverse map: the logit a score stands for, ``(offset - score) / factor``."""
        return (self.offset - np.asarray(score, dtype=np.float64)) / self.factor

    def risk_from_score(self, score: Any) -> np.ndarray:
        """The risk a score stands for: ``expit(logit_from_score(score))`` (float array)."""
        return _expit(self.logit_from_score(score))

    def band(self, score: Any) -> Any:
        """``red`` below ``red_below``, ``green`` from ``green_from``, else ``yellow``.

        A scalar gives a ``str``; an array gives an object array of the same shape.
        """
        values = np.asarray(score, dtype=np.float64)
        bands = np.where(
            values < self.red_below, "red", np.where(values >= self.green_from, "green", "yellow")
        ).astype(object)
        return str(bands.item()) if bands.ndim == 0 else bands

    # --------------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HealthScale":
        expected = {"offset", "pdo", "red_below", "green_from"}
        if set(data) != expected:
            raise ModelError(
                f"scale.json: expected keys {sorted(expected)}, got {sorted(data)}"
            )
        return cls(
            offset=float(data["offset"]),
            pdo=float(data["pdo"]),
            red_below=int(data["red_below"]),
            green_from=int(data["green_from"]),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "HealthScale":
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> None:
        """Write ``scale.json`` (``path`` is the file)."""
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "HealthScale":
        """Read ``scale.json``; a named :class:`ModelError` when it is not a scale."""
        from healthscore.model.manifest import REEXPORT, read_model_json

        data = read_model_json(path)
        if not isinstance(data, dict):
            raise ModelError(f"{path}: expected a JSON object; {REEXPORT}")
        try:
            return cls.from_dict(data)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: expected numbers offset, pdo, red_below, green_from "
                             f"({exc}); {REEXPORT}") from None
