"""PSI over bins fixed at training, and the drift of a scoring date on simulated data:
a planted shift (a release after which one segment's usage falls by three quarters)
must be flagged, the same date without it must not. (Halving it gives a usage PSI near
0.24 on this data: "shifted slightly", below the 0.25 alert.)"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.model import ExportedModel, HealthScale
from healthscore.model.export import catalogue_dict
from healthscore.monitor.drift import SCORE, drift_table, level_of
from healthscore.monitor.psi import (MISSING, OTHER, categorical_shares, numeric_shares, psi,
                                     quantile_edges)
from healthscore.monitor.reference import build_reference
from healthscore.monitor.verdict import summarise_drift
from healthscore.scoring.engine import score_date

AS_OF = pd.Timestamp("2025-10-01")
SHIFT_FROM = pd.Timestamp("2025-06-01")


def test_psi_by_hand():
    # e = (0.5, 0.5), a = (0.25, 0.75): 0.25*ln(1.5) - 0.25*ln(0.5)
    assert psi([0.5, 0.5], [0.75, 0.25]) == pytest.approx(0.25 * np.log(1.5) + 0.25 * np.log(2))
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    assert np.isnan(psi([0, 0], [0.5, 0.5]))
    with pytest.raises(ValueError, match="3 reference bins against 2"):
        psi([0.2, 0.3, 0.5], [0.5, 0.5])


def test_bins_are_the_training_quantiles_and_stay_fixed():
    train = np.arange(1, 101, dtype=float)  # 1..100
    edges = quantile_edges(train, bins=4)
    assert edges == pytest.approx([25.75, 50.5, 75.25])
    assert numeric_shares(train, edges).tolist() == pytest.approx([0.25, 0.25, 0.25, 0.25, 0.0])
    # the same bins on a shifted sample: everything lands in the top bin, NaN in the last
    shares = numeric_shares([200.0, 300.0, np.nan, np.inf], edges)
    assert shares.tolist() == [0.0, 0.0, 0.0, 0.5, 0.5]
    # ties merge bins: a feature at 0 on 60 % of rows has one bin for them
    zeros = np.r_[np.zeros(60), np.arange(1, 41)]
    assert quantile_edges(zeros, bins=10)[0] == 0.0
    assert numeric_shares(zeros, quantile_edges(zeros, bins=10))[0] == pytest.approx(0.6)


def test_categorical_shares_count_unseen_and_missing_levels():
    shares = categorical_shares(pd.Series(["a", "b", "z", None]), ["a", "b"])
    assert shares.tolist() == [0.25, 0.25, 0.25, 0.25]  # a, b, (other), (missing)
    assert (OTHER, MISSING) == ("(other)", "(missing)")


def test_levels_follow_the_thresholds():
    monitor = make_params({}).monitor
    assert [level_of(v, monitor) for v in (0.05, 0.1, 0.3, np.nan)] == ["stable", "warn", "alert", "unknown"]


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("monitor-psi")
    from healthscore.dataset.pipeline import build_dataset

    data, tables, labelled, names = simulated_renewals(root, accounts=500, months=36, seed=11)
    params = make_params({})
    model = simulated_renewals.fit(labelled, names, 30)
    exported = ExportedModel(model, HealthScale(), catalogue=catalogue_dict(names))
    # the reference: the six months of cutoffs before the shift (censored rows too)
    dataset = build_dataset(tables, params)
    window = dataset[(dataset["cutoff_time"] < SHIFT_FROM)
                     & (dataset["cutoff_time"] >= SHIFT_FROM - pd.DateOffset(months=6))]
    exported.reference = build_reference(window, exported, bins=10, trained_until=SHIFT_FROM)
    return {"tables": tables, "exported": exported, "params": params}


def cut_usage(tables, segment: str, since: pd.Timestamp, *, keep_every: int = 4):
    """Only every ``keep_every``-th event of ``segment``'s accounts from ``since`` on kept."""
    events = tables.frames["events"]
    ids = tables.accounts.loc[tables.accounts["segment"] == segment, "account_id"]
    hit = events["account_id"].isin(ids) & (events["timestamp"] >= since)
    drop = hit & (np.arange(len(events)) % keep_every != 0)
    return dataclasses.replace(tables, frames={**tables.frames, "events": events.loc[~drop]})


def drift_on(world, tables):
    params = world["params"]
    out = score_date(tables, world["exported"], as_of=AS_OF, features=params.features,
                     score=params.score, alerts=params.alerts)
    table = drift_table(out.points, out.risk_list, world["exported"].reference,
                        catalogue=world["exported"].catalogue, monitor=params.monitor)
    summary = summarise_drift(table, bands=None, matured={"status": "not measured", "reason": "test"},
                              age_days=np.nan, monitor=params.monitor)
    return table, summary


def test_a_stable_period_is_not_flagged(world):
    table, summary = drift_on(world, world["tables"])
    counted = table[table["counted"] & (table["name"] != SCORE)]
    assert counted["psi"].notna().all()
    assert (counted["level"] != "alert").all(), counted.head(3).to_dict("records")
    # a few hundred accounts: sampling noise may pass psi_warn ("shifted slightly"), never psi_alert
    assert not summary["retrain"] and not summary["alerts"]
    assert not any("drifted" in line for line in summary["verdict"])


def test_a_segment_losing_most_of_its_usage_is_flagged(world):
    segment = world["tables"].accounts["segment"].value_counts().index[0]  # the largest
    table, summary = drift_on(world, cut_usage(world["tables"], segment, SHIFT_FROM))
    usage = table[(table["family"] == "usage") & table["counted"]]
    assert usage["level"].eq("alert").any(), usage[["name", "psi"]].head(5).to_string()
    assert summary["retrain"]
    assert any(a["kind"] == "feature_drift" and a["family"] == "usage" for a in summary["alerts"])
    assert any(line.startswith("usage features drifted since training (PSI") for line in summary["verdict"])


def test_thresholds_out_of_order_and_an_unknown_reference_are_errors():
    from healthscore.errors import ConfigError, ModelError
    from healthscore.monitor.reference import check_reference

    with pytest.raises(ConfigError, match=r"monitor.psi_alert: 0.05 is below monitor.psi_warn"):
        make_params({"monitor": {"psi_alert": 0.05}})
    with pytest.raises(ModelError, match="reference.json: format 9"):
        check_reference({"format": 9, "features": {}})
    assert check_reference(None) is None
