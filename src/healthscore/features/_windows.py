"""Vectorised point-in-time window arithmetic shared by every feature source.

Everything here works on integer microseconds (``datetime64[us]`` viewed as int64)
and on *local* account codes ``0..n-1`` of one partition. The central trick: a row of
account ``a`` at time ``t`` gets the key ``a * stride + offset(t)``, so sorting rows by
key sorts them by (account, time) and ``np.searchsorted`` of a query key
``a * stride + offset(q)`` counts the account's rows with ``t < q`` (plus the rows of
the accounts before it, which cancel in every difference we take). Windows
``[q - w, q)`` are then rank differences, sums are prefix-sum differences, and "live"
rows (opened before ``q`` and not closed before ``q``: ``start < q <= end``) are counted
as ``#(start < q) - #(end < q)``.

Offsets are clipped to ``[lo, hi]``, where every query time lies strictly inside:
clipping preserves every comparison with a query time, keeps keys inside int64 and
makes "never" (NaT) the value ``hi``, later than every query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthscore.errors import DataError

DAY_US = 86_400_000_000
NAT = np.iinfo(np.int64).min
_MAX_KEY = np.iinfo(np.int64).max


def as_us(values) -> np.ndarray:
    """Timestamps as int64 microseconds (a view when possible); NaT becomes :data:`NAT`.

    The result may share memory with ``values``: treat it as read-only.
    """
    array = np.asarray(values)
    if array.dtype.kind != "M":
        array = pd.to_datetime(pd.Series(values)).to_numpy()
    return array.astype("datetime64[us]", copy=False).view(np.int64)


def cumsum0(values: np.ndarray, dtype=None) -> np.ndarray:
    """Prefix sums with a leading zero: ``out[i]`` = sum of ``values[:i]``.

    Counts default to int32 (much faster than int64 for flags) when they fit.
    """
    if dtype is None:
        dtype = np.int32 if len(values) < 2**31 - 1 else np.int64
    out = np.empty(len(values) + 1, dtype=dtype)
    out[0] = 0
    np.cumsum(values, dtype=dtype, out=out[1:])
    return out


def is_integral(values: np.ndarray) -> bool:
    """True when float sums of ``values`` are exact whatever the order of addition."""
    if values.dtype.kind in "iub":
        return True
    head = values[:65_536]  # a fraction in the first rows settles it without a full pass
    head = head[np.isfinite(head)]
    if not np.all(head == np.floor(head)):
        return False
    finite = values[np.isfinite(values)]
    return bool(np.all(finite == np.floor(finite)) and np.abs(finite).sum() < 2.0**52)


@dataclass(frozen=True)
class Clock:
    """Maps (local account code, time) to one sortable int64 key.

    Parameters
    ----------
    lo, hi : int
        Clip range in microseconds; every query threshold ``q - back`` must lie in
        ``(lo, hi)``.
    """

    lo: int
    hi: int

    @classmethod
    def for_queries(cls, times: np.ndarray, *, max_back_us: int) -> "Clock":
        """The clock for cutoff ``times`` looked back at most ``max_back_us``."""
        lo, hi = int(times.min()) - int(max_back_us) - 1, int(times.max()) + 1
        if hi - lo >= 2**62:
            raise DataError(f"cutoff times span {(hi - lo) / DAY_US / 365.25:,.0f} years "
                            f"(from {times.min().view('datetime64[us]')} to "
                            f"{times.max().view('datetime64[us]')}); expected less than 140,000")
        return cls(lo, hi)

    @property
    def stride(self) -> int:
        return self.hi - self.lo + 1

    def capacity(self) -> int:
        """How many accounts fit into one partition without overflowing the keys."""
        return max(1, _MAX_KEY // self.stride - 1)

    def offset(self, times: np.ndarray) -> np.ndarray:
        """Clipped offsets; NaT ("has not happened") maps to ``hi``."""
        out = np.clip(times, self.lo, self.hi)
        out[times == NAT] = self.hi
        out -= self.lo
        return out

    def key(self, code: np.ndarray, times: np.ndarray) -> np.ndarray:
        return code.astype(np.int64) * self.stride + self.offset(times)


@dataclass
class Queries:
    """The cutoff rows of one partition, sorted by (account, cutoff time).

    Attributes
    ----------
    code : ndarray of int64
        Local account code of each row (``0..n_accounts-1``).
    account : ndarray of int64
        Position of the account in the ``accounts`` table (for account attributes).
    time : ndarray of int64
        Cutoff time in microseconds.
    """

    code: np.ndarray
    account: np.ndarray
    time: np.ndarray
    clock: Clock
    n_accounts: int
    _keys: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.time)

    def key(self, back_us: int = 0) -> np.ndarray:
        """Keys of the thresholds ``cutoff - back_us`` (sorted, as the rows are)."""
        if back_us not in self._keys:
            self._keys[back_us] = self.clock.key(self.code, self.time - back_us)
        return self._keys[back_us]

    def start_key(self) -> np.ndarray:
        """Keys below every row of the account: ``searchsorted`` gives its first row."""
        return self.code * self.clock.stride


def sort_order(code: np.ndarray, times: np.ndarray, *, clock: Clock, n_accounts: int,
               tiebreak: np.ndarray | None = None) -> np.ndarray:
    """An order of rows by (account, true time); ties by ``tiebreak`` when given.

    The order follows the true times, not the clipped keys (rows before ``lo`` share
    one key but "the last row" and run gaps need their real order); the keys are
    sorted in it too. Input already sorted by time (the usual case for event logs) is
    ordered by a stable radix sort on the account code alone. The order is the one
    ``np.lexsort((tiebreak, times, code))`` gives (``np.lexsort((times, code))``
    without a tiebreak).
    """
    order = _stable_order(code, times, clock=clock, n_accounts=n_accounts)
    if tiebreak is not None:
        _order_ties(order, code[order], times[order], tiebreak)
    return order


def _order_ties(order: np.ndarray, code_sorted: np.ndarray, times_sorted: np.ndarray,
                tiebreak: np.ndarray) -> bool:
    """Reorder, in place, each run of rows with equal (account, time) in the stable
    ``order`` by ``tiebreak`` (stable), given code and times already in ``order``: the
    order ``np.lexsort((tiebreak, times, code))`` gives, at the cost of one pass when
    rows rarely share an instant. True when a run was found (``order`` changed)."""
    if len(order) < 2:
        return False
    c, t = code_sorted, times_sorted
    tie = np.empty(len(order), dtype=bool)  # tie[i]: row i shares the instant of row i - 1
    tie[0] = False
    np.logical_and(c[1:] == c[:-1], t[1:] == t[:-1], out=tie[1:])
    if not tie.any():
        return False
    member = tie.copy()
    member[:-1] |= tie[1:]
    at = np.flatnonzero(member)
    run = np.cumsum(~tie[at])
    rows = order[at]
    order[at] = rows[np.lexsort((tiebreak[rows], run))]
    return True


def _stable_order(code: np.ndarray, times: np.ndarray, *, clock: Clock, n_accounts: int) -> np.ndarray:
    """A stable order of rows by (account, true time): rows sharing an instant keep
    their input order."""
    if len(times) > 1 and _sorted_by_code_and_time(code, times):
        return np.arange(len(times))
    if n_accounts < 65_535 and len(times) and bool(np.all(times[1:] >= times[:-1])):
        return np.argsort(code.astype(np.uint16), kind="stable")
    if len(times) and times.min() > clock.lo and times.max() < clock.hi:
        # no clipping: key order is time order
        return np.argsort(clock.key(code, times), kind="stable")
    return np.lexsort((times, code))


def _sorted_by_code_and_time(code: np.ndarray, times: np.ndarray) -> bool:
    step = np.diff(code)
    if (step < 0).any():
        return False
    return bool(np.all((step > 0) | (times[1:] >= times[:-1])))


class TimeIndex:
    """The rows of one table in one partition, sorted by (account, time).

    Parameters
    ----------
    code, times : ndarray
        Local account code and event time (int64 us, no NaT) per row.
    queries : Queries
        The partition's cutoff rows.
    tiebreak : ndarray, optional
        Orders rows with equal (account, time), so that "the last value" and float
        sums do not depend on the input order.
    """

    def __init__(self, code: np.ndarray, times: np.ndarray, queries: Queries, *,
                 tiebreak: np.ndarray | None = None):
        clock = queries.clock
        order = _stable_order(code, times, clock=clock, n_accounts=queries.n_accounts)
        self.time, self.code = times[order], code[order]
        if tiebreak is not None and _order_ties(order, self.code, self.time, tiebreak):
            self.time, self.code = times[order], code[order]
        self.order = order
        self.key = clock.key(self.code, self.time)  # the keys in order, without a gather
        self.queries = queries
        self._ranks: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.key)

    def take(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one per input row) in sorted order."""
        return values[self.order]

    def rank(self, back_us: int = 0) -> np.ndarray:
        """Per query: index of the first row at or after ``cutoff - back_us``."""
        if back_us not in self._ranks:
            self._ranks[back_us] = np.searchsorted(self.key, self.queries.key(back_us))
        return self._ranks[back_us]

    def start(self) -> np.ndarray:
        """Per query: index of the account's first row."""
        if None not in self._ranks:
            self._ranks[None] = np.searchsorted(self.key, self.queries.start_key())
        return self._ranks[None]

    def count(self, back_us: int, end_back_us: int = 0) -> np.ndarray:
        """Rows in ``[cutoff - back_us, cutoff - end_back_us)``."""
        return (self.rank(end_back_us) - self.rank(back_us)).astype(np.float64)

    def last(self, values_sorted: np.ndarray, nth: int = 1) -> np.ndarray:
        """Per query: the ``nth`` latest value before the cutoff (NaN when none)."""
        index = self.rank(0) - nth
        ok = index >= self.start()
        out = np.full(len(index), np.nan)
        out[ok] = values_sorted[index[ok]]
        return out

    def summer(self, values: np.ndarray, *, integral: bool | None = None) -> "LocalPrefix":
        """Window sums of ``values`` (one per input row); ``integral`` if known."""
        return LocalPrefix(self.take(values), self.code, integral=integral)


class LocalPrefix:
    """Exact, partition-independent window sums of a float column.

    Integral values use one global prefix sum (exact). Other values use prefix sums
    that restart at every account, so a result depends only on the account's own rows.
    """

    def __init__(self, values_sorted: np.ndarray, code_sorted: np.ndarray, *,
                 integral: bool | None = None):
        values = np.asarray(values_sorted, dtype=np.float64)
        # A missing value adds nothing; left in, one NaN would poison the global prefix
        # sum, and so every later account's sums.
        values = np.where(np.isnan(values), 0.0, values)
        self.integral = is_integral(values) if integral is None else integral
        if self.integral:
            self.cs = cumsum0(values, dtype=np.float64)
        else:
            self.cs = pd.Series(values).groupby(code_sorted, sort=False).cumsum().to_numpy()

    def at(self, index: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Sum of the account's values before ``index`` (start: its first row)."""
        if self.integral:
            return self.cs[index] - self.cs[start]
        if len(self.cs) == 0:
            return np.zeros(len(index))
        return np.where(index > start, self.cs[np.maximum(index - 1, 0)], 0.0)


class Stab:
    """Counts and sums of the rows "live" at a query time: ``start < q <= end``.

    A row is live from just after ``start`` up to and including ``end``; NaT ``end``
    means "not yet" (live until the data says otherwise). Used for open tickets,
    unpaid invoices, active subscriptions and emails opened before the cutoff.
    """

    def __init__(self, code: np.ndarray, start: np.ndarray, end: np.ndarray,
                 queries: Queries, *, values: np.ndarray | None = None):
        clock = queries.clock
        kl, kr = clock.key(code, start), clock.key(code, end)
        keep = kl < kr
        if values is not None:
            values = np.asarray(values, dtype=np.float64)
            keep &= ~np.isnan(values)
        code, kl, kr = code[keep], kl[keep], kr[keep]
        self.queries = queries
        if values is None:
            self.left, self.right = np.sort(kl), np.sort(kr)
            self.sums = None
            return
        values = values[keep]
        tie = None if is_integral(values) else values
        ol = np.lexsort((tie, kl)) if tie is not None else np.argsort(kl, kind="stable")
        orr = np.lexsort((tie, kr)) if tie is not None else np.argsort(kr, kind="stable")
        self.left, self.right = kl[ol], kr[orr]
        self.sums = (LocalPrefix(values[ol], code[ol], integral=tie is None),
                     LocalPrefix(values[orr], code[orr], integral=tie is None))

    def _ranks(self, keys: np.ndarray, back_us: int):
        q = self.queries.key(back_us)
        return np.searchsorted(keys, q), np.searchsorted(keys, self.queries.start_key())

    def count(self, back_us: int = 0) -> np.ndarray:
        """Live rows at ``cutoff - back_us``."""
        q = self.queries.key(back_us)
        return (np.searchsorted(self.left, q) - np.searchsorted(self.right, q)).astype(float)

    def total(self, back_us: int = 0) -> np.ndarray:
        """Sum of the live rows' values at ``cutoff - back_us`` (0 when none)."""
        (il, sl), (ir, sr) = self._ranks(self.left, back_us), self._ranks(self.right, back_us)
        out = self.sums[0].at(il, sl) - self.sums[1].at(ir, sr)
        out[(il - sl) == (ir - sr)] = 0.0
        return out


def group_gaps(code: np.ndarray, group: np.ndarray, times: np.ndarray, *,
               missing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaps to the previous and next row of the same (account, group).

    Rows must be sorted by (account, time). Returns, per row, ``time - previous time``
    and ``next time - time`` within the group (int64 us; the int64 maximum when there
    is none). Rows flagged ``missing`` (no group value) get 0, so they never start or
    end a run.
    """
    n = len(times)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if missing is not None and not missing.any():
        missing = None
    if group.dtype.kind in "iu":
        few = _few_group_gaps(code, group, times, missing)
        if few is not None:
            return few
    if missing is not None and group.dtype.kind in "iu":
        group = np.where(missing, group.max() + 1, group)  # its own group, flags zeroed below
    if group.dtype.kind in "iu" and fits_u16(code) and fits_u16(group):
        order = np.argsort(group.astype(np.uint16), kind="stable")
        order = order[np.argsort(code[order].astype(np.uint16), kind="stable")]
    else:
        order = np.lexsort((group, code))
    c, g, t = code[order], group[order], times[order]
    same = np.empty(n, dtype=bool)
    same[0] = False
    np.logical_and(c[1:] == c[:-1], g[1:] == g[:-1], out=same[1:])
    gap = np.full(n, _MAX_KEY, dtype=np.int64)
    gap[1:][same[1:]] = (t[1:] - t[:-1])[same[1:]]
    prev = np.empty(n, np.int64)
    prev[order] = gap
    after = np.empty(n, np.int64)
    after[:-1] = gap[1:]
    after[-1] = _MAX_KEY
    nxt = np.empty(n, np.int64)
    nxt[order] = after
    if missing is not None and missing.any():
        prev[missing] = 0
        nxt[missing] = 0
    return prev, nxt


#: At most this many groups (e.g. event types) are gapped group by group, without a sort.
FEW_GROUPS = 16


def _few_group_gaps(code, group, times, missing):
    """:func:`group_gaps` for integer groups ``0..FEW_GROUPS-1`` (missing rows aside):
    each group's rows, taken in their (account, time) order, are the same neighbours a
    stable sort by (account, group) would give. None when the groups are not that few."""
    present = group if missing is None else np.where(missing, 0, group)
    if int(present.min()) < 0 or int(present.max()) >= FEW_GROUPS:
        return None
    n = len(times)
    prev = np.full(n, _MAX_KEY, dtype=np.int64)
    nxt = np.full(n, _MAX_KEY, dtype=np.int64)
    for value in range(int(present.max()) + 1):
        mine = group == value
        if missing is not None:
            mine &= ~missing
        rows = np.flatnonzero(mine)
        if len(rows) < 2:
            continue
        c, t = code[rows], times[rows]
        gap = np.where(c[1:] == c[:-1], t[1:] - t[:-1], _MAX_KEY)
        prev[rows[1:]] = gap
        nxt[rows[:-1]] = gap
    if missing is not None:
        prev[missing] = 0
        nxt[missing] = 0
    return prev, nxt


def fits_u16(values: np.ndarray) -> bool:
    """True when ``values`` can be radix-sorted as uint16 (all in ``0..65534``)."""
    return len(values) == 0 or (int(values.min()) >= 0 and int(values.max()) < 65_535)


def distinct_in_window(first_flags_cs: np.ndarray, last_flags_cs: np.ndarray,
                       rank_q: np.ndarray, rank_q_minus_w: np.ndarray) -> np.ndarray:
    """Distinct groups with a row in ``[q - w, q)`` from run flags.

    A group's rows, merged where consecutive rows are at most ``w`` apart, form runs
    live on ``(first, last + w]``; the count at ``q`` is the runs that started before
    ``q`` minus those that ended before ``q - w``. ``*_flags_cs`` are prefix sums (in
    time order) of "row starts a run" / "row ends a run".
    """
    return (first_flags_cs[rank_q] - last_flags_cs[rank_q_minus_w]).astype(np.float64)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is 0 or missing."""
    out = np.full(len(numerator), np.nan)
    ok = np.isfinite(denominator) & (denominator != 0)
    out[ok] = numerator[ok] / denominator[ok]
    return out

