"""Parent accounts in the alerts, the plays' tasks and the call list.

A parent (:mod:`healthscore.scoring.parents`) is alerted by the rules of its accounts
(:func:`healthscore.scoring.alerts.make_alerts`, ``params.alerts``) applied to its
ARR-weighted health against its row of the previous date's parents table: newly red,
a worse band, a sharp drop. Its reasons are its accounts whose score fell by at least
``alerts.reason_min_points``, the largest ARR-weighted fall first, each with its share
of the parent's ARR and its own alert's leading reason:
``Acme EU: -12 pts, 40% of ARR (Active users in the last 30 days: 25 -> 4 (-9 pts))``.
So a parent whose score moved without an account that fell (a mix of small moves, a
model change) raises nothing under ``alerts.require_reason``, and a drop told by the
same account in the parent's previous alert is folded (``alerts.fold``), as for an
account.

The parent alerts (``parent_alerts/<as_of>.parquet``) become tasks through the plays
(``parent_tasks/<as_of>.parquet``, sent by ``params.notify`` with the accounts' tasks)
and lines of the call list naming the accounts behind them. Without
``parent_account_id`` none of this exists and every output is as before. Pure: frames
in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import AlertParams
from healthscore.data.schema import ALERT_COLUMNS, PARENT_ID
from healthscore.scoring.alerts import make_alerts
from healthscore.scoring.parents import parent_groups
from healthscore.scoring.risk_words import format_points
from healthscore.scoring.wording import percent

#: Columns of ``parent_alerts/<as_of>.parquet``: those of the alerts, keyed by the parent.
PARENT_ALERT_COLUMNS = (PARENT_ID, *ALERT_COLUMNS[1:])


def member_frame(risk_list: pd.DataFrame) -> pd.DataFrame:
    """The risk list's rows that belong to a parent, with ``_group`` (their parent) and
    ``_weight`` (their share of its ARR; equal shares where a parent has no ARR)."""
    group = parent_groups(risk_list)
    frame = risk_list.loc[group.notna()].assign(_group=group[group.notna()])
    arr = frame["arr"].fillna(0.0).astype(np.float64)
    total = arr.groupby(frame["_group"]).transform("sum")
    count = arr.groupby(frame["_group"]).transform("size")
    frame["_weight"] = np.where(total > 0, arr / total.where(total > 0, 1.0), 1.0 / count)
    return frame


def member_names(frame: pd.DataFrame) -> pd.Series:
    """Each member as a reader names it: its name, else ``account <id>``."""
    names = frame["name"] if "name" in frame else pd.Series(pd.NA, index=frame.index)
    return pd.Series([str(n) if not pd.isna(n) else f"account {a}"
                      for n, a in zip(names, frame["account_id"])], index=frame.index)


def parent_reasons(risk_list: pd.DataFrame, alerts: pd.DataFrame | None, *, top: int = 3,
                   min_points: float = 0.0) -> pd.Series:
    """Per parent (indexed by parent id), the accounts whose score fell by at least
    ``min_points``, the largest ARR-weighted fall first (at most ``top``), as one text;
    parents without such an account are absent."""
    frame = member_frame(risk_list)
    change = pd.to_numeric(frame["score_change"], errors="coerce").astype("Float64")
    fell = frame.loc[(change <= -max(min_points, 1e-9)).fillna(False).to_numpy(dtype=bool)]
    if fell.empty:
        return pd.Series([], dtype="string", name="reasons")
    fell = fell.assign(_cost=fell["_weight"] * -pd.to_numeric(fell["score_change"]).astype(np.float64),
                       _name=member_names(fell))
    fell = fell.sort_values(["_group", "_cost", "account_id"], ascending=[True, False, True], kind="stable")
    fell = fell.groupby("_group", sort=False).head(top)
    own = (alerts.drop_duplicates("account_id").set_index("account_id")["reason"]
           if alerts is not None and len(alerts) else pd.Series([], dtype="string"))
    texts = []
    for row in fell.to_dict("records"):
        why = own.get(row["account_id"])
        lead = "" if why is None or pd.isna(why) or not str(why) else f" ({str(why).split('; ')[0]})"
        texts.append(f"{row['_name']}: {format_points(float(row['score_change']))}, "
                     f"{percent(row['_weight'])} of ARR{lead}")
    return pd.Series(texts, index=fell["_group"].to_numpy()).groupby(level=0, sort=False).agg(
        "; ".join).astype("string").rename("reasons")


def make_parent_alerts(parents: pd.DataFrame, previous: pd.DataFrame | None, risk_list: pd.DataFrame,
                       alerts: pd.DataFrame | None, params: AlertParams, *,
                       previous_alerts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The parent alerts of one date (columns :data:`PARENT_ALERT_COLUMNS`, worst drop first).

    Parameters
    ----------
    parents : DataFrame
        The date's parents table (``parent_account_id, health_score, band``).
    previous : DataFrame or None
        The previous date's parents table (None or empty: nothing to compare with, no alert).
    risk_list, alerts : DataFrame
        The date's risk list (with ``parent_account_id``) and its accounts' alerts: the reasons.
    params : AlertParams
        The rules, as for an account.
    previous_alerts : DataFrame, optional
        The previous date's parent alerts, for folding.
    """
    def keyed(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if frame is None else frame.rename(columns={PARENT_ID: "account_id"})

    before = None if previous is None or previous.empty else keyed(previous)
    reasons = parent_reasons(risk_list, alerts, top=params.reasons, min_points=params.reason_min_points)
    folded = keyed(previous_alerts) if previous_alerts is not None and len(previous_alerts) else None
    found = make_alerts(keyed(parents)[["account_id", "health_score", "band"]], before, reasons, params,
                        previous_alerts=folded)
    found = found.rename(columns={"account_id": PARENT_ID})
    found[PARENT_ID] = found[PARENT_ID].astype(parents[PARENT_ID].dtype)
    return found.loc[:, list(PARENT_ALERT_COLUMNS)]


def parent_accounts(parents: pd.DataFrame, risk_list: pd.DataFrame) -> pd.DataFrame:
    """The parents as rows of a risk list (``account_id``: the parent id), for the plays and
    the call list: ``name`` (``Acme (parent)``, ``Parent 12`` for a bare group id), owner,
    segment, ARR, ARR at risk, score, band, ``top_drivers``, and the soonest renewal of its
    accounts (``renewal_date``, ``days_to_renewal``)."""
    frame = member_frame(risk_list)
    soonest = frame.sort_values(["_group", "days_to_renewal"], kind="stable", na_position="last") \
        .drop_duplicates("_group").set_index("_group")
    ids = parents[PARENT_ID]
    out = pd.DataFrame({
        "account_id": ids.to_numpy(),
        "name": [f"{n} (parent)" if not pd.isna(n) else f"Parent {p}" for n, p in zip(parents["name"], ids)],
        "owner": parents["owner"].to_numpy(), "segment": parents["segment"].to_numpy(),
        "arr": parents["arr"].to_numpy(np.float64), "arr_at_risk": parents["arr_at_risk"].to_numpy(np.float64),
        "health_score": parents["health_score"].to_numpy(), "band": parents["band"].to_numpy(),
        "top_drivers": parents["top_drivers"].to_numpy(),
        "renewal_date": ids.map(soonest["renewal_date"]).to_numpy() if "renewal_date" in soonest
        else pd.NaT,
        "days_to_renewal": ids.map(soonest["days_to_renewal"]).to_numpy(np.float64)
        if "days_to_renewal" in soonest else np.nan,
    })
    for family in [c for c in parents.columns if c.startswith("points_")]:
        out[family] = parents[family].to_numpy(np.float64)
    return out


def children_text(risk_list: pd.DataFrame, *, named: int = 3) -> pd.Series:
    """Per parent id, its accounts most ARR at risk first, at most ``named`` of them:
    ``Acme EU (red, 31), Acme US (yellow, 55) and 2 more``."""
    frame = member_frame(risk_list)
    frame = frame.assign(_name=member_names(frame)).sort_values(
        ["_group", "arr_at_risk", "account_id"], ascending=[True, False, True], kind="stable")
    out = {}
    for group, rows in frame.groupby("_group", sort=False):
        shown = [f"{n} ({b}, {int(s)})" for n, b, s in
                 zip(rows["_name"][:named], rows["band"][:named], rows["health_score"][:named])]
        more = len(rows) - len(shown)
        out[group] = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    return pd.Series(out, dtype="string")
