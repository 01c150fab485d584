"""Small-data folds of ``benchmarks/quality.py --cv N`` (issue 15): in each outer fold the
whole training part (its fit and validation windows together) is fitted by
:func:`healthscore.model.selection.fit_small_data`: inner time-ordered folds choose the
tree count, the logistic regression's settings, the calibration and the selected
predictor. The outer test fold is only scored.

``blend`` is measured here only (``train`` cannot export it yet): LightGBM's margin and
the rule scorecard's score, standardised and mixed by a weight the inner folds choose."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def applies(params: Any, part: pd.DataFrame) -> bool:
    """Renewal mode and fewer churned rows than ``small_data.max_churned_rows``."""
    return (params.timeline.mode == "renewal"
            and int((part["label"] == 1).sum()) < params.small_data.max_churned_rows)


def fit_fold(part: pd.DataFrame, test: pd.DataFrame, names: list[str], params: Any,
             scale: Any) -> tuple[dict[str, np.ndarray], dict[str, Any], Any]:
    """Test risks of each predictor (``model`` = LightGBM, ``selected`` = what ``train``
    would export), the fold's notes, and the fitted LightGBM model."""
    from healthscore.model.baselines import RuleScorecard
    from healthscore.model.selection import fit_small_data

    fitted = fit_small_data(part, names, model=params.model, calibration=params.calibration,
                            card=RuleScorecard.from_params(params.scorecard, scale),
                            small_data=params.small_data)
    X_test = test[names]
    risks = {"model": fitted.model.predict_risk(X_test),
             "logistic": fitted.logistic.predict_risk(X_test),
             "scorecard": fitted.card.predict_risk(X_test)}
    selection = fitted.selection
    risks["selected"] = risks["model" if selection.exported == "lightgbm" else "scorecard"]
    risks["blend"], blend_weight = _blend(fitted, part, X_test)
    best = fitted.logistic_grid.sort_values("inner_roc_auc", ascending=False, kind="stable").iloc[0]
    notes = {"trees": fitted.model.best_iteration_, "selected": selection.exported,
             "selection": selection.reason,
             "logistic": fitted.logistic.describe(),
             "inner": selection.table.round(5).to_dict(orient="records"),
             "logistic_inner_roc_auc": round(float(best["inner_roc_auc"]), 5),
             "blend_weight": blend_weight}
    return risks, notes, fitted.model


#: LightGBM's share in the blend, the grid the inner folds choose from.
BLEND_WEIGHTS = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)


def _blend(fitted: Any, part: pd.DataFrame, X_test: pd.DataFrame) -> tuple[np.ndarray, float]:
    """A measured-only candidate (not exported): LightGBM's margin and the scorecard's
    negated score, each standardised, mixed with the LightGBM share whose mean ROC-AUC
    over the inner validation blocks is highest (each block's out-of-fold scores
    standardised within the block: the inner models' margins are on different scales),
    and Platt-calibrated on the blocks' mixed scores. The served mix standardises by the
    refitted model's and the rules' scores on the training part. Every choice on the
    training part's inner folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    y = part["label"].to_numpy(dtype=np.int64)
    oof = (fitted.oof["lightgbm"], fitted.oof["scorecard"])

    def z(v, ref):
        return (v - np.mean(ref)) / (np.std(ref) or 1.0)

    def card_score(X):  # the scorecard's out-of-fold score: its negated health score
        return -fitted.card.health_score(X).astype(np.float64)

    blocks = [(val, [z(o[val], o[val]) for o in oof]) for _, val in fitted.folds]
    mean_auc = [np.mean([roc_auc_score(y[val], w * a + (1 - w) * b) for val, (a, b) in blocks
                         if 0 < y[val].sum() < len(y[val])]) for w in BLEND_WEIGHTS]
    w = BLEND_WEIGHTS[int(np.argmax(mean_auc))]
    mixed = np.concatenate([w * a + (1 - w) * b for _, (a, b) in blocks])
    labels = np.concatenate([y[val] for val, _ in blocks])
    platt = LogisticRegression(C=1e6).fit(mixed.reshape(-1, 1), labels)
    X_part = part[X_test.columns]
    test = (w * z(fitted.model.predict_margin(X_test), fitted.model.predict_margin(X_part))
            + (1 - w) * z(card_score(X_test), card_score(X_part)))
    return platt.predict_proba(test.reshape(-1, 1))[:, 1], w
