"""The growth-opportunities view: healthy accounts likely to expand, by expected ARR gain.

Shown when the date's risk list has ``expansion_proba`` (``score`` with an expansion
model exported: :mod:`healthscore.scoring.expansion`). An opportunity is an account in
one of the run's ``healthy_bands`` (by default green: a pitch to an account at risk of
leaving is the wrong call) whose ``expansion_proba`` is at least ``min_proba``; they are
listed by ``expansion_arr_gain``, at most ``top_accounts``, each with the signals
behind its propensity. The settings come from ``run/<as_of>.json`` (``expansion``), so
the view is rendered from the outputs alone. Pure: frames in, a dict for the template.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from healthscore.scoring import wording as text

#: The file of the view inside the report folder.
GROWTH_PAGE = "growth.html"


def has_growth(risk_list: pd.DataFrame | None) -> bool:
    """Whether the risk list carries an expansion propensity to show."""
    return risk_list is not None and "expansion_proba" in risk_list.columns \
        and bool(risk_list["expansion_proba"].notna().any())


def build_growth(
    raw: pd.DataFrame, shown: pd.DataFrame, *, run: Mapping[str, Any], pages: Mapping[Any, str],
    currency: str = "$",
) -> dict[str, Any]:
    """The view's content.

    Parameters
    ----------
    raw : DataFrame
        The risk list as written (``account_id``, ``expansion_proba``,
        ``expansion_arr_gain``, ``expansion_signals``).
    shown : DataFrame
        The report's normalised risk list (name, owner, segment, band, score, ARR).
    run : mapping
        ``run/<as_of>.json``; its ``expansion`` entry holds the settings.
    pages : mapping
        Account id -> account page (accounts with one are linked).
    """
    settings = dict(run.get("expansion") or {})
    bands = list(settings.get("healthy_bands") or ["green"])
    min_proba = float(settings.get("min_proba", 0.0))
    top = int(settings.get("top_accounts", 50))
    extra = [c for c in ("expansion_proba", "expansion_arr_gain", "expansion_signals")
             if c in raw.columns and c not in shown.columns]  # the shown list keeps expansion_proba
    frame = shown.merge(raw[["account_id", *extra]], on="account_id", how="left", validate="1:1")
    if "expansion_arr_gain" not in frame:
        frame["expansion_arr_gain"] = frame["expansion_proba"] * frame["arr"]
    if "expansion_signals" not in frame:
        frame["expansion_signals"] = ""
    healthy = frame["band"].isin(bands)
    likely = frame["expansion_proba"] >= min_proba
    picked = frame.loc[healthy & likely].sort_values(
        ["expansion_arr_gain", "expansion_proba", "account_id"], ascending=[False, False, True],
        kind="stable")
    rows = [_row(r, pages, currency) for r in picked.head(top).to_dict("records")]
    scored = frame["expansion_proba"].notna()
    return {
        "rows": rows,
        "count": int(len(picked)), "shown": len(rows),
        "gain": text.money(picked["expansion_arr_gain"].sum(), symbol=currency),
        "all_gain": text.money(frame.loc[scored, "expansion_arr_gain"].sum(), symbol=currency),
        "scored": int(scored.sum()),
        "mean_proba": text.percent(frame.loc[scored, "expansion_proba"].mean()),
        "bands": " or ".join(bands),
        "min_proba": text.percent(min_proba),
        "rise": text.percent(settings.get("min_increase", float("nan"))),
        "horizon": text.horizon_words(settings.get("horizon_days")),
        "model_version": str(settings.get("model_version") or "unversioned"),
    }


def _row(row: Mapping[str, Any], pages: Mapping[Any, str], currency: str) -> dict[str, Any]:
    signals = row.get("expansion_signals")
    return {
        "account_id": str(row["account_id"]), "name": row["name"], "owner": row["owner"],
        "segment": row["segment"], "href": pages.get(row["account_id"]),
        "band": row["band"], "band_label": text.band_label(row["band"]),
        "score": None if text.is_missing(row["health_score"]) else int(round(row["health_score"])),
        "arr": text.money(row["arr"], symbol=currency), "arr_value": float(row["arr"] or 0.0),
        "proba": text.percent(row["expansion_proba"]), "proba_value": float(row["expansion_proba"]),
        "gain": text.money(row["expansion_arr_gain"], symbol=currency),
        "gain_value": float(row["expansion_arr_gain"]),
        "signals": [s for s in str(signals).split("; ") if s] if isinstance(signals, str) else [],
    }
