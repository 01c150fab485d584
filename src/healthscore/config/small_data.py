"""The ``small_data:`` section of ``params.yaml``: learning from few churned rows (issue 15).

Below ``max_churned_rows`` churned training rows (renewal mode), the tree count is
chosen by time-ordered cross-validation inside the training part instead of early
stopping on one window, and the Platt step is fitted on the out-of-fold margins
(:mod:`healthscore.model.selection`). ``inner_folds``: expanding-window folds over the
training part's cutoff days. ``select``: ``train`` compares LightGBM, the prepared
logistic regression and the rule scorecard on that inner validation (on the validation
window when the data is large) and exports the winner. ``blend``: the
blend of LightGBM and the scorecard (LightGBM's share chosen by the inner folds) is a
candidate too (small data only).
``logistic_cs`` / ``logistic_transforms``: the L1 logistic regression's grid, chosen by
the same inner folds. ``group_above``: correlated metrics whose absolute correlation
exceeds it are averaged (standardised) into one score for the logistic regression
(0: no grouping). ``min_auc_gain``: the validation ROC-AUC by which logistic regression
or the scorecard must beat LightGBM to be selected (LightGBM's drivers explain each
account; 0.005 is below the AUC's sampling noise on the simulator's validation window,
5,173 rows and 670 churned, about 0.01).
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

from pydantic import Field

from healthscore.config.fields import Bool, Count, Float, Int, section

Transform = Literal["log1p", "rank"]


@section
class SmallDataParams:
    """Inner cross-validation, the logistic grid and the selection among predictors."""

    max_churned_rows: Count = 1000
    inner_folds: Annotated[Int, Field(ge=2, le=20)] = 4
    select: Bool = True
    blend: Bool = True
    logistic_cs: list[Annotated[Float, Field(gt=0)]] = field(
        default_factory=lambda: [0.01, 0.03, 0.1, 0.3, 1.0])
    logistic_transforms: list[Transform] = field(default_factory=lambda: ["log1p", "rank"])
    group_above: Annotated[Float, Field(ge=0, lt=1)] = 0.0
    min_auc_gain: Annotated[Float, Field(ge=0, le=1)] = 0.005
