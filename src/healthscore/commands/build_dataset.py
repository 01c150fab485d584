"""`healthscore build-dataset --data DIR --out FILE [--cutoffs FILE]`: the training set.

Reads the source, builds cutoffs, labels and point-in-time features
(:func:`healthscore.dataset.pipeline.build_dataset`) and writes one Parquet file plus its
provenance sidecar ``<FILE>.meta.json``. A bucketed source (``ROOT/buckets.json``,
:mod:`healthscore.io.buckets`) is built bucket by bucket
(:mod:`healthscore.dataset.buckets`), one bucket in memory at a time, into a folder of
parts ``FILE/part-<k>.parquet`` with the same sidecar; ``train --data FILE`` reads
either.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

from pathlib import Path

from healthscore.config import Params
from healthscore.errors import UsageError
from healthscore.io.buckets import is_bucketed
from healthscore.io.datasets import PARTS, DatasetParts, sidecar_path, write_dataset
from healthscore.io.files import read_cutoffs_file
from healthscore.io.sources import read_source
from healthscore.progress import progress_callback
from healthscore.dataset.pipeline import build_dataset, dataset_meta

log = logging.getLogger("healthscore.build_dataset")

DEFAULT_OUT = "data/dataset.parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, metavar="DIR_OR_DB",
                        help="folder of .parquet/.csv tables, a .duckdb file or a postgresql:// URI (default: data.source)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="FILE",
                        help=f"training set to write, Parquet (default: {DEFAULT_OUT}); "
                             "the sidecar FILE.meta.json is written beside it; from a bucketed "
                             "source (ROOT/buckets.json) a folder FILE/ of parts, one bucket at a time")
    parser.add_argument("--cutoffs", default=None, metavar="FILE",
                        help="Parquet or CSV with account_id, cutoff_time and optional label, "
                             "renewal_date: build features for exactly these rows, keeping their "
                             "labels, instead of the timeline's")


def run(args: argparse.Namespace, params: Params) -> int:
    if args.data is not None:
        params = dataclasses.replace(params, data=dataclasses.replace(params.data, source=str(args.data)))
    started = time.monotonic()
    if is_bucketed(params.data.source):
        if args.cutoffs is not None:
            raise UsageError(f"build-dataset --cutoffs: not for a bucketed source ({params.data.source}); "
                             "build from the same data as one folder, or leave --cutoffs out")
        check_out(args.out, parts=True)
        meta = build_bucketed(params.data.source, args.out, params)
        print_summary(args.out, meta, time.monotonic() - started)
        return 0
    check_out(args.out)
    tables, _report = read_source(params.data)
    log.info("read %s: %d accounts, observed until %s", params.data.source,
             len(tables.accounts), f"{tables.observed_until:%Y-%m-%d}")
    cutoffs = None if args.cutoffs is None else read_cutoffs_file(args.cutoffs)
    frame = build_dataset(tables, params, cutoffs=cutoffs, cutoffs_source=f"cutoffs file {args.cutoffs}",
                          progress=progress_callback(what="build-dataset: features", unit="partitions"))
    meta = dataset_meta(frame, tables, params, source=args.data or params.data.source,
                        cutoffs_file=args.cutoffs)  # the sidecar carries the summary too
    out = write_dataset(frame, args.out, meta=meta)
    print_summary(out, meta, time.monotonic() - started)
    return 0


def build_bucketed(root: str, out: str | Path, params: Params) -> dict:
    """The training set of a bucketed source, bucket by bucket, written in parts at
    ``out``; returns its sidecar."""
    from healthscore.dataset.buckets import add_summaries, build_buckets, survey_buckets
    from healthscore.dataset.pipeline import make_dataset_meta, why_empty
    from healthscore.errors import DataError
    from healthscore.progress import Progress

    survey = survey_buckets(root, params,
                            progress=progress_callback(what="build-dataset: survey", unit="buckets"))
    log.info("read %s: %d buckets, observed until %s", root, survey.buckets,
             f"{survey.observed_until:%Y-%m-%d}")
    summary = None
    with DatasetParts(out) as parts:
        with Progress(survey.buckets, what="build-dataset", unit="buckets") as bar:
            for frame in build_buckets(root, params, survey):
                parts.add(frame)
                summary = add_summaries(summary, frame)
                del frame  # before the next bucket is read: one bucket in memory
                bar.advance()
        if not summary or not summary["rows"]:
            raise DataError(why_empty(params, explicit=False))
        summary["feature_names"] = list(survey.plan.feature_names)
        meta = make_dataset_meta(summary, params, source=root, data_fingerprint=survey.data_fingerprint,
                                 observed_until=survey.observed_until, buckets=survey.buckets)
        parts.commit(meta)
    return {**meta, "layout": PARTS}


def print_summary(out: str | Path, meta: dict, seconds: float) -> None:
    print(f"wrote {out} ({meta['rows']:,} rows, {meta['accounts']:,} accounts, "
          f"{len(meta['feature_names'])} features) in {seconds:.1f} s")
    print(f"labels: {meta['labelled']:,} labelled ({meta['positives']:,} churned, "
          f"{meta['labelled'] - meta['positives']:,} retained), "
          f"{meta['censored']:,} censored; cutoffs {meta['first_cutoff'] or '-'} .. "
          f"{meta['last_cutoff'] or '-'}")
    print(f"provenance: {sidecar_path(out)}")


def check_out(out: str | Path, *, parts: bool = False) -> Path:
    """``--out`` as a path the training set and its sidecar can be written to, checked
    before any work is done.

    Raises
    ------
    UsageError
        ``out`` (or its sidecar path) is a folder, or a folder above it is a file.
        ``parts`` (a bucketed build writes a folder of parts): ``out`` may be such a
        folder written before (its sidecar says so) or an empty one, nothing else.
    """
    path = Path(out)
    if parts and path.is_dir() and any(path.iterdir()) and not _holds_parts(path):
        raise UsageError(f"build-dataset --out {out}: {path} is a folder that holds no training set "
                         f"in parts (no {sidecar_path(path).name} saying so); refusing to replace it")
    for target in (path, sidecar_path(path)):
        if target.is_dir() and not (parts and target == path):
            raise UsageError(f"build-dataset --out {out}: {target} is a folder; expected the "
                             f"training set's file, e.g. --out {path / 'dataset.parquet'}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"build-dataset --out {out}: {parent} is a file, not a folder")
    return path


def _holds_parts(path: Path) -> bool:
    import json

    try:
        return json.loads(sidecar_path(path).read_text()).get("layout") == PARTS
    except (OSError, ValueError):
        return False
