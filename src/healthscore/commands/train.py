"""`healthscore train`: train, calibrate and evaluate the model beside its baselines.

Reads the training set written by ``build-dataset``, splits it by cutoff time, trains
LightGBM (or, with ``--mode scorecard``, only the rule scorecard; in renewal mode the
selection of :mod:`healthscore.model.selection` may serve the blend, the logistic
regression or the scorecard instead), evaluates it and the baselines on the test
window, logs everything to MLflow and registers the model.
``healthscore promote`` then moves the ``champion`` alias when the gates pass.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

import pandas as pd

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="DATASET.parquet",
                        help="training set written by `healthscore build-dataset` (a Parquet file, or "
                             "the folder of parts a bucketed source gives); past "
                             "large.max_rows_in_memory rows a stable share of its accounts is read")
    parser.add_argument("--mode", choices=("ml", "scorecard"), default="ml",
                        help="ml: LightGBM (default); scorecard: the weighted rule scorecard, "
                             "for too few churned renewals to learn from")
    parser.add_argument("--ground-truth", default=None, metavar="FILE",
                        help="simulator ground truth (.parquet or .csv with account_id, "
                             "renewal_date, churn_proba): adds the oracle to the metrics")
    parser.add_argument("--tune", action="store_true",
                        help="search tree settings first (params.tune: n_trials, timeout_seconds)")
    parser.add_argument("--target", choices=("churn", "expansion"), default="churn",
                        help="expansion: the expansion-propensity model on the same rows and "
                             "features (params.expansion), registered under its own name")
    parser.add_argument("--source", default=None, metavar="DIR_OR_DB",
                        help="--target expansion: the source the set was built from "
                             "(default: the one its .meta.json names)")


def run(args: argparse.Namespace, params) -> int:
    from healthscore import tracking
    from healthscore.io.files import read_ground_truth
    from healthscore.model.export import catalogue_dict
    from healthscore.model.training import train_models
    from healthscore.monitor import training_reference

    frame, meta = read_training_set(args.data, params.large)
    truth = read_ground_truth(args.ground_truth) if args.ground_truth else None
    if args.target == "expansion":  # same set and path, its own label
        from healthscore.commands.train_expansion import run_expansion

        return run_expansion(args, params, frame, meta, truth=truth)
    horizon, observed_until = dataset_horizon(meta)
    result = train_models(
        frame,
        split=params.split,
        model=params.model,
        calibration=params.calibration,
        scorecard=params.scorecard,
        score=params.score,
        mode=args.mode,
        ground_truth=truth,
        tune=params.tune if args.tune else None,
        horizon=horizon,
        observed_until=observed_until,
        small_data=params.small_data if args.mode == "ml" else None,
    )
    result.exported.reference = training_reference(frame, result.exported, params, meta=meta)
    logged = tracking.log_training_run(
        result,
        params=params,
        dataset_meta=meta,
        catalogue=catalogue_dict(result.feature_names, features=params.features, frame=frame),
        command=shlex.join(["healthscore", *sys.argv[1:]]),
    )
    print(render_summary(result, logged))
    return 0


def read_training_set(path, large) -> tuple[pd.DataFrame, dict]:
    """The training set at ``path``, whole or, past ``large.max_rows_in_memory`` rows, a
    stable share of its accounts (:mod:`healthscore.config.large`); the sidecar then
    says so under ``sample`` (logged with the run)."""
    from healthscore.io.datasets import read_dataset, read_meta

    share = large.share(int(read_meta(path).get("rows", 0)))
    if share >= 1:
        return read_dataset(path)
    frame, meta = read_dataset(path, share=share, key=large.key)
    meta = {**meta, "sample": {"share_of_accounts": share, "rows": int(len(frame)),
                               "accounts": int(frame["account_id"].nunique()),
                               "max_rows_in_memory": large.max_rows_in_memory,
                               "random_state": large.random_state}}
    log.warning("train: %s has %d rows, more than large.max_rows_in_memory=%d: training on a "
                "stable %.1f %% of its accounts (%d rows)", path, meta["rows"],
                large.max_rows_in_memory, 100 * share, len(frame))
    return frame, meta


def dataset_horizon(meta: dict):
    """``(Horizon, observed_until)`` of a horizon-mode training set's sidecar, else
    ``(None, None)``: the window was chosen when the set was built, not now."""
    from healthscore.model.exposure import Horizon

    built = (meta.get("params") or {})
    timeline, labels = built.get("timeline") or {}, built.get("labels") or {}
    if timeline.get("mode") != "horizon" or meta.get("cutoffs_file"):
        return None, None
    horizon = Horizon(int(timeline["horizon_days"]), int(timeline["lead_time_days"]),
                      int(labels["grace_days"]))
    return horizon, pd.Timestamp(meta["observed_until"])


def render_selection(result) -> list[str]:
    """Which predictor won on validation rows and why, and what to expect at this size."""
    from healthscore.model.selection import expectation

    selection = result.selection
    lines = [f"  selected: {selection.exported} ({selection.reason})"]
    for row in selection.table.itertuples(index=False):
        lines.append(f"    {row.predictor:<10} validation ROC-AUC {row.roc_auc:.4f}  "
                     f"top-decile lift {row.top_decile_lift:.2f}")
    churned = int(result.counts.set_index("window").loc[["train", "validation"], "churned"].sum())
    expected = expectation(churned)
    if expected:
        lines.append(f"  at {churned} churned training rows: {expected}")
    return lines


def render_summary(result, logged) -> str:
    """The console summary of a training run: windows, metrics side by side, bands."""
    lines = [f"trained ({result.mode}) on {len(result.feature_names)} features"]
    if result.selection is not None:
        lines += render_selection(result)
    for row in result.counts.itertuples(index=False):
        span = "" if pd.isna(row.first_cutoff) else (
            f"  cutoffs {row.first_cutoff.date()} .. {row.last_cutoff.date()}"
        )
        lines.append(f"  {row.window:<10} {row.rows:>8} rows {row.churned:>7} churned{span}")
    from healthscore.model.evaluation import METRICS

    table = result.metrics.query("segment == 'all'").set_index("predictor")[list(METRICS)]
    lines += ["", "test window:", table.to_string(float_format=lambda v: f"{v:.4f}")]
    if result.oracle_auc_ratio is not None:
        lines.append(f"model AUC / oracle AUC: {result.oracle_auc_ratio:.4f}")
    bands = result.bands.query("predictor == 'model'")
    lines += ["", "observed churn per band (model):"]
    for row in bands.itertuples(index=False):
        rate = "-" if pd.isna(row.churn_rate) else f"{row.churn_rate:.3f}"
        lines.append(f"  {row.band:<7} {row.rows:>7} rows  churn rate {rate}")
    lines += [
        "",
        f"MLflow run {logged.run_id}; registered {logged.registered_model} "
        f"version {logged.model_version}",
        f"next: healthscore promote {logged.model_version}",
    ]
    return "\n".join(lines)
