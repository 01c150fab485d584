"""Contacts benchmark: do the per-user features (``features.contacts``) help the model?

On a simulated source with a ``contacts`` table (``simulate --contacts``; validation
seed 11, never the test seed 7), one training set is built with the features on; then
LightGBM (``params.model``'s settings, one thread) is fitted twice on the same rows, out
of time (``params.split``: early stopping on the validation window), without and with
the ``contacts__*`` columns, and judged on the test window: ROC-AUC, PR-AUC, Brier and
expected calibration error, for each model seed given; with the share of the contacts
features in the mean absolute TreeSHAP. Recorded in ``benchmarks/results/contacts.md``.

    python benchmarks/contacts.py --accounts 3000 --months 36 --seed 11 --model-seeds 42 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record  # noqa: E402

from healthscore.config import make_params  # noqa: E402
from healthscore.dataset.pipeline import build_dataset  # noqa: E402
from healthscore.io.sources import read_source  # noqa: E402
from healthscore.model import HealthScoreModel  # noqa: E402
from healthscore.model.evaluation import expected_calibration_error  # noqa: E402
from healthscore.model.split import split_by_time  # noqa: E402
from healthscore.sim.simulate import SimulationSpec, write_simulation  # noqa: E402


def _fit(train, val, names, model, seed):
    estimator = HealthScoreModel(
        n_estimators=model.n_estimators, learning_rate=model.learning_rate, num_leaves=model.num_leaves,
        max_depth=model.max_depth, min_child_samples=model.min_child_samples, subsample=model.subsample,
        subsample_freq=model.subsample_freq, colsample_bytree=model.colsample_bytree,
        reg_lambda=model.reg_lambda, early_stopping_rounds=model.early_stopping_rounds,
        random_state=seed, n_jobs=1)
    return estimator.fit(train[names], train["label"].astype(int), X_val=val[names],
                         y_val=val["label"].astype(int))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=11, help="simulator seed (validation: 11)")
    parser.add_argument("--model-seeds", type=int, nargs="+", default=[42, 1])
    parser.add_argument("--data", default=None, help="a simulated folder written with --contacts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "sim"
        if args.data is None:
            write_simulation(SimulationSpec(n_accounts=args.accounts, months=args.months,
                                            seed=args.seed, contacts=True), data)
        params = make_params({"data": {"source": str(data)}, "features": {"contacts": {"enabled": True}}})
        tables, _ = read_source(params.data)
        began = time.perf_counter()
        dataset = build_dataset(tables, params)
        seconds = time.perf_counter() - began
    labelled = dataset[dataset["label"].notna()]
    train, val, test = split_by_time(labelled, params.split)
    every = [c for c in labelled.columns if "__" in c]
    contacts = [c for c in every if c.startswith("contacts__")]
    y = test["label"].astype(int).to_numpy()
    figures = {"data": {"accounts": args.accounts, "months": args.months, "seed": args.seed,
                        "rows": len(dataset), "train": len(train), "test": len(test),
                        "test_churn_rate": round(float(y.mean()), 4),
                        "build_dataset_seconds": round(seconds, 1)}}
    for seed in args.model_seeds:
        for arm, names in (("off", [c for c in every if c not in contacts]), ("on", every)):
            model = _fit(train, val, names, params.model, seed)
            p = model.predict_risk(test[names])
            out = {"roc_auc": round(roc_auc_score(y, p), 4), "pr_auc": round(average_precision_score(y, p), 4),
                   "brier": round(brier_score_loss(y, p), 5),
                   "ece": round(float(expected_calibration_error(y, p)), 4)}
            if arm == "on":
                phi = np.abs(model.contributions(test[names])[:, :-1]).mean(axis=0)
                out["contacts_shap_share"] = round(float(phi[[names.index(c) for c in contacts]].sum() / phi.sum()), 4)
            figures[f"model_seed_{seed}.{arm}"] = out
            print(arm, seed, out, flush=True)
    record("contacts", figures, command="python benchmarks/contacts.py " + " ".join(argv or sys.argv[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
