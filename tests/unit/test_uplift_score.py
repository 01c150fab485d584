"""`healthscore score` writes each play's uplift with its date (``uplift/<as_of>.parquet``,
in the same commit as the run file), as known on that date; the report's leader view
reads it back and shows the verdict the `plays` command prints.

A small simulated source (200 accounts, 18 months) and a small real LightGBM; one play
holds out half its accounts (the first date raises no alert, so its first tasks come on
2024-02-01); the uplift horizon is 20 days (``timeline.horizon_days``), so the
assignments of 2024-02-01 have matured by 2024-04-01 (20 days plus the 30-day grace
period) and those of 2024-03-01 have not.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from healthscore.cli import main
from healthscore.commands.plays import uplift_of
from healthscore.config import read_params
from healthscore.io.sources import read_source
from healthscore.plays.uplift import UPLIFT_COLUMNS
from healthscore.report import read_report_inputs, render_report
from healthscore.scoring import OutputLayout

D1, D2, D3, D4 = "2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("uplift-score")
    data, _tables, labelled, names = simulated_renewals(root, accounts=200, months=18, seed=3)
    simulated_renewals.save(labelled, names, 40, root / "model")
    return {"data": data, "model": root / "model"}


def test_score_writes_the_uplift_with_its_date_and_the_report_shows_it(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({
        "score": {"out_dir": str(out)}, "alerts": {"drop_points": 2}, "timeline": {"horizon_days": 20},
        "plays": [{"name": "check_up", "action": "Book a health check-up call", "holdout": 0.5}]}))
    for as_of in (D1, D2, D3, D4):
        assert main(["--params", str(params_file), "score", "--as-of", as_of, "--data", str(world["data"]),
                     "--model", str(world["model"]), "--no-report"]) == 0
    layout = OutputLayout(out)
    # no earlier assignment: no table
    assert layout.read_table("tasks", D1).empty and not layout.read_table("tasks", D2).empty
    assert not layout.uplift(D1).exists() and not layout.uplift(D2).exists()
    for d in (D3, D4):
        assert layout.uplift(d).exists()
    assert tuple(pd.read_parquet(layout.uplift(D3)).columns) == UPLIFT_COLUMNS
    early = pd.read_parquet(layout.uplift(D3)).iloc[0]
    assert early["treated"] == 0 and early["held_out"] == 0 and early["pending"] > 0

    late = pd.read_parquet(layout.uplift(D4)).iloc[0]
    tasks = pd.concat([layout.read_table("tasks", d) for d in (D1, D2, D3)], ignore_index=True)
    first = tasks.sort_values("as_of").drop_duplicates("account_id")
    matured = first["as_of"] <= pd.Timestamp(D2)  # 20 + 30 grace days before 2024-04-01
    assert late["treated"] + late["held_out"] == int(matured.sum()) > 0
    assert late["pending"] == int((~matured).sum()) > 0
    assert late["treated"] > 0 and late["held_out"] > 0
    # what score wrote is what the outcomes known on that date say
    params = read_params(params_file)
    tables, _ = read_source(params.data, source=world["data"])
    direct = uplift_of(tables, layout, as_of=pd.Timestamp(D4), params=params)
    pd.testing.assert_frame_equal(pd.read_parquet(layout.uplift(D4)), direct, check_dtype=False)

    # the leader view reads the table of the report's date and shows the verdict
    inputs = read_report_inputs(out, as_of=D4)
    assert inputs.uplift["as_of"].iloc[0] == pd.Timestamp(D4)
    html = render_report(inputs, params.report)["index.html"]
    assert 'data-testid="plays-card"' in html and "check_up" in html
    assert late["verdict"].replace("'", "&#39;") in html
    # a report of an earlier date reads that date's table: nothing matured yet
    html2 = render_report(read_report_inputs(out, as_of=D3), params.report)["index.html"]
    assert "no play has matured outcomes yet" in html2
