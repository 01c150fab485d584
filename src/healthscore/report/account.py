"""One account's explanation: score, drivers, trend, why it changed, what to do next.

Pure: one risk-list row and that account's slices of the normalised inputs in, the
account page's context out. The arithmetic shown on the page is the explanation's
own: ``base + sum(points) (+ residual) = unclipped score``; the score shown is that
number rounded and kept within 1-100.
"""

from __future__ import annotations

import re
import string
from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.report import charts, text
from healthscore.report.actions import suggest_next_steps

_UNSAFE_FIELD = re.compile(r"\{[^{}:!]*[.\[]")


def render_phrase(phrase: Any, value: Any, *, label: str, unit: Any, row: Mapping[str, Any]) -> str:
    """A catalogue phrase with the account's values filled in.

    ``phrase`` is a ``str.format`` template (``{value}`` and other feature names) or
    already plain text. A template that cannot be filled (missing value, a category
    where a number was expected, attribute access) degrades to ``label: value``.
    """
    fallback = f"{label}: {text.format_value(value, unit)}"
    if text.is_missing(phrase) or not str(phrase).strip():
        return fallback
    phrase = str(phrase)
    if "{" not in phrase:
        return phrase
    if text.is_missing(value) or _UNSAFE_FIELD.search(phrase):
        return fallback
    try:
        return string.Formatter().vformat(phrase, (), {**row, "value": value})
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        return fallback


def _driver_rows(part: pd.DataFrame, values: Mapping[str, Any], span: float) -> list[dict[str, Any]]:
    rows = []
    for r in part.itertuples(index=False):
        rows.append({
            "feature": r.feature, "label": r.label, "family": text.family_label(r.family),
            "phrase": render_phrase(r.phrase, r.value, label=r.label, unit=r.unit, row=values),
            "points": float(r.points), "points_text": text.signed(r.points),
            "points_words": text.points_words(r.points),
            "value_text": text.format_value(r.value, r.unit),
            "bar": round(100 * abs(float(r.points)) / span, 1) if span else 0.0,
        })
    return rows


def _changes(
    changes: pd.DataFrame, *, row: Mapping[str, Any], history: pd.DataFrame,
    previous_as_of: pd.Timestamp | None, shown: int,
) -> dict[str, Any] | None:
    """Why the score changed since the previous run (None when there was none)."""
    change = row["score_change"]
    before = history[history["as_of"] == previous_as_of] if previous_as_of is not None else history.iloc[0:0]
    if text.is_missing(change) and before.empty:
        return None
    score_now = row["health_score"]
    score_before = float(before["health_score"].iloc[-1]) if not before.empty else score_now - change
    if text.is_missing(change):
        change = score_now - score_before
    ordered = changes.assign(magnitude=changes["points_change"].abs()).sort_values(
        "magnitude", ascending=False, kind="stable")
    ordered = ordered[ordered["magnitude"] >= 0.05]
    items = [{
        "label": r.label, "family": text.family_label(r.family),
        "value_before": text.format_value(r.value_before, r.unit),
        "value_now": text.format_value(r.value_now, r.unit),
        "points_change": text.signed(r.points_change),
        "direction": "down" if r.points_change < 0 else "up",
    } for r in ordered.head(shown).itertuples(index=False)]
    rest = float(ordered["points_change"].iloc[shown:].sum()) if len(ordered) > shown else 0.0
    return {
        "since": text.date_text(previous_as_of) if previous_as_of is not None else "the previous run",
        "score_before": None if text.is_missing(score_before) else f"{score_before:.0f}",
        "score_now": f"{score_now:.0f}", "change": text.signed(change, digits=0),
        "change_words": text.change_words(change), "items": items,
        "rest": text.signed(rest) if abs(rest) >= 0.05 else None,
        "previous_band": text.band_label(row["previous_band"]) if not text.is_missing(row["previous_band"]) else None,
    }


def build_account(
    row: Mapping[str, Any],
    *,
    points: pd.DataFrame,
    previous_points: pd.DataFrame,
    changes: pd.DataFrame,
    history: pd.DataFrame,
    alerts: pd.DataFrame,
    previous_as_of: pd.Timestamp | None,
    scale: Mapping[str, float],
    params: Any,
) -> dict[str, Any]:
    """Context of one account page.

    Parameters
    ----------
    row : mapping
        The account's normalised risk-list row.
    points, previous_points, changes, history, alerts : DataFrame
        This account's rows only (normalised layouts).
    previous_as_of : Timestamp or None
    scale : mapping
        ``offset``, ``factor``, ``red_below``, ``green_from``.
    params : ReportParams
    """
    k = params.drivers_shown
    values = dict(zip(points["feature"], points["value"]))
    hurting = points[points["points"] < 0].sort_values("points").head(k)
    helping = points[points["points"] > 0].sort_values("points", ascending=False).head(k)
    span = float(points["points"].abs().max()) if len(points) else 0.0
    shown = set(hurting["feature"]) | set(helping["feature"])
    others = points[~points["feature"].isin(shown)]
    base, unclipped = float(row["base_points"]), float(row["unclipped_score"])
    residual = float(row.get("residual_points", 0.0) or 0.0)
    families = (points.groupby("family")["points"].sum().sort_values() if len(points)
                else pd.Series(dtype=float))
    previous_values = dict(zip(previous_points["feature"], previous_points["value"]))
    signals = [{
        "label": r.label, "family": text.family_label(r.family),
        "value": text.format_value(r.value, r.unit),
        "before": text.format_value(previous_values[r.feature], r.unit) if r.feature in previous_values else "",
        "points": text.signed(r.points),
    } for r in pd.concat([hurting, helping]).itertuples(index=False)]
    steps = suggest_next_steps(
        zip(points["feature"], points["family"], points["label"], points["points"]),
        min_points=params.driver_min_points, overrides=params.next_steps,
    )
    hist = history.sort_values("as_of")
    trend = charts.trend_line(
        [text.date_text(d) for d in hist["as_of"]], hist["health_score"].tolist(),
        red_below=scale["red_below"], green_from=scale["green_from"],
    ) if len(hist) else None
    score = row["health_score"]
    return {
        "account_id": str(row["account_id"]), "name": row["name"], "owner": row["owner"],
        "segment": row["segment"], "arr": text.money(row["arr"], symbol=params.currency),
        "score": f"{score:.0f}", "band": row["band"], "band_label": text.band_label(row["band"]),
        "risk_pct": text.percent(row["risk_proba"]),
        "risk_words": text.churn_in_words(row["risk_proba"], outcome=params.outcome),
        "arr_at_risk": text.money(row["arr_at_risk"], symbol=params.currency),
        "change_words": text.change_words(row["score_change"]),
        "alerts": [{"kind": text.alert_label(a.kind), "reason": a.reason}
                   for a in alerts.itertuples(index=False)],
        "hurting": _driver_rows(hurting, values, span),
        "helping": _driver_rows(helping, values, span),
        "arithmetic": {
            "base": text.signed(base) if base < 0 else f"{base:.1f}",
            "others": text.signed(float(others["points"].sum())), "others_count": len(others),
            "residual": text.signed(residual) if abs(residual) >= 0.05 else None,
            "unclipped": f"{unclipped:.1f}", "score": f"{score:.0f}",
            "clipped": bool(unclipped < 0.5 or unclipped > 100.5),
        },
        "families": charts.hbars(
            [text.family_label(f) for f in families.index], families.tolist(),
            value_text=[f"{text.signed(v)} pts" for v in families], diverging=True,
            title="Points by family", label_width=190,
        ) if len(families) else None,
        "family_rows": [{"label": text.family_label(f), "points": text.signed(v)} for f, v in families.items()],
        "trend": trend,
        "history_points": len(hist),
        "changes": _changes(changes, row=row, history=hist, previous_as_of=previous_as_of, shown=k),
        "signals": signals,
        "next_steps": [{"step": s.step, "because": ", ".join(s.because),
                        "points": text.signed(s.points)} for s in steps],
    }


def account_filename(account_id: Any) -> str:
    """A safe file name for an account page: ``accounts/<id>.html``.

    Ids made only of letters, digits, ``-`` and ``_`` are used as they are; any other
    id gets its unsafe characters replaced and a short hash, so two ids never share
    a file.
    """
    raw = str(account_id)
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", raw)[:80]
    if safe != raw or not safe:
        import hashlib

        safe = f"{safe}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"
    return f"accounts/{safe}.html"


def slice_by_account(frame: pd.DataFrame) -> dict[Any, np.ndarray]:
    """account_id -> row positions, computed once for many pages."""
    if frame.empty:
        return {}
    return frame.groupby("account_id", sort=False).indices
