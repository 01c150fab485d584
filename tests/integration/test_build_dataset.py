"""`build_dataset` and `healthscore build-dataset` on a tiny source written to disk."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from healthscore import cli
from healthscore.config import make_params
from healthscore.errors import DataError, ProvenanceError
from healthscore.io.datasets import read_dataset, sidecar_path
from healthscore.io.sources import read_source
from healthscore.dataset.pipeline import build_dataset

T = pd.Timestamp


@pytest.fixture
def source(tmp_path):
    """Four yearly customers; data ends 2021-03-01, grace 30 days, lead 60 days.

    1 renews on time (0), 2 leaves (1), 3 renews 10 days late (0), 4's renewal on
    2021-02-15 is still inside its grace window at the end of the data (<NA>).
    """
    folder = tmp_path / "src"
    folder.mkdir()
    pd.DataFrame({"account_id": [1, 2, 3, 4], "name": list("ABCD"),
                  "segment": ["smb", "smb", "ent", "ent"],
                  "created_at": ["2019-12-01"] * 4}).to_csv(folder / "accounts.csv", index=False)
    pd.DataFrame({
        "account_id": [1, 1, 2, 3, 3, 4],
        "start_date": ["2020-01-01", "2021-01-01", "2020-01-01", "2020-01-01", "2021-01-11", "2020-02-15"],
        "end_date": ["2021-01-01", "2022-01-01", "2021-01-01", "2021-01-01", "2022-01-11", "2021-02-15"],
        "mrr": [100.0, 100.0, 50.0, 80.0, 80.0, 30.0],
    }).to_csv(folder / "subscriptions.csv", index=False)
    days = pd.date_range("2020-01-05", "2021-02-20", freq="7D")
    events = pd.DataFrame({
        "account_id": [a for a in (1, 2, 3, 4) for _ in days],
        "user_id": [10 * a for a in (1, 2, 3, 4) for _ in days],
        "timestamp": [d for _ in (1, 2, 3, 4) for d in days],
        "event": ["login"] * (4 * len(days)),
    })
    events.to_csv(folder / "events.csv", index=False)
    return folder


def params_for(source, **sections):
    raw = {"data": {"source": str(source), "observed_until": "2021-03-01"},
           "timeline": {"mode": "renewal", "lead_time_days": 60},
           "labels": {"grace_days": 30},
           "features": {"windows": [30, 90], "trend_windows": [30], "partition_accounts": 2}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return make_params(raw)


def write_params(tmp_path, source, **sections) -> str:
    import dataclasses

    import yaml

    path = tmp_path / "params.yaml"
    params = params_for(source, **sections)
    raw = {k: v for k, v in dataclasses.asdict(params).items()
           if k in ("data", "timeline", "labels", "features")}
    path.write_text(yaml.safe_dump(raw))
    return str(path)


# ---------------------------------------------------------------------- pipeline


def test_build_dataset_layout_labels_and_censoring(source):
    params = params_for(source)
    tables, _ = read_source(params.data)
    frame = build_dataset(tables, params)
    assert list(frame.columns[:6]) == ["account_id", "cutoff_time", "renewal_date", "label",
                                       "term_days", "lost_at"]
    features = list(frame.columns[6:])
    assert features and all("__" in c for c in features)
    assert not any("__" in c for c in frame.columns[:6])
    assert frame["label"].dtype == "Int8"
    assert frame["cutoff_time"].dtype == "datetime64[us]"
    labels = {(a, f"{r:%Y-%m-%d}"): (None if pd.isna(v) else int(v))
              for a, r, v in zip(frame["account_id"], frame["renewal_date"], frame["label"])}
    assert labels == {(1, "2021-01-01"): 0, (2, "2021-01-01"): 1, (3, "2021-01-01"): 0,
                      (4, "2021-02-15"): None}
    assert (frame["cutoff_time"] == frame["renewal_date"] - pd.Timedelta(days=60)).all()


def test_explicit_cutoffs_keep_labels_and_row_order(source):
    params = params_for(source)
    tables, _ = read_source(params.data)
    given = pd.DataFrame({"account_id": [3, 1, 2],
                          "cutoff_time": [T("2020-06-01"), T("2020-03-01"), T("2020-09-15")],
                          "label": pd.array([1, pd.NA, 0], dtype="Int8")})
    frame = build_dataset(tables, params, cutoffs=given)
    assert list(frame["account_id"]) == [3, 1, 2]
    assert list(frame["cutoff_time"]) == list(given["cutoff_time"])
    assert frame["label"].tolist() == [1, pd.NA, 0]
    assert frame["renewal_date"].isna().all()


def test_no_rows_is_a_clear_error(source):
    params = params_for(source, timeline={"start": "2030-01-01"})
    tables, _ = read_source(params.data)
    with pytest.raises(DataError, match="no training rows between timeline.start=2030-01-01"):
        build_dataset(tables, params)


# --------------------------------------------------------------------------- CLI


def test_cli_writes_dataset_and_sidecar_that_read_back(source, tmp_path, capsys):
    out = tmp_path / "out" / "train.parquet"
    params = write_params(tmp_path, "elsewhere")  # --data overrides data.source
    status = cli.main(["--params", params, "build-dataset", "--data", str(source), "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "4 rows" in printed
    assert "3 labelled (1 churned, 2 retained), 1 censored" in printed
    frame, meta = read_dataset(out)
    assert len(frame) == 4 and frame["label"].dtype == "Int8"
    assert (meta["rows"], meta["labelled"], meta["positives"], meta["censored"]) == (4, 3, 1, 1)
    assert meta["params"]["data"]["source"] == str(source)
    assert meta["params"]["labels"]["grace_days"] == 30
    assert meta["feature_names"] == [c for c in frame.columns if "__" in c]
    assert len(meta["data_fingerprint"]) == 16 and meta["package_version"] and meta["schema_version"]


def test_cli_with_a_cutoffs_file(source, tmp_path, capsys):
    cuts = tmp_path / "cuts.csv"
    cuts.write_text("account_id,cutoff_time,label\n2,2020-10-01,1\n1,2020-07-01,\n")
    out = tmp_path / "explicit.parquet"
    params = write_params(tmp_path, source)
    assert cli.main(["--params", params, "build-dataset", "--cutoffs", str(cuts), "--out", str(out)]) == 0
    frame, meta = read_dataset(out)
    assert list(frame["account_id"]) == [2, 1]
    assert frame["label"].tolist() == [1, pd.NA]
    assert meta["cutoffs_file"] == str(cuts) and meta["censored"] == 1


def test_cli_refuses_a_bad_cutoffs_file_naming_file_column_and_row(source, tmp_path, capsys):
    cuts = tmp_path / "bad.csv"
    cuts.write_text("account_id,cutoff_time\n1,2020-07-01\n99,2020-07-01\n")
    out = tmp_path / "never.parquet"
    params = write_params(tmp_path, source)
    assert cli.main(["--params", params, "build-dataset", "--cutoffs", str(cuts), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "bad.csv" in error and "account_id" in error and "99" in error
    assert not out.exists()


@pytest.mark.parametrize("damage", ["rows", "features", "content", "missing", "json"])
def test_a_damaged_or_mismatched_sidecar_is_refused(source, tmp_path, damage):
    out = tmp_path / "train.parquet"
    params = write_params(tmp_path, source)
    assert cli.main(["--params", params, "-q", "build-dataset", "--out", str(out)]) == 0
    meta_path = sidecar_path(out)
    meta = json.loads(meta_path.read_text())
    if damage == "rows":
        meta_path.write_text(json.dumps({**meta, "rows": meta["rows"] + 1}))
    elif damage == "features":
        meta_path.write_text(json.dumps({**meta, "feature_names": meta["feature_names"][:-1]}))
    elif damage == "content":  # another frame of the same shape under the old sidecar
        frame = pd.read_parquet(out)
        frame.loc[0, "label"] = 1 - frame.loc[0, "label"] if pd.notna(frame.loc[0, "label"]) else 1
        frame.to_parquet(out, index=False)
    elif damage == "missing":
        meta_path.unlink()
    else:
        meta_path.write_text("{not json")
    with pytest.raises(ProvenanceError):
        read_dataset(out)
