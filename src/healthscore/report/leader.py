"""The CS leader's view: the portfolio across scoring runs.

Pure, like :mod:`healthscore.report.portfolio`: normalised frames in, plain dicts out.

* :func:`run_trend`: one row per scoring run up to the report's date (accounts per
  band, alerts, ARR at risk), from what each run recorded (``run/<as_of>.json``:
  ``counts`` and the ``arr_at_risk`` row ``by = all``), else from the score history of
  that date (bands counted, ARR x risk summed); the report's own run from its risk list,
  so the cards and the trend say the same number;
* :func:`kpi_cards`: the headline figures with their change since the previous run;
* :func:`green_share`: how much of the ARR at risk sits in accounts that look healthy;
* :func:`plays_view`: what each play is worth, from its hold-out: the uplift table
  ``score`` writes with its date (:mod:`healthscore.plays.uplift`), never recomputed.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.scoring import wording as text
from healthscore.report import charts

TREND_COLUMNS = ("as_of", "accounts", "red", "yellow", "green", "alerts", "arr_at_risk")
_FIGURES = TREND_COLUMNS[1:]

#: Runs drawn in the trend chart, the latest ones (the text says when there are more).
TREND_RUNS = 24

#: Green accounts named in the sentence on the ARR at risk in green accounts.
GREEN_NAMED = 3


def _recorded(run: Mapping[str, Any]) -> dict[str, float]:
    """The figures one run file recorded (NaN where it says nothing)."""
    counts = run.get("counts") if isinstance(run.get("counts"), Mapping) else {}
    total = next((r for r in (run.get("arr_at_risk") or [])
                  if isinstance(r, Mapping) and r.get("by") == "all"), {})
    raw = {"accounts": counts.get("scored"), "red": counts.get("red"), "yellow": counts.get("yellow"),
           "green": counts.get("green"), "alerts": counts.get("alerts"),
           "arr_at_risk": total.get("expected_arr_lost")}
    return {k: np.nan if text.is_missing(v) else float(v) for k, v in raw.items()}


def _from_history(history: pd.DataFrame) -> pd.DataFrame:
    """Per history date: accounts, accounts per band and the ARR at risk (ARR x risk;
    NaN when the history keeps no ARR)."""
    if history is None or history.empty:
        return pd.DataFrame(columns=list(_FIGURES), dtype="float64")
    frame = history.assign(at_risk=history["arr"] * history["risk_proba"])
    grouped = frame.groupby("as_of")
    out = pd.DataFrame({"accounts": grouped.size().astype("float64")})
    for band in ("red", "yellow", "green"):
        out[band] = frame[frame["band"] == band].groupby("as_of").size().reindex(out.index).fillna(0.0)
    out["alerts"] = np.nan
    out["arr_at_risk"] = grouped["at_risk"].sum(min_count=1).where(grouped["arr"].count() == out["accounts"])
    return out


def run_trend(runs: Sequence[Mapping[str, Any]], history: pd.DataFrame, *, as_of: Any,
              current: Mapping[str, float]) -> pd.DataFrame:
    """One row per scoring run on or before ``as_of``, oldest first.

    Parameters
    ----------
    runs : sequence of dict
        Run summaries (``as_of``, ``counts``, ``arr_at_risk``), as the loader keeps them.
    history : DataFrame
        The normalised score history (``account_id, as_of, band, risk_proba, arr``).
    as_of : date-like
        The report's date; its row is ``current``.
    current : dict
        ``accounts, red, yellow, green, alerts, arr_at_risk`` of the report's run.

    Returns
    -------
    DataFrame
        Columns :data:`TREND_COLUMNS`; a figure neither the run file nor the history
        gives is NaN.
    """
    when = pd.Timestamp(as_of)
    table = _from_history(history)
    for run in runs:
        date = pd.Timestamp(run["as_of"])
        recorded = pd.Series(_recorded(run))
        # what the run file says wins over what the history lets one count
        row = table.loc[date] if date in table.index else pd.Series(np.nan, index=list(_FIGURES))
        table.loc[date] = recorded.where(recorded.notna(), row)[list(_FIGURES)]
    table.loc[when] = pd.Series({k: float(current[k]) for k in _FIGURES})
    table = table[table.index <= when].sort_index()
    return table.rename_axis("as_of").reset_index()[list(TREND_COLUMNS)].astype(
        {c: "float64" for c in _FIGURES})


#: Card -> (label, whether a rise is worse (+1), better (-1) or neither (0)).
CARDS = {
    "red": ("Red: at risk", +1),
    "yellow": ("Yellow: needs attention", 0),
    "green": ("Green: healthy", -1),
    "arr_at_risk": ("ARR at risk", +1),
    "alerts": ("Alerts", +1),
}


def _signed_money(value: float, currency: str) -> str:
    sign = "+" if value > 0 else text.MINUS if value < 0 else ""
    return f"{sign}{text.money(abs(value), symbol=currency, compact=True)}"


def kpi_cards(trend: pd.DataFrame, *, currency: str) -> list[dict[str, Any]]:
    """The leader's cards: per figure its value now and its change since the previous
    run, e.g. ``Red: at risk 56`` and ``−7 since 2026-06-01``.

    ``direction`` is ``worse``, ``better`` or ``same`` (``""`` without a previous run or
    for a figure whose rise is neither), for the colour; the words always say it.
    """
    now = trend.iloc[-1]
    before = trend.iloc[-2] if len(trend) > 1 else None
    since = "" if before is None else text.date_text(before["as_of"])
    cards = []
    for key, (label, rise) in CARDS.items():
        value = now[key]
        is_money = key == "arr_at_risk"
        shown = text.money(value, symbol=currency, compact=True) if is_money else (
            "n/a" if text.is_missing(value) else f"{int(value):,}")
        change = np.nan if before is None else value - before[key]
        if before is None:
            head, tail, direction = "first run:", "no change to show", ""
        elif text.is_missing(change):
            head, tail, direction = "no figure", f"for {since}", ""
        else:
            amount = _signed_money(change, currency) if is_money else (
                f"{'+' if change > 0 else text.MINUS if change < 0 else ''}{abs(int(change)):,}")
            head, tail = (amount if round(change) != 0 else "unchanged"), f"since {since}"
            direction = "same" if round(change) == 0 else "" if rise == 0 else (
                "worse" if np.sign(change) == rise else "better")
        change_text = f"{head} {tail}"
        # ``change_head`` and ``change_tail``: the two halves a narrow card wraps between
        cards.append({"key": key, "label": label, "value": shown,
                      "value_number": None if text.is_missing(value) else float(value),
                      "change": None if text.is_missing(change) else float(change),
                      "change_text": change_text, "change_head": head, "change_tail": tail,
                      "direction": direction, "title": f"{label} {shown} ({change_text})"})
    return cards


def trend_view(trend: pd.DataFrame, *, currency: str) -> dict[str, Any]:
    """What the trend card shows: the last :data:`TREND_RUNS` runs and a sentence."""
    shown = trend.tail(TREND_RUNS)
    first, last = shown.iloc[0], shown.iloc[-1]
    arr_first, arr_last = first["arr_at_risk"], last["arr_at_risk"]
    if len(shown) < 2:
        words = "This is the first scoring run: the trend grows from the next run on."
    else:
        compact = text.money(arr_first, symbol=currency, compact=True) != \
            text.money(arr_last, symbol=currency, compact=True)  # else "$3.4M -> $3.4M" says nothing
        arr_words = "" if text.is_missing(arr_first) or text.is_missing(arr_last) else (
            f"; ARR at risk {text.money(arr_first, symbol=currency, compact=compact)} \u2192 "
            f"{text.money(arr_last, symbol=currency, compact=compact)}")
        words = (f"Over {len(shown)} runs from {text.date_text(first['as_of'])} to "
                 f"{text.date_text(last['as_of'])}: red accounts {int(first['red']):,} \u2192 "
                 f"{int(last['red']):,}{arr_words}.")
    return {
        "runs": len(trend), "shown": len(shown), "words": words,
        "chart": charts.run_trend([text.date_text(d) for d in shown["as_of"]],
                                  {b: shown[b].tolist() for b in ("red", "yellow", "green")},
                                  shown["arr_at_risk"].tolist(), currency=currency),
    }


def green_share(risk_list: pd.DataFrame, *, pages: Mapping[Any, str], currency: str) -> dict[str, Any] | None:
    """The ARR at risk that sits in green accounts, in one sentence, with the green
    accounts carrying the most of it (None when no ARR is at risk at all).

    Many healthy accounts with a small chance each can add up to much of the book's
    expected loss: a leader should know before reading the red list only.
    """
    total = float(risk_list["arr_at_risk"].fillna(0).sum())
    if total <= 0:
        return None
    green = risk_list[risk_list["band"] == "green"]
    amount = float(green["arr_at_risk"].fillna(0).sum())
    share = amount / total
    top = green.sort_values(["arr_at_risk", "arr"], ascending=False).head(GREEN_NAMED)
    named = [{"name": str(r["name"]), "href": pages.get(r["account_id"]),
              "at_risk": text.money(r["arr_at_risk"], symbol=currency, compact=True)}
             for r in top.to_dict("records") if float(np.nan_to_num(r["arr_at_risk"])) > 0]
    head = (f"{text.money(amount, symbol=currency, compact=True)} of the "
            f"{text.money(total, symbol=currency, compact=True)} ARR at risk ({text.percent(share)}) "
            f"is in green accounts")
    if green.empty or amount <= 0:
        words = f"{head}: all of it sits in red and yellow accounts."
    elif len(green) == 1:
        words = f"{head}: the one account that looks healthy carries it."
    else:
        words = (f"{head}: {len(green):,} accounts that look healthy, each with a small chance of "
                 f"being lost, add up to it.")
    return {"words": words, "amount": amount, "share": share, "named": named,
            "accounts": len(green)}


#: A play's status (for the colour; the verdict always says it in words).
PLAY_STATUS = {"works": "better", "harms": "worse", "unclear": "same", "pending": ""}


def _play_status(row: Mapping[str, Any]) -> str:
    if not row["treated"] or not row["held_out"]:
        return "pending"
    if bool(row["works"]):
        return "works"
    return "harms" if float(row["high"]) < 0 else "unclear"


def _per100(value: Any) -> str:
    """``0.031`` -> ``+3.1`` (accounts in 100), ``n/a`` when missing."""
    return "n/a" if text.is_missing(value) else text.signed(float(value) * 100, digits=1)


def plays_view(uplift: pd.DataFrame, *, plays: Sequence[str] | None, currency: str) -> dict[str, Any] | None:
    """The plays card: per play, the accounts treated and held out whose outcome has
    matured, the churn in each arm, the accounts saved per 100 treated with its
    interval, the verdict sentence ``healthscore plays`` prints, and the ARR saved
    (said only when the play is measured to work: an interval across zero saves
    nothing one could take to the board).

    Parameters
    ----------
    uplift : DataFrame
        :func:`healthscore.plays.uplift.measure_uplift`'s table as stored, with ``as_of``
        (the date its outcomes are known until); empty when none was written.
    plays : sequence of str, optional
        The plays the run made tasks with (``run/<as_of>.json`` ``plays``).

    Returns
    -------
    dict or None
        None when the run has no play and no uplift table was written; else ``words``,
        ``matured`` (whether any play has matured outcomes) and ``rows``.
    """
    names = [str(p) for p in (plays or [])]
    if (uplift is None or uplift.empty) and not names:
        return None
    if uplift is None or uplift.empty:
        return {"matured": False, "as_of": None, "rows": [], "plays": names,
                "words": "No play has matured outcomes yet: an account counts once the horizon after "
                         "its first task (or hold-out) has passed."}
    when = text.date_text(uplift["as_of"].iloc[0]) if "as_of" in uplift else None
    rows = []
    for r in uplift.to_dict("records"):
        status = _play_status(r)
        measured = status != "pending"
        rows.append({
            "play": str(r["play"]), "status": status, "direction": PLAY_STATUS[status],
            "treated": f"{int(r['treated']):,}", "held_out": f"{int(r['held_out']):,}",
            "pending": f"{int(r['pending']):,}" if int(r["pending"]) else "",
            "treated_churn": text.percent(r["treated_churn"]) if measured else "n/a",
            "held_out_churn": text.percent(r["held_out_churn"]) if measured else "n/a",
            "saved": _per100(r["saved_per_account"]) if measured else "n/a",
            "interval": f"{_per100(r['low'])} to {_per100(r['high'])}" if measured else "n/a",
            "saved_value": None if text.is_missing(r["saved_per_account"]) else float(r["saved_per_account"]),
            "verdict": str(r["verdict"]),
            "arr_saved": (f"about {text.money(r['arr_saved'], symbol=currency, compact=True)}"
                          if status == "works" and not text.is_missing(r["arr_saved"]) else
                          "none: it loses accounts" if status == "harms" else "none measured yet"),
            "assigned": f"{text.date_text(r['first_as_of'])} to {text.date_text(r['last_as_of'])}",
        })
    matured = any(row["status"] != "pending" for row in rows)
    head = f"Outcomes known until {when}" if when else "Outcomes"
    if matured:
        words = (f"{head}: each play's accounts are split at random into treated and held out, so the "
                 "difference in churn between them is what the play is worth.")
    else:
        words = (f"{head}: no play has matured outcomes yet: an account counts once the horizon "
                 "after its first task (or hold-out) has passed.")
    return {"matured": matured, "as_of": when, "rows": rows, "words": words, "plays": names}
