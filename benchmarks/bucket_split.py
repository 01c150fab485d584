"""The previous date's split per bucket (:class:`healthscore.scoring.bucket_split.BucketSplit`)
at a million accounts' size, for each batch budget (``SPLIT_BYTES``) asked.

The points file is a stored date's ``points/as_of=DATE/part-0.parquet`` (``--points``)
repeated ``--copies`` times with the account ids shifted, so a 200,000-account day
(156,076 active) stands in for a million (780,380 rows). Each budget is timed
``--rounds`` times in a fresh process; medians recorded.

    healthscore score --as-of 2024-12-24 --data benchmarks/.cache/simb-200000x24-b8 \\
        --model models/healthscore --no-report --set score.out_dir=/tmp/out200
    python benchmarks/bucket_split.py --points /tmp/out200/points/as_of=2024-12-24/part-0.parquet
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def widen(points: Path, out: Path, copies: int) -> int:
    """``points`` ``copies`` times, each copy's integer account ids shifted past the last."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(points)
    ids = table.column("account_id")
    step = int(pc.max(ids).as_py()) + 1
    where = table.schema.get_field_index("account_id")
    parts = [table.set_column(where, "account_id", pc.add(ids, pa.scalar(step * k, ids.type)))
             for k in range(copies)]
    pq.write_table(pa.concat_tables(parts).replace_schema_metadata(table.schema.metadata), out)
    return table.num_rows * copies


def time_split(path: str, buckets: int, mib: int) -> dict:
    """One split of ``path`` with batches of at most ``mib`` MiB (this process)."""
    import pyarrow.parquet as pq

    import healthscore.scoring.bucket_split as bs

    bs.SPLIT_BYTES = mib * 2**20
    batch = bs._batch_rows(pq.ParquetFile(path).schema_arrow)
    with tempfile.TemporaryDirectory(prefix="bench-split-") as root:
        start = time.perf_counter()
        split = bs.BucketSplit(path, buckets=buckets, root=root, label="bench")
        seconds = time.perf_counter() - start
        split.close()
    return {"seconds": seconds, "batch_rows": batch}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", required=True, help="a stored date's points Parquet file")
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--buckets", type=int, default=32)
    parser.add_argument("--mib", type=int, nargs="+", default=[64, 128], help="SPLIT_BYTES budgets, MiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--_one", nargs=3, metavar=("PATH", "BUCKETS", "MIB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        print(json.dumps(time_split(args._one[0], int(args._one[1]), int(args._one[2]))))
        return 0

    figures: dict = {"buckets": args.buckets, "copies": args.copies}
    with tempfile.TemporaryDirectory(prefix="bench-split-data-") as tmp:
        wide = Path(tmp) / "points.parquet"
        figures["rows"] = widen(Path(args.points), wide, args.copies)
        for _ in range(args.rounds):  # budgets interleaved: a busy spell slows them alike
            for mib in args.mib:
                run = json.loads(subprocess.run(
                    [sys.executable, __file__, "--points", args.points, "--_one", str(wide),
                     str(args.buckets), str(mib)], check=True, capture_output=True, text=True).stdout)
                entry = figures.setdefault(f"split_{mib}mib", {"runs": [], "batch_rows": run["batch_rows"]})
                entry["runs"].append(round(run["seconds"], 3))
    for mib in args.mib:
        entry = figures[f"split_{mib}mib"]
        entry["median_s"] = round(statistics.median(entry["runs"]), 3)
    print(json.dumps(figures, indent=2))
    if not args.no_record:
        from _common import record

        record("bucket_split", figures, command="python benchmarks/bucket_split.py " + shlex.join(argv or sys.argv[1:]),
               notes="BucketSplit of a points file (a stored date's, repeated with shifted ids) into the "
                     "buckets, per batch budget; each run a fresh process, budgets interleaved.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
