"""One account's explanation: score, next renewal, starting point, drivers, trend, why
it changed, what to do next.

Pure: one risk-list row and that account's slices of the normalised inputs in, the
account page's context out. The arithmetic shown on the page is the explanation's
own: ``starting point + sum(driver points) (+ residual) = unclipped score``, where the
starting point (``profile_score``) is the base plus the profile facts' points (the
score of accounts like this one); the score shown is that number rounded and kept
within 1-100. Profile facts are never drivers (:mod:`healthscore.scoring.profile`).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import pandas as pd

from healthscore.features.phrases import feature_info, render_phrase, value_text
from healthscore.model.scale import HealthScale
from healthscore.scoring import wording as text
from healthscore.report import charts
from healthscore.scoring.actions import suggest_next_steps
from healthscore.scoring.drivers import family_hurting_points
from healthscore.scoring.profile import (
    STARTING_POINT, contract_days_of, holds_up, split_changes, standing_words, starting_point_words, whole,
)
from healthscore.report.changes_view import SPECIAL_CHANGES
from healthscore.scoring.changes import is_model_update, split_words
from healthscore.scoring.risk_words import describe_risk, horizon_words

Record = Mapping[str, Any]


def _value(r: Record, value: Any, currency: str) -> str:
    """A feature's value as its phrase words it (one precision, unit and scale)."""
    return value_text(feature_info(r["feature"], r), value, currency=currency)


def _driver_rows(part: list[Record], values: Mapping[str, Any], span: float,
                 currency: str) -> list[dict[str, Any]]:
    rows = []
    for r in part:
        phrase = render_phrase(feature_info(r["feature"], r), values, currency=currency)
        relative = standing_words(r.get("standing"), points=r["points"])
        rows.append({
            "feature": r["feature"], "label": r["label"], "family": text.family_label(r["family"]),
            "phrase": f"{phrase}, {relative}" if relative else phrase,
            "points": float(r["points"]), "points_text": text.signed(r["points"]),
            "points_words": text.points_words(r["points"]),
            "value_text": _value(r, r["value"], currency),
            "bar": round(100 * abs(float(r["points"])) / span, 1) if span else 0.0,
        })
    return rows


def _changes(
    changes: list[Record], *, row: Record, history: list[Record],
    previous_as_of: pd.Timestamp | None, shown: int, profile: tuple[str, ...], currency: str = "$",
) -> dict[str, Any] | None:
    """Why the score changed since the previous run (None when there was none).

    The starting point's move (profile facts) is one line; behavioural signals whose
    value changed are named, the largest first; lines whose value did not change are
    not shown, nor are lines whose value moved the healthy way yet cost points (or the
    reverse); their points join "all other signals together"."""
    change = row["score_change"]
    before = [h for h in history if previous_as_of is not None and h["as_of"] == previous_as_of]
    if text.is_missing(change) and not before:
        return None
    score_now = row["health_score"]
    score_before = float(before[-1]["health_score"]) if before else score_now - change
    if text.is_missing(change):
        change = score_now - score_before
    view = split_changes(changes, profile=profile, profile_now=row["profile_score"], top=shown)
    items = []
    start = view.starting_point
    if start is not None:
        items.append({
            "label": STARTING_POINT, "family": "Profile: who the customer is",
            "value_before": "" if start["before"] is None else whole(start["before"]),
            "value_now": "" if start["now"] is None else whole(start["now"]),
            "points_change": text.signed(start["points_change"]),
            "direction": "down" if start["points_change"] < 0 else "up",
            "note": "The profile facts (contract, plan, segment, time to renewal) moved the score "
                    "accounts like this start from.",
        })
    items += [{
        "label": c["label"], "family": text.family_label(c["family"]) if c["family"] else "",
        "value_before": "" if c["feature"] in SPECIAL_CHANGES else _value(c, c["value_before"], currency),
        "value_now": "" if c["feature"] in SPECIAL_CHANGES else _value(c, c["value_now"], currency),
        "points_change": text.signed(c["points_change"]),
        "direction": "down" if c["points_change"] < 0 else "up",
        "note": "",
    } for c in view.named if not is_model_update(c)]
    items += [_model_row(c) for c in view.named if is_model_update(c)]  # the model's part, last
    return {
        "since": text.date_text(previous_as_of) if previous_as_of is not None else "the previous run",
        "score_before": None if text.is_missing(score_before) else f"{score_before:.0f}",
        "score_now": f"{score_now:.0f}", "change": text.signed(change, digits=0),
        "change_words": text.change_words(change), "rows": items,
        "rest": text.signed(view.rest) if abs(view.rest) >= 0.05 else None,
        "previous_band": text.band_label(row["previous_band"]) if not text.is_missing(row["previous_band"]) else None,
    }


def _model_row(line: Record) -> dict[str, Any]:
    """The model's part of a change split between the account's data and the model
    (:func:`healthscore.scoring.changes.split_words` says which part is which)."""
    data_words, model_words = split_words(line)
    return {
        "label": "Model updated", "family": "The model",
        "value_before": "" if text.is_missing(line["value_before"]) else str(line["value_before"]),
        "value_now": "" if text.is_missing(line["value_now"]) else str(line["value_now"]),
        "points_change": text.signed(line["points_change"]),
        "direction": "down" if line["points_change"] < 0 else "up",
        "note": f"This line comes {model_words}; the other lines come {data_words}.",
    }


def renewal_view(row: Record, *, currency: str) -> dict[str, Any] | None:
    """The next renewal of a risk-list row: date, days to it, the ARR at stake and the
    chance it is lost (None without a renewal date)."""
    if text.is_missing(row.get("renewal_date")):
        return None
    return {
        "date": text.date_text(row["renewal_date"]), "in_days": text.in_days(row["days_to_renewal"]),
        "arr": text.money(row["arr"], symbol=currency),
        "risk_pct": text.percent(row["renewal_risk"]),
        "words": text.renewal_words(row["renewal_date"], row["days_to_renewal"], row["arr"],
                                    row["renewal_risk"], currency=currency),
    }


#: Contacts listed on an account page at most (current ones first).
PEOPLE_SHOWN = 12


def _ago(as_of: Any, when: Any) -> str:
    """``today``, ``3 days ago``; empty when ``when`` is unknown."""
    if text.is_missing(when) or text.is_missing(as_of):
        return ""
    return text.in_days(-((pd.Timestamp(as_of) - pd.Timestamp(when)) / pd.Timedelta(days=1)))


def people_rows(people: list[Record], *, as_of: Any) -> list[dict[str, Any]]:
    """The people behind the score (:mod:`healthscore.scoring.people`), in words: each
    contact's role, last product event, latest survey answer and whether they left."""
    rows = []
    for p in people[:PEOPLE_SHOWN]:
        name = p.get("name")
        last, survey = p.get("last_active"), p.get("survey_score")
        recent = p.get("recent_events")
        rows.append({
            "name": str(name) if not text.is_missing(name) else f"User {p['user_id']}",
            "user_id": str(p["user_id"]), "email": "" if text.is_missing(p.get("email")) else str(p["email"]),
            "role": str(p["role"]).replace("_", " ").capitalize(),
            "left": p.get("status") == "left",
            "status": (f"Left on {text.date_text(p['left_at'])}" if p.get("status") == "left"
                       else f"Since {text.date_text(p['started_at'])}" if not text.is_missing(p.get("started_at"))
                       else "Current"),
            "activity": (f"{text.date_text(last)} ({_ago(as_of, last)})"
                         + ("" if text.is_missing(recent) else f", {text.count_words(recent, 'event')} lately")
                         if not text.is_missing(last) else "No product use recorded"),
            "survey": (f"{survey:.0f} on {text.date_text(p.get('survey_at'))}"
                       if not text.is_missing(survey) else "No answer yet"),
        })
    return rows


def build_account(
    row: Record,
    *,
    points: list[Record],
    previous_points: list[Record],
    changes: list[Record],
    history: list[Record],
    alerts: list[Record],
    previous_as_of: pd.Timestamp | None,
    scale: HealthScale,
    params: Any,
    horizon_days: int | None = None,
    profile: tuple[str, ...] = (),
    people: list[Record] = (),
) -> dict[str, Any]:
    """Context of one account page.

    Parameters
    ----------
    row : mapping
        The account's normalised risk-list row.
    points, previous_points, changes, history, alerts : list of mappings
        This account's records only (normalised layouts, one mapping per row); plain
        records keep a page to a fraction of a millisecond of Python.
    previous_as_of : Timestamp or None
    scale : HealthScale
        The run's scale and bands.
    params : ReportParams
    horizon_days : int, optional
        The horizon of ``risk_proba`` (the run's), said with the risk.
    profile : tuple of str
        The profile features: their points make the starting point, never drivers.
    people : list of mappings
        The account's contacts as known at the as-of date (``people/<as_of>.parquet``);
        none: no "people behind the score" section.
    """
    k = params.drivers_shown
    values = {r["feature"]: r["value"] for r in points}  # also unscored context values
    scored = [r for r in points if not text.is_missing(r["points"]) and not r.get("profile", False)]
    hurting = sorted((r for r in scored if r["points"] < 0), key=lambda r: r["points"])[:k]
    # a poor value next to similar accounts never "holds the score up" (profile.holds_up)
    helping = sorted((r for r in scored if holds_up(r["points"], r.get("standing"))),
                     key=lambda r: -r["points"])[:k]
    span = max((abs(r["points"]) for r in scored), default=0.0)
    shown = {r["feature"] for r in hurting} | {r["feature"] for r in helping}
    others = [r for r in scored if r["feature"] not in shown]
    base, unclipped = float(row["base_points"]), float(row["unclipped_score"])
    start = float(row["profile_score"])
    residual = float(row.get("residual_points", 0.0) or 0.0)
    families = family_costs(scored)
    previous_values = {r["feature"]: r["value"] for r in previous_points}
    signals = [{
        "label": r["label"], "family": text.family_label(r["family"]),
        "value": _value(r, r["value"], params.currency),
        "before": _value(r, previous_values[r["feature"]], params.currency)
        if r["feature"] in previous_values else "",
        "points": text.signed(r["points"]),
    } for r in hurting + helping]
    steps = suggest_next_steps(
        ((r["feature"], r["family"], r["label"], r["points"]) for r in scored),
        min_points=params.driver_min_points, overrides=params.next_steps,
    )
    hist = sorted(history, key=lambda h: h["as_of"])
    trend = charts.trend_line(
        [text.date_text(h["as_of"]) for h in hist], [h["health_score"] for h in hist],
        scale=scale,
    ) if hist else None
    score = row["health_score"]
    return {
        "account_id": str(row["account_id"]), "name": row["name"], "owner": row["owner"],
        "segment": row["segment"], "arr": text.money(row["arr"], symbol=params.currency),
        "stage": row.get("lifecycle_stage"),
        "score": f"{score:.0f}", "band": row["band"], "band_label": text.band_label(row["band"]),
        "risk_pct": text.percent(row["risk_proba"]),
        "horizon": horizon_words(horizon_days),
        "risk_words": describe_risk(row["risk_proba"], horizon_days=horizon_days, outcome=params.outcome),
        "arr_at_risk": text.money(row["arr_at_risk"], symbol=params.currency),
        "renewal": renewal_view(row, currency=params.currency),
        "starting_point": starting_point_words(start, segment=row["segment"],
                                               contract_days=contract_days_of(values)),
        "change_words": text.change_words(row["score_change"]),
        "alerts": [{"kind": a["kind"], "reason": a["reason"]} for a in alerts],
        "hurting": _driver_rows(hurting, values, span, params.currency),
        "helping": _driver_rows(helping, values, span, params.currency),
        "arithmetic": {
            "start": f"{start:.1f}",
            "base": f"{base:.1f}", "profile_points": text.signed(start - base),
            "others": text.signed(sum(float(r["points"]) for r in others)), "others_count": len(others),
            "hurting": text.signed(sum(float(r["points"]) for r in hurting)),
            "helping": text.signed(sum(float(r["points"]) for r in helping)),
            "residual": text.signed(residual) if abs(residual) >= 0.05 else None,
            "unclipped": f"{unclipped:.1f}", "score": f"{score:.0f}",
            "clipped": bool(unclipped < 0.5 or unclipped > 100.5),
        },
        "families": charts.hbars(
            [text.family_label(f) for f, _ in families], [v for _, v in families],
            value_text=[f"{text.signed(v)} pts" for _, v in families], diverging=True,
            title="Points lost by family, against the starting point", label_width=170, width=500,
        ) if families else None,
        "family_rows": [{"label": text.family_label(f), "points": text.signed(v)} for f, v in families],
        "trend": trend,
        "history_points": len(hist),
        "changes": _changes(changes, row=row, history=hist, previous_as_of=previous_as_of, shown=k,
                            profile=profile, currency=params.currency),
        "signals": signals,
        "people": people_rows(list(people), as_of=row.get("as_of")),
        "next_steps": [{
            "step": s.step, "because": "; ".join(s.because),
            "cost": f"costs {abs(s.points):.1f} points" if len(s.because) == 1
            else f"together they cost {abs(s.points):.1f} points",
        } for s in steps],
    }


def records_by_account(frame: pd.DataFrame, account_ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    """The rows of ``account_ids`` as plain records, grouped by account (one pass).

    Only the accounts that get a page are converted, so a portfolio of thousands of
    accounts costs one ``take`` and one ``to_dict``, not a frame slice per page.
    """
    out: dict[Any, list[dict[str, Any]]] = {a: [] for a in account_ids}
    if frame.empty or not account_ids:
        return out
    keep = frame["account_id"].isin(account_ids).to_numpy()
    for record in frame.loc[keep].to_dict("records"):
        out[record["account_id"]].append(record)
    return out


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


def family_costs(scored: list[dict]) -> list[tuple[str, float]]:
    """``(family, points)`` of the families whose behavioural signals cost points, the
    most costly first: :func:`healthscore.scoring.drivers.family_hurting_points`, the rule
    the backtest's explanation fidelity ranks families by (``scored``: point records
    with ``feature``, ``family`` and ``points``, profile facts left out)."""
    if not scored:
        return []
    names = [r["feature"] for r in scored]
    costs = family_hurting_points([[float(r["points"]) for r in scored]], names,
                                  {r["feature"]: r["family"] for r in scored}).iloc[0]
    return sorted(((c.removeprefix("points_"), float(v)) for c, v in costs.items() if v < 0),
                  key=lambda item: item[1])
