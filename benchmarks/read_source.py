"""Speed of :func:`healthscore.io.sources.read_source` (read, map, validate) on a big events table.

Writes (or reuses, under ``--cache``) a Parquet source of ``--accounts`` accounts, one
subscription each and ``--events`` events (``account_id``, ``user_id``, ``timestamp``,
``event``, ``quantity``, in the simulator's dtypes), then times, in a child process,
``read_source`` (read, map, validate) ``--repeat`` times and ``validate_tables`` alone
on the frames it read as many times. With ``--compare-src DIR`` a second child does
the same with ``PYTHONPATH=DIR`` (e.g. the ``src`` folder of an older checkout:
``git archive HEAD src | tar -x -C /tmp/base``); the two alternate for ``--rounds``
rounds, so a busy machine slows both alike, and the fastest and median of every
timing are recorded with their ratios. Issue 12's bar: ``read_source`` at most 1.2x
its time before the issue's validation.

    python benchmarks/read_source.py --events 20000000 --compare-src /tmp/base/src
    python benchmarks/read_source.py --events 200000 --rounds 1      # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2023-01-01")
#: What each child times: wall and CPU seconds (the process's, all threads: steadier
#: than wall time on a shared machine).
KEYS = ("read_source", "validate_tables", "read_source_cpu", "validate_tables_cpu")
EVENT_TYPES = np.array(["login", "export", "report_view", "invite", "api_call", "dashboard",
                        "search", "upload", "comment", "share"], dtype=object)


def write_source(out: Path, *, accounts: int, events: int, seed: int) -> None:
    """accounts, subscriptions and events Parquet files under ``out``."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    ids = np.arange(1, accounts + 1, dtype=np.int64)
    created = START + pd.to_timedelta(rng.integers(0, 60, accounts), unit="D")
    pd.DataFrame({"account_id": ids, "name": [f"Account {i}" for i in ids],
                  "segment": rng.choice(["SMB", "Mid", "Enterprise"], accounts),
                  "created_at": created.astype("datetime64[us]"),
                  "seats": rng.integers(1, 400, accounts).astype("float64")}
                 ).to_parquet(out / "accounts.parquet", index=False)
    pd.DataFrame({"account_id": ids, "subscription_id": ids,
                  "start_date": created.astype("datetime64[us]"),
                  "end_date": (created + pd.Timedelta(days=730)).astype("datetime64[us]"),
                  "mrr": rng.gamma(2.0, 300.0, accounts)}
                 ).to_parquet(out / "subscriptions.parquet", index=False)
    seconds = rng.integers(60 * 86400, 720 * 86400, events)
    pd.DataFrame({
        "account_id": rng.integers(1, accounts + 1, events, dtype=np.int64),
        "user_id": rng.integers(1, 50 * accounts, events, dtype=np.int64),
        "timestamp": (np.datetime64(START, "us") + seconds.astype("timedelta64[s]")).astype("datetime64[us]"),
        "event": pd.array(EVENT_TYPES[rng.integers(0, len(EVENT_TYPES), events)], dtype="str"),
        "quantity": rng.integers(1, 5, events).astype("float64"),
    }).to_parquet(out / "events.parquet", index=False, row_group_size=1_000_000)


def time_child(source: Path, *, repeat: int, pythonpath: str) -> dict:
    """Run ``--child`` in a fresh interpreter importing healthscore from ``pythonpath``."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    out = subprocess.run([sys.executable, __file__, "--child", str(source), "--repeat", str(repeat)],
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(source: Path, repeat: int) -> None:
    from healthscore.config import DataParams
    from healthscore.io.mapping import map_tables
    from healthscore.io.sources import read_raw_tables, read_source
    from healthscore.data.validate import validate_tables

    data = DataParams(source=str(source))
    whole, whole_cpu, alone, alone_cpu = [], [], [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        tables, report = read_source(data)
        whole.append(time.perf_counter() - start)
        whole_cpu.append(time.process_time() - cpu)
    frames, _ = map_tables(read_raw_tables(data), data)
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        validate_tables(frames)
        alone.append(time.perf_counter() - start)
        alone_cpu.append(time.process_time() - cpu)
    print(json.dumps({"read_source": whole, "validate_tables": alone,
                      "read_source_cpu": whole_cpu, "validate_tables_cpu": alone_cpu,
                      "events_rows_out": int(len(tables["events"])),
                      "problems": len(report.problems)}))


def summarise(runs: list[dict]) -> dict:
    out = {"events_rows_out": runs[-1]["events_rows_out"], "problems": runs[-1]["problems"]}
    for key in KEYS:
        times = [t for run in runs for t in run[key]]
        out[key] = {"min_seconds": round(min(times), 3), "median_seconds": round(statistics.median(times), 3),
                    "runs": len(times)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="timings per child process")
    parser.add_argument("--rounds", type=int, default=5, help="child processes per code version")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder of the source (default: /tmp/healthscore-read-source-<events>)")
    parser.add_argument("--compare-src", default=None, metavar="DIR",
                        help="also time read_source with PYTHONPATH=DIR (an older src/)")
    parser.add_argument("--name", default="read_source")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.repeat)
        return 0

    source = args.cache or Path(f"/tmp/healthscore-read-source-{args.events}")
    start = time.perf_counter()
    if not (source / "events.parquet").exists():
        write_source(source, accounts=args.accounts, events=args.events, seed=args.seed)
    prepare = time.perf_counter() - start
    here_src = str(HERE.parent / "src")
    figures: dict = {"data": {"accounts": args.accounts, "events": args.events, "seed": args.seed,
                              "prepare_seconds": round(prepare, 2)}}
    current, before = [], []
    for _ in range(args.rounds):
        current.append(time_child(source, repeat=args.repeat, pythonpath=here_src))
        if args.compare_src:
            before.append(time_child(source, repeat=args.repeat, pythonpath=args.compare_src))
    figures["current"] = summarise(current)
    if args.compare_src:
        figures["before"] = summarise(before)
        figures["ratio"] = {
            f"{key}_{stat}": round(figures["current"][key][f"{stat}_seconds"]
                                   / figures["before"][key][f"{stat}_seconds"], 3)
            for key in KEYS for stat in ("min", "median")}
    sys.path.insert(0, here_src)
    sys.path.insert(0, str(HERE))
    from _common import record

    command = "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/{Path(__file__).name}", *(argv or sys.argv[1:])])
    notes = ("Wall time of read_source (read Parquet, map, validate) and of validate_tables "
             f"alone, {args.rounds} child processes x {args.repeat} timing(s) each; 'before' is "
             "the same with PYTHONPATH set to --compare-src (the code before issue 12's "
             "validation), alternating with 'current'. *_cpu: process CPU seconds (all threads) "
             "of the same calls. The bar: ratio.read_source_median <= 1.2.")
    paths = record(args.name, figures, command=command, notes=notes)
    print(json.dumps(figures, indent=2))
    print(f"wrote {paths['md']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
