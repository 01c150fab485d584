"""Scoring a bucketed source (:mod:`healthscore.io.buckets`) one bucket at a time.

Every scoring output is per account, so `score` reads one bucket at a time, and the
previous date's rows of that bucket's accounts only (:class:`~healthscore.scoring.history.PreviousDate`).
The wide frames (points, why it changed) go to disk as each bucket is scored
(:class:`~healthscore.scoring.spool.Spool`) and are merged into the date's files when it
is written; the per-account rows of the risk list, history and alerts stay (one narrow
row per account). The outputs equal those of one run over the whole source (tested).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.config import FeatureParams
from healthscore.config.buckets import BucketParams
from healthscore.errors import NoActiveAccountsError
from healthscore.io.buckets import read_bucket, read_meta
from healthscore.memory import release_memory
from healthscore.progress import progress
from healthscore.scoring.alerts import sort_alerts
from healthscore.scoring.engine import arr_ranges, level_sd_of, score_date
from healthscore.scoring.outputs import DateOutputs, as_of_text
from healthscore.scoring.risk_list import sort_risk_list
from healthscore.scoring.spool import SPOOLED, Spool

#: The risk list's columns the book-level ARR range reads (engine.arr_ranges).
RANGE_COLUMNS = ["arr", "risk_proba", "segment", "owner"]


def score_bucketed(root: str | Path, exported: Any, *, as_of: pd.Timestamp, features: FeatureParams,
                   score: Any, alerts: Any, previous: Any = None, reuse: Any = None,
                   currency: str = "$", spool_root: str | Path | None = None,
                   lifecycle: Any = None, bounds: BucketParams | None = None) -> DateOutputs:
    """:func:`~healthscore.scoring.score_date` one bucket at a time, merged.

    Parameters
    ----------
    previous : Previous or PreviousDate, optional
        The last scoring before ``as_of``; its ``for_accounts(ids)`` gives one bucket's.
    reuse : DataFrame or StoredPoints, optional
        Stored points for incremental scoring (a frame is cut per bucket, a
        ``StoredPoints`` read per bucket).
    spool_root : path, optional
        The output folder: with it, the points and changes of each bucket are spooled
        there (the returned outputs' ``spool``; ``points`` and ``changes`` are None until
        read, :meth:`~healthscore.scoring.outputs.DateOutputs.read_points`), else kept
        in memory and concatenated.
    bounds : BucketParams, optional
        At most how many accounts a feature partition and how many rows an explained
        chunk hold within a bucket (``params.buckets``; default its defaults).
    """
    features, chunk_rows = bucket_bounds(features, score, bounds)
    buckets = int(read_meta(root)["buckets"])
    spool = None if spool_root is None else Spool(spool_root, as_of_text(as_of))
    parts = []
    try:
        for k in progress(range(buckets), what="score", unit="buckets"):
            part = score_bucket(root, k, exported, as_of=as_of, features=features, score=score,
                                alerts=alerts, previous=previous, reuse=reuse, currency=currency,
                                lifecycle=lifecycle, chunk_rows=chunk_rows)
            if part is None:
                continue
            if spool is not None:
                for kind in SPOOLED:
                    spool.add(kind, getattr(part, kind))
                    setattr(part, kind, None)
            parts.append(part)
            release_memory()  # the bucket's frames are gone: their pages go back too
        if not parts:
            raise NoActiveAccountsError(f"no account is active on {as_of:%Y-%m-%d} in any bucket of {root}")
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    return finish_buckets(parts, exported, spool=spool)


def bucket_bounds(features: FeatureParams, score: Any, bounds: BucketParams | None) -> tuple[FeatureParams, int]:
    """The feature params and explained chunk size of one bucket: at most
    ``bounds.partition_accounts`` accounts a feature partition and ``bounds.chunk_rows``
    rows a chunk (``params.buckets``; default its defaults): the same outputs, a lower peak."""
    bounds = bounds or BucketParams()
    if features.partition_accounts > bounds.partition_accounts:
        features = dataclasses.replace(features, partition_accounts=bounds.partition_accounts)
    return features, min(int(score.chunk_rows), int(bounds.chunk_rows))


def score_bucket(root: str | Path, bucket: int, exported: Any, *, as_of: pd.Timestamp,
                 features: FeatureParams, score: Any, alerts: Any, previous: Any = None,
                 reuse: Any = None, currency: str = "$", lifecycle: Any = None,
                 chunk_rows: int | None = None) -> DateOutputs | None:
    """:func:`~healthscore.scoring.score_date` of one bucket's accounts, against the
    previous date's rows of those accounts (``previous.for_accounts``); None when the
    bucket has no account, or none active on ``as_of``. What each bucket of
    :func:`score_bucketed` runs, on one machine or as a Spark task
    (:mod:`healthscore.scoring.spark`)."""
    tables = read_bucket(root, bucket)
    ids = pd.Index(tables.accounts["account_id"])
    if ids.empty:
        return None
    prev = None if previous is None else previous.for_accounts(ids)
    mine = None if reuse is None else (reuse.for_accounts(ids) if hasattr(reuse, "for_accounts")
                                       else reuse[reuse["account_id"].isin(ids)])
    try:
        part = score_date(tables, exported, as_of=as_of, features=features, score=score,
                          alerts=alerts, previous=prev, reuse=mine, currency=currency,
                          book_ranges=False, lifecycle=lifecycle, chunk_rows=chunk_rows)
    except NoActiveAccountsError:
        return None  # a bucket with no customer on that date
    from healthscore.scoring.people import make_people

    # the people behind the score (a source with contacts), as one run over the source
    part.people = make_people(tables, as_of, window_days=features.contacts.window_days)
    return part


def finish_buckets(parts: list[DateOutputs], exported: Any, *, spool: Spool | None) -> DateOutputs:
    """The buckets' outputs merged (:func:`merge_outputs`), with the spool of their
    points and changes (or None: in memory) and the book's ARR-at-risk ranges."""
    try:
        outputs = merge_outputs(parts)
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    outputs.spool = spool
    ranges = arr_ranges(outputs.risk_list.loc[:, RANGE_COLUMNS], logit_sd=level_sd_of(exported))
    outputs.run = {**outputs.run, "arr_at_risk": ranges}
    return outputs


def merge_outputs(parts: list[DateOutputs]) -> DateOutputs:
    """One :class:`~healthscore.scoring.outputs.DateOutputs` from per-bucket ones, in the
    order one run gives (per-account frames by account, as the cutoffs come); a frame
    the parts spooled (None) stays None."""

    def cat(name: str) -> pd.DataFrame | None:
        frames = [getattr(p, name) for p in parts]
        if any(f is None for f in frames):
            return None
        return pd.concat(frames, ignore_index=True)

    def by_account(frame: pd.DataFrame | None, *then: str) -> pd.DataFrame | None:
        if frame is None:
            return None
        return frame.sort_values(["account_id", *then], kind="stable").reset_index(drop=True)

    run = dict(parts[0].run)
    counts = {key: sum(int(p.run["counts"].get(key, 0)) for p in parts) for key in run["counts"]}
    timings = {key: sum(float(p.run.get("timings", {}).get(key, 0.0)) for p in parts)
               for key in run.get("timings", {})}
    run.update(counts=counts, timings=timings, buckets=len(parts))
    people = [p.people for p in parts if p.people is not None]
    return DateOutputs(parts[0].as_of, sort_risk_list(cat("risk_list")), by_account(cat("history")),
                       by_account(cat("points")), by_account(cat("changes"), "rank"),
                       sort_alerts(cat("alerts")), run,
                       # each bucket's in the whole run's order within an account
                       people=by_account(pd.concat(people, ignore_index=True)) if people else None)
