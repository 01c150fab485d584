"""Rows from the past only: rebuild from the data as known at T, and every row with
cutoff <= T is still there with the same features (DESIGN.md section 2).

A simulated book of monthly and annual contracts, with some annual accounts turned
into two-year contracts, in both label modes. Labels may turn censored at T, never
change to another known value; censoring is symmetric.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.data.known import as_known_at
from healthscore.dataset.pipeline import build_dataset
from healthscore.data.schema import TABLES
from healthscore.sim.simulate import SimulationSpec, simulate
from healthscore.data.validate import validate_tables


def _multi_year(subs: pd.DataFrame) -> pd.DataFrame:
    """Every 5th annual account signs two-year contracts: consecutive pairs merged."""
    subs = subs.sort_values(["account_id", "start_date"]).reset_index(drop=True)
    term = (subs["end_date"] - subs["start_date"]).dt.days
    annual = subs.loc[term > 300, "account_id"].unique()
    chosen = set(annual[::5])
    rows = []
    for account, group in subs.groupby("account_id", sort=False):
        group = group.reset_index(drop=True)
        if account not in chosen:
            rows.append(group)
            continue
        pairs = []
        for i in range(0, len(group), 2):
            first = group.iloc[i].copy()
            if i + 1 < len(group):
                first["end_date"] = group.iloc[i + 1]["end_date"]
            pairs.append(first)
        rows.append(pd.DataFrame(pairs))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def book():
    spec = SimulationSpec(n_accounts=500, months=30, seed=7)
    frames = simulate(spec)
    frames["subscriptions"] = _multi_year(frames["subscriptions"])
    contract = {k: v for k, v in frames.items() if k in TABLES}
    tables, _ = validate_tables(contract, observed_until=pd.Timestamp(str(spec.end)))
    term = (tables.subscriptions["end_date"] - tables.subscriptions["start_date"]).dt.days
    assert (term < 40).any() and ((term > 300) & (term < 400)).any() and (term > 700).any()
    return tables


PARAMS = {
    "horizon": {"timeline": {"mode": "horizon", "horizon_days": 365}},
    "renewal": {"timeline": {"mode": "renewal", "lead_time_days": 20}},
    "horizon, 90-day lead": {"timeline": {"mode": "horizon", "horizon_days": 90, "lead_time_days": 60}},
}


@pytest.mark.parametrize("mode", list(PARAMS))
def test_rows_with_cutoff_up_to_T_survive_a_rebuild_from_the_data_known_at_T(book, mode):
    params = make_params({**PARAMS[mode], "features": {"windows": [30, 90]}})
    full = build_dataset(book, params)
    T = full["cutoff_time"].sort_values().iloc[len(full) // 2]
    then = build_dataset(as_known_at(book, T), params)
    old = full.loc[full["cutoff_time"] <= T].reset_index(drop=True)
    key = ["account_id", "cutoff_time"]
    assert len(old) > 300
    assert then[key].equals(old[key]), "rows with cutoff <= T appeared or disappeared"
    terms = old["term_days"]
    assert (terms < 40).sum() > 20 and (terms > 300).sum() > 20  # both kinds are tested
    if mode != "renewal":
        assert (terms > 700).sum() > 5
    for column in ["renewal_date", "term_days"]:
        pd.testing.assert_series_equal(then[column], old[column], check_names=False)
    features = [c for c in old.columns if "__" in c and c in then.columns]
    assert len(features) > 50
    for column in features:
        a, b = old[column], then[column]
        if isinstance(a.dtype, pd.CategoricalDtype) or a.dtype == object:
            assert a.astype(object).where(a.notna()).equals(b.astype(object).where(b.notna())), column
        else:
            np.testing.assert_array_equal(a.to_numpy(float), b.to_numpy(float), err_msg=column)
    # a label known at T is the label known later; otherwise it is censored then
    known = then["label"].notna()
    assert known.any() and (~known).any()
    assert (then.loc[known, "label"].to_numpy() == old.loc[known, "label"].to_numpy()).all()


def test_censoring_is_symmetric_so_the_latest_labels_are_not_biased(book):
    """The churn rate of the latest labelled cutoffs is that of a full rebuild's at the
    same cutoffs: a window past the data's end is censored whatever it shows."""
    params = make_params({"timeline": {"mode": "horizon", "horizon_days": 90}})
    full = build_dataset(book, params)
    T = full["cutoff_time"].max() - pd.DateOffset(months=6)
    then = build_dataset(as_known_at(book, T), params)
    last = then.loc[then["label"].notna(), "cutoff_time"].max()
    # the last labelled cutoff's window ends (with grace) before T
    assert last + pd.Timedelta(days=90 + 30) <= T
    at_last = then.loc[then["cutoff_time"] == last, ["account_id", "label"]]
    later = full.loc[full["cutoff_time"] == last, ["account_id", "label"]]
    assert at_last["label"].to_numpy().tolist() == later["label"].to_numpy().tolist()
    assert 0 < at_last["label"].mean() < 0.5
    # rows past it are censored, losses included
    after = then.loc[then["cutoff_time"] > last]
    assert after["label"].isna().all()
    assert full.loc[full["cutoff_time"].isin(after["cutoff_time"]), "label"].eq(1).any()
