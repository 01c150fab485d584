"""Hold-outs by design: a seeded hash of (account, play), stratified by band and
segment, stable across runs, sticky across dates, never sent."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.config.plays import Play, PlayWhen
from healthscore.errors import ConfigError
from healthscore.plays import ARM_HOLDOUT, ARM_TASK, assign_arms, make_tasks, notify_tasks
from healthscore.plays.assign import earlier_arms
from healthscore.data.schema import ALERT_COLUMNS

AS_OF = pd.Timestamp("2024-06-01")


def day(n=400):
    rng = np.random.default_rng(0)
    ids = [f"acc{i:04d}" for i in range(n)]
    band = rng.choice(["red", "yellow", "green"], n, p=[0.5, 0.3, 0.2])
    segment = rng.choice(["smb", "mid", "ent"], n, p=[0.6, 0.3, 0.1])
    alerts = pd.DataFrame({"account_id": ids, "kind": "score_drop", "new_red": False, "band_drop": False,
                           "score_drop": True, "previous_band": "green", "band": band,
                           "previous_score": 80, "health_score": 50, "score_change": -30,
                           "reason": "fell"}).loc[:, list(ALERT_COLUMNS)]
    for c in ("previous_score", "health_score", "score_change"):
        alerts[c] = alerts[c].astype("Int64")
    risk = pd.DataFrame({"account_id": ids, "name": ids, "owner": "ann", "segment": segment,
                         "renewal_date": pd.Series([AS_OF + pd.Timedelta(days=100)] * n).astype("datetime64[us]"),
                         "days_to_renewal": 100.0})
    history = pd.DataFrame({"account_id": ids, "points_billing": 0.0, "points_support": 0.0})
    return alerts, risk, history


PLAY = Play("check", "Call", "csm", 7, PlayWhen(), holdout=0.3)


def test_shares_hold_within_every_band_and_segment():
    alerts, risk, history = day()
    tasks = make_tasks(alerts, risk, history, [PLAY], as_of=AS_OF)
    assert len(tasks) == len(alerts) and set(tasks["arm"]) == {ARM_TASK, ARM_HOLDOUT}
    strata = tasks.merge(risk[["account_id", "segment"]], on="account_id")
    for _, group in strata.groupby(["band", "segment"]):
        held = int((group["arm"] == ARM_HOLDOUT).sum())
        # within one account of the share, in every stratum (randomised rounding)
        assert abs(held - 0.3 * len(group)) < 1.0, (len(group), held)


def test_stable_across_reruns_and_row_order_and_distinct_per_play():
    alerts, risk, history = day()
    one = make_tasks(alerts, risk, history, [PLAY], as_of=AS_OF)
    two = make_tasks(alerts.sample(frac=1, random_state=3), risk, history, [PLAY], as_of=AS_OF)
    pd.testing.assert_frame_equal(one, two)
    other = Play("other", "Call", "csm", 7, PlayWhen(), holdout=0.3)
    three = make_tasks(alerts, risk, history, [other], as_of=AS_OF)
    assert (one["arm"].to_numpy() != three.set_index("account_id").loc[one["account_id"], "arm"].to_numpy()).any()
    reseeded = Play("check", "Call", "csm", 7, PlayWhen(), holdout=0.3, holdout_seed=1)
    four = make_tasks(alerts, risk, history, [reseeded], as_of=AS_OF)
    assert (one["arm"].to_numpy() != four.set_index("account_id").loc[one["account_id"], "arm"].to_numpy()).any()


def test_an_account_keeps_its_first_arm_on_later_dates():
    alerts, risk, history = day()
    first = make_tasks(alerts, risk, history, [PLAY], as_of=AS_OF)
    later = AS_OF + pd.Timedelta(days=7)
    # a week later only half of them alert again, with new accounts beside them
    again = alerts.iloc[::2]
    second = make_tasks(again, risk, history, [PLAY], as_of=later, earlier=earlier_arms(first))
    before = first.set_index("account_id")["arm"]
    assert (second.set_index("account_id")["arm"] == before.loc[second["account_id"]]).all()
    # without the record the smaller set is ranked afresh and some arms differ
    fresh = make_tasks(again, risk, history, [PLAY], as_of=later)
    assert (fresh.set_index("account_id")["arm"] != before.loc[fresh["account_id"]]).any()


def test_no_holdout_by_default_and_a_share_above_half_is_refused():
    alerts, risk, history = day(50)
    tasks = make_tasks(alerts, risk, history, make_params({}).plays, as_of=AS_OF)
    assert (tasks["arm"] == ARM_TASK).all()
    with pytest.raises(ConfigError, match=r"plays\[0\].holdout"):
        make_params({"plays": [{"name": "a", "action": "x", "holdout": 0.6}]})
    assert make_params({"plays": [{"name": "a", "action": "x", "holdout": 0.2}]}).plays[0].holdout == 0.2


def test_assign_arms_expected_share_is_exact_in_tiny_strata():
    # strata of one account: each is held out with chance 0.3, over many plays
    held = [assign_arms(["a"], None, play=f"p{k}", share=0.3)[0] == ARM_HOLDOUT for k in range(2000)]
    assert 0.27 < np.mean(held) < 0.33


def test_held_out_rows_are_never_sent(monkeypatch):
    from loopback_servers import Receiver  # tests/: a real HTTP server on 127.0.0.1

    alerts, risk, history = day(40)
    tasks = make_tasks(alerts, risk, history, [PLAY], as_of=AS_OF)
    monkeypatch.setenv("HS_HOLDOUT_SECRET", "k")
    with Receiver() as hook:
        params = make_params({"notify": {"webhook": {"enabled": True, "url": hook.url,
                                                     "secret_env": "HS_HOLDOUT_SECRET"}}}).notify
        notify_tasks(tasks, params, as_of=AS_OF, dry_run=False)
    (_headers, body), = hook.requests
    sent = {t["account_id"] for t in json.loads(body)["tasks"]}
    assert sent == set(tasks.loc[tasks["arm"] == ARM_TASK, "account_id"])
    assert sent.isdisjoint(tasks.loc[tasks["arm"] == ARM_HOLDOUT, "account_id"])
