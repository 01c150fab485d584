"""Lifecycle stages (issue 18): the ``lifecycle:`` section and ``features.milestones``.

An account's stage at a cutoff comes from facts before it only
(:func:`healthscore.features.lifecycle.lifecycle_stage`): its tenure
(``accounts__tenure_days``) and the MRR it holds then. Both sections are off by
default, so existing ``params.yaml`` files build the same features and write the same
outputs.
"""

from __future__ import annotations

from dataclasses import field

from healthscore.config.fields import Bool, NonNegative, Positive, Str, section


@section
class LifecycleParams:
    """The stage shown beside every score (``lifecycle.enabled``).

    An account younger than ``onboarding_days`` at the cutoff is ``onboarding``
    (``trial`` when ``trial_max_mrr`` is set and the MRR it holds is at most that, a
    free or token first subscription), older ones ``mature``; an unknown tenure is
    ``unknown``. With ``enabled`` the risk list gets a ``lifecycle_stage`` column,
    ``explain`` and the account page say the stage, the report counts accounts per
    stage and the backtest reports its metrics per stage. On the validation seed (11,
    ``benchmarks/lifecycle.py``) the main model served the accounts younger than 90
    days best (ROC-AUC 0.630, ECE 0.045; with the milestones 0.622 / 0.057, with
    masked windows 0.570 / 0.047; a second model on young rows only could not be
    calibrated below 365 days of tenure and gave 0.531 at 365), so young accounts are
    scored by the main model and the stage is shown, not modelled; no threshold
    stood out, 90 days (the issue's example) is kept.
    """

    enabled: Bool = False
    onboarding_days: Positive = 90
    trial_max_mrr: NonNegative | None = None


@section
class MilestoneParams:
    """Onboarding milestones as features (``features.milestones.enabled``;
    :mod:`healthscore.features.milestones`).

    ``core_events``: the event types that count as the first value (empty: any event).
    ``early_days``: the first days of an account's life whose activity is a feature
    (e.g. the first week and the first month).
    """

    enabled: Bool = False
    core_events: list[Str] = field(default_factory=list)
    early_days: list[Positive] = field(default_factory=lambda: [7, 30])
