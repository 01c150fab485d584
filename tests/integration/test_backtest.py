"""`healthscore backtest`: replay train + score at a past date on the data known then,
and compare with what happened (a small simulated book with the horizon oracle)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from healthscore.backtest import backtest_dates, run_backtest, term_class
from healthscore.cli import main
from healthscore.config import make_params
from healthscore.io.sources import read_source
from healthscore.model.exposure import Horizon
from healthscore.sim.simulate import SimulationSpec, write_simulation

pytestmark = pytest.mark.xdist_group("backtest")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backtest") / "data"
    write_simulation(SimulationSpec(n_accounts=700, months=32, seed=11, oracle_horizon_days=365), folder)
    return folder


def params_for(folder):
    return make_params({"data": {"source": str(folder)}, "features": {"windows": [30, 90]},
                        "model": {"min_churned_rows": 10, "n_estimators": 200}})


def test_replayed_scores_are_compared_with_what_happened(book):
    params = params_for(book)
    tables, _ = read_source(params.data)
    horizon = Horizon.from_params(params.timeline, params.labels)
    dates = backtest_dates(tables, horizon, first=pd.Timestamp("2024-06-01"))
    assert dates and all(d + pd.Timedelta(days=395) <= tables.observed_until for d in dates)
    as_of = dates[0]
    oracle = tables.extras["oracle"]
    result = run_backtest(tables, params, [as_of], oracle=oracle,
                          ground_truth=tables.extras["ground_truth"])
    rows = result["rows"]
    # every account active on the date is scored once, with its outcome and the oracle
    subs = tables.subscriptions
    active = subs.loc[(subs["start_date"] < as_of) & (subs["end_date"] >= as_of), "account_id"].unique()
    assert sorted(rows["account_id"]) == sorted(active)
    assert rows["lost"].isin([0, 1]).all() and 0 < rows["lost"].mean() < 0.5
    assert rows["risk_oracle"].notna().all()
    assert set(rows["term"]) <= {"monthly", "annual", "multi-year"}
    # what was lost is what the full data shows within the year
    lost = rows.loc[rows["lost"] == 1]
    assert ((lost["lost_at"] >= as_of) & (lost["lost_at"] < as_of + pd.Timedelta(days=365))).all()
    pooled = result["metrics"].query("as_of == 'all' and group == 'all'").iloc[0]
    assert pooled["accounts"] == len(rows) and 0.5 < pooled["roc_auc"] < 1
    assert abs(pooled["predicted"] - pooled["observed"]) < 0.1
    assert {"monthly", "annual"} <= set(result["metrics"].query("group == 'term'")["value"])
    assert 0 < pooled["auc_to_oracle"] < 1.2
    cover = result["coverage"]
    assert set(cover["by"]) == {"all", "segment", "owner", "term"}
    assert (cover["arr_lost_low"] <= cover["arr_lost_high"]).all()
    fidelity = result["fidelity"].set_index("term")
    assert 0 <= fidelity.loc["all", "fidelity"] <= 1 and fidelity.loc["all", "lost_with_named_cause"] > 0
    # only causes that struck before the as-of date: a subset, which an explanation can show
    assert 0 < fidelity.loc["all", "cause_seen_by_as_of"] <= fidelity.loc["all", "lost_with_named_cause"]
    assert 0 <= fidelity.loc["all", "fidelity_seen"] <= 1
    # and of those, the ones whose cause had left its trace in the tables by then
    assert 0 < fidelity.loc["all", "cause_traced_by_as_of"] <= fidelity.loc["all", "cause_seen_by_as_of"]
    assert 0 <= fidelity.loc["all", "fidelity_traced"] <= 1


def test_the_model_of_a_date_never_sees_what_came_after_it(book):
    """Replaying a date on the full data or on the data cut at that date gives the
    same scores: nothing after the as-of date reaches the model or the features."""
    from healthscore.backtest import replay_date
    from healthscore.data.known import as_known_at

    params = params_for(book)
    tables, _ = read_source(params.data)
    as_of = pd.Timestamp("2024-06-01").as_unit("us")
    full, _ = replay_date(tables, params, as_of)
    cut, _ = replay_date(as_known_at(tables, as_of), params, as_of)
    pd.testing.assert_series_equal(full["risk_proba"], cut["risk_proba"])


def test_backtest_command_writes_its_tables(book, tmp_path, capsys):
    out = tmp_path / "bt"
    assert main(["--set", f"data.source={book}", "--set", "model.min_churned_rows=10",
                 "--set", "features.windows=[30, 90]", "--set", "model.n_estimators=200",
                 "backtest", "--dates", "2024-06-01", "--oracle", str(book / "oracle.parquet"),
                 "--out", str(out)]) == 0
    text = (out / "backtest.md").read_text()
    assert "## Pooled over the dates" in text and "| term | monthly |" in text
    record = json.loads((out / "backtest.json").read_text())
    assert record["dates"] == ["2024-06-01"]
    assert len(pd.read_parquet(out / "rows.parquet")) > 100
    assert main(["--set", f"data.source={book}", "backtest", "--dates", "2025-12-01",
                 "--out", str(out)]) == 2  # its horizon is not inside the data: one line


def test_term_classes():
    assert term_class([30, 31, 365, 366, 730, float("nan")]).tolist() == [
        "monthly", "monthly", "annual", "annual", "multi-year", "unknown"]
