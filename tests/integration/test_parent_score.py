"""Parent accounts end to end on a small simulation with parents: train, promote, score
two dates, ``explain PARENT_ID`` and the report; and the same source without
``parent_account_id`` scores to the same bytes, with no parents output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.data.schema import PARENT_ID

DATES = ("2025-05-01", "2025-06-01")
FAST = ["--set", "model.n_estimators=40", "--set", "model.min_churned_rows=20"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, simulated_renewals):
    """A simulation with parents (and a copy without the column), one model, both scored."""
    from healthscore.sim.simulate import SimulationSpec, write_simulation

    root = tmp_path_factory.mktemp("parent-score")
    write_simulation(SimulationSpec(n_accounts=500, months=30, seed=11, parents_share=0.4), root / "data")
    plain = simulated_renewals.copy_without(root / "data", root / "plain", PARENT_ID)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlruns.db'}")
        src = ["--set", f"data.source={root / 'data'}"]
        assert main([*src, "build-dataset", "--out", str(root / "ds.parquet")]) == 0
        assert main([*FAST, "train", "--data", str(root / "ds.parquet")]) == 0
        assert main(["promote", "--set", "tracking.gates.max_ece=1.0"]) == 0
        for data, out in ((root / "data", root / "outputs"), (plain, root / "plain-outputs")):
            for as_of in DATES:
                assert main(["--set", f"data.source={data}", "--set", f"score.out_dir={out}",
                             "score", "--as-of", as_of, "--no-report"]) == 0
        assert main(["--set", f"score.out_dir={root / 'outputs'}", "report"]) == 0
    return root


def test_parents_roll_up_the_risk_list_weighted_by_arr(project):
    out = project / "outputs"
    risk = pd.read_parquet(out / "risk_list" / f"{DATES[1]}.parquet")
    parents = pd.read_parquet(out / "parents" / f"{DATES[1]}.parquet")
    assert risk.columns[-1] == PARENT_ID and risk[PARENT_ID].notna().sum() > 50
    group = risk[PARENT_ID].fillna(risk["account_id"].where(risk["account_id"].isin(risk[PARENT_ID])))
    members = risk.assign(group=group).dropna(subset=["group"]).groupby("group")
    expected = pd.DataFrame({"arr": members["arr"].sum(), "at_risk": members["arr_at_risk"].sum(),
                             "accounts": members.size()})
    found = parents.set_index(PARENT_ID).loc[expected.index]
    np.testing.assert_allclose(found["arr_at_risk"], expected["at_risk"], rtol=1e-9)
    np.testing.assert_allclose(found["arr_weighted_risk"], expected["at_risk"] / expected["arr"], rtol=1e-9)
    assert (found["accounts"] == expected["accounts"]).all() and len(parents) == len(expected)
    # a range of what can be lost: from nothing to the parent's whole ARR
    assert (0 <= parents["arr_lost_low"]).all() and (parents["arr_lost_low"] <= parents["arr_lost_high"]).all()
    assert (parents["arr_lost_high"] <= parents["arr"] + 1e-6).all()
    assert parents["top_drivers"].str.len().gt(0).mean() > 0.9
    assert parents["score_change"].notna().mean() > 0.8  # the second date compares with the first
    run = json.loads((out / "run" / f"{DATES[1]}.json").read_text())
    assert run["parents"]["parents"] == len(parents)
    drivers = pd.read_parquet(out / "parent_drivers" / f"{DATES[1]}.parquet")
    assert set(drivers[PARENT_ID]) <= set(parents[PARENT_ID]) and set(drivers["kind"]) == {"hurting", "helping"}


def test_explain_a_parent_shows_its_roll_up_and_its_accounts(project, capsys):
    out = project / "outputs"
    parents = pd.read_parquet(out / "parents" / f"{DATES[1]}.parquet")
    risk = pd.read_parquet(out / "risk_list" / f"{DATES[1]}.parquet")
    row = parents.iloc[0]
    capsys.readouterr()
    assert main(["--set", f"score.out_dir={out}", "explain", str(row[PARENT_ID])]) == 0
    text = capsys.readouterr().out
    assert f"parent health score {row['health_score']} / 100" in text
    assert "ARR-weighted risk within 12 months" in text and "What lowers the parent's health" in text
    for name in risk.loc[risk[PARENT_ID] == row[PARENT_ID], "name"]:
        assert name in text
    child = risk.loc[risk[PARENT_ID].notna()].iloc[0]
    assert main(["--set", f"score.out_dir={out}", "explain", str(child["account_id"])]) == 0
    assert "parent health score" not in capsys.readouterr().out  # a child is explained as an account


def test_the_report_has_the_parent_accounts_view(project):
    page = (project / "outputs" / "report" / "parents.html").read_text()
    parents = pd.read_parquet(project / "outputs" / "parents" / f"{DATES[1]}.parquet")
    assert page.count("data-parent=") == len(parents)
    assert 'href="parents.html"' in (project / "outputs" / "report" / "index.html").read_text()


def test_without_the_column_every_output_is_the_same_bytes_and_no_parents(project):
    with_parents, plain = project / "outputs", project / "plain-outputs"
    assert not (plain / "parents").exists() and not (plain / "parent_drivers").exists()
    for as_of in DATES:
        for part in (f"history/as_of={as_of}/part-0.parquet", f"points/as_of={as_of}/part-0.parquet",
                     f"changes/{as_of}.parquet", f"alerts/{as_of}.parquet"):
            assert (plain / part).read_bytes() == (with_parents / part).read_bytes(), part
        before = pd.read_parquet(plain / "risk_list" / f"{as_of}.parquet")
        after = pd.read_parquet(with_parents / "risk_list" / f"{as_of}.parquet")
        pd.testing.assert_frame_equal(after.drop(columns=PARENT_ID), before)
        assert "parents" not in json.loads((plain / "run" / f"{as_of}.json").read_text())
