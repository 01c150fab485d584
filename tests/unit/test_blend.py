"""The blend of LightGBM and the rule scorecard (issue 15): chosen on the inner folds,
exported, read back and explained additively."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from healthscore.config import CalibrationParams, ModelParams, ScorecardParams
from healthscore.config.small_data import SmallDataParams
from healthscore.errors import ModelError
from healthscore.model import ExportedModel, HealthScale
from healthscore.model.baselines import RuleScorecard
from healthscore.model.export import load_bundle, save_bundle
from healthscore.model.inner_cv import block_weights
from healthscore.model.predictor import BlendPredictor
from healthscore.model.selection import BLEND_SHARES, fit_small_data, select_predictor
from healthscore.model.synthetic import make_training_frame
from healthscore.model.training import feature_columns
from healthscore.scoring.explain import SCORECARD_BASE, explain_model
from points_add_up import assert_points_add_up  # tests/

FAST = ModelParams(n_estimators=60, learning_rate=0.1, min_child_samples=20,
                   early_stopping_rounds=15, n_jobs=1)
SMALL = SmallDataParams(inner_folds=3, logistic_cs=[0.03, 1.0], logistic_transforms=["log1p"])


@pytest.fixture(scope="module")
def fitted():
    dataset, _ = make_training_frame(700, random_state=3)
    part = dataset[(dataset["account_id"] <= 150) & dataset["label"].notna()].reset_index(drop=True)
    names = feature_columns(part)
    inner = fit_small_data(part, names, model=FAST, calibration=CalibrationParams(),
                           card=RuleScorecard.from_params(ScorecardParams(), HealthScale()),
                           small_data=SMALL)
    return inner, part, names


def test_blocks_weigh_by_the_churned_rows_their_fit_part_learned_from():
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    first = np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)
    second = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    folds = [(first, ~first), (second, ~second)]
    np.testing.assert_allclose(block_weights(folds, y), [1 / 4, 3 / 4])
    np.testing.assert_allclose(block_weights(folds, np.zeros(8)), [0.5, 0.5])
    # the selection's mean follows those weights: ahead on the heavier block wins
    yb = np.array([0, 1] * 4)
    better_late = {"lightgbm": np.where(second, 0.0, yb), "scorecard": np.where(second, yb, 0.0)}
    late = [(first, second & ~first), (second, ~second)]
    table = select_predictor(yb, better_late, late, where="v").table.set_index("predictor")
    assert table.loc["lightgbm", "roc_auc"] > table.loc["scorecard", "roc_auc"]


def test_the_blend_is_chosen_on_the_inner_folds_and_calibrated_to_the_part(fitted):
    inner, part, names = fitted
    blend = inner.blend
    assert list(blend.grid["share"]) == list(BLEND_SHARES)
    best = blend.grid["inner_roc_auc"].max()
    assert blend.grid.set_index("share").loc[blend.share, "inner_roc_auc"] == best
    assert blend.predictor.share == blend.share
    y = part["label"].to_numpy()
    risk = blend.predictor.predict_risk(part[names])
    assert risk.mean() == pytest.approx(y.mean(), rel=1e-6)  # the intercept matches the part
    has = ~np.isnan(blend.oof)
    np.testing.assert_array_equal(has, ~np.isnan(inner.model.oof_margin_))
    assert blend.predictor.margin_coef >= 0 >= blend.predictor.card_coef
    # a candidate of the selection whenever it is a mix of both
    assert ("blend" in set(inner.selection.table["predictor"])) == (0 < blend.share < 1)


def _blend(inner, *, intercept=-3.0, margin_coef=0.7, card_coef=-0.02, share=0.5):
    return BlendPredictor(inner.model, inner.card, intercept=intercept, margin_coef=margin_coef,
                          card_coef=card_coef, share=share)


def test_a_blend_reads_its_parts_and_writes_no_pickle(fitted, tmp_path):
    inner, part, _ = fitted
    predictor = _blend(inner)
    X = part[predictor.feature_names]
    logit = (-3.0 + 0.7 * inner.model.predict_margin(X[inner.model.feature_names_])
             - 0.02 * inner.card.unclipped_score(X))
    np.testing.assert_allclose(predictor.predict_logit(X), logit)
    np.testing.assert_allclose(predictor.predict_risk(X), expit(logit))

    exported = ExportedModel(predictor, HealthScale())
    save_bundle(exported, tmp_path / "bundle")
    again = load_bundle(tmp_path / "bundle")
    assert again.kind == "blend" and again.model is again.predictor.tree_model
    pd.testing.assert_frame_equal(again.predict_frame(X), exported.predict_frame(X))
    assert again.predictor.identity() == predictor.identity()
    assert not list((tmp_path / "bundle").glob("*.pkl"))
    with pytest.raises(ModelError, match="finite"):
        _blend(inner, card_coef=float("nan"))


def test_a_blend_explains_its_score_in_tree_and_rule_points_that_add_up(fitted):
    inner, part, _ = fitted
    scale = HealthScale()
    predictor = _blend(inner)
    X = part[predictor.feature_names]
    exported = ExportedModel(predictor, scale)
    explanation = assert_points_add_up(exported, X, scale=scale)
    np.testing.assert_allclose(explanation.risk_proba, exported.predict_risk(X), rtol=1e-9)

    # without the trees' share, a rule's points are its weighted distance from 50
    rules_only = explain_model(_blend(inner, margin_coef=0.0), X, scale=scale)
    weights = inner.card.weights()
    rule_points = inner.card.points(X)[weights.index]
    column = rules_only.feature_names.index(str(weights.index[0]))
    expected = (-scale.factor * -0.02 * weights.iloc[0]
                * (rule_points.iloc[:, 0].to_numpy() - SCORECARD_BASE))
    np.testing.assert_allclose(rules_only.points[:, column], expected, atol=1e-9)
    others = [i for i, n in enumerate(rules_only.feature_names) if n not in weights.index]
    np.testing.assert_array_equal(rules_only.points[:, others], 0.0)
