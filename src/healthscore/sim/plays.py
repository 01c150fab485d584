"""Plays with a known true effect, applied inside the simulation.

A :class:`PlayEffect` is aimed at the accounts a cause struck (``targets``, e.g. an
onboarding play at accounts whose champion left: low breadth of use), assigned at the
first of the next month to the ``task`` or the ``holdout`` arm by the seeded,
stratified hash of the real plays (:func:`healthscore.plays.assign.assign_arms`,
strata: the segment), once per account. For the treated, every renewal decision drawn
from then on loses the share ``effects[cause]`` of each cause's log-odds: 0.5 halves
what a champion's departure adds; a cause not named (a budget cut) is untouched, so a
play whose causes are all 0 is a null play.

What the simulation writes when ``spec.plays`` is set:

* ``interventions`` (a contract table): one touch per treated account, ``due_days``
  after the assignment, outcome ``done``;
* ``play_assignments`` (simulator only): every assignment, both arms;
* ``play_truth`` (simulator only): every decision of an assigned account drawn after
  its assignment, with the churn probability untreated and treated (the planted effect
  on that decision is their difference, for either arm).

No random number is drawn here, so a simulation without plays is unchanged, and with
plays the same draws happen until a treated decision goes the other way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from healthscore.errors import ConfigError
from healthscore.sim import world as w


@dataclass(frozen=True)
class PlayEffect:
    """One simulated play and its true effect per cause.

    Parameters
    ----------
    name : str
        The play's name (as in ``params.yaml`` plays).
    targets : tuple of str
        Causes (:data:`healthscore.sim.world.CAUSE_NAMES`) whose strike makes an account
        eligible (at the first of the next month).
    effects : mapping of str to float
        Cause -> share in [0, 1] of its churn log-odds removed for treated accounts.
    holdout : float
        Share held out, in [0, 0.5].
    seed : int
        The assignment hash's seed.
    due_days : int
        Days from the assignment to the recorded touch.
    """

    name: str
    targets: tuple[str, ...]
    effects: Mapping[str, float] = field(default_factory=dict)
    holdout: float = 0.3
    seed: int = 0
    due_days: int = 7

    def check(self) -> None:
        """Raise :class:`ConfigError` naming the field that cannot work."""
        where = f"simulation spec: plays[{self.name!r}]"
        unknown = [c for c in (*self.targets, *self.effects) if c not in w.C]
        if unknown:
            raise ConfigError(f"{where}: cause {unknown[0]!r} is unknown (expected one of "
                              f"{', '.join(w.CAUSE_NAMES)})")
        if not self.targets:
            raise ConfigError(f"{where}.targets: expected at least one cause")
        bad = {c: e for c, e in self.effects.items() if not 0.0 <= e <= 1.0}
        if bad:
            cause, value = next(iter(bad.items()))
            raise ConfigError(f"{where}.effects[{cause!r}]={value!r}, expected a share in [0, 1]")
        if not 0.0 <= self.holdout <= 0.5:
            raise ConfigError(f"{where}.holdout={self.holdout!r}, expected a share in [0, 0.5]")

    def to_dict(self) -> dict:
        return {"name": self.name, "targets": list(self.targets), "effects": dict(self.effects),
                "holdout": self.holdout, "seed": self.seed, "due_days": self.due_days}


#: Arms as stored in the engine (0: not assigned).
_TASK, _HOLDOUT = 1, 2


class PlayBook:
    """The plays' state over one chunk's accounts: arms, assignment months, effects."""

    def __init__(self, plays: tuple[PlayEffect, ...], account_id: np.ndarray, segment: np.ndarray) -> None:
        self.plays = plays
        self.account_id, self.segment = account_id, segment
        n, p = len(account_id), len(plays)
        self.arm = np.zeros((p, n), dtype=np.int8)
        self.month = np.full((p, n), np.iinfo(np.int64).max, dtype=np.int64)
        self.day = np.zeros((p, n), dtype=np.int64)
        # (P, K): the share of each cause's log-odds a play removes
        self.keep = np.ones((p, len(w.CAUSES)))
        self.targets = np.zeros((p, len(w.CAUSES)), dtype=bool)
        for k, play in enumerate(plays):
            for cause, effect in play.effects.items():
                self.keep[k, w.C[cause]] = 1.0 - effect
            self.targets[k, [w.C[c] for c in play.targets]] = True

    def assign(self, month: int, day: int, eligible_by_cause: np.ndarray, cols) -> None:
        """Assign the accounts ``eligible_by_cause`` (K, n: struck and still customers
        on ``day``, the first of ``month``) to each play's arms, once per account."""
        from healthscore.plays.assign import ARM_HOLDOUT, assign_arms

        for k, play in enumerate(self.plays):
            idx = np.flatnonzero(eligible_by_cause[self.targets[k]].any(axis=0) & (self.arm[k] == 0))
            if not len(idx):
                continue
            strata = pd.DataFrame({"segment": np.asarray(w.SEGMENTS)[self.segment[idx]]})
            arms = assign_arms(self.account_id[idx].tolist(), strata, play=play.name, share=play.holdout,
                               seed=play.seed)
            held = arms == ARM_HOLDOUT
            self.arm[k, idx] = np.where(held, _HOLDOUT, _TASK)
            self.month[k, idx] = month
            self.day[k, idx] = day
            n = len(idx)
            cols.add("play_assignments", account_id=self.account_id[idx], play=np.full(n, play.name),
                     as_of=np.full(n, day), arm=arms.astype(str), segment=self.segment[idx])
            treated = idx[~held]
            cols.add("interventions", account_id=self.account_id[treated],
                     play=np.full(len(treated), play.name), date=np.full(len(treated), day + play.due_days),
                     outcome=np.full(len(treated), "done"))

    def keep_shares(self, i: np.ndarray, month: int, *, everyone: bool = False) -> np.ndarray:
        """(K, len(i)): the share of each cause's log-odds left at a decision of month
        ``month`` for accounts ``i`` (1 where untreated); ``everyone``: as if every
        assigned account were treated (the counterfactual of the held out)."""
        keep = np.ones((len(w.CAUSES), len(i)))
        for k in range(len(self.plays)):
            arm = self.arm[k, i]
            on = (arm == _TASK) | ((arm == _HOLDOUT) & everyone)
            on &= self.month[k, i] <= month
            keep *= np.where(on[None, :], self.keep[k][:, None], 1.0)
        return keep

    def record(self, i: np.ndarray, month: int, renewal: np.ndarray, notice: np.ndarray,
               contrib: np.ndarray, rest: np.ndarray, cols) -> None:
        """``play_truth`` rows of the decisions of accounts ``i`` drawn in ``month``:
        ``contrib`` (K, len(i)) the causes' untreated log-odds, ``rest`` the others."""
        for k, play in enumerate(self.plays):
            mine = np.flatnonzero((self.arm[k, i] > 0) & (self.month[k, i] <= month))
            if not len(mine):
                continue
            c = contrib[:, mine]
            untreated = 1.0 / (1.0 + np.exp(-(rest[mine] + c.sum(axis=0))))
            treated = 1.0 / (1.0 + np.exp(-(rest[mine] + (c * self.keep[k][:, None]).sum(axis=0))))
            acc = i[mine]
            n = len(mine)
            cols.add("play_truth", account_id=self.account_id[acc], play=np.full(n, play.name),
                     as_of=self.day[k, acc], arm=np.where(self.arm[k, acc] == _TASK, "task", "holdout"),
                     decision_date=notice[mine], renewal_date=renewal[mine],
                     proba_untreated=untreated, proba_treated=treated)


def planted_effects(truth: pd.DataFrame, assignments: pd.DataFrame, *, horizon_days: int) -> pd.Series:
    """The true effect of its play on each assignment: the fall in the chance of being
    lost within ``horizon_days`` after the assignment, treated against untreated
    (``1 - prod(1 - p)`` over the decisions the play could change: drawn after the
    assignment, renewal inside the horizon), for either arm; 0 for an assignment with
    no such decision.

    Parameters
    ----------
    truth : DataFrame
        The simulation's ``play_truth`` table.
    assignments : DataFrame
        ``play`` and ``account_id`` (one row per pair, e.g. ``play_assignments``).

    Returns
    -------
    Series aligned with ``assignments``' rows, named ``effect``.
    """
    end = truth["as_of"] + pd.Timedelta(days=horizon_days)
    inside = truth.loc[(truth["renewal_date"] >= truth["as_of"]) & (truth["renewal_date"] < end)]
    keep = inside.assign(keep_u=1 - inside["proba_untreated"], keep_t=1 - inside["proba_treated"])
    per = keep.groupby(["play", "account_id"])[["keep_u", "keep_t"]].prod()
    per["effect"] = per["keep_t"] - per["keep_u"]
    rows = assignments.loc[:, ["play", "account_id"]].merge(per["effect"].reset_index(),
                                                           on=["play", "account_id"], how="left")
    return pd.Series(rows["effect"].fillna(0.0).to_numpy(), index=assignments.index, name="effect")
