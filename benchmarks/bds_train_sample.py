"""Training on a stable share of the accounts (``large.max_rows_in_memory``,
:mod:`healthscore.config.large`) against training on the whole set: does calibration
stay right, and what does the smaller sample cost?

On a simulated source (``--accounts``, ``--months``, seed 11: validation data, never
the test seed 7), the training set is built once with the default params (horizon
mode, the served 12-month risk). ``train_models`` then runs on the whole set and on
the rows of a :func:`~healthscore.io.datasets.stable_share` of its accounts, the rows
``read_dataset(share=...)`` keeps (``train`` reads them part by part). Each run's
model (fitted on outcomes known before the test window) is scored on the test window
of the *whole* set, so the figures compare like with like: ROC-AUC, expected
calibration error, log loss, Brier, and the mean predicted risk against the observed
rate.

    python benchmarks/bds_train_sample.py                     # 6,000 accounts x 36 months
    python benchmarks/bds_train_sample.py --accounts 1500     # smoke run
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import record  # noqa: E402

from healthscore.config import DataParams, make_params  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=6000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--shares", type=float, nargs="+", default=[0.5, 0.25])
    parser.add_argument("--states", type=int, nargs="+", default=[0],
                        help="large.random_state values: each a different sample of the accounts")
    parser.add_argument("--no-whole", action="store_true", help="leave out the run on the whole set")
    parser.add_argument("--name", default="bds_train_sample")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from healthscore.commands.train import dataset_horizon
    from healthscore.dataset.pipeline import build_dataset, dataset_meta
    from healthscore.io.datasets import stable_share
    from healthscore.io.sources import read_source
    from healthscore.model.evaluation import metrics_table
    from healthscore.model.exposure import account_exposure
    from healthscore.model.predictor import HazardPredictor
    from healthscore.model.split import split_by_time
    from healthscore.model.training import train_models
    from healthscore.sim.simulate import SimulationSpec, write_simulation

    params = make_params({})
    work = Path(tempfile.mkdtemp(prefix="bds-sample-"))
    write_simulation(SimulationSpec(n_accounts=args.accounts, months=args.months, seed=11), work / "src")
    tables, _ = read_source(DataParams(), source=work / "src")
    frame = build_dataset(tables, params)
    meta = dataset_meta(frame, tables, params, source=work / "src")
    horizon, observed_until = dataset_horizon(meta)
    _, _, test = split_by_time(frame, params.split)
    test = account_exposure(test, horizon)
    y_test = test["label"].to_numpy(dtype=np.int64)
    figures = {"data": {"accounts": args.accounts, "months": args.months, "rows": len(frame),
                        "labelled": int(frame["label"].notna().sum()),
                        "test_rows": len(test), "test_churn_rate": round(float(y_test.mean()), 4)}}
    runs = ([] if args.no_whole else [(1.0, 0)]) + [(s, r) for s in args.shares for r in args.states]
    for share, state in runs:
        key = make_params({"large": {"random_state": state}}).large.key
        rows = frame if share >= 1 else frame.loc[
            stable_share(frame["account_id"], share=share, key=key)].reset_index(drop=True)
        started = time.perf_counter()
        result = train_models(rows, split=params.split, model=params.model, calibration=params.calibration,
                              scorecard=params.scorecard, score=params.score, horizon=horizon,
                              observed_until=observed_until, small_data=params.small_data)
        seconds = time.perf_counter() - started
        risk = HazardPredictor(result.model, horizon).predict_risk(test)
        table = metrics_table(y_test, {"model": risk}, n_bins=params.calibration.ece_bins)
        row = table.query("segment == 'all'").set_index("predictor").loc["model"]
        name = f"share_{share:g}" + (f"_state_{state}" if share < 1 and args.states != [0] else "")
        figures[name] = {
            "rows": len(rows), "accounts": int(rows["account_id"].nunique()),
            "roc_auc": round(float(row["roc_auc"]), 4), "ece": round(float(row["ece"]), 4),
            "log_loss": round(float(row["log_loss"]), 4), "brier": round(float(row["brier"]), 4),
            "mean_risk": round(float(risk.mean()), 4), "train_seconds": round(seconds, 1)}
        print(name, figures[name], flush=True)
    command = "python benchmarks/bds_train_sample.py " + shlex.join(sys.argv[1:])
    record(args.name, figures, command=command.strip(), notes=(
        "Default params (horizon mode). Each share trains on the rows of a stable share of the "
        "accounts (large.random_state as named, 0 where not); every model is scored on the test window of the whole "
        f"set ({len(test):,} rows), the mean risk against the observed rate test_churn_rate."))


if __name__ == "__main__":
    main()
