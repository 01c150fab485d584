"""``params.yaml`` loaded into frozen, typed sections.

Each stage receives only its own section. An unknown key or a value of the wrong type
is a :class:`~healthscore.errors.ConfigError` naming the key and what was expected, so
a typo never falls back silently to a default.

Durations are whole days (``*_days``); dates are ISO strings (``2024-01-31``).

Ranges are declared on the fields (``num_leaves: int = limited(7, low=2)``, dates with
:func:`iso_date`) and checked at load, as the types are, so ``model.num_leaves=0`` or
``data.observed_until: yesterday`` stops with the key named before any stage runs;
checks that involve two fields are each section's ``_cross_check``. Every number must
be finite.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import yaml

from healthscore.errors import ConfigError

# ------------------------------------------------------------------ declared ranges


@dataclass(frozen=True)
class Limits:
    """The numbers a field accepts, checked at load with the key named.

    ``low`` / ``high`` are inclusive bounds, ``above`` / ``below`` exclusive ones;
    ``also`` lists values accepted outside them (e.g. ``-1`` for "no limit"). On a list
    field the limits apply to every item; ``None``, where the type allows it, passes.
    """

    low: float | None = None
    high: float | None = None
    above: float | None = None
    below: float | None = None
    also: tuple[float, ...] = ()

    def accepts(self, value: float) -> bool:
        if value in self.also:
            return True
        return not ((self.low is not None and value < self.low)
                    or (self.high is not None and value > self.high)
                    or (self.above is not None and value <= self.above)
                    or (self.below is not None and value >= self.below))

    def describe(self) -> str:
        """``at least 1``, ``above 0 and at most 1``, ``-1 or at least 1``."""
        parts = [f"{word} {bound:g}" for word, bound in (
            ("at least", self.low), ("above", self.above), ("at most", self.high),
            ("below", self.below)) if bound is not None]
        return " or ".join([*(f"{v:g}" for v in self.also), " and ".join(parts)])


def limited(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING,
            **limits: Any) -> Any:
    """A dataclass field whose numbers are checked at load against :class:`Limits`:
    ``limited(7, low=2)``; ``limited(factory=lambda: [7, 30], low=1)`` for a list."""
    return field(default=default, default_factory=factory, metadata={"limits": Limits(**limits)})


def iso_date(default: str | None = None) -> Any:
    """A dataclass field holding an ISO date or instant (``2024-01-31``) or None,
    checked at load: parsable, without a time zone (the data's clock has none)."""
    return field(default=default, metadata={"iso_date": True})

# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class LookupParams:
    """Replace a column's codes by names from another table (e.g. event type ids)."""

    table: str
    key: str
    value: str


@dataclass(frozen=True)
class DataParams:
    """Where the tables are and how a user's names map onto the contract's.

    ``tables`` maps our table name to the user's file or table name (without the
    extension); ``columns`` maps, per table, our column name to the user's column name;
    ``lookups`` maps, per table, our column to a lookup table that turns codes into
    names. ``observed_until`` is the last instant the data describes (default: the
    latest timestamp found); anything at or after it is ignored.
    """

    source: str = "data/demo"
    format: Literal["auto", "parquet", "csv", "duckdb"] = "auto"
    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    lookups: dict[str, dict[str, LookupParams]] = field(default_factory=dict)
    on_invalid_rows: Literal["drop", "error"] = "drop"
    observed_until: str | None = iso_date()


# ------------------------------------------------------------------ timeline, labels


@dataclass(frozen=True)
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
    lead_time_days: int = limited(0, low=0)
    horizon_days: int = limited(365, low=1)
    cadence: str = "MS"
    start: str | None = iso_date()
    end: str | None = iso_date()

    def _cross_check(self, key: Callable[[str], str]) -> None:
        from pandas.tseries.frequencies import to_offset

        try:
            steps = to_offset(self.cadence).n
        except (ValueError, TypeError):
            steps = 0
        if steps <= 0:
            raise ConfigError(f"{key('cadence')}: expected a pandas offset alias that moves "
                              f"forward, such as MS (1st of each month), got {self.cadence!r}")
        if self.start is not None and self.end is not None and (
                dt.datetime.fromisoformat(self.end) < dt.datetime.fromisoformat(self.start)):
            raise ConfigError(f"{key('end')}: {self.end} is before {key('start')} {self.start}; "
                              "expected end on or after start")


@dataclass(frozen=True)
class LabelParams:
    """How an outcome becomes a label.

    A renewal is churn when no successor subscription starts within ``grace_days`` of
    the end, or an explicit ``outcome`` column says ``churned``; with
    ``contraction_share`` set, a successor whose MRR is lower by more than that share
    counts as churn too.
    """

    grace_days: int = limited(30, low=0)
    contraction_share: float | None = limited(None, above=0, high=1)


# ------------------------------------------------------------------------- features


@dataclass(frozen=True)
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
    ``engagement``.
    """

    windows: list[int] = limited(factory=lambda: [7, 30, 90, 180], low=1)
    trend_windows: list[int] = limited(factory=lambda: [30, 90], low=1)
    top_event_types: int = limited(5, low=0)
    top_signal_types: int = limited(8, low=0)
    categoricals: list[str] = field(
        default_factory=lambda: ["segment", "plan", "industry", "region"]
    )
    account_attributes: list[str] = field(default_factory=list)
    high_priority: list[str] = field(default_factory=lambda: ["high", "urgent"])
    detractor_max: float = 6.0
    partition_accounts: int = limited(25_000, low=1)
    signal_families: dict[str, str] = field(default_factory=lambda: {
        "downgrade_request": "contract", "competitor_mention": "sentiment",
        "contact_change": "account", "exec_sponsor_meeting": "engagement",
        "feature_request": "engagement", "community_post": "engagement",
        "referral": "sentiment", "new_team_onboarded": "usage",
    })


# -------------------------------------------------------------------- model, split


@dataclass(frozen=True)
class SplitParams:
    """Out-of-time split by cutoff time: the last ``test_months`` of cutoffs are test,
    the ``validation_months`` before them validation (early stopping and Platt
    calibration), the rest train. A shorter validation window leaves more rows to learn
    from but calibrates on fewer: on the 20,000-account simulation, 3 months gave +0.002
    test AUC over 6 but a Platt intercept skewed by that quarter's churn rate."""

    test_months: int = limited(6, low=1)
    validation_months: int = limited(6, low=1)


@dataclass(frozen=True)
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

    n_estimators: int = limited(1000, low=1)
    learning_rate: float = limited(0.05, above=0)
    num_leaves: int = limited(7, low=2, high=131_072)  # LightGBM's own range
    max_depth: int = limited(3, low=1, also=(-1,))  # -1: no limit
    min_child_samples: int = limited(50, low=0)
    subsample: float = limited(0.8, above=0, high=1)
    subsample_freq: int = limited(1, low=0)
    colsample_bytree: float = limited(0.8, above=0, high=1)
    reg_lambda: float = limited(1.0, low=0)
    early_stopping_rounds: int = limited(100, low=0)  # 0: no early stopping
    holdout_share: float = limited(0.25, low=0, below=1)
    min_churned_rows: int = limited(50, low=0)
    random_state: int = limited(42, low=0, high=2**31 - 1)
    n_jobs: int = limited(2, low=-1)  # -1 or 0: LightGBM's default threads
    exclude_features: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CalibrationParams:
    """Platt scaling on the raw margin (keeps explanations additive) or isotonic.

    Isotonic is report-only: the score's points are then not exactly additive.
    ``ece_bins`` equal-width bins measure the expected calibration error.
    """

    method: Literal["platt", "isotonic"] = "platt"
    ece_bins: int = limited(10, low=1)


@dataclass(frozen=True)
class ScorecardRule:
    """One metric of the rule scorecard: 100 points at ``good`` or better, 0 at
    ``bad`` or worse, linear between; ``weight`` is its share of the total."""

    feature: str
    good: float
    bad: float
    weight: float = limited(above=0)

    def _cross_check(self, key: Callable[[str], str]) -> None:
        if self.good == self.bad:
            raise ConfigError(f"{key('good')}, {key('bad')}: expected different values "
                              f"(points are linear between them), got {self.good:g} and {self.bad:g}")


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


@dataclass(frozen=True)
class ScorecardParams:
    """The weighted rule scorecard, the way vendor health scores work.

    Each rule gives 0-100 points (linear between ``bad`` and ``good``; ``good`` may be
    below ``bad`` for metrics where less is better); a missing value gives
    ``missing_points``. The health score is the weighted mean over the rules whose
    feature is present, rounded and clipped to 1-100.
    """

    rules: list[ScorecardRule] = field(default_factory=_default_scorecard_rules)
    missing_points: float = limited(50.0, low=0, high=100)

    def _cross_check(self, key: Callable[[str], str]) -> None:
        if not self.rules:
            raise ConfigError(f"{key('rules')}: expected at least one rule, got an empty list")


# ------------------------------------------------------------------- score, alerts


#: Facts about the contract and the account, not behaviour: their points are the
#: account's starting point ("accounts like this score 78"), never drivers. An entry
#: ending in ``__`` names every feature starting with it.
PROFILE_FEATURES = ("exposure__", "subscriptions__days_to_renewal", "subscriptions__contract_days",
                    "subscriptions__mrr__now", "accounts__segment", "accounts__plan",
                    "accounts__industry", "accounts__region", "accounts__seats")


@dataclass(frozen=True)
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

    offset: float = 35.0
    pdo: float = limited(10.0, above=0)
    red_below: int = limited(50, low=1, high=100)
    green_from: int = limited(70, low=1, high=100)
    top_drivers: int = limited(5, low=1)
    out_dir: str = "outputs"
    chunk_rows: int = limited(100_000, low=1)
    incremental: bool = False
    profile_features: list[str] = field(default_factory=lambda: list(PROFILE_FEATURES))

    def _cross_check(self, key: Callable[[str], str]) -> None:
        if self.red_below > self.green_from:
            raise ConfigError(f"{key('red_below')}={self.red_below} is above {key('green_from')}="
                              f"{self.green_from}; expected red_below <= green_from (yellow between)")


@dataclass(frozen=True)
class AlertParams:
    """When a scored account raises an alert (against its previous scoring).

    ``new_red``: red now, not red before. ``band_drop``: a worse band than before.
    ``drop_points``: the health score fell by at least this many points (0 = off).
    ``reasons``: changed drivers named as the alert's reasons.
    """

    new_red: bool = True
    band_drop: bool = True
    drop_points: int = limited(10, low=0, high=99)
    reasons: int = limited(3, low=0)


@dataclass(frozen=True)
class ReportParams:
    """The HTML report for customer-success managers.

    ``top_movers``: biggest drops and rises listed on the overview. ``max_accounts``:
    account pages for the riskiest N accounts only (the overview says so).
    ``drivers_shown``: drivers hurting and helping listed per account.
    ``driver_min_points``: a driver *hurts* an account (patterns, next steps) when it
    costs at least this many points. ``outcome``: what happens to the accounts a risk
    counts, worded with the run's horizon ("about 1 in 7 accounts like this are lost
    within 12 months"; :func:`healthscore.explain.describe_risk`). ``currency``: symbol
    before amounts. ``next_steps``: extra next-step rules, feature-name fragment or
    family -> step, consulted before the built-in ones. ``renewal_days``: the overview
    lists the accounts whose next renewal falls within this many days.
    """

    title: str = "Customer health"
    top_movers: int = limited(10, low=0)
    max_accounts: int = limited(500, low=0)
    drivers_shown: int = limited(5, low=0)
    driver_min_points: float = limited(2.0, low=0)
    outcome: str = "are lost"
    currency: str = "$"
    next_steps: dict[str, str] = field(default_factory=dict)
    renewal_days: int = limited(90, low=0)


# ---------------------------------------------------------------------- tracking


@dataclass(frozen=True)
class GateParams:
    """Quality gates ``promote`` checks before moving the ``champion`` alias."""

    max_auc_drop: float = 0.01
    max_ece: float = limited(0.05, low=0, high=1)


@dataclass(frozen=True)
class TrackingParams:
    """MLflow. ``uri`` empty means ``MLFLOW_TRACKING_URI`` if set, else the embedded
    SQLite store ``sqlite:///mlruns.db`` with artifacts in ``mlartifacts/``."""

    uri: str = ""
    artifact_location: str = "mlartifacts"
    experiment: str = "healthscore"
    registered_model: str = "healthscore"
    export_dir: str = "models/healthscore"
    gates: GateParams = field(default_factory=GateParams)


@dataclass(frozen=True)
class TuneParams:
    """The small seeded hyperparameter search of ``train --tune``: ``n_trials`` trials
    (trial 0 = the ``model`` settings), stopped early after ``timeout_seconds`` of wall
    time (0: no time limit, so the same trials run on every machine)."""

    n_trials: int = limited(20, low=1)
    timeout_seconds: int = limited(180, low=0)


@dataclass(frozen=True)
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
    report: ReportParams = field(default_factory=ReportParams)
    tracking: TrackingParams = field(default_factory=TrackingParams)
    tune: TuneParams = field(default_factory=TuneParams)


# ------------------------------------------------------------------------ loading


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping of {_type_name(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    if tp is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ``key`` names it in errors."""
    origin = typing.get_origin(tp)
    bad = ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad
        return value
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(tp):
            try:
                return _convert(value, arg, key)
            except ConfigError:
                continue
        raise bad
    if tp is type(None):
        if value is not None:
            raise bad
        return None
    if origin is list:
        if not isinstance(value, list):
            raise bad
        (item,) = typing.get_args(tp)
        return [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise bad
        _, item = typing.get_args(tp)
        return {str(k): _convert(v, item, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise bad
        return _build(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, (dt.date, dt.datetime)):  # YAML reads 2024-01-31 as a date
            return value.isoformat()
        if not isinstance(value, str):
            raise bad
        return value
    raise TypeError(f"unsupported annotation {tp!r} for {key}")  # a bug, not user input


def _build(cls: type, raw: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"unknown key {where}{unknown[0]!s}; expected one of: {', '.join(sorted(names))}"
        )
    def key(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    declared = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in raw.items():
        kwargs[name] = _check_declared(_convert(value, hints[name], key(name)), declared[name], key(name))
    try:
        built = cls(**kwargs)
    except TypeError as exc:  # a required field of a nested entry is missing
        raise ConfigError(f"{prefix or 'params'}: {exc}") from None
    cross_check = getattr(built, "_cross_check", None)
    if cross_check is not None:
        cross_check(key)
    return built


def _check_declared(value: Any, declared: dataclasses.Field, key: str) -> Any:
    """``value`` when it is within the field's declared :class:`Limits` (every item of a
    list) and, for an :func:`iso_date` field, a date; else a ConfigError naming ``key``."""
    limits = declared.metadata.get("limits")
    if limits is not None:
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            if item is not None and not limits.accepts(item):
                where = key if i is None else f"{key}[{i}]"
                raise ConfigError(f"{where}: expected {limits.describe()}, got {item!r}")
    if declared.metadata.get("iso_date") and value is not None:
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{key}: expected an ISO date such as 2024-01-31, got {value!r}") from None
        if when.tzinfo is not None:
            raise ConfigError(f"{key}: expected a date without a time zone (the data's clock "
                              f"has none), got {value!r}")
    return value


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps dates as written: they are ISO strings checked per key
    (:func:`iso_date`), so an impossible date such as 2024-13-01 names its key."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``section.key=value`` into a key path and a YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    key, _, raw = text.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if len(path) < 2:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    try:
        value = _load_yaml(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"--set {text!r}: value is not valid YAML ({exc})") from None
    return path, value


def make_params(raw: Mapping[str, Any] | None = None, overrides: list[str] = ()) -> Params:
    """Build :class:`Params` from a mapping plus ``section.key=value`` overrides."""
    tree: dict[str, Any] = _deepcopy(dict(raw or {}))
    for text in overrides:
        path, value = parse_override(text)
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return _build(Params, tree, "")


def read_params(path: str | Path | None = None, overrides: list[str] = ()) -> Params:
    """Read ``params.yaml`` (or defaults when ``path`` is None) and apply overrides."""
    raw: Mapping[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"params file {path} does not exist")
        try:
            raw = _load_yaml(path.read_text()) or {}
        except (yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return make_params(raw, overrides)


def params_to_dict(params: Any) -> dict[str, Any]:
    """Plain nested dict of a params object (for sidecars and MLflow)."""
    return dataclasses.asdict(params)


def _deepcopy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value
