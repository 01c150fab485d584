"""The expansion oracle: the true chance that an account's MRR rises within the horizon.

For every customer at a first-of-month cutoff ``c`` (the churn oracle's rows,
:mod:`healthscore.sim.oracle`), :func:`expansion_cutoff` gives ``expansion_proba``: the
probability of the expansion label of :mod:`healthscore.dataset.expansion` with
``lead_time_days`` 0 and ``horizon_days`` = ``spec.oracle_horizon_days``, i.e. that

* at some renewal dated in ``[c, c + horizon)`` the new contract's MRR is at least
  ``(1 + min_increase)`` times the MRR held at the cutoff, and
* the account is not lost in that window (no renewal dated in it is lost).

In the simulator the MRR changes only at a kept renewal (:meth:`ChunkEngine._renew`):
seats move by ``exp(change)`` (annual: ``N(0.03 + 0.06 z, 0.07)``; monthly: the same
kind of move one time in ten), ``+0.25`` after a new team onboarded and ``-0.35``
after a budget cut since the last renewal, are rounded and clipped to 1..5000; the
plan moves up one step one time in 16 when ``z > 0.5`` and down one in three after a
budget cut; the price is ``seats x plan price x (1 - discount)``, rounded to cents.

What is known at the cutoff is the churn oracle's (health, causes, the probability of
every decision drawn, never its outcome) plus the contract (seats, plan, discount,
MRR) and whether a new team or a budget cut is pending. The future is averaged over
:data:`~healthscore.sim.oracle.ORACLE_PATHS` paths of the engine's own dynamics (the
churn oracle's :class:`~healthscore.sim.oracle._Paths`, drawn from the expansion
oracle's own stream, plus new teams and budget cuts). Each path contributes the
product of its keep probabilities (the decisions are independent of the seat draws
given the path) times the chance of the rise; that chance is exact at the account's
last renewal in the window (a normal tail over the seats that reach the bar, for each
plan move) and drawn at the earlier ones (monthly contracts), so the estimate is
unbiased and its noise is that of the paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from healthscore.sim import oracle as o
from healthscore.sim import world as w
from healthscore.sim.spec import SimulationSpec

_TEAM_HAZARD = w.GOOD_NEWS["new_team_onboarded"][0]
_BUDGET = w.C["budget_cut"]
_SEATS_MAX = 5000
_TOP_PLAN = len(w.PLANS) - 1
#: The expansion label's tolerance (``peak >= (1 + share) * before - 1e-9``).
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ExpansionState:
    """The contracts of the ``A`` customers of a :class:`~healthscore.sim.oracle.CutoffState`.

    Attributes
    ----------
    min_increase : float
        The share the MRR must rise by (0.10 = +10 %).
    renewal_month : ndarray of int64, shape (A, R)
        Month index of each renewal of ``CutoffState.renewal_day``.
    term : ndarray of int64, shape (A,)
        Contract length in months (1 or 12).
    seats, discount, mrr : ndarray of float64, shape (A,)
        The current contract's seats, discount and MRR (the reference).
    plan : ndarray of int64, shape (A,)
    pending_team, pending_cut : ndarray of bool, shape (A,)
        A new team onboarded / a budget cut since the last renewal.
    """

    min_increase: float
    renewal_month: np.ndarray
    term: np.ndarray
    seats: np.ndarray
    discount: np.ndarray
    mrr: np.ndarray
    plan: np.ndarray
    pending_team: np.ndarray
    pending_cut: np.ndarray


def expansion_cutoff(state: o.CutoffState, grow: ExpansionState, spec: SimulationSpec, *,
                     random_state: np.random.Generator) -> np.ndarray:
    """The oracle's ``expansion_proba`` of every customer in ``state``, shape (A,), in [0, 1].

    ``random_state``: the expansion oracle's own stream; nothing else draws from it.
    """
    n = len(state.segment)
    out = np.zeros(n)
    if n == 0:
        return out
    inside = state.renewal_day < state.day + spec.oracle_horizon_days
    drawn = ~np.isnan(state.drawn_proba)
    p_drawn = np.where(drawn, state.drawn_proba, 0.0)
    with np.errstate(divide="ignore"):  # a certain loss: log 0, kept as -inf
        keep_known = np.exp(np.where(drawn & inside, np.log1p(-p_drawn), 0.0).sum(axis=1))
    todo = ~drawn & ~np.isnan(state.base_logit) & inside
    if np.any(state.notice_month[todo] < state.month):  # an engine bug, not user input
        raise RuntimeError("expansion oracle: an undrawn decision has a past notice month")
    # Renewal days increase along a row: the renewals inside the window are a prefix.
    n_inside = inside.sum(axis=1)
    last = np.where(inside, grow.renewal_month, state.month - 1).max(axis=1)
    todo_rows = np.flatnonzero((n_inside > 0) & (keep_known > 0))
    order = todo_rows[np.argsort(-last[todo_rows], kind="stable")]
    if len(order) == 0:
        return out
    release = o._release_paths(state.last_release, state.month,
                               int(last[order].max()) - state.month + 1, spec, random_state)
    for lo in range(0, len(order), o._BLOCK):
        blk = order[lo:lo + o._BLOCK]
        out[blk] = keep_known[blk] * _simulate_block(state, grow, blk, n_inside[blk], last[blk],
                                                     todo[blk], release, random_state)
    return np.clip(out, 0.0, 1.0)


def _simulate_block(state: o.CutoffState, grow: ExpansionState, blk: np.ndarray,
                    n_inside: np.ndarray, last: np.ndarray, todo: np.ndarray,
                    release: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mean over paths of P(kept through the window and risen) for accounts ``blk``
    (sorted by ``last``, the month of their last renewal in the window, descending)."""
    paths = o._Paths(state, blk, int(last.max()), rng)
    n, shape = len(blk), (len(blk), o.ORACLE_PATHS)
    c = _Contracts(grow, blk)
    log_keep = np.zeros(shape)
    value = np.zeros(shape)
    notice, base = state.notice_month[blk], state.base_logit[blk]
    renewal_month = grow.renewal_month[blk]
    for s in range(state.month, int(last.max()) + 1):
        for col in range(notice.shape[1]):  # decisions drawn in month s
            a = np.flatnonzero(todo[:, col] & (notice[:, col] == s))
            if len(a):
                with np.errstate(divide="ignore"):
                    log_keep[a] += np.log1p(-paths.decide(a, base[a, col]).astype(np.float64))
        for col in range(renewal_month.shape[1]):  # renewals in month s, inside the window
            a = np.flatnonzero((col < n_inside) & (renewal_month[:, col] == s))
            if len(a) == 0:
                continue
            z = np.clip(paths.z[a].astype(np.float64), -2, 2)
            final = col == n_inside[a] - 1
            if final.any():
                f = a[final]
                value[f] = np.where(c.reached[f], 1.0, c.chance(f, z[final]))
            if not final.all():
                c.renew(a[~final], z[~final], rng)
        active = int(np.count_nonzero(last > s))
        if active:
            z = paths.z[:active].astype(np.float64)
            c.team[:active] |= rng.random((active, o.ORACLE_PATHS)) < _TEAM_HAZARD * np.exp(0.4 * z)
            paths.step(s, active, release[s - state.month])
            struck = paths.now[_BUDGET, :active] - o._DECAY[_BUDGET] * paths.lag[_BUDGET, :active]
            c.cut[:active] |= struck > 0.5
    return (np.exp(log_keep) * value).mean(axis=1)


class _Contracts:
    """Seats, plan and pending news of one block of accounts along the paths."""

    def __init__(self, grow: ExpansionState, blk: np.ndarray) -> None:
        shape = (len(blk), o.ORACLE_PATHS)
        self.annual = grow.term[blk] == 12
        self.discount = grow.discount[blk]
        self.bar = (1.0 + grow.min_increase) * grow.mrr[blk] - _TOLERANCE
        self.seats = np.repeat(grow.seats[blk, None].astype(np.float64), shape[1], axis=1)
        self.plan = np.repeat(grow.plan[blk, None].astype(np.int64), shape[1], axis=1)
        self.team = np.repeat(grow.pending_team[blk, None], shape[1], axis=1)
        self.cut = np.repeat(grow.pending_cut[blk, None], shape[1], axis=1)
        self.reached = np.zeros(shape, dtype=bool)

    def _price(self, seats, plan, a):
        return np.round(seats * w.PLAN_PRICE[plan] * (1 - self.discount[a, None]), 2)

    def renew(self, a: np.ndarray, z: np.ndarray, rng: np.random.Generator) -> None:
        """A kept renewal of accounts ``a`` on every path, drawn as the engine draws it."""
        shape = z.shape
        annual = self.annual[a, None]
        change = np.where(annual, rng.normal(0.03 + 0.06 * z, 0.07),
                          np.where(rng.random(shape) < 0.1, rng.normal(0.02 + 0.05 * z, 0.1), 0.0))
        change = change + 0.25 * self.team[a] - 0.35 * self.cut[a]
        seats = np.clip(np.round(self.seats[a] * np.exp(change)), 1, _SEATS_MAX)
        up = (z > 0.5) & (rng.random(shape) < 0.06)
        down = self.cut[a] & (rng.random(shape) < 0.3)
        plan = np.clip(self.plan[a] + up - down, 0, _TOP_PLAN)
        self.seats[a], self.plan[a] = seats, plan
        self.reached[a] |= self._price(seats, plan, a) >= self.bar[a, None]
        self.team[a] = self.cut[a] = False

    def chance(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        """P(the renewal of accounts ``a`` now reaches the bar), shape (len(a), paths):
        exact over the seat move and the plan move, given each path's state."""
        seats, plan, team, cut = self.seats[a], self.plan[a], self.team[a], self.cut[a]
        shift = 0.25 * team - 0.35 * cut
        annual = self.annual[a, None]
        mean = np.where(annual, 0.03 + 0.06 * z, 0.02 + 0.05 * z) + shift
        sd = np.where(annual, 0.07, 0.1)
        p_up = np.where(z > 0.5, 0.06, 0.0)
        p_down = np.where(cut, 0.3, 0.0)
        # The atom of a monthly contract: no drawn move, only the pending news.
        still = np.clip(np.round(seats * np.exp(shift)), 1, _SEATS_MAX)
        total = np.zeros(seats.shape)
        for step, weight in ((1, p_up * (1 - p_down)), (-1, p_down * (1 - p_up)),
                             (0, 1 - p_up * (1 - p_down) - p_down * (1 - p_up))):
            moved = np.clip(plan + step, 0, _TOP_PLAN)
            need = self._seats_needed(moved, a)
            # round(seats * exp(change)) >= need  <=>  change >= log((need - 0.5) / seats)
            with np.errstate(divide="ignore"):
                bound = np.log(np.maximum(need - 0.5, 0.0) / seats)
            tail = np.where(need <= 1, 1.0, np.where(need > _SEATS_MAX, 0.0, ndtr((mean - bound) / sd)))
            atom = (self._price(still, moved, a) >= self.bar[a, None]).astype(np.float64)
            total += weight * np.where(annual, tail, 0.1 * tail + 0.9 * atom)
        return total

    def _seats_needed(self, plan: np.ndarray, a: np.ndarray) -> np.ndarray:
        """The fewest seats whose price on ``plan`` reaches the bar (float64)."""
        bar = self.bar[a, None]
        unit = w.PLAN_PRICE[plan] * (1 - self.discount[a, None])
        guess = np.maximum(np.ceil(bar / unit) - 1, 1.0)
        for _ in range(3):  # cent rounding moves the answer by at most a seat
            short = self._price(guess, plan, a) < bar
            guess = np.where(short, guess + 1, guess)
        low = np.maximum(guess - 1, 1.0)
        return np.where((guess > 1) & (self._price(low, plan, a) >= bar), low, guess)
