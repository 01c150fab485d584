"""Reading and the event-feature build beside the NumPy floor, on the same data (issue 16).

The data and the floor are those of ``../shared/perf`` (its README): ``gen_data.py``
writes the events (``--accounts``, ``--events``; 100,000 and 20M by default, the
README's size), ``make_hs_data.py`` maps them onto the contract, and
``feat_iib_bincount.py`` is the floor (bucket + bincount, no sort). Each round runs, in
fresh child processes one after the other (so a busy machine slows them alike):

* ``pyarrow``: a plain ``pyarrow.parquet.read_table`` of the events file;
* ``floor``: the floor's read + compute;
* ``current``: :func:`read_source` (read, map, validate) then :func:`build_features`
  with ``params_perf.yaml``, imports excluded;
* ``before``: the same with ``PYTHONPATH=--compare-src`` (an older ``src/``).

Every timing is wall and CPU seconds (the process's, all threads: steadier than wall
time on a shared machine); the medians over ``--rounds`` and the ratios of medians are
recorded. ``current`` and ``before`` must build the same features: a hash of every
feature column is compared. The bars: ``read_source`` <= 1.5x the plain read, read +
build <= 1.2x the floor.

    python benchmarks/read_floor.py --compare-src /tmp/base/src            # 20M events
    python benchmarks/read_floor.py --accounts 20000 --events 4000000 --rounds 1   # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PERF = HERE.parent.parent / "shared" / "perf"
KINDS = ("pyarrow", "floor", "current", "before")


def prepare(perf: Path, cache: Path, *, accounts: int, events: int) -> None:
    """The floor's data under ``cache/floor`` and its contract mapping under ``cache/hs``."""
    if not (cache / "floor" / "events.parquet").exists():
        subprocess.run([sys.executable, str(perf / "gen_data.py"), str(cache / "floor"), str(accounts),
                        str(events)], check=True)
    if not (cache / "hs.cutoffs.parquet").exists():
        subprocess.run([sys.executable, str(perf / "make_hs_data.py"), str(cache / "floor"),
                        str(cache / "hs")], check=True, cwd=perf)


def _clock():
    return time.perf_counter(), time.process_time()


def _since(start) -> dict:
    wall, cpu = start
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def child(kind: str, perf: Path, cache: Path) -> dict:
    """Time one kind in this process; imports are not timed."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    events = cache / "floor" / "events.parquet"
    if kind == "pyarrow":
        start = _clock()
        table = pq.read_table(events)
        return {"read": _since(start), "rows": table.num_rows}
    if kind == "floor":
        sys.path.insert(0, str(perf))
        sys.argv = [str(perf / "feat_iib_bincount.py"), str(events), "-"]
        start = _clock()
        runpy.run_path(str(perf / "feat_iib_bincount.py"), run_name="__main__")
        return {"total": _since(start)}
    from healthscore.config import read_params
    from healthscore.features import build_features
    from healthscore.io.sources import read_source

    params = read_params(perf / "params_perf.yaml")
    start = _clock()
    tables, _ = read_source(params.data, source=cache / "hs")
    read = _since(start)
    cutoffs = pd.read_parquet(cache / "hs.cutoffs.parquet")
    start = _clock()
    frame = build_features(tables, cutoffs, params.features)
    build = _since(start)
    hashes = {name: int(pd.util.hash_pandas_object(frame[name], index=False).to_numpy().sum(dtype=np.uint64))
              for name in frame.columns}
    return {"read": read, "build": build, "total": {k: read[k] + build[k] for k in read},
            "rows": len(frame), "features": len(frame.columns) - 2,
            "events_rows": len(tables["events"]), "hash": hashes}


def run_child(kind: str, args) -> dict:
    env = dict(os.environ)
    if kind == "current":
        env["PYTHONPATH"] = str(HERE.parent / "src")
    elif kind == "before":
        env["PYTHONPATH"] = str(args.compare_src)
    command = [sys.executable, __file__, "--child", kind, "--perf", str(args.perf),
               "--cache", str(args.cache)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], stage: str, clock: str) -> float:
    return round(statistics.median(run[stage][clock] for run in runs), 3)


def summarise(runs: dict[str, list[dict]]) -> dict:
    out: dict = {}
    for kind, done in runs.items():
        if not done:
            continue
        stages = [s for s in ("read", "build", "total") if s in done[0]]
        out[kind] = {f"{stage}_{clock}_median": _median(done, stage, clock)
                     for stage in stages for clock in ("wall", "cpu")}
        out[kind]["runs"] = len(done)
    ratio: dict = {}
    for kind in ("current", "before"):
        if kind not in out:
            continue
        for clock in ("wall", "cpu"):
            ratio[f"{kind}_read_vs_pyarrow_{clock}"] = round(
                out[kind][f"read_{clock}_median"] / out["pyarrow"][f"read_{clock}_median"], 3)
            ratio[f"{kind}_total_vs_floor_{clock}"] = round(
                out[kind][f"total_{clock}_median"] / out["floor"][f"total_{clock}_median"], 3)
    out["ratio"] = ratio
    if runs.get("before"):
        out["features_identical"] = all(run["hash"] == runs["before"][0]["hash"]
                                        for run in runs["current"] + runs["before"])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--perf", type=Path, default=PERF, help="the shared perf folder")
    parser.add_argument("--cache", type=Path, default=None,
                        help="data folder (default: /tmp/healthscore-floor-<events>)")
    parser.add_argument("--compare-src", type=Path, default=None, metavar="DIR",
                        help="also time an older src/ (PYTHONPATH=DIR)")
    parser.add_argument("--name", default=None, help="results file stem (default read_floor[_<events>])")
    parser.add_argument("--child", default=None, choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.perf = args.perf.resolve()
    args.cache = (args.cache or Path(f"/tmp/healthscore-floor-{args.events}")).resolve()
    if args.child:
        print(json.dumps(child(args.child, args.perf, args.cache)))
        return 0
    prepare(args.perf, args.cache, accounts=args.accounts, events=args.events)
    runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for round_ in range(args.rounds):
        for kind in KINDS:
            if kind == "before" and args.compare_src is None:
                continue
            runs[kind].append(run_child(kind, args))
            print(f"round {round_ + 1} {kind}: {json.dumps({k: v for k, v in runs[kind][-1].items() if k != 'hash'})}",
                  flush=True)
    figures = {"data": {"accounts": args.accounts, "events": args.events,
                        "rows": runs["current"][0]["rows"], "features": runs["current"][0]["features"]},
               **summarise(runs)}
    sys.path.insert(0, str(HERE.parent / "src"))
    sys.path.insert(0, str(HERE))
    from _common import record

    name = args.name or ("read_floor" if args.events == 20_000_000 else f"read_floor_{args.events}")
    command = "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/{Path(__file__).name}",
                                                             *(argv if argv is not None else sys.argv[1:])])
    notes = ("Medians over the rounds; each round runs pyarrow, floor, current and before in "
             "fresh processes one after the other. read: read_source (read, map, validate) for "
             "healthscore, pq.read_table for pyarrow; build: build_features; total: read + build "
             "(healthscore) or the floor's read + compute. *_cpu: process CPU seconds (all "
             "threads). Bars: ratio.current_read_vs_pyarrow <= 1.5, "
             "ratio.current_total_vs_floor <= 1.2.")
    paths = record(name, figures, command=command, notes=notes)
    print(json.dumps(figures, indent=2))
    print(f"wrote {paths['md']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
