"""HealthScale: the 1-100 health score is bounded, monotone in risk, and round-trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthscore.errors import ConfigError, ModelError
from healthscore.model.scale import HealthScale

SCALE = HealthScale(offset=35.0, pdo=10.0, red_below=50, green_from=70)


def test_even_odds_scores_the_offset_and_pdo_points_halve_the_odds():
    # risk 1/2 -> odds 1 -> offset; risk 1/3 -> odds 1/2 -> offset + pdo
    assert SCALE.score([0.5, 1 / 3, 1 / 5]).tolist() == [35, 45, 55]
    assert SCALE.factor == pytest.approx(10 / math.log(2))


def test_unclipped_is_offset_minus_factor_times_logit():
    logit = np.array([-3.0, 0.0, 2.5])
    assert np.allclose(SCALE.unclipped_from_logit(logit), 35 - SCALE.factor * logit)
    assert np.array_equal(SCALE.unclipped(logit), SCALE.unclipped_from_logit(logit))


@given(st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=50))
def test_score_is_bounded_and_never_rises_with_risk(risks):
    risks = np.sort(np.asarray(risks))
    scores = SCALE.score(risks)
    assert scores.dtype == np.int64
    assert ((scores >= 1) & (scores <= 100)).all()
    assert (np.diff(scores) <= 0).all()  # riskier is never healthier


@given(st.floats(min_value=-40, max_value=40, allow_nan=False))
def test_score_from_logit_rounds_half_up_and_clips(logit):
    expected = min(100, max(1, math.floor(35 - SCALE.factor * logit + 0.5)))
    assert SCALE.score_from_logit([logit])[0] == expected


def test_extreme_risks_hit_the_bounds():
    assert SCALE.score([0.0, 1.0]).tolist() == [100, 1]


def test_bands_follow_the_thresholds():
    assert SCALE.band(np.array([1, 49, 50, 69, 70, 100])).tolist() == [
        "red", "red", "yellow", "yellow", "green", "green"
    ]
    assert SCALE.band(49) == "red"


def test_json_round_trip(tmp_path):
    scale = HealthScale(offset=40.0, pdo=20.0, red_below=40, green_from=75)
    assert HealthScale.from_json(scale.to_json()) == scale
    scale.save(tmp_path / "scale.json")
    assert HealthScale.load(tmp_path / "scale.json") == scale


def test_logit_from_score_inverts_the_unclipped_map():
    logit = np.array([-2.0, 0.3])
    assert np.allclose(SCALE.logit_from_score(SCALE.unclipped_from_logit(logit)), logit)


def test_bad_settings_and_inputs_are_errors():
    with pytest.raises(ConfigError, match="pdo"):
        HealthScale(pdo=0)
    with pytest.raises(ConfigError, match="red_below"):
        HealthScale(red_below=80, green_from=70)
    with pytest.raises(ModelError, match="risk_proba"):
        SCALE.score([0.2, np.nan])
    with pytest.raises(ModelError, match="keys"):
        HealthScale.from_dict({"offset": 1})
