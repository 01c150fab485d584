"""Billing features from the ``invoices`` table (family ``billing``).

An invoice is known from ``issued_at`` with its ``due_at`` and ``amount``; its
payment only from ``paid_at``: a payment at or after the cutoff is unknown at the
cutoff, so the invoice is unpaid there. Without a ``paid_at`` column nothing about
payments is known and the table gives no features.

``invoices__late__<w>d``
    Invoices due in ``[q - w, q)`` that were late: paid after ``due_at``, or not paid
    by it. Lateness is known at ``due_at``, which is before ``q``.
``invoices__late_share__<w>d``
    Late / invoices due in the window (NaN when none were due).
``invoices__overdue__now``
    Invoices due before ``q`` and not paid before ``q``.
``invoices__days_overdue__now``
    Days the oldest of those is past due at ``q`` (0 when none).
``invoices__unpaid_amount__now``
    Amount of the invoices issued before ``q`` and not paid before ``q``.
``invoices__days_since_last_late``
    Days from the due date of the latest late invoice due before ``q`` to ``q``
    (NaN: none). An invoice due before ``q`` is late when it was not paid by its due
    date, which is known at ``q``.
``invoices__days_since_last_payment``
    Days from the latest payment before ``q`` to ``q`` (NaN: none).
"""

from __future__ import annotations

import numpy as np

from healthscore.config import FeatureParams
from healthscore.features._base import Extracted, floats_of, times_of
from healthscore.features._windows import DAY_US, NAT, Queries, Stab, TimeIndex, cumsum0, ratio
from healthscore.data.tables import Tables

TABLE = "invoices"


def names(tables: Tables, params: FeatureParams, _types=()) -> list[str]:
    if "paid_at" not in tables[TABLE].columns:
        return []
    windows = [f"{w}d" for w in params.windows]
    return ([f"invoices__late__{w}" for w in windows]
            + [f"invoices__late_share__{w}" for w in windows]
            + ["invoices__overdue__now", "invoices__days_overdue__now",
               "invoices__unpaid_amount__now", "invoices__days_since_last_late",
               "invoices__days_since_last_payment"])


def extract(frame, params: FeatureParams, _types=()) -> Extracted:
    if "paid_at" not in frame.columns:
        return Extracted({})
    return Extracted({
        "issued": times_of(frame, "issued_at"),
        "due": times_of(frame, "due_at"),
        "paid": times_of(frame, "paid_at"),
        "amount": floats_of(frame, "amount"),
    })


def compute(arrays, queries: Queries, *, params: FeatureParams, meta=None, context=None):
    if "paid" not in arrays:
        return {}
    out: dict[str, np.ndarray] = {}
    code, due, paid = arrays["code"], arrays["due"], arrays["paid"]
    late = (paid == NAT) | (paid > due)
    index = TimeIndex(code, due, queries)
    late_cs = cumsum0(index.take(late))
    r0 = index.rank(0)
    for w in params.windows:
        back = index.rank(w * DAY_US)
        n_late = (late_cs[r0] - late_cs[back]).astype(np.float64)
        out[f"invoices__late__{w}d"] = n_late
        out[f"invoices__late_share__{w}d"] = ratio(n_late, (r0 - back).astype(np.float64))
    out["invoices__overdue__now"] = Stab(code, due, paid, queries).count()
    out["invoices__days_overdue__now"] = _days_overdue(index, index.take(paid), queries)
    out["invoices__unpaid_amount__now"] = Stab(code, arrays["issued"], paid, queries,
                                               values=arrays["amount"]).total()
    out["invoices__days_since_last_late"] = _days_since(code[late], due[late], queries)
    settled = paid != NAT
    out["invoices__days_since_last_payment"] = _days_since(code[settled], paid[settled], queries)
    return out


def _days_since(code: np.ndarray, times: np.ndarray, queries: Queries) -> np.ndarray:
    """Days from the latest of ``times`` before each cutoff to it (NaN: none)."""
    index = TimeIndex(code, times, queries)
    return (queries.time - index.last(index.time)) / DAY_US


def _days_overdue(index: TimeIndex, paid_sorted: np.ndarray, queries: Queries) -> np.ndarray:
    """Days past due of the oldest invoice due before ``q`` and unpaid at ``q``.

    In due-date order, the first invoice whose payment is at or after ``q`` is the
    first position where the running maximum of the payment times reaches ``q``; the
    running maximum of (account, payment) keys is sorted, so one ``searchsorted``
    finds it for every cutoff.
    """
    out = np.zeros(len(queries))
    if len(index) == 0:
        return out
    running = np.maximum.accumulate(queries.clock.key(index.code, paid_sorted))
    first = np.searchsorted(running, queries.key(0))
    ok = first < index.rank(0)  # that invoice is due before q (and is the account's)
    out[ok] = (queries.time[ok] - index.time[first[ok]]) / DAY_US
    return out
