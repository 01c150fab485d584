"""The exact distribution of the number of accounts lost (a Poisson-binomial: independent
accounts, each lost with its own probability), by the product of the polynomials
``(1 - p_i) + p_i z`` multiplied pairwise (FFT for the long ones), and its quantiles.
Used by :func:`healthscore.scoring.arr_range.arr_at_risk` for the count's range."""

from __future__ import annotations

import numpy as np

# The count's CDF comes from floating-point convolutions (absolute error ~1e-13); a
# bound could only move where the exact CDF lies within this slack of q.
_CDF_SLACK = 1e-9
# Probability mass dropped from each tail of a group's count distribution before the
# groups are convolved into the total: far below the CDF's own rounding error.
_TAIL = 1e-15
# Below this width polynomials are multiplied directly; above it through the FFT.
_DIRECT_WIDTH = 32


def count_distribution(p: np.ndarray) -> tuple[int, np.ndarray]:
    """``(offset, pmf)``: P(count = offset + k) = pmf[k], for independent Bernoulli(p)."""
    sure = int(np.count_nonzero(p >= 1))
    return sure, _poly_product(p[(p > 0) & (p < 1)])


def _poly_product(p: np.ndarray) -> np.ndarray:
    """Coefficients of prod_i ((1 - p_i) + p_i z), multiplied pairwise level by level."""
    if p.size == 0:
        return np.ones(1)
    polys = np.stack([1 - p, p], axis=1)
    while len(polys) > 1:
        if len(polys) % 2:  # pad with the polynomial 1
            one = np.zeros((1, polys.shape[1]))
            one[0, 0] = 1.0
            polys = np.vstack([polys, one])
        polys = _multiply_rows(polys[0::2], polys[1::2])
    return polys[0, : p.size + 1]


def _multiply_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise product of polynomials of equal width w: width 2w - 1."""
    m, w = a.shape
    if w <= _DIRECT_WIDTH:
        out = np.zeros((m, 2 * w - 1))
        for j in range(w):
            out[:, j:j + w] += a[:, j:j + 1] * b
        return out
    size = _fast_length(2 * w - 1)
    out = np.fft.irfft(np.fft.rfft(a, size, axis=1) * np.fft.rfft(b, size, axis=1), size, axis=1)
    return np.clip(out[:, : 2 * w - 1], 0.0, None)  # rounding leaves tiny negatives


def _convolve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if min(x.size, y.size) <= _DIRECT_WIDTH:
        return np.convolve(x, y)
    size = _fast_length(x.size + y.size - 1)
    out = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(y, size), size)
    return np.clip(out[: x.size + y.size - 1], 0.0, None)


def convolve_all(parts: list[tuple[int, np.ndarray]]) -> tuple[int, np.ndarray]:
    if not parts:
        return 0, np.ones(1)
    offset = sum(o for o, _ in parts)
    pmfs = [pmf for _, pmf in parts]
    while len(pmfs) > 1:
        pmfs = [_convolve(*pmfs[i:i + 2]) if i + 1 < len(pmfs) else pmfs[i]
                for i in range(0, len(pmfs), 2)]
    return offset, pmfs[0]


def trim(offset: int, pmf: np.ndarray) -> tuple[int, np.ndarray]:
    """Drop the cells of each tail holding less than :data:`_TAIL` together."""
    first = int(np.searchsorted(np.cumsum(pmf), _TAIL, side="right"))
    last = len(pmf) - 1 - int(np.searchsorted(np.cumsum(pmf[::-1]), _TAIL, side="right"))
    if first > last:  # cannot happen for a pmf summing to 1; kept for safety
        first = last = int(np.argmax(pmf))
    return offset + first, pmf[first:last + 1]


def _fast_length(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: a length the FFT handles fast."""
    best, five = 1 << max(n - 1, 0).bit_length(), 1
    while five < best:
        odd = five
        while odd < best:
            length = odd
            while length < n:
                length *= 2
            best, odd = min(best, length), odd * 3
        five *= 5
    return best


def count_quantile(distribution: tuple[int, np.ndarray], q: float) -> int:
    offset, pmf = distribution
    k = int(np.searchsorted(np.cumsum(pmf), q - _CDF_SLACK, side="left"))
    return offset + min(k, len(pmf) - 1)


# -- the ARR lost: Monte Carlo ------------------------------------------------------
