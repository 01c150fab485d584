"""Expansion benchmark: the expansion-propensity model beside its baselines, out of time.

On a simulated source (cached as the quality benchmark caches it): build the training
set (:func:`healthscore.dataset.pipeline.build_dataset`), relabel it for expansion
(:func:`healthscore.dataset.expansion.expansion_dataset`: MRR up by
``expansion.min_increase`` within ``expansion.horizon_days``), then train and evaluate
exactly as ``healthscore train --target expansion`` does
(:func:`healthscore.model.expansion.train_expansion`). Recorded per predictor on the
test window: ROC-AUC, PR-AUC, log loss, Brier, expected calibration error (against the
realised expansions) and top-decile lift; the predictors are the model, logistic
regression, ``scorecard`` (the churn rule scorecard's health score mapped onto the
expansion rate: "healthy means upsell"), ``green_growing`` (the vendor rule "green and
growing"), the base rate and ``oracle``: the simulator's true expansion probability
(``oracle.expansion_proba``, :mod:`healthscore.sim.expansion_oracle`, simulated with
``oracle_horizon_days`` = ``expansion.horizon_days`` and ``oracle_expansion_increase`` =
``expansion.min_increase``; every other table is the same bytes as without it). Beside
them: the model's AUC over the oracle's, and the oracle's ECE (how well the truth
itself is calibrated on these rows: the floor any model's ECE is read against). The
growth view's floor (``expansion.min_proba``) is read off the table of observed
expansion rates above each floor, on the test window of the validation seed (11),
never seed 7. ``--no-oracle``: the tables without it (faster).

    python benchmarks/expansion.py --simulate 6000 --months 48 --seed 11   # validation seed
    python benchmarks/expansion.py --simulate 6000 --months 48 --seed 7    # the test seed, once
    python benchmarks/expansion.py --simulate 400 --months 36 --set model.min_churned_rows=10 --out /tmp/exp  # smoke

Results go to ``benchmarks/results/expansion.md`` and ``expansion.json``, one section
per seed; a run replaces its own section and keeps the others.
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
METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "top_decile_lift")
PREDICTORS = ("model", "logistic", "scorecard", "green_growing", "base_rate", "oracle")
FLOORS = (0.3, 0.4, 0.5, 0.6, 0.7)


def run_benchmark(*, accounts: int, months: int, seed: int, overrides: list[str],
                  oracle: bool = True) -> dict[str, Any]:
    """Every figure of one section (plain values, JSON-ready)."""
    from healthscore.config import make_params, params_to_dict
    from healthscore.dataset.expansion import expansion_dataset
    from healthscore.dataset.pipeline import build_dataset
    from healthscore.io.files import read_oracle
    from healthscore.io.sources import read_source
    from healthscore.model.expansion import MEAN_INCREASE_KEY, train_expansion

    base = params_to_dict(read_params(ROOT / "params.yaml"))
    params = make_params(base, overrides=overrides)
    started = time.perf_counter()
    e = params.expansion
    data = simulated_data(accounts, months, seed,
                          oracle_horizon_days=e.horizon_days if oracle else None,
                          oracle_expansion_increase=e.min_increase if oracle else None)
    truth = read_oracle(data / "oracle.parquet") if oracle else None
    tables, _ = read_source(params.data, source=data)
    dataset = build_dataset(tables, params)
    frame = expansion_dataset(dataset, tables, labels=params.labels, expansion=params.expansion)
    built = time.perf_counter() - started
    result = train_expansion(frame, params, ground_truth=truth)
    trained = time.perf_counter() - started - built
    overall = result.metrics.query("segment == 'all'").set_index("predictor")
    predictions = result.predictions
    return {
        "seed": seed, "accounts": accounts, "months": months, "overrides": overrides,
        "expansion": params_to_dict(params.expansion),
        "counts": [{"window": r.window, "rows": int(r.rows), "expanded": int(r.churned),
                    "first_cutoff": None if pd.isna(r.first_cutoff) else str(r.first_cutoff.date()),
                    "last_cutoff": None if pd.isna(r.last_cutoff) else str(r.last_cutoff.date())}
                   for r in result.counts.itertuples(index=False)],
        "metrics": {p: {m: _plain(overall.loc[p, m]) for m in METRICS} for p in PREDICTORS
                    if p in overall.index},
        "features": len(result.feature_names),
        "best_iteration": int(result.model.best_iteration_),
        "mean_increase": float(result.extra_metrics[MEAN_INCREASE_KEY]),
        "auc_to_oracle": None if result.oracle_auc_ratio is None else float(result.oracle_auc_ratio),
        "oracle_rows": (int(np.isfinite(predictions["risk_oracle"]).sum())
                        if "risk_oracle" in predictions else None),
        "floors": floor_table(predictions["label"].to_numpy(), predictions["risk_model"].to_numpy()),
        "seconds": {"data_and_features": round(built, 1), "training": round(trained, 1)},
    }


def floor_table(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    """Per floor: the share of test rows at or above it, their mean predicted and their
    observed expansion rate."""
    out = []
    for floor in FLOORS:
        above = p >= floor
        out.append({"floor": floor, "share": float(above.mean()),
                    "predicted": _plain(p[above].mean() if above.any() else np.nan),
                    "observed": _plain(y[above].mean() if above.any() else np.nan)})
    return out


def render_section(name: str, figures: dict[str, Any], command: str) -> str:
    """The Markdown section of one run."""
    e = figures["expansion"]
    lines = [f"## {name}", "",
             f"{figures['accounts']:,} simulated accounts x {figures['months']} months, seed "
             f"{figures['seed']}; label: MRR up by at least {100 * e['min_increase']:.0f}% within "
             f"{e['horizon_days']} days (an account lost in the window did not expand); "
             f"{figures['features']} features, best iteration {figures['best_iteration']}.", "",
             "| window | rows | expanded | cutoffs |", "|---|---:|---:|---|"]
    for c in figures["counts"]:
        span = f"{c['first_cutoff']} .. {c['last_cutoff']}" if c["first_cutoff"] else ""
        lines.append(f"| {c['window']} | {c['rows']:,} | {c['expanded']:,} | {span} |")
    lines += ["", "Test window (out of time):", "",
              "| predictor | " + " | ".join(METRICS) + " |", "|---|" + "---:|" * len(METRICS)]
    for predictor, values in figures["metrics"].items():
        lines.append(f"| {predictor} | " + " | ".join(_fmt(values[m]) for m in METRICS) + " |")
    lines += ["", f"Mean MRR rise of the expanding training rows: +{100 * figures['mean_increase']:.0f}% "
              "(the expected ARR gain is expansion_proba x ARR x this).", "",
              "Growth-view floor (`expansion.min_proba`), test rows at or above it:", "",
              "| floor | share of rows | mean predicted | observed expansion rate |", "|---:|---:|---:|---:|"]
    for f in figures["floors"]:
        lines.append(f"| {f['floor']:.1f} | {f['share']:.3f} | {_fmt(f['predicted'])} | {_fmt(f['observed'])} |")
    lines += [""] + _oracle_lines(figures) + ["",
              f"Time: {figures['seconds']['data_and_features']:.0f} s data and features, "
              f"{figures['seconds']['training']:.0f} s training.", "", f"Reproduce: `{command}`", ""]
    return "\n".join(lines)


def _oracle_lines(figures: dict[str, Any]) -> list[str]:
    """The model against the simulator's true expansion probability."""
    oracle, model = figures["metrics"].get("oracle"), figures["metrics"]["model"]
    if oracle is None or figures.get("auc_to_oracle") is None:
        return ["No oracle: simulated without the expansion oracle (`--no-oracle`)."]
    return [f"Against the oracle (`oracle.expansion_proba`, {figures['oracle_rows']:,} test rows): "
            f"model AUC / oracle AUC {figures['auc_to_oracle']:.4f} ({_fmt(model['roc_auc'])} / "
            f"{_fmt(oracle['roc_auc'])}); ECE against the realised expansions: model "
            f"{_fmt(model['ece'])}, oracle {_fmt(oracle['ece'])} (the truth's own ECE on these "
            "rows: sampling noise and shared shocks)."]


def write_results(name: str, figures: dict[str, Any], command: str, *, out: Path) -> Path:
    """Replace section ``name`` of ``expansion.md``/``expansion.json`` under ``out``."""
    path = out / "expansion.json"
    sections = _common.update_sections(name, figures, command, path=path)
    head = ["# Expansion propensity: quality", "",
            "Written by `benchmarks/expansion.py`; settings are chosen on seed 11, seed 7 is the test.", ""]
    body = [render_section(k, v, v["command"]) for k, v in sorted(sections.items())]
    machine = sections[name]["machine"]
    tail = ["Machine of the latest run: " + ", ".join(f"{k} {v}" for k, v in machine.items()),
            "Versions: " + ", ".join(f"{k} {v}" for k, v in sections[name]["versions"].items()), ""]
    write_text_atomic("\n".join(head + body + tail), out / "expansion.md")
    return out / "expansion.md"


def _plain(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulate", type=int, default=6000, metavar="ACCOUNTS")
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--name", default=None, help="section name (default: simulator-seed<S>)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--no-oracle", dest="oracle", action="store_false",
                        help="simulate without the expansion oracle (no oracle figures)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    figures = run_benchmark(accounts=args.simulate, months=args.months, seed=args.seed,
                            overrides=args.overrides, oracle=args.oracle)
    command = shlex.join(["python", "benchmarks/expansion.py", *(argv if argv is not None else sys.argv[1:])])
    print(write_results(args.name or f"simulator-seed{args.seed}", figures, command, out=args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
