"""The training set of a bucketed source (:mod:`healthscore.io.buckets`), one bucket in
memory at a time.

Accounts never span buckets and a training row reads only its own account's data, so
each bucket's rows are those one build of the whole source gives its accounts, provided
the few whole-book choices are the same for every bucket. They are made first, in one
cheap pass over the buckets (:func:`survey_buckets`, each bucket read, counted and let
go): the end of the data (``observed_until``, from the source's metadata, as every
bucket is read with it), the first cutoff when ``timeline.start`` is unset
(:func:`~healthscore.dataset.timeline.data_start` of the whole book: for every dated
table its earliest time over all buckets, then the latest of those), and the feature
plan (top event and signal types counted over all buckets, category levels united,
:class:`~healthscore.features.plan.PlanCounts`). Then :func:`build_buckets` builds bucket
after bucket with those choices. The union of the buckets' rows equals
:func:`~healthscore.dataset.pipeline.build_dataset` of the whole source (tested), and
the peak memory is that of one bucket (measured in ``benchmarks/results/``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from healthscore.config import Params
from healthscore.data.tables import Tables
from healthscore.dataset.pipeline import build_dataset, summarize_dataset
from healthscore.dataset.timeline import table_starts
from healthscore.io.buckets import read_bucket, read_meta
from healthscore.io.datasets import fingerprint_tables


@dataclass(frozen=True)
class BookSurvey:
    """The whole-book choices of a bucketed build (module docstring).

    Attributes
    ----------
    buckets : int
        Number of buckets of the source.
    observed_until : Timestamp
        The exclusive end of the data, the same for every bucket.
    book_start : Timestamp or None
        The whole book's ``data_start`` (None: no dated row in any bucket).
    plan : FeaturePlan
        The whole book's feature plan.
    data_fingerprint : str
        A hash of the buckets' table fingerprints, in bucket order (16 hex digits;
        not the fingerprint of the same tables read whole).
    """

    buckets: int
    observed_until: pd.Timestamp
    book_start: pd.Timestamp | None
    plan: Any
    data_fingerprint: str


def survey_buckets(root: str | Path, params: Params, *,
                   progress: Callable[[int, int], None] | None = None) -> BookSurvey:
    """One pass over the buckets of ``root``: the whole-book choices (module docstring).

    ``progress(done, total)`` is called after each bucket.
    """
    from healthscore.features import plan_features
    from healthscore.features.plan import PlanCounts

    meta = read_meta(root)
    buckets = int(meta["buckets"])
    counts = PlanCounts()
    starts: dict[str, pd.Timestamp] = {}
    digest = hashlib.sha256()
    shape: Tables | None = None  # a bucket's tables without rows: the columns of every bucket
    for k in range(buckets):
        tables = read_bucket(root, k)
        counts = counts.merge(PlanCounts.of(tables, params.features))
        for name, first in table_starts(tables).items():
            starts[name] = min(first, starts.get(name, first))
        digest.update(f"{k}:{fingerprint_tables(tables)};".encode())
        if shape is None:
            shape = Tables({name: frame.iloc[:0] for name, frame in tables.frames.items()},
                           tables.observed_until)
        del tables
        if progress is not None:
            progress(k + 1, buckets)
    book_start = pd.Timestamp(max(starts.values())).as_unit("us") if starts else None
    plan = plan_features(shape, params.features, counts=counts)
    return BookSurvey(buckets, pd.Timestamp(meta["observed_until"]), book_start, plan,
                      digest.hexdigest()[:16])


def build_buckets(root: str | Path, params: Params, survey: BookSurvey) -> Iterator[pd.DataFrame]:
    """The training set of each bucket of ``root`` in turn, with ``survey``'s choices:
    :func:`~healthscore.dataset.pipeline.build_dataset`'s columns, rows by cutoff then
    account within the bucket (a bucket without rows gives an empty frame)."""
    for k in range(survey.buckets):
        tables = read_bucket(root, k)
        frame = build_dataset(tables, params, plan=survey.plan, book_start=survey.book_start, part=True)
        del tables
        yield frame
        del frame  # the caller has written it: not held while the next bucket builds


def add_summaries(total: dict[str, Any] | None, part: pd.DataFrame) -> dict[str, Any]:
    """``total`` (a :func:`~healthscore.dataset.pipeline.summarize_dataset` of the
    buckets so far, or None) with one more bucket's rows: counts add up (an account is
    in one bucket only), the cutoff range widens."""
    mine = summarize_dataset(part)
    if total is None:
        return mine
    out = dict(total)
    for key in ("rows", "labelled", "positives", "censored", "accounts"):
        out[key] = total[key] + mine[key]
    for key, pick in (("first_cutoff", min), ("last_cutoff", max)):
        known = [v for v in (total[key], mine[key]) if v is not None]
        out[key] = pick(known) if known else None
    return out
