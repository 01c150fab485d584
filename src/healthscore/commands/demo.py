"""`healthscore demo`: the main job end to end on simulated demo data.

simulate -> validate -> build-dataset -> train -> promote -> score (three monthly
as-of dates, so the history, the changes and the alerts have something to say) ->
report -> explain the riskiest account -> monitor (drift since training, whether to retrain). Each step is the real command, run with the
same ``params.yaml`` and overrides, and prints where its outputs went.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from healthscore.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="where to write the demo data (default: data.source)")
    parser.add_argument("--accounts", type=int, default=3000, help="accounts to simulate (default 3000)")
    parser.add_argument("--months", type=int, default=42,
                        help="months to simulate (default 42: a 12-month horizon is trained, "
                             "validated and tested out of time)")
    parser.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    parser.add_argument("--dates", type=int, default=3,
                        help="monthly as-of dates to score, ending at the end of the data (default 3)")


def _step(title: str, argv: list[str], params: Params) -> int:
    from healthscore.cli import COMMANDS, _load, make_parser

    print(f"\n== {title}: healthscore {' '.join(argv)}", flush=True)
    args = make_parser().parse_args(argv)
    return int(_load(COMMANDS[args.command][0]).run(args, params) or 0)


def run(args: argparse.Namespace, params: Params) -> int:
    data = Path(args.data or params.data.source)
    dataset = data.parent / f"{data.name}-dataset.parquet"
    horizon = params.timeline.mode == "horizon"
    oracle = ["--oracle-horizon-days", str(params.timeline.horizon_days)] if horizon else []
    truth = data / ("oracle.parquet" if horizon else "ground_truth.parquet")
    steps = [
        ("simulate", ["simulate", "--accounts", str(args.accounts), "--months", str(args.months),
                      "--seed", str(args.seed), "--out", str(data), *oracle]),
        ("validate", ["validate", "--data", str(data)]),
        ("build the training set", ["build-dataset", "--data", str(data), "--out", str(dataset)]),
        ("train", ["train", "--data", str(dataset), "--ground-truth", str(truth)]),
        ("promote", ["promote"]),
    ]
    for title, argv in steps:
        if rc := _step(title, argv, params):
            return rc

    from healthscore.io.sources import read_source

    tables, _ = read_source(params.data, source=data)
    end = tables.observed_until.normalize()
    dates = [end - pd.DateOffset(months=k) for k in range(args.dates - 1, -1, -1)]
    for as_of in dates:
        argv = ["score", "--as-of", f"{as_of:%Y-%m-%d}", "--data", str(data)]
        if as_of != dates[-1]:
            argv.append("--no-report")
        if rc := _step(f"score {as_of:%Y-%m-%d}", argv, params):
            return rc

    risk = pd.read_parquet(Path(params.score.out_dir) / "risk_list" / "latest.parquet")
    riskiest = str(risk["account_id"].iloc[0])
    if rc := _step("explain the account with the most ARR at risk", ["explain", riskiest], params):
        return rc
    if rc := _step("monitor: drift since training, and whether to retrain",
                   ["monitor", "--data", str(data)], params):
        return rc
    report = Path(params.score.out_dir) / "report" / "index.html"
    print(f"\nDemo done. Open the report: {report.resolve()}")
    print("MLflow UI: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlruns.db")
    return 0
