"""The global choices of a feature build: which columns, which types, which levels.

A few choices look at a whole table rather than at one account: the most common
event and signal types (each gets its own columns) and the levels of categorical
account attributes. They are made once, by :func:`plan_features`, from all the data:
they look at no label and at no account's future in a way a feature value could
carry, so they are leak-free in practice; and they are what lets the same
:func:`~healthscore.features.build_features` run per partition (e.g. in Spark's
``applyInPandas``) with identical columns everywhere: make the plan on the driver,
pass it to every partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

from healthscore.config import FeatureParams
from healthscore.errors import ConfigError, SchemaError
from healthscore.features.catalogue import FAMILIES, slug_of
from healthscore.data.tables import Tables


@dataclass(frozen=True)
class FeaturePlan:
    """What one build produces.

    Attributes
    ----------
    feature_names : tuple of str
        Output feature columns, in order.
    event_types, signal_types : tuple of str
        The types (original names) that get their own columns, most common first.
    categories : mapping of str to tuple
        Levels of each categorical feature, sorted.
    survey_kind : str or None
        The ``surveys.kind`` value (lowercase) whose rows are NPS answers; None: use
        every row.
    """

    feature_names: tuple[str, ...]
    event_types: tuple[str, ...] = ()
    signal_types: tuple[str, ...] = ()
    categories: Mapping[str, tuple] = field(default_factory=dict)
    survey_kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for a Spark broadcast or a sidecar)."""
        return {
            "feature_names": list(self.feature_names),
            "event_types": list(self.event_types),
            "signal_types": list(self.signal_types),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "survey_kind": self.survey_kind,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "FeaturePlan":
        return cls(
            feature_names=tuple(raw["feature_names"]),
            event_types=tuple(raw.get("event_types", ())),
            signal_types=tuple(raw.get("signal_types", ())),
            categories={k: tuple(v) for k, v in raw.get("categories", {}).items()},
            survey_kind=raw.get("survey_kind"),
        )


def slugify(names) -> list[str]:
    """Column-safe, unique slugs of type names (lowercase ``[a-z0-9_]``, no ``__``)."""
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        slug = slug_of(name) or f"type{i + 1}"
        base, n = slug, 2
        while slug in seen:
            slug, n = f"{base}_{n}", n + 1
        seen.add(slug)
        out.append(slug)
    return out


def type_counts(values: pd.Series) -> pd.Series:
    """How often each non-missing value occurs, indexed by its text (int64)."""
    return values.dropna().astype("str").value_counts(sort=False).astype("int64")


def top_types(values: pd.Series, n: int) -> tuple[str, ...]:
    """The ``n`` most frequent non-missing values; ties by name (deterministic)."""
    if n <= 0 or values.empty:
        return ()
    return top_counted(type_counts(values), n)


def top_counted(counts: pd.Series, n: int) -> tuple[str, ...]:
    """:func:`top_types` from the values' :func:`type_counts`."""
    if n <= 0 or counts.empty:
        return ()
    frame = pd.DataFrame({"name": counts.index.astype("str"), "n": counts.to_numpy()})
    frame = frame.sort_values(["n", "name"], ascending=[False, True], kind="stable")
    return tuple(frame["name"].head(n))


@dataclass(frozen=True)
class PlanCounts:
    """What the whole-table choices of a plan read, counted on one part of the data
    (a bucket of accounts) and added up over all parts (:meth:`merge`), so a plan made
    from them equals the plan of the whole data (:func:`~healthscore.features.plan_features`).

    Attributes
    ----------
    event_types, signal_types : Series or None
        :func:`type_counts` of ``events.event`` and ``signals.signal`` (None: no table).
    levels : mapping of str to frozenset
        The values seen of each categorical account feature.
    nps : bool
        Some ``surveys.kind`` says ``nps``.
    """

    event_types: pd.Series | None = None
    signal_types: pd.Series | None = None
    levels: Mapping[str, frozenset] = field(default_factory=dict)
    nps: bool = False

    @classmethod
    def of(cls, tables: Tables, params: FeatureParams) -> "PlanCounts":
        """The counts of one part's tables."""
        counts = {name: type_counts(tables[name][column]) if name in tables else None
                  for name, column in (("events", "event"), ("signals", "signal"))}
        levels = {name: frozenset(values) for name, values in category_levels(tables, params).items()}
        return cls(counts["events"], counts["signals"], levels, survey_kind(tables.get("surveys")) == "nps")

    def merge(self, other: "PlanCounts") -> "PlanCounts":
        """The counts of both parts together."""
        def add(a, b):
            if a is None or b is None:
                return a if b is None else b
            return a.add(b, fill_value=0).astype("int64")

        levels = {k: self.levels.get(k, frozenset()) | other.levels.get(k, frozenset())
                  for k in dict.fromkeys([*self.levels, *other.levels])}
        return PlanCounts(add(self.event_types, other.event_types),
                          add(self.signal_types, other.signal_types), levels, self.nps or other.nps)

    def category_levels(self) -> dict[str, tuple]:
        """Sorted levels, as :func:`category_levels` gives them for the whole data."""
        return {k: tuple(sorted(v, key=str)) for k, v in self.levels.items()}


def survey_kind(surveys: pd.DataFrame | None) -> str | None:
    """``"nps"`` when ``surveys.kind`` exists and some rows say so (any case), else None."""
    if surveys is None or "kind" not in surveys.columns:
        return None
    kind = surveys["kind"].dropna().astype("str").str.strip().str.lower()
    return "nps" if kind.eq("nps").any() else None


def check_attributes(accounts: pd.DataFrame, params: FeatureParams) -> None:
    """``account_attributes`` must name columns of ``accounts``."""
    missing = [c for c in params.account_attributes if c not in accounts.columns]
    if missing:
        raise SchemaError(
            f"features.account_attributes names column {missing[0]!r}, which table "
            f"'accounts' does not have (columns: {', '.join(map(str, accounts.columns))})")


def check_params(params: FeatureParams) -> None:
    """Reject windows and counts that cannot work, naming the key."""
    for key in ("windows", "trend_windows"):
        values = getattr(params, key)
        if any((not isinstance(w, int)) or w < 1 for w in values):
            raise ConfigError(f"features.{key}: expected whole days >= 1, got {values!r}")
        if len(set(values)) != len(values):
            raise ConfigError(f"features.{key}: windows repeat in {values!r}")
    if not params.windows:
        raise ConfigError("features.windows: expected at least one window, got []")
    for key in ("top_event_types", "top_signal_types"):
        if getattr(params, key) < 0:
            raise ConfigError(f"features.{key}: expected an integer >= 0, got {getattr(params, key)!r}")
    if params.partition_accounts < 1:
        raise ConfigError(
            f"features.partition_accounts: expected an integer >= 1, got {params.partition_accounts!r}")
    for i, pair in enumerate(params.ratio_pairs):
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ConfigError(f"features.ratio_pairs[{i}]: expected two different type names "
                              f"[numerator, denominator], got {pair!r}")
    for key in ("per_seat", "pct_change"):
        for measure in getattr(params, key):
            if measure.count("__") != 1:
                raise ConfigError(f"features.{key}: {measure!r} is not a windowed measure "
                                  "<source>__<measure> such as events__count")
    for signal, family in params.signal_families.items():
        if family not in FAMILIES:
            raise ConfigError(f"features.signal_families.{signal}: family {family!r} is not one of "
                              f"{', '.join(FAMILIES)}")


def category_levels(tables: Tables, params: FeatureParams) -> dict[str, tuple]:
    """Sorted levels of every categorical account feature (``accounts__<column>``)."""
    accounts = tables.accounts
    out: dict[str, tuple] = {}
    for column in categorical_columns(accounts, params):
        values = accounts[column].dropna()
        out[f"accounts__{column}"] = tuple(sorted(values.unique().tolist(), key=str))
    return out


def categorical_columns(accounts: pd.DataFrame, params: FeatureParams) -> list[str]:
    """Account columns used as categorical features, in params order."""
    out = [c for c in params.categoricals if c in accounts.columns]
    for column in params.account_attributes:
        if column not in out and not _is_numeric(accounts[column]):
            out.append(column)
    return out


def numeric_attributes(accounts: pd.DataFrame, params: FeatureParams) -> list[str]:
    """``account_attributes`` that are numeric (features as float64)."""
    return [c for c in params.account_attributes
            if c in accounts.columns and c not in params.categoricals
            and _is_numeric(accounts[c]) and c != "seats"]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not isinstance(series.dtype, pd.CategoricalDtype)
