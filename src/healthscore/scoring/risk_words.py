"""A risk and score points in words: the one wording of each, for the terminal
(``healthscore explain``), the risk list and the report alike.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from healthscore.features.phrases import positive_days


def format_points(points: float) -> str:
    """``-12 pts``, ``+3 pts``, ``-0.4 pts`` (one decimal below one point)."""
    if not np.isfinite(points):
        return "n/a"
    if abs(points) < 0.95:
        return f"{points:+.1f} pts"
    return f"{points:+.0f} pts"


def driver_lines(sections: Sequence[tuple[str, Sequence[Any]]], words: Any) -> list[str]:
    """The "What lowers / What raises" block of an explanation, as terminal lines.

    ``sections``: ``(title, drivers)`` pairs in order (each driver a mapping with
    ``points``); ``words(driver)``: the text after its points. Each section starts with
    a blank line and ``title:``, then one line per driver, its points right-aligned, or
    ``(nothing)``. The one layout of an account's drivers and a parent's."""
    lines: list[str] = []
    for title, drivers in sections:
        lines.append("")
        lines.append(f"{title}:")
        if not drivers:
            lines.append("  (nothing)")
        for item in drivers:
            lines.append(f"  {format_points(item['points']):>9}  {words(item)}")
    return lines


def family_lines(points_by_family: Mapping[str, float] | Iterable[tuple[str, float]]) -> list[str]:
    """The points each family costs, costliest first: one line per family that costs at
    least 0.05 points, or ``(no behavioural signal costs points)``."""
    pairs = points_by_family.items() if isinstance(points_by_family, Mapping) else points_by_family
    costly = sorted((float(v), f) for f, v in pairs if float(v) <= -0.05)
    if not costly:
        return ["  (no behavioural signal costs points)"]
    return [f"  {family:<11} {format_points(value):>9}" for value, family in costly]


def horizon_words(horizon_days: Any) -> str | None:
    """A horizon in days as a reader says it: ``12 months``, ``2 years``, ``6 months``,
    ``45 days``; None when unknown. The one wording of the horizon (risk words, ARR
    at risk)."""
    days = positive_days(horizon_days)
    if days is None:
        return None
    years = days / 365.25
    if days >= 360 and abs(years - round(years)) < 0.02:
        return "12 months" if round(years) == 1 else f"{round(years)} years"
    months = days / 30.44
    if days >= 28 and abs(months - round(months)) < 0.1:
        return "1 month" if round(months) == 1 else f"{round(months)} months"
    return f"{days:,.0f} day{'s' if round(days) != 1 else ''}"


def describe_risk(risk_proba: float, *, horizon_days: float | None = None,
                  outcome: str = "are lost") -> str:
    """A churn probability as a frequency a reader can picture, with its horizon.

    The one wording of a risk, used by ``healthscore explain`` and the report alike:
    ``0.14`` with ``horizon_days=365`` -> ``about 1 in 7 accounts like this are lost
    within 12 months``; ``0.6`` -> ``about 3 in 5 ...``. Below 20 % it is ``1 in N``;
    from 20 % the simplest fraction (denominator 2 to 10) within 4 percentage points;
    below 1 % ``fewer than 1 in 100``, above 97 % ``almost all``.

    Parameters
    ----------
    risk_proba : float
        Calibrated probability in [0, 1] (NaN or None: ``no churn estimate``).
    horizon_days : float, optional
        The horizon the probability is for (the scoring run's
        ``horizon.horizon_days``); None leaves it unsaid.
    outcome : str
        What happens to the accounts (``report.outcome``).
    """
    try:
        p = float(risk_proba)
    except (TypeError, ValueError):
        p = float("nan")
    if not np.isfinite(p):
        return "no churn estimate"
    p = min(max(p, 0.0), 1.0)
    horizon = horizon_words(horizon_days)
    tail = f" {outcome}" + (f" within {horizon}" if horizon else "")
    if p < 0.01:
        return f"fewer than 1 in 100 accounts like this{tail}"
    if p > 0.97:
        return f"almost all accounts like this{tail}"
    if p < 0.2:
        return f"about 1 in {round(1 / p):,} accounts like this{tail}"
    best = None
    for n in range(2, 11):
        k = min(max(round(p * n), 1), n - 1)
        if abs(k / n - p) <= 0.04:
            best = (k, n)
            break
        if best is None or abs(k / n - p) < abs(best[0] / best[1] - p):
            best = (k, n)
    k, n = best
    return f"about {k} in {n} accounts like this{tail}"
