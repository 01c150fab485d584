"""Bounded memory of a bucketed `score` (params ``buckets:``): tiny feature partitions
and explained chunks inside each bucket, and the report reading the wide points from
their file a few columns at a time, write the same files and the same report as one
run over the whole source."""

from __future__ import annotations

import pandas as pd
import pytest

import healthscore.features as features_module
import healthscore.scoring.engine as engine
from healthscore.cli import main
from healthscore.io.buckets import write_buckets
from healthscore.scoring import OutputLayout

D1, D2 = "2024-05-01", "2024-06-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    """A simulated source (seed 11), the same source in 3 buckets, a small trained model."""
    root = tmp_path_factory.mktemp("mem_bounds")
    data, tables, labelled, names = simulated_renewals(root, accounts=150, months=18, seed=11)
    simulated_renewals.save(labelled, names, 30, root / "model")
    return {"data": data, "buckets": write_buckets(tables, root / "buckets", 3), "model": root / "model"}


def _score(world, source, out, *settings):
    for as_of in (D1, D2):  # the second date: changes, alerts and the previous points
        argv = ["--set", f"score.out_dir={out}", "--set", "report.max_accounts=12"]
        for item in settings:
            argv += ["--set", item]
        assert main([*argv, "score", "--as-of", as_of, "--data", str(source),
                     "--model", str(world["model"])]) == 0
    return OutputLayout(out)


def _report_files(out):
    root = out / "report"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.html"))}


def test_small_bounds_change_no_output_and_no_report(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: defaults
    whole = _score(world, world["data"], tmp_path / "whole")
    seen = {"partitions": set(), "chunks": set()}
    build, explain = features_module.build_features, engine.explain_rows

    def build_spy(tables, keys, params, **kw):
        seen["partitions"].add(params.partition_accounts)
        return build(tables, keys, params, **kw)

    def explain_spy(exported, values, *, chunk_rows, **kw):
        seen["chunks"].add(chunk_rows)
        return explain(exported, values, chunk_rows=chunk_rows, **kw)

    monkeypatch.setattr(features_module, "build_features", build_spy)
    monkeypatch.setattr(engine, "explain_rows", explain_spy)
    parts = _score(world, world["buckets"], tmp_path / "bucketed",
                   "buckets.partition_accounts=4", "buckets.chunk_rows=3")
    assert seen == {"partitions": {4}, "chunks": {3}}  # the bounds reached every bucket

    for as_of in (D1, D2):
        for name in ("risk_list", "changes", "alerts"):
            pd.testing.assert_frame_equal(parts.read_table(name, as_of), whole.read_table(name, as_of),
                                          obj=f"{name} {as_of}")
        for kind in ("history", "points"):
            pd.testing.assert_frame_equal(parts.read_partition(kind, as_of), whole.read_partition(kind, as_of),
                                          obj=f"{kind} {as_of}")
        said = [{**run["params"]["score"], "out_dir": None} for run in (parts.read_run(as_of), whole.read_run(as_of))]
        assert said[0] == said[1] and said[0]["chunk_rows"] == 100_000  # the score params as set
    assert len(whole.read_table("changes", D2)) > 0
    got, want = _report_files(tmp_path / "bucketed"), _report_files(tmp_path / "whole")
    assert len(want) > 3 and list(got) == list(want)
    for name in want:
        assert got[name] == want[name], name


def test_the_report_from_the_files_is_the_report_from_the_frames(world, tmp_path, monkeypatch):
    """The report the loader makes (points read column group by column group from the
    Parquet files, change lines of the accounts shown only) is byte for byte the one
    made from the same files loaded whole."""
    from dataclasses import replace

    from healthscore.config import make_params
    from healthscore.io.columns import ParquetColumns
    from healthscore.report import read_report_inputs
    from healthscore.report.render import render_report

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "whole"
    _score(world, world["data"], out)
    lazy = read_report_inputs(out)
    files = {name: getattr(lazy, name) for name in ("points", "previous_points", "changes")}
    assert all(isinstance(f, ParquetColumns) for f in files.values())
    whole = replace(lazy, **{name: f[list(f.columns)] for name, f in files.items()})
    assert len(whole.changes["account_id"].unique()) > 12  # more accounts changed than have a page
    params = make_params({"report": {"max_accounts": 12}}).report
    got, want = render_report(lazy, params), render_report(whole, params)
    assert list(got) == list(want) and len(want) > 3
    for name in want:
        assert got[name] == want[name], name
