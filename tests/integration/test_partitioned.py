"""Accounts in buckets build exactly what one build makes: from the bucketed folder
layout, and on Spark (local mode, real PySpark) through ``applyInPandas``."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

from healthscore.config import DataParams, FeatureParams
from healthscore.errors import DataError
from healthscore.features import build_features, plan_features
from healthscore.io.sources import read_source
from healthscore.io.buckets import account_bucket, read_bucket, read_meta, write_buckets
from healthscore.features.spark import build_bucket, spark_build_features
from healthscore.sim.simulate import SimulationSpec, write_simulation

PARAMS = FeatureParams(partition_accounts=50)
BUCKETS = 3


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small simulated source, monthly cutoffs for every account, the one-build
    answer, and the same source in buckets."""
    root = tmp_path_factory.mktemp("partitioned")
    write_simulation(SimulationSpec(n_accounts=150, months=14, seed=11), root / "src")
    tables, _ = read_source(DataParams(), source=root / "src")
    ids = tables.accounts["account_id"].to_numpy()
    months = pd.date_range("2024-03-01", periods=10, freq="MS")
    cutoffs = pd.DataFrame({"account_id": np.repeat(ids, len(months)),
                            "cutoff_time": np.tile(months.to_numpy(), len(ids))})
    cutoffs = cutoffs.sample(frac=1.0, random_state=0).reset_index(drop=True)  # any order
    plan = plan_features(tables, PARAMS)
    whole = build_features(tables, cutoffs, PARAMS, plan=plan)
    write_buckets(tables, root / "buckets", BUCKETS)
    return {"tables": tables, "cutoffs": cutoffs, "plan": plan, "whole": whole,
            "root": root / "buckets"}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["account_id", "cutoff_time"], kind="stable").reset_index(drop=True)


def _same(got: pd.DataFrame, want: pd.DataFrame, plan) -> None:
    got, want = _sorted(got), _sorted(want)
    assert list(got.columns) == list(want.columns)
    np.testing.assert_array_equal(got["account_id"].to_numpy(), want["account_id"].to_numpy())
    np.testing.assert_array_equal(got["cutoff_time"].to_numpy("datetime64[us]"),
                                  want["cutoff_time"].to_numpy("datetime64[us]"))
    for name in plan.feature_names:
        if name in plan.categories:
            as_text = lambda s: s.astype(object).where(s.notna(), None).map(  # noqa: E731
                lambda v: None if v is None else str(v)).tolist()
            assert as_text(got[name]) == as_text(want[name]), name
        else:
            np.testing.assert_allclose(got[name].to_numpy(np.float64), want[name].to_numpy(np.float64),
                                       rtol=1e-12, atol=1e-12, err_msg=name)


def test_buckets_are_stable_and_cover_every_account():
    ids = pd.Series([1, 2, 3, 10_000_000_001])
    first = account_bucket(ids, 4)
    assert first.tolist() == account_bucket(ids.copy(), 4).tolist()
    assert set(first) <= {0, 1, 2, 3}
    # the text of the id decides: 7 and "7" share a bucket
    assert account_bucket(pd.Series([7]), 5)[0] == account_bucket(pd.Series(["7"]), 5)[0]


def test_every_bucket_sees_every_table_and_only_its_accounts(world):
    seen = []
    for k in range(BUCKETS):
        tables = read_bucket(world["root"], k)
        assert set(tables) == set(world["tables"])
        ids = tables.accounts["account_id"]
        assert (account_bucket(ids, BUCKETS) == k).all()
        assert tables.observed_until == world["tables"].observed_until
        seen += ids.tolist()
    assert sorted(seen) == sorted(world["tables"].accounts["account_id"])


def test_the_union_of_the_buckets_is_the_single_build(world):
    cutoffs, plan = world["cutoffs"], world["plan"]
    which = account_bucket(cutoffs["account_id"], BUCKETS)
    parts = [build_bucket(world["root"], k, cutoffs[which == k].reset_index(drop=True), PARAMS, plan)
             for k in range(BUCKETS)]
    _same(pd.concat(parts, ignore_index=True), world["whole"], plan)


def test_a_folder_that_is_not_bucketed_is_refused(tmp_path):
    with pytest.raises(DataError, match="buckets.json"):
        read_bucket(tmp_path, 0)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a bucketed source"):
        write_buckets(_tiny_tables(), tmp_path, 2)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_rewriting_replaces_the_buckets_and_a_failed_write_keeps_the_old(world, tmp_path, monkeypatch):
    import healthscore.io.buckets as partitioned

    root = tmp_path / "b"
    write_buckets(world["tables"], root, 2)
    write_buckets(world["tables"], root, 4)  # replaced as a whole
    assert sorted(p.name for p in (root / "accounts").iterdir()) == [f"bucket={k}" for k in range(4)]

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(partitioned.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_buckets(world["tables"], root, 3)
    assert read_meta(root)["buckets"] == 4
    assert len(read_bucket(root, 3).accounts) > 0
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # nothing left aside


def _tiny_tables():
    from healthscore.data.tables import Tables

    return Tables({"accounts": pd.DataFrame({"account_id": [1]}),
                   "subscriptions": pd.DataFrame({"account_id": [1]})}, pd.Timestamp("2024-01-01"))


@pytest.mark.xdist_group("spark")  # one Spark session at a time (test_spark_score_path.py too)
def test_spark_builds_what_one_machine_builds(world):
    from pyspark.sql import SparkSession  # in the dev extra: a missing Spark fails here

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need the venv's pyarrow
    spark = (SparkSession.builder.master("local[2]").appName("healthscore-test")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "4")
             .getOrCreate())
    try:
        result = spark_build_features(spark, world["root"], world["cutoffs"], PARAMS, world["plan"])
        got = result.toPandas()
    finally:
        spark.stop()
    assert len(got) == len(world["cutoffs"])
    _same(got, world["whole"], world["plan"])


def test_simulating_into_buckets_gives_the_simulation_split_by_account(tmp_path):
    from healthscore.sim.buckets import simulate_buckets

    spec = SimulationSpec(n_accounts=120, months=8, seed=5, chunk_accounts=50)  # 3 chunks
    write_simulation(spec, tmp_path / "whole")
    whole, _ = read_source(DataParams(), source=tmp_path / "whole")
    root = simulate_buckets(spec, tmp_path / "buckets", 4)
    parts = [read_bucket(root, k) for k in range(4)]
    assert all(p.observed_until == whole.observed_until for p in parts)
    for name in whole:
        got = pd.concat([p[name] for p in parts], ignore_index=True)
        assert len(got) == len(whole[name]), name
        assert sorted(got["account_id"].unique()) == sorted(whole[name]["account_id"].unique()), name
    keys = ["account_id", "start_date", "end_date"]
    pd.testing.assert_frame_equal(
        pd.concat([p.subscriptions for p in parts]).sort_values(keys).reset_index(drop=True),
        whole.subscriptions.sort_values(keys).reset_index(drop=True), check_dtype=False)
