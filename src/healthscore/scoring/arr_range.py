"""ARR at risk: the ARR a portfolio can expect to lose, and the range around it.

Each account ``i`` is lost with its calibrated probability ``p_i`` (``risk_proba``),
independently of the others, and then loses its whole ARR ``a_i``. The ARR lost is
``sum_i a_i * Bernoulli(p_i)`` (a weighted Poisson-binomial variable) and the number of
accounts lost is ``sum_i Bernoulli(p_i)`` (a Poisson-binomial variable).

* :func:`arr_at_risk`: per group and in total, the expected ARR and accounts lost
  (exact) and the central ``level`` range of each (the count exactly, the ARR by seeded
  Monte Carlo).
* :func:`arr_at_risk_groups`: the same for several groupings at once (the book, per
  segment, per owner), every table from one set of draws.
* :func:`interval_coverage`: the share of realised outcomes inside their range, to
  check the ranges against what happened.
* :func:`describe_range`: ``$1.2M expected (80% range $900k–$1.5M)``, in the
  money words (:func:`healthscore.features.phrases.money`).

Quantile rule (both distributions are discrete): the ``q`` quantile is the lowest value
whose cumulative probability is at least ``q``; the range is the ``(1 - level) / 2`` and
``(1 + level) / 2`` quantiles, both ends included, so it holds at least ``level`` of the
probability (exactly for the count, up to Monte Carlo error for the ARR).

Random numbers (why the draws do not depend on ``chunk_accounts`` or on the groups):
accounts are taken in frame order and cut into fixed blocks of :data:`STREAM_BLOCK`
accounts; block ``b`` draws its ``STREAM_BLOCK x n_draws`` uniforms from its own PCG64
stream, ``SeedSequence(random_state, spawn_key=(b,))`` (the ``b``-th child of
``SeedSequence(random_state).spawn``). A chunk is a whole number of blocks, each block's
ARR lost is summed per group (a sparse product) and blocks are added in order, so every
sum is done in the same order whatever the chunk: the results are bit-for-bit the same.
Every grouping of :func:`arr_at_risk_groups` reads the same draws, so the total row is
the same in each table. The draws do change when the frame's rows are reordered (other
accounts get other streams), as any Monte Carlo keyed by position would.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
from numpy.typing import ArrayLike

from healthscore.errors import DataError, SchemaError
from healthscore.features.phrases import money
from healthscore.scoring.wording import percent
from healthscore.scoring.poisson_binomial import convolve_all, count_distribution, count_quantile, trim

#: ``group`` of the row over every account (the only row when ``by`` is None).
TOTAL = "all"

#: Accounts per random stream. Fixed, so that the draws do not depend on the chunking.
STREAM_BLOCK = 256

#: Runs of whole blocks summed at once (in threads), then added in order. Fixed, so
#: that the sums do not depend on the machine.
LANES = 2

#: Columns of :func:`arr_at_risk`'s result, in order.
ARR_RANGE_COLUMNS = (
    "group", "accounts", "arr", "expected_arr_lost", "arr_lost_low", "arr_lost_high",
    "expected_accounts_lost", "accounts_lost_low", "accounts_lost_high",
)


def arr_at_risk(
    frame: pd.DataFrame,
    *,
    arr: str = "arr",
    risk: str = "risk_proba",
    by: str | None = None,
    level: float = 0.8,
    n_draws: int = 4000,
    random_state: int = 0,
    chunk_accounts: int = 1024,
    logit_sd: float = 0.0,
) -> pd.DataFrame:
    """Expected ARR and accounts lost, and their central ``level`` range, per group.

    Parameters
    ----------
    frame : DataFrame
        One row per account, with an ARR column (currency units, finite, >= 0) and a
        calibrated churn probability column (in [0, 1]); accounts are independent.
    arr : str
        Column of the ARR lost when the account churns.
    risk : str
        Column of the churn probability, ``risk_proba``.
    by : str or None
        Column to group by (no missing values, no group named :data:`TOTAL`); None
        gives the total row only.
    level : float
        Probability held by each range, in (0, 1); 0.8 gives the 10 % and 90 %
        quantiles.
    n_draws : int
        Monte Carlo draws of the portfolio for the ARR range (the count range is
        exact and uses none). The ends' Monte Carlo error is about
        ``sqrt(q (1 - q) / n_draws)`` in probability: 0.005 for 4000 draws at q = 0.1.
    random_state : int
        Seed (>= 0) of the draws; the same frame and seed give the same result.
    chunk_accounts : int
        Accounts drawn at once, rounded down to a multiple of :data:`STREAM_BLOCK`
        (at least one block). A memory knob only: the result does not depend on it.
        The draws take about ``9 * chunk * n_draws`` bytes (37 MB at the default
        and 4000 draws) on top of ``8 * (groups + 1) * n_draws`` for the sums.
    logit_sd : float
        Uncertainty of the calibration's level on this date, as the standard deviation
        of a shift of every account's logit shared by the whole book in each draw (a
        bad release, a market turn, a model whose level drifted: what makes losses move
        together). 0 (default): accounts are independent and the count range is exact;
        above 0 both ranges come from the draws. A model's own figure is
        ``Calibrator.level_sd``, measured on windows it was not fitted on.

    Returns
    -------
    DataFrame
        :data:`ARR_RANGE_COLUMNS`, one row per group (sorted) and a last row whose
        ``group`` is :data:`TOTAL` over every account; with ``by=None`` only that
        row. ``accounts``: accounts in the group; ``arr``: their ARR;
        ``expected_arr_lost``: ``sum a_i p_i``; ``arr_lost_low``/``_high``: the range
        of the ARR lost (Monte Carlo, quantile rule of the module); ``expected_accounts_lost``:
        ``sum p_i``; ``accounts_lost_low``/``_high``: the exact range of the count.
        The total row's ARR range comes from the same draws as the groups', summed
        draw by draw; the ranges of groups do not add up to the total's (only the
        expected values do).

    Raises
    ------
    SchemaError
        A column named is missing.
    DataError
        ARR missing, infinite or negative; probability missing or outside [0, 1];
        group missing or named :data:`TOTAL`. The message names the column, the count
        of rows and an example row.
    ValueError
        An option is out of range.

    Notes
    -----
    The count distribution is the product of the polynomials ``(1 - p_i) + p_i z``,
    multiplied pairwise in a balanced tree (directly for small degrees, by FFT above),
    after setting aside accounts with ``p`` 0 (never lost) or 1 (always lost): exact up
    to floating-point rounding, O(n log^2 n) time and O(n) memory for the largest
    group. The total is the convolution of the groups' distributions, each trimmed of
    tails below 1e-15. The ARR range is Monte Carlo over the same accounts; its memory
    is O(groups x n_draws + chunk x n_draws) whatever the number of accounts.
    """
    return arr_at_risk_groups(frame, arr=arr, risk=risk, by=(by,), level=level, n_draws=n_draws,
                              random_state=random_state, chunk_accounts=chunk_accounts,
                              logit_sd=logit_sd)[0]


def arr_at_risk_groups(
    frame: pd.DataFrame,
    *,
    by: Sequence[str | None],
    arr: str = "arr",
    risk: str = "risk_proba",
    level: float = 0.8,
    n_draws: int = 4000,
    random_state: int = 0,
    chunk_accounts: int = 1024,
    logit_sd: float = 0.0,
) -> list[pd.DataFrame]:
    """:func:`arr_at_risk` of each grouping of ``by``, one table each, in order, all
    from the same draws: the book's portfolio is drawn once, whatever the number of
    groupings, and the total row is the same in every table. The other parameters,
    the columns and the errors are :func:`arr_at_risk`'s."""
    _check_options(level=level, n_draws=n_draws, random_state=random_state,
                   chunk_accounts=chunk_accounts)
    if not (np.isfinite(logit_sd) and logit_sd >= 0):
        raise ValueError(f"arr_at_risk: logit_sd must be a finite number >= 0, got {logit_sd!r}")
    amounts = _amounts(frame, arr)
    proba = _probabilities(frame, risk)
    groupings = [_groups(frame, column) for column in by]
    total_codes = np.zeros(len(frame), dtype=np.int64)
    draws = _simulate_losses(amounts, proba, [total_codes, *(codes for codes, _ in groupings)],
                             [1, *(len(labels) for _, labels in groupings)], n_draws=n_draws,
                             random_state=random_state, chunk_accounts=chunk_accounts,
                             logit_sd=float(logit_sd))
    low_q, high_q = (1 - level) / 2, (1 + level) / 2
    (total_losses, total_lost), *group_draws = draws

    tables = []
    for column, (codes, labels), (losses, lost_counts) in zip(by, groupings, group_draws):
        rows, counts = [], []
        if column is not None:
            order = np.argsort(codes, kind="stable")
            starts = np.searchsorted(codes[order], np.arange(len(labels) + 1))
            for g, label in enumerate(labels):
                members = order[starts[g]:starts[g + 1]]
                a, p = amounts[members], proba[members]
                counts.append(count_distribution(p) if logit_sd == 0 else lost_counts[g])
                rows.append(_row(label, a, p, losses[g], counts[-1], low_q, high_q))
        if logit_sd > 0:
            total_count = total_lost[0]
        elif column is None:
            total_count = count_distribution(proba)
        else:  # the groups' exact distributions convolved
            total_count = convolve_all([trim(*c) for c in counts])
        rows.append(_row(TOTAL, amounts, proba, total_losses[0], total_count, low_q, high_q))
        tables.append(pd.DataFrame(rows, columns=list(ARR_RANGE_COLUMNS)))
    return tables


def interval_coverage(realised: ArrayLike, low: ArrayLike, high: ArrayLike) -> float:
    """Share of cases whose realised value lies in its range, ends included.

    Parameters
    ----------
    realised, low, high : array-like of float
        What happened, and the range given for it beforehand, case by case; the three
        broadcast together (a scalar ``low`` or ``high`` is one range for every case).

    Returns
    -------
    float
        ``mean(low <= realised <= high)``, in [0, 1].

    Raises
    ------
    ValueError
        The shapes do not broadcast, there are no cases, a value is missing, or
        ``low > high``.
    """
    arrays = [np.asarray(v, dtype=float) for v in (realised, low, high)]
    try:
        x, lo, hi = np.broadcast_arrays(*arrays)
    except ValueError:
        raise ValueError(f"interval_coverage: realised, low and high have shapes "
                         f"{[v.shape for v in arrays]}, which do not broadcast") from None
    if x.size == 0:
        raise ValueError("interval_coverage: no cases")
    if np.isnan(x).any() or np.isnan(lo).any() or np.isnan(hi).any():
        raise ValueError("interval_coverage: missing values in realised, low or high")
    if (lo > hi).any():
        raise ValueError(f"interval_coverage: {int((lo > hi).sum())} case(s) with low > high")
    return float(np.mean((lo <= x) & (x <= hi)))


def describe_range(
    expected: float, low: float, high: float, *, level: float = 0.8, currency: str = "$"
) -> str:
    """``$1.2M expected (80% range $0.9M–$1.5M)``, in the report's compact money.

    Parameters
    ----------
    expected, low, high : float
        Amounts in currency units, e.g. a row's ``expected_arr_lost``,
        ``arr_lost_low`` and ``arr_lost_high``.
    level : float
        Probability of the range, as given to :func:`arr_at_risk`.
    currency : str
        Symbol put before each amount.
    """
    span = range_words(low, high, currency=currency)
    return f"{money(expected, symbol=currency, compact=True)} expected ({percent(level)} range {span})"


def range_words(low: float, high: float, *, currency: str = "$") -> str:
    """``$0.9M–$1.5M`` (one amount when both ends read the same), in compact money."""
    ends = [money(v, symbol=currency, compact=True) for v in (low, high)]
    return ends[0] if ends[0] == ends[1] else f"{ends[0]}\u2013{ends[1]}"


# -- inputs -----------------------------------------------------------------------


def _check_options(*, level: float, n_draws: int, random_state: int, chunk_accounts: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"arr_at_risk: level must be in (0, 1), got {level!r}")
    for name, value, least in (("n_draws", n_draws, 1), ("random_state", random_state, 0),
                               ("chunk_accounts", chunk_accounts, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"arr_at_risk: {name} must be an integer >= {least}, got {value!r}")


def _column(frame: pd.DataFrame, name: str, what: str) -> pd.Series:
    if name not in frame.columns:
        raise SchemaError(f"arr_at_risk: column {name!r} ({what}) is missing; "
                          f"columns are {', '.join(map(str, frame.columns))}")
    return frame[name]


def _numeric(frame: pd.DataFrame, name: str, what: str) -> np.ndarray:
    column = _column(frame, name, what)
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise DataError(f"arr_at_risk: column {name!r} ({what}) has dtype {column.dtype}; "
                        f"expected numbers")
    return column.to_numpy(dtype=float, na_value=np.nan)


def _refuse(frame: pd.DataFrame, name: str, bad: np.ndarray, problem: str, expected: str) -> None:
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    example = f"row {_plain(frame.index[first])!r}"
    if "account_id" in frame.columns and name != "account_id":
        example += f" (account_id={_plain(frame['account_id'].iloc[first])!r})"
    value = _plain(frame[name].iloc[first])
    raise DataError(f"arr_at_risk: column {name!r} has {int(bad.sum())} row(s) {problem} "
                    f"(expected {expected}); e.g. {example}: {name}={value!r}")


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, so that messages read ``5``, not ``np.int64(5)``."""
    return value.item() if isinstance(value, np.generic) else value


def _amounts(frame: pd.DataFrame, arr: str) -> np.ndarray:
    values = _numeric(frame, arr, "ARR")
    _refuse(frame, arr, ~np.isfinite(values) | (values < 0),
            "missing, infinite or negative", "a finite amount >= 0")
    return values


def _probabilities(frame: pd.DataFrame, risk: str) -> np.ndarray:
    values = _numeric(frame, risk, "churn probability")
    _refuse(frame, risk, ~np.isfinite(values) | (values < 0) | (values > 1),
            "missing or outside [0, 1]", "a probability in [0, 1]")
    return values


def _groups(frame: pd.DataFrame, by: str | None) -> tuple[np.ndarray, list[Any]]:
    """Group code of each row (0..G-1) and the G labels, sorted where they sort."""
    if by is None:
        return np.zeros(len(frame), dtype=np.int64), [TOTAL]
    column = _column(frame, by, "group")
    _refuse(frame, by, column.isna().to_numpy(), "missing", "a group for every account")
    try:
        codes, uniques = pd.factorize(column, sort=True)
    except TypeError:  # mixed types that do not sort: first seen first
        codes, uniques = pd.factorize(column, sort=False)
    labels = list(uniques)
    _refuse(frame, by, (column.astype(str) == TOTAL).to_numpy(),
            f"named {TOTAL!r}, the name of the total row", "another group name")
    return codes.astype(np.int64), labels


# -- the count lost: exact ----------------------------------------------------------


def _simulate_losses(
    amounts: np.ndarray, proba: np.ndarray, groupings: Sequence[np.ndarray], sizes: Sequence[int], *,
    n_draws: int, random_state: int, chunk_accounts: int, logit_sd: float = 0.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """ARR lost and accounts lost per group and draw, shapes (groups, n_draws), for each
    grouping (group codes of the accounts, in frame order, and the number of groups).
    With ``logit_sd``, each draw shifts every logit by one shared normal draw (its own
    seeded stream); without, the counts per draw are not needed and stay 0."""
    out = [(np.zeros((size, n_draws)), np.zeros((size, n_draws))) for size in sizes]
    n = len(amounts)
    if n == 0:
        return out
    shift = None
    if logit_sd > 0:
        level = np.random.SeedSequence(random_state, spawn_key=(2**32 - 1,))
        shift = np.random.Generator(np.random.PCG64(level)).normal(0.0, logit_sd, n_draws)
        with np.errstate(divide="ignore"):
            base = (np.log(proba) - np.log1p(-proba)).astype(np.float32)
        shift = shift.astype(np.float32)
    step = max(chunk_accounts // STREAM_BLOCK, 1) * STREAM_BLOCK
    chances = proba.astype(np.float32)

    def lane(first: int, last: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The sums over the accounts first..last - 1 (whole blocks), block by block."""
        sums = [(np.zeros((size, n_draws)), np.zeros((size, n_draws))) for size in sizes]
        # the uniforms and the lost flags in single precision (far finer than the Monte
        # Carlo error); the amounts and their sums in double, so no sum exceeds its ARR
        uniforms = np.empty((min(step, max(last - first, 0)), n_draws), dtype=np.float32)
        lost = np.empty(uniforms.shape, dtype=np.float32)
        arr_lost = np.empty(uniforms.shape, dtype=np.float64)
        for start in range(first, last, step):
            stop = min(start + step, last)
            u, hit = uniforms[: stop - start], lost[: stop - start]
            for block_start in range(start, stop, STREAM_BLOCK):
                seed = np.random.SeedSequence(random_state, spawn_key=(block_start // STREAM_BLOCK,))
                rows = slice(block_start - start, min(block_start + STREAM_BLOCK, stop) - start)
                np.random.Generator(np.random.PCG64(seed)).random(out=u[rows], dtype=np.float32)
            if shift is None:
                np.less(u, chances[start:stop, None], out=hit, casting="unsafe")
            else:
                chance = np.add(base[start:stop, None], shift[None, :], out=hit)
                np.negative(chance, out=chance)
                np.exp(chance, out=chance)
                chance += 1.0
                np.reciprocal(chance, out=chance)  # sigmoid(base + shift), in place
                np.less(u, chance, out=hit, casting="unsafe")
            weighted = np.multiply(hit, amounts[start:stop, None], out=arr_lost[: stop - start])  # a_i if lost
            for block_start in range(start, stop, STREAM_BLOCK):
                cols = slice(block_start, min(block_start + STREAM_BLOCK, stop))
                rows = slice(cols.start - start, cols.stop - start)
                for codes, (losses, lost_counts) in zip(groupings, sums):
                    # the block's groups, one sparse row each: their sums in one product
                    present, local = np.unique(codes[cols], return_inverse=True)
                    members = scipy.sparse.csr_matrix(
                        (np.ones(local.size), (local, np.arange(local.size))), shape=(present.size, local.size))
                    losses[present] += members @ weighted[rows]
                    if shift is not None:
                        lost_counts[present] += members.astype(np.float32) @ hit[rows]
        return sums

    # LANES fixed runs of whole blocks, each summed in its own thread (the draws, the
    # comparisons and the sparse sums run outside the interpreter's lock), then added
    # in lane order: the same sums whatever the chunk or the machine
    blocks = -(-n // STREAM_BLOCK)
    cuts = [min(n, -(-blocks * k // LANES) * STREAM_BLOCK) for k in range(LANES + 1)]
    with ThreadPoolExecutor(max_workers=LANES) as pool:
        lanes = list(pool.map(lambda k: lane(cuts[k], cuts[k + 1]), range(LANES)))
    for sums in lanes:
        for (losses, lost_counts), (more_losses, more_counts) in zip(out, sums):
            losses += more_losses
            lost_counts += more_counts
    return out


def _row(label: Any, a: np.ndarray, p: np.ndarray, draws: np.ndarray,
         count: Any, low_q: float, high_q: float) -> dict[str, Any]:
    """``count``: the exact count distribution, or (shared shift) the count per draw."""
    low, high = np.quantile(draws, [low_q, high_q], method="inverted_cdf")
    if isinstance(count, np.ndarray):
        c_low, c_high = (int(v) for v in np.quantile(count, [low_q, high_q], method="inverted_cdf"))
    else:
        c_low, c_high = count_quantile(count, low_q), count_quantile(count, high_q)
    return {
        "group": label,
        "accounts": int(a.size),
        "arr": float(a.sum()),
        "expected_arr_lost": float(a @ p),
        "arr_lost_low": float(low),
        "arr_lost_high": float(high),
        "expected_accounts_lost": float(p.sum()),
        "accounts_lost_low": c_low,
        "accounts_lost_high": c_high,
    }
