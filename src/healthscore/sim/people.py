"""The simulated ``contacts`` table: who holds the champion's seat, and the sponsor.

Written only when the spec asks for it (``SimulationSpec.contacts``). Nothing here draws
a random number, so every other table is byte-identical with or without it. Seat 0 is
the champion's (:func:`healthscore.sim.observe._user_ids`): the first champion is user
``account_id * 10_000 + 1`` from the account's creation; when a champion leaves (the
``champion_left`` cause strikes on day ``d``) the row gets ``left_at = d`` and the heir,
user ``account_id * 10_000 + 5_000 + generation``, starts on ``d``. The executive
sponsor, user ``account_id * 10_000 + 9_999``, never uses the product and never leaves.
Names and e-mails are made from the ids.
"""

from __future__ import annotations

import numpy as np

from healthscore.sim import world as w
from healthscore.sim.tables import Columns

#: User id of the sponsor within the account's block of 10,000 ids.
SPONSOR_SLOT = 9_999


class ChampionLog:
    """Champion departures as the engine draws them: (account position, day)."""

    def __init__(self) -> None:
        self._acc: list[np.ndarray] = []
        self._day: list[np.ndarray] = []

    def record(self, left: np.ndarray, struck_day: np.ndarray) -> None:
        """``left``: bool per account (a champion left this month) on ``struck_day``."""
        idx = np.flatnonzero(left)
        self._acc.append(idx)
        self._day.append(struck_day[idx])

    def departures(self) -> tuple[np.ndarray, np.ndarray]:
        acc = np.concatenate(self._acc) if self._acc else np.zeros(0, np.int64)
        day = np.concatenate(self._day) if self._day else np.zeros(0, np.int64)
        order = np.lexsort((day, acc))
        return acc[order], day[order]


def _names(user_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mix = (user_id.astype(np.uint64) * np.uint64(2_654_435_761)) % np.uint64(2**32)  # Knuth's hash
    first = np.array(w.CSM_FIRST)[(mix % np.uint64(len(w.CSM_FIRST))).astype(np.int64)]
    last = np.array(w.CSM_LAST)[((mix // np.uint64(97)) % np.uint64(len(w.CSM_LAST))).astype(np.int64)]
    name = np.char.add(np.char.add(first, " "), last)
    email = np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last))
    email = np.char.add(np.char.add(email, "@customer-"), (user_id // 10_000).astype(str))
    return name, np.char.add(email, ".example")


def emit_contacts(account_id: np.ndarray, created_day: np.ndarray, log: ChampionLog,
                  cols: Columns) -> None:
    """Every account's champions (one row per generation) and its sponsor."""
    acc, day = log.departures()
    day = np.maximum(day, created_day[acc])  # a strike in the month of creation: not before it
    n = len(account_id)
    # generation g of account i: g = 0 from creation, g >= 1 from its g-th departure
    gen = np.arange(len(acc)) - np.searchsorted(acc, acc) + 1
    champ_acc = np.concatenate([np.arange(n), acc])
    champ_gen = np.concatenate([np.zeros(n, np.int64), gen])
    started = np.concatenate([created_day, day])
    order = np.lexsort((champ_gen, champ_acc))
    champ_acc, champ_gen, started = champ_acc[order], champ_gen[order], started[order]
    left = np.full(len(champ_acc), -1, np.int64)
    same = champ_acc[1:] == champ_acc[:-1]
    left[:-1] = np.where(same, started[1:], -1)
    base = account_id[champ_acc] * 10_000
    user = np.where(champ_gen > 0, base + 5_000 + np.minimum(champ_gen, 4_999), base + 1)
    sponsor = account_id * 10_000 + SPONSOR_SLOT
    users = np.concatenate([user, sponsor])
    name, email = _names(users)
    cols.add("contacts", account_id=np.concatenate([account_id[champ_acc], account_id]),
             user_id=users,
             role=np.array(["champion"] * len(user) + ["executive_sponsor"] * n, dtype=object),
             name=name, email=email, started_at=np.concatenate([started, created_day]),
             left_at=np.concatenate([left, np.full(n, -1, np.int64)]))
