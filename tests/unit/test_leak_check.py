"""Global drivers (mean |SHAP|) and the single-feature AUC leak check, on hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from healthscore.model.evaluation import LEAK_AUC, global_drivers, single_feature_auc

Y = np.array([0, 0, 0, 0, 1, 1, 0, 1])


def _by_feature(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("feature")


def test_a_copy_of_the_label_is_flagged_in_either_direction():
    X = pd.DataFrame({"copy": Y * 3.0, "negated": -Y * 1.0,
                      "noise": [5.0, 1.0, 4.0, 2.0, 3.0, 2.5, 1.5, 4.5]})
    table = _by_feature(single_feature_auc(X, Y))
    assert table.loc["copy", "auc"] == 1.0 and table.loc["copy", "direction"] == 1
    assert table.loc["negated", "auc"] == 1.0 and table.loc["negated", "direction"] == -1
    assert table.loc["copy", "flagged"] and table.loc["negated", "flagged"]
    # churned 3.0, 2.5, 4.5 beat 3 + 3 + 4 of the 5 retained values: AUC 10/15
    assert table.loc["noise", "auc"] == pytest.approx(10 / 15)
    assert not table.loc["noise", "flagged"]
    assert list(table.index[:2]) == ["copy", "negated"]  # highest first


def test_a_feature_missing_only_for_churned_rows_is_flagged():
    values = np.where(Y == 1, np.nan, [5.0, 1.0, 4.0, 2.0, 0, 0, 3.0, 0])
    table = _by_feature(single_feature_auc(pd.DataFrame({"gone": values}), Y))
    assert table.loc["gone", "auc"] == 1.0 and table.loc["gone", "flagged"]
    assert table.loc["gone", "missing_share"] == pytest.approx(3 / 8)


def test_threshold_is_strict_and_configurable():
    # one churned row (of 3) ranked below one retained row (of 5): AUC = 14/15
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 6.0, 7.0, 8.0, 4.0, 5.0]})
    assert single_feature_auc(X, Y).loc[0, "auc"] == pytest.approx(14 / 15)
    assert not single_feature_auc(X, Y).loc[0, "flagged"]  # 0.933 <= 0.95
    assert single_feature_auc(X, Y, threshold=0.9).loc[0, "flagged"]
    assert LEAK_AUC == 0.95


def test_categorical_levels_are_scored_by_their_training_churn_rate():
    levels = pd.Categorical(np.where(Y == 1, "leaver", "stayer"))
    X = pd.DataFrame({"plan": levels})
    train = pd.DataFrame({"plan": pd.Categorical(["leaver", "stayer", "stayer", "leaver"])})
    # training rates: leaver 1.0, stayer 0.0 -> a perfect score on the test rows
    table = single_feature_auc(X, Y, X_train=train, y_train=[1, 0, 0, 1])
    assert table.loc[0, "auc"] == 1.0 and table.loc[0, "flagged"] and table.loc[0, "direction"] == 0
    # rates learned the other way round rank the test rows perfectly wrong: still a leak
    assert single_feature_auc(X, Y, X_train=train, y_train=[0, 1, 1, 0]).loc[0, "auc"] == 1.0
    # an unseen level gets the training rate (0.5) like every row here: no signal
    unseen = single_feature_auc(X, Y, X_train=train.assign(plan=pd.Categorical(["x"] * 4)),
                                y_train=[1, 0, 0, 1])
    assert unseen.loc[0, "auc"] == 0.5 and not unseen.loc[0, "flagged"]


def test_one_class_gives_nan_auc_and_no_flag():
    table = single_feature_auc(pd.DataFrame({"x": [1.0, 2.0]}), [0, 0])
    assert math.isnan(table.loc[0, "auc"]) and not table.loc[0, "flagged"]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        single_feature_auc(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), [0, 1])
    with pytest.raises(ValueError, match="both X_train and y_train"):
        single_feature_auc(pd.DataFrame({"x": [1.0]}), [0], X_train=pd.DataFrame({"x": [1.0]}))


def test_global_drivers_average_absolute_contributions():
    # two rows, features a and b, last column the base value
    contributions = np.array([[0.5, -0.1, -2.0],
                              [-1.5, 0.3, -2.0]])
    table = _by_feature(global_drivers(contributions, ["a", "b"], points_per_logit=14.4))
    assert table.loc["a", "mean_abs_logit"] == pytest.approx(1.0)
    assert table.loc["b", "mean_abs_logit"] == pytest.approx(0.2)
    assert table.loc["a", "mean_logit"] == pytest.approx(-0.5)
    assert table.loc["a", "mean_abs_points"] == pytest.approx(14.4)
    assert table["share"].sum() == pytest.approx(1.0)
    assert list(table.index) == ["a", "b"]  # largest first
    assert "mean_abs_points" not in global_drivers(contributions, ["a", "b"]).columns


def test_global_drivers_refuse_a_missing_base_column():
    with pytest.raises(ValueError, match="expected \\(n, 3\\)"):
        global_drivers(np.zeros((2, 2)), ["a", "b"])
