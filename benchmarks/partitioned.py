"""The partitioned feature build on Spark against one build on one machine.

On the data of ``benchmarks/features.py`` (simulated, cached under
``benchmarks/.cache/``), with 24 monthly cutoffs per account:

* ``single``: one :func:`~healthscore.features.build_features` call;
* ``write_buckets``: the canonical tables split into ``--buckets`` account buckets;
* ``spark``: :func:`~healthscore.features.spark.spark_build_features` on a local Spark
  (``local[N]``, N = ``--cores``), written to Parquet by Spark; the session's start is
  timed apart;
* ``equal``: every row read back and compared with the single build (exact for
  categories, 1e-12 for numbers).

On one 2-core machine Spark can only add overhead: the figure that matters is that the
result is the same and what the overhead is; the speed-up comes from more machines.

    python benchmarks/partitioned.py                   # 20,000 accounts
    python benchmarks/partitioned.py --accounts 2000   # smoke run
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import features as bench_features  # noqa: E402  (benchmarks/features.py: data and cutoffs)
from _common import record  # noqa: E402

from healthscore.config import FeatureParams  # noqa: E402
from healthscore.features import build_features, plan_features  # noqa: E402
from healthscore.features.spark import spark_build_features  # noqa: E402
from healthscore.io.buckets import write_buckets  # noqa: E402


def compare(got: pd.DataFrame, want: pd.DataFrame, plan) -> int:
    """Rows compared; raises when any value differs."""
    keys = ["account_id", "cutoff_time"]
    got = got.sort_values(keys, kind="stable").reset_index(drop=True)
    want = want.sort_values(keys, kind="stable").reset_index(drop=True)
    if len(got) != len(want):
        raise SystemExit(f"spark gave {len(got)} rows, the single build {len(want)}")
    np.testing.assert_array_equal(got["account_id"].to_numpy(), want["account_id"].to_numpy())
    np.testing.assert_array_equal(got["cutoff_time"].to_numpy("datetime64[us]"),
                                  want["cutoff_time"].to_numpy("datetime64[us]"))
    for name in plan.feature_names:
        if name in plan.categories:
            a = got[name].astype(object).where(got[name].notna(), None).tolist()
            b = [None if pd.isna(v) else str(v) for v in want[name].astype(object)]
            if a != b:
                raise SystemExit(f"{name}: categories differ")
        else:
            np.testing.assert_allclose(got[name].to_numpy(np.float64), want[name].to_numpy(np.float64),
                                       rtol=1e-12, atol=1e-12, err_msg=name)
    return len(got)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=24, help="monthly cutoffs per account")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    parser.add_argument("--name", default=None, help="results file stem")
    args = parser.parse_args(argv)
    args.source = "simulate"
    data = bench_features.prepare(args)
    tables = bench_features.load(data)
    cutoffs = bench_features.monthly_cutoffs(tables.accounts, args.months)
    params = FeatureParams()
    plan = plan_features(tables, params)
    figures: dict = {"data": {"accounts": args.accounts, "cutoff_rows": len(cutoffs),
                              "events": len(tables["events"]), "features": len(plan.feature_names),
                              "buckets": args.buckets, "spark_cores": args.cores}}

    clock = time.perf_counter()
    whole = build_features(tables, cutoffs, params, plan=plan)
    figures["single_seconds"] = round(time.perf_counter() - clock, 2)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark import __version__ as spark_version
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="bench-partitioned-") as tmp:
        root = Path(tmp) / "buckets"
        clock = time.perf_counter()
        write_buckets(tables, root, args.buckets)
        figures["write_buckets_seconds"] = round(time.perf_counter() - clock, 2)

        clock = time.perf_counter()
        spark = (SparkSession.builder.master(f"local[{args.cores}]").appName("healthscore-bench")
                 .config("spark.ui.enabled", "false")
                 .config("spark.sql.session.timeZone", "UTC")
                 .config("spark.sql.shuffle.partitions", str(args.buckets))
                 .config("spark.driver.memory", "4g")
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        figures["spark_session_seconds"] = round(time.perf_counter() - clock, 2)
        try:
            clock = time.perf_counter()
            out = Path(tmp) / "features.parquet"
            spark_build_features(spark, root, cutoffs, params, plan).write.parquet(str(out))
            figures["spark_seconds"] = round(time.perf_counter() - clock, 2)
        finally:
            spark.stop()
        got = pd.read_parquet(out)
        figures["rows_equal_to_single_build"] = compare(got, whole, plan)
    figures["spark_version"] = spark_version
    command = "python benchmarks/partitioned.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    notes = ("single: one build_features call; spark: spark_build_features on local[N] writing Parquet "
             "(session start apart); the Spark rows were read back and compared with the single build, "
             "every row and feature.")
    paths = record(args.name or f"partitioned_{args.accounts}", figures, command=command.strip(), notes=notes)
    print(figures)
    print(f"wrote {paths['md']} and {paths['json']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
