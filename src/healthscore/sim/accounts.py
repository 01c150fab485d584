"""Drawing the accounts of one chunk: firmographics, contract terms, creation dates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthscore.sim import world as w
from healthscore.sim.spec import Calendar, SimulationSpec

#: How far back the installed base's oldest accounts were created, in months.
MAX_AGE_MONTHS = 72


@dataclass(frozen=True)
class Roster:
    """What every chunk shares: drawn once from the global stream of the seed.

    Attributes
    ----------
    csm_names : ndarray of str, shape (n_csm,)
        The customer-success managers; segment ``s`` owns the slice
        ``csm_offset[s] : csm_offset[s] + CSM_PER_SEGMENT[s]``.
    csm_offset : ndarray of int, shape (3,)
    name_multiplier, name_offset : int
        The bijection ``account_id -> company name`` (unique up to 115,200 accounts).
    bad_release_months : ndarray of int
        Month indices (0 = ``start``) of product-wide bad releases.
    bad_release_days : ndarray of int
        Day of the month (0-based) of each release.
    """

    csm_names: np.ndarray
    csm_offset: np.ndarray
    name_multiplier: int
    name_offset: int
    bad_release_months: np.ndarray
    bad_release_days: np.ndarray


def make_roster(spec: SimulationSpec) -> Roster:
    """Draw the shared parts of the world from ``SeedSequence([seed, 0])``."""
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 0]))
    n_csm = sum(w.CSM_PER_SEGMENT)
    firsts = rng.permutation(len(w.CSM_FIRST))[:n_csm]
    lasts = rng.permutation(len(w.CSM_LAST))[np.arange(n_csm) % len(w.CSM_LAST)]
    names = np.char.add(np.char.add(np.array(w.CSM_FIRST)[firsts], " "),
                        np.array(w.CSM_LAST)[lasts])
    offset = np.concatenate([[0], np.cumsum(w.CSM_PER_SEGMENT)[:-1]])
    # 115,200 = 2^9 3^2 5^2: any multiplier prime to 30 gives a bijection.
    multiplier = int(rng.choice([7919, 7927, 7933, 7937, 7949, 7951, 7963, 7993]))
    name_offset = int(rng.integers(0, _name_space()))
    months, days = [], []
    t = -spec.burn_in_months + int(rng.integers(0, w.BAD_RELEASE_GAP[1]))
    while t < spec.months:
        months.append(t)
        days.append(int(rng.integers(0, 24)))
        t += int(rng.integers(w.BAD_RELEASE_GAP[0], w.BAD_RELEASE_GAP[1] + 1))
    return Roster(names, offset, multiplier, name_offset,
                  np.array(months, dtype=np.int64), np.array(days, dtype=np.int64))


def _name_space() -> int:
    return len(w.NAME_HEADS) * len(w.NAME_TAILS) * len(w.NAME_KINDS)


def company_names(account_id: np.ndarray, roster: Roster) -> np.ndarray:
    """Plausible, distinct company names: a seeded bijection of ``account_id``."""
    space = _name_space()
    code = (account_id * roster.name_multiplier + roster.name_offset) % space
    n_kinds, n_tails = len(w.NAME_KINDS), len(w.NAME_TAILS)
    heads = np.array(w.NAME_HEADS)[code // (n_kinds * n_tails)]
    tails = np.array(w.NAME_TAILS)[(code // n_kinds) % n_tails]
    kinds = np.array(w.NAME_KINDS)[code % n_kinds]
    names = np.char.add(np.char.add(heads, tails), np.char.add(" ", kinds))
    lap = (account_id - 1) // space
    if np.any(lap > 0):  # beyond the name space: "Bluefield Labs 2"
        names = np.where(lap > 0, np.char.add(names, np.char.add(" ", (lap + 1).astype(str))),
                         names)
    return names


@dataclass
class Book:
    """The accounts of one chunk, one entry per account (arrays of shape (A,)).

    ``a0`` is the month index of the first contract's start (negative for the
    installed base), ``d0`` its day of the month (0-based, < 28), so contract ``k``
    starts on day ``d0`` of month ``a0 + k * term``. ``created_day`` is that first
    start in days since 1970-01-01. ``mu`` is the account's long-run hidden health.
    ``billing_months`` is the invoicing period (1, 3 or 12 months; 1 for monthly
    contracts), ``net_days`` the payment terms in days (1: card, charged on the
    invoice date; 30: invoice).
    """

    account_id: np.ndarray
    segment: np.ndarray
    term: np.ndarray
    billing_months: np.ndarray
    net_days: np.ndarray
    plan: np.ndarray
    seats: np.ndarray
    discount: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    owner: np.ndarray
    name: np.ndarray
    mu: np.ndarray
    a0: np.ndarray
    d0: np.ndarray
    created_day: np.ndarray
    is_new: np.ndarray


def draw_book(account_id: np.ndarray, spec: SimulationSpec, roster: Roster,
              calendar: Calendar, rng: np.random.Generator) -> Book:
    """Draw the accounts ``account_id`` (int64, shape (A,)) of one chunk."""
    n = len(account_id)
    mix = np.asarray(spec.segment_mix, dtype=float)
    seg = rng.choice(3, size=n, p=mix / mix.sum())
    term = np.where(rng.random(n) < w.MONTHLY_TERM_SHARE[seg], 1, 12)
    cum_billing = np.cumsum(w.BILLING_MIX, axis=1)[seg]
    period = (rng.random(n)[:, None] > cum_billing).sum(axis=1).clip(0, len(w.BILLING_MONTHS) - 1)
    billing_months = np.where(term == 12, w.BILLING_MONTHS[period], 1)
    net_days = np.where(rng.random(n) < w.CARD_SHARE[seg], *w.NET_DAYS)
    cum = np.cumsum(w.PLAN_MIX, axis=1)[seg]
    plan = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, len(w.PLANS) - 1)
    is_new = rng.random(n) < spec.new_account_share
    seats = np.exp(np.log(w.SEAT_MEDIAN[seg]) + 0.45 * rng.standard_normal(n))
    seats = np.where(is_new, 0.8 * seats, seats)  # land small, expand later
    seats = np.round(np.clip(seats, w.SEAT_MIN[seg], w.SEAT_MAX[seg]))
    lo, hi = w.DISCOUNT[seg, 0], w.DISCOUNT[seg, 1]
    discount = np.round(lo + (hi - lo) * rng.random(n), 2)
    industry = rng.choice(len(w.INDUSTRIES), size=n, p=w.INDUSTRY_MIX / w.INDUSTRY_MIX.sum())
    region = rng.choice(len(w.REGIONS), size=n, p=w.REGION_MIX)
    per_seg = np.asarray(w.CSM_PER_SEGMENT)
    owner = roster.csm_offset[seg] + (rng.random(n) * per_seg[seg]).astype(np.int64)
    mu = w.MU_MEAN[seg] + w.MU_SD * rng.standard_normal(n)
    # The installed base: younger accounts are more common (older ones churned).
    age = 1 + np.floor((MAX_AGE_MONTHS - 1) * rng.random(n) ** 1.5).astype(np.int64)
    acquired = np.floor(rng.random(n) * spec.months).astype(np.int64)
    a0 = np.where(is_new, acquired, -age)
    d0 = rng.integers(0, 28, size=n)
    created_day = calendar.start_day(a0) + d0
    return Book(
        account_id=account_id, segment=seg, term=term, billing_months=billing_months,
        net_days=net_days,
        plan=plan, seats=seats, discount=discount, industry=industry, region=region,
        owner=owner, name=company_names(account_id, roster), mu=mu, a0=a0, d0=d0,
        created_day=created_day, is_new=is_new,
    )


def draw_parents(book: Book, spec: SimulationSpec, chunk_index: int) -> np.ndarray:
    """Group a ``spec.parents_share`` of the chunk's accounts into families and shift
    their hidden health (``book.mu``, in place) by one draw per family; returns the
    parent of each account (int64, -1 for none). Its own stream,
    ``SeedSequence([seed, 3, chunk_index])``, so the other draws are those without
    parents."""
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 3, chunk_index]))
    n = len(book.account_id)
    parent = np.full(n, -1, dtype=np.int64)
    grouped = np.flatnonzero(rng.random(n) < spec.parents_share)
    start = 0
    while len(grouped) - start >= 2:
        size = min(int(rng.integers(2, w.PARENT_FAMILY_MAX + 1)), len(grouped) - start)
        family = grouped[start:start + size]
        parent[family[1:]] = book.account_id[family[0]]
        book.mu[family] += w.PARENT_SHOCK_SD * rng.standard_normal()
        start += size
    return parent
