"""The feature catalogue: what each feature means, in words a CSM reads.

Entries are made from feature *names* by pattern (``<source>__<measure>__<window>``,
``<source>__<type>__<measure>__<window>``, ``<source>__<measure>__<N>d_vs_prev_<N>d``,
``signals__<type>__days_since_last`` and a few fixed names), so every name the builder
produces is covered, per-type columns included. A signal type's family comes from
``features.signal_families`` (by name), else from words in its name. ``phrase`` is a :meth:`str.format` template rendered with ``value``
and the row's other feature values by name
(:func:`healthscore.features.phrases.render_phrase`).

How an entry's phrase and a value are put in words is :mod:`healthscore.features.phrases`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

import pandas as pd

from healthscore.config import FeatureParams

FAMILIES = ("usage", "support", "billing", "sentiment", "engagement", "contract", "account")
SOURCE_FAMILY = {"events": "usage", "tickets": "support", "invoices": "billing",
                 "surveys": "sentiment", "emails": "engagement", "signals": "engagement",
                 "subscriptions": "contract", "accounts": "account", "exposure": "contract",
                 "contacts": "usage"}
#: Features whose family is not their source's (the champion's survey is sentiment).
FEATURE_FAMILY = {"contacts__champion_survey_last": "sentiment",
                  "contacts__champion_tenure_days": "engagement"}
#: Account columns that are categorical unless told otherwise.
DEFAULT_CATEGORICALS = ("segment", "plan", "industry", "region")


@dataclass(frozen=True)
class FeatureInfo:
    """One feature in words.

    ``family`` is one of :data:`FAMILIES`; ``kind`` ``numeric`` or ``categorical``;
    ``healthy_direction`` +1 when higher is healthier, -1 when lower is, 0 no prior.
    """

    name: str
    label: str
    family: str
    unit: str
    phrase: str
    kind: str = "numeric"
    healthy_direction: int = 0


# (label, unit, phrase, healthy_direction); "{w}" is the window in words.
_WINDOWED: dict[tuple[str, str], tuple[str, str, str, int]] = {
    ("events", "count"): ("Product events, {w}", "events", "Product events in the {w}: {value:,.0f}", 1),
    ("events", "quantity"): ("Product actions, {w}", "actions", "Product actions in the {w}: {value:,.0f}", 1),
    ("events", "active_days"): ("Active days, {w}", "days", "Product used on {value:.0f} in the {w}", 1),
    ("events", "active_users"): ("Active users, {w}", "users", "Active users in the {w}: {value:.0f}", 1),
    ("events", "event_types"): ("Product features used, {w}", "features",
                                "Product features used in the {w}: {value:.0f}", 1),
    ("events", "seat_utilisation"): ("Seat utilisation, {w}", "share",
                                     "Seat utilisation in the {w}: {value:.0%}", 1),
    ("events", "lapsed_users"): ("Users gone quiet, {w}", "users",
                                 "Users active in the {W} days before the {w} but not since: "
                                 "{value:.0f}", -1),
    ("events", "count_per_user"): ("Product events per active user, {w}", "events",
                                   "Product events per active user in the {w}: {value:,.1f}", 1),
    ("events", "count_tenure_scaled"): ("Product events, {w}, scaled to the account's age", "events",
                                        "Product events in the {w} (scaled to a full window for a "
                                        "young account): {value:,.0f}", 1),
    ("events", "first_days_count"): ("Product events in the first {W} days as a customer", "events",
                                     "Product events in the first {W} days as a customer (scaled "
                                     "to {W} days while younger): {value:,.0f}", 1),
    ("events", "new_users"): ("New users, {w}", "users",
                              "Users with their first product event in the {w}: {value:.0f}", 0),
    ("tickets", "high_priority"): ("High-priority tickets, {w}", "tickets",
                                   "High-priority tickets opened in the {w}: {value:.0f}", -1),
    ("tickets", "opened"): ("Tickets opened, {w}", "tickets", "Support tickets opened in the {w}: {value:.0f}", -1),
    ("tickets", "high_priority_share"): ("High-priority ticket share, {w}", "share",
                                         "High-priority share of tickets opened in the {w}: {value:.0%}", -1),
    ("tickets", "days_to_close_mean"): ("Mean days to close a ticket, {w}", "days",
                                        "Tickets closed in the {w} took {value:.1f} on average", -1),
    ("tickets", "csat_mean"): ("Mean ticket CSAT, {w}", "csat",
                               "Mean CSAT of tickets closed in the {w}: {value:.1f}", 1),
    ("invoices", "late"): ("Late invoices, {w}", "invoices",
                           "Invoices due in the {w} paid late or not paid: {value:.0f}", -1),
    ("invoices", "late_share"): ("Share of invoices paid late, {w}", "share",
                                 "Share of invoices due in the {w} paid late: {value:.0%}", -1),
    ("surveys", "nps_mean"): ("Mean NPS, {w}", "nps", "Mean NPS score in the {w}: {value:.1f}", 1),
    ("surveys", "responses"): ("Survey responses, {w}", "responses",
                               "Survey responses in the {w}: {value:.0f}", 0),
    ("emails", "sent"): ("Emails sent, {w}", "emails", "Emails sent in the {w}: {value:.0f}", 0),
    ("emails", "open_rate"): ("Email open rate, {w}", "share", "Email open rate in the {w}: {value:.0%}", 1),
    ("emails", "click_rate"): ("Email click rate, {w}", "share", "Email click rate in the {w}: {value:.0%}", 1),
    ("contacts", "champion_events"): ("Champion's product events, {w}", "events",
                                      "The champion's product events in the {w}: {value:,.0f}", 1),
    ("contacts", "power_users_active"): ("Power users still active, {w}", "share",
                                         "Share of the power users of the {W} days before still "
                                         "active in the {w}: {value:.0%}", 1),
    ("contacts", "left"): ("Contacts who left, {w}", "contacts",
                           "Contacts who left the account in the {w}: {value:.0f}", -1),
    ("subscriptions", "mrr_change"): ("MRR change, {w}", "currency", "MRR change over the {w}: {value:+,.0f}", 1),
}

_FIXED: dict[str, tuple[str, str, str, int]] = {
    "events__days_since_last": ("Days since the last product event", "days",
                                "Last product event {value:.0f} ago", -1),
    # Onboarding milestones (healthscore.features.milestones).
    "events__days_to_first_value": ("Days to first value", "days",
                                    "First core product event {value:.0f} after the start", -1),
    "events__seats_activated": ("Seats activated", "share",
                                "Seats activated since the start: {value:.0%} of "
                                "{accounts__seats:.0f}", 1),
    "tickets__days_since_last_high_priority": (
        "Days since the last high-priority ticket", "days",
        "Last high-priority ticket opened {value:.0f} ago", 1),
    "invoices__days_since_last_late": ("Days since the last late invoice", "days",
                                       "Last invoice paid late (or not paid) was due {value:.0f} "
                                       "ago", 1),
    "invoices__days_since_last_payment": ("Days since the last payment", "days",
                                          "Last payment received {value:.0f} ago", 0),
    "surveys__days_since_last_detractor": ("Days since the last detractor NPS", "days",
                                           "Last detractor NPS response {value:.0f} ago", 1),
    "contacts__champion_days_since_active": ("Days since the champion's last product event", "days",
                                             "The champion's last product event {value:.0f} ago", -1),
    "contacts__champion_survey_last": ("Champion's latest survey score", "nps",
                                       "The champion's latest survey score: {value:.0f}", 1),
    "contacts__champion_tenure_days": ("Champion's time in the role", "days",
                                       "The champion has been in the role for {value:,.0f}", 1),
    "tickets__open__now": ("Open tickets", "tickets", "Open support tickets: {value:.0f}", -1),
    "invoices__overdue__now": ("Overdue invoices", "invoices", "Overdue invoices: {value:.0f}", -1),
    "invoices__days_overdue__now": ("Days overdue", "days",
                                    "Oldest unpaid invoice is {value:.0f} past due", -1),
    "invoices__unpaid_amount__now": ("Unpaid amount", "currency",
                                     "Unpaid invoices (due or not yet due): {value:,.0f}", 0),
    "surveys__nps_last": ("Latest NPS", "nps", "Latest NPS response: {value:.0f}", 1),
    "surveys__nps_change": ("NPS change", "score",
                            "Latest NPS response vs the one before: {value:+.0f}", 1),
    "surveys__nps_detractor": ("Latest NPS is a detractor", "flag",
                               "Latest NPS response from a detractor (1 = yes): {value:.0f}", -1),
    "surveys__days_since_last": ("Days since the last survey response", "days",
                                 "Last survey response {value:.0f} ago", 0),
    "subscriptions__mrr__now": ("MRR", "currency", "Monthly recurring revenue: {value:,.0f}", 0),
    "subscriptions__days_to_renewal": ("Days to renewal", "days", "Renewal in {value:.0f}", 0),
    "subscriptions__contract_days": ("Contract length", "days",
                                     "Current contract runs {value:.0f}", 1),
    "subscriptions__renewals": ("Renewals so far", "renewals", "Renewals so far: {value:.0f}", 1),
    "accounts__tenure_days": ("Tenure", "days", "Customer for {value:,.0f}", 1),
    "accounts__seats": ("Seats", "seats", "Seats: {value:,.0f}", 0),
    # The renewal calendar of a horizon model (healthscore.model.exposure): profile facts.
    "exposure__lead_days": ("Days to the next renewal", "days", "Next renewal in {value:.0f}", 0),
    "exposure__renewal_index": ("Renewal number in the horizon", "renewals",
                                "Renewal {value:.0f} of the horizon", 0),
    "exposure__term_days": ("Contract term", "days", "Renews every {value:.0f}", 0),
    "exposure__renewals": ("Renewals in the horizon", "renewals",
                           "Renewals due in the horizon: {value:.0f}", 0),
}

# Signal names hint at their family and direction (matched as words in the name).
_SIGNAL_HINTS: tuple[tuple[str, str, int], ...] = (
    ("referral", "engagement", 1), ("sponsor", "engagement", 1), ("onboard", "usage", 1),
    ("expansion", "contract", 1), ("upsell", "contract", 1), ("praise", "sentiment", 1),
    ("community", "engagement", 1), ("downgrade", "contract", -1), ("cancel", "contract", -1),
    ("competitor", "sentiment", -1), ("complaint", "sentiment", -1),
    ("escalation", "support", -1), ("contact_change", "usage", -1),
    ("payment", "billing", -1), ("churn", "contract", -1),
)

_WINDOW = re.compile(r"^(\d+)d$")
_TREND = re.compile(r"^(\d+)d_vs_prev_(\d+)d$")


def _in_words(days: int) -> str:
    return "last day" if days == 1 else f"last {days} days"


def _fill(text: str, days: int) -> str:
    return text.replace("{w}", _in_words(days)).replace("{W}", str(days))


def build_catalogue(feature_names: Iterable[str], *, categorical: Iterable[str] = (),
                    signal_families: Mapping[str, str] | None = None) -> dict[str, FeatureInfo]:
    """Catalogue entries for ``feature_names``, in their order.

    Parameters
    ----------
    feature_names : iterable of str
        Names as the builder makes them.
    categorical : iterable of str
        Extra ``accounts__<column>`` names that are categorical (beyond segment, plan,
        industry and region), e.g. the dataset's ``category`` columns.
    signal_families : mapping of str to str, optional
        Family of each ``signals.signal`` value (``params.features.signal_families``);
        default: :class:`~healthscore.config.FeatureParams`'s. Types not listed get a
        family from words in their name (``downgrade`` -> contract, ...), else
        ``engagement``.

    Raises
    ------
    ValueError
        A name that does not follow ``<source>__<measure>`` with a known source, or a
        family that is not one of :data:`FAMILIES`.
    """
    names = list(feature_names)
    present = set(names)
    extra_categorical = set(categorical)
    if signal_families is None:
        signal_families = FeatureParams().signal_families
    by_slug = {slug_of(k): v for k, v in signal_families.items()}
    bad = {k: v for k, v in by_slug.items() if v not in FAMILIES}
    if bad:
        key, family = next(iter(bad.items()))
        raise ValueError(f"signal_families: {key!r} -> {family!r}; expected one of {', '.join(FAMILIES)}")
    return {name: _entry(name, present, extra_categorical, by_slug) for name in names}


def slug_of(name: str) -> str:
    """The column slug of a type name: lowercase ``[a-z0-9_]`` (``""`` when nothing is left);
    :func:`healthscore.features.plan.slugify` makes them unique."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def _entry(name: str, present: set[str], categorical: set[str],
           signal_families: Mapping[str, str]) -> FeatureInfo:
    parts = name.split("__")
    source = parts[0]
    if len(parts) < 2 or source not in SOURCE_FAMILY:
        raise ValueError(f"feature {name!r}: expected <source>__<measure>[__<window>] with "
                         f"source one of {', '.join(SOURCE_FAMILY)}")
    family = FEATURE_FAMILY.get(name, SOURCE_FAMILY[source])
    if name in _FIXED:
        label, unit, phrase, direction = _FIXED[name]
        return FeatureInfo(name, label, family, unit, phrase, "numeric", direction)
    if source == "accounts" and len(parts) == 2:
        column = parts[1]
        words = column.replace("_", " ").capitalize()
        if column in DEFAULT_CATEGORICALS or name in categorical:
            return FeatureInfo(name, words, family, "category", f"{words}: {{value}}", "categorical", 0)
        return FeatureInfo(name, words, family, "value", f"{words}: {{value:,.4g}}", "numeric", 0)
    if len(parts) == 3 and (trend := _TREND.match(parts[2])):
        days = int(trend.group(1))
        what = {("events", "count"): "Product events", ("events", "active_users"): "Active users",
                ("tickets", "opened"): "Tickets opened"}.get(
            (source, parts[1]), parts[1].replace("_", " ").capitalize())
        label = f"{what} trend, {_in_words(days)} vs the {days} before"
        phrase = f"{what} in the {_in_words(days)} vs the {days} days before: {{value:.2f}}"
        direction = -1 if source == "tickets" else 1
        return FeatureInfo(name, label, family, "ratio", phrase, "numeric", direction)
    if source == "events" and len(parts) in (3, 4):
        info = _event_type_info(name, parts, family)
        if info is not None:
            return info
    if source == "signals" and len(parts) == 3 and parts[2] == "days_since_last":
        kind = parts[1]
        words = kind.replace("_", " ")
        family, direction = _signal_hint(kind, signal_families)
        return FeatureInfo(name, f"Days since the last '{words}' signal", family, "days",
                           f"Last '{words}' signal {{value:.0f}} ago", "numeric", -direction)
    if len(parts) == 3 and (window := _WINDOW.match(parts[2])):
        days = int(window.group(1))
        spec = _WINDOWED.get((source, parts[1]))
        if spec is None and (info := _derived_info(name, parts, family, days, signal_families)):
            return info
        if spec is None:
            words = parts[1].replace("_", " ").capitalize()
            spec = (f"{words}, {{w}}", "value", f"{words} in the {{w}}: {{value:,.4g}}", 0)
        label, unit, phrase, direction = spec
        phrase = _fill(phrase, days)
        if (source, parts[1]) == ("events", "active_users") and "accounts__seats" in present:
            phrase += " of {accounts__seats:.0f} seats"
        if (source, parts[1]) == ("events", "seat_utilisation"):
            users = f"events__active_users__{days}d"
            if users in present and "accounts__seats" in present:
                phrase += f" ({{{users}:.0f}} of {{accounts__seats:.0f}} seats)"
        return FeatureInfo(name, _fill(label, days), family, unit, phrase, "numeric", direction)
    if len(parts) == 4 and (window := _WINDOW.match(parts[3])) and source in ("events", "signals"):
        days = int(window.group(1))
        kind, measure = parts[1], parts[2]
        words = kind.replace("_", " ")
        if source == "events":
            return FeatureInfo(name, f"'{words}' events, {_in_words(days)}", family, "events",
                               f"'{words}' events in the {_in_words(days)}: {{value:,.0f}}", "numeric", 1)
        family, direction = _signal_hint(kind, signal_families)
        if measure == "value":
            return FeatureInfo(name, f"Total of '{words}' signals, {_in_words(days)}", family, "value",
                               f"Total value of '{words}' signals in the {_in_words(days)}: {{value:,.4g}}",
                               "numeric", direction)
        return FeatureInfo(name, f"'{words}' signals, {_in_words(days)}", family, "signals",
                           f"'{words}' signals in the {_in_words(days)}: {{value:,.0f}}", "numeric", direction)
    words = " ".join(p.replace("_", " ") for p in parts[1:]).capitalize()
    return FeatureInfo(name, words, family, "value", f"{words}: {{value:,.4g}}", "numeric", 0)


def _event_type_info(name: str, parts: list[str], family: str) -> FeatureInfo | None:
    """The per-type behaviour metrics of :mod:`healthscore.features.events` (share,
    trend, days since last), or None for any other ``events__*`` name."""
    words = parts[1].replace("_", " ")
    if len(parts) == 3 and parts[2] == "days_since_last":
        return FeatureInfo(name, f"Days since the last '{words}' event", family, "days",
                           f"Last '{words}' event {{value:.0f}} ago", "numeric", -1)
    if len(parts) != 4:
        return None
    if parts[2] == "share" and (window := _WINDOW.match(parts[3])):
        days = _in_words(int(window.group(1)))
        return FeatureInfo(name, f"Share of '{words}' in all events, {days}", family, "share",
                           f"Share of '{words}' in all product events in the {days}: {{value:.0%}}",
                           "numeric", 0)
    if parts[2] == "count" and (trend := _TREND.match(parts[3])):
        days = int(trend.group(1))
        return FeatureInfo(name, f"'{words}' events trend, {_in_words(days)} vs the {days} before",
                           family, "ratio", f"'{words}' events in the {_in_words(days)} vs the {days} "
                           "days before: {value:.2f}", "numeric", 1)
    return None


def _signal_hint(kind: str, signal_families: Mapping[str, str]) -> tuple[str, int]:
    """Family and healthy direction of a signal type (its slug ``kind``)."""
    family, direction = "engagement", 0
    for word, hinted, sign in _SIGNAL_HINTS:
        if word in kind:
            family, direction = hinted, sign
            break
    return signal_families.get(kind, family), direction


# Derived behaviour metrics (healthscore.features.derived), appended.
_DERIVED_SUFFIX = re.compile(r"^(?P<measure>.+)_(?P<kind>per_seat|pct_change)$")


def _derived_info(name: str, parts: list[str], family: str, days: int,
                  signal_families: Mapping[str, str]) -> FeatureInfo | None:
    """Entries of ``<m>_per_seat``, ``<m>_pct_change`` and ``<a>_per_<b>`` (a ratio of
    two event or signal types) over a window; None for any other name."""
    w = _in_words(days)
    if (match := _DERIVED_SUFFIX.match(parts[1])) is not None:
        base = f"{parts[0]}__{match['measure']}__{days}d"
        base_info = _entry(base, set(), set(), signal_families)
        label = base_info.label.rsplit(",", 1)[0]
        direction = base_info.healthy_direction
        if match["kind"] == "per_seat":
            return FeatureInfo(name, f"{label} per seat, {w}", family, f"{base_info.unit} per seat",
                               f"{label} per seat in the {w}: {{value:,.2f}}", "numeric", direction)
        return FeatureInfo(name, f"{label}, change, {w} vs the {days} before", family, "share",
                           f"{label} in the {w} vs the {days} days before: {{value:+.0%}}",
                           "numeric", direction)
    if "_per_" in parts[1] and parts[0] in ("events", "signals"):
        a, b = (p.replace("_", " ") for p in parts[1].split("_per_", 1))
        kind = "events" if parts[0] == "events" else "signals"
        if parts[0] == "signals":
            family, _ = _signal_hint(parts[1].split("_per_", 1)[0], signal_families)
        return FeatureInfo(name, f"'{a}' per '{b}' {kind}, {w}", family, "ratio",
                           f"'{a}' {kind} per '{b}' {kind} in the {w}: {{value:,.2f}}", "numeric", 0)
    return None


# -------------------------------------------------------------------- persistence


def catalogue_to_frame(catalogue: Mapping[str, FeatureInfo]) -> pd.DataFrame:
    """One row per feature with the :class:`FeatureInfo` fields as columns."""
    columns = ["name", "label", "family", "unit", "phrase", "kind", "healthy_direction"]
    return pd.DataFrame([asdict(info) for info in catalogue.values()], columns=columns)


def to_json(catalogue: Mapping[str, FeatureInfo]) -> str:
    """The catalogue as a JSON list of entries (``catalogue.json``)."""
    return json.dumps([asdict(info) for info in catalogue.values()], indent=1)


def catalogue_from_json(text: str) -> dict[str, FeatureInfo]:
    """Inverse of :func:`to_json`."""
    return {entry["name"]: FeatureInfo(**entry) for entry in json.loads(text)}
