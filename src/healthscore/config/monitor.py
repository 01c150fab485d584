"""The ``monitor:`` section of ``params.yaml``: drift and the retraining recommendation."""

from __future__ import annotations

from dataclasses import field
from typing import Annotated

from pydantic import Field, model_validator

from healthscore.config.fields import Float, Int, Mismatch, NonNegative, Positive, Str, section

EXPECTED_DRIFT = ("accounts__tenure_days", "subscriptions__renewals", "subscriptions__contract_days")


@section
class MonitorParams:
    """Drift monitoring and the retraining recommendation (``healthscore monitor``).

    Population stability (PSI) of each feature and of the health score against the
    training window, over ``bins`` quantile bins fixed at training: ``psi_warn`` and
    ``psi_alert`` are the field's convention (below 0.1 stable, 0.1-0.25 a moderate
    shift, above 0.25 a major one). Calibration of past scores whose outcome window has
    ended counts once ``min_matured_accounts`` of them are known; it is off when the
    expected calibration error passes ``max_ece`` or the red band's predicted churn is
    ``max_band_gap`` (a share: 0.05 = 5 percentage points) from what happened. A model
    older than ``max_model_age_days`` (from the end of its training data) is due.

    The reference is the served model's latest ``reference_months`` of training cutoffs:
    the earliest cutoffs of a data set have a short history (``days since`` features
    missing, lifetime counts small), so the whole window would read as drift forever.
    Features named (or prefixed) in ``expected_drift`` grow with the age of the book by
    construction: their PSI is reported, not counted in the verdict.
    """

    bins: Annotated[Int, Field(ge=2, le=100)] = 10
    reference_months: Positive = 6
    expected_drift: list[Str] = field(default_factory=lambda: list(EXPECTED_DRIFT))
    psi_warn: NonNegative = 0.1
    psi_alert: NonNegative = 0.25
    max_ece: Annotated[Float, Field(ge=0, le=1)] = 0.05
    max_band_gap: Annotated[Float, Field(ge=0, le=1)] = 0.05
    max_model_age_days: Positive = 365
    min_matured_accounts: Positive = 200

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> "MonitorParams":
        if self.psi_alert < self.psi_warn:
            raise Mismatch(lambda key: f"{key('psi_alert')}: {self.psi_alert:g} is below "
                           f"{key('psi_warn')} ({self.psi_warn:g}); expected psi_warn <= psi_alert")
        return self
