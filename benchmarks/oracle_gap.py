"""Where the simulator's oracle gets its edge: the same LightGBM with hidden facts added.

On the renewal task (``configs/renewal-task.yaml``: one row per annual renewal, cut off
90 days before it), the oracle's ``churn_proba`` is the decision's true probability:
the account's latent health and the causes acting on it. This trains one fixed
LightGBM on the built features, then on the features plus each hidden fact of the
ground truth, and reports the test ROC-AUC of each (train, validation and test windows
as ``params.split`` of that config: test the 6 months after 2025-03-02). A fact that
closes the gap is one the features do not recover; one that adds nothing, they do.

* ``health``: the latent health at the decision;
* ``cause_<name>``: 1 when the renewal's primary cause is ``<name>`` and it struck
  before the cutoff (known to the world by then, not necessarily to the data);
* ``traced`` / ``untraced``: the same indicators split by whether the cause left its
  direct trace in the tables between the strike and the cutoff
  (:func:`healthscore.model.oracle.cause_traced`): an overdue invoice (payment_trouble),
  a recorded downgrade request (budget_cut), a competitor mention or an NPS answer of 6
  or less (competitor_evaluation); the usage and support causes always leave theirs. A gain the traced indicators bring is one
  better features could still reach; the untraced ones' is what the data hides.

The other tables (invoices, signals, surveys) are read from the ground truth's folder.

    healthscore --params configs/renewal-task.yaml build-dataset --data SIM --out rt.parquet
    python benchmarks/oracle_gap.py --dataset rt.parquet --ground-truth SIM/ground_truth.parquet

``SIM``: ``healthscore simulate --accounts 20000 --months 36 --seed 7 --out SIM`` (the
quality benchmark's simulator section). Figures go to ``benchmarks/results/oracle_gap.*``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record  # noqa: E402

from healthscore.model.oracle import cause_traced, trace_tables  # noqa: E402

KEYS = ("account_id", "cutoff_time", "renewal_date", "label")
#: Windows of configs/renewal-task.yaml's split on the seed-7 simulation.
TRAIN_UNTIL, VALIDATION_UNTIL, TEST_UNTIL = "2024-09-02", "2025-03-02", "2025-09-02"


def fit_auc(train: pd.DataFrame, validation: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> float:
    """Test ROC-AUC of one fixed LightGBM on ``columns``, stopped early on validation."""
    model = lgb.LGBMClassifier(n_estimators=2000, learning_rate=0.03, num_leaves=15, min_child_samples=50,
                               colsample_bytree=0.5, reg_lambda=5.0, random_state=0, n_jobs=2, verbose=-1)
    model.fit(train[columns], train["label"], eval_set=[(validation[columns], validation["label"])],
              callbacks=[lgb.early_stopping(100, verbose=False)])
    return float(roc_auc_score(test["label"], model.predict_proba(test[columns])[:, 1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="build-dataset output of the renewal task")
    parser.add_argument("--ground-truth", required=True, help="the simulator's ground_truth.parquet")
    args = parser.parse_args(argv)

    rows = pd.read_parquet(args.dataset)
    rows = rows.loc[rows["label"].notna()].copy()
    truth = pd.read_parquet(args.ground_truth,
                            columns=["account_id", "renewal_date", "health", "churn_proba", "primary_cause", "cause_at"])
    for frame in (rows, truth):
        frame["renewal_date"] = pd.to_datetime(frame["renewal_date"])
    rows = rows.merge(truth, on=["account_id", "renewal_date"], how="inner", validate="one_to_one")
    features = [c for c in rows.columns if c not in KEYS and c not in truth.columns
                and rows[c].dtype.kind in "fiub"]
    seen = pd.to_datetime(rows["cause_at"]) < pd.to_datetime(rows["cutoff_time"])
    causes = sorted(rows["primary_cause"].dropna().unique())
    has_trace = pd.Series(cause_traced(rows, trace_tables(Path(args.ground_truth).parent)), index=rows.index)
    for cause in causes:
        acting = (rows["primary_cause"] == cause) & seen
        rows[f"cause_{cause}"] = acting.astype(np.float64)
        rows[f"traced_{cause}"] = (acting & has_trace).astype(np.float64)
        rows[f"untraced_{cause}"] = (acting & ~has_trace).astype(np.float64)
    cutoff = pd.to_datetime(rows["cutoff_time"])
    train = rows.loc[cutoff <= TRAIN_UNTIL]
    validation = rows.loc[(cutoff > TRAIN_UNTIL) & (cutoff <= VALIDATION_UNTIL)]
    test = rows.loc[(cutoff > VALIDATION_UNTIL) & (cutoff <= TEST_UNTIL)]

    cause_columns = [f"cause_{c}" for c in causes]
    runs = {"features": features, "features + health": features + ["health"],
            "features + every cause": features + cause_columns,
            "features + every cause + health": features + cause_columns + ["health"],
            "features + every traced cause": features + [f"traced_{c}" for c in causes],
            "features + every untraced cause": features + [f"untraced_{c}" for c in causes],
            **{f"features + {c}": features + [c] for c in cause_columns}}
    table = {name: round(fit_auc(train, validation, test, columns), 4) for name, columns in runs.items()}
    table["oracle (churn_proba)"] = round(float(roc_auc_score(test["label"], test["churn_proba"])), 4)
    for name, auc in table.items():
        print(f"{name:<40} {auc:.4f}", flush=True)
    figures = {"rows": {"train": len(train), "validation": len(validation), "test": len(test),
                        "test_churned": int(test["label"].sum())},
               "features": len(features), "cause_struck_before_cutoff_share": round(float(seen.mean()), 4),
               "acting_cause_traced_share": {c: round(float(has_trace[(rows["primary_cause"] == c) & seen].mean()), 4)
                                             for c in causes},
               "test_roc_auc": table}
    paths = record("oracle_gap", figures, command="python benchmarks/oracle_gap.py " + " ".join(
        argv if argv is not None else sys.argv[1:]),
        notes="Test ROC-AUC of one fixed LightGBM (15 leaves, learning rate 0.03, stopped early on the "
              "validation window) on the renewal task's features, alone and with hidden facts of the "
              "simulator's ground truth added. A traced indicator tells more than its trace (that this cause "
              "is the one deciding), so the traced row bounds what better features of the traces could add; "
              "the untraced indicators' gain is what no table shows.")
    print(f"wrote {paths['json']} and {paths['md']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
