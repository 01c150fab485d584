"""`healthscore score` of a bucketed source with `buckets.workers` 2 (worker processes of
this machine, healthscore.scoring.pool) writes what one process writes, one bucket at a
time: a simulated source in 4 buckets, a small real LightGBM model, two as-of dates (the
second with changes and alerts against the first); every output file equal, row for row."""

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

D1, D2 = "2024-05-01", "2024-06-01"
BUCKETS = 4
WORKERS = ("--set", "buckets.workers=2")


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    """A small simulated source in buckets and a small LightGBM model on its renewals."""
    root = tmp_path_factory.mktemp("pool-score")
    _, tables, labelled, names = simulated_renewals(root, accounts=200, months=18, seed=11)
    model = simulated_renewals.fit(labelled, names, 30)
    save_bundle(ExportedModel(model, HealthScale(), catalogue=catalogue_dict(names)), root / "model")
    return {"buckets": write_buckets(tables, root / "buckets", BUCKETS), "model": root / "model"}


def score(world, out, as_of, *extra, data=None) -> int:
    return main(["-q", "--set", f"score.out_dir={out}", *extra, "score", "--as-of", as_of,
                 "--data", str(data or world["buckets"]), "--model", str(world["model"]), "--no-report"])


@pytest.fixture(scope="module")
def scored(world, tmp_path_factory):
    """The two dates scored one bucket at a time and by two workers, each into its own folder."""
    root = tmp_path_factory.mktemp("pool-outputs")
    for as_of in (D1, D2):
        assert score(world, root / "one", as_of) == 0
        assert score(world, root / "pool", as_of, *WORKERS) == 0
    return OutputLayout(root / "one"), OutputLayout(root / "pool")


@pytest.mark.parametrize("as_of", [D1, D2])
def test_two_workers_write_what_one_process_writes_row_for_row(scored, as_of):
    local, pool = scored
    want, got = assert_same_outputs(local, pool, as_of)
    assert got.pop("workers") == 2 and "workers" not in want  # the pool ran it
    assert got == want


def test_the_second_date_has_changes_and_alerts_and_the_same_files(scored):
    local, pool = scored
    assert len(pd.read_parquet(local.changes(D2))) > 0  # the comparison is not vacuous
    assert len(pd.read_parquet(local.alerts(D2))) > 0
    assert pool.read_run(D2)["buckets"] == BUCKETS
    assert output_files(pool) == output_files(local)  # no spool or staging folder left behind


def test_a_failed_worker_run_leaves_the_earlier_outputs(world, scored, tmp_path, capsys):
    """A bucket with a bad row fails in its worker: the run stops with the project's
    one-line error naming the bucket, table and column, and the folder keeps the dates
    it had."""
    local, _ = scored
    out, before, broken = broken_run_inputs(tmp_path, local.root, world["buckets"])
    capsys.readouterr()
    code = score(world, out, D2, *WORKERS, data=broken)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "bucket 2 of" in err and "accounts" in err and "account_id" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert folder_bytes(out) == before
    assert json.loads((out / "run" / f"{D2}.json").read_text())["counts"]["scored"] > 0


def test_a_worker_that_finds_another_model_stops_the_run_on_that_error_in_one_line(world, tmp_path):
    """The workers load the model folder themselves; one that finds another bundle than
    the run's process loaded (promoted during the run) gives that ModelError, not a
    broken pool, and nothing is written."""
    from dataclasses import replace

    from healthscore.config import read_params
    from healthscore.errors import ModelError
    from healthscore.model.export import load_exported
    from healthscore.scoring.pool import score_pool

    params = read_params()
    loaded = load_exported(world["model"])
    other = replace(loaded, info={**loaded.info, "bundle_fingerprint": "not-the-folder's"})
    with pytest.raises(ModelError, match=r"^a worker process of .*: .*was it promoted during the run") as caught:
        score_pool(world["buckets"], other, model_dir=world["model"], workers=2,
                   as_of=pd.Timestamp(D1), features=params.features, score=params.score,
                   alerts=params.alerts, spool_root=tmp_path / "out", bounds=params.buckets)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists() or not any(p.is_file() for p in (tmp_path / "out").rglob("*"))
