"""Lifecycle benchmark: which model serves onboarding accounts better (issue 18).

On a simulated source (cached as the quality benchmark caches it), one training set
with the onboarding milestones built (``features.milestones.enabled``), then the model
``healthscore train`` evaluates (:func:`healthscore.model.training.fit_hazard`, horizon
mode, out-of-time split) for each candidate:

``main``
    The churn model as it is (the milestone columns excluded).
``main+milestones``
    The same model with the milestone features.
``main+masked``
    The churn model (no milestones) with every windowed feature whose window reaches
    back before the account's start set to NaN
    (:func:`healthscore.features.lifecycle.mask_unlived_windows`).
``onboarding@T``
    A second model trained on the rows of accounts younger than ``T`` days only (with
    the milestones; ``T`` 90, 180, 365), the pattern of the expansion model's second
    model; one the train path cannot fit (no churned row in a window) is listed as such.

Each is judged on the same test rows: those whose account is younger than the
onboarding threshold (``lifecycle.onboarding_days`` candidates), by ROC-AUC and
expected calibration error, and the main models on every test row too. Settings are
chosen on the validation seed (11), never on the test seed (7):

    python benchmarks/lifecycle.py --simulate 3000 --months 48 --seed 11
    python benchmarks/lifecycle.py --simulate 3000 --months 48 --seed 7     # once, at the end

Results go to ``benchmarks/results/lifecycle.md`` and ``lifecycle.json``, one section per
seed; a run replaces its own section and keeps the others.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthscore.config import read_params
from healthscore.io.files import write_text_atomic

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common  # noqa: E402
from _quality_data import simulated_data  # noqa: E402

ROOT = HERE.parent
THRESHOLDS = (60, 90, 120, 180)
TENURE = "accounts__tenure_days"


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    from healthscore.model.evaluation import expected_calibration_error

    two = 0 < y.sum() < len(y)
    return {"rows": int(len(y)), "lost": int(y.sum()), "observed": float(y.mean()) if len(y) else None,
            "predicted": float(p.mean()) if len(p) else None,
            "roc_auc": float(roc_auc_score(y, p)) if two else None,
            "ece": float(expected_calibration_error(y, p)) if len(y) else None}


def _train(dataset: pd.DataFrame, params: Any, tables: Any, *, exclude: list[str]) -> pd.DataFrame:
    """Test predictions (keys, label, risk_model) of the model ``healthscore train``
    evaluates on its test window: the hazard model of
    :func:`healthscore.model.training.fit_hazard` trained to the validation start,
    stopped and calibrated on outcomes known at the test start, its window risk on the
    test rows whose whole horizon is known. (``train_models`` does this plus the
    baselines and the served refit, which the comparison needs not.)"""
    import dataclasses

    from healthscore.model.export import ExportedModel
    from healthscore.model.exposure import account_exposure, horizon_for
    from healthscore.model.predictor import HazardPredictor
    from healthscore.model.scale import HealthScale
    from healthscore.model.split import split_by_time, split_windows
    from healthscore.model.training import fit_hazard, hazard_feature_columns

    model = dataclasses.replace(params.model, exclude_features=[*params.model.exclude_features, *exclude])
    horizon = horizon_for(params.timeline, params.labels)
    windows = split_windows(dataset, params.split)
    _, _, test = split_by_time(dataset, params.split)
    names = hazard_feature_columns(dataset, exclude=model.exclude_features)
    fitted = fit_hazard(dataset, names, horizon=horizon, train_until=windows.validation_start,
                        known_until=windows.test_start, model=model, calibration=params.calibration)
    exported = ExportedModel(HazardPredictor(fitted, horizon), HealthScale.from_params(params.score))
    test = account_exposure(test, horizon)
    return pd.DataFrame({"account_id": test["account_id"].to_numpy(),
                         "cutoff_time": test["cutoff_time"].to_numpy(),
                         "label": test["label"].to_numpy(dtype=np.int64),
                         "risk_model": exported.predict_risk(test)})


def run_benchmark(*, accounts: int, months: int, seed: int, overrides: list[str]) -> dict[str, Any]:
    """Every figure of one section (plain values, JSON-ready)."""
    from healthscore.config import make_params, params_to_dict
    from healthscore.dataset.pipeline import build_dataset
    from healthscore.io.sources import read_source

    base = params_to_dict(read_params(ROOT / "params.yaml"))
    params = make_params(base, overrides=["features.milestones.enabled=true", *overrides])
    started = time.perf_counter()
    tables, _ = read_source(params.data, source=simulated_data(accounts, months, seed))
    dataset = build_dataset(tables, params)
    built = time.perf_counter() - started
    milestones = [c for c in dataset.columns if c.startswith(("events__days_to_first_value",
                                                               "events__seats_activated",
                                                               "events__first_days_count__"))]
    tenure = dataset[["account_id", "cutoff_time", TENURE]]
    from healthscore.features.lifecycle import mask_unlived_windows

    candidates = {"main": _train(dataset, params, tables, exclude=milestones),
                  "main+milestones": _train(dataset, params, tables, exclude=[]),
                  "main+masked": _train(mask_unlived_windows(dataset), params, tables, exclude=milestones)}
    failed: dict[str, str] = {}
    for train_below in (90, 180, 365):
        young = dataset.loc[dataset[TENURE] < train_below]
        try:
            candidates[f"onboarding@{train_below}"] = _train(young, params, tables, exclude=[])
        except Exception as exc:  # too few churned young rows for the train path
            logging.getLogger("lifecycle").warning("onboarding@%d: %s", train_below, exc)
            failed[f"onboarding@{train_below}"] = str(exc)
    trained = time.perf_counter() - started - built
    figures: dict[str, Any] = {"seed": seed, "accounts": accounts, "months": months,
                               "overrides": overrides, "milestone_features": milestones, "by_stage": {}}
    main = candidates["main"].merge(tenure, on=["account_id", "cutoff_time"], how="left")
    for threshold in THRESHOLDS:
        keys = main.loc[main[TENURE] < threshold, ["account_id", "cutoff_time"]]
        row: dict[str, Any] = {}
        for name, predictions in candidates.items():
            rows = keys.merge(predictions, on=["account_id", "cutoff_time"], how="inner")
            if len(rows) < len(keys):  # a candidate that does not cover the stage
                continue
            row[name] = _metrics(rows["label"].to_numpy(np.int64), rows["risk_model"].to_numpy(np.float64))
        figures["by_stage"][f"onboarding<{threshold}d"] = row
    figures["all_rows"] = {name: _metrics(p["label"].to_numpy(np.int64), p["risk_model"].to_numpy(np.float64))
                           for name, p in candidates.items() if name.startswith("main")}
    figures["failed"] = failed
    figures["seconds"] = {"data_and_features": round(built, 1), "training": round(trained, 1)}
    return figures


def _fmt(value: Any) -> str:
    return "" if value is None else (f"{value:.4f}" if isinstance(value, float) else f"{value:,}")


def render_section(name: str, figures: dict[str, Any], command: str) -> str:
    lines = [f"## {name}", "", f"{figures['accounts']:,} simulated accounts x {figures['months']} months, "
             f"seed {figures['seed']}; horizon mode; test window of the out-of-time split.", "",
             "| test rows | candidate | rows | lost | observed | predicted | ROC-AUC | ECE |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for stage, row in [*figures["by_stage"].items(), ("all", figures["all_rows"])]:
        for candidate, m in row.items():
            lines.append(f"| {stage} | {candidate} | {_fmt(m['rows'])} | {_fmt(m['lost'])} | "
                         f"{_fmt(m['observed'])} | {_fmt(m['predicted'])} | {_fmt(m['roc_auc'])} | "
                         f"{_fmt(m['ece'])} |")
    for candidate, reason in figures.get("failed", {}).items():
        lines += ["", f"`{candidate}` could not be trained: {reason}"]
    lines += ["", f"Time: {figures['seconds']['data_and_features']:.0f} s data and features, "
              f"{figures['seconds']['training']:.0f} s training.", "", f"Reproduce: `{command}`", ""]
    return "\n".join(lines)


def write_results(name: str, figures: dict[str, Any], command: str, *, out: Path) -> Path:
    """Replace section ``name`` of ``lifecycle.md``/``lifecycle.json`` under ``out``."""
    path = out / "lifecycle.json"
    sections = _common.update_sections(name, figures, command, path=path)
    text = ["# Benchmark: lifecycle stages (onboarding accounts)", ""]
    for key in sorted(sections):
        text.append(render_section(key, sections[key], sections[key]["command"]))
    write_text_atomic("\n".join(text), out / "lifecycle.md")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulate", type=int, default=3000, metavar="ACCOUNTS")
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, default=_common.RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    figures = run_benchmark(accounts=args.simulate, months=args.months, seed=args.seed, overrides=args.set)
    command = "python benchmarks/lifecycle.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    path = write_results(f"seed {args.seed}", figures, command, out=args.out)
    print(path.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
