"""The profile as the account's starting point, and the change lines worth showing.

Profile facts (``score.profile_features``: contract length, plan, segment, days to
renewal, ...) say who the customer is, not what a CSM can act on. The base plus their
points is the account's starting point, the score of accounts like this one
(``profile_score``); drivers are behaviour measured against it, so
``profile_score + driver points (+ residual) = unclipped score``. Shared by the report
and ``healthscore explain`` so both say the same; everything here is pure.

Why it changed, as shown: a line names a behavioural signal whose value changed;
profile facts move the starting point (one line); a line whose value did not change,
or whose value moved the healthy way while its points fell (or the reverse: a tree
weighs a signal with the others), is never shown, its points joining "all other
signals together".

What holds the score up, as shown: a signal whose value is poor next to similar
accounts never does (:func:`peer_standing`, :func:`holds_up`); one that does is said
relative to them (:func:`standing_words`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.config import PROFILE_FEATURES
from healthscore.io.columns import COLUMN_GROUP
from healthscore.scoring.drivers import catalogue_entry, profile_mask
from healthscore.features.phrases import is_missing, positive_days

#: Pseudo-features of the changes table (healthscore.scoring.changes).
MODEL_CHANGED, OTHER_CHANGES = "model changed", "other changes"

#: Features whose value is the contract length in days (the first one present is used).
CONTRACT_FEATURES = ("subscriptions__contract_days", "exposure__term_days")

#: The label of the starting point's line in "why it changed".
STARTING_POINT = "Starting point for accounts like this"

#: Change lines smaller than this (points) are noise, not shown.
MIN_CHANGE = 0.05


def profile_features_of(run_info: Mapping[str, Any], default: Sequence[str] = PROFILE_FEATURES) -> tuple[str, ...]:
    """The profile features a scoring run used (its ``params.score.profile_features``),
    else ``default``."""
    score = ((run_info or {}).get("params") or {}).get("score") or {}
    found = score.get("profile_features") if isinstance(score, Mapping) else None
    return tuple(str(f) for f in (found if found is not None else default))


def is_profile(features: Iterable[Any], profile: Sequence[str]) -> np.ndarray:
    """bool per feature: is it a profile fact (exact name, or a prefix ending in ``__``)."""
    names = [str(f) for f in features]
    if not names:
        return np.zeros(0, dtype=bool)
    unique = sorted(set(names))
    lookup = dict(zip(unique, profile_mask(unique, list(profile))))
    return np.array([bool(lookup[n]) for n in names], dtype=bool)


def contract_words(days: Any) -> str | None:
    """A contract length in days as a term: ``monthly``, ``quarterly``, ``annual``,
    ``2-year``, else ``180-day``; None when unknown."""
    d = positive_days(days)
    if d is None:
        return None
    for low, high, word in ((28, 31, "monthly"), (89, 92, "quarterly"), (181, 184, "half-yearly"),
                            (365, 366, "annual")):
        if low <= d <= high:
            return word
    years = d / 365.25
    if d > 366 and abs(years - round(years)) < 0.01:
        return f"{round(years)}-year"
    return f"{d:.0f}-day"


def whole(score: Any) -> str:
    """A score as the health score rounds it (half up): ``77.5`` -> ``78``."""
    return f"{math.floor(float(score) + 0.5):.0f}"


def starting_point_words(profile_score: Any, *, segment: Any = None, contract_days: Any = None) -> str:
    """``Accounts like this — Enterprise, annual — score 78`` (``profile_score``
    rounded, as the health score is); the facts that are unknown are left out."""
    facts = [str(segment)] if not is_missing(segment) and str(segment) not in ("", "Unknown") else []
    term = contract_words(contract_days)
    if term:
        facts.append(term)
    who = f"Accounts like this \u2014 {', '.join(facts)} \u2014" if facts else "Accounts like this"
    if is_missing(profile_score):
        return f"{who} have no starting score on record"
    return f"{who} score {whole(profile_score)}"


def contract_days_of(values: Mapping[str, Any]) -> Any:
    """The contract length (days) among an account's feature values, or None."""
    for name in CONTRACT_FEATURES:
        value = values.get(name)
        if not is_missing(value):
            return value
    return None


def value_changed(before: Any, now: Any) -> bool:
    """Did a signal's value change? Numbers compare as numbers, anything else as text;
    two missing values are the same value."""
    if is_missing(before) and is_missing(now):
        return False
    if is_missing(before) or is_missing(now):
        return True
    try:
        return not math.isclose(float(before), float(now), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return str(before).strip() != str(now).strip()


def _is_true(flag: Any) -> bool:
    return not is_missing(flag) and bool(flag)


@dataclass(frozen=True)
class ChangeView:
    """The lines of why a score changed, as shown.

    ``named``: behavioural lines whose value changed (and the ``model changed`` line),
    largest first, at most ``top``; records as given. ``starting_point``: ``{before,
    now, points_change}`` when the profile facts moved the starting point (``before``
    and ``now`` None when they cannot be told), else None. ``rest``: the points of
    everything else, summed. ``named`` + ``starting_point`` + ``rest`` add up to the
    lines given.
    """

    named: list[Mapping[str, Any]] = field(default_factory=list)
    starting_point: dict[str, Any] | None = None
    rest: float = 0.0


def split_changes(
    lines: Iterable[Mapping[str, Any]],
    *,
    profile: Sequence[str],
    profile_now: Any = None,
    top: int = 5,
) -> ChangeView:
    """Sort one account's change lines into what is shown (:class:`ChangeView`).

    Parameters
    ----------
    lines : iterable of mappings
        ``feature``, ``points_change`` and the values before and after
        (``value_before``; ``value_now`` or ``value_after``).
    profile : sequence of str
        The profile features (:func:`profile_features_of`).
    profile_now : float, optional
        The account's ``profile_score`` now; with it, the starting point's line says
        its score then and now (only when no model change moved the base too).
    top : int
        Behavioural lines named at most.
    """
    lines = [line for line in lines if not is_missing(line.get("points_change"))]
    flags = is_profile([line["feature"] for line in lines], profile)
    rest, profile_change, candidates, model_changed = 0.0, 0.0, [], False
    for line, flag in zip(lines, flags):
        feature, change = str(line["feature"]), float(line["points_change"])
        now = line.get("value_now", line.get("value_after"))
        if feature == OTHER_CHANGES:
            rest += change
        elif feature == MODEL_CHANGED:
            model_changed = True
            candidates.append(line)
        elif flag:
            profile_change += change
        elif _is_true(line.get("against_direction")):
            rest += change  # moved the healthy way yet cost points (or the reverse): not for a CSM
        elif value_changed(line.get("value_before"), now) and abs(change) >= MIN_CHANGE:
            candidates.append(line)
        else:
            rest += change
    candidates.sort(key=lambda c: -abs(float(c["points_change"])))
    rest += sum(float(c["points_change"]) for c in candidates[top:])
    start = None
    if abs(profile_change) >= MIN_CHANGE:
        now = None if is_missing(profile_now) or model_changed else float(profile_now)
        before = None if now is None else now - profile_change
        if before is not None and math.floor(before + 0.5) == math.floor(now + 0.5):
            rest += profile_change  # the starting score shown did not change: say nothing
        else:
            start = {"before": before, "now": now, "points_change": profile_change}
    else:
        rest += profile_change
    return ChangeView(candidates[:top], start, rest)


# ------------------------------------------------------------- next to similar accounts

#: Accounts with a value a segment needs before its accounts are compared with it
#: alone; a smaller segment is compared with the whole book.
MIN_PEERS = 30


def peer_standing(
    book: pd.DataFrame,
    features: Iterable[str],
    *,
    directions: Mapping[str, Any],
    groups: Any = None,
    accounts: Any = None,
    min_peers: int = MIN_PEERS,
) -> pd.DataFrame:
    """Where each account's value of each feature stands among similar accounts.

    Parameters
    ----------
    book : DataFrame
        Every account scored on the date: ``account_id`` and one value column per
        feature (the wide points layout, or the feature frame).
    features : iterable of str
        The features to compare (columns of ``book``; others are skipped).
    directions : mapping
        Feature -> healthy direction (+1 higher is healthier, -1 lower is, 0 none:
        the catalogue's ``healthy_direction``).
    groups : mapping or Series, optional
        Account -> its group of similar accounts (the risk list's ``segment``); a group
        with fewer than ``min_peers`` values, or no groups, compares with the book.
    accounts : iterable, optional
        The accounts to return (default: all).

    Returns
    -------
    DataFrame
        ``account_id, feature, standing``: the share of the other similar accounts whose
        value is worse (ties count half), in [0, 1]; NaN when the feature has no healthy
        direction, the value is missing or not a number, or there is no one to compare
        with. 0.8 reads "better than 8 in 10 similar accounts".
    """
    ids = book["account_id"]
    keep = np.ones(len(book), dtype=bool) if accounts is None else ids.isin(list(accounts)).to_numpy()
    at = np.flatnonzero(keep)
    members = []  # the positions of each group's accounts (none: the book alone)
    if groups is not None:
        codes, labels = pd.factorize(ids.map(groups).astype("string").fillna(""))
        members = [np.flatnonzero(codes == c) for c in range(len(labels))]
    pieces = []
    for name in features:
        direction = directions.get(name)
        if name not in book.columns or is_missing(direction) or int(direction) == 0:
            continue
        value = pd.to_numeric(book[name], errors="coerce").to_numpy(np.float64, na_value=np.nan) * int(direction)
        standing = _share_worse(value, at)
        for rows in members:  # within its group where the group has enough values
            mine = np.flatnonzero(keep[rows])
            if mine.size and np.count_nonzero(~np.isnan(value[rows])) >= min_peers:
                standing[np.searchsorted(at, rows[mine])] = _share_worse(value[rows], mine)
        pieces.append(pd.DataFrame({"account_id": ids.to_numpy()[keep], "feature": name,
                                    "standing": standing}))
    if not pieces:
        return pd.DataFrame({"account_id": ids.iloc[:0].to_numpy(), "feature": pd.Series([], dtype=object),
                             "standing": pd.Series([], dtype=np.float64)})
    return pd.concat(pieces, ignore_index=True)


def _share_worse(value: np.ndarray, at: np.ndarray) -> np.ndarray:
    """For the values at positions ``at``: (values below + half the other equal ones)
    / (values - 1), among the values that are numbers (NaN: no standing). The book's
    values are placed among the few asked ones (one search in a short sorted array,
    then counts), so a few accounts' standings never sort the book."""
    x = value[at]
    out = np.full(x.shape, np.nan)
    known = value[~np.isnan(value)]
    asked = ~np.isnan(x)
    if known.size <= 1 or not asked.any():
        return out
    ask = np.unique(x[asked])  # sorted, distinct
    right = np.searchsorted(ask, known, side="right")
    # v < ask[j] exactly when at most j asked values are <= v; v == ask[j] when the last
    # asked value <= v is v itself (the asked values are distinct: one search, not two)
    below = np.cumsum(np.bincount(right, minlength=ask.size + 1))[:ask.size]
    last = right - 1
    same = last[(last >= 0) & (ask[np.maximum(last, 0)] == known)]
    equal = np.bincount(same, minlength=ask.size)[:ask.size]
    j = np.searchsorted(ask, x[asked])
    out[asked] = (below[j] + (equal[j] - 1) / 2) / (known.size - 1)
    return out


def holds_up(points: Any, standing: Any) -> bool:
    """May a signal be shown as what holds the score up? Its points are positive and
    its value is not worse than most similar accounts' (a standing below one half;
    a value that cannot be compared is kept)."""
    if is_missing(points) or float(points) <= 0:
        return False
    return is_missing(standing) or float(standing) >= 0.5


def standing_words(standing: Any, *, points: Any = None) -> str:
    """A standing (:func:`peer_standing`) in words: ``better than 8 in 10 similar
    accounts``, ``worse than almost all similar accounts``, ``about as good as most
    similar accounts``; empty when it cannot be told, or when it would contradict
    ``points`` (a good value said of a signal that costs points, or the reverse)."""
    if is_missing(standing):
        return ""
    share = float(standing)
    better = share >= 0.5
    if points is not None and not is_missing(points) and float(points) != 0 and (float(points) > 0) != better:
        return ""
    side = share if better else 1.0 - share
    word = "better" if better else "worse"
    if side >= 0.97:
        return f"{word} than almost all similar accounts"
    tenths = int(math.floor(10 * side + 1e-9))
    if tenths <= 5:
        return "about as good as most similar accounts" if points is None else ""
    return f"{word} than {tenths} in 10 similar accounts"


def with_standing(points: pd.DataFrame, book: pd.DataFrame, *, catalogue: Mapping[str, Any],
                  groups: Any = None, accounts: Any = None) -> pd.DataFrame:
    """The long points rows (``account_id, feature, value, points, ...``) with a
    ``standing`` column (:func:`peer_standing` among ``book``'s accounts, grouped by
    ``groups``); ``book`` is every account's values, wide (a value column per
    feature) or long (``feature`` and ``value`` columns). ``accounts``: only these
    accounts' rows get a standing (the others NaN), so a view that shows a few
    accounts' standings never ranks the whole book's long rows."""
    if points is None or points.empty or book is None or book.empty:
        return points if points is None or "standing" in points else points.assign(standing=np.nan)
    if "feature" in book.columns:
        book = (book.loc[book["feature"].astype(str).str.contains("__", regex=False)]
                .pivot_table(index="account_id", columns="feature", values="value", aggfunc="first")
                .reset_index())
    wanted = points if accounts is None else points.loc[points["account_id"].isin(list(accounts))]
    features = [f for f in pd.unique(wanted["feature"].astype(str)) if f in book.columns]
    directions = {f: catalogue_entry(catalogue, f).get("healthy_direction") for f in features}
    # only the features peer_standing ranks, COLUMN_GROUP at a time: a file (ParquetColumns)
    # is read a few columns per read, not one; the rows come in the same order
    ranked = [f for f in features if not is_missing(directions[f]) and int(directions[f]) != 0]
    ids = pd.unique(wanted["account_id"])
    pieces = [peer_standing(book[["account_id", *ranked[start:start + COLUMN_GROUP]]],
                            ranked[start:start + COLUMN_GROUP], directions=directions, groups=groups,
                            accounts=ids) for start in range(0, len(ranked), COLUMN_GROUP)]
    standing = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0] if pieces else \
        peer_standing(book[["account_id"]], [], directions=directions, groups=groups, accounts=ids)
    out = points.drop(columns=["standing"], errors="ignore").merge(
        standing, on=["account_id", "feature"], how="left", validate="m:1")
    return out.set_axis(points.index) if len(out) == len(points) else out
