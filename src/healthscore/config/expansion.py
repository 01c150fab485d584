"""The ``expansion:`` section of ``params.yaml``: the expansion-propensity model.

A second calibrated model on the same rows and features as the churn model, labelled
by a rise of the account's MRR (seats, a plan upgrade, an add-on: all show as MRR) of
at least ``min_increase`` within ``horizon_days`` (:mod:`healthscore.dataset.expansion`).
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

from pydantic import Field

from healthscore.config.fields import Count, Float, Positive, Str, section


@section
class ExpansionParams:
    """Expansion propensity (``healthscore train --target expansion``).

    ``min_increase``: the share the MRR must rise by, over the MRR held just before the
    cutoff (0.10 = +10 %), at some moment of ``[cutoff + lead_time_days, cutoff +
    lead_time_days + horizon_days)``; an account lost in that window did not expand.
    ``registered_model`` and ``export_dir``: where the model is registered and where
    ``score`` looks for it (``promote`` exports it there with ``--set
    tracking.registered_model=... --set tracking.export_dir=...``); no folder there, no
    ``expansion_proba`` column. The growth view lists accounts in ``healthy_bands``
    with ``expansion_proba`` of at least ``min_proba``, by expected ARR gain, at most
    ``top_accounts``, each with its ``top_signals`` strongest signals.
    ``growth_feature``: the change feature of the "green and growing" rule baseline.
    """

    min_increase: Annotated[Float, Field(gt=0, le=10)] = 0.10
    horizon_days: Positive = 365
    lead_time_days: Count = 0
    registered_model: Str = "healthscore-expansion"
    export_dir: Str = "models/expansion"
    healthy_bands: list[Literal["green", "yellow", "red"]] = field(default_factory=lambda: ["green"])
    min_proba: Annotated[Float, Field(ge=0, le=1)] = 0.5
    top_accounts: Positive = 50
    top_signals: Positive = 3
    growth_feature: Str = "subscriptions__mrr_change__90d"

