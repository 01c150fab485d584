"""The points of an explanation in the one long layout the report's views use.

Scoring writes points wide (``points:<feature>`` beside each value, plus ``base`` and
``residual``: :mod:`healthscore.data.schema`'s names); a test may give them long (``feature``,
``value``, ``points``, with the pseudo-features ``__base__`` and ``__residual__``).
:func:`normalise_points` turns either into long rows with the catalogue's label,
family, phrase and unit and a ``profile`` flag (a profile fact: the account's starting
point, never a driver); :func:`point_summary` gives the per-account sums without
building the rows, :func:`hurt_accounts` the accounts each feature hurts. Pure.

A wide input may be a frame or the file itself
(:class:`healthscore.io.columns.ParquetColumns`, as ``read_report_inputs`` gives it):
both are taken :data:`COLUMN_GROUP` columns at a time, so the whole numeric frame of
every account is never in memory, and both give the same rows and sums.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.errors import DataError
from healthscore.io.columns import COLUMN_GROUP  # a file's columns read a group at a time
from healthscore.features.phrases import feature_family, feature_label
from healthscore.scoring.profile import is_profile
from healthscore.data.schema import POINTS_BASE, POINTS_PREFIX, POINTS_RESIDUAL

#: Pseudo-features that carry the base or residual of an explanation in a long frame.
BASE_FEATURE = "__base__"
RESIDUAL_FEATURE = "__residual__"
PSEUDO_FEATURES = (BASE_FEATURE, RESIDUAL_FEATURE)
_POINTS_LONG = ["account_id", "feature", "value", "points", "label", "family", "phrase", "unit", "profile"]


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _wide_point_columns(columns: Any) -> dict[str, str]:
    """Feature -> its points column (``points:f``) in a wide frame."""
    return {col[len(POINTS_PREFIX):]: col for col in columns if col.startswith(POINTS_PREFIX)}


def catalogue_columns(frame: pd.DataFrame, catalogue: Mapping[str, Any]) -> pd.DataFrame:
    """Fill ``label``, ``family``, ``phrase``, ``unit`` from the catalogue or the name."""
    frame = frame.copy()
    features = frame["feature"].astype(str)
    for column, fallback in (
        ("label", feature_label),
        ("family", feature_family),
        ("phrase", lambda name: None),
        ("unit", lambda name: None),
    ):
        # one look-up per distinct feature, not per row (thousands of accounts)
        lookup = {}
        for name in features.unique():
            entry = catalogue.get(name)
            found = entry.get(column) if isinstance(entry, Mapping) else getattr(entry, column, None)
            lookup[name] = found if found is not None else fallback(name)
        current = frame[column] if column in frame.columns else pd.Series(None, index=frame.index)
        frame[column] = current.astype(object).where(current.notna(), features.map(lookup)).astype(object)
    return frame


def points_to_long(points: pd.DataFrame, *, detail: Any = None,
                   hurt_below: float | None = None) -> pd.DataFrame:
    """Per-feature points in the long layout, from either layout.

    Long input has ``feature`` and ``points`` columns (``value`` optional). Wide input
    has, per feature ``f``, its points in column ``points:f`` and optionally its value
    in ``f``. Columns ``base`` and ``residual`` are kept as pseudo-features
    ``__base__`` / ``__residual__``.

    ``detail`` (account ids, default: every account) keeps every feature of those
    accounts; the other accounts keep only the features with points at or below
    ``hurt_below`` and their base and residual (nothing when it is None): a hundred
    thousand accounts of two hundred features would otherwise make tens of millions of
    rows that no view shows. Long input is returned whole.
    """
    if points is None or points.empty:
        return empty_frame(_POINTS_LONG)
    if "feature" in points.columns:
        return points if "value" in points.columns else points.assign(value=np.nan)
    point_cols = _wide_point_columns(points.columns)
    if not point_cols:
        raise DataError(
            "points: expected a long frame (columns feature, points) or a wide one "
            f"({POINTS_PREFIX}<feature> columns); got columns {list(points.columns)[:8]}"
        )
    ids = points["account_id"].to_numpy()
    everyone = np.ones(len(ids), dtype=bool)
    in_detail = everyone if detail is None else np.isin(ids, np.asarray(list(detail), dtype=ids.dtype))
    pieces = []
    used = set(point_cols.values())
    features = list(point_cols)
    for start in range(0, len(features), COLUMN_GROUP):  # a few columns in memory at a time
        group = features[start:start + COLUMN_GROUP]
        part = points[list(dict.fromkeys(
            [point_cols[f] for f in group] + [f for f in group if f in points.columns]))]
        for feature in group:
            col = point_cols[feature]
            value_col = feature if feature in points.columns else None
            used.add(value_col)
            pts = pd.to_numeric(part[col], errors="coerce").to_numpy()
            keep = in_detail if hurt_below is None else in_detail | (pts <= hurt_below)
            pieces.append(pd.DataFrame({
                "account_id": ids[keep], "feature": feature,
                "value": part[value_col].to_numpy()[keep].astype(object) if value_col else np.nan,
                "points": pts[keep],
            }))
        del part
    # Values without points (features a phrase refers to, e.g. accounts__seats): kept
    # for the phrases, with NaN points so they never count as drivers.
    values_only = [col for col in points.columns
                   if "__" in col and col not in used and not col.startswith(POINTS_PREFIX)]
    for start in range(0, len(values_only), COLUMN_GROUP):
        part = points[values_only[start:start + COLUMN_GROUP]]
        for col in part.columns:
            pieces.append(pd.DataFrame({"account_id": ids[in_detail], "feature": col,
                                        "value": part[col].to_numpy()[in_detail].astype(object),
                                        "points": np.nan}))
    for name, pseudo in ((POINTS_BASE, BASE_FEATURE), (POINTS_RESIDUAL, RESIDUAL_FEATURE)):
        if name in points.columns:  # of the kept accounts (every account's: base_and_residual)
            kept = in_detail if hurt_below is None else everyone
            pieces.append(pd.DataFrame({"account_id": ids[kept], "feature": pseudo, "value": np.nan,
                                        "points": pd.to_numeric(points[name], errors="coerce").to_numpy()[kept]}))
    return pd.concat(pieces, ignore_index=True)


def point_summary(points: pd.DataFrame, profile: tuple[str, ...] = ()) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Over every account: the sum of feature points per account, the sum of its
    profile facts' points (both indexed by ``account_id``) and the mean absolute points
    per feature (indexed by feature), from either layout, without the long frame's
    rows."""
    if points is None or points.empty:
        return pd.Series(dtype="float64"), pd.Series(dtype="float64"), pd.Series(dtype="float64")
    if "feature" in points.columns:
        frame = points[~points["feature"].astype(str).isin(PSEUDO_FEATURES)]
        pts = pd.to_numeric(frame["points"], errors="coerce")
        sums = pts.groupby(frame["account_id"]).sum()
        flags = is_profile(frame["feature"], profile)
        profile_sums = pts[flags].groupby(frame["account_id"][flags]).sum().reindex(sums.index, fill_value=0.0)
        mean_abs = pts.abs().groupby(frame["feature"].astype(str)).mean()
        return sums.astype("float64"), profile_sums.astype("float64"), mean_abs.dropna()
    cols = _wide_point_columns(points.columns)
    names = list(cols)
    flags = is_profile(names, profile)
    ids = points["account_id"].to_numpy()
    # Column group by column group (a file's read a group at a time), never the whole
    # numeric frame: the sums run column after column, in the frame's order, as
    # DataFrame.sum(axis=1) adds them, so they are the same to the last bit.
    sums = profile_sums = None
    means = []
    for start in range(0, len(names), COLUMN_GROUP):
        group = names[start:start + COLUMN_GROUP]
        wide = points[[cols[f] for f in group]].apply(pd.to_numeric, errors="coerce")
        means.append(wide.abs().mean(axis=0).to_numpy())
        for j in range(len(group)):
            column = wide.iloc[:, j].to_numpy(dtype=np.float64)
            column = np.where(np.isnan(column), 0.0, column)
            sums = column if sums is None else sums + column
            if flags[start + j]:
                profile_sums = column if profile_sums is None else profile_sums + column
        del wide
    zeros = np.zeros(len(ids), dtype=np.float64)
    sums = pd.Series(zeros if sums is None else sums, index=ids)
    profile_sums = pd.Series(zeros if profile_sums is None else profile_sums, index=ids)
    mean_abs = pd.Series(np.concatenate(means) if means else np.zeros(0), index=names, dtype="float64")
    return (sums.groupby(level=0).sum().astype("float64"),
            profile_sums.groupby(level=0).sum().astype("float64"), mean_abs.dropna())


def hurt_accounts(points: pd.DataFrame, *, min_points: float, profile: tuple[str, ...] = (),
                  accounts: Any = None) -> pd.Series:
    """Per feature (indexed by name), how many accounts (of ``accounts``; default every
    one) its points cost at least ``min_points`` points, profile facts left out: what
    the overview counts of the hurting long rows, from either layout without making
    them (a wide file is read :data:`COLUMN_GROUP` columns at a time). Features hurting
    no account count 0 (a long input leaves them out)."""
    limit = -abs(float(min_points))
    if points is None or points.empty:
        return pd.Series(dtype="int64")
    if "feature" in points.columns:
        frame = points[~points["feature"].astype(str).isin(PSEUDO_FEATURES)]
        features = frame["feature"].astype(str)
        keep = (pd.to_numeric(frame["points"], errors="coerce") <= limit).to_numpy() \
            & ~is_profile(features, profile)
        if accounts is not None:
            keep &= frame["account_id"].isin(pd.Index(accounts)).to_numpy()
        return frame["account_id"][keep].groupby(features[keep]).nunique()
    cols = _wide_point_columns(points.columns)
    names = [n for n, flag in zip(cols, is_profile(list(cols), profile)) if not flag]
    ids = points["account_id"].to_numpy()
    mine = np.ones(len(ids), dtype=bool) if accounts is None else \
        pd.Index(ids).isin(pd.Index(accounts))
    counts = {}
    for start in range(0, len(names), COLUMN_GROUP):
        group = names[start:start + COLUMN_GROUP]
        wide = points[[cols[f] for f in group]]
        for feature in group:
            pts = pd.to_numeric(wide[cols[feature]], errors="coerce").to_numpy()
            counts[feature] = pd.unique(ids[mine & (pts <= limit)]).size
        del wide
    return pd.Series(counts, dtype="int64")


def normalise_points(points: pd.DataFrame, catalogue: Mapping[str, Any], *, detail: Any = None,
                     hurt_below: float | None = None,
                     profile: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long points with catalogue columns, and the per-account base and residual.

    ``profile``: the profile features, flagged in the ``profile`` column.

    Returns ``(points, extras)``: ``extras`` is indexed by ``account_id`` with columns
    ``base_points`` and ``residual_points`` (NaN when the input carried none).
    ``detail`` and ``hurt_below``: which rows to keep (:func:`points_to_long`).
    """
    long = points_to_long(points, detail=detail, hurt_below=hurt_below)
    if long.empty:
        return empty_frame(_POINTS_LONG), pd.DataFrame(columns=["base_points", "residual_points"])
    long = long.copy()
    long["feature"] = long["feature"].astype(str)
    long["points"] = pd.to_numeric(long["points"], errors="coerce").astype("float64")
    pseudo = long["feature"].isin(PSEUDO_FEATURES)
    extra = long[pseudo]
    extras = pd.DataFrame({
        "base_points": extra[extra["feature"] == BASE_FEATURE].groupby("account_id")["points"].sum(),
        "residual_points": extra[extra["feature"] == RESIDUAL_FEATURE].groupby("account_id")["points"].sum(),
    })
    long = catalogue_columns(long[~pseudo], catalogue)
    long["value"] = long["value"].astype(object).where(long["value"].notna(), None)
    long["profile"] = is_profile(long["feature"], profile)
    return long[_POINTS_LONG].reset_index(drop=True), extras


def base_and_residual(points: pd.DataFrame) -> pd.DataFrame:
    """Per account: ``base_points`` and ``residual_points`` (as :func:`normalise_points`
    gives them), read straight from the columns of a wide frame."""
    if points is None or points.empty or "feature" in points.columns:
        return normalise_points(points, {}, detail=())[1]  # long input is used whole anyway
    ids = points["account_id"].to_numpy()
    out = {}
    for target, column in (("base_points", POINTS_BASE), ("residual_points", POINTS_RESIDUAL)):
        out[target] = pd.Series(dtype="float64") if column not in points.columns else \
            pd.to_numeric(points[column], errors="coerce").groupby(ids).sum()
    return pd.DataFrame(out)


def numeric_column(frame: pd.DataFrame, column: str, default: float = np.nan) -> pd.Series:
    """``frame[column]`` as float64 (unparsable: NaN), or ``default`` everywhere when absent."""
    if column not in frame.columns:
        return pd.Series(default, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def text_column(frame: pd.DataFrame, column: str, default: str) -> pd.Series:
    """``frame[column]`` as text (missing: ``default``), or ``default`` everywhere when absent."""
    if column not in frame.columns:
        return pd.Series(default, index=frame.index, dtype=object)
    values = frame[column].astype(object)
    return values.where(values.notna(), default).map(str)


#: The risk-list columns whose groups the overview's patterns count drivers for.
HURT_GROUPS = ("segment", "owner")


def _hurting_rows(points: Any, limit: float, profile: tuple[str, ...], position: Any):
    """``(feature, risk-list rows it hurts, their points)`` per feature of either layout:
    rows of accounts in the risk list (``position``: account id -> row) whose points
    are at or below ``limit``, profile facts left out; a wide input read
    :data:`COLUMN_GROUP` columns at a time."""
    if "feature" in points.columns:
        frame = points[~points["feature"].astype(str).isin(PSEUDO_FEATURES)]
        features = frame["feature"].astype(str)
        pts = pd.to_numeric(frame["points"], errors="coerce").to_numpy(dtype=np.float64)
        rows = position.get_indexer(frame["account_id"])
        keep = (pts <= limit) & (rows >= 0) & ~np.asarray(is_profile(features, profile), dtype=bool)
        hurt = pd.DataFrame({"feature": features[keep].to_numpy(), "row": rows[keep], "points": pts[keep]})
        for feature, part in hurt.groupby("feature", sort=True):
            yield feature, part["row"].to_numpy(), part["points"].to_numpy()
        return
    cols = _wide_point_columns(points.columns)
    names = [n for n, flag in zip(cols, is_profile(list(cols), profile)) if not flag]
    rows = position.get_indexer(points["account_id"])
    mine = rows >= 0
    for start in range(0, len(names), COLUMN_GROUP):
        group = names[start:start + COLUMN_GROUP]
        wide = points[[cols[f] for f in group]]
        for feature in group:
            pts = pd.to_numeric(wide[cols[feature]], errors="coerce").to_numpy(dtype=np.float64)
            keep = mine & (pts <= limit)
            if keep.any():
                yield feature, rows[keep], pts[keep]
        del wide


def hurt_summary(points: Any, risk_list: pd.DataFrame, *, min_points: float,
                 catalogue: Mapping[str, Any], profile: tuple[str, ...] = (),
                 groups: tuple[str, ...] = HURT_GROUPS) -> dict[str, pd.DataFrame]:
    """What the overview's patterns count of the drivers hurting accounts now, from
    either layout, without the long rows of every account (a wide file is read
    :data:`COLUMN_GROUP` columns at a time).

    A feature hurts an account of ``risk_list`` when its points cost it at least
    ``min_points`` points; profile facts never do. Returns ``"features"`` (indexed by
    feature, sorted: ``accounts``, ``arr`` of those accounts, ``points`` summed,
    ``label``, ``family``) and, per column of ``groups``, a frame of ``group, label,
    accounts`` (the accounts of the group each label hurts; labels hurting none left
    out).
    """
    limit = -abs(float(min_points))
    attrs = risk_list.drop_duplicates("account_id")
    position = pd.Index(attrs["account_id"])
    arr = pd.to_numeric(attrs["arr"], errors="coerce").to_numpy(dtype=np.float64)
    stats, by_feature = [], {}
    if points is not None and not points.empty:
        for feature, rows, pts in _hurting_rows(points, limit, profile, position):
            accounts = np.unique(rows)
            by_feature[feature] = accounts
            stats.append((feature, accounts.size, np.nansum(arr[rows]), pts.sum()))
    features = pd.DataFrame(stats, columns=["feature", "accounts", "arr", "points"])
    # the catalogue's label and family, unless long rows carry their own
    given = [c for c in ("label", "family") if points is not None and c in points.columns]
    named = features[["feature"]] if not given or features.empty else features[["feature"]].merge(
        points[["feature", *given]].drop_duplicates("feature"), on="feature", how="left")
    named = catalogue_columns(named, catalogue)
    features = features.assign(label=named["label"].to_numpy(), family=named["family"].to_numpy())
    features = features.set_index("feature").sort_index()
    by_label: dict[str, list[np.ndarray]] = {}
    for feature, label in features["label"].items():
        by_label.setdefault(label, []).append(by_feature[feature])
    out = {"features": features}
    for column in groups:
        codes, values = pd.factorize(attrs[column]) if column in attrs.columns else (
            np.full(len(attrs), -1), pd.Index([]))
        parts = []
        for label, accounts in by_label.items():
            mine = codes[np.unique(np.concatenate(accounts))]
            counts = np.bincount(mine[mine >= 0], minlength=len(values))
            hit = np.flatnonzero(counts)
            parts.append(pd.DataFrame({"group": values[hit], "label": label, "accounts": counts[hit]}))
        out[column] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {"group": pd.Series(dtype=object), "label": pd.Series(dtype=object),
             "accounts": pd.Series(dtype="int64")})
    return out
