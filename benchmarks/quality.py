"""Quality benchmark: the model beside its baselines (and the oracle) on one split.

Trains the model and every baseline exactly as ``healthscore train`` does
(:func:`healthscore.model.training.train_models`) and records, for the model, logistic
regression, the rule scorecard, the base rate and, with ground truth, the oracle:
ROC-AUC, PR-AUC, log loss, Brier, ECE and top-decile lift on the test window, with the
split's row and churn counts, the seed, the versions and the command line, in
``benchmarks/results/quality.md`` and ``quality.json``.

Quality bars (20,000 simulated accounts): model AUC / oracle AUC >= 0.95; the model
beats the scorecard and logistic regression on AUC and log loss; ECE <= 0.02.

    python benchmarks/quality.py --dataset data/dataset.parquet --ground-truth data/demo/ground_truth.parquet
    python benchmarks/quality.py --synthetic 2000      # smoke run on the model's synthetic frame
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.config import Params, params_to_dict, read_params
from healthscore.model.training import TrainResult, train_models

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "top_decile_lift")
ORDER = ("model", "logistic", "scorecard", "base_rate", "oracle")
BARS = {"auc_to_oracle_min": 0.95, "ece_max": 0.02}


def run_quality(
    dataset: pd.DataFrame,
    *,
    params: Params,
    ground_truth: pd.DataFrame | None = None,
    command: str = "",
    source: str = "",
) -> dict[str, Any]:
    """Train and evaluate on ``dataset``; return the record written by :func:`write_results`."""
    started = time.perf_counter()
    result = train_models(
        dataset,
        split=params.split,
        model=params.model,
        calibration=params.calibration,
        scorecard=params.scorecard,
        score=params.score,
        ground_truth=ground_truth,
    )
    seconds = time.perf_counter() - started
    return make_record(result, params=params, seconds=seconds, command=command, source=source)


def make_record(result: TrainResult, *, params: Params, seconds: float, command: str, source: str) -> dict[str, Any]:
    overall = result.metrics.query("segment == 'all'").set_index("predictor")
    table = {
        name: {metric: _num(overall.loc[name, metric]) for metric in COLUMNS}
        for name in ORDER if name in overall.index
    }
    model = table["model"]
    checks = {
        "model_beats_scorecard_and_logistic_auc": all(
            model["roc_auc"] > table[b]["roc_auc"] for b in ("scorecard", "logistic")
        ),
        "model_beats_scorecard_and_logistic_log_loss": all(
            model["log_loss"] < table[b]["log_loss"] for b in ("scorecard", "logistic")
        ),
        "ece_within_bar": model["ece"] <= BARS["ece_max"],
    }
    if result.oracle_auc_ratio is not None:
        checks["auc_to_oracle_within_bar"] = result.oracle_auc_ratio >= BARS["auc_to_oracle_min"]
    counts = result.counts.assign(
        first_cutoff=result.counts["first_cutoff"].astype(str),
        last_cutoff=result.counts["last_cutoff"].astype(str),
    )
    return {
        "benchmark": "quality",
        "source": source,
        "command": command,
        "mode": result.mode,
        "table": table,
        "auc_to_oracle": result.oracle_auc_ratio,
        "bars": BARS,
        "checks": checks,
        "split": result.windows.describe(),
        "counts": counts.to_dict(orient="records"),
        "bands": result.bands.to_dict(orient="records"),
        "best_iteration": None if result.model is None else result.model.best_iteration_,
        "features": len(result.feature_names),
        "train_seconds": round(seconds, 2),
        "seed": params.model.random_state,
        "params": {k: params_to_dict(params)[k] for k in ("split", "model", "calibration", "score")},
        "versions": {p: version(p) for p in ("healthscore", "lightgbm", "scikit-learn", "pandas", "numpy")},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
    }


def render_markdown(record: dict[str, Any]) -> str:
    lines = ["# Quality benchmark", "", f"Command: `{record['command']}`", ""]
    lines += ["| predictor | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in record["table"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(row[m]) for m in COLUMNS) + " |")
    lines.append("")
    if record["auc_to_oracle"] is not None:
        lines.append(f"Model AUC / oracle AUC: {record['auc_to_oracle']:.4f} (bar >= {BARS['auc_to_oracle_min']})")
    lines += ["", "Checks: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in record["checks"].items()), ""]
    lines += ["| window | rows | churned | first cutoff | last cutoff |", "|---|---|---|---|---|"]
    for row in record["counts"]:
        lines.append(f"| {row['window']} | {row['rows']} | {row['churned']} | {row['first_cutoff'][:10]} | {row['last_cutoff'][:10]} |")
    lines += [
        "",
        f"Trees: {record['best_iteration']}; features: {record['features']}; "
        f"training and evaluation: {record['train_seconds']} s; seed {record['seed']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in record["versions"].items()) + ".",
        f"Machine: {record['machine']['platform']}, Python {record['machine']['python']}.",
        "",
    ]
    return "\n".join(lines)


def write_results(record: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    """Write ``quality.json`` and ``quality.md`` (through ``benchmarks/_common.record``
    when that helper exists)."""
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _common import record as common_record  # type: ignore[import-not-found]
    except ImportError:
        common_record = None
    finally:
        sys.path.pop(0)
    markdown = render_markdown(record)
    if common_record is not None:
        try:
            return common_record("quality", record, markdown=markdown, out_dir=out_dir)
        except TypeError:  # a different signature: fall back to plain files
            pass
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "quality.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    (out_dir / "quality.md").write_text(markdown)
    return out_dir / "quality.json"


def _num(value: Any) -> float | None:
    value = float(value)
    return None if pd.isna(value) else value


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="training set written by build-dataset")
    source.add_argument("--synthetic", type=int, metavar="ACCOUNTS",
                        help="smoke run on healthscore.model.synthetic with this many accounts")
    parser.add_argument("--ground-truth", help="simulator ground truth (.parquet) for the oracle")
    parser.add_argument("--params", default=None, help="params.yaml (default: ./params.yaml if present)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic frame")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    params_path = args.params or ("params.yaml" if Path("params.yaml").exists() else None)
    params = read_params(params_path, args.overrides)
    truth = None
    if args.dataset:
        from healthscore.io import read_dataset

        dataset, _ = read_dataset(args.dataset)
        if args.ground_truth:
            truth = pd.read_parquet(args.ground_truth)
        source_name = args.dataset
    else:
        from healthscore.model.synthetic import make_training_frame

        dataset, truth = make_training_frame(args.synthetic, random_state=args.seed)
        source_name = f"synthetic frame, {args.synthetic} accounts, seed {args.seed}"
    command = shlex.join(["python", "benchmarks/quality.py", *(argv if argv is not None else sys.argv[1:])])
    record = run_quality(dataset, params=params, ground_truth=truth, command=command, source=source_name)
    path = write_results(record, args.out)
    print(render_markdown(record))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
