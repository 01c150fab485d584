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
from typing import Any, Sequence

import numpy as np
import pandas as pd

from healthscore.config import Params, read_params
from healthscore.errors import DataError
from healthscore.io.files import write_text_atomic

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # benchmarks/_common.py, also when this file is imported by path
import _common  # noqa: E402
from _quality_data import CACHE, build, simulated_data  # noqa: E402
from _quality_markdown import METRICS, checks, render_markdown, render_section  # noqa: E402
import _quality_small  # noqa: E402

ROOT = HERE.parent
RESULTS = HERE / "results"
PREDICTORS = ("model", "selected", "logistic", "scorecard", "base_rate", "oracle")
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


def analyse_test(exported: Any, *, fit: pd.DataFrame, test: pd.DataFrame, names: list[str], features: Any,
                 truth: pd.DataFrame | None, profile: Sequence[str] = ()) -> dict[str, Any]:
    """Drivers (sums over rows), single-feature AUCs and family points of test rows."""
    from healthscore.scoring.drivers import explain_families
    from healthscore.model.evaluation import global_drivers, single_feature_auc
    from healthscore.model.export import catalogue_dict

    y_test = test["label"].to_numpy(dtype=np.int64)
    out: dict[str, Any] = {
        "leak": single_feature_auc(test[names], y_test, X_train=fit[names],
                                   y_train=fit["label"].to_numpy(dtype=np.int64)),
        "rows": len(test),
    }
    if exported.model is not None:  # sums, so folds pool by rows
        # contributions to the calibrated logit (Platt slope a times the raw margin's),
        # so log-odds and points mean the same in every fold
        model = exported.model
        calibrated = model.contributions(test[names]) * model.calibrator_.a
        drivers = global_drivers(calibrated, names, points_per_logit=exported.scale.factor)
        out["drivers"] = drivers.set_index("feature")[
            ["mean_abs_logit", "mean_logit", "mean_abs_points"]] * len(test)
    if truth is not None and {"primary_cause", "cause_family"} <= set(truth.columns):
        catalogue = catalogue_dict(names, features=features, frame=test)
        out["families"] = explain_families(exported, test, catalogue=catalogue, profile=profile)
    return out


def pool(parts: list[dict[str, Any]], truth: pd.DataFrame | None, names: list[str], *,
         features: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """Drivers, leak check and fidelity over the test rows of every fold."""
    from healthscore.scoring.drivers import catalogue_entry, cause_fidelity
    from healthscore.model.evaluation import LEAK_AUC
    from healthscore.model.export import catalogue_dict

    out: dict[str, Any] = {}
    rows = sum(p["rows"] for p in parts)
    with_drivers = [p for p in parts if "drivers" in p]
    if with_drivers:
        drivers = sum(p["drivers"] for p in with_drivers) / sum(p["rows"] for p in with_drivers)
        drivers["share"] = drivers["mean_abs_logit"] / drivers["mean_abs_logit"].sum()
        drivers = drivers.sort_values("mean_abs_logit", ascending=False, kind="stable")
        catalogue = catalogue_dict(names, features=features, frame=frame)
        out["drivers"] = [
            {"feature": name, "label": catalogue_entry(catalogue, name)["label"],
             "family": catalogue_entry(catalogue, name)["family"],
             **{k: round(float(v), 5) for k, v in row.items()}}
            for name, row in drivers.head(25).iterrows()
        ]
    leak = pd.concat([p["leak"] for p in parts]).groupby("feature", sort=False).agg(
        auc=("auc", "mean"), max_fold_auc=("auc", "max"), missing_share=("missing_share", "mean"))
    leak = leak.sort_values("auc", ascending=False, na_position="last")
    out["leak_check"] = {
        "threshold": LEAK_AUC,
        "over": "mean over folds" if len(parts) > 1 else "test rows",
        "flagged": [n for n, a in leak["auc"].items() if a > LEAK_AUC],
        "above_in_a_fold": [n for n, a in leak["max_fold_auc"].items() if a > LEAK_AUC],
        "auc": {n: _round(a) for n, a in leak["auc"].items()},
        "max_fold_auc": {n: _round(a) for n, a in leak["max_fold_auc"].items()},
    }
    families = [p["families"] for p in parts if "families" in p]
    if families and truth is not None:
        points = pd.concat(families, ignore_index=True)
        named = truth.loc[truth["churned"].astype(bool) & truth["primary_cause"].notna(),
                          ["account_id", "renewal_date"]]
        out["fidelity"] = _round(cause_fidelity(points, truth))
        out["fidelity_renewals"] = int(len(named.merge(points[["account_id", "renewal_date"]])))
    out["test_rows"] = rows
    return out


# ----------------------------------------------------------------------- splits


def evaluate_split(dataset: pd.DataFrame, params: Params, *, truth: pd.DataFrame | None,
                   tune: bool) -> dict[str, Any]:
    """``params.split``, trained and evaluated by ``train_models``."""
    from healthscore.model.split import split_by_time
    from healthscore.model.training import train_models

    result = train_models(dataset, split=params.split, model=params.model,
                          calibration=params.calibration, scorecard=params.scorecard,
                          score=params.score, ground_truth=truth,
                          tune=params.tune if tune else None, small_data=params.small_data)
    train, _, test = split_by_time(dataset, params.split)
    names = result.feature_names
    overall = result.metrics.query("segment == 'all'").set_index("predictor")
    table = {p: {m: _round(overall.loc[p, m]) for m in METRICS} for p in PREDICTORS
             if p in overall.index}
    counts = [{**row, "first_cutoff": str(row["first_cutoff"])[:10],
               "last_cutoff": str(row["last_cutoff"])[:10]}
              for row in result.counts.to_dict(orient="records")]
    part = analyse_test(result.exported, fit=train, test=test, names=names, truth=truth,
                        features=params.features, profile=params.score.profile_features)
    return {"split": {"kind": "params.split", **result.windows.describe(),
                      "test_months": params.split.test_months,
                      "validation_months": params.split.validation_months},
            "counts": counts, "table": table, "auc_to_oracle": _round(result.oracle_auc_ratio),
            "trees": None if result.model is None else result.model.best_iteration_,
            "tuned": None if result.tuning is None else dataclasses.asdict(result.model_params),
            "selection": None if result.selection is None else result.selection.reason,
            **pool([part], truth, names, features=params.features, frame=test)}


def time_series_folds(dataset: pd.DataFrame, n_splits: int, *, holdout_share: float):
    """``(fit, validation, test)`` frames of each ``TimeSeriesSplit`` fold, oldest first."""
    from sklearn.model_selection import TimeSeriesSplit

    labelled = dataset.loc[dataset["label"].notna()].sort_values(
        ["cutoff_time", "account_id"], kind="stable").reset_index(drop=True)
    if len(labelled) <= n_splits:
        raise DataError(f"--cv {n_splits}: only {len(labelled)} labelled row(s)")
    for train_idx, test_idx in TimeSeriesSplit(n_splits=n_splits).split(labelled):
        train = labelled.iloc[train_idx]
        cutoffs = train["cutoff_time"].to_numpy()
        start = cutoffs[len(train) - max(1, int(np.ceil(len(train) * holdout_share)))]
        later = cutoffs >= start  # whole cutoff days: no day in both windows
        yield train.loc[~later], train.loc[later], labelled.iloc[test_idx]


def evaluate_cv(dataset: pd.DataFrame, params: Params, *, n_splits: int,
                truth: pd.DataFrame | None, tune: bool) -> dict[str, Any]:
    """``TimeSeriesSplit`` folds; each mirrors ``train_models`` on its own windows."""
    from healthscore.model.baselines import BaseRateBaseline, LogisticBaseline, RuleScorecard
    from healthscore.model.estimator import HealthScoreModel
    from healthscore.model.evaluation import metrics_table
    from healthscore.model.export import ExportedModel
    from healthscore.model.scale import HealthScale
    from healthscore.model.oracle import oracle_risk
    from healthscore.model.training import feature_columns

    names = feature_columns(dataset, exclude=params.model.exclude_features)
    scale = HealthScale.from_params(params.score)
    folds, tables, parts = [], [], []
    windows = time_series_folds(dataset, n_splits, holdout_share=params.model.holdout_share)
    for number, (fit, validation, test) in enumerate(windows, start=1):
        info = {"fold": number, **{f"{w}_{k}": v for w, frame in
                                   (("fit", fit), ("validation", validation), ("test", test))
                                   for k, v in _count(frame).items()}}
        folds.append(info)
        lacking = [w for w, frame in (("fit", fit), ("validation", validation))
                   if frame.empty or frame["label"].nunique() < 2]
        if lacking:
            info["skipped"] = f"no churned and retained rows in the {' and '.join(lacking)} window"
            continue
        info["below_min_churned_rows"] = bool(info["fit_churned"] < params.model.min_churned_rows)
        part = pd.concat([fit, validation])
        if _quality_small.applies(params, part) and not tune:
            risks, notes, model = _quality_small.fit_fold(part, test, names, params, scale)
            info |= notes
            risks["base_rate"] = BaseRateBaseline().fit(part, part["label"]).predict_risk(test)
            if truth is not None:
                risks["oracle"] = oracle_risk(test, truth)
            tables.append(metrics_table(test["label"].to_numpy(dtype=np.int64), risks,
                                        n_bins=params.calibration.ece_bins).assign(fold=number))
            parts.append(analyse_test(ExportedModel(model, scale), fit=part, test=test, names=names,
                                      truth=truth, features=params.features,
                                      profile=params.score.profile_features))
            continue
        X_fit, X_val, X_test = fit[names], validation[names], test[names]
        y_fit, y_val = (w["label"].to_numpy(dtype=np.int64) for w in (fit, validation))
        settings = params.model
        if tune:
            from healthscore.model.tuning import tune_model_params

            settings, _ = tune_model_params(X_fit, y_fit, X_val, y_val, model=settings,
                                            calibration=params.calibration, tune=params.tune)
            info["tuned"] = dataclasses.asdict(settings)
        model = HealthScoreModel.from_params(settings, params.calibration).fit(
            X_fit, y_fit, X_val=X_val, y_val=y_val)
        card = RuleScorecard.from_params(params.scorecard, scale).fit(
            X_fit, y_fit, X_val=X_val, y_val=y_val)
        risks = {"model": model.predict_risk(X_test),
                 "logistic": LogisticBaseline().fit(X_fit, y_fit).predict_risk(X_test),
                 "scorecard": card.predict_risk(X_test),
                 "base_rate": BaseRateBaseline().fit(X_fit, y_fit).predict_risk(X_test)}
        if truth is not None:
            risks["oracle"] = oracle_risk(test, truth)
        metrics = metrics_table(test["label"].to_numpy(dtype=np.int64), risks,
                                n_bins=params.calibration.ece_bins)
        tables.append(metrics.assign(fold=number))
        info["trees"] = model.best_iteration_
        exported = ExportedModel(model, scale)
        parts.append(analyse_test(exported, fit=pd.concat([fit, validation]), test=test,
                                  names=names, truth=truth, features=params.features,
                                  profile=params.score.profile_features))
    if not tables:
        raise DataError(f"--cv {n_splits}: no fold has churned and retained training rows")
    long = pd.concat(tables, ignore_index=True)
    mean = long.groupby("predictor", sort=False)[list(METRICS)].mean()
    std = long.groupby("predictor", sort=False)[list(METRICS)].std(ddof=1)
    per_fold = [{"fold": int(r.fold), "predictor": r.predictor,
                 **{m: _round(getattr(r, m)) for m in METRICS}}
                for r in long.itertuples(index=False)]
    ratio = None
    if "oracle" in mean.index:
        ratio = _round(mean.loc["model", "roc_auc"] / mean.loc["oracle", "roc_auc"])
    small = any("selection" in f for f in folds)
    validation = (f"{params.small_data.inner_folds} inner time-ordered folds of each training part "
                  "(whole cutoff days; fit and validation windows together)" if small else
                  f"latest {params.model.holdout_share:g} of each training part (whole cutoff days)")
    return {"split": {"kind": "TimeSeriesSplit", "n_splits": n_splits,
                      "validation": validation, "folds_used": len(tables), "small_data": small},
            "folds": folds,
            "table": {p: {m: _round(mean.loc[p, m]) for m in METRICS} for p in mean.index},
            "table_std": {p: {m: _round(std.loc[p, m]) for m in METRICS} for p in std.index},
            "per_fold": per_fold, "auc_to_oracle": ratio,
            **pool(parts, truth, names, features=params.features, frame=dataset)}


def _count(frame: pd.DataFrame) -> dict[str, Any]:
    cutoffs = frame["cutoff_time"]
    return {"rows": len(frame), "churned": int((frame["label"] == 1).sum()),
            "first_cutoff": str(cutoffs.min())[:10] if len(frame) else None,
            "last_cutoff": str(cutoffs.max())[:10] if len(frame) else None}


def _round(value: Any, digits: int = 5) -> float | None:
    if value is None or pd.isna(value):
        return None
    return round(float(value), digits)


# ------------------------------------------------------------------------- bars


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
