"""The T-learner and the scores of a ranking (plays/uplift_model.py), and the planted
effect per assignment the benchmark scores against (sim/plays.py ``planted_effects``).

Hand data for the ranking scores: eight accounts, four where the play works (both
treated kept, both held out lost) and four where it does nothing (one lost in each arm
of two):

==  =====  =======  ====
id  group  arm      lost
==  =====  =======  ====
1   works  task     0
2   works  holdout  1
3   works  task     0
4   works  holdout  1
5   none   task     1
6   none   holdout  1
7   none   task     0
8   none   holdout  0
==  =====  =======  ====
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import DataError, ModelError
from healthscore.plays.uplift import difference_interval
from healthscore.plays.uplift_model import TLearner, qini_coefficient, qini_curve, uplift_at_k
from healthscore.sim.plays import planted_effects

ARM = np.array(["task", "holdout"] * 4)
LOST = np.array([0, 1, 0, 1, 1, 1, 0, 0])
GOOD = np.array([8, 7, 6, 5, 4, 3, 2, 1], dtype=float)  # the working group first


def test_a_ranking_that_finds_the_working_group_scores_above_random_and_its_reverse_below():
    assert uplift_at_k(GOOD, ARM, LOST, k=0.5) == 1.0  # 2 of 2 held out lost, 0 of 2 treated
    assert uplift_at_k(-GOOD, ARM, LOST, k=0.5) == 0.0
    share, saved = qini_curve(GOOD, ARM, LOST)
    assert share.tolist() == [i / 8 for i in range(9)]
    # top 2: 1 held-out loss x 1 treated / 1 held out - 0 = 1 saved; top 4: 2 x 2 / 2 = 2; all: 2 saved
    assert saved[2] * 8 == 1 and saved[4] * 8 == 2 and saved[8] * 8 == 2
    good, bad = qini_coefficient(GOOD, ARM, LOST), qini_coefficient(-GOOD, ARM, LOST)
    assert good > 0 > bad
    # everyone: the plays' own difference in churn (held out minus treated)
    d, _, _ = difference_interval(3, 4, 1, 4)
    assert uplift_at_k(GOOD, ARM, LOST, k=1.0) == pytest.approx(d) == 0.5


def test_a_constant_score_is_a_random_order_and_bad_input_is_named():
    ones = np.ones(8)
    assert qini_coefficient(ones, ARM, LOST, random_state=1) == qini_coefficient(ones, ARM, LOST, random_state=1)
    mean = np.mean([qini_coefficient(ones, ARM, LOST, random_state=s) for s in range(200)])
    assert abs(mean) < 0.5 * qini_coefficient(GOOD, ARM, LOST)
    with pytest.raises(DataError, match="'treated'.*neither|neither 'task' nor 'holdout'"):
        qini_coefficient(GOOD, np.array(["task", "hold"] * 4), LOST)
    with pytest.raises(DataError, match="lost: 2 at row 3"):
        uplift_at_k(GOOD, ARM, np.array([0, 1, 0, 2, 1, 1, 0, 0]), k=0.5)
    with pytest.raises(DataError, match="k=0"):
        uplift_at_k(GOOD, ARM, LOST, k=0)
    with pytest.raises(DataError, match="score has 7 values"):
        qini_coefficient(GOOD[:7], ARM, LOST)


def _population(n: int, seed: int) -> pd.DataFrame:
    """Churn 30 % held out everywhere; treated, 5 % where breadth < 0.5, 30 % elsewhere."""
    rng = np.random.default_rng(seed)
    breadth, noise = rng.random(n), rng.random(n)
    treated = rng.random(n) < 0.5
    p = np.where(treated & (breadth < 0.5), 0.05, 0.30)
    return pd.DataFrame({"events__breadth__30d": breadth, "tickets__noise__30d": noise,
                         "arm": np.where(treated, "task", "holdout"), "lost": (rng.random(n) < p).astype(int)})


def test_the_t_learner_finds_whom_the_play_helps_and_beats_ranking_by_risk():
    from healthscore.model import HealthScoreModel

    fit, test = _population(4000, 0), _population(4000, 1)
    names = ["events__breadth__30d", "tickets__noise__30d"]
    learner = TLearner(random_state=0).fit(fit[names], fit["arm"], fit["lost"])
    uplift = learner.predict_uplift(test[names])
    low = test["events__breadth__30d"] < 0.5
    assert uplift[low].mean() > 0.15 and abs(uplift[~low].mean()) < 0.06
    task, holdout = learner.predict_churn(test[names])
    assert np.allclose(holdout - task, uplift) and 0.2 < holdout.mean() < 0.4
    # ranking by risk puts the accounts the play does nothing for first
    risk = HealthScoreModel(n_estimators=200, early_stopping_rounds=20, n_jobs=1).fit(fit[names], fit["lost"])
    by_risk = risk.predict_risk(test[names])
    q_model = qini_coefficient(uplift, test["arm"], test["lost"])
    q_risk = qini_coefficient(by_risk, test["arm"], test["lost"])
    # a perfect ranking scores about 0.0156 here: saved per account rises to 0.0625 at
    # half the accounts and stays, against the straight line to 0.0625
    assert q_model > 0.01 and q_risk < 0.005 and q_model > q_risk
    assert uplift_at_k(uplift, test["arm"], test["lost"], k=0.4) > 0.2


def test_the_t_learner_checks_its_input():
    fit = _population(400, 2)
    names = ["events__breadth__30d", "tickets__noise__30d"]
    with pytest.raises(ModelError, match="not fitted"):
        TLearner().predict_uplift(fit[names])
    with pytest.raises(DataError, match="the holdout arm has 0 accounts"):
        TLearner().fit(fit[names], np.ones(len(fit), dtype=int), fit["lost"])
    with pytest.raises(DataError, match="X has 400 rows, treated 399"):
        TLearner().fit(fit[names], fit["arm"][:-1], fit["lost"])
    learner = TLearner(n_estimators=20, early_stopping_rounds=0, holdout_share=0.0).fit(
        fit[names], fit["arm"], fit["lost"])
    with pytest.raises(DataError, match="feature 'tickets__noise__30d' is missing"):
        learner.predict_uplift(fit[["events__breadth__30d"]])


def test_the_planted_effect_is_the_fall_in_the_chance_of_loss_within_the_horizon():
    day = pd.Timestamp("2024-01-01")
    truth = pd.DataFrame({
        "account_id": [1, 1, 1, 2], "play": "onboarding", "as_of": day,
        "renewal_date": [day + pd.Timedelta(days=30), day + pd.Timedelta(days=200), day + pd.Timedelta(days=400),
                         day + pd.Timedelta(days=10)],
        "proba_untreated": [0.5, 0.5, 0.9, 0.2], "proba_treated": [0.25, 0.25, 0.1, 0.2]})
    assigned = pd.DataFrame({"play": "onboarding", "account_id": [2, 1, 3]}, index=[10, 11, 12])
    effect = planted_effects(truth, assigned, horizon_days=365)
    # account 1: 0.75 x 0.75 kept treated, 0.5 x 0.5 untreated; the renewal on day 400 is past the horizon
    assert effect.index.tolist() == [10, 11, 12]
    assert effect.tolist() == pytest.approx([0.0, 0.5625 - 0.25, 0.0])
