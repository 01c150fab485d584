"""`healthscore score --engine spark` on real PySpark (local[2]) writes what the
one-machine run writes: a simulated source in 4 buckets, a small real LightGBM model,
two as-of dates (the second with changes and alerts against the first); every output
file equal, row for row."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.io.buckets import write_buckets
from healthscore.model import ExportedModel, HealthScale
from healthscore.model.export import catalogue_dict, save_bundle
from healthscore.scoring import OutputLayout
from same_outputs import assert_same_outputs, broken_run_inputs, folder_bytes, output_files  # tests/

pytestmark = pytest.mark.xdist_group("spark")  # one Spark session at a time on the machine

D1, D2 = "2024-05-01", "2024-06-01"
BUCKETS = 4


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    """A small simulated source in buckets and a small LightGBM model on its renewals."""
    root = tmp_path_factory.mktemp("spark-score")
    _, tables, labelled, names = simulated_renewals(root, accounts=200, months=18, seed=11)
    model = simulated_renewals.fit(labelled, names, 30)
    save_bundle(ExportedModel(model, HealthScale(), catalogue=catalogue_dict(names)), root / "model")
    return {"buckets": write_buckets(tables, root / "buckets", BUCKETS), "model": root / "model"}


@pytest.fixture(scope="module")
def spark():
    from healthscore.features.spark import spark_session

    session, started = spark_session("local[2]", app_name="healthscore-test")
    assert started  # no other session in this process: the command must reuse this one
    session.conf.set("spark.sql.shuffle.partitions", "4")
    yield session
    session.stop()


def score(world, out, as_of, *extra) -> int:
    return main(["-q", "--set", f"score.out_dir={out}", "score", "--as-of", as_of,
                 "--data", str(world["buckets"]), "--model", str(world["model"]), "--no-report",
                 *extra])


@pytest.fixture(scope="module")
def scored(world, spark, tmp_path_factory):
    """The two dates scored on one machine and on Spark, each into its own folder."""
    root = tmp_path_factory.mktemp("spark-outputs")
    for as_of in (D1, D2):
        assert score(world, root / "local", as_of) == 0
        assert score(world, root / "spark", as_of, "--engine", "spark") == 0
    return OutputLayout(root / "local"), OutputLayout(root / "spark")


@pytest.mark.parametrize("as_of", [D1, D2])
def test_spark_writes_what_one_machine_writes_row_for_row(scored, as_of):
    local, spark = scored
    want, got = assert_same_outputs(local, spark, as_of)
    assert got == want


def test_the_second_date_has_changes_and_alerts_and_the_same_files(scored):
    local, spark = scored
    assert len(pd.read_parquet(local.changes(D2))) > 0  # the comparison is not vacuous
    assert len(pd.read_parquet(local.alerts(D2))) > 0
    assert spark.read_run(D2)["buckets"] == BUCKETS
    assert output_files(spark) == output_files(local)  # no spool or staging folder left behind


def test_a_source_that_is_not_bucketed_is_refused(world, tmp_path, capsys):
    assert main(["--set", f"score.out_dir={tmp_path / 'out'}", "score", "--as-of", D1,
                 "--data", str(tmp_path), "--model", str(world["model"]), "--engine", "spark"]) == 2
    assert "not a bucketed source" in capsys.readouterr().err
    assert main(["--set", f"score.out_dir={tmp_path / 'out'}", "score", "--as-of", D1,
                 "--data", str(world["buckets"]), "--model", str(world["model"]),
                 "--spark-master", "local[2]"]) == 2
    assert "only with --engine spark" in capsys.readouterr().err
    assert not (tmp_path / "out" / "run").exists()


def test_a_failed_spark_run_leaves_the_earlier_outputs(world, spark, scored, tmp_path, capsys):
    """A bucket with a bad row fails its task: the run stops with the project's one-line
    error naming the bucket, table and column, and the folder keeps the dates it had."""
    local, _ = scored
    out, before, broken = broken_run_inputs(tmp_path, local.root, world["buckets"])
    capsys.readouterr()
    code = main(["-q", "--set", f"score.out_dir={out}", "score", "--as-of", D2, "--data", str(broken),
                 "--model", str(world["model"]), "--no-report", "--engine", "spark"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "bucket 2 of" in err and "accounts" in err and "account_id" in err, err
    assert folder_bytes(out) == before
    assert json.loads((out / "run" / f"{D2}.json").read_text())["counts"]["scored"] > 0
