"""`healthscore score --as-of DATE`: score and explain every active account.

Writes, under ``params.score.out_dir``, the risk list (Parquet and CSV), the score
history partition, the per-feature points, why it changed, the alerts and the run
record of the date (layout: :mod:`healthscore.scoring.outputs`). Rerunning a date
replaces that date only; a failed or killed run leaves earlier outputs as they were.

One run at a time per output folder: the run holds the folder's lock
(:mod:`healthscore.io.staging`) from reading the previous date to writing the report, so
"why it changed" compares with the latest date complete when it starts, and the report
is of its own date. A second run on the same folder waits for the first (``--wait``
seconds, default 600), then fails with a one-line error naming the pid that holds it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
from pathlib import Path

import pandas as pd

from healthscore.config import Params
from healthscore.errors import UsageError
from healthscore.io.staging import LOCK_WAIT_S, check_folder, folder_lock
from healthscore.memory import release_memory

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", required=True, metavar="DATE",
                        help="the date to score (ISO, e.g. 2024-06-30); features use data before it")
    parser.add_argument("--model", default=None, metavar="PATH_OR_URI",
                        help="exported model folder or models:/ URI (default: tracking.export_dir)")
    parser.add_argument("--data", default=None, metavar="DIR_OR_DB",
                        help="folder of tables, a .duckdb file or a postgresql:// URI (default: data.source)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: score.out_dir)")
    parser.add_argument("--no-report", action="store_true",
                        help="skip the HTML report (written by default as the last step)")
    parser.add_argument("--wait", type=float, default=LOCK_WAIT_S, metavar="SECONDS",
                        help="how long to wait for another run writing the same output folder "
                             f"(default {LOCK_WAIT_S:g}; 0: fail at once)")
    parser.add_argument("--challenger", default=None, metavar="VERSION",
                        help="also score with this model (a registered version, models:/ URI or "
                             "model folder); its risk list goes to challenger/<version>/, the "
                             "champion's outputs are unchanged (healthscore promote compares them)")
    parser.add_argument("--engine", choices=("local", "spark"), default="local",
                        help="local: on this machine (default); spark: a bucketed source, one "
                             "Spark task per bucket (the executors must see the source, the model "
                             "folder and the output folder)")
    parser.add_argument("--spark-master", default=None, metavar="URL",
                        help="with --engine spark: the master of a new session, e.g. local[2] "
                             "(default: the active session, or what spark-submit sets)")
    parser.add_argument("--dry-run", action="store_true",
                        help="send no notification; print what params.notify would send "
                             "(the outputs and the tasks table are still written)")


def run(args: argparse.Namespace, params: Params) -> int:
    from healthscore.io.sources import read_source
    from healthscore.scoring.model_source import load_scoring_model
    from healthscore.scoring import (
        OutputLayout, check_as_of, read_previous, read_reusable_points, score_date, write_date,
        write_risk_csv,
    )
    from healthscore.scoring.engine import model_identity

    from healthscore.io.buckets import is_bucketed, read_meta

    layout = OutputLayout(check_folder(getattr(args, "out", None) or params.score.out_dir,
                                       what="score output folder"))
    source = getattr(args, "data", None) or params.data.source
    source = sql_source(source, params.data)
    bucketed = not isinstance(source, (str, Path)) or is_bucketed(source)
    spark = getattr(args, "engine", "local") == "spark"
    if getattr(args, "spark_master", None) and not spark:
        raise UsageError("--spark-master: only with --engine spark")
    if spark and not (isinstance(source, (str, Path)) and is_bucketed(source)):
        raise UsageError(f"--engine spark: {source} is not a bucketed source (a folder with "
                         "buckets.json: healthscore simulate --buckets K, or "
                         "healthscore.io.buckets.write_buckets)")
    if bucketed:  # one bucket in memory at a time (healthscore.scoring.buckets)
        tables = None
        as_of = check_as_of(args.as_of, pd.Timestamp(read_meta(source)["observed_until"]))
    else:
        tables, _report = read_source(params.data, source=getattr(args, "data", None))
        as_of = check_as_of(args.as_of, tables.observed_until)
    model = getattr(args, "model", None) or params.tracking.export_dir
    exported = load_scoring_model(model, params)
    # From the previous date to the report, this run alone writes the folder.
    with folder_lock(layout.root, wait=getattr(args, "wait", LOCK_WAIT_S), what="score output folder"):
        previous = read_previous(layout, as_of, whole=not bucketed)  # bucketed: read per bucket
        reuse = None
        if params.score.incremental:
            reuse = read_reusable_points(layout, as_of, fingerprint=model_identity(exported)[1],
                                         previous=previous, whole=not bucketed)
        options = dict(as_of=as_of, features=params.features, score=params.score, alerts=params.alerts,
                       previous=previous, reuse=reuse, currency=params.report.currency,
                       lifecycle=params.lifecycle)
        if spark:
            outputs = score_on_spark(source, exported, model=model, layout=layout,
                                     master=getattr(args, "spark_master", None), bounds=params.buckets,
                                     **options)
        elif bucketed:
            outputs = score_buckets_locally(source, exported, model=model, layout=layout,
                                            bounds=params.buckets, **options)
        else:
            outputs = score_date(tables, exported, **options)
        from healthscore.scoring.challenger import finish_scoring

        finish_scoring(outputs, exported, model=model, challenger=getattr(args, "challenger", None),
                       previous=previous, tables=tables, source=source, layout=layout, params=params)
        from healthscore.scoring.expansion import attach_expansion

        attach_expansion(outputs, tables, params)  # expansion_proba, when an expansion model is exported
        from healthscore.scoring.parent_view import attach_parents

        # parents/<as_of>.parquet, when the accounts have parent_account_id
        attach_parents(outputs, exported=exported, tables=tables, layout=layout, params=params)
        drift = drift_of(outputs, exported, layout=layout, tables=tables, params=params)
        from healthscore.commands.plays import uplift_of

        outputs.uplift = uplift_of(tables, layout, as_of=as_of, params=params)  # written with the date
        if tables is not None:  # the people behind the score, when the source has contacts
            from healthscore.scoring.people import make_people

            outputs.people = make_people(tables, as_of, window_days=params.features.contacts.window_days)
        # the source tables are most of the memory; the report needs none
        del tables, previous, reuse, options
        from healthscore.plays import attach_tasks, notify_tasks

        attach_tasks(outputs, params.plays, layout=layout)  # the tasks are written with the date
        from healthscore.scoring.calls import calls_of

        outputs.calls = calls_of(outputs, params)  # calls/<as_of>.csv, written with the date
        latest = layout.latest_date()
        write_date(layout, outputs, write_csv=write_risk_csv,
                   update_latest=latest is None or as_of >= latest)
        print(summarise(outputs, layout))
        from healthscore.plays.hook import sent_tasks

        # what the rest of the run needs; the written outputs themselves are let go, so
        # the report (which reads them back a few columns at a time) starts lean
        scored_on, drift_table = outputs.as_of, outputs.drift
        tasks = sent_tasks(outputs.tasks, outputs.parent_tasks)
        del outputs
        if not getattr(args, "no_report", False):
            release_memory()  # the report starts from what the scoring gave back
            print(f"  report: {write_date_report(layout.root, scored_on, params, model)}")
    # after the commit and outside the lock: a slow channel holds up no other run
    log_drift(drift, drift_table, exported, as_of=as_of, params=params)
    print(notify_tasks(tasks, params.notify, as_of=scored_on, dry_run=getattr(args, "dry_run", False)))
    return 0


def score_on_spark(source, exported, *, model, layout, master, previous, **options):
    """:func:`healthscore.scoring.spark.score_spark` on the active Spark session or a new
    one on ``master`` (stopped after, when this run started it). The previous date is
    split per bucket first, as on one machine (:func:`split_previous_of`), into the
    output folder the tasks read their parts from."""
    from healthscore.features.spark import spark_session
    from healthscore.scoring.spark import score_spark
    from healthscore.scoring.tasks import model_folder_of

    folder = model_folder_of(model)  # before Spark starts: a URI is refused at once
    with split_previous_of(previous, source) as previous:
        spark, started = spark_session(master, app_name="healthscore-score")
        try:
            return score_spark(spark, source, exported, model_dir=folder, spool_root=layout.root,
                               previous=previous, **options)
        finally:
            if started:
                spark.stop()


@contextlib.contextmanager
def split_previous_of(previous, source):
    """The previous date of a bucketed folder ``source`` split per bucket
    (:mod:`healthscore.scoring.bucket_split`: one pass over its files, not one per
    bucket) for the ``with`` block; its parts are removed after."""
    from healthscore.io.buckets import read_meta
    from healthscore.scoring.bucket_split import split_previous

    previous = split_previous(previous, buckets=int(read_meta(source)["buckets"]))
    release_memory()  # the split's writers held hundreds of MiB: back before the first bucket
    try:
        yield previous
    finally:
        if hasattr(previous, "close"):
            previous.close()


def score_buckets_locally(source, exported, *, model, layout, bounds, previous, **options):
    """:func:`healthscore.scoring.buckets.score_bucketed` on this machine, one bucket at a
    time or ``bounds.workers`` at once (:func:`healthscore.scoring.pool.score_pool`: a
    bucketed folder and a model folder); a bucketed folder's previous date is split per
    bucket first (:mod:`healthscore.scoring.bucket_split`: one pass over its files, not
    one per bucket), the parts removed after."""
    from healthscore.model.export import is_model_uri
    from healthscore.scoring.buckets import score_bucketed

    folder = isinstance(source, (str, Path))
    workers = int(getattr(bounds, "workers", 1))
    if workers > 1 and (not folder or is_model_uri(str(model))):
        log.warning("buckets.workers %d: one bucket at a time (%s)", workers,
                    "a SQL source is read by the run's process" if not folder
                    else "the workers load a model folder, not a registry URI: export it")
        workers = 1

    split = functools.partial(split_previous_of, source=source)
    if workers > 1:
        from healthscore.scoring.pool import score_pool

        return score_pool(source, exported, model_dir=model, workers=workers, spool_root=layout.root,
                          bounds=bounds, previous=previous, prepare=split, **options)
    with split(previous) if folder else contextlib.nullcontext(previous) as previous:
        return score_bucketed(source, exported, spool_root=layout.root, bounds=bounds,
                              previous=previous, **options)


def sql_source(source, data):
    """A ``postgresql://`` URI as a source read bucket by bucket (:class:`~healthscore.io.sql.SqlSource`,
    ``data.sql.buckets``); any other source as it is."""
    from healthscore.io.sql import SqlSource, is_sql_uri

    return SqlSource(source, data) if is_sql_uri(source) else source


def drift_of(outputs, exported, *, layout, tables, params):
    """The drift summary of the date just scored: its table becomes ``outputs.drift``
    (``drift/<as_of>.parquet``, written with the date), the summary goes into
    ``run/<as_of>.json`` under ``drift``, and each alert is logged as a warning."""
    from healthscore.monitor import monitor_date

    points = outputs.points
    if points is None and outputs.spool is not None:  # spooled (bucketed): one bucket's values at a time
        points = outputs.spool.read_parts("points", columns=list(exported.feature_names))
    outputs.drift, drift = monitor_date(points, outputs.risk_list, exported, as_of=outputs.as_of,
                                        layout=layout, tables=tables, params=params)
    outputs.run = {**outputs.run, "drift": drift}
    for alert in drift["alerts"]:
        log.warning("monitor: %s", alert["message"])
    return drift


def log_drift(drift, frame, exported, *, as_of, params: Params) -> None:
    """The drift metrics on the MLflow run that trained the model, where it exists."""
    run_id = exported.info.get("run_id")
    if not run_id:
        return
    from healthscore.monitor import drift_metrics
    from healthscore.tracking import log_drift_metrics

    log_drift_metrics(run_id, drift_metrics(drift, frame), params=params.tracking, as_of=as_of)


def write_date_report(root, as_of, params: Params, model) -> Path:
    """The HTML report of ``as_of`` under ``<root>/report/`` (the last step of a run)."""
    from healthscore.report import read_report_inputs, write_report

    model_dir = Path(model)
    inputs = read_report_inputs(Path(root), as_of=f"{as_of:%Y-%m-%d}",
                                model_dir=model_dir if model_dir.exists() else None)
    return write_report(inputs, params.report, out_dir=Path(root) / "report")


def summarise(outputs, layout) -> str:
    """What was scored and where it went."""
    counts = outputs.run["counts"]
    previous = outputs.run.get("previous_as_of")
    lines = [
        f"scored {counts['scored']:,} active accounts on {outputs.run['as_of']} "
        f"with model {outputs.run['model_version']}",
        f"  bands: {counts['red']:,} red, {counts['yellow']:,} yellow, {counts['green']:,} green",
        f"  compared with {previous}: {counts['compared']:,} accounts, {counts['alerts']:,} alerts"
        if previous else "  first scoring date: no changes or alerts yet",
        f"  risk list: {layout.risk_list(outputs.as_of)} (and .csv)",
        f"  history, points, changes, alerts, run: under {layout.root}",
    ]
    if outputs.parents is not None:
        lines.append(f"  parents: {len(outputs.parents):,} parent accounts rolled up (parents/)"
                     + ("" if outputs.parent_alerts is None else
                        f", {len(outputs.parent_alerts):,} alerts (parent_alerts/)"))
    if "tasks" in counts:
        lines.append(f"  tasks: {counts['tasks']:,} from the plays (tasks/)")
    drift = outputs.run.get("drift") or {}
    if drift:
        lines.append(f"  drift: {'; '.join(drift['verdict'][:3])}"
                     + (" -> retrain (healthscore monitor)" if drift.get("retrain") else ""))
    from healthscore.scoring.challenger import finish_lines

    lines += finish_lines(outputs.run)
    if counts.get("reused"):
        lines.append(f"  reused stored points of {counts['reused']:,} unchanged accounts")
    return "\n".join(lines)
