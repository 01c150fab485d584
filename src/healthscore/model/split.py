"""Out-of-time split of a training set by cutoff time (DESIGN.md section 2).

Never a random row split: the same account must not teach the model its own future.
Censored rows (``label`` is ``<NA>``) are in none of the three windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from healthscore.errors import DataError

CUTOFF = "cutoff_time"
LABEL = "label"


class TimeSplit(NamedTuple):
    """The three windows, oldest first; unpacks as ``train, validation, test``."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


@dataclass(frozen=True)
class SplitWindows:
    """Boundaries of the split (all inclusive of the right end, exclusive of the left).

    ``train``: cutoff <= ``validation_start``; ``validation``: ``validation_start`` <
    cutoff <= ``test_start``; ``test``: ``test_start`` < cutoff <= ``last_cutoff``.
    """

    first_cutoff: pd.Timestamp
    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    last_cutoff: pd.Timestamp

    def describe(self) -> dict[str, str]:
        return {k: str(v.date()) for k, v in self.__dict__.items()}


def labelled_rows(dataset: pd.DataFrame) -> pd.DataFrame:
    """Rows whose outcome is known (``label`` not ``<NA>``)."""
    _require_columns(dataset)
    return dataset.loc[dataset[LABEL].notna()]


def split_windows(dataset: pd.DataFrame, params) -> SplitWindows:
    """Boundaries of :func:`split_by_time` for ``dataset`` (labelled rows only).

    Parameters
    ----------
    dataset : DataFrame
        Training set with ``cutoff_time`` and ``label``.
    params : healthscore.config.SplitParams
        ``test_months`` and ``validation_months`` (calendar months, > 0).
    """
    if params.test_months <= 0 or params.validation_months <= 0:
        raise DataError(
            "split: expected test_months and validation_months > 0, got "
            f"{params.test_months} and {params.validation_months}"
        )
    labelled = labelled_rows(dataset)
    if labelled.empty:
        raise DataError(
            f"training set: no labelled rows (all {len(dataset)} rows censored or none at all)"
        )
    cutoffs = pd.to_datetime(labelled[CUTOFF])
    last = cutoffs.max()
    test_start = last - pd.DateOffset(months=params.test_months)
    validation_start = test_start - pd.DateOffset(months=params.validation_months)
    return SplitWindows(cutoffs.min(), validation_start, test_start, last)


def split_by_time(dataset: pd.DataFrame, params) -> TimeSplit:
    """Split labelled rows by ``cutoff_time``: train, then validation, then test.

    The last ``params.test_months`` calendar months of cutoffs (counted back from the
    latest labelled cutoff) are test, the ``params.validation_months`` before that are
    validation and all earlier cutoffs train. Censored rows are dropped. Every
    validation cutoff is later than every train cutoff and earlier than every test
    cutoff.

    Parameters
    ----------
    dataset : DataFrame
        Training set (architecture.md): ``cutoff_time``, ``label`` (Int8, ``<NA>`` =
        censored) and features; other columns are kept.
    params : healthscore.config.SplitParams

    Returns
    -------
    TimeSplit
        ``(train, validation, test)`` frames, each a row subset of ``dataset`` in its
        original order.

    Raises
    ------
    DataError
        A window holds no row; the message names the window, its dates and the
        setting to change.
    """
    windows = split_windows(dataset, params)
    labelled = labelled_rows(dataset)
    cutoffs = pd.to_datetime(labelled[CUTOFF])
    in_train = cutoffs <= windows.validation_start
    in_test = cutoffs > windows.test_start
    in_validation = ~in_train & ~in_test
    parts = TimeSplit(labelled.loc[in_train], labelled.loc[in_validation], labelled.loc[in_test])
    spans = {
        "train": (
            f"up to {windows.validation_start.date()}",
            "split.validation_months or split.test_months",
        ),
        "validation": (
            f"after {windows.validation_start.date()} up to {windows.test_start.date()}",
            "split.validation_months",
        ),
        "test": (
            f"after {windows.test_start.date()} up to {windows.last_cutoff.date()}",
            "split.test_months",
        ),
    }
    for name, part in zip(TimeSplit._fields, parts):
        if part.empty:
            span, knob = spans[name]
            raise DataError(
                f"split: the {name} window (cutoff_time {span}) holds no labelled row; "
                f"labelled cutoffs run from {windows.first_cutoff.date()} to "
                f"{windows.last_cutoff.date()}: change {knob} or use a longer history"
            )
    return parts


def _require_columns(dataset: pd.DataFrame) -> None:
    missing = [c for c in (CUTOFF, LABEL) if c not in dataset.columns]
    if missing:
        raise DataError(
            f"training set: missing column(s) {', '.join(missing)}; expected the output "
            "of build-dataset (account_id, cutoff_time, renewal_date, label, features)"
        )


def stratified_holdout(target: np.ndarray, *, share: float, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Seeded stratified (fit, holdout) row indices, sorted; None when ``share`` is not
    in (0, 1) or a class would be missing from either side (too few rows)."""
    counts = np.bincount(target, minlength=2)
    if share <= 0 or share >= 1 or counts.min() * min(share, 1 - share) < 1:
        return None
    fit_idx, val_idx = train_test_split(np.arange(len(target)), test_size=share, stratify=target,
                                        random_state=seed)
    if len(np.unique(target[val_idx])) < 2 or len(np.unique(target[fit_idx])) < 2:
        return None
    return np.sort(fit_idx), np.sort(val_idx)
