"""The account simulator: contract, integrity, determinism, realism, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.errors import ConfigError
from healthscore.data.schema import TABLES
from healthscore.sim.simulate import (
    CAUSES,
    CONTRACT_TABLES,
    FAMILIES,
    SimulationSpec,
    simulate,
    write_simulation,
)

SPEC = SimulationSpec(n_accounts=600, months=24, seed=3)
START, END = pd.Timestamp(SPEC.start), pd.Timestamp(SPEC.end)
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def sim():
    return simulate(SPEC, return_hidden=True)


@pytest.fixture(scope="module")
def decisions(sim):
    """Ground-truth renewals decided inside the window, with what preceded them."""
    gt = sim["ground_truth"]
    gt = gt[gt["decision_date"] >= START + 90 * DAY].reset_index(drop=True)
    seats = gt["account_id"].map(sim["accounts"].set_index("account_id")["seats"])
    out = pd.DataFrame({"churned": gt["churned"], "cause": gt["primary_cause"]})

    def before(table, column, days):
        keys = gt[["account_id", "decision_date"]].reset_index()
        rows = keys.merge(sim[table], on="account_id")
        at = rows[column]
        inside = (at < rows["decision_date"]) & (at >= rows["decision_date"] - days * DAY)
        return rows[inside]

    events = before("events", "timestamp", 90)
    per = events.groupby("index")
    out["events_per_seat"] = per.size().reindex(gt.index, fill_value=0) / seats
    out["user_share"] = per["user_id"].nunique().reindex(gt.index, fill_value=0) / seats
    tickets = before("tickets", "opened_at", 90)
    high = tickets[tickets["priority"].isin(["high", "urgent"])]
    out["high_tickets"] = high.groupby("index").size().reindex(gt.index, fill_value=0)
    invoices = before("invoices", "issued_at", 180)
    late = invoices["paid_at"].isna() | (invoices["paid_at"] > invoices["due_at"])
    out["late_invoices"] = late.groupby(invoices["index"]).sum().reindex(gt.index, fill_value=0)
    surveys = before("surveys", "responded_at", 180)
    out["nps"] = surveys.groupby("index")["score"].mean().reindex(gt.index)
    emails = before("emails", "sent_at", 90)
    clicked = emails["clicked_at"].notna().groupby(emails["index"]).mean()
    out["click_rate"] = clicked.reindex(gt.index)
    signals = before("signals", "timestamp", 180)
    down = (signals["signal"] == "downgrade_request").groupby(signals["index"]).sum()
    out["downgrades"] = down.reindex(gt.index, fill_value=0)
    # Active users against the seats paid for in the month before the decision.
    hidden = sim["hidden"].assign(month=sim["hidden"]["month"].dt.to_period("M"))
    month = (gt["decision_date"].dt.to_period("M") - 1).rename("month")
    paid = pd.concat([gt["account_id"], month], axis=1).merge(
        hidden, on=["account_id", "month"], how="left")
    out["paid_seat_share"] = (paid["active_users"] / paid["seats"]).to_numpy()
    return out


# ------------------------------------------------------------------- contract


def test_every_contract_table_has_the_schema_columns_and_dtypes(sim):
    for name in CONTRACT_TABLES:
        frame, spec = sim[name], TABLES[name]
        assert set(spec.required) <= set(frame.columns) <= set(spec.columns), name
        assert frame["account_id"].dtype == np.int64, name
        for column in spec.timestamps:
            if column in frame:
                assert frame[column].dtype == "datetime64[us]", (name, column)
        for column in spec.numeric:
            if column in frame:
                assert frame[column].dtype == np.float64, (name, column)
        assert len(frame) > 0, name
    for column in ("subscription_id",):
        assert sim["subscriptions"][column].is_unique
    assert sim["tickets"]["ticket_id"].is_unique
    assert sim["invoices"]["invoice_id"].is_unique
    assert set(sim["accounts"]["segment"]) == {"SMB", "Mid-Market", "Enterprise"}
    assert set(sim["tickets"]["priority"]) == {"low", "normal", "high", "urgent"}
    assert set(sim["surveys"]["kind"]) == {"nps"}
    assert sim["surveys"]["score"].between(0, 10).all()
    assert sim["tickets"]["csat"].dropna().between(1, 5).all()
    assert sim["accounts"]["name"].is_unique


def test_ground_truth_columns_and_cause_names(sim):
    gt = sim["ground_truth"]
    for column in ("account_id", "subscription_id", "renewal_date", "decision_date",
                   "churn_proba", "churned", "primary_cause", "cause_family", "segment"):
        assert column in gt
    assert gt["renewal_date"].dtype == "datetime64[us]"
    assert gt["churned"].dtype == bool
    assert set(gt["primary_cause"].dropna()) <= {c.name for c in CAUSES}
    assert set(gt["cause_family"].dropna()) <= set(FAMILIES)
    assert (gt["primary_cause"].isna() == gt["cause_family"].isna()).all()
    assert (gt["decision_date"] == gt["renewal_date"] - SPEC.notice_days * DAY).all()
    assert gt["renewal_date"].between(START, END, inclusive="left").all()


# ------------------------------------------------------------------ integrity


def test_every_row_belongs_to_a_known_account_and_lies_in_the_window(sim):
    ids = set(sim["accounts"]["account_id"])
    for name in CONTRACT_TABLES[1:] + ("ground_truth",):
        assert set(sim[name]["account_id"]) <= ids, name
    for name in CONTRACT_TABLES[2:]:
        at = sim[name][TABLES[name].event_time]
        assert at.between(START, END, inclusive="left").all(), name
        for column in TABLES[name].timestamps:
            assert (sim[name][column].dropna() < END).all() or column == "due_at", name


def test_intervals_are_ordered(sim):
    t, i, e = sim["tickets"], sim["invoices"], sim["emails"]
    assert (t["closed_at"].dropna() >= t.loc[t["closed_at"].notna(), "opened_at"]).all()
    terms = (i["due_at"] - i["issued_at"]) / DAY
    assert set(terms) == {1, 30}  # card (charged on issue, due next day) or net 30
    assert (terms.groupby(i["account_id"]).nunique() == 1).all()
    paid = i["paid_at"].notna()
    assert (i.loc[paid, "paid_at"] >= i.loc[paid, "issued_at"]).all()
    assert (e["opened_at"].dropna() >= e.loc[e["opened_at"].notna(), "sent_at"]).all()
    clicked = e["clicked_at"].notna()
    assert (e.loc[clicked, "clicked_at"] >= e.loc[clicked, "opened_at"]).all()


def test_renewals_start_at_the_predecessor_end(sim):
    subs = sim["subscriptions"].sort_values(["account_id", "start_date"])
    assert (subs["end_date"] > subs["start_date"]).all()
    same = subs["account_id"].eq(subs["account_id"].shift())
    assert (subs["start_date"][same] == subs["end_date"].shift()[same]).all()
    assert (subs["start_date"] < END).all()
    created = subs["account_id"].map(sim["accounts"].set_index("account_id")["created_at"])
    assert (subs["start_date"] >= created).all()


def test_outcomes_match_the_subscriptions_and_churned_accounts_go_quiet(sim):
    gt, subs = sim["ground_truth"], sim["subscriptions"]
    assert set(gt["subscription_id"]) <= set(subs["subscription_id"])
    starts = set(zip(subs["account_id"], subs["start_date"]))
    successor = [(a, r) in starts for a, r in zip(gt["account_id"], gt["renewal_date"])]
    assert (np.array(successor) == ~gt["churned"].to_numpy()).all()
    lost = gt[gt["churned"]].set_index("account_id")["renewal_date"]
    for name, column in (("events", "timestamp"), ("tickets", "opened_at"),
                         ("emails", "sent_at"), ("invoices", "issued_at")):
        frame = sim[name]
        ended = frame["account_id"].map(lost)
        assert not (frame[column] >= ended).any(), name


def test_installed_base_renews_in_every_month_and_new_accounts_arrive(sim):
    gt = sim["ground_truth"]
    annual = gt[gt["term_months"] == 12]
    assert annual["renewal_date"].dt.month.nunique() == 12
    created = sim["accounts"]["created_at"]
    assert (created < START).mean() > 0.6
    assert created[created >= START].dt.to_period("M").nunique() >= 20


# ---------------------------------------------------------------- determinism


def test_same_seed_same_bytes_different_seed_different_data(tmp_path):
    spec = SimulationSpec(n_accounts=250, months=12, seed=11, chunk_accounts=100)
    first = write_simulation(spec, tmp_path / "a")
    second = write_simulation(spec, tmp_path / "b")
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), name
    other = write_simulation(SimulationSpec(n_accounts=250, months=12, seed=12,
                                            chunk_accounts=100), tmp_path / "c")
    assert first["events"].read_bytes() != other["events"].read_bytes()
    assert not list((tmp_path / "a").glob(".simulate-*"))  # no temporary left behind


def test_written_files_equal_the_in_memory_frames_across_chunks(tmp_path):
    spec = SimulationSpec(n_accounts=250, months=12, seed=11, chunk_accounts=100)
    frames = simulate(spec)
    paths = write_simulation(spec, tmp_path)
    assert frames["accounts"]["account_id"].tolist() == list(range(1, 251))
    for name in CONTRACT_TABLES + ("ground_truth",):
        pd.testing.assert_frame_equal(pd.read_parquet(paths[name]), frames[name],
                                      check_dtype=True)
    assert "notice" in paths["readme"].read_text()


def test_csv_format_writes_csv_tables(tmp_path):
    paths = write_simulation(SimulationSpec(n_accounts=40, months=6, seed=1), tmp_path,
                             format="csv")
    accounts = pd.read_csv(paths["accounts"])
    assert paths["events"].suffix == ".csv" and len(accounts) == 40


# -------------------------------------------------------------------- realism


def test_annual_logo_churn_is_realistic_and_calibrated(sim):
    gt, hidden = sim["ground_truth"], sim["hidden"]
    annual = gt[gt["term_months"] == 12]
    assert 0.06 <= annual["churned"].mean() <= 0.25
    account_years = len(hidden) / 12
    assert 0.06 <= gt["churned"].sum() / account_years <= 0.25
    p = gt["churn_proba"]
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(p.mean() - gt["churned"].mean()) < 3 * se


def test_causes_dominate_churn_and_precede_the_notice_date(sim):
    churned = sim["ground_truth"][lambda g: g["churned"]]
    assert churned["primary_cause"].notna().mean() >= 0.7
    lag = churned["decision_date"] - churned["cause_at"]
    assert (lag.dropna() >= 28 * DAY).all()
    assert lag.dropna().median() <= 183 * DAY


def test_churn_scale_raises_churn():
    small = SimulationSpec(n_accounts=300, months=12, seed=5)
    base = simulate(small)["ground_truth"]["churn_proba"].mean()
    doubled = simulate(SimulationSpec(n_accounts=300, months=12, seed=5, churn_scale=2.0))
    assert doubled["ground_truth"]["churn_proba"].mean() > 1.3 * base  # odds x2


def test_churned_renewals_look_worse_before_the_decision(decisions):
    means = decisions.groupby("churned").mean(numeric_only=True)
    lost, kept = means.loc[True], means.loc[False]
    assert lost["events_per_seat"] < kept["events_per_seat"]
    assert lost["user_share"] < kept["user_share"]
    assert lost["high_tickets"] > kept["high_tickets"]
    assert lost["late_invoices"] > kept["late_invoices"]
    assert lost["nps"] < kept["nps"]
    assert lost["click_rate"] < kept["click_rate"]


def test_each_cause_leaves_traces_in_its_family(decisions):
    by = decisions.assign(cause=decisions["cause"].fillna("none")).groupby("cause").mean(
        numeric_only=True)
    none, overall = by.loc["none"], decisions.mean(numeric_only=True)
    assert by.loc["champion_left", "user_share"] < 0.8 * none["user_share"]
    assert by.loc["support_escalation", "high_tickets"] > 2 * none["high_tickets"]
    assert by.loc["bad_release", "high_tickets"] > 1.5 * none["high_tickets"]
    assert by.loc["payment_trouble", "late_invoices"] > 2 * none["late_invoices"]
    assert by.loc["competitor_evaluation", "nps"] < none["nps"] - 0.8
    assert by.loc["budget_cut", "downgrades"] > 10 * max(none["downgrades"], 0.01)
    # A budget cut is churn without unhappiness: usage of the seats still paid for and
    # NPS stay near normal (the seat share drops only through the contraction).
    assert by.loc["budget_cut", "paid_seat_share"] > 0.8 * overall["paid_seat_share"]
    assert by.loc["champion_left", "paid_seat_share"] < 0.7 * overall["paid_seat_share"]
    assert by.loc["budget_cut", "nps"] > by.loc["competitor_evaluation", "nps"] + 0.5


def test_signals_move_with_hidden_health(sim):
    hidden = sim["hidden"]
    month = sim["events"].assign(month=sim["events"]["timestamp"].dt.to_period("M"))
    counts = month.groupby(["account_id", "month"]).size().rename("events")
    h = hidden.assign(month=hidden["month"].dt.to_period("M")).join(
        counts, on=["account_id", "month"])
    seats = h["account_id"].map(sim["accounts"].set_index("account_id")["seats"])
    per_seat = h["events"].fillna(0) / seats
    assert np.corrcoef(h["health"], per_seat)[0, 1] > 0.1
    assert np.corrcoef(h["health"], h["active_users"] / seats)[0, 1] > 0.1


def test_event_volume_and_variety(sim):
    events = sim["events"]
    per_account_month = len(events) / len(sim["hidden"])
    assert 7 <= per_account_month <= 17  # about 12 at scale
    shares = events["event"].value_counts(normalize=True)
    assert 10 <= len(shares) <= 20
    assert shares.iloc[0] > 5 * shares.iloc[9]  # skewed popularity


# ------------------------------------------------------------------ spec, CLI


@pytest.mark.parametrize("field, value", [("start", "2023-01-15"), ("start", "soon"),
                                          ("months", 0), ("churn_scale", 0.0)])
def test_spec_rejects_bad_values_naming_them(field, value):
    with pytest.raises(ConfigError, match=field):
        SimulationSpec(**{field: value})


def test_cli_writes_the_files_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["simulate", "--accounts", "200", "--months", "12", "--seed", "1",
                 "--out", "tmp"])
    assert code == 0
    out = capsys.readouterr().out
    assert "tmp" in out
    for name in CONTRACT_TABLES + ("ground_truth",):
        assert (tmp_path / "tmp" / f"{name}.parquet").is_file()
    assert (tmp_path / "tmp" / "README.md").is_file()
    assert len(pd.read_parquet(tmp_path / "tmp" / "accounts.parquet")) == 200


def test_cli_reports_a_bad_start_as_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["simulate", "--accounts", "5", "--start", "2023-02-10", "--out", "x"])
    assert code == 2
    assert "first day of a month" in capsys.readouterr().err
