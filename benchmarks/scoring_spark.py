"""`healthscore score --engine spark` (Spark ``local[N]``) against the one-machine
bucketed run, on the same simulated bucketed source and model, two days each.

* ``local_*``: `score` of the bucketed source on this machine
  (:mod:`healthscore.scoring.buckets`);
* ``spark_*``: the same command with ``--engine spark --spark-master local[--cores]``
  (:mod:`healthscore.scoring.spark`), the Spark session's start included;
* ``equal``: every output of the second day (risk list, history, points, changes,
  alerts) read back from both folders and compared, exactly.

Wall time and peak RSS of each command (a child process; Spark's JVM is its child).
On one 2-core machine Spark only adds overhead; the gain is in adding machines.

    python benchmarks/scoring_spark.py --accounts 20000            # trains a small model first
    python benchmarks/scoring_spark.py --accounts 2000 --no-record  # smoke run
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scoring import CACHE, run_child, score_command  # noqa: E402  (benchmarks/scoring.py)


def model_for(args) -> Path:
    """``--model``, else one trained (cached) on a plain simulation of ``--train-accounts``."""
    if args.model:
        return Path(args.model)
    data = CACHE / f"sim-{args.train_accounts}x{args.months}"
    if not (data / "accounts.parquet").exists():
        run_child("_simulate", out=data, accounts=args.train_accounts, months=args.months)
    model = CACHE / f"model-sim-{args.train_accounts}x{args.months}"
    if not (model / "manifest.json").exists():
        print(f"training a model on {args.train_accounts:,} simulated accounts ...")
        run_child("_train", data=data, out=model, train_accounts=args.train_accounts)
    return model


def compare(local: Path, spark: Path, as_of: str) -> dict:
    """Rows compared per output; raises when any differs."""
    from healthscore.scoring import OutputLayout

    a, b = OutputLayout(local), OutputLayout(spark)
    frames = {"risk_list": lambda o: pd.read_parquet(o.risk_list(as_of)),
              "changes": lambda o: pd.read_parquet(o.changes(as_of)),
              "alerts": lambda o: pd.read_parquet(o.alerts(as_of)),
              "history": lambda o: o.read_partition("history", as_of),
              "points": lambda o: o.read_partition("points", as_of)}
    rows = {}
    for name, read in frames.items():
        want, got = read(a), read(b)
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=name)
        rows[name] = len(want)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--buckets", type=int, default=4)
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    parser.add_argument("--model", default=None, help="exported model folder (default: trained here)")
    parser.add_argument("--train-accounts", type=int, default=3000)
    parser.add_argument("--score-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a params override for every `score` (e.g. buckets.workers=2: the "
                             "local run's buckets two at a time; Spark's tasks are Spark's)")
    parser.add_argument("--name", default=None, help="results file stem (default scoring_spark_<accounts>)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)

    model = model_for(args)
    buckets = CACHE / f"simb-{args.accounts}x{args.months}-b{args.buckets}"
    if not (buckets / "buckets.json").exists():
        print(f"simulating {args.accounts:,} accounts into {args.buckets} buckets ...")
        run_child("_simulate_buckets", out=buckets, accounts=args.accounts, months=args.months,
                  buckets=args.buckets)
    end = pd.Timestamp(json.loads((buckets / "buckets.json").read_text())["observed_until"])
    days = [f"{end - pd.Timedelta(days=d):%Y-%m-%d}" for d in (8, 7)]
    figures: dict = {"accounts": args.accounts, "buckets": args.buckets, "spark_cores": args.cores,
                     "settings": list(args.score_set)}
    extra = [item for kv in args.score_set for item in ("--set", kv)]
    spark = ("--engine", "spark", "--spark-master", f"local[{args.cores}]")
    with tempfile.TemporaryDirectory(prefix="bench-score-spark-") as tmp:
        for engine, after in (("local", ()), ("spark", spark)):
            for label, day in zip(("score", "next_day"), days):
                print(f"{engine}: healthscore score of {args.accounts:,} accounts on {day} ...")
                figures[f"{engine}_{label}"] = score_command(buckets, model, Path(tmp) / engine, day, *extra,
                                                             report=False, after=after)
        figures["equal"] = compare(Path(tmp) / "local", Path(tmp) / "spark", days[1])
    from pyspark import __version__ as spark_version

    figures["spark_version"] = spark_version
    print(json.dumps(figures, indent=2))
    if not args.no_record:
        from _common import record

        notes = ("local: `score` of the bucketed source on one machine; spark: the same command with "
                 "--engine spark on local[N], session start included; equal: the second day's "
                 "outputs read back from both folders, compared exactly.")
        record(args.name or f"scoring_spark_{args.accounts}", figures,
               command="python benchmarks/scoring_spark.py " + shlex.join(argv or sys.argv[1:]), notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
