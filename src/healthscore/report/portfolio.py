"""The portfolio overview: ARR at risk, bands, renewals, movers, alerts, patterns and
the risk-list table.

Pure: a normalised :class:`~healthscore.report.inputs.ReportInputs` and the report
params in, plain dicts and lists out (the template's context). A driver *hurts* an
account when it costs it at least ``params.driver_min_points`` points; profile facts
(the account's starting point) never do. The ARR at risk and its range per group are
the scoring run's (``run/<as_of>.json``: ``arr_at_risk``,
:func:`healthscore.scoring.arr_range.arr_at_risk`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np
import pandas as pd

from markupsafe import Markup

from healthscore.scoring import wording as text
from healthscore.report import charts, leader
from healthscore.report.growth import has_growth
from healthscore.report.inputs import ReportInputs
from healthscore.report.points import hurt_accounts, hurt_summary

BAND_ORDER = ("red", "yellow", "green")

#: Probability of the ARR-at-risk range when the run does not say (the scoring default).
ARR_RANGE_LEVEL = 0.8

#: Accounts of the renewals view listed before the rest fold away.
RENEWALS_SHOWN = 25
#: Accounts the renewals view lists at most (shown and folded); the others renewing
#: within the days are counted and found in the risk table (its "Next renewal" column),
#: so a large book's page does not repeat tens of thousands of rows.
RENEWALS_LISTED = 500


def band_summary(risk_list: pd.DataFrame, *, currency: str) -> list[dict[str, Any]]:
    """Accounts, ARR and ARR at risk per band, red first."""
    total_n = max(len(risk_list), 1)
    total_arr = float(risk_list["arr"].fillna(0).sum()) or 1.0
    rows = []
    for band in BAND_ORDER:
        part = risk_list[risk_list["band"] == band]
        arr = float(part["arr"].fillna(0).sum())
        rows.append({
            "band": band, "label": text.band_label(band), "accounts": len(part),
            "share": text.percent(len(part) / total_n), "share_value": len(part) / total_n,
            "arr": text.money(arr, symbol=currency), "arr_share": text.percent(arr / total_arr),
            "arr_at_risk": text.money(part["arr_at_risk"].fillna(0).sum(), symbol=currency),
        })
    return rows


def _account_row(row: Mapping[str, Any], pages: Mapping[Any, str], currency: str) -> dict[str, Any]:
    score_change = row["score_change"]
    return {
        "account_id": str(row["account_id"]), "name": row["name"], "owner": row["owner"],
        "segment": row["segment"], "href": pages.get(row["account_id"]),
        "score": None if text.is_missing(row["health_score"]) else int(round(row["health_score"])),
        "band": row["band"], "band_label": text.band_label(row["band"]),
        "previous_band": row["previous_band"],
        "previous_band_label": text.band_label(row["previous_band"]) if not text.is_missing(
            row["previous_band"]) else "",
        "change": None if text.is_missing(score_change) else int(round(score_change)),
        "score_before": None if text.is_missing(score_change) or text.is_missing(row["health_score"])
        else int(round(row["health_score"] - score_change)),
        "change_text": text.signed(score_change, digits=0),
        "change_words": text.change_words(score_change),
        "arr": text.money(row["arr"], symbol=currency),
        "risk": text.percent(row["risk_proba"]),
        "top_driver": row["top_drivers"][0] if row["top_drivers"] else "",
    }


def movers(risk_list: pd.DataFrame, *, top: int, pages: Mapping[Any, str], currency: str) -> dict:
    """The ``top`` biggest drops and rises since the previous run."""
    moved = risk_list[risk_list["score_change"].notna() & (risk_list["score_change"] != 0)]
    drops = moved[moved["score_change"] < 0].sort_values(["score_change", "arr"], ascending=[True, False])
    rises = moved[moved["score_change"] > 0].sort_values(["score_change", "arr"], ascending=[False, False])
    return {
        "drops": [_account_row(r, pages, currency) for r in drops.head(top).to_dict("records")],
        "rises": [_account_row(r, pages, currency) for r in rises.head(top).to_dict("records")],
    }


def new_alerts(inputs: ReportInputs, *, pages: Mapping[Any, str], currency: str) -> list[dict]:
    """Alerts of this run with the account's name, owner and score, worst score first."""
    if inputs.alerts.empty:
        return []
    merged = inputs.alerts.merge(inputs.risk_list, on="account_id", how="left")
    merged = merged.sort_values(["health_score", "arr"], ascending=[True, False], na_position="last")
    out = []
    for r in merged.to_dict("records"):
        if text.is_missing(r.get("name")):
            r.update(name=str(r["account_id"]), owner="", segment="", health_score=np.nan,
                     band=None, previous_band=None, score_change=np.nan, arr=np.nan,
                     risk_proba=np.nan, top_drivers=[])
        row = _account_row(r, pages, currency)
        row.update(kind=r["kind"], reason=r["reason"])
        out.append(row)
    return out


def driver_patterns(inputs: ReportInputs, *, min_points: float, currency: str, top: int = 12,
                    losses: Mapping[tuple[str, Any], str] | None = None) -> dict:
    """Which drivers hurt the most accounts and ARR now, and which grew since last run.

    Returns ``drivers`` (one row per feature hurting at least one account, most
    accounts first), ``growing`` (drivers hurting more accounts than at the previous
    run, largest rise first), ``by_segment`` and ``by_owner`` (per group: accounts,
    ARR, ARR at risk, share red, its three most common drivers; the most ARR at risk
    first).

    What hurts now is counted by :func:`~healthscore.report.points.hurt_summary`
    (by ``normalise_inputs`` over every account of the file, else here from the
    points given); the previous run's hurting accounts per feature by
    :func:`~healthscore.report.points.hurt_accounts`. Profile facts are the account's
    starting point, not drivers: they never hurt.
    """
    summary = inputs.hurt if inputs.hurt is not None else hurt_summary(
        inputs.points, inputs.risk_list, min_points=min_points, profile=inputs.profile,
        catalogue=(inputs.model_info or {}).get("catalogue") or {})
    now = summary["features"]
    has_before = inputs.previous_as_of is not None
    total = max(len(inputs.risk_list), 1)
    rows = []
    if not now.empty:
        if not has_before:
            prev_counts = pd.Series(dtype=float)
        elif inputs.previous_hurt is not None:
            prev_counts = inputs.previous_hurt
        else:
            prev_counts = hurt_accounts(inputs.previous_points, min_points=min_points, profile=inputs.profile,
                                        accounts=inputs.risk_list["account_id"])
        grouped = now.assign(before=now.index.map(prev_counts).astype("float64"))
        if has_before:
            grouped["before"] = grouped["before"].fillna(0)
        grouped = grouped.sort_values(["accounts", "arr"], ascending=False)
        for feature, g in grouped.iterrows():
            growth = g["accounts"] - g["before"] if has_before else np.nan
            rows.append({
                "feature": feature, "label": g["label"], "family": text.family_label(g["family"]),
                "accounts": int(g["accounts"]), "share": text.percent(g["accounts"] / total),
                "arr_value": float(g["arr"]), "arr": text.money(g["arr"], symbol=currency, compact=True),
                "mean_points": text.signed(g["points"] / g["accounts"]),
                "mean_points_value": round(float(g["points"] / g["accounts"]), 3),
                "before": None if np.isnan(g["before"]) else int(g["before"]),
                "growth": None if np.isnan(growth) else int(growth),
                "growth_text": "n/a" if np.isnan(growth) else text.signed(growth, digits=0),
            })
    by_arr = sorted(rows, key=lambda r: -r["arr_value"])[:5]
    growing = sorted((r for r in rows if (r["growth"] or 0) > 0), key=lambda r: -r["growth"])[:5]
    return {
        "drivers": rows[:top], "by_arr": by_arr, "growing": growing, "has_before": has_before,
        "by_segment": _by_group(inputs.risk_list, summary["segment"], "segment", currency, losses or {}),
        "by_owner": _by_group(inputs.risk_list, summary["owner"], "owner", currency, losses or {}),
    }


def _by_group(risk_list: pd.DataFrame, hurt: pd.DataFrame, column: str, currency: str,
              losses: Mapping[tuple[str, Any], str]) -> list[dict]:
    """Per group of ``column``; ``hurt``: the accounts each label hurts per group
    (``group, label, accounts``: :func:`~healthscore.report.points.hurt_summary`)."""
    out = []
    for value, part in risk_list.groupby(column, sort=True):
        mine = hurt[hurt["group"] == value]
        counts = mine.set_index("label")["accounts"].sort_index().sort_values(ascending=False).head(3)
        at_risk = float(part["arr_at_risk"].fillna(0).sum())
        out.append({
            "name": value, "accounts": len(part),
            "arr": text.money(part["arr"].fillna(0).sum(), symbol=currency, compact=True),
            "arr_at_risk": text.money(at_risk, symbol=currency, compact=True), "arr_at_risk_value": at_risk,
            "red": int((part["band"] == "red").sum()),
            "red_share": text.percent((part["band"] == "red").mean()),
            "loss_words": losses.get((column, value)) or text.arr_loss_words(
                part["arr_at_risk"].fillna(0).sum(), None, None, currency=currency),
            "drivers": [{"label": label, "accounts": int(n)} for label, n in counts.items()],
        })
    # the leader's order: where the most ARR is expected to be lost, then the most red
    out.sort(key=lambda g: (-g["arr_at_risk_value"], -g["red"], -g["accounts"]))
    return out


def stage_counts(risk_list: pd.DataFrame) -> list[tuple[str, int]]:
    """``(stage, accounts)`` per lifecycle stage, youngest first (empty without the
    ``lifecycle_stage`` column: ``lifecycle.enabled`` off)."""
    from healthscore.features.lifecycle import STAGE_COLUMN, STAGES

    if STAGE_COLUMN not in risk_list.columns:
        return []
    counts = risk_list[STAGE_COLUMN].value_counts()
    order = [s for s in (*STAGES, "unknown") if s in counts.index]
    return [(s, int(counts[s])) for s in order + sorted(set(counts.index) - set(order))]


def table_rows(risk_list: pd.DataFrame, *, pages: Mapping[Any, str]) -> pd.DataFrame:
    """The risk list as the sortable table's records, one column per record key.

    Numbers stay numbers (the script sorts on them), missing ones None; ``href`` is set
    only for accounts with a page; ``expansion`` only with an expansion model
    (:func:`~healthscore.report.growth.has_growth`). Column by column, never a Python
    dict per account: a book of a million accounts is one frame, not a million dicts.
    """
    frame = risk_list

    def number(column: str, digits: int | None = None) -> pd.Series:
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        return values if digits is None else values.round(digits)

    days = number("days_to_renewal").round()
    hrefs = frame["account_id"].map(dict(pages)).astype(object)
    drivers = frame["top_drivers"].map(
        lambda d: d[0] if isinstance(d, (list, tuple, np.ndarray)) and len(d) else "")
    records = pd.DataFrame({
        "id": frame["account_id"].astype(str), "name": frame["name"].astype(str),
        "owner": frame["owner"].astype(str), "segment": frame["segment"].astype(str),
        "band": frame["band"].astype(str),
        "score": number("health_score"), "risk": number("risk_proba", 4), "arr": number("arr"),
        "arr_at_risk": number("arr_at_risk", 2),
        "renewal": pd.to_datetime(frame["renewal_date"]).dt.strftime("%Y-%m-%d"),
        "days": days.astype("Int64"),
        "renewal_risk": number("renewal_risk", 4), "change": number("score_change"),
        "driver": drivers.astype(str),
        "href": hrefs.where(hrefs.notna(), None),
    })
    if has_growth(frame):  # the "Expansion" column (report.js draws it when present)
        records["expansion"] = number("expansion_proba", 4)
    return records.reset_index(drop=True)


#: What the page's JSON must not hold raw inside a <script> element (as Jinja's tojson).
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"})


def table_json(records: pd.DataFrame) -> Markup:
    """:func:`table_rows` as the JSON the page embeds, safe inside ``<script>``: one
    object ``{"columns": [keys], "data": [[values of a record], ...]}`` (each key once,
    not once per account: half the text of a list of objects), the data written by
    pandas' encoder in one pass (``orient="values"``: the same text as ``"split"``
    without its Python objects per cell, ~6x faster at a million accounts). The page's
    script (and :func:`table_records`) makes the records of it."""
    columns = json.dumps([str(c) for c in records.columns], separators=(",", ":"), ensure_ascii=True)
    data = records.to_json(orient="values", double_precision=15, force_ascii=True)
    return Markup(f'{{"columns":{columns},"data":{data}}}'.translate(_SCRIPT_SAFE))


def table_records(page_json: str) -> list[dict[str, Any]]:
    """The records of :func:`table_json`'s text, as the page's script makes them."""
    table = json.loads(page_json)
    return [dict(zip(table["columns"], values)) for values in table["data"]]


def arr_at_risk_view(inputs: ReportInputs, *, currency: str) -> dict[str, Any]:
    """The ARR the book can expect to lose within the horizon, with its range, in
    total and per segment and owner (the run's ``arr_at_risk`` rows).

    Without those rows (an older run), the expectation is the risk list's
    ``arr_at_risk`` summed and no range is said.
    """
    rl, horizon = inputs.risk_list, inputs.horizon_days
    rows = [r for r in (inputs.run_info.get("arr_at_risk") or []) if isinstance(r, Mapping)]
    total = next((r for r in rows if r.get("by") == "all"), None)

    def words(r: Mapping[str, Any]) -> str:
        return text.arr_loss_words(r.get("expected_arr_lost"), r.get("arr_lost_low"), r.get("arr_lost_high"),
                                   horizon_days=horizon, level=r.get("level", ARR_RANGE_LEVEL),
                                   currency=currency)

    def count_words(r: Mapping[str, Any]) -> str:
        low, high = r.get("accounts_lost_low"), r.get("accounts_lost_high")
        expected = r.get("expected_accounts_lost")
        if text.is_missing(expected):
            return ""
        span = "" if text.is_missing(low) or text.is_missing(high) else \
            f" ({text.percent(r.get('level', ARR_RANGE_LEVEL))} range {int(low):,}\u2013{int(high):,})"
        return f"about {float(expected):,.0f} account{'s' if round(float(expected)) != 1 else ''}{span}"

    def group_rows(by: str) -> list[dict[str, Any]]:
        mine = sorted((r for r in rows if r.get("by") == by), key=lambda r: -float(r.get("expected_arr_lost") or 0))
        return [{
            "name": str(r.get("group")), "accounts": f"{int(r.get('accounts') or 0):,}",
            "arr": text.money(r.get("arr"), symbol=currency, compact=True),
            "expected": text.money(r.get("expected_arr_lost"), symbol=currency, compact=True),
            "expected_value": float(r.get("expected_arr_lost") or 0.0),
            "low": text.money(r.get("arr_lost_low"), symbol=currency, compact=True),
            "high": text.money(r.get("arr_lost_high"), symbol=currency, compact=True),
            "accounts_lost": count_words(r), "words": words(r),
        } for r in mine]

    if total is not None:
        expected = float(total.get("expected_arr_lost") or 0.0)
        headline, accounts = words(total), count_words(total)
        low, high = total.get("arr_lost_low"), total.get("arr_lost_high")
        level = total.get("level", ARR_RANGE_LEVEL)
    else:
        expected = float(rl["arr_at_risk"].fillna(0).sum())
        headline = text.arr_loss_words(expected, None, None, horizon_days=horizon, currency=currency)
        accounts, low, high, level = "", None, None, ARR_RANGE_LEVEL
    segments, owners = group_rows("segment"), group_rows("owner")
    return {
        "headline": headline, "accounts": accounts, "has_range": total is not None,
        "expected": text.money(expected, symbol=currency, compact=True), "expected_value": expected,
        "range": None if total is None else f"{text.money(low, symbol=currency, compact=True)}\u2013"
                                            f"{text.money(high, symbol=currency, compact=True)}",
        "level": text.percent(level), "level_in_ten": f"{round(10 * float(level)):.0f}",
        "horizon": text.horizon_words(horizon),
        "segments": segments, "owners": owners,
        "by_group": {**{("segment", g["name"]): g["words"] for g in segments},
                     **{("owner", g["name"]): g["words"] for g in owners}},
    }


def renewals_view(risk_list: pd.DataFrame, *, days: int, pages: Mapping[Any, str],
                  currency: str) -> dict[str, Any]:
    """Accounts whose next renewal falls within ``days`` days of the scoring date, the
    most ARR at risk at that renewal (ARR x renewal risk) first: the first
    :data:`RENEWALS_LISTED` as rows, every one in the counts and sums."""
    due = risk_list[(risk_list["days_to_renewal"] >= 0) & (risk_list["days_to_renewal"] <= days)]
    due = due.assign(renewal_at_risk=due["arr"] * due["renewal_risk"])
    due = due.sort_values(["renewal_at_risk", "days_to_renewal", "arr"], ascending=[False, True, False],
                          na_position="last", kind="stable")
    rows = [{
        "account_id": str(r["account_id"]), "name": r["name"], "owner": r["owner"],
        "href": pages.get(r["account_id"]),
        "date": text.date_text(r["renewal_date"]), "in_days": text.in_days(r["days_to_renewal"]),
        "days": int(round(float(r["days_to_renewal"]))),
        "arr": text.money(r["arr"], symbol=currency), "arr_value": float(np.nan_to_num(r["arr"])),
        "renewal_risk": text.percent(r["renewal_risk"]),
        "renewal_risk_value": None if text.is_missing(r["renewal_risk"]) else round(float(r["renewal_risk"]), 4),
        "at_risk": text.money(r["renewal_at_risk"], symbol=currency),
        "at_risk_value": None if text.is_missing(r["renewal_at_risk"]) else round(float(r["renewal_at_risk"]), 2),
        "score": None if text.is_missing(r["health_score"]) else int(round(r["health_score"])),
        "band": r["band"],
    } for r in due.head(RENEWALS_LISTED).to_dict("records")]
    return {
        "days": int(days), "rows": rows, "shown": RENEWALS_SHOWN,
        "due": len(due), "unlisted": len(due) - len(rows),
        "accounts": f"{len(due):,}",
        "arr": text.money(due["arr"].fillna(0).sum(), symbol=currency, compact=True),
        "at_risk": text.money(due["renewal_at_risk"].fillna(0).sum(), symbol=currency, compact=True),
    }


def calls_view(calls: pd.DataFrame, *, pages: Mapping[Any, str], currency: str) -> list[dict[str, Any]]:
    """The week's call list by owner, in the list's own order: per owner its accounts
    with the ARR at stake, one reason and one next step (empty without a list)."""
    if calls is None or calls.empty:
        return []
    by_text = {str(key): link for key, link in pages.items()}  # the CSV reads ids back as text
    out: list[dict[str, Any]] = []
    for owner, rows in calls.groupby("owner", sort=False):
        out.append({"owner": owner, "accounts": [{
            "name": row["name"], "page": by_text.get(str(row["account_id"])),
            "at_stake": text.money(pd.to_numeric(row["arr_at_risk"], errors="coerce"), symbol=currency),
            "score": row["health_score"], "band": row["band"], "why_now": row["why_now"],
            "reason": row["reason"], "next_step": row["next_step"],
        } for _, row in rows.iterrows()]})
    return out


def build_portfolio(inputs: ReportInputs, params: Any, *, pages: Mapping[Any, str]) -> dict[str, Any]:
    """Context of the overview page. ``pages`` maps account_id -> relative link."""
    rl = inputs.risk_list
    cur = params.currency
    scale = inputs.scale
    arr_total = float(rl["arr"].fillna(0).sum())
    losses = arr_at_risk_view(inputs, currency=cur)
    trend = leader.run_trend(inputs.runs, inputs.history, as_of=inputs.as_of, current={
        "accounts": len(rl), **{b: int((rl["band"] == b).sum()) for b in BAND_ORDER},
        "alerts": len(inputs.alerts), "arr_at_risk": losses["expected_value"]})
    return {
        "cards": leader.kpi_cards(trend, currency=cur),
        "trend": leader.trend_view(trend, currency=cur),
        "green_share": leader.green_share(rl, pages=pages, currency=cur),
        "plays": leader.plays_view(inputs.uplift, plays=inputs.run_info.get("plays"), currency=cur),
        "kpis": {
            "accounts": f"{len(rl):,}",
            "arr": text.money(arr_total, symbol=cur, compact=True),
            "mean_risk": text.percent(rl["risk_proba"].mean()),
        },
        "losses": losses,
        "horizon": text.horizon_words(inputs.horizon_days),
        "renewals": renewals_view(rl, days=params.renewal_days, pages=pages, currency=cur),
        "calls": calls_view(inputs.calls, pages=pages, currency=cur),
        "bands": band_summary(rl, currency=cur),
        "histogram": charts.score_histogram(
            rl["health_score"], rl["band"], scale=scale),
        "movers": movers(rl, top=params.top_movers, pages=pages, currency=cur),
        "alerts": new_alerts(inputs, pages=pages, currency=cur),
        "patterns": driver_patterns(inputs, min_points=params.driver_min_points, currency=cur,
                                    losses=losses["by_group"]),
        "rows": table_json(table_rows(rl, pages=pages)),
        "has_expansion": has_growth(rl),
        "currency": cur,
        "owners": sorted(rl["owner"].unique().tolist()),
        "segments": sorted(rl["segment"].unique().tolist()),
        "stages": stage_counts(rl),
        "band_options": [(b, text.band_label(b)) for b in BAND_ORDER],
        "pages": len(pages), "accounts": len(rl),
    }
