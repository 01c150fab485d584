"""The score history: one partition per as-of date, one row per scored account.

``history/as_of=<YYYY-MM-DD>/part-0.parquet`` columns: ``account_id``,
``health_score`` (1..100), ``unclipped_score`` (before rounding and clipping),
``band``, ``risk_proba``, ``arr``, ``model_version``, ``base``, ``residual`` and one
``points_<family>`` column per family (usage, support, billing, sentiment, engagement,
contract, account). ``base + residual + sum(points_<family>) = unclipped_score``.
The as-of date is the partition's folder name (read back as an ``as_of`` column).

A parent account's score (accounts with ``parent_account_id``) is kept per date in
``parents/<as_of>.parquet``; :func:`read_parent_history` reads those of every complete
date as one history, so a parent has a trend as an account has (:func:`trend_line`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.scoring.drivers import catalogue_entry, family_column, family_points
from healthscore.scoring.explain import Explanation
from healthscore.features.catalogue import FAMILIES
from healthscore.data.schema import HISTORY_HEAD_COLUMNS, PARENT_ID
from healthscore.scoring.outputs import OutputLayout, as_of_text

HISTORY_COLUMNS = (*HISTORY_HEAD_COLUMNS, *(family_column(f) for f in FAMILIES))


def make_history_rows(
    account_ids: Any,
    explanation: Explanation,
    *,
    arr: np.ndarray,
    model_version: str,
    catalogue: Mapping[str, Any],
) -> pd.DataFrame:
    """History rows of one date (columns :data:`HISTORY_COLUMNS`, n rows in order)."""
    families = {n: catalogue_entry(catalogue, n)["family"] for n in explanation.feature_names}
    by_family = family_points(explanation.points, explanation.feature_names, families)
    head = pd.DataFrame({
        "account_id": np.asarray(account_ids),
        "health_score": explanation.health_score.astype(np.int64),
        "unclipped_score": explanation.unclipped,
        "band": pd.array(explanation.band, dtype="string"),
        "risk_proba": explanation.risk_proba,
        "arr": np.asarray(arr, dtype=np.float64),
        "model_version": pd.array([model_version] * len(explanation), dtype="string"),
        "base": explanation.base,
        "residual": explanation.residual,
    })
    return pd.concat([head, by_family], axis=1).loc[:, list(HISTORY_COLUMNS)]


@dataclass(frozen=True)
class Previous:
    """What the last scoring before a date left: its date, history rows, points rows
    (and its alerts, for folding repeated ones)."""

    as_of: pd.Timestamp
    history: pd.DataFrame
    points: pd.DataFrame
    model_version: str | None
    alerts: pd.DataFrame | None = None

    def for_accounts(self, account_ids: Any) -> "Previous":
        """The same, cut to ``account_ids`` (one bucket's accounts)."""
        ids = pd.Index(account_ids)
        return Previous(self.as_of, self.history[self.history["account_id"].isin(ids)],
                        self.points[self.points["account_id"].isin(ids)], self.model_version,
                        None if self.alerts is None or self.alerts.empty
                        else self.alerts[self.alerts["account_id"].isin(ids)])


@dataclass(frozen=True)
class PreviousDate:
    """The last scoring before a date, left on disk and read one bucket of accounts at
    a time (:meth:`for_accounts`: the Parquet scans keep only those accounts' rows), so
    a bucketed run never holds the previous date whole."""

    layout: OutputLayout
    as_of: pd.Timestamp
    model_version: str | None
    #: ``history`` / ``points`` -> their file split per bucket
    #: (:func:`healthscore.scoring.bucket_split.split_previous`): each bucket reads its part.
    parts: Mapping[str, Any] | None = None

    def for_accounts(self, account_ids: Any) -> Previous:
        ids = list(account_ids)
        alerts = self.layout.read_table("alerts", self.as_of)
        return Previous(self.as_of, self._read("history", ids), self._read("points", ids),
                        self.model_version,
                        alerts[alerts["account_id"].isin(ids)] if len(alerts) else alerts)

    def _read(self, kind: str, ids: list) -> pd.DataFrame:
        split = (self.parts or {}).get(kind)
        if split is not None:
            return split.read(ids)
        return self.layout.read_partition(kind, self.as_of, account_ids=ids)

    def with_parts(self, parts: Mapping[str, Any]) -> "PreviousDate":
        """The same date read from ``parts`` (per-bucket splits of its files)."""
        return PreviousDate(self.layout, self.as_of, self.model_version, dict(parts))

    def close(self) -> None:
        """Remove the split parts, if any (idempotent)."""
        for split in (self.parts or {}).values():
            split.close()


@dataclass(frozen=True)
class StoredPoints:
    """Stored points of one date for incremental scoring, read per bucket of accounts."""

    layout: OutputLayout
    as_of: pd.Timestamp

    def for_accounts(self, account_ids: Any) -> pd.DataFrame:
        return self.layout.read_partition("points", self.as_of, account_ids=list(account_ids))


def read_previous(layout: OutputLayout, as_of: Any, *, whole: bool = True) -> Previous | PreviousDate | None:
    """The latest complete scoring strictly before ``as_of``, or None; ``whole=False``:
    a :class:`PreviousDate` that reads it per bucket of accounts."""
    when = layout.previous_date(as_of)
    if when is None:
        return None
    version = layout.read_run(when).get("model_version")
    version = None if version is None else str(version)
    if not whole:
        return PreviousDate(layout, when, version)
    history = layout.read_partition("history", when)
    points = layout.read_partition("points", when)
    return Previous(when, history, points, version, layout.read_table("alerts", when))


def read_reusable_points(layout: OutputLayout, as_of: Any, *, fingerprint: str,
                         previous: Previous | PreviousDate | None = None,
                         whole: bool = True) -> pd.DataFrame | StoredPoints | None:
    """The newest stored points at or before ``as_of`` scored by the same model
    (``model_fingerprint``), for incremental scoring; None when there are none.
    ``previous``: the points already read for that date are shared, not read twice.
    ``whole=False``: a :class:`StoredPoints` that reads them per bucket of accounts."""
    dates = [d for d in layout.dates() if d <= pd.Timestamp(as_of)]
    if not dates:
        return None
    # Only the newest date is worth it: older rows describe older feature values.
    if not whole:
        stamps = layout.read_partition("points", dates[-1], columns=["model_fingerprint"])
        same = "model_fingerprint" in stamps and (stamps["model_fingerprint"] == fingerprint).all()
        return StoredPoints(layout, dates[-1]) if same else None
    if isinstance(previous, Previous) and previous.as_of == dates[-1]:
        frame = previous.points
    else:
        frame = layout.read_partition("points", dates[-1])
    if "model_fingerprint" in frame and (frame["model_fingerprint"] == fingerprint).all():
        return frame
    return None


def read_parent_history(layout: OutputLayout, *, parent_ids: Any = None,
                        columns: list[str] | None = None, until: Any = None) -> pd.DataFrame:
    """The parents' scores of every complete date (up to ``until``): ``parent_account_id``,
    ``columns`` (default ``health_score, band, arr_weighted_risk, arr``) and ``as_of``
    (datetime64[us]), by date then parent; ``parent_ids``: only those. Empty when no
    date has parents."""
    wanted = columns or ["health_score", "band", "arr_weighted_risk", "arr"]
    parts = []
    for when in layout.dates():
        if until is not None and when > pd.Timestamp(until):
            break
        path = layout.parents(when)
        if not path.exists():
            continue
        filters = None if parent_ids is None else [(PARENT_ID, "in", list(parent_ids))]
        frame = pd.read_parquet(path, columns=[PARENT_ID, *wanted], filters=filters)
        parts.append(frame.assign(as_of=pd.Series(when, index=frame.index).astype("datetime64[us]")))
    if not parts:
        return pd.DataFrame(columns=[PARENT_ID, *wanted, "as_of"])
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["as_of", PARENT_ID], kind="stable").reset_index(drop=True)


def trend_line(trend: pd.DataFrame, *, last: int = 8) -> str | None:
    """``Trend: 2024-05-01 71 -> 2024-06-01 64`` of a history (``as_of``, ``health_score``;
    the ``last`` dates); None with fewer than two dates."""
    if len(trend) <= 1:
        return None
    return "Trend: " + " -> ".join(f"{as_of_text(a)} {s}" for a, s in
                                   zip(trend["as_of"].tail(last), trend["health_score"].tail(last)))
