"""The training set: cutoffs, labels and point-in-time features, composed (pure).

:func:`build_dataset` is what ``healthscore build-dataset``, the benchmarks and the
notebooks call; it reads and writes nothing.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from healthscore.config import Params
from healthscore.errors import DataError
from healthscore.dataset.labels import make_label_times
from healthscore.data.tables import Tables
from healthscore.dataset.timeline import check_cutoffs

#: The columns before the features, in order (architecture.md, "Training set"):
#: the row's key, the contract it holds at the cutoff (``renewal_date``, ``term_days``),
#: its label on the configured window and ``lost_at``, the date the data shows the
#: account lost (horizon mode; NaT otherwise), from which windows cut short by the end
#: of the data are labelled (:mod:`healthscore.model.exposure`).
KEY_COLUMNS = ("account_id", "cutoff_time", "renewal_date", "label", "term_days", "lost_at")


def build_dataset(
    tables: Tables,
    params: Params,
    *,
    cutoffs: pd.DataFrame | None = None,
    cutoffs_source: str = "cutoffs",
    progress: Callable[..., Any] | None = None,
    plan: Any = None,
    book_start: pd.Timestamp | None = None,
    part: bool = False,
) -> pd.DataFrame:
    """Build the training set of a data source.

    Parameters
    ----------
    tables : Tables
        Validated tables of one source.
    params : Params
        ``timeline`` and ``labels`` choose the rows, ``features`` the columns.
    cutoffs : DataFrame, optional
        Explicit rows instead of the timeline's: ``account_id``, ``cutoff_time`` and
        optionally ``label`` (kept as given, <NA> when absent) and ``renewal_date``.
        Features are built for exactly these rows, in this order (like a
        featuretools cutoff-time frame).
    cutoffs_source : str
        How errors about ``cutoffs`` name them (e.g. ``cutoffs file rows.csv``).
    progress : callable, optional
        Passed to :func:`healthscore.features.build_features`, which calls it as
        feature partitions finish.
    plan, book_start, part : optional
        ``tables`` is one part of the data (a bucket of accounts,
        :mod:`healthscore.dataset.buckets`): the whole data's
        :class:`~healthscore.features.FeaturePlan` and
        :func:`~healthscore.dataset.timeline.data_start`, so the part's rows are those
        a build of the whole data gives its accounts; ``part``: a part without rows
        gives an empty frame of the same columns instead of an error.

    Returns
    -------
    DataFrame
        One row per (account_id, cutoff_time): :data:`KEY_COLUMNS` (``label`` Int8: 1
        churned, 0 retained, <NA> censored), then the features,
        each built from data strictly before ``cutoff_time``. Rows sorted by cutoff
        then account, or in the order of ``cutoffs`` when given.

    Raises
    ------
    DataError
        No row to build (e.g. a renewal lead time longer than every subscription).
    """
    from healthscore.features import build_features  # the heaviest import, only when used

    if cutoffs is None:
        rows = make_label_times(tables, params.timeline, params.labels, book_start=book_start)
    else:
        rows = check_cutoffs(cutoffs, tables, source=cutoffs_source)
        rows["term_days"] = np.nan
        rows["lost_at"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[us]")
    if rows.empty and not part:
        raise DataError(why_empty(params, explicit=cutoffs is not None))
    rows = rows.reset_index(drop=True)
    keys = rows[["account_id", "cutoff_time"]]
    features = build_features(tables, keys, params.features, plan=plan, progress=progress)
    _check_alignment(keys, features)
    feature_part = features.drop(columns=["account_id", "cutoff_time"]).reset_index(drop=True)
    bad = [c for c in feature_part.columns if "__" not in c]
    if bad:
        raise DataError(f"feature column {bad[0]!r} does not follow <source>__<measure> naming")
    return pd.concat([rows[list(KEY_COLUMNS)], feature_part], axis=1)


def summarize_dataset(frame: pd.DataFrame) -> dict[str, Any]:
    """Counts for a training set's sidecar and the command's summary line.

    Returns ``rows``, ``labelled``, ``positives``, ``censored`` (label <NA>),
    ``accounts``, ``first_cutoff``, ``last_cutoff`` (ISO dates or None) and
    ``feature_names``.
    """
    label = frame["label"]
    cutoffs = frame["cutoff_time"]
    return {
        "rows": int(len(frame)),
        "labelled": int(label.notna().sum()),
        "positives": int((label == 1).sum()),
        "censored": int(label.isna().sum()),
        "accounts": int(frame["account_id"].nunique()),
        "first_cutoff": cutoffs.min().isoformat() if len(frame) else None,
        "last_cutoff": cutoffs.max().isoformat() if len(frame) else None,
        "feature_names": [c for c in frame.columns if "__" in c],
    }


def _check_alignment(keys: pd.DataFrame, features: pd.DataFrame) -> None:
    """The feature builder must return the rows it was given, in order."""
    same = (
        len(features) == len(keys)
        and list(features.columns[:2]) == ["account_id", "cutoff_time"]
        and (features["account_id"].to_numpy() == keys["account_id"].to_numpy()).all()
        and (features["cutoff_time"].to_numpy() == keys["cutoff_time"].to_numpy()).all()
    )
    if not same:  # a bug in the feature builder, not user input
        raise RuntimeError("build_features returned rows that differ from the cutoffs it was given")


def why_empty(params: Params, *, explicit: bool) -> str:
    if explicit:
        return "the cutoffs file has no rows"
    t = params.timeline
    hint = (f"in renewal mode a row needs a subscription that started more than "
            f"lead_time_days={t.lead_time_days} before its end; for short (e.g. monthly) "
            f"plans lower timeline.lead_time_days or use timeline.mode: horizon"
            if t.mode == "renewal" else
            f"no account is active at a cutoff of cadence {t.cadence!r}")
    bounds = f" between timeline.start={t.start} and timeline.end={t.end}" if t.start or t.end else ""
    return f"no training rows{bounds}: {hint}"


def dataset_meta(
    frame: pd.DataFrame, tables: Tables, params: Params, *, source: Any,
    cutoffs_file: Any = None,
) -> dict[str, Any]:
    """The provenance sidecar of a training set built from ``tables`` with ``params``:
    package and schema versions, the params used, the data fingerprint and the counts."""
    from healthscore.io.datasets import fingerprint_tables

    return make_dataset_meta(summarize_dataset(frame), params, source=source,
                             data_fingerprint=fingerprint_tables(tables),
                             observed_until=tables.observed_until, cutoffs_file=cutoffs_file)


def make_dataset_meta(
    summary: dict[str, Any], params: Params, *, source: Any, data_fingerprint: str,
    observed_until: pd.Timestamp, cutoffs_file: Any = None, **more: Any,
) -> dict[str, Any]:
    """:func:`dataset_meta` from a :func:`summarize_dataset` (or a sum of them over
    buckets) and the source's fingerprint and end; ``more``: further fields."""
    from healthscore.config import params_to_dict
    from healthscore.io.datasets import make_meta

    return make_meta(
        params=params_to_dict(params),
        data_source=str(source),
        data_fingerprint=data_fingerprint,
        observed_until=pd.Timestamp(observed_until).isoformat(),
        cutoffs_file=str(cutoffs_file) if cutoffs_file else None,
        **more,
        **summary,
    )
