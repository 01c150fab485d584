"""Scoring a bucketed source with several buckets at once, in worker processes of this
machine (``params.buckets.workers``).

Most of a bucket's scoring (reading, validating, the feature build, the outputs) runs
on one core; with ``workers`` processes, that many buckets are scored at once. Each
worker is a task as on Spark (:mod:`healthscore.scoring.tasks`): it loads the model
once from its folder, scores the buckets it is given and writes their parts into the
date's spool folder; the run's process merges them as a one-machine bucketed run does
(:func:`~healthscore.scoring.buckets.finish_buckets`), so the outputs are the same, row
for row (tested). Workers start by ``spawn`` (a fresh interpreter: no fork of a process
whose LightGBM threads have run) and split the machine's cores between their LightGBM
predictions.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, ContextManager

import pandas as pd

from healthscore.io.buckets import read_meta
from healthscore.progress import Progress
from healthscore.scoring.buckets import bucket_bounds, finish_buckets
from healthscore.scoring.outputs import DateOutputs, as_of_text
from healthscore.scoring.spool import Spool
from healthscore.errors import HealthscoreError
from healthscore.scoring.tasks import (
    bucket_task, collect_parts, model_folder_of, project_error, resolved, task_model,
)

_WORKER: dict[str, Any] = {}


def score_pool(root: str | Path, exported: Any, *, model_dir: str | Path, workers: int,
               as_of: pd.Timestamp, features: Any, score: Any, alerts: Any,
               spool_root: str | Path, previous: Any = None, reuse: Any = None,
               currency: str = "$", lifecycle: Any = None, bounds: Any = None,
               prepare: Callable[[Any], ContextManager[Any]] | None = None) -> DateOutputs:
    """:func:`~healthscore.scoring.buckets.score_bucketed` with ``workers`` buckets at once,
    each in a worker process.

    Parameters
    ----------
    model_dir : path
        The folder ``exported`` was loaded from; each worker loads it and checks its
        bundle fingerprint (a ``models:/`` URI is refused: export it first).
    workers : int
        Worker processes (at most one per bucket).
    spool_root : path
        The output folder: the workers write their parts into the date's spool there.
    prepare : callable, optional
        ``previous`` -> a context manager of what the buckets read of it (the per-bucket
        split of its files, :func:`healthscore.commands.score.split_previous_of`),
        entered while the workers start and left once they have stopped.

    Other parameters are :func:`~healthscore.scoring.buckets.score_bucketed`'s. Returns
    the merged outputs, their points and changes spooled (``outputs.spool``).
    """
    root = str(Path(root).resolve())
    buckets = int(read_meta(root)["buckets"])
    folder = model_folder_of(model_dir, where="a run with buckets.workers above 1")
    fingerprint = exported.info.get("bundle_fingerprint")
    spool = Spool(spool_root, as_of_text(as_of))
    where = str(spool.folder.resolve())
    features, chunk_rows = bucket_bounds(features, score, bounds)
    workers = max(1, min(int(workers), buckets))
    threads = max(1, (os.cpu_count() or 1) // workers)
    results = []
    try:
        # the split's parts are removed after the pool has shut down (its workers read them)
        with contextlib.ExitStack() as split, ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(folder, fingerprint, threads)) as pool:
            # the workers start (interpreter, imports, model) while the previous date is split
            started = [pool.submit(_ready) for _ in range(workers)]
            prepared = previous if prepare is None else split.enter_context(prepare(previous))
            options = dict(as_of=as_of, features=features, score=score, alerts=alerts,
                           previous=resolved(prepared), reuse=resolved(reuse), currency=currency,
                           lifecycle=lifecycle, chunk_rows=chunk_rows)
            pending = {pool.submit(_score_one, root, k, where, options) for k in range(buckets)}
            try:
                for future in started:  # a worker that could not load the model: its error, one line
                    failed = future.result()
                    if failed is not None:
                        raise project_error(failed[0], f"a worker process of {folder}: {failed[1]}")
                with Progress(buckets, what="score", unit="buckets") as bar:
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        results += [future.result() for future in done]  # a worker's crash raises here
                        bar.advance(len(done))
                        if any(error is not None for _, _, error in results):
                            break  # a bucket's error ends the run: the buckets not started are not
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        parts = collect_parts(spool, results, root=root, as_of=as_of)
    except BaseException:
        spool.close()
        raise
    outputs = finish_buckets(parts, exported, spool=spool)
    outputs.run = {**outputs.run, "workers": workers}  # how it ran: that many buckets at once
    return outputs


def _start_worker(folder: str, fingerprint: str | None, threads: int) -> None:
    """A worker's start: the model loaded once, its LightGBM threads set to its share
    of the cores. A project error (the folder holds another model now) is kept for
    :func:`_ready` to return: raised here, it would break the pool, and the run would
    end on ``BrokenProcessPool`` instead of the error."""
    _WORKER.update(folder=folder, fingerprint=fingerprint, error=None)
    try:
        exported = task_model(folder, fingerprint)
    except HealthscoreError as exc:
        _WORKER["error"] = (type(exc).__name__, str(exc))
        return
    estimator = exported.model  # the LightGBM model (None: the rule scorecard)
    if estimator is not None:
        estimator.n_jobs = threads


def _ready() -> tuple[str, str] | None:
    """The error this worker's start stopped on (class name, message), or None."""
    return _WORKER["error"]


def _score_one(root: str, bucket: int, where: str, options: dict[str, Any]) -> tuple[int, str | None, str | None]:
    if _WORKER["error"] is not None:  # no model here: the run stops on its start's error
        return bucket, None, json.dumps(list(_WORKER["error"]))
    model = task_model(_WORKER["folder"], _WORKER["fingerprint"])
    run, error = bucket_task(root, bucket, model, where, options)
    return bucket, run, error
