"""Quality benchmark: the whole pipeline, the model beside its baselines, on any data set.

For each data set: read and validate the tables, build the training set
(:func:`healthscore.dataset.pipeline.build_dataset`, from the timeline or from explicit
cutoffs), train, calibrate and evaluate the model, logistic regression, the rule
scorecard, the base rate and, with simulator ground truth, the oracle. Recorded per
predictor: ROC-AUC, PR-AUC, log loss, Brier, expected calibration error and top-decile
lift on test rows, with the split, row and churn counts; the top global drivers (mean
absolute TreeSHAP in score points and log-odds); the leak check (any feature whose test
AUC on its own, either direction, exceeds 0.95 is flagged); with ground truth, the
oracle ratio and the explanation fidelity (share of churned test renewals with a named
primary cause whose three most hurting families include the cause's family); and the
seed, package versions, machine and the one-line command that reproduces the section.

Two ways to split, never choosing a setting on test rows:

* ``--cv 0`` (default): ``params.split``, out of time, trained by
  :func:`healthscore.model.training.train_models` exactly as ``healthscore train`` does;
* ``--cv N``: scikit-learn's ``TimeSeriesSplit(N)`` over the labelled rows sorted by
  cutoff; in each fold the latest ``model.holdout_share`` of the training part (whole
  cutoff days) is the early-stopping and calibration window, the rest is fitted; a
  fold whose fitted or validation rows lack a class is skipped (and said so). Means and
  per-fold figures are reported. In renewal mode with fewer churned rows than
  ``small_data.max_churned_rows`` (socialnet7-dev), the whole training part is fitted
  instead by inner time-ordered folds (``_quality_small.py``: tree count, calibration,
  logistic settings and the ``selected`` predictor, all on validation rows).

Results go to ``benchmarks/results/quality.md`` and ``quality.json``, one section per
data set name; a run replaces its own sections and keeps the others.

    python benchmarks/quality.py     # the standard sections: simulator (20,000 accounts x 36 months,
                                     # seed 7), socialnet7, socialnet7 tuned per fold
    python benchmarks/quality.py --simulate 20000 --months 36 --seed 7
    python benchmarks/quality.py --data ../shared/data/socialnet7-dev --params configs/socialnet7.yaml --cutoffs ../shared/data/socialnet7-dev/observation.parquet --cv 5
    python benchmarks/quality.py --simulate 300 --months 24 --set model.min_churned_rows=10 --out /tmp/quality   # smoke run
    python benchmarks/quality.py --params my-params.yaml --cv 5    # any data set: its data.source

Simulated data is cached under ``benchmarks/.cache/`` keyed by size, seed and a hash of
the simulator's code.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthscore.config import read_params
from healthscore.io.files import write_text_atomic

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # benchmarks/_common.py, also when this file is imported by path
import _common  # noqa: E402
from _quality_data import CACHE, build, simulated_data  # noqa: E402
from _quality_markdown import checks, render_markdown, render_section  # noqa: E402
from _quality_eval import evaluate_cv, evaluate_split  # noqa: E402

ROOT = HERE.parent
RESULTS = HERE / "results"
SOCIALNET = "../shared/data/socialnet7-dev"
#: The standard sections of a bare run, as command-line arguments.
STANDARD = {
    "simulator": ["--simulate", "20000", "--months", "36", "--seed", "7",
                  "--params", "configs/renewal-task.yaml"],
    "socialnet7": ["--data", SOCIALNET, "--params", "configs/socialnet7.yaml",
                   "--cutoffs", f"{SOCIALNET}/observation.parquet", "--cv", "5"],
    "socialnet7-tuned": ["--data", SOCIALNET, "--params", "configs/socialnet7.yaml",
                         "--cutoffs", f"{SOCIALNET}/observation.parquet", "--cv", "5",
                         "--tune", "--set", "tune.timeout_seconds=0", "--name", "socialnet7-tuned"],
}
#: Column names of other cutoff layouts (fightchurn's ``observation`` table) -> ours.

log = logging.getLogger("quality")


# ----------------------------------------------------------------- per test rows


def run_section(options: argparse.Namespace) -> dict[str, Any]:
    """Build, train and evaluate one data set; the section of the results."""
    params = read_params(options.params, options.overrides)
    truth_path = Path(options.ground_truth) if options.ground_truth else None
    if options.simulate:
        folder = simulated_data(options.simulate, options.months, options.seed, cache=options.cache)
        truth_path = truth_path or folder / "ground_truth.parquet"
        source = f"simulated, {options.simulate:,} accounts x {options.months} months, seed {options.seed}"
    else:
        folder = Path(options.data)
        source = str(options.data)
    params = dataclasses.replace(params, data=dataclasses.replace(params.data, source=str(folder)))
    dataset, data_info = build(params, cutoffs=Path(options.cutoffs) if options.cutoffs else None)
    truth = None
    if truth_path is not None:
        truth = pd.read_parquet(truth_path)
        truth["renewal_date"] = pd.to_datetime(truth["renewal_date"]).astype("datetime64[us]")
        if "cause_at" in truth.columns:
            truth["cause_traced"] = traced_by_cutoff(truth, dataset, truth_path.parent)
    started = time.perf_counter()
    if options.cv:
        figures = evaluate_cv(dataset, params, n_splits=options.cv, truth=truth, tune=options.tune)
    else:
        figures = evaluate_split(dataset, params, truth=truth, tune=options.tune)
    section = {
        "name": options.name, "source": source, "command": reproduce_command(options),
        "recorded_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "params_file": str(options.params) if options.params else None,
        "cutoffs_file": options.cutoffs, "ground_truth": None if truth_path is None else str(truth_path),
        "data": data_info, **figures,
        "train_evaluate_seconds": round(time.perf_counter() - started, 1),
        "seed": {"model.random_state": params.model.random_state,
                 **({"simulator": options.seed} if options.simulate else {})},
        "params": {k: dataclasses.asdict(getattr(params, k)) for k in ("split", "model", "calibration")},
        "tuned_per_split": bool(options.tune),
        "versions": _common.package_versions(), "machine": _common.machine_info(),
    }
    section["bars"] = checks(section)
    return section


def traced_by_cutoff(truth: pd.DataFrame, dataset: pd.DataFrame, folder: Path) -> np.ndarray:
    """Whether each ground-truth decision's cause left its trace in ``folder``'s tables
    by the cutoff of its row in ``dataset`` (False without a row): the fidelity an
    explanation reading the data can reach (:func:`healthscore.model.oracle.cause_traced`)."""
    from healthscore.model.oracle import cause_traced, trace_tables

    keys = ["account_id", "renewal_date"]
    cutoffs = dataset[keys + ["cutoff_time"]].drop_duplicates(keys)
    cutoffs = cutoffs.assign(renewal_date=pd.to_datetime(cutoffs["renewal_date"]).astype("datetime64[us]"))
    rows = truth[keys + ["primary_cause", "cause_at"]].merge(cutoffs, on=keys, how="left")
    return cause_traced(rows, trace_tables(folder))


def reproduce_command(options: argparse.Namespace) -> str:
    """The one-line command that recomputes this section (from the repository root)."""
    args = ["python", "benchmarks/quality.py"]
    if options.simulate:
        args += ["--simulate", str(options.simulate), "--months", str(options.months),
                 "--seed", str(options.seed)]
    else:
        args += ["--data", str(options.data)]
    for flag, value in (("--params", options.params), ("--cutoffs", options.cutoffs),
                        ("--ground-truth", options.ground_truth)):
        if value:
            args += [flag, str(value)]
    if options.cv:
        args += ["--cv", str(options.cv)]
    if options.name != default_name(options):
        args += ["--name", options.name]
    for override in options.overrides:
        args += ["--set", override]
    if options.tune:
        args.append("--tune")
    return shlex.join(args)


def default_name(options: argparse.Namespace) -> str:
    if options.simulate:
        return "simulator"
    return {SOCIALNET: "socialnet7"}.get(str(options.data), Path(options.data).name)


# ---------------------------------------------------------------------- output


def write_results(sections: list[dict[str, Any]], out_dir: Path = RESULTS) -> dict[str, Path]:
    """Merge ``sections`` into ``quality.json`` (by name) and rewrite ``quality.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "quality.json"
    record = {"benchmark": "quality", "sections": {}}
    if path.exists():
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError:
            log.warning("%s is not valid JSON: replaced", path)
        if not isinstance(record.get("sections"), dict):
            record = {"benchmark": "quality", "sections": {}}
    for section in sections:
        record["sections"][section["name"]] = section
    order = [*[n for n in STANDARD if n in record["sections"]],
             *[n for n in record["sections"] if n not in STANDARD]]
    record["sections"] = {n: record["sections"][n] for n in order}
    paths = {"json": path, "md": out_dir / "quality.md"}
    write_text_atomic(json.dumps(record, indent=2, default=str) + "\n", paths["json"])
    write_text_atomic(render_markdown(record), paths["md"])
    return paths


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data", metavar="DIR", help="folder (or .duckdb) of the source tables")
    where.add_argument("--simulate", type=int, metavar="ACCOUNTS",
                       help="simulate this many accounts (cached under benchmarks/.cache/)")
    parser.add_argument("--months", type=int, default=36, help="simulated months (default 36)")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument("--params", default=None, metavar="FILE",
                        help="params.yaml (default: ./params.yaml, else the repository's)")
    parser.add_argument("--cutoffs", default=None, metavar="FILE",
                        help="explicit rows: account_id, cutoff_time[, label] (or fightchurn's "
                             "observation_date, is_churn), Parquet or CSV")
    parser.add_argument("--ground-truth", default=None, metavar="FILE",
                        help="simulator ground truth (.parquet): the oracle and the fidelity")
    parser.add_argument("--cv", type=int, default=0, metavar="N",
                        help="TimeSeriesSplit folds (default 0: params.split)")
    parser.add_argument("--tune", action="store_true",
                        help="tune the model per split on its validation window (params.tune)")
    parser.add_argument("--name", default=None, help="section name (default: the data set's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="override a parameter")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--cache", type=Path, default=CACHE, help="simulated data cache")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    # an all-missing column (socialnet7 has no valued events) is dropped by the logistic
    # baseline's imputer, which says so at every fit
    warnings.filterwarnings("ignore", message="Skipping features without any observed values")
    parser = make_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    first = parser.parse_args(argv)
    if first.data or first.simulate or first.params:
        runs = [first]
        if not (first.data or first.simulate):  # the params file's own data source
            first.data = read_params(first.params, first.overrides).data.source
    else:  # the standard sections, each with the options given
        runs = [parser.parse_args(args + argv) for args in STANDARD.values()]
    sections = []
    for options in runs:
        if options.params is None:
            options.params = "params.yaml" if Path("params.yaml").exists() else str(ROOT / "params.yaml")
        options.name = options.name or default_name(options)
        log.info("quality: %s", reproduce_command(options))
        sections.append(run_section(options))
        print("\n".join(render_section(sections[-1])))
    paths = write_results(sections, options.out)
    print(f"written: {paths['md']} and {paths['json']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
