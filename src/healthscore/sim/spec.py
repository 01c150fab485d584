"""What to simulate: :class:`SimulationSpec`, and the calendar it implies."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from healthscore.errors import ConfigError
from healthscore.sim.plays import PlayEffect

DAY_US = 86_400_000_000


@dataclass(frozen=True)
class SimulationSpec:
    """The size, window and knobs of one simulated data set.

    Parameters
    ----------
    n_accounts : int
        Accounts in the data: the installed base at ``start`` plus those acquired
        during the window (``new_account_share`` of them).
    months : int
        Length of the simulation window; it covers ``[start, start + months)``.
    seed : int
        The only source of randomness. Same spec, same bytes.
    start : str
        First day of the window, an ISO date on the first of a month.
    churn_scale : float
        Multiplies the odds of every renewal decision (1.0: about 13 % annual logo
        churn; 2.0 roughly doubles it).
    notice_days : int
        Customers decide whether to renew at ``renewal_date - notice_days`` (the
        notice date), from their hidden state and the causes that struck at least a
        month before; rows after it carry no information about the decision except
        a usage wind-down of accounts that decided to leave.
    new_account_share : float
        Share of ``n_accounts`` acquired during the window (spread evenly over it).
    segment_mix : tuple of 3 float
        Shares of SMB, Mid-Market and Enterprise accounts.
    event_scale : float
        Multiplies the number of product-usage rows (about 14 per account-month at 1).
    chunk_accounts : int
        Accounts per independently seeded chunk. Part of the spec: results depend on
        ``(seed, chunk_accounts)``; the default keeps memory bounded at any size.
    burn_in_months : int
        Months simulated before ``start`` (hidden state only, no rows) so that
        causes and health are in their steady state when the window opens.
    oracle_horizon_days : int or None
        ``None`` (default): no ``oracle`` table. A number of days (365 typical): also
        write ``oracle``, the true churn risk over that horizon of every customer at
        every first-of-month cutoff (:mod:`healthscore.sim.oracle`). It draws from
        its own stream, so every other table is unchanged; it costs a Monte Carlo
        run per cutoff, hence opt-in.
    oracle_expansion_increase : float or None
        ``None`` (default): the oracle as without the option. A share (0.10 typical,
        ``expansion.min_increase`` of ``params.yaml``): the oracle table also has
        ``expansion_proba``, the true probability that the MRR rises by at least that
        share within ``oracle_horizon_days`` without the account being lost
        (:mod:`healthscore.sim.expansion_oracle`); needs ``oracle_horizon_days``. Its
        own stream: every other column and table is unchanged.
    plays : tuple of PlayEffect
        Plays applied with a known true effect per cause, with hold-outs assigned like
        the real plays' (:mod:`healthscore.sim.plays`); empty (default): none, and
        every table is as without the option.
    parents_share : float
        Share of the accounts grouped under parent accounts (0, default: none, and
        every table is as without the option). Grouped accounts form families of 2 to
        :data:`~healthscore.sim.world.PARENT_FAMILY_MAX` accounts of one chunk; the
        first of each family is the parent (an account with its own contract), the
        others name it in ``accounts.parent_account_id``. Every member shares one
        draw of a shift of its long-run hidden health (sd
        :data:`~healthscore.sim.world.PARENT_SHOCK_SD`): a customer's subsidiaries
        thrive or struggle together. Drawn from its own stream.
    contacts : bool
        Also write ``contacts``: each account's champion (the champion's seat, see
        :mod:`healthscore.sim.observe`) and executive sponsor, a departed champion with
        ``left_at`` and the new one with ``started_at`` (:mod:`healthscore.sim.people`).
        Drawn from nothing random, so every other table is unchanged; off (default):
        no table, and the README is as without the option.
    """

    n_accounts: int = 2000
    months: int = 24
    seed: int = 0
    start: str = "2023-01-01"
    churn_scale: float = 1.0
    notice_days: int = 90
    new_account_share: float = 0.25
    segment_mix: tuple[float, float, float] = (0.6, 0.3, 0.1)
    event_scale: float = 1.0
    chunk_accounts: int = 5000
    burn_in_months: int = 12
    oracle_horizon_days: int | None = None
    oracle_expansion_increase: float | None = None
    plays: tuple[PlayEffect, ...] = ()
    parents_share: float = 0.0
    contacts: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "plays", tuple(self.plays))
        for play in self.plays:
            if not isinstance(play, PlayEffect):
                raise ConfigError(f"simulation spec: plays holds {play!r}, expected PlayEffect objects")
            play.check()
        names = [p.name for p in self.plays]
        if len(set(names)) != len(names):
            raise ConfigError(f"simulation spec: plays need distinct names, got {names}")
        checks = [
            (self.n_accounts >= 1, "n_accounts", "an integer >= 1"),
            (1 <= self.months <= 240, "months", "an integer in 1..240"),
            (self.churn_scale > 0, "churn_scale", "a number > 0"),
            (0 <= self.notice_days <= 365, "notice_days", "an integer in 0..365"),
            (0 <= self.new_account_share <= 1, "new_account_share", "a share in [0, 1]"),
            (len(self.segment_mix) == 3 and min(self.segment_mix) >= 0
             and sum(self.segment_mix) > 0, "segment_mix", "3 non-negative shares"),
            (self.event_scale > 0, "event_scale", "a number > 0"),
            (self.chunk_accounts >= 1, "chunk_accounts", "an integer >= 1"),
            (self.burn_in_months >= 0, "burn_in_months", "an integer >= 0"),
            (0 <= self.parents_share <= 1, "parents_share", "a share in [0, 1]"),
            (self.oracle_horizon_days is None
             or (isinstance(self.oracle_horizon_days, (int, np.integer))
                 and not isinstance(self.oracle_horizon_days, bool)
                 and 1 <= self.oracle_horizon_days <= 3660),
             "oracle_horizon_days", "None or an integer in 1..3660"),
            (self.oracle_expansion_increase is None
             or (self.oracle_horizon_days is not None
                 and isinstance(self.oracle_expansion_increase, (int, float, np.floating))
                 and not isinstance(self.oracle_expansion_increase, bool)
                 and 0 < self.oracle_expansion_increase <= 10),
             "oracle_expansion_increase",
             "None or a share in (0, 10] with oracle_horizon_days set"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ConfigError(
                    f"simulation spec: {name}={getattr(self, name)!r}, expected {expected}"
                )
        try:
            day = np.datetime64(self.start, "D")
        except ValueError:
            raise ConfigError(
                f"simulation spec: start={self.start!r}, expected an ISO date like 2023-01-01"
            ) from None
        if day != day.astype("datetime64[M]").astype("datetime64[D]"):
            raise ConfigError(
                f"simulation spec: start={self.start!r}, expected the first day of a month"
            )

    def to_dict(self) -> dict:
        """The spec as plain JSON-ready values.

        ``oracle_horizon_days`` (``oracle_expansion_increase``, ``contacts``) appears only when set, so a simulation without the
        oracle writes the same README as before the option existed.
        """
        out = dataclasses.asdict(self)
        out["segment_mix"] = list(self.segment_mix)
        if self.oracle_horizon_days is None:
            del out["oracle_horizon_days"]
        if self.oracle_expansion_increase is None:
            del out["oracle_expansion_increase"]
        if self.plays:
            out["plays"] = [p.to_dict() for p in self.plays]
        else:
            del out["plays"]
        if not self.parents_share:
            del out["parents_share"]
        if not self.contacts:
            del out["contacts"]
        return out

    @property
    def end(self) -> np.datetime64:
        """Exclusive end of the window (day precision)."""
        return (np.datetime64(self.start, "M") + self.months).astype("datetime64[D]")


class Calendar:
    """Month boundaries as integer days since 1970-01-01.

    Month index 0 is the month of ``start``; negative indices are before the window.
    """

    def __init__(self, start: str, first: int, last: int) -> None:
        self.base = np.datetime64(start, "M")
        self.first = first
        months = np.arange(first, last + 2)
        self._starts = (self.base + months).astype("datetime64[D]").astype(np.int64)

    def start_day(self, month) -> np.ndarray:
        """First day of ``month`` (scalar or array of month indices)."""
        month = np.asarray(month)
        inside = (month >= self.first) & (month - self.first < len(self._starts))
        if np.all(inside):
            return self._starts[month - self.first]
        return (self.base + month.astype(np.int64)).astype("datetime64[D]").astype(np.int64)

    def month_of(self, day) -> np.ndarray:
        """Month index containing integer ``day``."""
        months = np.asarray(day).astype("datetime64[D]").astype("datetime64[M]")
        return (months - self.base).astype(np.int64)
