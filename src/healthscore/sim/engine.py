"""The monthly engine of one chunk: hidden health, causes, contracts and decisions.

All accounts of a chunk move together, one month per step (a Python loop over months
only). Within month ``t``:

1. renewal decisions whose notice date falls in ``t`` are drawn from the hidden
   health at the end of ``t - 1`` and the causes that struck by the end of ``t - 2``
   (so every cause precedes the notice date by at least a month);
2. contracts ending in ``t`` end (churn) or renew, with seat changes;
3. causes and good news strike and the hidden health moves (AR(1));
4. the month's observable rows are drawn (:mod:`healthscore.sim.observe`).

With ``spec.oracle_horizon_days`` set, the state at 00:00 of every month of the window
is also handed to :mod:`healthscore.sim.oracle`, which draws from its own stream (and,
with ``spec.oracle_expansion_increase``, to :mod:`healthscore.sim.expansion_oracle`, from
another).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from healthscore.sim import observe
from healthscore.sim import expansion_oracle, oracle, people
from healthscore.sim import world as w
from healthscore.sim.accounts import Roster, draw_book, draw_parents
from healthscore.sim.plays import PlayBook
from healthscore.sim.spec import DAY_US, Calendar, SimulationSpec
from healthscore.sim.tables import Columns

NEVER = np.iinfo(np.int64).max // (2 * DAY_US)
K = len(w.CAUSES)
HAZARD = np.array([c.hazard for c in w.CAUSES])          # (K, 3)
LINK = np.array([c.health_link for c in w.CAUSES])[:, None]
GAMMA = np.array([c.gamma for c in w.CAUSES])[:, None]
DELTA = np.array([c.delta for c in w.CAUSES])[:, None]
DECAY = np.array([c.decay for c in w.CAUSES])[:, None]
GOOD = np.array(list(w.GOOD_NEWS.values()))               # (2, 3): hazard, gain, decay


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class ChunkEngine:
    """Simulates the accounts ``first_id .. first_id + n - 1`` as one seeded stream.

    The stream is ``SeedSequence([seed, 1, chunk_index])``; shared parts of the world
    (CSM roster, bad releases) come from ``roster``. The oracle (when the spec asks
    for one) draws from ``SeedSequence([seed, 2, chunk_index, month])``, one stream
    per cutoff month, and the expansion oracle from ``SeedSequence([seed, 3,
    chunk_index, month])``, so they change nothing else.
    """

    def __init__(self, spec: SimulationSpec, roster: Roster, chunk_index: int, *,
                 hidden: bool = False) -> None:
        self.spec, self.roster, self.hidden = spec, roster, hidden
        self.chunk_index = chunk_index
        first = chunk_index * spec.chunk_accounts + 1
        last = min(spec.n_accounts, first + spec.chunk_accounts - 1)
        self.rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 1, chunk_index]))
        self.cal = Calendar(spec.start, -spec.burn_in_months - 13, spec.months + 13)
        self.end_us = int(spec.end.astype(np.int64)) * DAY_US
        b = self.book = draw_book(np.arange(first, last + 1, dtype=np.int64), spec, roster,
                                  self.cal, self.rng)
        # parents (spec.parents_share): families sharing a shift of hidden health
        self.parent = draw_parents(b, spec, chunk_index) if spec.parents_share else None
        n = len(b.account_id)
        self.cols = Columns()
        # First renewal on or after the window start (installed base), or the first.
        k1 = np.where(b.is_new, 1, (-b.a0 + b.term - 1) // b.term)
        self.cur = k1 - 1
        self.dec_k = k1.copy()
        self.dec_month = self.cal.month_of(self._renewal_day(np.arange(n), k1)
                                           - spec.notice_days)
        self.decided = np.zeros(n, dtype=bool)
        # For the oracle: the probability of each drawn decision, by renewal k (a ring
        # over k: at most notice_days / 28 + 2 renewals are drawn but not yet due), and,
        # after a churn decision, the next renewal whose probability had it stayed is
        # still to compute.
        self.drawn_proba = np.zeros((spec.notice_days // 28 + 3, n))
        self.shadow_k = np.zeros(n, dtype=np.int64)
        self.shadow_month = np.full(n, NEVER)
        self.churn_k = np.full(n, -1)
        self.decision_day = np.full(n, NEVER)
        self.end_day = np.full(n, NEVER)
        self.seats, self.plan = b.seats.copy(), b.plan.copy()
        self.mrr = self._price(np.arange(n))
        z_sd = w.SIGMA / np.sqrt(1 - w.RHO ** 2)
        self.z = b.mu + z_sd * self.rng.standard_normal(n)
        self.intensity = np.zeros((K, n))
        self.intensity_lag = np.zeros((K, n))
        self.good = np.zeros((2, n))
        # Seat changes wait for the next renewal: budget cuts and new teams since the last.
        self.pending_cut = np.zeros(n, dtype=bool)
        self.pending_team = np.zeros(n, dtype=bool)
        self.last_struck = np.full((K, n), -1, dtype=np.int64)
        self.last_struck_lag = self.last_struck
        # How many champions have left: the champion's seat is then someone else's.
        self.champion_gen = np.zeros(n, dtype=np.int64)
        self.champions = people.ChampionLog() if spec.contacts else None  # the contacts table
        # Plays with a known effect (spec.plays): arms, and the log-odds they remove.
        self.playbook = PlayBook(spec.plays, b.account_id, b.segment) if spec.plays else None
        self.t = -spec.burn_in_months
        self._emit_subscriptions(np.flatnonzero(~b.is_new))

    # ---------------------------------------------------------------- contracts
    def _renewal_day(self, idx, k):
        b = self.book
        return self.cal.start_day(b.a0[idx] + k * b.term[idx]) + b.d0[idx]

    def _price(self, idx):
        plan_price = w.PLAN_PRICE[self.plan[idx]]
        return np.round(self.seats[idx] * plan_price * (1 - self.book.discount[idx]), 2)

    def _emit_subscriptions(self, idx):
        k = self.cur[idx]
        acc = self.book.account_id[idx]
        self.cols.add("subscriptions", account_id=acc, subscription_id=acc * 1000 + k,
                      start_date=self._renewal_day(idx, k),
                      end_date=self._renewal_day(idx, k + 1), mrr=self.mrr[idx],
                      plan=self.plan[idx])

    def _decide(self, t: int) -> None:
        """Draw every renewal decision whose notice date falls in month ``t``."""
        b, spec = self.book, self.spec
        start_day = self.cal.start_day(0)
        end_day = int(spec.end.astype(np.int64))
        while True:
            cand = (b.a0 <= t) & ~self.decided & (self.dec_month <= t)
            idx = np.flatnonzero(cand)
            if len(idx) == 0:
                return
            renewal = self._renewal_day(idx, self.dec_k[idx])
            notice = renewal - spec.notice_days
            drawn = self._decides(idx, notice)
            i, renewal, notice = idx[drawn], renewal[drawn], notice[drawn]
            seg = b.segment[i]
            proba, contrib = self._decision_proba(i, renewal)
            if self.playbook is not None:
                rest, untreated = self._decision_parts(i, renewal)
                self.playbook.record(i, t, renewal, notice, untreated, rest, self.cols)
            ring = len(self.drawn_proba)
            self.drawn_proba[self.dec_k[idx[~drawn]] % ring, idx[~drawn]] = 0.0
            self.drawn_proba[self.dec_k[i] % ring, i] = proba
            churned = self.rng.random(len(i)) < proba
            top = contrib.argmax(axis=0)
            has_cause = contrib.max(axis=0, initial=0.0) >= w.PRIMARY_CAUSE_MIN_LOGIT
            cause = np.where(has_cause, top, -1)
            cause_at = np.where(has_cause, self.last_struck_lag[top, i], -1)
            inside = (renewal >= start_day) & (renewal < end_day)
            acc = b.account_id[i]
            self.cols.add(
                "ground_truth", account_id=acc[inside],
                subscription_id=(acc * 1000 + self.dec_k[i] - 1)[inside],
                renewal_date=renewal[inside], decision_date=notice[inside],
                churn_proba=proba[inside], churned=churned[inside],
                primary_cause=cause[inside], cause_family=cause[inside],
                cause_at=cause_at[inside], segment=seg[inside],
                term_months=b.term[i][inside], health=self.z[i][inside])
            leave = i[churned]
            self.decided[leave] = True
            self.churn_k[leave] = self.dec_k[leave]
            self.decision_day[leave] = notice[churned]
            self.end_day[leave] = renewal[churned]
            self.shadow_k[leave] = self.dec_k[leave] + 1
            self.shadow_month[leave] = self.cal.month_of(
                self._renewal_day(leave, self.shadow_k[leave]) - spec.notice_days)
            stay = np.concatenate([idx[~drawn], i[~churned]])
            self.dec_k[stay] += 1
            self.dec_month[stay] = self.cal.month_of(
                self._renewal_day(stay, self.dec_k[stay]) - spec.notice_days)

    def _decides(self, i, notice):
        """Whether the renewals with notice date ``notice`` of accounts ``i`` are
        decided: onboarding renewals (notice before the first month) renew by default."""
        return notice >= self.book.created_day[i] + 30

    def _base_logit(self, i, renewal):
        """Decision log-odds of the renewals at ``renewal`` of accounts ``i`` apart from
        health and causes: segment, churn scale, monthly contract, first year."""
        b = self.book
        return (w.CHURN_INTERCEPT[b.segment[i]] + np.log(self.spec.churn_scale)
                + np.where(b.term[i] == 1, w.MONTHLY_OFFSET, 0.0)
                + np.where(renewal - b.created_day[i] <= 400, w.FIRST_YEAR_OFFSET, 0.0))

    def _decision_parts(self, i, renewal):
        """The decision log-odds of accounts ``i`` apart from the causes, and each
        cause's log-odds (K, len(i)) before any play."""
        rest = self._base_logit(i, renewal) - w.CHURN_HEALTH_SLOPE * self.z[i]
        return rest, GAMMA * self.intensity_lag[:, i]

    def _decision_proba(self, i, renewal):
        """Churn probability of the renewals at ``renewal`` of accounts ``i``, decided
        now, and each cause's log-odds (shape (K, len(i))), after the plays that treat
        them (:mod:`healthscore.sim.plays`)."""
        rest, contrib = self._decision_parts(i, renewal)
        if self.playbook is not None:
            contrib = contrib * self.playbook.keep_shares(i, self.t)
        return _sigmoid(rest + contrib.sum(axis=0)), contrib

    def _shadow_decide(self, t: int) -> None:
        """After a churn decision, the probabilities the later renewals' decisions would
        have had had the customer stayed (for the oracle; draws nothing)."""
        spec = self.spec
        ring = len(self.drawn_proba)
        still = self.end_day >= self.cal.start_day(t + 1)  # a customer at a later cutoff
        while True:
            idx = np.flatnonzero(self.decided & still & (self.shadow_month <= t))
            if len(idx) == 0:
                return
            renewal = self._renewal_day(idx, self.shadow_k[idx])
            proba, _ = self._decision_proba(idx, renewal)
            decides = self._decides(idx, renewal - spec.notice_days)
            self.drawn_proba[self.shadow_k[idx] % ring, idx] = np.where(decides, proba, 0.0)
            self.shadow_k[idx] += 1
            self.shadow_month[idx] = self.cal.month_of(
                self._renewal_day(idx, self.shadow_k[idx]) - spec.notice_days)

    def _oracle_state(self, t: int) -> tuple[np.ndarray, oracle.CutoffState]:
        """The customers at 00:00 of month ``t`` and what the oracle may know of them."""
        b, spec = self.book, self.spec
        day = int(self.cal.start_day(t))
        idx = np.flatnonzero((b.created_day < day) & (self.end_day >= day))
        col = idx[:, None]
        ks = self.cur[col] + 1 + np.arange(oracle.renewal_columns(spec.oracle_horizon_days))
        renewal = self._renewal_day(col, ks)
        undrawn = np.where(self.decided, self.shadow_k, self.dec_k)[idx]
        ring = len(self.drawn_proba)
        if np.any(undrawn - self.cur[idx] - 1 > ring):  # a bug, not user input
            raise RuntimeError("oracle: more drawn decisions pending than the ring holds")
        drawn = ks < undrawn[:, None]
        past = self.roster.bad_release_months[self.roster.bad_release_months < t]
        return idx, oracle.CutoffState(
            month=t, day=day, renewal_day=renewal,
            # Decisions due before the first simulated month are drawn in it.
            notice_month=np.maximum(self.cal.month_of(renewal - spec.notice_days),
                                    -spec.burn_in_months),
            base_logit=np.where(self._decides(col, renewal - spec.notice_days),
                                self._base_logit(col, renewal), np.nan),
            drawn_proba=np.where(drawn, self.drawn_proba[ks % ring, col], np.nan),
            segment=b.segment[idx], mu=b.mu[idx], z=self.z[idx],
            intensity=self.intensity[:, idx], intensity_lag=self.intensity_lag[:, idx],
            last_release=int(past.max()) if len(past) else None)

    def _emit_oracle(self, t: int) -> None:
        """The oracle's rows at 00:00 of month ``t`` (before anything of ``t``)."""
        idx, state = self._oracle_state(t)
        rng = np.random.default_rng(
            np.random.SeedSequence([self.spec.seed, 2, self.chunk_index, t]))
        risk_horizon, risk_next = oracle.score_cutoff(state, self.spec, random_state=rng)
        n = len(idx)
        extra = {}
        if self.spec.oracle_expansion_increase is not None:  # its own stream: the rest unchanged
            rng = np.random.default_rng(
                np.random.SeedSequence([self.spec.seed, 3, self.chunk_index, t]))
            extra["expansion_proba"] = expansion_oracle.expansion_cutoff(
                state, self._expansion_state(idx), self.spec, random_state=rng)
        self.cols.add("oracle", account_id=self.book.account_id[idx],
                      cutoff_time=np.full(n, state.day),
                      horizon_days=np.full(n, self.spec.oracle_horizon_days),
                      risk_horizon=risk_horizon, next_renewal_date=state.renewal_day[:, 0],
                      risk_next_renewal=risk_next, term_months=self.book.term[idx], **extra)

    def _expansion_state(self, idx: np.ndarray) -> expansion_oracle.ExpansionState:
        """The contracts of the customers ``idx`` at the cutoff, for the expansion oracle."""
        b = self.book
        ks = self.cur[idx, None] + 1 + np.arange(oracle.renewal_columns(self.spec.oracle_horizon_days))
        return expansion_oracle.ExpansionState(
            min_increase=self.spec.oracle_expansion_increase,
            renewal_month=b.a0[idx, None] + ks * b.term[idx, None], term=b.term[idx],
            seats=self.seats[idx].astype(np.float64), discount=b.discount[idx], mrr=self.mrr[idx],
            plan=self.plan[idx], pending_team=self.pending_team[idx], pending_cut=self.pending_cut[idx])

    def _renew(self, t: int) -> None:
        """Contracts ending in month ``t`` renew (new row, new seats) unless churned."""
        b, rng = self.book, self.rng
        nxt = self.cur + 1
        due = (b.a0 <= t) & (b.a0 + nxt * b.term == t)
        idx = np.flatnonzero(due & ~(self.decided & (self.churn_k == nxt)))
        if len(idx):
            z = np.clip(self.z[idx], -2, 2)
            team = self.pending_team[idx]
            budget = self.pending_cut[idx]
            self.pending_team[idx] = self.pending_cut[idx] = False
            n = len(idx)
            annual = b.term[idx] == 12
            change = np.where(annual, rng.normal(0.03 + 0.06 * z, 0.07),
                              np.where(rng.random(n) < 0.1, rng.normal(0.02 + 0.05 * z, 0.1),
                                       0.0))
            change = change + 0.25 * team - 0.35 * budget
            self.seats[idx] = np.clip(np.round(self.seats[idx] * np.exp(change)), 1, 5000)
            up = (z > 0.5) & (rng.random(n) < 0.06)
            down = budget & (rng.random(n) < 0.3)
            self.plan[idx] = np.clip(self.plan[idx] + up - down, 0, len(w.PLANS) - 1)
            self.mrr[idx] = self._price(idx)
            self.cur[idx] += 1
            self._emit_subscriptions(idx)
        self._emit_subscriptions(np.flatnonzero(b.is_new & (b.a0 == t)))

    # ------------------------------------------------------------- hidden state
    def _step(self, t: int):
        """Causes, good news and health for month ``t``; returns what observe needs."""
        b, rng = self.book, self.rng
        n = len(b.account_id)
        month_start, month_end = self.cal.start_day(t), self.cal.start_day(t + 1)
        length = month_end - month_start
        alive = (b.a0 <= t) & (self.end_day > month_start)
        struck_day = month_start + np.floor(rng.random((K, n)) * length).astype(np.int64)
        hazard = HAZARD[:, b.segment] * np.exp(-LINK * self.z)
        occurs = alive & (rng.random((K, n)) < hazard)
        hit_draw = rng.random(n)
        releases = np.flatnonzero(self.roster.bad_release_months == t)
        if len(releases):
            day = self.roster.bad_release_days[releases[0]]
            occurs[w.C["bad_release"]] = alive & (hit_draw < w.BAD_RELEASE_HIT_SHARE)
            struck_day[w.C["bad_release"]] = month_start + day + (hit_draw * 1e4).astype(int) % 4
        struck = np.where(occurs, struck_day, -1)
        if self.playbook is not None and 0 <= t < self.spec.months - 1:
            # the plays see a strike at the first of the next month, while a customer
            self.playbook.assign(t + 1, int(month_end), occurs & (self.end_day > month_end), self.cols)
        after = np.where(occurs, (month_end - struck_day) / length, 0.0)
        cause = DECAY * self.intensity + after
        self.intensity_lag = self.intensity
        self.intensity = DECAY * self.intensity + occurs
        self.last_struck_lag = self.last_struck
        self.last_struck = np.where(occurs, struck_day, self.last_struck)
        self.champion_gen += occurs[w.C["champion_left"]]
        if self.champions is not None:
            self.champions.record(occurs[w.C["champion_left"]], struck_day[w.C["champion_left"]])

        good_day = month_start + np.floor(rng.random((2, n)) * length).astype(np.int64)
        good_occurs = alive & (rng.random((2, n)) < GOOD[:, :1] * np.exp(0.4 * self.z))
        good = GOOD[:, 2:] * self.good + np.where(
            good_occurs, (month_end - good_day) / length, 0.0)
        self.good = GOOD[:, 2:] * self.good + good_occurs
        self.pending_cut |= occurs[w.C["budget_cut"]]
        self.pending_team |= good_occurs[0]
        eps = rng.standard_normal(n)
        self.z = b.mu + w.RHO * (self.z - b.mu) + w.SIGMA * eps
        health = self.z - (DELTA * cause).sum(axis=0) + (GOOD[:, 1:2] * good).sum(axis=0)
        return health, cause, struck, good, np.where(good_occurs, good_day, -1)

    # ---------------------------------------------------------------- observing
    def _observe(self, t: int, health, cause, struck, good, good_day) -> None:
        b = self.book
        month_start, month_end = self.cal.start_day(t), self.cal.start_day(t + 1)
        lo = np.maximum(month_start, b.created_day)
        hi = np.minimum(month_end, self.end_day)
        idx = np.flatnonzero((b.a0 <= t) & (hi > lo))
        billing = np.where((t - b.a0) % b.billing_months == 0, b.billing_months, 0)
        view = observe.MonthView(
            rng=self.rng, month=t, end_us=self.end_us, account_id=b.account_id[idx],
            segment=b.segment[idx], seats=self.seats[idx], mrr=self.mrr[idx], lo=lo[idx],
            hi=hi[idx], health=health[idx], cause=cause[:, idx], struck=struck[:, idx],
            good=good[:, idx], good_day=good_day[:, idx],
            wind_down=(self.decision_day < hi)[idx],
            invoice_day=(month_start + b.d0)[idx], invoice_months=billing[idx],
            net_days=b.net_days[idx], champion_gen=self.champion_gen[idx],
            event_scale=self.spec.event_scale)
        users = observe.emit_events(view, self.cols)
        observe.emit_tickets(view, users, self.cols)
        observe.emit_invoices(view, self.cols)
        observe.emit_surveys(view, users, self.cols)
        observe.emit_emails(view, self.cols)
        observe.emit_signals(view, self.cols)
        if self.hidden:
            extra = {f"cause_{c.name}": cause[k, idx] for k, c in enumerate(w.CAUSES)}
            self.cols.add("hidden", account_id=b.account_id[idx],
                          month=np.full(len(idx), month_start), z=self.z[idx],
                          health=health[idx], active_users=users, seats=view.seats,
                          wind_down=view.wind_down, **extra)

    def run(self, *, on_month: Callable[[], None] | None = None) -> Columns:
        """Simulate the burn-in and the window; returns the collected columns.
        ``on_month`` is called after each simulated month (the progress bar)."""
        with_oracle = self.spec.oracle_horizon_days is not None
        for t in range(-self.spec.burn_in_months, self.spec.months):
            self.t = t
            if with_oracle and t >= 0:
                self._emit_oracle(t)
            self._decide(t)
            if with_oracle:
                self._shadow_decide(t)
            if t >= 0:
                self._renew(t)
            state = self._step(t)
            if t >= 0:
                self._observe(t, *state)
            if on_month is not None:
                on_month()
        if self.champions is not None:
            people.emit_contacts(self.book.account_id, self.book.created_day, self.champions, self.cols)
        return self.cols


def hidden_frame(columns: Columns) -> pd.DataFrame:
    """The monthly hidden state (debug output): one row per active account-month."""
    arrays = columns.arrays("hidden")
    frame = pd.DataFrame(arrays)
    if frame.empty:
        return frame
    frame["month"] = pd.to_datetime(frame["month"].to_numpy() * DAY_US, unit="us")
    return frame
