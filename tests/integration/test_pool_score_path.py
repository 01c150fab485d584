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


def _files(layout: OutputLayout) -> list[str]:
    return sorted(p.relative_to(layout.root).as_posix() for p in layout.root.rglob("*") if p.is_file())


@pytest.mark.parametrize("as_of", [D1, D2])
def test_two_workers_write_what_one_process_writes_row_for_row(scored, as_of):
    local, pool = scored
    for name, path in (("risk_list", lambda layout: layout.risk_list(as_of)),
                       ("changes", lambda layout: layout.changes(as_of)),
                       ("alerts", lambda layout: layout.alerts(as_of))):
        pd.testing.assert_frame_equal(pd.read_parquet(path(pool)), pd.read_parquet(path(local)),
                                      check_exact=True, obj=name)
    for kind in ("history", "points"):
        pd.testing.assert_frame_equal(pool.read_partition(kind, as_of), local.read_partition(kind, as_of),
                                      check_exact=True, obj=kind)
    for path in (local.risk_list(as_of, suffix="csv"), local.risk_list(as_of),
                 local.points_partition(as_of) / "part-0.parquet", local.changes(as_of)):
        assert (pool.root / path.relative_to(local.root)).read_bytes() == path.read_bytes(), path.name
    want, got = local.read_run(as_of), pool.read_run(as_of)
    assert got.pop("workers") == 2 and "workers" not in want  # the pool ran it
    for run in (want, got):  # what differs: the clock, the output folder and the setting itself
        run.pop("timings"), run.pop("created_at", None), run["params"]["score"].pop("out_dir")
    assert got == want


def test_the_second_date_has_changes_and_alerts_and_the_same_files(scored):
    local, pool = scored
    assert len(pd.read_parquet(local.changes(D2))) > 0  # the comparison is not vacuous
    assert len(pd.read_parquet(local.alerts(D2))) > 0
    assert pool.read_run(D2)["buckets"] == BUCKETS
    assert _files(pool) == _files(local)  # no spool or staging folder left behind


def test_a_failed_worker_run_leaves_the_earlier_outputs(world, scored, tmp_path, capsys):
    """A bucket with a bad row fails in its worker: the run stops with the project's
    one-line error naming the bucket, table and column, and the folder keeps the dates
    it had."""
    import shutil

    local, _ = scored
    out = tmp_path / "out"
    shutil.copytree(local.root, out)
    before = {p: (out / p).read_bytes() for p in _files(OutputLayout(out))}
    broken = tmp_path / "broken"
    shutil.copytree(world["buckets"], broken)
    (part,) = (broken / "accounts" / "bucket=2").glob("*.parquet")
    accounts = pd.read_parquet(part)
    pd.concat([accounts, accounts.iloc[:1]], ignore_index=True).to_parquet(part, index=False)
    capsys.readouterr()
    code = score(world, out, D2, *WORKERS, data=broken)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "bucket 2 of" in err and "accounts" in err and "account_id" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert {p: (out / p).read_bytes() for p in _files(OutputLayout(out))} == before
    assert json.loads((out / "run" / f"{D2}.json").read_text())["counts"]["scored"] > 0
