"""The check every exactly additive predictor passes: its explanation's base and points
rebuild the served score (no residual), and the explanation's scores are the served ones."""

from __future__ import annotations

import numpy as np


def assert_points_add_up(exported, X, *, scale):
    """``exported``'s explanation of ``X``: base + points = the unclipped score of its
    logit, residual 0, health scores as served; the explanation."""
    from healthscore.scoring.explain import explain_model

    explanation = explain_model(exported, X)
    np.testing.assert_allclose(explanation.base + explanation.points.sum(axis=1),
                               scale.offset - scale.factor * exported.predictor.predict_logit(X), atol=1e-9)
    np.testing.assert_array_equal(explanation.residual, 0.0)
    np.testing.assert_array_equal(explanation.health_score, exported.health_score(X))
    return explanation
