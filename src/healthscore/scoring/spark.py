"""Scoring a bucketed source (:mod:`healthscore.io.buckets`) on Spark: one task per bucket.

Each task runs what one machine runs for that bucket
(:func:`~healthscore.scoring.buckets.score_bucket`: the bucket's tables, features at
the as-of date, scores, TreeSHAP points, why it changed against the previous date's
rows of the bucket's accounts, alerts) and writes the bucket's frames as Parquet parts
into the date's spool folder inside the output folder
(:class:`~healthscore.scoring.spool.Spool`, a staging folder: never seen as outputs,
removed after the write or by the next run after a kill). The driver then merges the
parts as a one-machine bucketed run does (:func:`~healthscore.scoring.buckets.finish_buckets`:
the risk list and alerts in their order, the wide points and changes in key order
with bounded memory) and ``healthscore score`` writes the date as one transaction
(:func:`~healthscore.scoring.outputs.write_date`). The outputs equal a one-machine
run's, row for row (tested on Spark ``local[2]``).

The executors must see ``ROOT``, the model folder and the output folder (a shared
mount such as ``/dbfs/...``; local paths in local mode). The model is loaded once per
Python worker from its folder (:func:`task_model`), checked against the fingerprint
of the model the driver loaded (:mod:`healthscore.scoring.tasks`, which a
local pool of worker processes shares: :mod:`healthscore.scoring.pool`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from healthscore.config import AlertParams, FeatureParams, ScoreParams
from healthscore.io.buckets import read_meta
from healthscore.scoring.buckets import bucket_bounds, finish_buckets
from healthscore.scoring.outputs import DateOutputs, as_of_text
from healthscore.scoring.spool import Spool
from healthscore.scoring.tasks import bucket_task, collect_parts, model_folder_of, resolved, task_model

#: What each task returns: its bucket, the run record of its part (null: nothing
#: scored) and the project error it stopped on (null: none), as ``[class, message]``.
TASK_SCHEMA = "bucket long, run string, error string"


def score_spark(spark: Any, root: str | Path, exported: Any, *, model_dir: str | Path,
                as_of: pd.Timestamp, features: FeatureParams, score: ScoreParams,
                alerts: AlertParams, spool_root: str | Path, previous: Any = None,
                reuse: Any = None, currency: str = "$", lifecycle: Any = None,
                bounds: Any = None) -> DateOutputs:
    """:func:`~healthscore.scoring.buckets.score_bucketed` with each bucket a Spark task.

    Parameters
    ----------
    spark : SparkSession
        Its time zone UTC (:func:`healthscore.features.spark.spark_session`).
    root : path
        The bucketed source, readable by the executors.
    exported : ExportedModel
        The model the driver loaded from ``model_dir`` (its bundle fingerprint is what
        every task checks it loads).
    spool_root : path
        The output folder: the tasks write their parts into the date's spool there.
    previous, reuse : PreviousDate, StoredPoints, optional
        As for ``score_bucketed``; each task reads its bucket's accounts' rows.

    Returns the merged outputs, their points and changes spooled (``outputs.spool``).
    """
    root = str(Path(root).resolve())
    buckets = int(read_meta(root)["buckets"])
    folder_text = model_folder_of(model_dir)
    fingerprint = exported.info.get("bundle_fingerprint")
    spool = Spool(spool_root, as_of_text(as_of))
    where = str(spool.folder.resolve())
    features, chunk_rows = bucket_bounds(features, score, bounds)  # as on one machine
    options = dict(as_of=as_of, features=features, score=score, alerts=alerts,
                   previous=resolved(previous), reuse=resolved(reuse), currency=currency,
                   lifecycle=lifecycle, chunk_rows=chunk_rows)

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = task_model(folder_text, fingerprint)
        for batch in batches:
            buckets_ = batch["id"].astype(int).tolist()
            results = [bucket_task(root, bucket, model, where, options) for bucket in buckets_]
            yield pd.DataFrame({"bucket": batch["id"].astype("int64").to_numpy(),
                                "run": [r for r, _ in results], "error": [e for _, e in results]})

    try:
        # one partition per bucket and no shuffle, so no bucket waits for another's task
        tasks = spark.range(0, buckets, 1, numPartitions=max(buckets, 1)).mapInPandas(run, TASK_SCHEMA)
        parts = collect_parts(spool, [(int(r["bucket"]), r["run"], r["error"]) for r in tasks.collect()],
                              root=root, as_of=as_of)
    except BaseException:
        spool.close()
        raise
    return finish_buckets(parts, exported, spool=spool)
