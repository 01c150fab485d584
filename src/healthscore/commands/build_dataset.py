"""`healthscore build-dataset --data DIR --out FILE [--cutoffs FILE]`: the training set.

Reads the source, builds cutoffs, labels and point-in-time features
(:func:`healthscore.dataset.pipeline.build_dataset`) and writes one Parquet file plus its
provenance sidecar ``<FILE>.meta.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

from pathlib import Path

from healthscore.config import Params
from healthscore.errors import UsageError
from healthscore.io.datasets import sidecar_path, write_dataset
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
                             "the sidecar FILE.meta.json is written beside it")
    parser.add_argument("--cutoffs", default=None, metavar="FILE",
                        help="Parquet or CSV with account_id, cutoff_time and optional label, "
                             "renewal_date: build features for exactly these rows, keeping their "
                             "labels, instead of the timeline's")


def run(args: argparse.Namespace, params: Params) -> int:
    if args.data is not None:
        params = dataclasses.replace(params, data=dataclasses.replace(params.data, source=str(args.data)))
    check_out(args.out)
    started = time.monotonic()
    tables, _report = read_source(params.data)
    log.info("read %s: %d accounts, observed until %s", params.data.source,
             len(tables.accounts), f"{tables.observed_until:%Y-%m-%d}")
    cutoffs = None if args.cutoffs is None else read_cutoffs_file(args.cutoffs)
    frame = build_dataset(tables, params, cutoffs=cutoffs, cutoffs_source=f"cutoffs file {args.cutoffs}",
                          progress=progress_callback(what="build-dataset: features", unit="partitions"))
    meta = dataset_meta(frame, tables, params, source=args.data or params.data.source,
                        cutoffs_file=args.cutoffs)  # the sidecar carries the summary too
    out = write_dataset(frame, args.out, meta=meta)
    seconds = time.monotonic() - started
    print(f"wrote {out} ({meta['rows']:,} rows, {meta['accounts']:,} accounts, "
          f"{len(meta['feature_names'])} features) in {seconds:.1f} s")
    print(f"labels: {meta['labelled']:,} labelled ({meta['positives']:,} churned, "
          f"{meta['labelled'] - meta['positives']:,} retained), "
          f"{meta['censored']:,} censored; cutoffs {meta['first_cutoff'] or '-'} .. "
          f"{meta['last_cutoff'] or '-'}")
    print(f"provenance: {sidecar_path(out)}")
    return 0


def check_out(out: str | Path) -> Path:
    """``--out`` as a path the training set and its sidecar can be written to, checked
    before any work is done.

    Raises
    ------
    UsageError
        ``out`` (or its sidecar path) is a folder, or a folder above it is a file.
    """
    path = Path(out)
    for target in (path, sidecar_path(path)):
        if target.is_dir():
            raise UsageError(f"build-dataset --out {out}: {target} is a folder; expected the "
                             f"training set's file, e.g. --out {path / 'dataset.parquet'}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"build-dataset --out {out}: {parent} is a file, not a folder")
    return path
