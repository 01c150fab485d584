"""Readers: Parquet, CSV and DuckDB give identical canonical frames; mapping; sidecars."""

import json

import duckdb
import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.errors import DataError, ProvenanceError, SchemaError
from healthscore.io.datasets import fingerprint_tables, make_meta, read_dataset, write_dataset
from healthscore.io.files import atomic_path
from healthscore.io.sources import read_source


def contract_frames():
    accounts = pd.DataFrame({
        "account_id": [1, 2, 3],
        "name": ["Acme", "Globex", "Initech"],
        "segment": ["SMB", "Enterprise", "SMB"],
        "created_at": ["2023-01-05", "2023-02-01", "2023-03-10"],
        "seats": [10, 200, 5],
    })
    subscriptions = pd.DataFrame({
        "account_id": [1, 1, 2, 3],
        "start_date": ["2023-01-05", "2024-01-05", "2023-02-01", "2023-03-10"],
        "end_date": ["2024-01-05", "2025-01-05", "2024-02-01", "2024-03-10"],
        "mrr": [100.0, 120.0, 5000.0, 50.0],
    })
    events = pd.DataFrame({
        "account_id": [1, 1, 2, 3, 3],
        "user_id": [10, 11, 20, 30, 30],
        "timestamp": ["2023-06-01 10:00:00", "2023-06-02 11:30:00", "2023-07-01 09:00:00",
                      "2023-08-01 08:00:00", "2023-08-01 08:00:01"],
        "event": ["login", "export", "login", "login", "login"],
        "quantity": [1.0, 3.0, 1.0, 2.0, 1.0],
    })
    return {"accounts": accounts, "subscriptions": subscriptions, "events": events}


def write_source(frames, folder, fmt):
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "duckdb":
        path = folder / "source.duckdb"
        con = duckdb.connect(str(path))
        for name, frame in frames.items():
            typed = frame.copy()
            for column in typed:
                if column in ("created_at", "start_date", "end_date", "timestamp", "opened_at"):
                    typed[column] = pd.to_datetime(typed[column])
            con.register("tmp_frame", typed)
            con.execute(f"create table {name} as select * from tmp_frame")
            con.unregister("tmp_frame")
        con.close()
        return path
    for name, frame in frames.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            typed = frame.copy()
            for column in typed:
                if column in ("created_at", "start_date", "end_date", "timestamp"):
                    typed[column] = pd.to_datetime(typed[column])
            typed.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def test_parquet_csv_and_duckdb_give_identical_frames(tmp_path):
    params = make_params({})
    read = {}
    for fmt in ("parquet", "csv", "duckdb"):
        source = write_source(contract_frames(), tmp_path / fmt, fmt)
        tables, _ = read_source(params.data, source=source)
        read[fmt] = tables
    for name in ("accounts", "subscriptions", "events"):
        for fmt in ("csv", "duckdb"):
            pd.testing.assert_frame_equal(read["parquet"][name], read[fmt][name], check_like=False)
    # the latest dated row is the renewal starting 2024-01-05
    assert read["parquet"].observed_until == pd.Timestamp("2024-01-06")
    assert fingerprint_tables(read["parquet"]) == fingerprint_tables(read["csv"])


def test_canonical_types_and_derived_ids(tmp_path):
    tables, _ = read_source(make_params({}).data, source=write_source(contract_frames(), tmp_path, "csv"))
    subs = tables["subscriptions"]
    assert str(subs["start_date"].dtype) == "datetime64[us]"
    assert subs["subscription_id"].tolist() == ["1-1", "1-2", "2-1", "3-1"]
    assert tables["events"]["account_id"].dtype == tables["accounts"]["account_id"].dtype


def test_column_and_table_mapping(tmp_path):
    frames = contract_frames()
    frames["customers"] = frames.pop("accounts").rename(columns={"account_id": "id", "segment": "tier"})
    frames["events"] = frames["events"].rename(columns={"timestamp": "ts"})
    source = write_source(frames, tmp_path, "parquet")
    params = make_params({"data": {"tables": {"accounts": "customers"},
                                   "columns": {"accounts": {"account_id": "id", "segment": "tier"},
                                               "events": {"timestamp": "ts"}}}})
    tables, _ = read_source(params.data, source=source)
    assert tables["accounts"]["segment"].tolist() == ["SMB", "Enterprise", "SMB"]
    assert len(tables["events"]) == 5


def test_lookup_turns_codes_into_names(tmp_path):
    frames = contract_frames()
    frames["events"]["event"] = [1, 2, 1, 1, 9]
    frames["event_type"] = pd.DataFrame({"event_type_id": [1, 2], "event_type_name": ["login", "export"]})
    source = write_source(frames, tmp_path, "parquet")
    params = make_params({"data": {"lookups": {"events": {"event": {
        "table": "event_type", "key": "event_type_id", "value": "event_type_name"}}}}})
    tables, _ = read_source(params.data, source=source)
    assert tables["events"]["event"].tolist() == ["login", "export", "login", "login", "9"]


def test_mapping_to_a_missing_column_names_it(tmp_path):
    source = write_source(contract_frames(), tmp_path, "parquet")
    params = make_params({"data": {"columns": {"accounts": {"segment": "tier"}}}})
    with pytest.raises(SchemaError, match="'tier'.*accounts"):
        read_source(params.data, source=source)


def test_missing_required_table_lists_what_is_there(tmp_path):
    frames = contract_frames()
    frames.pop("subscriptions")
    with pytest.raises(SchemaError, match="required table 'subscriptions' is missing.*accounts, events"):
        read_source(make_params({}).data, source=write_source(frames, tmp_path, "parquet"))


def test_source_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_source(make_params({}).data, source=tmp_path / "nowhere")


def test_atomic_path_leaves_target_untouched_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_dataset_round_trip_and_sidecar_checks(tmp_path):
    frame = pd.DataFrame({
        "account_id": [1, 2], "cutoff_time": pd.to_datetime(["2024-01-01", "2024-02-01"]).astype("datetime64[us]"),
        "label": pd.array([1, pd.NA], dtype="Int8"),
        "events__count__30d": [3.0, 0.0],
        "accounts__segment": pd.Categorical(["SMB", "Enterprise"]),
    })
    path = write_dataset(frame, tmp_path / "train.parquet", meta=make_meta(data_fingerprint="abc"))
    back, meta = read_dataset(path)
    pd.testing.assert_frame_equal(back, frame)
    assert meta["feature_names"] == ["events__count__30d", "accounts__segment"]
    assert meta["data_fingerprint"] == "abc"

    sidecar = tmp_path / "train.parquet.meta.json"
    tampered = json.loads(sidecar.read_text())
    tampered["rows"] = 3
    sidecar.write_text(json.dumps(tampered))
    with pytest.raises(ProvenanceError, match="sidecar says 3"):
        read_dataset(path)
    sidecar.unlink()
    with pytest.raises(ProvenanceError, match="no sidecar"):
        read_dataset(path)
