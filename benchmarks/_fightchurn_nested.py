"""The book's two models with their settings chosen without the test folds (nested).

Run by fightchurn's own Python (``benchmarks/fightchurn_book.py`` calls it; it imports
only fightchurn and what fightchurn installs):

    FCVENV/bin/python benchmarks/_fightchurn_nested.py OUT_DIR/socialnet7/socialnet7_dataset.csv

The outer folds are the book's (``TimeSeriesSplit(n_splits=2)`` over the rows in date
order); in each, the book's own grid search (listing 9.5's ``C`` grid for the L1
logistic regression on the grouped metric scores, listing 9.6's XGBoost grid on the
metrics, refitted by the same criterion: ROC-AUC and log loss) runs on the training
part alone, over ``TimeSeriesSplit(n_splits=2)`` of it; the chosen model scores the
test part. Prints one JSON object: per model, the mean test ROC-AUC and top-decile lift
(the book's ``calc_lift``) and each fold's chosen setting.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import xgboost as xgb
from fightchurn.listings.chap8.listing_8_2_logistic_regression import prepare_data
from fightchurn.listings.chap9.listing_9_2_top_decile_lift import calc_lift
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

OUTER = INNER = 2  # the book's n_test_split

MODELS = {
    "logistic": dict(ext="_groupscore", refit="AUC",
                     estimator=lambda: LogisticRegression(penalty="l1", solver="liblinear", fit_intercept=True),
                     grid={"C": [0.64, 0.32, 0.16, 0.08, 0.04, 0.02, 0.01, 0.005, 0.0025]}),
    "xgboost": dict(ext="", refit="loss",
                    estimator=lambda: xgb.XGBClassifier(objective="binary:logistic", eval_metric="logloss"),
                    grid={"max_depth": [1, 2, 4, 6], "learning_rate": [0.1, 0.2, 0.3, 0.4],
                          "n_estimators": [20, 40, 80, 120], "min_child_weight": [3, 6, 9, 12]}),
}


def nested(path: str, name: str) -> dict:
    spec = MODELS[name]
    X, y = prepare_data(path, ext=spec["ext"], as_retention=False)
    aucs, lifts, settings = [], [], []
    for train, test in TimeSeriesSplit(n_splits=OUTER).split(X):
        search = GridSearchCV(spec["estimator"](), spec["grid"], cv=TimeSeriesSplit(n_splits=INNER),
                              scoring={"AUC": "roc_auc", "loss": "neg_log_loss"}, refit=spec["refit"], n_jobs=-1)
        search.fit(X.iloc[train], y.iloc[train])
        risk = search.predict_proba(X.iloc[test])[:, 1]
        aucs.append(float(roc_auc_score(y.iloc[test], risk)))
        lifts.append(float(calc_lift(y.iloc[test].to_numpy(), risk)))
        settings.append({k: (v.item() if hasattr(v, "item") else v) for k, v in search.best_params_.items()})
    return {"roc_auc": float(np.mean(aucs)), "top_decile_lift": float(np.mean(lifts)),
            "fold_roc_auc": aucs, "settings": settings}


if __name__ == "__main__":
    print(json.dumps({name: nested(sys.argv[1], name) for name in MODELS}))
