"""The ``challenger:`` section of ``params.yaml``: champion against challenger on
matured outcomes (``healthscore score --challenger``, ``healthscore promote``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from healthscore.config.fields import Float, Positive, section


@section
class ChallengerParams:
    """How ``promote`` compares a challenger with the champion on matured outcomes.

    For the dates on which both models scored (``score --challenger``) and whose whole
    horizon is inside the data, both models' ROC-AUC and expected calibration error
    are measured on what happened to the same accounts. ``promote`` refuses a
    challenger whose ROC-AUC is below the champion's by more than ``max_auc_drop``, or
    whose ECE is above the champion's by more than ``max_ece_rise``. Fewer than
    ``min_accounts`` matured (account, date) pairs: "not enough matured outcomes",
    and the test-window gates alone decide.
    """

    max_auc_drop: Annotated[Float, Field(ge=0, le=1)] = 0.01
    max_ece_rise: Annotated[Float, Field(ge=0, le=1)] = 0.01
    min_accounts: Positive = 100
