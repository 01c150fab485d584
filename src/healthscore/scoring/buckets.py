"""Scoring a bucketed source (:mod:`healthscore.io.buckets`) one bucket at a time.

Every scoring output is per account, so `score` can read one bucket at a time and
merge (:func:`score_bucketed`, tested equal to one run over the whole source).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.config import FeatureParams
from healthscore.errors import NoActiveAccountsError
from healthscore.io.buckets import read_bucket, read_meta
from healthscore.progress import progress
from healthscore.scoring.alerts import sort_alerts
from healthscore.scoring.engine import score_date
from healthscore.scoring.history import Previous
from healthscore.scoring.outputs import DateOutputs
from healthscore.scoring.risk_list import sort_risk_list


def score_bucketed(root: str | Path, exported: Any, *, as_of: pd.Timestamp, features: FeatureParams,
                   score: Any, alerts: Any, previous: Previous | None = None,
                   reuse: pd.DataFrame | None = None, currency: str = "$") -> DateOutputs:
    """:func:`~healthscore.scoring.score_date` one bucket at a time, merged.

    Only one bucket's tables are in memory at once, so the source's size no longer
    bounds a run; the outputs (one row per active account) do. The merged outputs equal
    those of one run over the whole source (tested): every output row is per account,
    and the merged frames are put back in the order one run gives.
    """

    buckets = int(read_meta(root)["buckets"])
    parts = []
    for k in progress(range(buckets), what="score", unit="buckets"):
        tables = read_bucket(root, k)
        ids = pd.Index(tables.accounts["account_id"])
        if ids.empty:
            continue
        prev = None if previous is None else Previous(
            previous.as_of, previous.history[previous.history["account_id"].isin(ids)],
            previous.points[previous.points["account_id"].isin(ids)], previous.model_version,
            None if previous.alerts is None or previous.alerts.empty
            else previous.alerts[previous.alerts["account_id"].isin(ids)])
        mine = None if reuse is None else reuse[reuse["account_id"].isin(ids)]
        try:
            parts.append(score_date(tables, exported, as_of=as_of, features=features, score=score,
                                    alerts=alerts, previous=prev, reuse=mine, currency=currency))
        except NoActiveAccountsError:
            pass  # a bucket with no customer on that date
        del tables
    if not parts:
        raise NoActiveAccountsError(f"no account is active on {as_of:%Y-%m-%d} in any bucket of {root}")
    return merge_outputs(parts)


def merge_outputs(parts: list[DateOutputs]) -> DateOutputs:
    """One :class:`~healthscore.scoring.outputs.DateOutputs` from per-bucket ones, in the
    order one run gives (per-account frames by account, as the cutoffs come)."""

    def cat(name: str) -> pd.DataFrame:
        return pd.concat([getattr(p, name) for p in parts], ignore_index=True)

    def by_account(frame: pd.DataFrame, *then: str) -> pd.DataFrame:
        return frame.sort_values(["account_id", *then], kind="stable").reset_index(drop=True)

    run = dict(parts[0].run)
    counts = {key: sum(int(p.run["counts"].get(key, 0)) for p in parts) for key in run["counts"]}
    timings = {key: sum(float(p.run.get("timings", {}).get(key, 0.0)) for p in parts)
               for key in run.get("timings", {})}
    run.update(counts=counts, timings=timings, buckets=len(parts))
    return DateOutputs(parts[0].as_of, sort_risk_list(cat("risk_list")), by_account(cat("history")),
                       by_account(cat("points")), by_account(cat("changes"), "rank"),
                       sort_alerts(cat("alerts")), run)
