"""Peak memory of ``build-dataset``: the source read whole against a bucketed source
built bucket by bucket (:mod:`healthscore.dataset.buckets`).

The same simulation (``--accounts``, ``--months``, seed 11) is written twice, as one
folder and as a bucketed source (``--buckets``); ``build-dataset`` runs on each in its
own process under ``/usr/bin/time -f "%e s %M KB"`` (wall seconds, peak RSS), with the
default params (horizon mode, monthly cutoffs). The two training sets are then read
back and compared, every row and feature (:func:`healthscore.io.datasets.read_dataset`
returns the parts in the whole build's order).

    python benchmarks/bds_dataset_memory.py                          # 100,000 accounts, 8 buckets
    python benchmarks/bds_dataset_memory.py --accounts 5000 --name bds_dataset_memory_5000
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import record  # noqa: E402

PY = sys.executable
TIMED = re.compile(r"^([0-9.]+) s ([0-9]+) KB$", re.M)


def timed(argv: list[str]) -> dict:
    """Run ``argv`` under /usr/bin/time; its wall seconds and peak RSS (MiB)."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%e s %M KB", *argv], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")})
    if proc.returncode:
        raise SystemExit(f"{shlex.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    seconds, kb = TIMED.findall(proc.stderr)[-1]
    return {"seconds": float(seconds), "peak_rss_mib": round(int(kb) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--name", default="bds_dataset_memory")
    parser.add_argument("--workdir", default=None, help="keep the data here (default: a temporary folder)")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bds-memory-"))
    cli = [PY, "-m", "healthscore.cli", "-q"]
    sim = [*cli, "simulate", "--accounts", str(args.accounts), "--months", str(args.months), "--seed", "11"]
    figures: dict = {"data": {"accounts": args.accounts, "months": args.months, "buckets": args.buckets}}
    figures["simulate_whole"] = timed([*sim, "--out", str(work / "whole")])
    figures["simulate_buckets"] = timed([*sim, "--out", str(work / "buckets"), "--buckets", str(args.buckets)])
    figures["build_whole"] = timed([*cli, "build-dataset", "--data", str(work / "whole"),
                                    "--out", str(work / "whole.parquet")])
    figures["build_bucketed"] = timed([*cli, "build-dataset", "--data", str(work / "buckets"),
                                       "--out", str(work / "bucketed.parquet")])
    check = ("import pandas as pd; from healthscore.io.datasets import read_dataset; "
             f"a, _ = read_dataset({str(work / 'whole.parquet')!r}); "
             f"b, m = read_dataset({str(work / 'bucketed.parquet')!r}); "
             "pd.testing.assert_frame_equal(a, b); print(len(a), len(m['feature_names']), len(m['parts']))")
    proc = subprocess.run([PY, "-c", check], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")})
    if proc.returncode:  # e.g. killed for memory: the two sets read whole at once
        figures["rows_equal"] = f"not compared (exit {proc.returncode}): {proc.stderr[-300:]}"
    else:
        rows, features, parts = map(int, proc.stdout.split())
        figures["data"].update(rows=rows, features=features, parts=parts)
        figures["rows_equal"] = rows
    figures["peak_ratio_bucketed_to_whole"] = round(
        figures["build_bucketed"]["peak_rss_mib"] / figures["build_whole"]["peak_rss_mib"], 3)
    command = "python benchmarks/bds_dataset_memory.py " + shlex.join(sys.argv[1:])
    record(args.name, figures, command=command.strip(), notes=(
        "build-dataset with the default params on the same simulation (seed 11) read whole and "
        f"in {args.buckets} buckets, each in its own process under /usr/bin/time -f \"%e s %M KB\" "
        "(peak RSS); the two sets read back are equal, every row and feature. The bucketed build "
        "reads every bucket twice (a survey of the whole-book choices, then the build)."))
    print(figures)


if __name__ == "__main__":
    main()
