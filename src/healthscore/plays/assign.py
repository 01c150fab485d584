"""Hold-outs by design: which accounts a play treats and which it holds out.

An account a play applies to is assigned to the ``task`` arm (the play's task is due)
or to the ``holdout`` arm (no task, no notification; the row is still written, so the
assignment can be audited and the play's uplift measured, :mod:`healthscore.plays.uplift`).

The assignment is a seeded hash of (account, play), never a random draw, so rerunning
a date gives the same arms. It is stratified by band and segment: within each stratum
of the date's eligible accounts, the accounts with the lowest hash are held out, as
many as ``share * n`` rounded up or down by a hash of the stratum (so the expected
share is exactly ``share`` in every stratum, small ones included, and the realised
share is within one account of it). An account keeps the arm it first got for a play
(``earlier``), so a held-out account never gets that play's task on a later date.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

#: The arm of an account a play applies to and that gets the task.
ARM_TASK = "task"
#: The arm of an account a play applies to and that is held out: no task.
ARM_HOLDOUT = "holdout"
ARMS = (ARM_TASK, ARM_HOLDOUT)
#: What the assignment is stratified by (columns of the alerted accounts).
STRATA = ("band", "segment")


def unit_hash(parts: Sequence[Any]) -> float:
    """A number in [0, 1) fixed by ``parts`` (SHA-256 of their text, ``|``-joined)."""
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2.0 ** 64


def assign_arms(
    account_ids: Sequence[Any],
    strata: pd.DataFrame | None,
    *,
    play: str,
    share: float,
    seed: int = 0,
    earlier: Mapping[Any, str] | None = None,
) -> np.ndarray:
    """The arm (``task`` or ``holdout``) of each account a play applies to.

    Parameters
    ----------
    account_ids : sequence
        The eligible accounts of one date (distinct).
    strata : DataFrame or None
        One row per account (same order): the columns the shares hold within
        (:data:`STRATA`); None: one stratum.
    play : str
        The play's name (part of the hash: each play holds out its own accounts).
    share : float
        Share held out, in [0, 1).
    seed : int
        Part of the hash; a new seed draws a new assignment.
    earlier : mapping, optional
        account -> arm already assigned for this play on an earlier date; kept.

    Returns
    -------
    ndarray of str, one arm per account.
    """
    ids = list(account_ids)
    n = len(ids)
    arms = np.full(n, ARM_TASK, dtype=object)
    if n == 0:
        return arms
    earlier = earlier or {}
    known = np.array([a in earlier for a in ids], dtype=bool)
    for i in np.flatnonzero(known):
        arms[i] = earlier[ids[i]]
    if share <= 0 or known.all():
        return arms
    u = np.array([unit_hash((seed, play, a)) for a in ids])
    if strata is None or strata.empty or not len(strata.columns):
        keys = pd.Series(["all"] * n)
    else:
        parts = [strata[c].astype("string").fillna("").to_numpy(dtype=object) for c in strata.columns]
        keys = pd.Series(parts[0])
        for part in parts[1:]:
            keys = keys + "|" + part
    new = np.flatnonzero(~known)
    for key, members in pd.Series(new).groupby(keys.to_numpy()[new]):
        idx = members.to_numpy()
        size = share * len(idx) + unit_hash((seed, play, "stratum", key, *sorted(str(ids[i]) for i in idx)))
        k = int(np.floor(size))
        order = idx[np.argsort(u[idx], kind="stable")]
        arms[order[:k]] = ARM_HOLDOUT
    return arms


def earlier_arms(tasks: pd.DataFrame) -> dict[str, dict[Any, str]]:
    """play -> {account -> the arm of its first assignment} from earlier tasks tables
    (columns ``as_of``, ``play``, ``account_id``, ``arm``)."""
    if tasks is None or tasks.empty:
        return {}
    first = tasks.sort_values("as_of", kind="stable").drop_duplicates(["play", "account_id"])
    out: dict[str, dict[Any, str]] = {}
    for play, group in first.groupby("play", sort=False):
        out[str(play)] = dict(zip(group["account_id"].tolist(), group["arm"].astype(str).tolist()))
    return out
