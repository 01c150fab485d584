"""The data of ``benchmarks/quality.py``: the simulator's tables cached per size, seed and
simulator code, explicit cutoff rows, and the training set built as ``build-dataset``
builds it."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthscore.config import Params

CACHE = Path(__file__).resolve().parent / ".cache"

log = logging.getLogger("quality")


def simulator_code_hash() -> str:
    """Hash of the simulator's source: a cached data set is rebuilt when it changes."""
    import healthscore.sim

    package = Path(healthscore.sim.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def simulated_data(accounts: int, months: int, seed: int, *, cache: Path = CACHE,
                   oracle_horizon_days: int | None = None,
                   oracle_expansion_increase: float | None = None) -> Path:
    """The simulator's tables (and ``ground_truth``) for this size and seed, cached;
    with ``oracle_horizon_days`` (and ``oracle_expansion_increase``) the oracle too
    (the other tables are the same bytes)."""
    from healthscore.sim.simulate import SimulationSpec, write_simulation

    extra = "" if oracle_horizon_days is None else f"-o{oracle_horizon_days}"
    extra += "" if oracle_expansion_increase is None else f"-e{oracle_expansion_increase:g}"
    folder = cache / f"quality-sim-{accounts}x{months}-s{seed}{extra}-{simulator_code_hash()}"
    if (folder / "ground_truth.parquet").exists():
        return folder
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    started = time.perf_counter()
    write_simulation(SimulationSpec(n_accounts=accounts, months=months, seed=seed,
                                    oracle_horizon_days=oracle_horizon_days,
                                    oracle_expansion_increase=oracle_expansion_increase), staging)
    staging.rename(folder)
    log.info("simulated %d accounts x %d months in %.0f s", accounts, months,
             time.perf_counter() - started)
    return folder


def read_cutoffs(path: Path) -> pd.DataFrame:
    """Explicit rows, read as ``build-dataset --cutoffs`` reads them: ``account_id``,
    ``cutoff_time``, optional ``label`` (and ``renewal_date``); fightchurn's
    ``observation_date`` / ``is_churn`` are renamed to those."""
    from healthscore.io.files import read_cutoffs_file

    from healthscore.dataset.timeline import CUTOFF_ALIASES

    frame = read_cutoffs_file(path)
    if "cutoff_time" not in frame.columns:
        frame = frame.rename(columns=CUTOFF_ALIASES)
    if "label" in frame.columns and pd.api.types.is_bool_dtype(frame["label"]):
        frame["label"] = frame["label"].astype(np.int8)
    return frame


def build(params: Params, *, cutoffs: Path | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read, validate and build the training set of ``params.data.source``."""
    from healthscore.io.sources import read_source
    from healthscore.dataset.pipeline import build_dataset, summarize_dataset
    from healthscore.dataset.timeline import check_cutoffs

    started = time.perf_counter()
    tables, _ = read_source(params.data)
    rows = None
    if cutoffs is not None:
        rows = check_cutoffs(read_cutoffs(cutoffs), tables, source=f"cutoffs file {cutoffs}")
    dataset = build_dataset(tables, params, cutoffs=rows)
    summary = summarize_dataset(dataset)
    info = {k: summary[k] for k in ("rows", "labelled", "positives", "censored", "accounts",
                                    "first_cutoff", "last_cutoff")}
    info |= {"features": len(summary["feature_names"]),
             "build_seconds": round(time.perf_counter() - started, 1)}
    return dataset, info
