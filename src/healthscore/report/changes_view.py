"""The report's view of why scores changed: the change lines in the long shape the
views read (:func:`normalise_changes`), an alert's reason worded from them as the
account page shows them (:func:`change_reason`, :func:`normalise_alerts`), and which
lines the views need read from their file (:func:`changes_shown`)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.report.points import PSEUDO_FEATURES, catalogue_columns, empty_frame, numeric_column, text_column
from healthscore.scoring import wording as text
from healthscore.scoring.changes import MODEL_CHANGED, OTHER_CHANGES, change_head
from healthscore.scoring.profile import STARTING_POINT, is_profile, split_changes


#: Pseudo-features of the changes table (healthscore.scoring.changes) -> label.
SPECIAL_CHANGES = {MODEL_CHANGED: "The model was updated", OTHER_CHANGES: "All other signals together"}

#: The changes' columns as ``score`` writes them (:data:`healthscore.data.schema.CHANGE_COLUMNS`)
#: -> as the views say them: the value and points "now", beside "before".
_CHANGES_VIEW_NAMES = {"value_after": "value_now", "points_after": "points_now"}

_CHANGES_LONG = ["account_id", "feature", "points_change", "points_before", "points_now",
                 "value_before", "value_now", "label", "family", "unit", "against_direction", "profile"]

#: Changed lines named as an alert's reason, at most.
ALERT_REASONS = 3



def normalise_changes(changes: pd.DataFrame, catalogue: Mapping[str, Any],
                      profile: tuple[str, ...] = ()) -> pd.DataFrame:
    if changes is None or changes.empty or "feature" not in changes.columns:
        return empty_frame(_CHANGES_LONG)
    frame = changes.rename(columns=_CHANGES_VIEW_NAMES)
    for column in ("points_before", "points_now"):
        frame[column] = numeric_column(frame, column)
    change = numeric_column(frame, "points_change")
    frame["points_change"] = change.where(change.notna(), frame["points_now"] - frame["points_before"])
    for column in ("value_before", "value_now"):
        if column not in frame.columns:
            frame[column] = np.nan
    against = frame["against_direction"] if "against_direction" in frame.columns else False
    frame["against_direction"] = pd.Series(against, index=frame.index).fillna(False).astype(bool)
    frame["feature"] = frame["feature"].astype(str)
    frame = frame[~frame["feature"].isin(PSEUDO_FEATURES)]
    frame = catalogue_columns(frame, catalogue)
    special = frame["feature"].isin(SPECIAL_CHANGES)
    frame.loc[special, "label"] = frame.loc[special, "feature"].map(SPECIAL_CHANGES)
    frame.loc[special, "family"] = ""
    frame["profile"] = is_profile(frame["feature"], profile) & ~special.to_numpy()
    return frame[_CHANGES_LONG].reset_index(drop=True)


def change_reason(lines: list[Mapping[str, Any]], *, profile: tuple[str, ...], profile_now: Any) -> str:
    """The changes that lowered an account's score, worded as its page shows them
    (no profile fact, no unchanged value): ``Days overdue: 0 days -> 45 days
    (−12.0 pts)``; at most :data:`ALERT_REASONS` lines, the largest first."""
    view = split_changes(lines, profile=profile, profile_now=profile_now, top=len(lines))
    parts = []
    for line in view.named:
        if float(line["points_change"]) < 0:
            said = line["label"] if line["feature"] in SPECIAL_CHANGES else change_head(line, arrow="\u2192")
            parts.append((float(line["points_change"]), said))
    start = view.starting_point
    if start is not None and start["points_change"] < 0:
        then_now = "" if start["before"] is None else \
            f": {start['before']:.0f} \u2192 {start['now']:.0f}"
        parts.append((start["points_change"], f"{STARTING_POINT}{then_now}"))
    parts.sort(key=lambda p: p[0])
    words = [f"{label} ({text.signed(points)} pts)" for points, label in parts[:ALERT_REASONS]]
    if not words and view.rest < 0:
        words = [f"{SPECIAL_CHANGES['other changes']} ({text.signed(view.rest)} pts)"]
    return "; ".join(words)


def normalise_alerts(alerts: pd.DataFrame, *, changes: pd.DataFrame | None = None,
                     risk_list: pd.DataFrame | None = None, profile: tuple[str, ...] = ()) -> pd.DataFrame:
    """Alerts with readable kinds. An account with change lines gets its reason worded
    from them (:func:`change_reason`), so an alert never names a profile fact nor an
    unchanged value; the stored reason is kept otherwise."""
    if alerts is None or alerts.empty:
        return empty_frame(["account_id", "kind", "reason"])
    frame = alerts
    reasons = text_column(frame, "reason", "")
    if changes is not None and len(changes):
        ids = set(frame["account_id"])
        mine = changes[changes["account_id"].isin(ids)]
        start = risk_list.set_index("account_id")["profile_score"] if risk_list is not None else pd.Series(dtype=float)
        worded = {a: change_reason(part.to_dict("records"), profile=profile, profile_now=start.get(a))
                  for a, part in mine.groupby("account_id", sort=False)}
        # with change lines, never the stored text (it may name a profile fact)
        reasons = pd.Series([(worded[a] or "Many small changes together") if a in worded else r
                             for a, r in zip(frame["account_id"], reasons)], index=frame.index, dtype=object)
    return pd.DataFrame({
        "account_id": frame["account_id"].to_numpy(),
        "kind": text_column(frame, "kind", "alert").map(text.alert_kinds).to_numpy(),
        "reason": reasons.to_numpy(),
    })


def changes_shown(changes: Any, detail: list[Any] | None, alerts: pd.DataFrame) -> pd.DataFrame:
    """The change lines the views show: a frame whole; from the file
    (:class:`~healthscore.io.columns.ParquetColumns`) only those of the accounts with a
    page (``detail``; every account when None) or an alert (its reason is worded from
    them): the only views that show change lines."""
    if isinstance(changes, pd.DataFrame) or changes is None:
        return changes
    if detail is None or changes.empty or "account_id" not in changes.columns:
        return changes[list(changes.columns)]
    alerted = [] if alerts is None or alerts.empty or "account_id" not in alerts.columns \
        else alerts["account_id"].tolist()
    return changes.rows([*detail, *alerted])
