"""The data as it was known at an instant: what a run on that date could have read.

Used to replay the past honestly (``healthscore backtest``) and to test that a row of a
training set never depends on what happened after its cutoff (DESIGN.md section 2:
rebuild from the data as known at T; every row with cutoff <= T is still there with
the same features).
"""

from __future__ import annotations

import pandas as pd

from healthscore.data.schema import TABLES
from healthscore.data.tables import Tables

#: Timestamps that are set when their row is written (a contract's end, an invoice's
#: due date): known from the row's own event time on, so kept as they are.
SCHEDULED = frozenset({("subscriptions", "end_date"), ("invoices", "due_at")})


def as_known_at(tables: Tables, when: pd.Timestamp) -> Tables:
    """``tables`` as known just before ``when`` (exclusive).

    Rows whose event time (``schema.TABLES[name].event_time``: a subscription's start,
    an event's timestamp, a ticket's opening, ...) is at or after ``when`` are gone, as
    are accounts created at or after it and their rows; a later fact on an earlier row
    (a ticket closed, an invoice paid, an email opened after ``when``) is blanked;
    scheduled dates (:data:`SCHEDULED`) stay. ``observed_until`` becomes ``when`` and
    the extras (e.g. simulator ground truth) are dropped; accounts with an incomplete
    subscription history stay incomplete.

    Parameters
    ----------
    tables : Tables
    when : Timestamp

    Returns
    -------
    Tables
    """
    when = pd.Timestamp(when).as_unit("us")
    accounts = tables.accounts
    if "created_at" in accounts:
        accounts = accounts.loc[~(accounts["created_at"] >= when).fillna(False).to_numpy(bool)]
    ids = accounts["account_id"]
    frames = {}
    for name, frame in tables.frames.items():
        spec = TABLES[name]
        keep = frame["account_id"].isin(ids).to_numpy(bool).copy()
        if spec.event_time and spec.event_time in frame:
            keep &= ~(frame[spec.event_time] >= when).fillna(False).to_numpy(bool)
        if name == "contacts" and "started_at" in frame:  # not yet a contact at ``when``
            keep &= ~(frame["started_at"] >= when).fillna(False).to_numpy(bool)
        out = frame.loc[keep].copy() if name != "accounts" else accounts.copy()
        for column in spec.timestamps:
            if column == spec.event_time or (name, column) in SCHEDULED or column not in out:
                continue
            if name == "accounts":
                continue
            out[column] = out[column].mask(out[column] >= when)
        frames[name] = out.reset_index(drop=True)
    return Tables(frames, when, {}, incomplete_accounts=tables.incomplete_accounts)
