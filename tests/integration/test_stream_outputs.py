"""`score` over a bucketed source streams its wide outputs to disk bucket by bucket
(healthscore.scoring.spool) and reads the previous date per bucket: the committed
files equal, row for row and in the same order, those of one run over the whole source."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.io.buckets import write_buckets
from healthscore.scoring import OutputLayout
import healthscore.scoring.spool as spool

D1, D2 = "2024-05-01", "2024-06-01"


@pytest.fixture(scope="module")
def stream_world(tmp_path_factory, simulated_renewals):
    """A simulated source (seed 11), the same source in 7 buckets, a small trained model."""
    root = tmp_path_factory.mktemp("stream")
    data, tables, labelled, names = simulated_renewals(root, accounts=170, months=18, seed=11)
    simulated_renewals.save(labelled, names, 40, root / "model")
    buckets = write_buckets(tables, root / "buckets", 7)
    return {"data": data, "buckets": buckets, "model": root / "model"}


def _score_two_days(world, source, out):
    for as_of in (D1, D2):  # the second date has changes and alerts against the first
        assert main(["--set", f"score.out_dir={out}", "score", "--as-of", as_of, "--data", str(source),
                     "--model", str(world["model"]), "--no-report"]) == 0
    return OutputLayout(out)


def test_a_bucketed_run_writes_what_the_whole_source_run_writes(stream_world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here: defaults
    whole = _score_two_days(stream_world, stream_world["data"], tmp_path / "whole")
    # merge in runs of 16 account rows: every file is merged from many ranges of many parts
    monkeypatch.setattr(spool, "MERGE_ROWS", 16)
    monkeypatch.setattr(spool, "ROW_GROUP_ROWS", 8)
    parts = _score_two_days(stream_world, stream_world["buckets"], tmp_path / "bucketed")

    for as_of in (D1, D2):
        for name in ("risk_list", "changes", "alerts"):
            got, want = parts.read_table(name, as_of), whole.read_table(name, as_of)
            pd.testing.assert_frame_equal(got, want, obj=f"{name} {as_of}")
        for kind in ("history", "points"):
            pd.testing.assert_frame_equal(parts.read_partition(kind, as_of), whole.read_partition(kind, as_of),
                                          obj=f"{kind} {as_of}")
        got = pd.read_csv(parts.calls(as_of), dtype=str, keep_default_na=False)
        want = pd.read_csv(whole.calls(as_of), dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(got, want, obj=f"calls {as_of}")
        assert (parts.risk_list(as_of, suffix="csv").read_text()
                == whole.risk_list(as_of, suffix="csv").read_text())
        run_parts, run_whole = parts.read_run(as_of), whole.read_run(as_of)
        # the book's ARR range is of every bucket's accounts, not of the first bucket's
        assert run_parts["arr_at_risk"] == run_whole["arr_at_risk"]
        assert run_parts["counts"] == run_whole["counts"]
        assert run_parts["buckets"] == 7

    # the second date compared with the first and said why, for some account
    assert len(whole.read_table("changes", D2)) > 0
    assert len(pd.read_csv(whole.calls(D2))) > 0
    # the spooled parts are gone: only the committed layout is left
    assert not [p.name for p in (tmp_path / "bucketed").iterdir() if p.name.startswith(".staging-")]


def test_a_failed_bucketed_run_leaves_the_previous_date_and_no_spool(stream_world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bucketed"
    assert main(["--set", f"score.out_dir={out}", "score", "--as-of", D1, "--data",
                 str(stream_world["buckets"]), "--model", str(stream_world["model"]), "--no-report"]) == 0
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if ".lock" not in p.name)

    def broken(self, kind, path):
        raise OSError("disk full while merging")

    monkeypatch.setattr(spool.Spool, "write_merged", broken)
    assert main(["--set", f"score.out_dir={out}", "score", "--as-of", D2, "--data",
                 str(stream_world["buckets"]), "--model", str(stream_world["model"]), "--no-report"]) == 2
    # the spool's parts may be left by the failed process; the next writer removes them
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert OutputLayout(out).dates() == [pd.Timestamp(D1)]
    assert main(["--set", f"score.out_dir={out}", "score", "--as-of", D1, "--data",
                 str(stream_world["buckets"]), "--model", str(stream_world["model"]), "--no-report"]) == 0
    after = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if ".lock" not in p.name)
    assert after == before
    assert json.loads((out / "run" / f"{D1}.json").read_text())["buckets"] == 7
