"""`healthscore monitor [--as-of DATE]`: whether to retrain, and why.

Compares a scored date (default: the latest) with the model's training window: PSI of
every feature and of the health score over the bins fixed at training, the shift of the
band shares, the calibration of the latest earlier run whose outcomes have matured in
the current data, and the model's age (from the end of its training data); thresholds
in ``params.monitor``. Writes the date's drift table (``drift/<as_of>.parquet``) again
and prints the verdict. Exit status 0 whatever the verdict: a recommendation, not a
failure.
"""

from __future__ import annotations

import argparse

from healthscore.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", default=None, metavar="DATE",
                        help="a scored date (default: the latest under the output folder)")
    parser.add_argument("--model", default=None, metavar="PATH_OR_URI",
                        help="exported model folder or models:/ URI (default: tracking.export_dir)")
    parser.add_argument("--data", default=None, metavar="DIR_OR_DB",
                        help="the current data, for matured outcomes (default: data.source)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="scoring output folder (default: score.out_dir)")


def run(args: argparse.Namespace, params: Params) -> int:
    from healthscore.io.files import write_parquet_atomic
    from healthscore.io.sources import read_source
    from healthscore.scoring.model_source import load_scoring_model
    from healthscore.monitor import monitor_date, render_recommendation
    from healthscore.io.buckets import is_bucketed
    from healthscore.scoring import OutputLayout
    from healthscore.io.staging import check_folder

    layout = OutputLayout(check_folder(args.out or params.score.out_dir, what="score output folder"))
    as_of = layout.scored_date(args.as_of)
    exported = load_scoring_model(args.model, params)
    source = args.data or params.data.source
    tables = None if is_bucketed(source) else read_source(params.data, source=args.data)[0]
    points = layout.read_partition("points", as_of)
    risk = layout.read_table("risk_list", as_of)
    table, summary = monitor_date(points, risk, exported, as_of=as_of, layout=layout,
                                  tables=tables, params=params)
    if table is not None:
        write_parquet_atomic(table, layout.drift(as_of))
    run_info = layout.read_run(as_of)
    scored_with = run_info.get("model_bundle_fingerprint")
    print(render_recommendation(summary, as_of=f"{as_of:%Y-%m-%d}", model_version=exported.version))
    if scored_with and scored_with != exported.info.get("bundle_fingerprint"):
        print(f"  note: {as_of:%Y-%m-%d} was scored with another model (version "
              f"{run_info.get('model_version')}); the score's drift compares that run with this model's training")
    if table is not None:
        print(f"  drift per feature: {layout.drift(as_of)}")
    return 0
