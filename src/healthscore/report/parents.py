"""The parent-accounts view: each parent's health rolled up from its accounts.

Shown when the date wrote ``parents/<as_of>.parquet`` (``score`` on accounts with
``parent_account_id``: :mod:`healthscore.scoring.parents`). One row per parent, most
ARR at risk first: its health score (the scale's score of its ARR-weighted risk), the
share of its ARR expected to be lost, its ARR at risk with its range, the chance that at
least one of its accounts is lost, its drivers naming the accounts behind them, and its
accounts, each linked to its page where it has one. Pure: frames in, a dict for the
template.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from healthscore.data.schema import PARENT_ID
from healthscore.scoring import wording as text
from healthscore.scoring.arr_range import range_words
from healthscore.scoring.parent_view import parent_title
from healthscore.scoring.parents import parent_groups
from healthscore.scoring.risk_words import format_points

#: The file of the view inside the report folder.
PARENTS_PAGE = "parents.html"


def has_parents_view(parents: pd.DataFrame | None) -> bool:
    """Whether the date has parents to show."""
    return parents is not None and not parents.empty


def build_parents(
    parents: pd.DataFrame, drivers: pd.DataFrame, risk_list: pd.DataFrame, *, run: Mapping[str, Any],
    pages: Mapping[Any, str], currency: str = "$", alerts: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The view's content.

    Parameters
    ----------
    parents, drivers : DataFrame
        ``parents/<as_of>.parquet`` and ``parent_drivers/<as_of>.parquet``.
    risk_list : DataFrame
        The risk list as written (with ``parent_account_id``).
    run : mapping
        ``run/<as_of>.json`` (its ``parents.level``).
    pages : mapping
        Account id -> account page (accounts with one are linked).
    alerts : DataFrame, optional
        ``parent_alerts/<as_of>.parquet``: a parent alerted on the date shows its alert
        and reasons (the accounts whose score fell) above its drivers.
    """
    level = float((run.get("parents") or {}).get("level", 0.8))
    groups = parent_groups(risk_list) if PARENT_ID in risk_list else pd.Series(pd.NA, index=risk_list.index)
    members = risk_list.assign(_group=groups).loc[groups.notna()]
    by_parent = {key: frame.sort_values(["arr_at_risk", "risk_proba"], ascending=False, kind="stable")
                 for key, frame in members.groupby("_group", sort=False)}
    hurting = drivers.loc[drivers["kind"] == "hurting"] if not drivers.empty else drivers
    drivers_of = {key: frame.sort_values("rank").to_dict("records")
                  for key, frame in hurting.groupby(PARENT_ID, sort=False)} if not hurting.empty else {}
    alert_of = {} if alerts is None or alerts.empty else \
        {a[PARENT_ID]: a for a in alerts.to_dict("records")}
    rows = []
    for r in parents.to_dict("records"):
        key = r[PARENT_ID]
        alert = alert_of.get(key)
        accounts = by_parent.get(key, members.iloc[:0])
        rows.append({
            "parent_id": str(key), "title": parent_title(r, key), "owner": r.get("owner") or "",
            "href": pages.get(key), "accounts": int(r["accounts"]), "red": int(r["red_accounts"]),
            "score": int(r["health_score"]), "band": r["band"], "band_label": text.band_label(r["band"]),
            "risk": text.percent(r["arr_weighted_risk"]), "risk_value": float(r["arr_weighted_risk"]),
            "arr": text.money(r["arr"], symbol=currency), "arr_value": float(r["arr"]),
            "at_risk": text.money(r["arr_at_risk"], symbol=currency),
            "at_risk_range": range_words(r["arr_lost_low"], r["arr_lost_high"], currency=currency),
            "at_risk_value": float(r["arr_at_risk"]),
            "any_lost": text.percent(r["any_lost_proba"]),
            "change": None if text.is_missing(r.get("score_change")) else int(r["score_change"]),
            "alert": None if alert is None else {
                "kind": text.alert_kinds(alert["kind"]),
                "reason": "" if text.is_missing(alert.get("reason")) else str(alert["reason"])},
            "drivers": [{"label": d["label"], "family": d["family"], "points": format_points(d["points"]),
                         "accounts": d["accounts"]} for d in drivers_of.get(key, [])],
            "members": [{"account_id": str(m["account_id"]), "name": m.get("name") or f"account {m['account_id']}",
                         "href": pages.get(m["account_id"]), "own": m["account_id"] == key,
                         "score": int(m["health_score"]), "band": m["band"],
                         "band_label": text.band_label(m["band"]), "risk": text.percent(m["risk_proba"]),
                         "arr": text.money(m["arr"], symbol=currency),
                         "share": text.percent(m["arr"] / r["arr"]) if r["arr"] else "n/a",
                         "at_risk": text.money(m["arr_at_risk"], symbol=currency)}
                        for m in accounts.to_dict("records")],
        })
    return {
        "rows": rows, "count": len(rows), "level": text.percent(level),
        "accounts": int(parents["accounts"].sum()),
        "arr": text.money(parents["arr"].sum(), symbol=currency),
        "at_risk": text.money(parents["arr_at_risk"].sum(), symbol=currency),
        "red": int((parents["band"] == "red").sum()),
        "alerted": len(alert_of),
    }

