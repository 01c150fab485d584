"""Observed signals: noisy consequences of one month's hidden state.

Each ``emit_*`` function draws one month's rows of one table for the accounts active
in that month, from a :class:`MonthView`, and appends them to :class:`Columns`. Every
cause leaves its trace in its family: champion_left in usage (the most active user goes
silent, a new person takes the seat, fewer users stay active; a contact change in the
CRM), bad_release and support_escalation in support (bug reports, escalated tickets),
payment_trouble in billing (late or failed payments), competitor_evaluation in
sentiment (NPS, email clicks, competitor mentions), budget_cut in contract signals
(downgrade requests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthscore.sim import world as w
from healthscore.sim.spec import DAY_US
from healthscore.sim.tables import Columns

C = w.C
SECOND_US = 1_000_000


@dataclass
class MonthView:
    """One month's active accounts (arrays of shape (n,) unless stated).

    ``lo``/``hi``: the account's active days in the month, ``[lo, hi)`` in days since
    1970-01-01. ``health``: hidden health after causes and good news. ``cause``:
    shape (6, n), each cause's intensity this month, weighted by the share of the
    month after it struck. ``struck``: shape (6, n), the day a cause struck this
    month or -1. ``good``/``good_day``: the same for the two kinds of good news.
    ``wind_down``: the account decided to leave before ``hi``. ``invoice_months``:
    months billed by an invoice issued on ``invoice_day`` this month (0: none);
    ``net_days``: payment terms (1: card). ``champion_gen``: champions who have left
    by the end of the month (the champion's seat changes hands each time).
    """

    rng: np.random.Generator
    month: int
    end_us: int
    account_id: np.ndarray
    segment: np.ndarray
    seats: np.ndarray
    mrr: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    health: np.ndarray
    cause: np.ndarray
    struck: np.ndarray
    good: np.ndarray
    good_day: np.ndarray
    wind_down: np.ndarray
    invoice_day: np.ndarray
    invoice_months: np.ndarray
    net_days: np.ndarray
    champion_gen: np.ndarray
    event_scale: float

    @property
    def frac(self) -> np.ndarray:
        return (self.hi - self.lo) / 30.4


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _days(rng, lo, hi):
    """A uniform day in ``[lo, hi)`` for each row."""
    return lo + np.floor(rng.random(len(lo)) * (hi - lo)).astype(np.int64)


def _instants(rng, day):
    """Microsecond instants on ``day``, clustered around office hours (UTC)."""
    seconds = np.clip(rng.normal(14.5 * 3600, 3.2 * 3600, len(day)), 0, 86_399)
    return day * DAY_US + seconds.astype(np.int64) * SECOND_US


def _after(rng, start_us, mean_seconds, end_us):
    """``start_us`` plus an exponential delay; -1 (missing) once past ``end_us``."""
    delay = rng.exponential(mean_seconds, len(start_us)) * SECOND_US
    out = start_us + delay.astype(np.int64)
    return np.where(out < end_us, out, -1)


def _user_ids(v: MonthView, acc: np.ndarray, slot: np.ndarray, day: np.ndarray) -> np.ndarray:
    """User ids of seat ``slot`` (0 = the champion's seat) of rows ``acc`` on ``day``.

    Seat ``s`` is user ``account_id * 10_000 + s + 1``, except the champion's seat once a
    champion has left: it belongs to user ``account_id * 10_000 + 5_000 + generation``
    from the day the champion left (seats never exceed 5,000).
    """
    struck = v.struck[C["champion_left"], acc]
    gen = v.champion_gen[acc] - ((struck >= 0) & (day < struck))
    base = v.account_id[acc] * 10_000
    heir = base + 5_000 + np.minimum(gen, 4_999)
    return np.where((slot == 0) & (gen > 0), heir, base + slot + 1)


def emit_events(v: MonthView, cols: Columns) -> np.ndarray:
    """Product usage; returns the active users per account, shape (n,).

    Active users are the account's first ``U`` seats, ``U ~ Binomial(seats, p)`` with
    ``p`` rising with health and falling after a champion leaves (whose own seat, the
    most active, passes to someone new: see :func:`_user_ids`). Rows are
    ``Poisson(U * (1 + 0.3 e^{0.3 h}) * event_scale * share of month)``; each active user
    gets one row before users repeat, so breadth is visible. Healthy accounts use more
    distinct features (a truncated geometric over popularity).
    """
    rng = v.rng
    p = _sigmoid(-0.95 + 0.9 * v.health - 1.8 * v.cause[C["champion_left"]]
                 + 0.4 * v.good[0])
    p = np.where(v.wind_down, p * w.WIND_DOWN, p)
    users = rng.binomial(v.seats.astype(np.int64), np.clip(p * np.minimum(v.frac, 1), 0, 1))
    rate = users * (1 + 0.3 * np.exp(0.3 * v.health)) * v.event_scale
    rows = rng.poisson(rate)
    rows = np.where(users > 0, rows, 0)
    acc = np.repeat(np.arange(len(rows)), rows)
    if len(acc) == 0:
        return users
    first = np.repeat(np.cumsum(rows) - rows, rows)
    pos = np.arange(len(acc)) - first
    n_users = users[acc]
    drawn = np.floor(n_users * rng.random(len(acc)) ** 1.6).astype(np.int64)
    user = np.where(pos < n_users, pos, drawn)
    n_types = len(w.EVENT_TYPES)
    depth = 3 + np.round((n_types - 3) * _sigmoid(0.3 + 1.0 * v.health + 0.4 * v.segment))
    q = w.EVENT_POPULARITY_RATIO
    tail = 1 - q ** depth[acc]
    kind = np.floor(np.log1p(-rng.random(len(acc)) * tail) / np.log(q)).astype(np.int64)
    kind = np.clip(kind, 0, n_types - 1)
    quantity = 1 + rng.poisson(w.EVENT_ACTIONS[kind] * np.exp(0.25 * v.health[acc]))
    day = _days(rng, v.lo[acc], v.hi[acc])
    cols.add("events", account_id=v.account_id[acc], user_id=_user_ids(v, acc, user, day),
             timestamp=_instants(rng, day), event=kind, quantity=quantity.astype(float))
    return users


def emit_tickets(v: MonthView, users: np.ndarray, cols: Columns) -> None:
    """Support tickets: more and worse after a bad release or an escalation.

    An account hit by a bad release reports it within a week with a chance that grows
    with its active users ``users`` (shape (n,)): ``1 - 0.8 exp(-users / 4)``.
    """
    rng = v.rng
    bad, esc = v.cause[C["bad_release"]], v.cause[C["support_escalation"]]
    base = np.array([0.2, 0.5, 1.2])[v.segment]
    rate = base * np.exp(-0.35 * v.health) * (1 + 2.5 * bad + 2.0 * esc) * v.frac
    n = rng.poisson(rate)
    acc = np.repeat(np.arange(len(n)), n)
    day = _days(rng, v.lo[acc], v.hi[acc])
    severity = (rng.standard_normal(len(acc)) - 0.4 * v.health[acc] + 1.5 * esc[acc]
                + 1.0 * bad[acc])
    priority = np.searchsorted([-0.3, 1.2, 2.2], severity)
    # An escalation opens one or two high/urgent tickets the day it strikes.
    struck = v.struck[C["support_escalation"]]
    hit = np.flatnonzero((struck >= v.lo) & (struck < v.hi))
    extra = np.repeat(hit, 1 + (rng.random(len(hit)) < 0.4))
    release = v.struck[C["bad_release"]]
    hit = np.flatnonzero((release >= v.lo) & (release < v.hi))
    hit = hit[rng.random(len(hit)) < 1 - 0.8 * np.exp(-users[hit] / 4)]
    report_day = np.minimum(release[hit] + rng.integers(0, 7, len(hit)), v.hi[hit] - 1)
    acc = np.concatenate([acc, extra, hit])
    day = np.concatenate([day, struck[extra], report_day])
    priority = np.concatenate([priority, 2 + (rng.random(len(extra)) < 0.6),
                               1 + (rng.random(len(hit)) < 0.4)])
    opened = _instants(rng, day)
    hours = np.array([72.0, 36.0, 16.0, 6.0])[priority] * np.exp(
        0.8 * rng.standard_normal(len(acc)) - 0.2 * v.health[acc] + 0.4 * bad[acc])
    closed = opened + (hours * 3600 * SECOND_US).astype(np.int64)
    closed = np.where(closed < v.end_us, closed, -1)
    csat = np.clip(np.round(4.4 + 0.55 * v.health[acc] - 1.0 * bad[acc] - 1.3 * esc[acc]
                            - 0.25 * (priority >= 2) + 0.8 * rng.standard_normal(len(acc))),
                   1, 5)
    answered = (closed >= 0) & (rng.random(len(acc)) < 0.45)
    cols.add("tickets", account_id=v.account_id[acc], opened_at=opened, closed_at=closed,
             priority=priority, csat=np.where(answered, csat, np.nan))


def emit_invoices(v: MonthView, cols: Columns) -> None:
    """Invoices on the billing day; payment trouble makes them late or unpaid.

    Card payers (``net_days`` 1) are charged on the invoice date unless the charge
    fails (then dunning retries: paid late or never); the others pay within their net
    terms unless in trouble.
    """
    rng = v.rng
    due_now = (v.invoice_months > 0) & (v.invoice_day >= v.lo) & (v.invoice_day < v.hi)
    idx = np.flatnonzero(due_now)
    if len(idx) == 0:
        return
    pay = v.cause[C["payment_trouble"], idx]
    health = v.health[idx]
    issued = v.invoice_day[idx]
    net = v.net_days[idx]
    due = issued + net
    on_time = rng.random(len(idx)) < _sigmoid(2.6 + 0.5 * health - 3.5 * pay)
    paid_day = np.where(
        on_time, issued + np.minimum(rng.integers(2, 30, len(idx)), net - 1),
        due + 1 + np.floor(rng.exponential(15 * (1 + 2 * pay))).astype(np.int64))
    unpaid = ~on_time & (rng.random(len(idx)) < 0.1 + 0.6 * np.minimum(pay, 1))
    paid = _instants(rng, paid_day)
    paid = np.where(unpaid | (paid >= v.end_us), -1, paid)
    cols.add("invoices", account_id=v.account_id[idx], issued_at=issued, due_at=due,
             paid_at=paid, amount=np.round(v.mrr[idx] * v.invoice_months[idx], 2))


def emit_surveys(v: MonthView, users: np.ndarray, cols: Columns) -> None:
    """NPS answers: low after a competitor evaluation or a bad release."""
    rng = v.rng
    n = rng.poisson(0.10 * (1 + np.sqrt(v.seats) / 4) * v.frac)
    acc = np.repeat(np.arange(len(n)), n)
    score = np.clip(np.round(
        7.4 + 1.4 * v.health[acc] - 3.0 * v.cause[C["competitor_evaluation"], acc]
        - 1.0 * v.cause[C["bad_release"], acc] + 1.5 * rng.standard_normal(len(acc))), 0, 10)
    pool = np.maximum(users, 1)[acc]
    user = np.floor(rng.random(len(acc)) * pool).astype(np.int64)
    day = _days(rng, v.lo[acc], v.hi[acc])
    cols.add("surveys", account_id=v.account_id[acc], user_id=_user_ids(v, acc, user, day),
             responded_at=_instants(rng, day), score=score,
             kind=np.zeros(len(acc), dtype=np.int64))


def emit_emails(v: MonthView, cols: Columns) -> None:
    """Marketing and CS emails: opens and clicks fall with health and competitors."""
    rng = v.rng
    n = rng.poisson((2.0 + np.minimum(v.seats, 200) / 50) * v.frac)
    acc = np.repeat(np.arange(len(n)), n)
    comp = v.cause[C["competitor_evaluation"], acc]
    health = v.health[acc]
    sent = _instants(rng, _days(rng, v.lo[acc], v.hi[acc]))
    opens = rng.random(len(acc)) < _sigmoid(-0.5 + 0.6 * health - 0.9 * comp
                                           - 0.5 * v.wind_down[acc])
    clicks = opens & (rng.random(len(acc)) < _sigmoid(-1.8 + 0.6 * health - 1.4 * comp))
    opened = np.where(opens, _after(rng, sent, 6 * 3600, v.end_us), -1)
    clicked = np.where(clicks & (opened >= 0), _after(rng, opened, 120, v.end_us), -1)
    cols.add("emails", account_id=v.account_id[acc], sent_at=sent, opened_at=opened,
             clicked_at=clicked)


def emit_signals(v: MonthView, cols: Columns) -> None:
    """CRM signals: routine ones driven by health, and traces of causes and good news."""
    rng = v.rng
    S = w.SIG
    routine = {
        S["exec_sponsor_meeting"]: np.array([0.03, 0.10, 0.30])[v.segment]
        * np.exp(0.5 * v.health),
        S["feature_request"]: (0.03 + 0.002 * v.seats) * np.exp(0.2 * v.health),
        S["community_post"]: 0.08 * (v.seats / 10) ** 0.3 * np.exp(0.6 * v.health),
    }
    parts = []
    for code, rate in routine.items():
        acc = np.repeat(np.arange(len(rate)), rng.poisson(rate * v.frac))
        parts.append((acc, _days(rng, v.lo[acc], v.hi[acc]), code, np.ones(len(acc))))
    # (signal, day it struck, chance the CRM records it, value per account)
    traced = [
        (S["referral"], v.good_day[1], 1.0, np.ones(len(v.seats))),
        (S["new_team_onboarded"], v.good_day[0], 1.0, np.ceil(0.25 * v.seats)),
        (S["downgrade_request"], v.struck[C["budget_cut"]], 0.7, np.ceil(0.3 * v.seats)),
        (S["competitor_mention"], v.struck[C["competitor_evaluation"]], 0.35,
         np.ones(len(v.seats))),
        (S["contact_change"], v.struck[C["champion_left"]], 0.4, np.ones(len(v.seats))),
    ]
    for code, day, chance, value in traced:
        seen = (day >= v.lo) & (day < v.hi) & (rng.random(len(day)) < chance)
        acc = np.flatnonzero(seen)
        later = np.minimum(day[acc] + rng.integers(0, 10, len(acc)), v.hi[acc] - 1)
        parts.append((acc, later, code, value[acc]))
    acc = np.concatenate([p[0] for p in parts])
    cols.add("signals", account_id=v.account_id[acc],
             timestamp=_instants(rng, np.concatenate([p[1] for p in parts])),
             signal=np.concatenate([np.full(len(p[0]), p[2]) for p in parts]),
             value=np.concatenate([p[3] for p in parts]).astype(float))
