"""Speed of :func:`healthscore.io.read_source` (read, map, validate) on a big events table.

Writes (or reuses, under ``--cache``) a Parquet source of ``--accounts`` accounts, one
subscription each and ``--events`` events (``account_id``, ``user_id``, ``timestamp``,
``event``, ``quantity``, in the simulator's dtypes), then times ``read_source`` in a
child process ``--repeat`` times and keeps the fastest and the median. With
``--compare-src DIR`` the same timing also runs with ``PYTHONPATH=DIR`` (e.g. the
``src`` folder of an older checkout: ``git archive HEAD src | tar -x -C /tmp/base``),
and the ratio is recorded. Issue 12's bar: validation at most 1.2x the time before it.

    python benchmarks/read_source.py --events 20000000 --compare-src /tmp/base/src
    python benchmarks/read_source.py --events 200000 --repeat 1     # smoke run (seconds)
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


def time_child(source: Path, *, repeat: int, pythonpath: str | None) -> dict:
    """Run ``--child`` in a fresh interpreter (optionally another ``src``)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, __file__, "--child", str(source), "--repeat", str(repeat)],
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(source: Path, repeat: int) -> None:
    from healthscore.config import DataParams
    from healthscore.io import read_source

    data = DataParams(source=str(source))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        tables, report = read_source(data)
        times.append(time.perf_counter() - start)
    print(json.dumps({"min_seconds": min(times), "median_seconds": statistics.median(times),
                      "events_rows_out": int(len(tables["events"])),
                      "problems": len(report.problems)}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
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
    figures["current"] = time_child(source, repeat=args.repeat, pythonpath=here_src)
    if args.compare_src:
        figures["before"] = time_child(source, repeat=args.repeat, pythonpath=args.compare_src)
        figures["ratio_median"] = round(figures["current"]["median_seconds"]
                                        / figures["before"]["median_seconds"], 3)
    sys.path.insert(0, here_src)
    sys.path.insert(0, str(HERE))
    from _common import record

    command = "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/{Path(__file__).name}", *(argv or sys.argv[1:])])
    notes = ("Wall time of read_source (read Parquet, map, validate) in a child process; "
             f"fastest and median of {args.repeat}. 'before' is the same call with PYTHONPATH "
             "set to --compare-src (the code before issue 12's validation); the bar is "
             "ratio_median <= 1.2.")
    paths = record(args.name, figures, command=command, notes=notes)
    print(json.dumps(figures, indent=2))
    print(f"wrote {paths['md']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
