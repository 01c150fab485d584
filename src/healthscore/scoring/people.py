"""The people behind the score: each account's contacts as known on an as-of date.

One row per ``contacts`` row known at the as-of date (started before it, or start
unknown), with its role, whether the person has left (``left_at`` before the as-of
date), their last product event and their events in the last
``features.contacts.window_days``, and their latest survey answer, all strictly before
the as-of date (the time rule). Written by ``healthscore score`` as
``people/<as_of>.parquet`` only when the source has a ``contacts`` table; the account
page shows it. Pure: tables in, a frame out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.data.schema import CONTACT_ROLES
from healthscore.data.tables import Tables

#: Columns of ``people/<as_of>.parquet``, in order.
PEOPLE_COLUMNS = ("account_id", "user_id", "role", "name", "email", "started_at", "left_at",
                  "status", "last_active", "recent_events", "survey_score", "survey_at")


def _with_contact(rows: pd.DataFrame, contacts: pd.DataFrame) -> pd.DataFrame:
    """``rows`` of contacts' users, with ``contact`` (the contacts row's index); user ids
    compared as they are when both tables have one dtype, else as text."""
    left, right = rows[["account_id", "user_id"]], contacts[["account_id", "user_id"]]
    if left["user_id"].dtype != right["user_id"].dtype:
        left = left.assign(user_id=left["user_id"].astype("str").str.removesuffix(".0"))
        right = right.assign(user_id=right["user_id"].astype("str").str.removesuffix(".0"))
    right = right.assign(contact=contacts.index)
    matched = left.reset_index().merge(right, on=["account_id", "user_id"], how="inner")
    return rows.loc[matched["index"].to_numpy()].assign(contact=matched["contact"].to_numpy())


def make_people(tables: Tables, as_of: pd.Timestamp, *, window_days: int = 30) -> pd.DataFrame | None:
    """The contacts known at ``as_of`` with their activity and latest survey (columns
    :data:`PEOPLE_COLUMNS`), current ones first by role (:data:`CONTACT_ROLES` order),
    then those who left, latest first; None without a ``contacts`` table."""
    contacts = tables.get("contacts")
    if contacts is None:
        return None
    as_of = pd.Timestamp(as_of)
    frame = contacts.copy()
    for column in ("name", "email", "started_at", "left_at"):
        if column not in frame:
            frame[column] = pd.NaT if column.endswith("_at") else None
    frame = frame.loc[~(frame["started_at"] >= as_of).fillna(False).to_numpy(bool)]
    left = (frame["left_at"] < as_of).fillna(False).to_numpy(bool)
    frame["left_at"] = frame["left_at"].where(left)
    frame["status"] = np.where(left, "left", "current")
    frame = frame.reset_index(drop=True)
    frame["last_active"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    frame["recent_events"] = 0.0
    frame["survey_score"] = np.nan
    frame["survey_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    events = tables.get("events")
    if events is not None and "user_id" in events.columns and len(frame):
        rows = _with_contact(events.loc[(events["timestamp"] < as_of).to_numpy()], frame)
        recent = rows["timestamp"] >= as_of - pd.Timedelta(days=window_days)
        frame["last_active"] = rows.groupby("contact")["timestamp"].max().reindex(frame.index)
        frame["recent_events"] = rows.loc[recent].groupby("contact").size().reindex(
            frame.index, fill_value=0).astype("float64")
    surveys = tables.get("surveys")
    if surveys is not None and "user_id" in surveys.columns and len(frame):
        rows = surveys.loc[(surveys["responded_at"] < as_of).to_numpy() & surveys["score"].notna().to_numpy()]
        latest = _with_contact(rows, frame).sort_values(["contact", "responded_at", "score"], kind="stable")
        latest = latest.groupby("contact").tail(1).set_index("contact")
        frame["survey_score"] = latest["score"].reindex(frame.index).astype("float64")
        frame["survey_at"] = latest["responded_at"].reindex(frame.index)
    left = frame["status"].eq("left").to_numpy()
    rank = {role: i for i, role in enumerate(CONTACT_ROLES)}
    order = frame.assign(_left=left, _role=frame["role"].map(rank).fillna(len(rank)))
    order = order.sort_values(["account_id", "_left", "_role", "left_at", "user_id"],
                              ascending=[True, True, True, False, True], kind="stable")
    return order.loc[:, list(PEOPLE_COLUMNS)].reset_index(drop=True)
