"""Behaviour metrics derived from other features of the same row (issue 15).

Every input is a feature of the same (account, cutoff) row, so the time rule holds by
construction: only rows strictly before the cutoff. Declared in ``params.features``:

``<source>__<a>_per_<b>__<w>d``
    For each pair ``[a, b]`` of ``ratio_pairs`` (event types or signal types of the
    data, both of one table) and each trend window: count of ``a`` per count of ``b``
    in ``[q - w, q)`` (NaN when ``b`` has none), e.g. dislikes per like.
``<measure>_per_seat__<w>d``
    For each measure of ``per_seat`` (``events__count``, ``tickets__opened``, ...):
    the window's value per ``accounts.seats`` (NaN when seats are 0 or unknown).
``<measure>_pct_change__<w>d``
    For each additive count of ``pct_change`` and each window ``w`` whose double
    ``2w`` is also a window: ``(a - b) / b``, ``a`` the value in ``[q - w, q)``, ``b``
    in ``[q - 2w, q - w)`` (= the ``2w`` value minus ``a``); NaN when ``b`` is 0.
    With 30 and 60 in ``windows`` this is the month-over-month change.
"""

from __future__ import annotations

import numpy as np

from healthscore.config import FeatureParams
from healthscore.features._windows import ratio
from healthscore.features.plan import slugify


def _pair_sources(params: FeatureParams, event_types, signal_types):
    """``(source, slug_a, slug_b)`` of every ratio pair both of whose types have counts."""
    slugs = {"events": dict(zip(map(str, event_types), slugify(event_types))),
             "signals": dict(zip(map(str, signal_types), slugify(signal_types)))}
    out = []
    for a, b in params.ratio_pairs:
        for source, table in slugs.items():
            if str(a) in table and str(b) in table:
                out.append((source, table[str(a)], table[str(b)]))
                break
    return out


def recipes(built, params: FeatureParams, *, event_types=(), signal_types=(),
            seats: bool = True) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``{name: (kind, input columns)}`` of the derived columns possible given the
    ``built`` feature names, in output order; ``kind`` is ``ratio``, ``per_seat`` or
    ``pct_change``."""
    have = set(built)
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for source, a, b in _pair_sources(params, event_types, signal_types):
        for w in params.trend_windows:
            num, den = f"{source}__{a}__count__{w}d", f"{source}__{b}__count__{w}d"
            if num in have and den in have:
                out[f"{source}__{a}_per_{b}__{w}d"] = ("ratio", (num, den))
    if seats:
        for measure in params.per_seat:
            for w in params.windows:
                if f"{measure}__{w}d" in have:
                    out[f"{measure}_per_seat__{w}d"] = ("per_seat", (f"{measure}__{w}d",))
    for measure in params.pct_change:
        for w in params.windows:
            now, both = f"{measure}__{w}d", f"{measure}__{2 * w}d"
            if now in have and both in have:
                out[f"{measure}_pct_change__{w}d"] = ("pct_change", (now, both))
    return out


def compute(columns, recipes: dict[str, tuple[str, tuple[str, ...]]], *,
            seats: np.ndarray | None) -> dict[str, np.ndarray]:
    """The derived columns of ``recipes`` from ``columns`` (built features, same rows).

    ``seats``: ``accounts.seats`` of each row (float64, NaN unknown); needed only by
    ``per_seat`` recipes.
    """
    out: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):  # rows the builder skips hold placeholders, then NaN
        out.update(_compute(columns, recipes, seats=seats))
    return out


def _compute(columns, recipes, *, seats):
    out: dict[str, np.ndarray] = {}
    for name, (kind, inputs) in recipes.items():
        if kind == "ratio":
            out[name] = ratio(columns[inputs[0]], columns[inputs[1]])
        elif kind == "per_seat":
            out[name] = ratio(columns[inputs[0]], seats)
        else:
            now = columns[inputs[0]]
            prev = columns[inputs[1]] - now
            out[name] = ratio(now - prev, prev)
    return out
