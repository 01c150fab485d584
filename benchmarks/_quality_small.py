"""Small-data folds of ``benchmarks/quality.py --cv N`` (issue 15): in each outer fold the
whole training part (its fit and validation windows together) is fitted by
:func:`healthscore.model.selection.fit_small_data`: inner time-ordered folds choose the
tree count, the logistic regression's settings, the calibration and the selected
predictor. The outer test fold is only scored.

``blend`` is the blend of LightGBM and the rule scorecard whatever the selection
(:func:`healthscore.model.selection.fit_blend`); ``selected`` is what ``train`` exports."""

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
    risks["blend"] = fitted.blend.predictor.predict_risk(X_test)
    risks["selected"] = fitted.exported_predictor().predict_risk(X_test)
    best = fitted.logistic_grid.sort_values("inner_roc_auc", ascending=False, kind="stable").iloc[0]
    notes = {"trees": fitted.model.best_iteration_, "selected": selection.exported,
             "selection": selection.reason,
             "logistic": fitted.logistic.describe(),
             "inner": selection.table.round(5).to_dict(orient="records"),
             "logistic_inner_roc_auc": round(float(best["inner_roc_auc"]), 5),
             "blend_share": fitted.blend.share,
             "blend_inner": fitted.blend.grid.round(5).to_dict(orient="records")}
    return risks, notes, fitted.model
