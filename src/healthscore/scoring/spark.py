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
of the model the driver loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from healthscore.config import AlertParams, FeatureParams, ScoreParams
from healthscore.errors import HealthscoreError, ModelError, NoActiveAccountsError
from healthscore.io.buckets import read_meta
from healthscore.io.files import json_text
from healthscore.scoring.buckets import bucket_bounds, finish_buckets, score_bucket
from healthscore.scoring.outputs import DateOutputs, as_of_text
from healthscore.scoring.spool import SPOOLED, Spool, write_part

#: The frames a task writes besides the spooled ones (one narrow row per account).
NARROW = ("risk_list", "history", "alerts")
#: What each task returns: its bucket, the run record of its part (null: nothing
#: scored) and the project error it stopped on (null: none), as ``[class, message]``.
TASK_SCHEMA = "bucket long, run string, error string"

_MODELS: dict[tuple[str, str | None], Any] = {}


def task_model(folder: str, fingerprint: str | None) -> Any:
    """The exported model of ``folder``, loaded once per Python worker and kept.

    Raises
    ------
    ModelError
        The folder now holds another model than the driver loaded (``fingerprint``,
        the bundle's): it changed during the run.
    """
    key = (folder, fingerprint)
    if key not in _MODELS:
        from healthscore.model.export import load_exported

        exported = load_exported(folder)
        found = exported.info.get("bundle_fingerprint")
        if found != fingerprint:
            raise ModelError(f"{folder}: the model folder holds bundle {found}, the driver loaded "
                             f"{fingerprint}; was it promoted during the run? Score again")
        _MODELS[key] = exported
    return _MODELS[key]


def model_folder_of(model: Any) -> str:
    """The model folder a Spark run's tasks load (an absolute path).

    Raises
    ------
    ModelError
        A registry URI: the executors load a folder; export the champion
        (``healthscore promote``) to a folder they can read.
    """
    from healthscore.model.export import is_model_uri

    if is_model_uri(str(model)):
        raise ModelError(f"--model {model}: a Spark run loads the model in its tasks from a folder; "
                         "pass the exported model folder (healthscore promote exports it) on a path "
                         "the executors can read")
    return str(Path(model).resolve())


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
                   previous=_resolved(previous), reuse=_resolved(reuse), currency=currency,
                   lifecycle=lifecycle, chunk_rows=chunk_rows)

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = task_model(folder_text, fingerprint)
        for batch in batches:
            done, failed = [], []
            for bucket in batch["id"].astype(int).tolist():
                try:
                    part = score_bucket(root, bucket, model, **options)
                except HealthscoreError as exc:  # the driver raises it again, in one line
                    part, error = None, json.dumps([type(exc).__name__, str(exc)])
                else:
                    error = None
                if part is not None:
                    for kind in (*SPOOLED, *NARROW):
                        write_part(Path(where), kind, getattr(part, kind), bucket)
                    if part.people is not None:  # a source with contacts
                        write_part(Path(where), "people", part.people, bucket)
                done.append(None if part is None else json_text(dict(part.run)))
                failed.append(error)
            yield pd.DataFrame({"bucket": batch["id"].astype("int64").to_numpy(), "run": done,
                                "error": failed})

    try:
        # one partition per bucket and no shuffle, so no bucket waits for another's task
        tasks = spark.range(0, buckets, 1, numPartitions=max(buckets, 1)).mapInPandas(run, TASK_SCHEMA)
        rows = sorted(tasks.collect(), key=lambda r: int(r["bucket"]))
        for row in rows:
            if row["error"] is not None:
                raise _task_error(int(row["bucket"]), root, *json.loads(row["error"]))
        done = [(int(r["bucket"]), r["run"]) for r in rows]
        parts = [_read_part(spool, bucket, run_text, as_of) for bucket, run_text in done
                 if run_text is not None]
        if not parts:
            raise NoActiveAccountsError(f"no account is active on {as_of:%Y-%m-%d} in any bucket of {root}")
    except BaseException:
        spool.close()
        raise
    return finish_buckets(parts, exported, spool=spool)


def _task_error(bucket: int, root: str, kind: str, message: str) -> HealthscoreError:
    """The project error a task stopped on, naming the bucket: of its own class, or of
    the nearest base that takes a message alone (``ValidationError`` -> ``DataError``)."""
    from healthscore import errors

    found = getattr(errors, kind, None)
    cls = found if isinstance(found, type) and issubclass(found, HealthscoreError) else HealthscoreError
    cls = next(c for c in cls.__mro__ if c.__init__ is Exception.__init__)
    return cls(f"bucket {bucket} of {root}: {message}")


def _read_part(spool: Spool, bucket: int, run_text: str, as_of: pd.Timestamp) -> DateOutputs:
    """One task's part: its spooled frames adopted by ``spool``, its narrow ones read."""
    path = {kind: spool.folder / kind / f"part-{bucket:05d}.parquet" for kind in (*SPOOLED, *NARROW)}
    for kind in SPOOLED:
        spool.adopt(kind, path[kind])
    narrow = {kind: pd.read_parquet(path[kind]) for kind in NARROW}
    people = spool.folder / "people" / f"part-{bucket:05d}.parquet"
    return DateOutputs(pd.Timestamp(as_of), narrow["risk_list"], narrow["history"], None, None,
                       narrow["alerts"], json.loads(run_text),
                       people=pd.read_parquet(people) if people.exists() else None)


def _resolved(stored: Any) -> Any:
    """A :class:`~healthscore.scoring.history.PreviousDate` or ``StoredPoints`` whose
    output folder is an absolute path (the tasks may run in another folder); anything
    else as it is."""
    import dataclasses

    from healthscore.scoring.outputs import OutputLayout

    if dataclasses.is_dataclass(stored) and isinstance(getattr(stored, "layout", None), OutputLayout):
        return dataclasses.replace(stored, layout=OutputLayout(stored.layout.root.resolve()))
    return stored
