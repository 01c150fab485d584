"""`healthscore calls` end to end: simulated tables, a tiny model, two as-of dates scored
with loose alert thresholds, then the call list printed, filtered and written."""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.scoring import OutputLayout
from healthscore.scoring.calls import CALL_COLUMNS

D1, D2 = "2024-05-01", "2024-06-01"
LOOSE = ["--set", "alerts.reason_min_points=1", "--set", "alerts.drop_points=3",
         "--set", "calls.renewal_days=120"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("calls-cli")
    data, _, labelled, names = simulated_renewals(root, accounts=160, months=18, seed=3)
    simulated_renewals.save(labelled, names, 40, root / "model")
    out = root / "outputs"
    for as_of in (D1, D2):
        assert main(["--set", f"score.out_dir={out}", *LOOSE, "score", "--as-of", as_of,
                     "--data", str(data), "--model", str(root / "model"), "--no-report"]) == 0
    return out


def test_calls_prints_per_owner_a_reason_and_a_step(scored, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: defaults
    written = pd.read_csv(OutputLayout(scored).calls(D2))  # score wrote it with the date
    capsys.readouterr()
    assert main(["--set", f"score.out_dir={scored}", *LOOSE, "calls", "--csv"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Calls for the week of {D2}")
    calls = pd.read_csv(OutputLayout(scored).root / "calls" / f"{D2}.csv")
    assert list(calls.columns) == list(CALL_COLUMNS)
    pd.testing.assert_frame_equal(calls, written)
    assert len(calls) > 0 and calls["next_step"].notna().all()
    assert (calls.groupby("owner")["rank"].max() <= 5).all()
    alerts = OutputLayout(scored).read_table("alerts", D2)
    assert alerts["reason"].notna().all()  # every alert names its reason
    owner = calls["owner"].iloc[0]
    assert main(["--set", f"score.out_dir={scored}", "calls", "--owner", owner]) == 0
    mine = capsys.readouterr().out
    assert f"{owner}:" in mine and all(o == owner or f"{o}:" not in mine for o in calls["owner"])
    assert main(["--set", f"score.out_dir={scored}", "calls", "--owner", "Nobody At All"]) != 0
    assert "no account of the risk list" in capsys.readouterr().err
