"""Words for numbers: how the report says a risk, a band, an amount or a signal.

The report's readers are customer-success managers, so every number travels with a
word. Everything here is pure and returns plain strings; the templates escape them.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

MINUS = "\u2212"  # a true minus sign, easier to read than a hyphen

#: Band -> (short label, what it means). The colour is never the only cue.
BAND_WORDS: dict[str, tuple[str, str]] = {
    "red": ("Red", "at risk"),
    "yellow": ("Yellow", "needs attention"),
    "green": ("Green", "healthy"),
}

#: Family -> heading shown to a reader (DESIGN.md section 3 families).
FAMILY_WORDS: dict[str, str] = {
    "usage": "Product usage",
    "support": "Support",
    "billing": "Billing and payments",
    "sentiment": "Sentiment (NPS, CSAT)",
    "engagement": "Engagement",
    "contract": "Contract and renewal",
    "account": "Account profile",
}

#: Table prefix of a feature name -> family, when no catalogue says otherwise.
SOURCE_FAMILY: dict[str, str] = {
    "events": "usage",
    "tickets": "support",
    "invoices": "billing",
    "surveys": "sentiment",
    "emails": "engagement",
    "signals": "engagement",
    "subscriptions": "contract",
    "accounts": "account",
}

#: Alert kind -> words.
ALERT_WORDS: dict[str, str] = {
    "new_red": "Newly red",
    "band_drop": "Dropped a band",
    "drop_points": "Score fell sharply",
    "score_drop": "Score fell sharply",
}


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes are not missing
        return False


def band_label(band: Any) -> str:
    """``Red: at risk``; unknown bands are shown as they are."""
    if is_missing(band):
        return "No band"
    short, meaning = BAND_WORDS.get(str(band), (str(band).title(), ""))
    return f"{short}: {meaning}" if meaning else short


def family_label(family: Any) -> str:
    return FAMILY_WORDS.get(str(family), str(family).replace("_", " ").capitalize())


def alert_label(kind: Any) -> str:
    return ALERT_WORDS.get(str(kind), str(kind).replace("_", " ").capitalize())


def churn_in_words(risk_proba: Any, *, outcome: str = "did not renew") -> str:
    """A churn probability as a frequency a reader can picture.

    ``0.27`` -> ``about 1 in 4 accounts like this did not renew``; ``0.6`` ->
    ``about 3 in 5 ...``. The fraction is the simplest one (denominator 2 to 10)
    within 4 percentage points; below 20 % it is ``1 in N``.
    """
    if is_missing(risk_proba) or not math.isfinite(float(risk_proba)):
        return "no churn estimate"
    p = min(max(float(risk_proba), 0.0), 1.0)
    if p < 0.01:
        return f"fewer than 1 in 100 accounts like this {outcome}"
    if p > 0.97:
        return f"almost every account like this {outcome}"
    if p < 0.2:
        return f"about 1 in {round(1 / p):,} accounts like this {outcome}"
    best = None
    for n in range(2, 11):
        k = min(max(round(p * n), 1), n - 1)
        err = abs(k / n - p)
        if err <= 0.04:
            best = (k, n)
            break
        if best is None or err < abs(best[0] / best[1] - p):
            best = (k, n)
    k, n = best
    return f"about {k} in {n} accounts like this {outcome}"


def percent(value: Any, *, digits: int = 0) -> str:
    if is_missing(value):
        return "n/a"
    return f"{100 * float(value):.{digits}f}%"


def money(value: Any, *, symbol: str = "$", compact: bool = False) -> str:
    """``$12,400``; compact: ``$1.2M``, ``$35k``."""
    if is_missing(value):
        return "n/a"
    v = float(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    if compact and v >= 1e6:
        return f"{sign}{symbol}{v / 1e6:.1f}M"
    if compact and v >= 1e4:
        return f"{sign}{symbol}{v / 1e3:.0f}k"
    return f"{sign}{symbol}{v:,.0f}"


def signed(value: Any, *, digits: int = 1) -> str:
    """``+3.2``, ``-12.0``, with a true minus sign; ``n/a`` when missing."""
    if is_missing(value):
        return "n/a"
    v = round(float(value), digits)
    if v == 0:
        return f"{0:.{digits}f}"
    return f"{'+' if v > 0 else MINUS}{abs(v):.{digits}f}"


def points_words(value: Any) -> str:
    """``costs 12.3 points`` / ``adds 4.0 points``."""
    if is_missing(value):
        return ""
    v = float(value)
    return f"{'costs' if v < 0 else 'adds'} {abs(v):.1f} points"


def change_words(change: Any) -> str:
    """``down 14 points`` / ``up 3 points`` / ``unchanged`` / ``new this run``."""
    if is_missing(change):
        return "new this run"
    v = round(float(change))
    if v == 0:
        return "unchanged"
    return f"{'up' if v > 0 else 'down'} {abs(v)} point{'s' if abs(v) != 1 else ''}"


def format_value(value: Any, unit: Any = None) -> str:
    """A feature value in its unit: shares as percentages, days and counts as numbers."""
    if is_missing(value):
        return "none recorded"
    if isinstance(value, str):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    unit = str(unit or "")
    if unit in ("share", "rate", "ratio_share"):
        return f"{100 * v:.0f}%"
    if unit == "currency":
        return money(v)
    if unit == "days":
        return f"{v:,.0f} day{'s' if round(v) != 1 else ''}"
    if unit == "ratio":
        return f"{v:.2f}\u00d7"
    if float(v).is_integer():
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def feature_label(name: str) -> str:
    """A readable label for a feature without a catalogue entry.

    ``events__active_users__30d`` -> ``Events: active users (30d)``.
    """
    parts = str(name).split("__")
    if len(parts) == 1:
        return str(name).replace("_", " ").capitalize()
    source, measure, *rest = parts
    text = f"{source.replace('_', ' ').capitalize()}: {measure.replace('_', ' ')}"
    if rest:
        text += " (" + ", ".join(r.replace("_", " ") for r in rest) + ")"
    return text


def feature_family(name: str) -> str:
    """Family of a feature from its table prefix (``account`` when unknown)."""
    return SOURCE_FAMILY.get(str(name).split("__", 1)[0], "account")


def date_text(value: Any) -> str:
    """``2024-06-01`` (ISO date), or an empty string."""
    if is_missing(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d")
