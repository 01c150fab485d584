"""One rule ranks families by where the score is lost: the points each family costs.

The backtest's explanation fidelity (``backtest.behaviour_families`` ->
``cause_fidelity``), the quality benchmark's (``explain_families``) and the report's
family chart (``report.account.family_costs``) all rank by
``scoring.drivers.family_hurting_points``. Net points would hide a family's harm
behind its own helping signals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.backtest import behaviour_families
from healthscore.config import make_params
from healthscore.features.catalogue import FAMILIES
from healthscore.report.account import family_costs
from healthscore.scoring.drivers import cause_fidelity, family_hurting_points, family_points

# sentiment: a competitor mention costs 6, a good NPS gives back 5 (net -1);
# usage: one signal costs 3 (net -3). Support costs 2. Contract (profile) costs 20.
NAMES = ["signals__competitor_mention__days_since_last", "surveys__nps_last",
         "events__active_users__30d", "tickets__open__now", "subscriptions__days_to_renewal"]
FAMILY = {"signals__competitor_mention__days_since_last": "sentiment", "surveys__nps_last": "sentiment",
          "events__active_users__30d": "usage", "tickets__open__now": "support",
          "subscriptions__days_to_renewal": "contract"}
POINTS = np.array([[-6.0, 5.0, -3.0, -2.0, -20.0]])


def test_hurting_points_count_only_what_costs_and_keep_every_family():
    hurt = family_hurting_points(POINTS, NAMES, FAMILY)
    net = family_points(POINTS, NAMES, FAMILY)
    assert list(hurt.columns) == [f"points_{f}" for f in FAMILIES]
    assert hurt.loc[0, "points_sentiment"] == pytest.approx(-6.0)
    assert net.loc[0, "points_sentiment"] == pytest.approx(-1.0)
    assert hurt.loc[0, "points_usage"] == pytest.approx(-3.0)
    assert (hurt.to_numpy() <= 0).all()
    np.testing.assert_allclose(hurt.sum(axis=1), np.minimum(POINTS, 0).sum(axis=1))


def test_a_cause_offset_by_its_own_family_still_counts_as_shown():
    day = pd.Timestamp("2024-06-01")
    truth = pd.DataFrame({"account_id": [1], "renewal_date": [day], "churned": [True],
                          "primary_cause": ["competitor_evaluation"], "cause_family": ["sentiment"]})
    # only the behavioural families: sentiment, usage, support (contract is profile)
    names, family = NAMES[:4], {n: FAMILY[n] for n in NAMES[:4]}
    extra = np.array([[-6.0, 5.0, -3.0, -2.0]])
    # a fourth family that nets below sentiment pushes it out of the net top three
    names = names + ["invoices__days_overdue__now"]
    family["invoices__days_overdue__now"] = "billing"
    extra = np.column_stack([extra, [[-1.5]]])
    keys = pd.DataFrame({"account_id": [1], "renewal_date": [day]})
    net = pd.concat([keys, family_points(extra, names, family)], axis=1)
    hurt = pd.concat([keys, family_hurting_points(extra, names, family)], axis=1)
    assert cause_fidelity(net, truth) == 0.0
    assert cause_fidelity(hurt, truth) == 1.0


def test_backtest_and_report_rank_families_by_the_same_rule():
    params = make_params()
    points = pd.DataFrame({"account_id": [7], **{f"points:{n}": [v] for n, v in zip(NAMES, POINTS[0])}})
    scored = behaviour_families(points, params)
    # the profile fact (days to renewal) is left out: contract costs nothing here
    assert scored.loc[0, "points_contract"] == 0.0
    backtest_order = [c.removeprefix("points_") for c in
                      scored.drop(columns="account_id").iloc[0].sort_values(kind="stable").index
                      if scored.loc[0, c] < 0]
    records = [{"feature": n, "family": FAMILY[n], "points": v}
               for n, v in zip(NAMES[:4], POINTS[0][:4])]
    report = family_costs(records)
    assert [f for f, _ in report] == backtest_order == ["sentiment", "usage", "support"]
    assert [v for _, v in report] == pytest.approx([-6.0, -3.0, -2.0])
    assert family_costs([]) == []
    # nothing costs points: no family is charted
    assert family_costs([{"feature": "surveys__nps_last", "family": "sentiment", "points": 4.0}]) == []
