"""Two output folders of the same dates, compared: what a bucketed run elsewhere (Spark
tasks, worker processes) must write to equal the one-process run."""

from __future__ import annotations

import pandas as pd

from healthscore.scoring import OutputLayout


def output_files(layout: OutputLayout) -> list[str]:
    """Every file under the folder, relative, sorted."""
    return sorted(p.relative_to(layout.root).as_posix() for p in layout.root.rglob("*") if p.is_file())


def assert_same_outputs(want: OutputLayout, got: OutputLayout, as_of: str) -> tuple[dict, dict]:
    """The date's risk list, changes, alerts, history and points equal row for row, the
    files byte for byte (CSV included: the same frames through the same writers); returns
    both run records without what differs by nature (the clock, the output folder) for
    the caller to compare."""
    for name, path in (("risk_list", lambda layout: layout.risk_list(as_of)),
                       ("changes", lambda layout: layout.changes(as_of)),
                       ("alerts", lambda layout: layout.alerts(as_of))):
        pd.testing.assert_frame_equal(pd.read_parquet(path(got)), pd.read_parquet(path(want)),
                                      check_exact=True, obj=name)
    for kind in ("history", "points"):
        pd.testing.assert_frame_equal(got.read_partition(kind, as_of), want.read_partition(kind, as_of),
                                      check_exact=True, obj=kind)
    for path in (want.risk_list(as_of, suffix="csv"), want.risk_list(as_of),
                 want.points_partition(as_of) / "part-0.parquet", want.changes(as_of)):
        assert (got.root / path.relative_to(want.root)).read_bytes() == path.read_bytes(), path.name
    runs = want.read_run(as_of), got.read_run(as_of)
    for run in runs:
        run.pop("timings"), run.pop("created_at", None), run["params"]["score"].pop("out_dir")
    return runs


def folder_bytes(root) -> dict[str, bytes]:
    """Every file of an output folder, by relative path, with its bytes."""
    return {p: (root / p).read_bytes() for p in output_files(OutputLayout(root))}


def broken_run_inputs(tmp_path, outputs, buckets):
    """``(out, before, broken)``: a copy of the ``outputs`` folder, its bytes, and a copy
    of the bucketed source ``buckets`` whose bucket 2 repeats an account (a bad row
    that one bucket's validation refuses)."""
    import shutil

    out, broken = tmp_path / "out", tmp_path / "broken"
    shutil.copytree(outputs, out)
    shutil.copytree(buckets, broken)
    (part,) = (broken / "accounts" / "bucket=2").glob("*.parquet")
    accounts = pd.read_parquet(part)
    pd.concat([accounts, accounts.iloc[:1]], ignore_index=True).to_parquet(part, index=False)
    return out, folder_bytes(out), broken
