"""Explanations in score points: additivity, TreeSHAP cross-checks, drivers, families,
the scorecard's points and the cause-fidelity helper."""

from __future__ import annotations

import itertools
import math

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap

from healthscore.config import ScorecardRule
from healthscore.scoring.drivers import cause_fidelity, explain_families, family_points, find_drivers
from healthscore.scoring.explain import explain_contributions, explain_model, points_from_contributions
from healthscore.features.catalogue import FAMILIES
from healthscore.scoring.risk_words import describe_risk, format_points
from healthscore.model import HealthScale, HealthScoreModel, RuleScorecard
from healthscore.model.calibration import Calibrator

SCALE = HealthScale(offset=35.0, pdo=10.0, red_below=50, green_from=70)


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[:, 3] = rng.integers(0, 4, size=n)  # a categorical code
    logit = 1.2 * X[:, 0] - 0.8 * X[:, 1] + np.where(X[:, 3] == 2, 1.5, -0.3)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def booster_numeric():
    X, y = _data()
    X = X.copy()
    X[np.random.default_rng(1).random(X.shape) < 0.05] = np.nan  # missing values too
    params = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 10,
              "verbosity": -1, "seed": 0, "deterministic": True, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(X, y), num_boost_round=25), X


@pytest.fixture(scope="module")
def booster_categorical():
    X, y = _data(seed=2)
    X = X[:, [0, 1, 3]]
    params = {"objective": "binary", "num_leaves": 5, "min_data_in_leaf": 10,
              "min_data_per_group": 5, "cat_smooth": 1.0, "verbosity": -1, "seed": 0,
              "deterministic": True, "num_threads": 1}
    data = lgb.Dataset(X, y, categorical_feature=[2])
    return lgb.train(params, data, num_boost_round=8), X


# --------------------------------------------------------------------- additivity


def test_base_plus_points_equals_unclipped_score_exactly(booster_numeric):
    booster, X = booster_numeric
    a, b = 0.83, -0.41
    contributions = booster.predict(X, pred_contrib=True)
    points, base = points_from_contributions(contributions, a=a, b=b, offset=35.0,
                                             factor=SCALE.factor)
    margin = booster.predict(X, raw_score=True)
    unclipped = SCALE.unclipped(a * margin + b)
    np.testing.assert_allclose(base + points.sum(axis=1), unclipped, rtol=0, atol=1e-9)
    # the base is the same for every row: the model's average account
    assert np.ptp(base) == 0
    # a feature that lowers the churn margin raises the score
    assert np.all(np.sign(points[contributions[:, :-1] > 0]) == -1)


def test_explanation_scores_match_the_scale(booster_numeric):
    booster, X = booster_numeric
    contributions = booster.predict(X, pred_contrib=True)
    a, b = 1.1, 0.2
    expl = explain_contributions(contributions, a=a, b=b, scale=SCALE,
                                 feature_names=["f0", "f1", "f2", "f3"])
    logit = a * booster.predict(X, raw_score=True) + b
    np.testing.assert_array_equal(expl.health_score, SCALE.score_from_logit(logit))
    np.testing.assert_allclose(expl.risk_proba, 1 / (1 + np.exp(-logit)), atol=1e-12)
    assert set(expl.band) <= {"red", "yellow", "green"}
    assert np.all(expl.residual == 0)


def test_model_explanation_adds_up_to_its_own_score():
    X, y = _data(n=300, seed=3)
    frame = pd.DataFrame(X[:, :3], columns=["events__a__30d", "tickets__b__now", "invoices__c__now"])
    frame["accounts__plan"] = pd.Categorical(np.array(["basic", "pro", "max", "team"])[X[:, 3].astype(int)])
    model = HealthScoreModel(n_estimators=40, num_leaves=5, min_child_samples=10,
                             early_stopping_rounds=0, n_jobs=1).fit(frame, y)
    expl = explain_model(model, frame, scale=SCALE)
    unclipped = SCALE.unclipped(model.predict_logit(frame))
    np.testing.assert_allclose(expl.base + expl.points.sum(axis=1), unclipped, atol=1e-9)
    np.testing.assert_array_equal(expl.health_score, SCALE.score_from_logit(model.predict_logit(frame)))
    np.testing.assert_allclose(expl.risk_proba, model.predict_risk(frame), atol=1e-12)


def test_isotonic_gap_is_carried_as_residual(booster_numeric):
    booster, X = booster_numeric
    contributions = booster.predict(X, pred_contrib=True)
    margin = contributions.sum(axis=1)
    iso = Calibrator("isotonic", 1.0, 0.0, x=[-3.0, 0.0, 3.0], y=[0.05, 0.3, 0.9])
    logit = iso.logit(margin)
    expl = explain_contributions(contributions, a=1.0, b=0.0, scale=SCALE,
                                 feature_names=list("abcd"), calibrated_logit=logit)
    np.testing.assert_allclose(expl.base + expl.points.sum(axis=1) + expl.residual,
                               SCALE.unclipped(logit), atol=1e-9)
    np.testing.assert_array_equal(expl.health_score, SCALE.score_from_logit(logit))
    assert np.abs(expl.residual).max() > 0.1


# ----------------------------------------------------------- TreeSHAP cross-checks


def test_contributions_equal_shap_tree_explainer(booster_numeric):
    booster, X = booster_numeric
    ours = booster.predict(X, pred_contrib=True)
    explainer = shap.TreeExplainer(booster)
    # shap hands LightGBM boosters back to LightGBM's own pred_contrib; force its own
    # TreeSHAP implementation on its own parse of the trees, so the check is independent.
    explainer.model.model_type = "internal"
    theirs = explainer.shap_values(X, check_additivity=False)
    np.testing.assert_allclose(ours[:, :-1], theirs, atol=1e-6)
    np.testing.assert_allclose(ours[:, -1], np.ravel(explainer.expected_value)[0], atol=1e-6)


def _exact_shapley(booster, x):
    """Path-dependent Shapley values by enumerating every coalition (Lundberg's v(S))."""
    trees = [t["tree_structure"] for t in booster.dump_model()["tree_info"]]

    def count(node):
        return node.get("internal_count", node.get("leaf_count"))

    def goes_left(node, value):
        if node["decision_type"] == "==":
            return int(value) in {int(c) for c in str(node["threshold"]).split("||")}
        return value <= node["threshold"]

    def expect(node, S):
        if "leaf_value" in node:
            return node["leaf_value"]
        left, right = node["left_child"], node["right_child"]
        if node["split_feature"] in S:
            return expect(left if goes_left(node, x[node["split_feature"]]) else right, S)
        return (count(left) * expect(left, S) + count(right) * expect(right, S)) / (
            count(left) + count(right))

    p = len(x)

    def v(S):
        return sum(expect(t, S) for t in trees)

    phi = np.zeros(p + 1)
    for i in range(p):
        others = [j for j in range(p) if j != i]
        for size in range(p):
            for S in itertools.combinations(others, size):
                w = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
                phi[i] += w * (v(set(S) | {i}) - v(set(S)))
    phi[p] = v(set())
    return phi


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_contributions_equal_exact_shapley_values_with_a_categorical(booster_categorical):
    booster, X = booster_categorical
    dump = booster.dump_model()["tree_info"]
    assert any("==" in str(t) for t in dump), "the model should split on the categorical"
    ours = booster.predict(X[:15], pred_contrib=True)
    exact = np.array([_exact_shapley(booster, x) for x in X[:15]])
    np.testing.assert_allclose(ours, exact, atol=1e-6)
    # and shap's TreeExplainer (which hands categorical LightGBM models to LightGBM)
    theirs = shap.TreeExplainer(booster).shap_values(X[:15])
    np.testing.assert_allclose(ours[:, :-1], theirs, atol=1e-6)


# ------------------------------------------------------------------------ drivers


def test_drivers_are_sorted_signed_and_skip_zero_points():
    points = np.array([
        [-3.0, 5.0, 0.0, -10.0, 2.0, -0.5],
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ])
    d = find_drivers(points, k=2)
    np.testing.assert_array_equal(d.hurting[0], [3, 0])
    np.testing.assert_array_equal(d.hurting_points[0], [-10.0, -3.0])
    np.testing.assert_array_equal(d.helping[0], [1, 4])
    np.testing.assert_array_equal(d.helping_points[0], [5.0, 2.0])
    np.testing.assert_array_equal(d.hurting[1], [-1, -1])  # nothing hurts row 1
    np.testing.assert_array_equal(d.helping[1], [5, 4])
    np.testing.assert_array_equal(d.hurting[2], [-1, -1])
    np.testing.assert_array_equal(d.helping[2], [-1, -1])


def test_drivers_agree_with_a_full_sort_and_handle_k_above_p():
    rng = np.random.default_rng(5)
    points = rng.normal(size=(50, 9))
    d = find_drivers(points, k=4)
    for i in range(50):
        worst = [j for j in np.argsort(points[i]) if points[i, j] < 0][:4]
        best = [j for j in np.argsort(-points[i]) if points[i, j] > 0][:4]
        assert list(d.hurting[i][d.hurting[i] >= 0]) == worst
        assert list(d.helping[i][d.helping[i] >= 0]) == best
    wide = find_drivers(points[:, :2], k=5)
    assert wide.hurting.shape == (50, 5)
    assert (wide.hurting[:, 2:] == -1).all()


def test_family_points_sum_members_and_keep_every_family():
    points = np.array([[1.0, -2.0, 4.0], [0.5, 0.5, -1.0]])
    names = ["events__a", "events__b", "tickets__c"]
    frame = family_points(points, names, {"events__a": "usage", "events__b": "usage",
                                          "tickets__c": "support"})
    assert list(frame.columns) == [f"points_{f}" for f in FAMILIES]
    np.testing.assert_allclose(frame["points_usage"], [-1.0, 1.0])
    np.testing.assert_allclose(frame["points_support"], [4.0, -1.0])
    np.testing.assert_allclose(frame.sum(axis=1), points.sum(axis=1))


def test_family_points_are_the_same_digits_whatever_the_blas_threads_and_the_rows_beside():
    # A worker process, a Spark task and the run's own process may give BLAS other
    # thread counts, and a bucket's chunk holds other rows than the whole book: the
    # family sums stored in the history must not move in the last digit with either.
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(3)
    names = [f"events__f{i}" for i in range(300)]
    families = {n: FAMILIES[i % len(FAMILIES)] for i, n in enumerate(names)}
    points = rng.normal(size=(6000, len(names))) * 3
    with threadpool_limits(limits=1):
        one = family_points(points, names, families).to_numpy()
    with threadpool_limits(limits=2):
        two = family_points(points, names, families).to_numpy()
    rows = family_points(points[1234:1300].copy(), names, families).to_numpy()
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(rows, one[1234:1300])


# ---------------------------------------------------------------------- scorecard


def test_scorecard_points_add_up_to_its_score():
    rules = [ScorecardRule("events__seat_utilisation__30d", good=0.8, bad=0.2, weight=0.5),
             ScorecardRule("tickets__open__now", good=0.0, bad=5.0, weight=0.5)]
    X = pd.DataFrame({"events__seat_utilisation__30d": [0.8, 0.2, 0.5, np.nan],
                      "tickets__open__now": [0.0, 5.0, 1.0, 2.0]})
    card = RuleScorecard(rules, missing_points=50.0, scale=SCALE).fit(X, [0, 1, 0, 1])
    expl = explain_model(card, X, scale=SCALE)
    np.testing.assert_allclose(expl.base + expl.points.sum(axis=1), card.unclipped_score(X))
    np.testing.assert_array_equal(expl.health_score, card.health_score(X))
    np.testing.assert_allclose(expl.risk_proba, card.predict_risk(X))
    # a perfect account: both rules help by 25 points; the worst: both hurt by 25
    np.testing.assert_allclose(expl.points[0], [25.0, 25.0])
    np.testing.assert_allclose(expl.points[1], [-25.0, -25.0])


def test_a_scorecard_score_of_exactly_half_a_point_rounds_as_the_scorecard_does():
    rules = [ScorecardRule("events__a__30d", good=1.0, bad=0.0, weight=0.1),
             ScorecardRule("tickets__b__now", good=1.0, bad=0.0, weight=0.9)]
    X = pd.DataFrame({"events__a__30d": [0.465, 1.0, 0.0], "tickets__b__now": [0.165, 0.0, 1.0]})
    card = RuleScorecard(rules, missing_points=50.0, scale=SCALE).fit(X, [0, 1, 0])
    # 0.1 x 46.5 + 0.9 x 16.5 = 19.5 exactly, which float arithmetic alone puts a hair below
    assert card.health_score(X)[0] == 20
    expl = explain_model(card, X, scale=SCALE)
    np.testing.assert_array_equal(expl.health_score, card.health_score(X))
    np.testing.assert_allclose(expl.risk_proba, card.predict_risk(X))


# -------------------------------------------------------------------------- words


def test_words():
    assert format_points(-12.4) == "-12 pts"
    assert format_points(3.0) == "+3 pts"
    assert format_points(-0.43) == "-0.4 pts"
    assert describe_risk(0.125, horizon_days=365) == "about 1 in 8 accounts like this are lost within 12 months"
    assert describe_risk(0.7, horizon_days=365) == "about 2 in 3 accounts like this are lost within 12 months"
    assert describe_risk(0.0001, horizon_days=180).startswith("fewer than 1 in 100 ")
    assert describe_risk(0.0001, horizon_days=180).endswith(" within 6 months")
    assert describe_risk(0.125) == "about 1 in 8 accounts like this are lost"  # no horizon known
    assert describe_risk(float("nan")) == "no churn estimate"


# ----------------------------------------------------------------------- fidelity


def test_cause_fidelity_counts_causes_among_the_top_three_hurting_families():
    day = pd.Timestamp("2024-01-01")
    families = {f"points_{f}": 0.0 for f in FAMILIES}
    rows = []
    for account, values in enumerate([
        {"points_usage": -9.0, "points_support": -1.0},                       # usage first
        {"points_billing": -5.0, "points_support": -4.0, "points_usage": -3.0,
         "points_sentiment": -2.0},                                             # sentiment 4th
        {"points_contract": 3.0, "points_usage": -1.0},                        # contract helps
        {"points_support": -2.0},                                               # retained
    ]):
        rows.append({"account_id": account, "renewal_date": day, **families, **values})
    points = pd.DataFrame(rows)
    truth = pd.DataFrame({
        "account_id": [0, 1, 2, 3, 4],
        "renewal_date": [day] * 5,
        "churned": [True, True, True, False, True],
        "primary_cause": ["champion_left", "competitor_evaluation", "budget_cut", None, "x"],
        "cause_family": ["usage", "sentiment", "contract", None, "usage"],
    })
    # account 4 has no explanation, account 3 did not churn: 1 hit of 3
    assert cause_fidelity(points, truth) == pytest.approx(1 / 3)
    assert math.isnan(cause_fidelity(points.iloc[:0], truth))


def test_explain_families_feeds_cause_fidelity():
    from healthscore.model import ExportedModel

    X, y = _data(n=300, seed=4)
    day = pd.Timestamp("2024-01-01")
    frame = pd.DataFrame({"events__active_users__30d": X[:, 0], "tickets__open__now": X[:, 1]})
    model = HealthScoreModel(n_estimators=30, num_leaves=4, min_child_samples=10,
                             early_stopping_rounds=0, n_jobs=1).fit(frame, y)
    dataset = frame.assign(account_id=np.arange(300), renewal_date=day)
    families = explain_families(ExportedModel(model, SCALE), dataset)
    expl = explain_model(model, frame, scale=SCALE)
    # the points each family costs (family_hurting_points: the report's rule too)
    np.testing.assert_allclose(families["points_usage"], np.minimum(expl.points[:, 0], 0.0))
    np.testing.assert_allclose(families["points_support"], np.minimum(expl.points[:, 1], 0.0))
    truth = pd.DataFrame({"account_id": np.arange(300), "renewal_date": day, "churned": True,
                          "primary_cause": "x", "cause_family": "usage"})
    usage_hurts = (expl.points[:, 0] < 0).mean()
    # with two families, usage is in the top three hurting exactly when it hurts
    assert cause_fidelity(families, truth) == pytest.approx(usage_hurts)


def test_the_notebooks_import_of_describe_risk_is_the_one_wording():
    # notebooks/02-train-and-diagnose.ipynb reads `from healthscore.scoring.explain import describe_risk`
    from healthscore.scoring import explain, risk_words

    assert explain.describe_risk is risk_words.describe_risk
    assert explain.describe_risk(0.14, horizon_days=365) == (
        "about 1 in 7 accounts like this are lost within 12 months")


def test_drivers_found_a_block_of_rows_at_a_time_are_the_same(monkeypatch):
    import healthscore.scoring.drivers as drivers_module

    rng = np.random.default_rng(12)
    points = np.round(rng.normal(0, 3, (23, 9)), 1)
    points[rng.random(points.shape) < 0.2] = 0.0  # zero points: neither hurting nor helping
    whole = drivers_module.find_drivers(points, k=4)
    monkeypatch.setattr(drivers_module, "DRIVER_ROWS", 5)  # 5 blocks, the last one short
    blocks = drivers_module.find_drivers(points, k=4)
    for name in ("hurting", "hurting_points", "helping", "helping_points"):
        np.testing.assert_array_equal(getattr(blocks, name), getattr(whole, name))
    assert (whole.hurting[:, 0] >= 0).sum() > 15
    empty = drivers_module.find_drivers(np.zeros((0, 9)), k=4)
    assert empty.hurting.shape == (0, 4)
