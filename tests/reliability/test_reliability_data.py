"""Reliability of the data path (issue 12: data that cannot poison other accounts,
time you can trust, database files that are not what they claim).

A small simulated source (300 accounts, 18 months) is damaged one way at a time, in
the rows of one account (the victim): every other account's training rows (keys,
labels and features) must stay exactly what the clean source gives, the problem must
be named (table, column, an example row), and no outcome may be read from a dropped
row. Sources that cannot be read safely stop with a named error, the CLI exits 2
without a traceback, and an earlier output is left as it was.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import healthscore
from healthscore import cli
from healthscore.config import make_params
from healthscore.errors import ConfigError, DataError, ValidationError
from healthscore.io.mapping import map_tables
from healthscore.io.sources import read_source
from healthscore.dataset.pipeline import build_dataset
from healthscore.sim.run import simulate
from healthscore.sim.spec import SimulationSpec
from healthscore.data.validate import validate_tables

# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def sim_frames() -> dict[str, pd.DataFrame]:
    """The raw tables of a small simulated source (built once; copy before damaging)."""
    return simulate(SimulationSpec(n_accounts=300, months=18, seed=1))


@pytest.fixture(scope="session")
def victim(sim_frames) -> int:
    """An account with rows in every table and at least one renewal."""
    subs = sim_frames["subscriptions"]
    renewed = subs.groupby("account_id").size()
    candidates = set(renewed[renewed >= 3].index)
    for name in ("events", "tickets", "invoices", "surveys", "signals"):
        candidates &= set(sim_frames[name]["account_id"])
    rated = sim_frames["tickets"].dropna(subset=["csat"])["account_id"]
    return int(min(candidates & set(rated)))


@pytest.fixture(scope="session")
def clean(sim_frames):
    tables, report, dataset = build(sim_frames)
    assert [p for p in report.problems if p.action != "ignored"] == []
    return tables, dataset


def build(frames, **data):
    params = make_params({"data": data} if data else None)
    mapped, extras = map_tables(frames, params.data)
    tables, report = validate_tables(mapped, extras=extras, observed_until=None,
                                     on_invalid_rows=params.data.on_invalid_rows)
    return tables, report, build_dataset(tables, params)


def copy_of(frames) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in frames.items()}


def rows_of(frame: pd.DataFrame, account: int) -> np.ndarray:
    return np.flatnonzero(frame["account_id"].to_numpy() == account)


def others(dataset: pd.DataFrame, account: int) -> pd.DataFrame:
    return dataset.loc[dataset["account_id"] != account].reset_index(drop=True)


# ---------------------------------------------------------------- the invariant


def set_cell(table, column, value, *, nth=0, rated=False):
    """Damage: one cell of the victim's ``nth`` row of ``table``."""
    def damage(frames, account):
        frame = frames[table]
        rows = rows_of(frame, account)
        if rated:
            rows = rows[frame[column].notna().to_numpy()[rows]]
        if frame[column].dtype.kind in "Mi" and isinstance(value, str):
            frames[table] = frame = frame.astype({column: object})
        frame.iloc[rows[nth], frame.columns.get_loc(column)] = value
    return damage


def set_all(table, column, value):
    """Damage: one column of every row of the victim in ``table``."""
    def damage(frames, account):
        frame = frames[table]
        if isinstance(value, str):
            frames[table] = frame = frame.astype({column: object})
        frame.loc[frame["account_id"] == account, column] = value
    return damage


def duplicate(table):
    """Damage: every row of the victim in ``table`` written twice."""
    def damage(frames, account):
        frame = frames[table]
        frames[table] = pd.concat([frame, frame.iloc[rows_of(frame, account)]], ignore_index=True)
    return damage


def second_subscription(**cells):
    """Damage: cells of the victim's second subscription (a renewal)."""
    def damage(frames, account):
        frame = frames["subscriptions"].astype({c: object for c, v in cells.items() if isinstance(v, str)})
        rows = rows_of(frame, account)
        order = np.argsort(frame["start_date"].to_numpy()[rows], kind="stable")
        for column, value in cells.items():
            frame.iloc[rows[order[1]], frame.columns.get_loc(column)] = value
        frames["subscriptions"] = frame
    return damage


# (damage, the table and column the report must name, whether the victim's outcomes
# must be censored)
DAMAGES = {
    "csat inf": (set_cell("tickets", "csat", np.inf, rated=True), "tickets", "csat", False),
    "csat -inf": (set_cell("tickets", "csat", -np.inf, rated=True), "tickets", "csat", False),
    "csat outside its scale": (set_cell("tickets", "csat", 500.0, rated=True), "tickets", "csat", False),
    "quantity inf": (set_cell("events", "quantity", np.inf), "events", "quantity", False),
    "quantity 1e308 everywhere": (set_all("events", "quantity", 1e308), "events", "quantity", False),
    "quantity nan": (set_cell("events", "quantity", np.nan), None, None, False),
    "signal value -1e300": (set_cell("signals", "value", -1e300), "signals", "value", False),
    "invoice amount inf": (set_cell("invoices", "amount", np.inf), "invoices", "amount", False),
    "survey score 1e20": (set_cell("surveys", "score", 1e20), "surveys", "score", False),
    "seats inf": (set_cell("accounts", "seats", np.inf), "accounts", "seats", False),
    "mrr 1e308": (set_cell("subscriptions", "mrr", 1e308), "subscriptions", "mrr", True),
    "events duplicated": (duplicate("events"), None, None, False),
    "tickets duplicated": (duplicate("tickets"), "tickets", "ticket_id", False),
    "subscriptions duplicated": (duplicate("subscriptions"), "subscriptions", "subscription_id", False),
    "event timestamps unparsable": (set_all("events", "timestamp", "not a date"), "events", "timestamp", False),
    "ticket closed_at unparsable": (set_cell("tickets", "closed_at", "31/02/2024"), "tickets", "closed_at", False),
    "renewal start unparsable": (second_subscription(start_date="garbage"), "subscriptions", "start_date", True),
    "renewal end missing": (second_subscription(end_date=None), "subscriptions", "end_date", True),
    "account created_at unparsable": (set_cell("accounts", "created_at", "yesterday"), "accounts", "created_at", False),
    "account created in 2099": (set_cell("accounts", "created_at", pd.Timestamp("2099-01-01")), "accounts", "created_at", False),
    "an event in 2099": (set_cell("events", "timestamp", pd.Timestamp("2099-01-01")), "events", "timestamp", False),
    "a renewal in 2099": (second_subscription(start_date=pd.Timestamp("2099-01-01"),
                                              end_date=pd.Timestamp("2100-01-01")), "subscriptions", "start_date", True),
}


@pytest.mark.parametrize("case", list(DAMAGES))
def test_damaging_one_account_never_changes_another_accounts_rows(case, sim_frames, victim, clean):
    damage, table, column, censored = DAMAGES[case]
    clean_tables, clean_rows = clean
    frames = copy_of(sim_frames)
    damage(frames, victim)
    tables, report, rows = build(frames)

    assert tables.observed_until == clean_tables.observed_until
    pd.testing.assert_frame_equal(others(rows, victim), others(clean_rows, victim))
    if table is not None:
        named = [p for p in report.problems if (p.table, p.column) == (table, column)]
        assert named, report.problems
        assert named[0].example["account_id"] == victim
        assert named[0].action in ("dropped", "blanked")
    mine = rows.loc[rows["account_id"] == victim]
    assert len(mine)  # the victim keeps its rows
    if censored:
        assert victim in tables.incomplete_accounts
        assert mine["label"].isna().all() and mine["lost_at"].isna().all()
    else:
        assert victim not in tables.incomplete_accounts
    numeric = mine.select_dtypes("number").to_numpy(dtype=np.float64)
    assert not np.isinf(numeric).any()


@pytest.mark.parametrize("case", ["csat inf", "quantity inf", "renewal start unparsable", "an event in 2099"])
def test_strict_policy_stops_on_the_same_damage(case, sim_frames, victim):
    damage, table, column, _ = DAMAGES[case]
    frames = copy_of(sim_frames)
    damage(frames, victim)
    with pytest.raises(ValidationError) as err:
        build(frames, on_invalid_rows="error")
    problem = err.value.problems[0]
    assert (problem.table, problem.column, problem.action) == (table, column, "stop")
    assert problem.example["account_id"] == victim


# ------------------------------------------------------------------ tiny tables


def tiny(subs, *, observed_until="2022-06-01"):
    frames = {"accounts": pd.DataFrame({"account_id": [1, 2]}),
              "subscriptions": pd.DataFrame(subs, columns=["account_id", "start_date", "end_date"])}
    return validate_tables(frames, observed_until=pd.Timestamp(observed_until))


def test_a_dropped_renewal_censors_its_account_never_a_churn():
    from healthscore.config import LabelParams, TimelineParams
    from healthscore.dataset.labels import make_label_times

    tables, report = tiny([(1, "2020-01-01", "2021-01-01"), (1, "garbage", "2022-01-01"),
                           (2, "2020-01-01", "2021-01-01")])
    assert report.damaged_accounts["subscriptions"] == {1}
    for timeline in (TimelineParams(mode="renewal", lead_time_days=30),
                     TimelineParams(mode="horizon", horizon_days=90, start="2020-06-01")):
        rows = make_label_times(tables, timeline, LabelParams(grace_days=30))
        assert rows.loc[rows["account_id"] == 1, "label"].isna().all()
        assert rows.loc[rows["account_id"] == 1, "lost_at"].isna().all()
        assert (rows.loc[rows["account_id"] == 2, "label"] == 1).any()  # a real churn stays


def test_a_table_that_loses_most_rows_stops_and_says_how_to_fix_it():
    frames = {"accounts": pd.DataFrame({"account_id": [1, 2]}),
              "subscriptions": pd.DataFrame({"account_id": [1, 2], "start_date": ["2024-01-01"] * 2,
                                             "end_date": ["2025-01-01"] * 2}),
              "events": pd.DataFrame({"account_id": [1, 1, 2], "event": ["login"] * 3,
                                      "timestamp": ["13/01/2024", "14/01/2024", "2024-01-15"]})}
    with pytest.raises(ValidationError) as err:
        validate_tables(frames)
    text = str(err.value)
    assert "events.timestamp: 2 row(s) have an unparsable timestamp" in text
    assert "2 of its 3 rows (67%)" in text and "'13/01/2024'" in text
    assert "ISO 8601" in text and "data.columns.events.timestamp" in text


def test_ids_that_match_no_account_stop_when_most_rows_would_go():
    frames = {"accounts": pd.DataFrame({"account_id": [1, 2]}),
              "subscriptions": pd.DataFrame({"account_id": ["A-1", "A-2", 1], "start_date": ["2024-01-01"] * 3,
                                             "end_date": ["2025-01-01"] * 3})}
    with pytest.raises(ValidationError, match=r"subscriptions.account_id: 2 row\(s\) have an account_id "
                                              r"that matches no account.*'A-1'.*data.columns.subscriptions"):
        validate_tables(frames)


def test_a_column_that_loses_most_values_stops():
    frames = {"accounts": pd.DataFrame({"account_id": [1, 2], "seats": [np.inf, np.inf]}),
              "subscriptions": pd.DataFrame({"account_id": [1, 2], "start_date": ["2024-01-01"] * 2,
                                             "end_date": ["2025-01-01"] * 2})}
    with pytest.raises(ValidationError, match=r"accounts.seats: 2 row\(s\) are infinite.*2 of the column's 2 values"):
        validate_tables(frames)


def test_observed_until_before_the_data_or_unparsable_is_a_config_error(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    pd.DataFrame({"account_id": [1]}).to_csv(folder / "accounts.csv", index=False)
    pd.DataFrame({"account_id": [1], "start_date": ["2024-01-01"], "end_date": ["2025-01-01"]}).to_csv(
        folder / "subscriptions.csv", index=False)
    for value, match in [("2023-06-01", "2023-06-01 is at or before the start of the data.*2024-01-01"),
                         ("not a date", "expected an ISO date.*'not a date'"),
                         ("", "expected an ISO date")]:
        with pytest.raises(ConfigError, match="data.observed_until: " + match):
            # an unparsable date stops at load (config), one before the data at read
            read_source(make_params({"data": {"source": str(folder), "observed_until": value}}).data)


# -------------------------------------------------------------------- the CLI


@pytest.fixture(scope="session")
def sim_folder(sim_frames, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    for name, frame in sim_frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def damaged_folder(sim_folder, tmp_path, table, change) -> Path:
    folder = tmp_path / "damaged"
    folder.mkdir()
    for file in sim_folder.glob("*.parquet"):
        frame = pd.read_parquet(file)
        if file.stem == table:
            frame = change(frame)
        frame.to_parquet(folder / file.name, index=False)
    return folder


def run_cli(*args, cwd, env=None) -> subprocess.CompletedProcess:
    """``healthscore ARGS`` in a child process, importing the package under test."""
    here = str(Path(healthscore.__file__).resolve().parents[1])
    path = os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "healthscore.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": path, **(env or {})})


def first_inf(frame, column):
    frame = frame.copy()
    frame.loc[frame[column].first_valid_index(), column] = np.inf
    return frame


def test_cli_validate_names_an_inf_csat_and_stops_on_it_when_strict(sim_folder, tmp_path):
    folder = damaged_folder(sim_folder, tmp_path, "tickets", lambda f: first_inf(f, "csat"))
    done = run_cli("validate", "--data", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "problems: none" not in done.stdout
    assert "tickets.csat: 1 row(s) are infinite" in done.stdout and "csat=inf" in done.stdout
    strict = run_cli("--set", "data.on_invalid_rows=error", "validate", "--data", str(folder), cwd=tmp_path)
    assert strict.returncode == 2 and "Traceback" not in strict.stderr
    assert "tickets.csat: 1 row(s) are infinite" in strict.stdout and "stop the run" in strict.stdout


def test_cli_validate_keeps_the_end_of_the_data_when_one_row_is_dated_2099(sim_folder, tmp_path):
    def future(frame):
        frame = frame.copy()
        frame.loc[0, "timestamp"] = pd.Timestamp("2099-01-01")
        return frame

    folder = damaged_folder(sim_folder, tmp_path, "events", future)
    done = run_cli("validate", "--data", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "data observed until: 2024-07-01" in done.stdout
    assert "events.timestamp: 1 row(s) are dated far after the rest of the data" in done.stdout
    assert "2099-01-01" in done.stdout


def test_cli_build_dataset_refuses_dd_mm_dates_and_keeps_the_earlier_output(sim_folder, tmp_path, capsys):
    out = tmp_path / "dataset.parquet"
    assert cli.main(["build-dataset", "--data", str(sim_folder), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("dataset.parquet*")}
    capsys.readouterr()

    def day_first(frame):
        return frame.assign(timestamp=frame["timestamp"].dt.strftime("%d/%m/%Y %H:%M"))

    folder = damaged_folder(sim_folder, tmp_path, "events", day_first)
    done = run_cli("build-dataset", "--data", str(folder), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("healthscore build-dataset: error: events.timestamp:")
    assert "(100%)" in message and "ISO 8601" in message and "day/month" in message
    assert {p.name: p.read_bytes() for p in tmp_path.glob("dataset.parquet*")} == before


@pytest.mark.parametrize("value, match", [("2099-01-01", "far after the end of the data"),
                                          ("2000-01-01", "at or before the start of the data"),
                                          ("31/12/2024", "expected an ISO date")])
def test_cli_validate_refuses_an_observed_until_outside_the_data(sim_folder, tmp_path, capsys, value, match):
    status = cli.main(["--set", f"data.observed_until={value}", "validate", "--data", str(sim_folder)])
    err = capsys.readouterr().err
    assert status == 2
    assert "data.observed_until:" in err and match in err and value in err


# ------------------------------------------------------------ database files


def test_an_invalid_duckdb_file_is_a_named_error(tmp_path):
    path = tmp_path / "source.duckdb"
    path.write_bytes(b"this is not a database" * 10)
    params = make_params({"data": {"source": str(path)}})
    with pytest.raises(DataError, match=r"source.duckdb is not a DuckDB database \(its first bytes are b'this is.*expected b'DUCK'"):
        read_source(params.data)
    path.write_bytes(b"")
    with pytest.raises(DataError, match="is an empty file, not a DuckDB database"):
        read_source(params.data)


def test_an_sqlite_file_is_a_named_error_and_loads_no_extension(tmp_path):
    path = tmp_path / "source.db"
    con = sqlite3.connect(path)
    con.execute("create table accounts (account_id integer)")
    con.commit()
    con.close()
    home = tmp_path / "home"
    home.mkdir()
    done = run_cli("validate", "--data", str(path), cwd=tmp_path, env={"HOME": str(home)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is an SQLite database, not a DuckDB database" in done.stderr
    assert not (home / ".duckdb").exists()  # nothing installed or downloaded


def test_a_duckdb_view_over_another_file_is_refused(tmp_path):
    import duckdb

    outside = tmp_path / "outside.csv"
    outside.write_text("account_id\n1\n")
    path = tmp_path / "source.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"create view accounts as select * from read_csv('{outside}')")
    con.close()
    params = make_params({"data": {"source": str(path)}})
    with pytest.raises(DataError, match="cannot read table accounts of DuckDB database"):
        read_source(params.data)
