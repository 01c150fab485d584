"""Plays end to end on the simulator.

1. Simulated truth: the simulator applies an onboarding play (it removes most of the
   churn log-odds a champion's departure adds, nothing for a budget cut) and a null
   play, with hold-outs assigned by the real plays' hash; the uplift measured from the
   assignments and the subscriptions recovers the planted effect within its interval,
   and the null play is not reported as working.
2. The product path: `healthscore score` with a play holding out half its accounts
   writes both arms with the tasks (an account keeps its first arm), and
   `healthscore plays` reports the uplift per play once outcomes matured.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from healthscore.cli import main
from healthscore.config import make_params
from healthscore.io.sources import read_source
from healthscore.plays import ARM_HOLDOUT, ARM_TASK
from healthscore.plays.uplift import UPLIFT_COLUMNS, UpliftSettings, attach_outcomes, measure_uplift
from healthscore.scoring import OutputLayout
from healthscore.sim.plays import PlayEffect
from healthscore.sim.simulate import SimulationSpec, write_simulation

HORIZON = 180
PLAYS = (PlayEffect("onboarding", ("champion_left", "budget_cut"), {"champion_left": 0.8}),
         PlayEffect("null_play", ("payment_trouble", "support_escalation"), {}))


def planted_effect(truth: pd.DataFrame, matured: pd.DataFrame, horizon_days: int) -> pd.Series:
    """Per play, the mean over the matured assignments of the true fall in the chance
    of being lost within the horizon: 1 - prod(1 - p) untreated minus treated, over the
    decisions the play could change (drawn after the assignment, renewal inside the
    horizon); 0 for an account with none."""
    end = truth["as_of"] + pd.Timedelta(days=horizon_days)
    inside = truth.loc[(truth["renewal_date"] >= truth["as_of"]) & (truth["renewal_date"] < end)]
    lost = inside.assign(keep_u=1 - inside["proba_untreated"], keep_t=1 - inside["proba_treated"])
    per = lost.groupby(["play", "account_id"])[["keep_u", "keep_t"]].prod()
    per["effect"] = per["keep_t"] - per["keep_u"]  # (1 - prod keep_u) - (1 - prod keep_t)
    rows = matured.merge(per["effect"].reset_index(), on=["play", "account_id"], how="left")
    return rows.fillna({"effect": 0.0}).groupby("play")["effect"].mean()


def test_the_uplift_recovers_the_planted_effect_and_a_null_play_is_not_working(tmp_path):
    spec = SimulationSpec(n_accounts=8000, months=24, seed=11, plays=PLAYS)
    write_simulation(spec, tmp_path / "data")
    tables, _ = read_source(make_params({}).data, source=tmp_path / "data")
    assignments = pd.read_parquet(tmp_path / "data" / "play_assignments.parquet")
    truth = pd.read_parquet(tmp_path / "data" / "play_truth.parquet")
    settings = UpliftSettings(horizon_days=HORIZON)
    outcomes = attach_outcomes(assignments.loc[:, ["play", "account_id", "as_of", "arm"]], tables,
                               settings=settings)
    uplift = measure_uplift(outcomes, settings=settings).set_index("play")
    planted = planted_effect(truth, outcomes.loc[outcomes["matured"]], HORIZON)

    # the hold-out shares hold per segment (the real plays' stratified hash)
    shares = assignments.groupby(["play", "segment"])["arm"].apply(lambda a: (a == ARM_HOLDOUT).mean())
    assert ((shares - 0.3).abs() < 0.05).all(), shares
    # the interventions table (read like any optional table) records the treated only
    touches = tables["interventions"]
    held = assignments.loc[assignments["arm"] == ARM_HOLDOUT, ["play", "account_id"]]
    assert touches.merge(held, on=["play", "account_id"]).empty
    on = uplift.loc["onboarding"]
    assert on["touched"] == on["treated"] and on["held_out_touched"] == 0

    assert planted["onboarding"] > 0.02 and planted["null_play"] == 0.0
    assert on["works"], on.to_dict()
    assert on["low"] <= planted["onboarding"] <= on["high"], (on.to_dict(), planted.to_dict())
    assert on["verdict"].startswith("saves about ")
    null = uplift.loc["null_play"]
    assert not null["works"] and null["low"] <= 0.0 <= null["high"], null.to_dict()
    assert null["verdict"].startswith("no measurable effect yet")


D1, D2, D3 = "2024-01-01", "2024-02-01", "2024-03-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("plays-holdout")
    data, _tables, labelled, names = simulated_renewals(root, accounts=200, months=18, seed=3)
    simulated_renewals.save(labelled, names, 40, root / "model")
    return {"data": data, "model": root / "model"}


def test_score_writes_both_arms_and_plays_reports_the_uplift(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "score": {"out_dir": str(out)}, "alerts": {"drop_points": 2},
        "plays": [{"name": "check_up", "action": "Book a health check-up call", "holdout": 0.5}]}))
    for as_of in (D1, D2, D3):
        assert main(["--params", str(params), "score", "--as-of", as_of, "--data", str(world["data"]),
                     "--model", str(world["model"]), "--no-report"]) == 0
    layout = OutputLayout(out)
    tasks = pd.concat([layout.read_table("tasks", d) for d in (D1, D2, D3)], ignore_index=True)
    assert set(tasks["arm"]) == {ARM_TASK, ARM_HOLDOUT}
    # an account keeps the arm it first got
    assert (tasks.groupby("account_id")["arm"].nunique() == 1).all()
    for d in (D2, D3):
        counts = layout.read_run(d)["counts"]
        day = layout.read_table("tasks", d)
        assert counts["tasks"] == int((day["arm"] == ARM_TASK).sum())
        assert counts["held_out"] == int((day["arm"] == ARM_HOLDOUT).sum())
    capsys.readouterr()

    assert main(["--params", str(params), "plays", "--data", str(world["data"]), "--horizon-days", "90"]) == 0
    printed = capsys.readouterr().out
    assert "check_up:" in printed and "90-day horizon" in printed
    uplift = pd.read_parquet(out / "uplift" / "2024-07-01.parquet")
    assert tuple(uplift.columns) == UPLIFT_COLUMNS
    row = uplift.iloc[0]
    first = tasks.sort_values("as_of").drop_duplicates("account_id")
    assert row["treated"] == int((first["arm"] == ARM_TASK).sum())
    assert row["held_out"] == int((first["arm"] == ARM_HOLDOUT).sum())
    assert row["pending"] == 0 and row["verdict"] in printed
    risk = layout.read_table("risk_list", D1).set_index("account_id")["arr"]
    d1 = first.loc[first["as_of"] == pd.Timestamp(D1)]
    assert row["treated_arr"] >= risk.loc[d1.loc[d1["arm"] == ARM_TASK, "account_id"]].sum() - 1e-6

    # as known on a date before the horizon passed: everything pending, nothing guessed
    assert main(["--params", str(params), "plays", "--data", str(world["data"]), "--horizon-days", "90",
                 "--as-of", "2024-03-15"]) == 0
    early = pd.read_parquet(out / "uplift" / "2024-03-15.parquet").iloc[0]
    assert early["treated"] == 0 and early["held_out"] == 0 and early["pending"] == len(first)
    assert early["verdict"].startswith("not measurable")
