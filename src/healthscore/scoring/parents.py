"""Parent accounts: the health of a group of accounts rolled up from its members.

A parent (``accounts.parent_account_id``, checked by :mod:`healthscore.data.parents`)
groups the accounts scored on a date that name it, plus the parent's own account when
it is scored itself (a headquarters with its own contract). Its numbers, each with one
meaning:

* ``arr_weighted_risk``: the share of the parent's ARR expected to be lost within the
  horizon, ``sum_i a_i p_i / sum_i a_i`` (``a``: ARR, ``p``: ``risk_proba``; with no
  ARR at all, the plain mean of ``p``). A plain average of the members' scores, what
  most platforms show, counts a $5k subsidiary as much as a $500k one; this is the
  number a CS leader reads as "how much of this customer's revenue is at risk".
* ``health_score`` and ``band``: that risk on the members' own scale
  (:class:`~healthscore.model.scale.HealthScale`): the score of one account whose risk
  is the parent's ARR-weighted risk. It is not the mean of the members' scores.
* ``arr_at_risk`` (``sum_i a_i p_i``) with its central ``level`` range ``arr_lost_low``
  .. ``arr_lost_high``, and the members lost (expected, with their exact range): the
  parent as one more group of :func:`healthscore.scoring.arr_range.arr_at_risk`, the
  members independent given their risks (the model's ``level_sd``, when set, makes
  losses move together as for the book).
* ``any_lost_proba``: the chance that at least one member is lost, ``1 - prod(1 - p_i)``:
  it grows with the number of members whatever their size, so it is shown beside the
  ARR-weighted risk, never as the parent's health.

Drivers: each member's behavioural points (profile facts set apart, as for its own
drivers: :mod:`healthscore.scoring.drivers`), weighted by its share of the parent's ARR
and summed per feature; the largest are the parent's drivers, each naming the members
that weigh most in it. ``points_<family>``: the points each family costs its members
(hurting points only, the rule of the account view), weighted the same way. The
weighted points are those of the ARR-weighted mean member: they explain where the
parent's members lose points, not the parent's score to the point (the scale is not
linear in the risk). Pure: frames in, frames out.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.data.schema import PARENT_COLUMNS, PARENT_DRIVER_COLUMNS, PARENT_ID
from healthscore.features.catalogue import FAMILIES
from healthscore.scoring.drivers import (
    catalogue_entry, family_column, family_hurting_points, find_drivers, profile_mask,
)
from healthscore.scoring.points import feature_names_of, points_matrix
from healthscore.scoring.risk_words import format_points
from healthscore.scoring.wording import percent


def has_parents(risk_list: pd.DataFrame | None) -> bool:
    """Whether a risk list carries parent ids (the accounts table had the column)."""
    return risk_list is not None and PARENT_ID in risk_list.columns \
        and bool(risk_list[PARENT_ID].notna().any())


def parent_groups(risk_list: pd.DataFrame) -> pd.Series:
    """The parent of each row's account: its ``parent_account_id``, or its own id when
    other accounts name it as their parent; missing for an account in no group."""
    group = risk_list[PARENT_ID].copy()
    own = group.isna() & risk_list["account_id"].isin(group.dropna().unique())
    group[own] = risk_list.loc[own, "account_id"].to_numpy()
    return group


def roll_up_parents(
    risk_list: pd.DataFrame,
    points: pd.DataFrame,
    *,
    scale: Any,
    catalogue: Mapping[str, Any],
    profile: Sequence[str],
    top_drivers: int = 3,
    children_named: int = 3,
    level: float = 0.8,
    logit_sd: float = 0.0,
    accounts: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
    model_version: str = "",
    as_of: Any = None,
    currency: str = "$",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The parents table and the parents' drivers of one scoring date.

    Parameters
    ----------
    risk_list : DataFrame
        The date's risk list with ``parent_account_id`` (``account_id, name, owner,
        segment, arr, risk_proba, band`` are read).
    points : DataFrame
        The wide points of (at least) every member (``account_id``, ``points:<f>``).
    scale : HealthScale
        The scale the members were scored on.
    catalogue : mapping
        Feature -> catalogue entry (labels and families).
    profile : sequence of str
        ``score.profile_features``: never drivers.
    top_drivers, children_named, level : the ``parents`` params
    logit_sd : float
        The model's calibration-level uncertainty (0: members independent).
    accounts : DataFrame, optional
        The accounts table: the name, owner and segment of a parent that is an account
        but not scored on the date.
    previous : DataFrame, optional
        The previous date's parents table (``score_change``).

    Returns
    -------
    (DataFrame, DataFrame)
        :data:`~healthscore.data.schema.PARENT_COLUMNS` then one ``points_<family>``
        column per family, one row per parent, most ARR at risk first; and
        :data:`~healthscore.data.schema.PARENT_DRIVER_COLUMNS`, per parent its
        ``top_drivers`` hurting then helping features (``points``: the ARR-weighted
        points; ``accounts``: the members behind it, ``name (-9 pts, 40% of ARR)``).
    """
    from healthscore.scoring.arr_range import TOTAL, arr_at_risk

    group = parent_groups(risk_list)
    frame = risk_list.loc[group.notna()].assign(_group=group[group.notna()]).reset_index(drop=True)
    codes, labels = pd.factorize(frame["_group"], sort=True)
    n_groups = len(labels)
    arr = frame["arr"].fillna(0.0).to_numpy(dtype=np.float64)
    risk = frame["risk_proba"].to_numpy(dtype=np.float64)
    count = np.bincount(codes, minlength=n_groups).astype(np.float64)
    total = np.bincount(codes, weights=arr, minlength=n_groups)
    # the share of its parent's ARR; equal shares where a parent has no ARR at all
    weight = np.where(total[codes] > 0, arr / np.where(total[codes] > 0, total[codes], 1.0),
                      1.0 / count[codes])
    weighted_risk = np.bincount(codes, weights=weight * risk, minlength=n_groups)
    with np.errstate(divide="ignore"):
        keep_all = np.exp(np.bincount(codes, weights=np.log1p(-risk), minlength=n_groups))
    ranges = arr_at_risk(frame.assign(arr=arr, _code=codes), by="_code", level=level,
                         logit_sd=logit_sd, random_state=0)
    ranges = ranges.loc[ranges["group"] != TOTAL].set_index("group").reindex(range(n_groups))
    health = scale.score(np.clip(weighted_risk, 0.0, 1.0)) if n_groups else np.zeros(0, np.int64)

    names = feature_names_of(points)
    position = pd.Index(points["account_id"]).get_indexer(frame["account_id"])
    matrix = points_matrix(points, names, np.where(position >= 0, position, 0))
    matrix[position < 0] = 0.0  # a member without stored points adds none
    matrix[:, profile_mask(names, list(profile))] = 0.0
    contribution = weight[:, None] * matrix
    # members in group order: each group's rows are one slice (sums and names without a scan per group)
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(n_groups + 1))
    summed = _group_sums(contribution[order], starts)
    families = {n: catalogue_entry(catalogue, n)["family"] for n in names}
    by_family = family_hurting_points(matrix, names, families).to_numpy() * weight[:, None]
    family_sums = _group_sums(by_family[order], starts)

    drivers = find_drivers(summed, k=top_drivers)
    label_of = {n: catalogue_entry(catalogue, n) for n in names}
    member_name = _display_names(frame)
    driver_rows, texts = [], []
    for g in range(n_groups):
        members = order[starts[g]:starts[g + 1]]
        parts = []
        for kind, index, sign in (("hurting", drivers.hurting[g], -1.0), ("helping", drivers.helping[g], 1.0)):
            for rank, j in enumerate(index[index >= 0], start=1):
                c = contribution[members, j] * sign
                ranked = members[np.argsort(-c, kind="stable")]
                named = [i for i in ranked[:children_named] if contribution[i, j] * sign > 0]
                who = ", ".join(f"{member_name[i]} ({format_points(matrix[i, j])}, "
                                f"{percent(weight[i])} of ARR)" for i in named)
                entry = label_of[names[j]]
                driver_rows.append({PARENT_ID: labels[g], "kind": kind, "rank": rank, "feature": names[j],
                                    "label": str(entry["label"]), "family": str(entry["family"]),
                                    "points": float(summed[g, j]), "accounts": who})
                if kind == "hurting":
                    parts.append(f"{entry['label']} ({format_points(summed[g, j])}: "
                                 f"{', '.join(member_name[i] for i in named)})")
        texts.append("; ".join(parts))

    out = pd.DataFrame({PARENT_ID: pd.array(labels, dtype=frame[PARENT_ID].dtype)
                        if len(labels) else frame[PARENT_ID].iloc[:0].array})
    head = _parent_facts(out[PARENT_ID], frame, codes, arr, risk, accounts)
    out = pd.concat([out, head], axis=1)
    out["accounts"] = count.astype(np.int64)
    out["arr"] = total
    out["arr_weighted_risk"] = weighted_risk
    out["health_score"] = health.astype(np.int64)
    out["band"] = pd.Series(scale.band(health) if n_groups else [], dtype=object).to_numpy()
    out["arr_at_risk"] = np.bincount(codes, weights=arr * risk, minlength=n_groups)
    out["arr_lost_low"] = ranges["arr_lost_low"].to_numpy(dtype=np.float64)
    out["arr_lost_high"] = ranges["arr_lost_high"].to_numpy(dtype=np.float64)
    out["any_lost_proba"] = 1.0 - keep_all
    out["expected_accounts_lost"] = ranges["expected_accounts_lost"].to_numpy(dtype=np.float64)
    out["accounts_lost_low"] = ranges["accounts_lost_low"].to_numpy(dtype=np.int64)
    out["accounts_lost_high"] = ranges["accounts_lost_high"].to_numpy(dtype=np.int64)
    red = (frame["band"] == "red").to_numpy(dtype=np.float64)
    out["red_accounts"] = np.bincount(codes, weights=red, minlength=n_groups).astype(np.int64)
    out["riskiest_account"] = pd.Series(_riskiest(frame, codes, arr * risk, member_name, n_groups),
                                        dtype="string")
    out["top_drivers"] = pd.Series(texts, dtype="string")
    out["score_change"] = _score_change(out, previous)
    out["model_version"] = model_version
    out["as_of"] = pd.Series(pd.Timestamp(as_of) if as_of is not None else pd.NaT,
                             index=out.index).astype("datetime64[us]")
    out = out.loc[:, list(PARENT_COLUMNS)]
    for k, family in enumerate(FAMILIES):
        out[family_column(family)] = family_sums[:, k]
    out = out.sort_values(["arr_at_risk", "arr_weighted_risk", PARENT_ID], ascending=[False, False, True],
                          kind="stable").reset_index(drop=True)
    table = pd.DataFrame(driver_rows, columns=list(PARENT_DRIVER_COLUMNS))
    table[PARENT_ID] = table[PARENT_ID].astype(out[PARENT_ID].dtype)
    return out, table


def _group_sums(rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Column sums of the row slices ``starts[g]:starts[g + 1]`` (every slice non-empty)."""
    if len(starts) < 2:
        return np.zeros((0, rows.shape[1]))
    return np.add.reduceat(rows, starts[:-1], axis=0) if rows.shape[1] else np.zeros((len(starts) - 1, 0))


def _display_names(frame: pd.DataFrame) -> list[str]:
    """Each member as a reader names it: its name, else ``account <id>``."""
    names = frame["name"] if "name" in frame else pd.Series(pd.NA, index=frame.index)
    return [str(n) if not pd.isna(n) else f"account {a}" for n, a in zip(names, frame["account_id"])]


def _parent_facts(ids: pd.Series, frame: pd.DataFrame, codes: np.ndarray, arr: np.ndarray,
                  risk: np.ndarray, accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Name, owner and segment of each parent: its own account's (scored, else from the
    accounts table); a parent that is only a group id has no name, and the owner and
    segment of its largest member by ARR."""
    out = pd.DataFrame(index=ids.index)
    sources = [frame.drop_duplicates("account_id").set_index("account_id")]
    if accounts is not None:
        sources.append(accounts.drop_duplicates("account_id").set_index("account_id"))
    order = np.lexsort((-risk, -arr, codes))  # largest member of each group first
    largest = frame.iloc[order].assign(_code=codes[order]).drop_duplicates("_code").set_index("_code")
    for column in ("name", "owner", "segment"):
        values = pd.Series(pd.NA, index=ids.index, dtype="string")
        for source in sources:
            if column in source:
                found = ids.astype(object).map(source[column]).astype("string")
                values = values.fillna(found)
        if column != "name" and column in largest:
            values = values.fillna(pd.Series(largest[column].reindex(range(len(ids))).to_numpy(),
                                             index=ids.index, dtype="string"))
        out[column] = values
    return out


def _riskiest(frame: pd.DataFrame, codes: np.ndarray, at_risk: np.ndarray, member_name: list[str],
              n_groups: int) -> list[str]:
    """The member with the most ARR at risk in each group (then the highest risk)."""
    order = np.lexsort((-frame["risk_proba"].to_numpy(dtype=np.float64), -at_risk, codes))
    first = np.unique(codes[order], return_index=True)[1]
    out = [""] * n_groups
    for i in order[first]:
        out[codes[i]] = member_name[i]
    return out


def _score_change(out: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    if previous is None or previous.empty or PARENT_ID not in previous:
        return pd.Series(pd.NA, index=out.index, dtype="Int64")
    before = previous.drop_duplicates(PARENT_ID).set_index(PARENT_ID)["health_score"]
    return out["health_score"].astype("Int64") - out[PARENT_ID].astype(object).map(before).astype("Int64")
