"""The sections of ``params.yaml``: frozen dataclasses (:func:`section`) typed for pydantic.

Each stage receives only its own section. The annotations carry the checks
(``num_leaves: Annotated[Int, Field(ge=2, le=131_072)] = 7``, dates as
:data:`~healthscore.config.fields.IsoDate`) and each section's ``model_validator``
the checks that involve two fields; :func:`healthscore.config.make_params` runs them
all when ``params.yaml`` is loaded. A section built in code (tests,
``dataclasses.replace``) is not checked: the stage that uses it checks what it needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field
from typing import Annotated, Literal

from pydantic import Field, model_validator

from healthscore.config.fields import (Bool, Cadence, Count, Depth, Float, Int, IsoDate,
                                       Key, Mismatch, NonNegative, Positive, Share, Str,
                                       section)
from healthscore.config.buckets import BucketParams
from healthscore.config.challenger import ChallengerParams
from healthscore.config.contacts import ContactParams
from healthscore.config.expansion import ExpansionParams
from healthscore.config.lifecycle import LifecycleParams, MilestoneParams
from healthscore.config.large import LargeParams
from healthscore.config.monitor import MonitorParams
from healthscore.config.parents import ParentParams
from healthscore.config.plays import NotifyParams, PlayList, default_plays
from healthscore.config.sql import SqlParams
from healthscore.config.small_data import SmallDataParams

# ----------------------------------------------------------------------------- data


@section
class LookupParams:
    """Replace a column's codes by names from another table (e.g. event type ids)."""

    table: Str
    key: Str
    value: Str


@section
class DataParams:
    """Where the tables are and how a user's names map onto the contract's.

    ``tables`` maps our table name to the user's file or table name (without the
    extension); ``columns`` maps, per table, our column name to the user's column name;
    ``lookups`` maps, per table, our column to a lookup table that turns codes into
    names. ``observed_until`` is the last instant the data describes (default: the
    latest timestamp found); anything at or after it is ignored.
    """

    source: Str = "data/demo"
    format: Literal["auto", "parquet", "csv", "duckdb"] = "auto"
    tables: dict[Key, Str] = field(default_factory=dict)
    columns: dict[Key, dict[Key, Str]] = field(default_factory=dict)
    lookups: dict[Key, dict[Key, LookupParams]] = field(default_factory=dict)
    on_invalid_rows: Literal["drop", "error"] = "drop"
    observed_until: IsoDate | None = None
    sql: SqlParams = field(default_factory=SqlParams)  # data.source a postgresql:// URI


# ------------------------------------------------------------------ timeline, labels


@section
class TimelineParams:
    """Cutoffs and the outcome window (DESIGN.md section 2).

    ``horizon`` mode (default): one row per customer every ``cadence`` (a pandas
    offset alias, ``MS`` = midnight of the 1st of each month); the outcome window is
    ``[cutoff + lead_time_days, cutoff + lead_time_days + horizon_days)`` and the
    served ``risk_proba`` is the chance the account is lost within it, for every
    contract length. ``renewal`` mode: one row per renewal date R, cut off at R -
    ``lead_time_days``, for a renewal-by-renewal task (e.g. the book's monthly one).
    ``start`` / ``end`` bound the cutoff times kept (inclusive); without ``start``,
    cutoffs begin when every dated table has data (``timeline.data_start``).
    """

    mode: Literal["renewal", "horizon"] = "horizon"
    lead_time_days: Count = 0
    horizon_days: Positive = 365
    cadence: Cadence = "MS"
    start: IsoDate | None = None
    end: IsoDate | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> TimelineParams:
        if self.start is not None and self.end is not None and (
                dt.datetime.fromisoformat(self.end) < dt.datetime.fromisoformat(self.start)):
            raise Mismatch(lambda key: f"{key('end')}: {self.end} is before {key('start')} "
                           f"{self.start}; expected end on or after start")
        return self


@section
class LabelParams:
    """How an outcome becomes a label.

    A renewal is churn when no successor subscription starts within ``grace_days`` of
    the end, or an explicit ``outcome`` column says ``churned``; with
    ``contraction_share`` set, a successor whose MRR is lower by more than that share
    counts as churn too.
    """

    grace_days: Count = 30
    contraction_share: Share | None = None


# ------------------------------------------------------------------------- features


@section
class FeatureParams:
    """Which features to build (DESIGN.md section 3).

    ``windows``: look-back windows in days. ``trend_windows``: windows compared with the
    previous window of the same length. ``top_event_types``: how many of the most
    common event types get their own counts; ``top_signal_types`` likewise for the
    ``signals`` table. ``account_attributes``: extra account columns used as features
    as of the cutoff. ``partition_accounts``: accounts per partition, which bounds
    memory. ``signal_families``: the family (usage, support, billing, sentiment,
    engagement, contract, account) of each ``signals.signal`` value, by name, used by
    explanations; a signal not listed gets a family from words in its name, else
    ``engagement``. ``contacts``: the per-user features (off by default).
    """

    windows: list[Positive] = field(default_factory=lambda: [7, 30, 90, 180])
    trend_windows: list[Positive] = field(default_factory=lambda: [30, 90])
    top_event_types: Count = 5
    top_signal_types: Count = 8
    categoricals: list[Str] = field(
        default_factory=lambda: ["segment", "plan", "industry", "region"]
    )
    account_attributes: list[Str] = field(default_factory=list)
    high_priority: list[Str] = field(default_factory=lambda: ["high", "urgent"])
    detractor_max: Float = 6.0
    partition_accounts: Positive = 25_000
    signal_families: dict[Key, Str] = field(default_factory=lambda: {
        "downgrade_request": "contract", "competitor_mention": "sentiment",
        "contact_change": "usage", "exec_sponsor_meeting": "engagement",
        "feature_request": "engagement", "community_post": "engagement",
        "referral": "sentiment", "new_team_onboarded": "usage",
    })
    # Derived behaviour metrics (healthscore.features.derived): ratios between pairs of
    # event or signal types, rates per seat, change against the previous window.
    ratio_pairs: list[list[Str]] = field(default_factory=list)
    per_seat: list[Str] = field(default_factory=list)
    pct_change: list[Str] = field(default_factory=list)
    # Per-user health rolled up to the account (off by default): healthscore.config.contacts.
    contacts: ContactParams = field(default_factory=ContactParams)
    # Onboarding milestones (healthscore.features.milestones; off by default).
    milestones: MilestoneParams = field(default_factory=MilestoneParams)


# -------------------------------------------------------------------- model, split


@section
class SplitParams:
    """Out-of-time split by cutoff time: the last ``test_months`` of cutoffs are test,
    the ``validation_months`` before them validation (early stopping and Platt
    calibration), the rest train. A shorter validation window leaves more rows to learn
    from but calibrates on fewer: on the 20,000-account simulation, 3 months gave +0.002
    test AUC over 6 but a Platt intercept skewed by that quarter's churn rate."""

    test_months: Positive = 6
    validation_months: Positive = 6


@section
class ModelParams:
    """LightGBM and the small-data guard. No class weighting, on purpose.

    Defaults favour many small trees (``num_leaves`` 7, ``max_depth`` 3, a strong
    ``min_child_samples``) stopped early on the validation window: a few hundred such
    trees keep TreeSHAP cheap (cost ~ trees x leaves x depth^2). ``n_estimators`` is
    the cap; early stopping picks the number used. ``holdout_share`` is the seeded,
    stratified share held out for early stopping and calibration only when ``fit`` is
    given no validation window. Below ``min_churned_rows`` churned training rows,
    ``train`` refuses to learn and recommends ``--mode scorecard``.

    ``exclude_features`` are built but not learnt from (none by default: in horizon
    mode the renewal calendar is a known exposure, shown as the account's profile; in
    renewal mode, where every row is cut off ``lead_time_days`` before its renewal,
    exclude ``subscriptions__days_to_renewal``, which there only restates the
    contract's length).
    """

    n_estimators: Positive = 1000
    learning_rate: Annotated[Float, Field(gt=0)] = 0.05
    num_leaves: Annotated[Int, Field(ge=2, le=131_072)] = 7  # LightGBM's own range
    max_depth: Depth = 3  # -1: no limit
    min_child_samples: Count = 50
    subsample: Share = 0.8
    subsample_freq: Count = 1
    colsample_bytree: Share = 0.8
    reg_lambda: NonNegative = 1.0
    early_stopping_rounds: Count = 100  # 0: no early stopping
    holdout_share: Annotated[Float, Field(ge=0, lt=1)] = 0.25
    min_churned_rows: Count = 50
    random_state: Annotated[Int, Field(ge=0, le=2**31 - 1)] = 42
    n_jobs: Annotated[Int, Field(ge=-1)] = 2  # -1 or 0: LightGBM's default threads
    exclude_features: list[Str] = field(default_factory=list)


@section
class CalibrationParams:
    """Platt scaling on the raw margin (keeps explanations additive) or isotonic.

    Isotonic is report-only: the score's points are then not exactly additive.
    ``ece_bins`` equal-width bins measure the expected calibration error.
    """

    method: Literal["platt", "isotonic"] = "platt"
    ece_bins: Positive = 10


@section
class ScorecardRule:
    """One metric of the rule scorecard: 100 points at ``good`` or better, 0 at
    ``bad`` or worse, linear between; ``weight`` is its share of the total."""

    feature: Str
    good: Float
    bad: Float
    weight: Annotated[Float, Field(gt=0)]

    @model_validator(mode="after")
    def _good_is_not_bad(self) -> ScorecardRule:
        if self.good == self.bad:
            raise Mismatch(lambda key: f"{key('good')}, {key('bad')}: expected different values "
                           f"(points are linear between them), got {self.good:g} and {self.bad:g}")
        return self


def _default_scorecard_rules() -> list[ScorecardRule]:
    # Vendor-style (Gainsight / HubSpot) health metrics; weights sum to 1.
    return [
        ScorecardRule("events__seat_utilisation__30d", good=0.6, bad=0.1, weight=0.20),
        ScorecardRule("events__count__30d_vs_prev_30d", good=1.0, bad=0.5, weight=0.15),
        ScorecardRule("events__days_since_last", good=3.0, bad=30.0, weight=0.15),
        ScorecardRule("tickets__open__now", good=0.0, bad=3.0, weight=0.10),
        ScorecardRule("tickets__csat_mean__90d", good=4.5, bad=2.5, weight=0.10),
        ScorecardRule("invoices__days_overdue__now", good=0.0, bad=60.0, weight=0.15),
        ScorecardRule("surveys__nps_last", good=9.0, bad=6.0, weight=0.10),
        ScorecardRule("emails__open_rate__90d", good=0.4, bad=0.05, weight=0.05),
    ]


@section
class ScorecardParams:
    """The weighted rule scorecard, the way vendor health scores work.

    Each rule gives 0-100 points (linear between ``bad`` and ``good``; ``good`` may be
    below ``bad`` for metrics where less is better); a missing value gives
    ``missing_points``. The health score is the weighted mean over the rules whose
    feature is present, rounded and clipped to 1-100.
    """

    rules: list[ScorecardRule] = field(default_factory=_default_scorecard_rules)
    missing_points: Annotated[Float, Field(ge=0, le=100)] = 50.0

    @model_validator(mode="after")
    def _has_rules(self) -> ScorecardParams:
        if not self.rules:
            raise Mismatch(lambda key: f"{key('rules')}: expected at least one rule, got an empty list")
        return self


# ------------------------------------------------------------------- score, alerts


#: Facts about the contract and the account, not behaviour: their points are the
#: account's starting point ("accounts like this score 78"), never drivers. An entry
#: ending in ``__`` names every feature starting with it.
PROFILE_FEATURES = ("exposure__", "subscriptions__days_to_renewal", "subscriptions__contract_days",
                    "subscriptions__mrr__now", "accounts__segment", "accounts__plan",
                    "accounts__industry", "accounts__region", "accounts__seats")


@section
class ScoreParams:
    """The 1-100 health score: ``clip(round(offset - pdo/ln2 * logit), 1, 100)``.

    ``offset`` is the score at even odds; every ``pdo`` points halve the odds of churn.
    Bands: red below ``red_below``, green from ``green_from``, yellow between.
    ``top_drivers``: hurting and helping features named per account (each), also the
    number of named lines of "why it changed". ``chunk_rows``: feature rows explained
    at a time (bounds memory). ``incremental``: reuse the stored points of accounts
    whose feature row is unchanged since the last run with the same model.
    ``profile_features``: names (or prefixes ending in ``__``) of the profile facts
    whose points make the account's starting point rather than drivers.
    """

    offset: Float = 35.0
    pdo: Annotated[Float, Field(gt=0)] = 10.0
    red_below: Annotated[Int, Field(ge=1, le=100)] = 50
    green_from: Annotated[Int, Field(ge=1, le=100)] = 70
    top_drivers: Positive = 5
    out_dir: Str = "outputs"
    chunk_rows: Positive = 100_000
    incremental: Bool = False
    profile_features: list[Str] = field(default_factory=lambda: list(PROFILE_FEATURES))

    @model_validator(mode="after")
    def _bands_in_order(self) -> ScoreParams:
        if self.red_below > self.green_from:
            raise Mismatch(lambda key: f"{key('red_below')}={self.red_below} is above "
                           f"{key('green_from')}={self.green_from}; expected red_below <= "
                           "green_from (yellow between)")
        return self


@section
class AlertParams:
    """When a scored account raises an alert (against its previous scoring).

    ``new_red``: red now, not red before. ``band_drop``: a worse band than before.
    ``drop_points``: the health score fell by at least this many points (0 = off).
    ``reasons``: changed drivers named as the alert's reasons.
    ``reason_min_points``: a changed behavioural signal is a reason only when it lowered
    the score by at least this many points. ``require_reason``: an alert with no such
    reason (only profile facts, unchanged values, "other changes" or a model change
    moved the score) is not raised. ``fold``: a band or score drop whose leading reason
    was already named by the account's alert of the previous run is folded into it (not
    raised again); a new red is always raised. ``band_drop_points``: a band drop counts
    only when the score fell by at least this many points (a wobble across the band's
    line is no news; 0 = any drop).
    """

    new_red: Bool = True
    band_drop: Bool = True
    drop_points: Annotated[Int, Field(ge=0, le=99)] = 10
    reasons: Count = 3
    reason_min_points: Annotated[Float, Field(ge=0)] = 7.0
    require_reason: Bool = True
    fold: Bool = True
    band_drop_points: Annotated[Int, Field(ge=0, le=99)] = 5


@section
class CallParams:
    """The call list (``healthscore calls``): per owner, the accounts to contact this week.

    ``per_owner``: at most this many accounts per owner. ``renewal_days``: a renewal
    within this many days counts as urgent, and puts a red account on the list even
    without an alert.
    """

    per_owner: Positive = 5
    renewal_days: Count = 90


@section
class ReportParams:
    """The HTML report for customer-success managers.

    ``top_movers``: biggest drops and rises listed on the overview. ``max_accounts``:
    account pages for the riskiest N accounts only (the overview says so).
    ``drivers_shown``: drivers hurting and helping listed per account.
    ``driver_min_points``: a driver *hurts* an account (patterns, next steps) when it
    costs at least this many points. ``outcome``: what happens to the accounts a risk
    counts, worded with the run's horizon ("about 1 in 7 accounts like this are lost
    within 12 months"; :func:`healthscore.scoring.risk_words.describe_risk`). ``currency``: symbol
    before amounts. ``next_steps``: extra next-step rules, feature-name fragment or
    family -> step, consulted before the built-in ones. ``renewal_days``: the overview
    lists the accounts whose next renewal falls within this many days.
    """

    title: Str = "Customer health"
    top_movers: Count = 10
    max_accounts: Count = 500
    drivers_shown: Count = 5
    driver_min_points: NonNegative = 2.0
    outcome: Str = "are lost"
    currency: Str = "$"
    next_steps: dict[Key, Str] = field(default_factory=dict)
    renewal_days: Count = 90


# ---------------------------------------------------------------------- tracking


@section
class GateParams:
    """Quality gates ``promote`` checks before moving the ``champion`` alias."""

    max_auc_drop: Float = 0.01
    max_ece: Annotated[Float, Field(ge=0, le=1)] = 0.05


@section
class TrackingParams:
    """MLflow. ``uri`` empty means ``MLFLOW_TRACKING_URI`` if set, else the embedded
    SQLite store ``sqlite:///mlruns.db`` with artifacts in ``mlartifacts/``."""

    uri: Str = ""
    artifact_location: Str = "mlartifacts"
    experiment: Str = "healthscore"
    registered_model: Str = "healthscore"
    export_dir: Str = "models/healthscore"
    gates: GateParams = field(default_factory=GateParams)


@section
class TuneParams:
    """The small seeded hyperparameter search of ``train --tune``: ``n_trials`` trials
    (trial 0 = the ``model`` settings), stopped early after ``timeout_seconds`` of wall
    time (0: no time limit, so the same trials run on every machine)."""

    n_trials: Positive = 20
    timeout_seconds: Count = 180


@section
class Params:
    """Every section of ``params.yaml``."""

    data: DataParams = field(default_factory=DataParams)
    timeline: TimelineParams = field(default_factory=TimelineParams)
    labels: LabelParams = field(default_factory=LabelParams)
    features: FeatureParams = field(default_factory=FeatureParams)
    split: SplitParams = field(default_factory=SplitParams)
    model: ModelParams = field(default_factory=ModelParams)
    calibration: CalibrationParams = field(default_factory=CalibrationParams)
    scorecard: ScorecardParams = field(default_factory=ScorecardParams)
    score: ScoreParams = field(default_factory=ScoreParams)
    alerts: AlertParams = field(default_factory=AlertParams)
    calls: CallParams = field(default_factory=CallParams)
    report: ReportParams = field(default_factory=ReportParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    tune: TuneParams = field(default_factory=TuneParams)
    monitor: MonitorParams = field(default_factory=MonitorParams)
    challenger: ChallengerParams = field(default_factory=ChallengerParams)
    plays: PlayList = field(default_factory=default_plays)
    notify: NotifyParams = field(default_factory=NotifyParams)
    small_data: SmallDataParams = field(default_factory=SmallDataParams)
    expansion: ExpansionParams = field(default_factory=ExpansionParams)
    parents: ParentParams = field(default_factory=ParentParams)
    lifecycle: LifecycleParams = field(default_factory=LifecycleParams)
    large: LargeParams = field(default_factory=LargeParams)
    buckets: BucketParams = field(default_factory=BucketParams)
