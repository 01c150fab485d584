"""Words for numbers: how every output says a risk, a band, an amount or a signal.

The report's readers are customer-success managers, so every number travels with a
word. Everything here is pure and returns plain strings; the templates escape them.
A feature's value and phrase are worded by :mod:`healthscore.features.phrases`, the one
home of both (the scoring outputs use it too).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from healthscore.features.phrases import is_missing, money
from healthscore.scoring.risk_words import horizon_words

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

#: Alert kind -> words.
ALERT_WORDS: dict[str, str] = {
    "new_red": "Newly red",
    "band_drop": "Dropped a band",
    "drop_points": "Score fell sharply",
    "score_drop": "Score fell sharply",
}


def count_words(n: Any, noun: str, plural: str | None = None) -> str:
    """``1 account``, ``2 accounts``, ``1,200 accounts`` (``plural``: when not ``noun + s``)."""
    count = int(n)
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"


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


def alert_kinds(kinds: Any) -> str:
    """An alert's ``kind`` (its rules, comma-separated) in words: ``New red; Band drop``."""
    return "; ".join(alert_label(p.strip()) for p in str(kinds).split(",") if p.strip())


def in_days(days: Any) -> str:
    """``in 65 days``, ``tomorrow``, ``today``; ``n/a`` when unknown."""
    if is_missing(days):
        return "n/a"
    n = round(float(days))
    if n == 0:
        return "today"
    if n == 1:
        return "tomorrow"
    if n < 0:
        return f"{-n:,} day{'s' if n != -1 else ''} ago"
    return f"in {n:,} days"


def renewal_words(renewal_date: Any, days: Any, arr: Any, renewal_risk: Any, *,
                  currency: str = "$") -> str:
    """The next renewal in one line: ``Next renewal 2026-03-07, in 65 days: $114,912
    ARR at stake, 36% chance this renewal is lost``; without a date: ``No renewal date
    on record``."""
    if is_missing(renewal_date):
        return "No renewal date on record"
    risk = "" if is_missing(renewal_risk) else f", {percent(renewal_risk)} chance this renewal is lost"
    return (f"Next renewal {date_text(renewal_date)}, {in_days(days)}: "
            f"{money(arr, symbol=currency)} ARR at stake{risk}")


def arr_loss_words(expected: Any, low: Any, high: Any, *, horizon_days: Any = None,
                   level: float = 0.8, currency: str = "$") -> str:
    """``expected to lose $1.2M of ARR in the next 12 months; 80% range $900k–$1.5M``.

    The range is the central ``level`` range of the ARR lost (``arr_lost_low`` and
    ``arr_lost_high`` of :func:`healthscore.scoring.arr_range.arr_at_risk`); without
    it only the expectation is said.
    """
    def amount(value: Any) -> str:
        return money(value, symbol=currency, compact=True)

    horizon = horizon_words(horizon_days)
    when = f" in the next {horizon}" if horizon else ""
    words = f"expected to lose {amount(expected)} of ARR{when}"
    if is_missing(low) or is_missing(high):
        return words
    span = amount(low) if amount(low) == amount(high) else f"{amount(low)}\u2013{amount(high)}"
    return f"{words}; {percent(level)} range {span}"


def percent(value: Any, *, digits: int = 0) -> str:
    if is_missing(value):
        return "n/a"
    return f"{100 * float(value):.{digits}f}%"


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


def date_text(value: Any) -> str:
    """``2024-06-01`` (ISO date), or an empty string."""
    if is_missing(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d")
