"""`healthscore train --target expansion`: the wiring of the expansion model's training.

Not a command of its own: ``commands/train.py`` hands it the training set it read
(:func:`run_expansion`). The set's rows and features are kept; the label becomes the expansion
label, from the source the set was built from (``--source``, default the ``data_source``
its sidecar names, else ``data.source``; its fingerprint must match the sidecar's). The model is registered as
``params.expansion.registered_model``, so it never replaces the churn model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from healthscore.errors import ConfigError, DataError


def run_expansion(args: Any, params: Any, frame: pd.DataFrame, meta: dict, *,
                  truth: pd.DataFrame | None) -> int:
    """Train, log and register the expansion model; print its summary."""
    import shlex
    import sys

    from healthscore import tracking
    from healthscore.monitor import training_reference
    from healthscore.model.export import catalogue_dict

    frame, result, params = prepare(args, params, frame, meta, truth=truth)
    result.exported.reference = training_reference(frame, result.exported, params, meta=meta)
    logged = tracking.log_training_run(
        result, params=params, dataset_meta=meta,
        catalogue=catalogue_dict(result.feature_names, features=params.features, frame=frame),
        command=shlex.join(["healthscore", *sys.argv[1:]]))
    print(render_summary(result, logged, params=params))
    return 0


def prepare(args: Any, params: Any, frame: pd.DataFrame, meta: dict, *,
            truth: pd.DataFrame | None) -> tuple[pd.DataFrame, Any, Any]:
    """``(frame, result, params)``: the relabelled set, its
    :class:`~healthscore.model.expansion.ExpansionTrainResult` and the params to log it
    with (``tracking.registered_model`` = ``expansion.registered_model``)."""
    from healthscore.dataset.expansion import expansion_dataset
    from healthscore.io.datasets import fingerprint_tables
    from healthscore.io.sources import read_source
    from healthscore.model.expansion import train_expansion

    if args.mode != "ml" or args.tune:
        raise ConfigError("train --target expansion: LightGBM only (no --mode scorecard, no --tune)")
    source = getattr(args, "source", None) or meta.get("data_source") or params.data.source
    tables, _ = read_source(params.data, source=source)
    built = meta.get("data_fingerprint")
    if built and fingerprint_tables(tables) != built:
        raise DataError(f"train --target expansion: {source} is not the source the training set "
                        f"{args.data} was built from (data fingerprint {fingerprint_tables(tables)}, "
                        f"the set's sidecar says {built}); pass --source")
    frame = expansion_dataset(frame, tables, labels=params.labels, expansion=params.expansion)
    result = train_expansion(frame, params, ground_truth=truth)
    tracking = dataclasses.replace(params.tracking, registered_model=params.expansion.registered_model,
                                   export_dir=params.expansion.export_dir)
    return frame, result, dataclasses.replace(params, tracking=tracking)


def render_summary(result: Any, logged: Any, *, params: Any) -> str:
    """The console summary of an expansion training run."""
    from healthscore.model.evaluation import METRICS
    from healthscore.model.expansion import MEAN_INCREASE_KEY

    extra = result.extra_metrics
    lines = [f"trained (expansion: MRR +{100 * params.expansion.min_increase:.0f}% within "
             f"{params.expansion.horizon_days} days) on {len(result.feature_names)} features"]
    for row in result.counts.itertuples(index=False):
        span = "" if pd.isna(row.first_cutoff) else (
            f"  cutoffs {row.first_cutoff.date()} .. {row.last_cutoff.date()}")
        lines.append(f"  {row.window:<10} {row.rows:>8} rows {row.churned:>7} expanded{span}")
    table = result.metrics.query("segment == 'all'").set_index("predictor")[list(METRICS)]
    lines += ["", "test window (expansion):", table.to_string(float_format=lambda v: f"{v:.4f}"),
              "", f"mean MRR rise of the expanding training rows: +{100 * extra[MEAN_INCREASE_KEY]:.0f}%"]
    if result.oracle_auc_ratio is not None:
        lines.append(f"model AUC / oracle AUC: {result.oracle_auc_ratio:.4f}")
    tracking = params.tracking
    lines += ["", f"MLflow run {logged.run_id}; registered {logged.registered_model} "
              f"version {logged.model_version}",
              f"next: healthscore promote {logged.model_version} --set tracking.registered_model="
              f"{tracking.registered_model} --set tracking.export_dir={tracking.export_dir}"]
    return "\n".join(lines)
