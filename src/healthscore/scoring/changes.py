"""Why it changed: a score change split into per-feature point changes.

For an account scored at the previous as-of date and now, the change of the unclipped
health score is exactly the sum of

* each feature's change of points (a feature only one model uses counts 0 for the
  other);
* the change of the base: zero for one model; when the model version changed, it is
  its own line, ``model changed``;
* the change of the residual (isotonic calibration only).

When the model version changed and the previous model's points on the current date's
rows are known (``previous_model_points``, :mod:`healthscore.scoring.model_split`),
the change is split in two, exactly: the part from the account's data (the previous
model on both dates: its per-feature lines, ``other changes``) and the part from the
model (both models on the current date's rows: one line, ``model changed`` labelled
:data:`MODEL_UPDATED`, values the two versions).

The ``top`` largest feature changes (by size) are named, one line each; the rest, with
the residual change, make one ``other changes`` line, so the lines of an account always
sum to its ``unclipped_change``. (``score_change`` is the change of the rounded,
clipped health score and can differ from it by rounding or clipping.)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.scoring.drivers import catalogue_entry
from healthscore.features.phrases import feature_info, format_value, is_missing, value_text
from healthscore.scoring.risk_words import format_points
from healthscore.data.schema import CHANGE_COLUMNS
from healthscore.scoring.points import feature_names_of, points_matrix, unclipped_of

MODEL_CHANGED = "model changed"
#: The label of the ``model changed`` line when the change is split between the data
#: and the model: that line is then only the model's part.
MODEL_UPDATED = "model updated"
OTHER_CHANGES = "other changes"

#: A missing value in the stored lines (``missing``: lines stored by earlier versions).
NONE_RECORDED = "none recorded"
_MISSING_TEXTS = (NONE_RECORDED, "missing", "n/a", "")

#: The label of a days-since feature starts so (the catalogue's ``Days since the last ...``).
_DAYS_SINCE = "Days since the last "

_VERSION = "version "  # the values of the model line of a split change
_TINY = 1e-9  # an "other changes" line smaller than this is float noise, not shown
#: Accounts whose change lines are worked out at a time (bounds the transient
#: accounts x features matrices; the table is the same for any value).
CHANGE_ACCOUNTS = 4_096


def attribute_changes(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    *,
    current_scores: pd.DataFrame,
    previous_scores: pd.DataFrame,
    model_changed: bool,
    previous_as_of: pd.Timestamp,
    catalogue: Mapping[str, Any],
    top: int = 5,
    currency: str = "$",
    previous_model_points: pd.DataFrame | None = None,
    versions: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Per-account lines of why the score changed since ``previous_as_of``.

    Parameters
    ----------
    current, previous : DataFrame
        Wide points frames (:mod:`healthscore.scoring.points`) of the two dates.
    current_scores, previous_scores : DataFrame
        ``account_id`` and ``health_score`` of the two dates (history rows).
    model_changed : bool
        The two dates were scored by different model versions.
    top : int
        Feature changes named per account.
    currency : str
        The currency symbol amounts are worded with (``report.currency``).
    previous_model_points : DataFrame, optional
        With ``model_changed``: the previous model's points frame of the current date's
        rows (same accounts, same order as ``current``). The feature lines are then the
        previous model's points on both dates (the account's data), and the
        ``model changed`` line (label :data:`MODEL_UPDATED`) is the current model's
        unclipped score less the previous model's, both on the current rows; the lines
        still add up to ``unclipped_change``.
    versions : (str, str), optional
        The previous and current model versions, the values of the model line.

    Returns
    -------
    DataFrame
        Columns :data:`CHANGE_COLUMNS`; per account, feature lines ranked 1.. by size,
        then the pseudo-features ``model changed`` and ``other changes`` where present. Accounts scored on only
        one of the dates have no line.
    """
    cur_ids, prev_ids = pd.Index(current["account_id"]), pd.Index(previous["account_id"])
    both = cur_ids.intersection(prev_ids)
    if len(both) == 0:
        return _empty(current["account_id"].dtype)
    split = model_changed and previous_model_points is not None
    if split and not pd.Index(previous_model_points["account_id"]).equals(cur_ids):
        raise ValueError("attribute_changes: previous_model_points must hold current's accounts in order")
    # a few thousand accounts at a time: the (accounts x features) matrices of the
    # change are transient and each account's lines its own, so the parts add up to
    # the same table
    step = max(int(CHANGE_ACCOUNTS), 1)
    scores = tuple(frame.set_index("account_id")["health_score"] for frame in (current_scores, previous_scores))
    parts = [_changes_of(both[start:start + step], current, previous, cur_ids, prev_ids, split=split,
                         scores=scores,
                         model_changed=model_changed, previous_as_of=previous_as_of, catalogue=catalogue,
                         top=top, currency=currency, previous_model_points=previous_model_points,
                         versions=versions)
             for start in range(0, len(both), step)]
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _changes_of(both: pd.Index, current: pd.DataFrame, previous: pd.DataFrame, cur_ids: pd.Index,
                prev_ids: pd.Index, *, split: bool, scores: tuple[pd.Series, pd.Series],
                model_changed: bool, previous_as_of: pd.Timestamp,
                catalogue: Mapping[str, Any], top: int, currency: str,
                previous_model_points: pd.DataFrame | None,
                versions: tuple[str, str] | None) -> pd.DataFrame:
    """:func:`attribute_changes` of the accounts ``both`` (on both dates); ``scores``:
    the health score by account id on the current and the previous date."""
    # positions, not copies: a points frame is an account's every feature and value
    at_cur, at_prev = cur_ids.get_indexer(both), prev_ids.get_indexer(both)
    # the data's part: one model (the previous one, split) on both dates
    now = previous_model_points if split else current
    names = list(dict.fromkeys(feature_names_of(now) + feature_names_of(previous)))
    p_cur, p_prev = points_matrix(now, names, at_cur), points_matrix(previous, names, at_prev)
    delta = p_cur - p_prev
    base_cur, base_prev = now["base"].to_numpy()[at_cur], previous["base"].to_numpy()[at_prev]
    d_base = base_cur - base_prev
    d_resid = now["residual"].to_numpy()[at_cur] - previous["residual"].to_numpy()[at_prev]
    unclipped_change = delta.sum(axis=1) + d_base + d_resid
    if split:  # the model's part: what is left of the change, both models on today's rows
        total_now, total_old = (unclipped_of(f)[at_cur] for f in (current, previous_model_points))
        unclipped_change = (total_now - unclipped_of(previous)[at_prev])
        model_part = unclipped_change - (delta.sum(axis=1) + d_base + d_resid)

    m, q = delta.shape
    k = min(top, q)
    # a line names a signal whose value changed; an unchanged one's points (a tree
    # weighs each signal with the others) join "other changes"
    size = np.abs(delta) * _value_changed(now, previous, names, at_cur, at_prev)
    if k < q:
        pick = np.argpartition(-size, k - 1, axis=1)[:, :k] if k > 0 else np.empty((m, 0), int)
    else:
        pick = np.broadcast_to(np.arange(q), (m, q)).copy()
    order = np.argsort(-np.take_along_axis(size, pick, axis=1), axis=1, kind="stable")
    pick = np.take_along_axis(pick, order, axis=1)
    picked = np.take_along_axis(delta, pick, axis=1)
    named = np.take_along_axis(size, pick, axis=1) != 0
    other = delta.sum(axis=1) - np.where(named, picked, 0.0).sum(axis=1) + d_resid
    if not model_changed or split:
        other = other + d_base

    rows_i, cols_k = np.nonzero(named)
    feat = pick[rows_i, cols_k]
    entries = [catalogue_entry(catalogue, n) for n in names]
    account = both.to_numpy()
    score_now, score_before = (pd.Series(account).map(score).to_numpy(np.float64) for score in scores)
    score_change = score_now - score_before
    lines = pd.DataFrame({
        "row": rows_i,
        "rank": cols_k + 1,
        "feature": np.array(names, dtype=object)[feat],
        "label": np.array([e["label"] for e in entries], dtype=object)[feat],
        "family": np.array([e["family"] for e in entries], dtype=object)[feat],
        "value_before": _texts(previous, names, at_prev[rows_i], feat, entries, currency),
        "value_after": _texts(now, names, at_cur[rows_i], feat, entries, currency),
        "points_before": p_prev[rows_i, feat],
        "points_after": p_cur[rows_i, feat],
        "points_change": delta[rows_i, feat],
        "against_direction": _against_direction(now, previous, names, entries, at_cur[rows_i],
                                                at_prev[rows_i], feat, delta[rows_i, feat]),
    })
    extra = []
    if split:
        line = _special(np.arange(m), MODEL_CHANGED, "model", total_old, total_now, model_part, k + 1)
        line["label"] = MODEL_UPDATED
        if versions is not None:
            line["value_before"], line["value_after"] = (f"{_VERSION}{v}" for v in versions)
        extra.append(line)
    elif model_changed:
        extra.append(_special(np.arange(m), MODEL_CHANGED, "model", base_prev, base_cur, d_base,
                              k + 1))
    show = np.abs(other) >= _TINY
    if show.any():
        rows = np.nonzero(show)[0]
        extra.append(_special(rows, OTHER_CHANGES, "", np.full(len(rows), np.nan),
                              np.full(len(rows), np.nan), other[rows], k + 2))
    lines = pd.concat([lines, *extra], ignore_index=True)
    lines = lines.sort_values(["row", "rank"], kind="stable")
    rows = lines.pop("row").to_numpy()
    lines.insert(0, "account_id", account[rows])
    lines.insert(1, "previous_as_of", pd.Timestamp(previous_as_of).as_unit("us"))
    lines["previous_as_of"] = lines["previous_as_of"].astype("datetime64[us]")
    lines["unclipped_change"] = unclipped_change[rows]
    lines["score_change"] = pd.array(score_change[rows], dtype="Float64").astype("Int64")
    lines["rank"] = lines["rank"].astype(np.int64)
    for column in ("feature", "label", "family", "value_before", "value_after"):
        lines[column] = lines[column].astype("string")
    return lines.loc[:, list(CHANGE_COLUMNS)].reset_index(drop=True)


def _value_changed(current: pd.DataFrame, previous: pd.DataFrame, names: list[str],
                   at_cur: np.ndarray, at_prev: np.ndarray) -> np.ndarray:
    """bool (accounts, features): the feature's value differs between the two dates (a
    feature one of the frames lacks counts as changed; NaN equals NaN)."""
    out = np.ones((len(at_cur), len(names)), dtype=bool)
    for j, name in enumerate(names):
        if name not in current.columns or name not in previous.columns:
            continue
        after = current[name].to_numpy()[at_cur]
        before = previous[name].to_numpy()[at_prev]
        if after.dtype.kind == "f" and before.dtype.kind == "f":
            out[:, j] = ~((after == before) | (np.isnan(after) & np.isnan(before)))
        else:
            out[:, j] = ~pd.Series(after, dtype=object).eq(pd.Series(before, dtype=object)).to_numpy()
            out[:, j] &= ~(pd.isna(after) & pd.isna(before))
    return out


def _texts(frame: pd.DataFrame, names: list[str], rows: np.ndarray, feat: np.ndarray,
           entries: list[dict[str, Any]], currency: str) -> np.ndarray:
    """Values of the named lines as text, worded as each feature's phrase words them
    (:func:`~healthscore.features.phrases.value_text`: its precision, unit and scale)."""

    out = np.empty(len(rows), dtype=object)
    for j in np.unique(feat):
        mask = feat == j
        if names[j] not in frame:
            out[mask] = "n/a"
            continue
        column = frame[names[j]].to_numpy()[rows[mask]]
        info = feature_info(names[j], entries[j])
        # each distinct value worded once (code -1, a missing value, takes the last)
        codes, distinct = pd.factorize(column)
        words = [value_text(info, v, currency=currency, missing=NONE_RECORDED) for v in [*distinct, None]]
        out[mask] = np.array(words, dtype=object)[codes]
    return out


def _against_direction(current: pd.DataFrame, previous: pd.DataFrame, names: list[str],
                       entries: list[dict[str, Any]], rows_cur: np.ndarray, rows_prev: np.ndarray,
                       feat: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Per named line: the value moved the healthy way (the catalogue's
    ``healthy_direction``) yet the points fell, or the unhealthy way yet they rose.

    A tree model weighs a signal together with the others, so this happens; people
    reading "CSAT 1.3 -> 1.9 (-0.8 pts)" deserve to be told it is not a typo.
    """
    out = np.zeros(len(feat), dtype=bool)
    for j in np.unique(feat):
        direction = int(entries[j].get("healthy_direction") or 0)
        if direction == 0 or names[j] not in current or names[j] not in previous:
            continue
        mask = feat == j
        after = pd.to_numeric(current[names[j]], errors="coerce").to_numpy(np.float64)[rows_cur[mask]]
        before = pd.to_numeric(previous[names[j]], errors="coerce").to_numpy(np.float64)[rows_prev[mask]]
        with np.errstate(invalid="ignore"):
            out[mask] = np.sign(after - before) * direction * np.sign(change[mask]) < 0
    return out


def _special(rows, item, family, before, after, change, rank) -> pd.DataFrame:
    return pd.DataFrame({
        "row": rows, "rank": rank, "feature": item, "label": item, "family": family,
        "value_before": None, "value_after": None, "points_before": before,
        "points_after": after, "points_change": change, "against_direction": False,
    })


def _empty(account_dtype: Any) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype="string") for c in CHANGE_COLUMNS})
    for column in ("points_before", "points_after", "points_change", "unclipped_change"):
        frame[column] = frame[column].astype(np.float64)
    frame["rank"] = frame["rank"].astype(np.int64)
    frame["against_direction"] = frame["against_direction"].astype(bool)
    frame["score_change"] = frame["score_change"].astype("Int64")
    frame["previous_as_of"] = frame["previous_as_of"].astype("datetime64[us]")
    frame["account_id"] = frame["account_id"].astype(account_dtype)
    return frame


def _none(text: Any) -> bool:
    return is_missing(text) or str(text).strip() in _MISSING_TEXTS


def describe_change(line: Mapping[str, Any]) -> str:
    """One line of why it changed, for people: ``Active users: 12 -> 4 (-8 pts)``.

    A days-since signal seen for the first time says so: ``First 'competitor mention'
    signal 15 days ago (-5 pts)``, not ``missing -> 15``. A line whose value moved the
    healthy way while its points fell (``against_direction``) is worded plainly here:
    CSM views never show it (:func:`change_reasons`, :func:`healthscore.scoring.profile.split_changes`
    leave it out), the data-science views read the flag.
    """
    points = format_points(line["points_change"])
    if is_model_update(line):
        return f"Model updated: {points}"
    if line["feature"] in (MODEL_CHANGED, OTHER_CHANGES):
        return f"{line['feature'].capitalize()} ({points})"
    return f"{change_head(line)} ({points})"


def is_model_update(line: Mapping[str, Any]) -> bool:
    """The line is the model's part of a split change: labelled :data:`MODEL_UPDATED`,
    or (a view that relabels the line, as the report does) with the versions as values."""
    if line.get("feature") != MODEL_CHANGED:
        return False
    before = line.get("value_before")
    return line.get("label") == MODEL_UPDATED or (not _none(before) and str(before).startswith(_VERSION))


def split_words(line: Mapping[str, Any]) -> tuple[str, str]:
    """``(data part, model part)``: what the two parts of a split change are, in words,
    from its model line (values ``version X`` / ``version Y``)."""
    before, after = line.get("value_before"), line.get("value_after", line.get("value_now"))
    old = "the previous model" if _none(before) else f"the previous model ({before})"
    new = "the new model" if _none(after) else f"the new model ({after})"
    return (f"from the account's data, read by {old} on both dates",
            f"from the model: {new} against {old}, both on today's data")


def change_head(line: Mapping[str, Any], *, arrow: str = "->") -> str:
    """What changed, without the points: ``Active users: 12 -> 4``, or ``First
    'competitor mention' signal 15 days ago`` for a days-since signal seen for the
    first time (the report writes ``arrow`` as ``\u2192``)."""
    before, after = line.get("value_before"), line.get("value_after", line.get("value_now"))
    # stored lines hold text; a number (a hand-made line) is worded by its unit
    before, after = (v if _none(v) else format_value(v, line.get("unit")) for v in (before, after))
    label = str(line["label"])
    if label.startswith(_DAYS_SINCE) and _none(before) and not _none(after):
        return f"First {label[len(_DAYS_SINCE):]} {after} ago"
    before = NONE_RECORDED if _none(before) else before
    after = NONE_RECORDED if _none(after) else after
    return f"{label}: {before} {arrow} {after}"


def change_reasons(changes: pd.DataFrame, *, top: int = 3, profile: Sequence[str] = (),
                   min_points: float = 0.0) -> pd.Series:
    """Per account, the ``top`` changed lines that lowered the score, as one text.

    Indexed by ``account_id``; accounts whose score no line lowered are absent. Only a
    behavioural signal whose value changed is a reason a person recognises: lines of
    profile facts (``profile``, as ``score.profile_features``), the ``other changes``
    remainder and ``model changed`` are left out, and so is a line that lowered the
    score by less than ``min_points`` points. The costliest line comes first.
    """
    from healthscore.scoring.drivers import profile_mask

    features = changes["feature"].astype(str).to_numpy()
    actionable = (~profile_mask(features, list(profile)) & (features != OTHER_CHANGES)
                  & (features != MODEL_CHANGED))
    if "against_direction" in changes:  # it moved the healthy way: no reason to call
        actionable &= ~changes["against_direction"].fillna(False).to_numpy(dtype=bool)
    cost = changes["points_change"].to_numpy(np.float64)
    hurt = changes.loc[(cost < 0) & (-cost >= min_points) & actionable]
    if hurt.empty:
        return pd.Series([], dtype="string", name="reasons")
    hurt = hurt.sort_values(["account_id", "points_change"], kind="stable")
    hurt = hurt.groupby("account_id", sort=False).head(top)
    texts = [describe_change(row) for row in hurt.to_dict("records")]
    return pd.Series(texts, index=hurt["account_id"].to_numpy()).groupby(level=0, sort=False).agg(
        "; ".join).astype("string").rename("reasons")


def reason_labels(reason: object) -> list[str]:
    """The signals a reason text (:func:`change_reasons`) names, in order: each line's
    label (the text before ``: ``; a first-seen line's words before its points)."""
    if reason is None or is_missing(reason) or not str(reason):
        return []
    out = []
    for line in str(reason).split("; "):
        if ": " in line:
            out.append(line.split(": ", 1)[0])
        elif line.startswith("First ") and " (" in line:
            out.append(line.rsplit(" (", 1)[0])
    return out
