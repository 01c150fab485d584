"""What an explanation's points say: the top drivers of each row, the profile facts
set apart, the points summed by feature family, and how often a churn's known cause
shows among the hurting families (:func:`cause_fidelity`).

The points themselves come from :mod:`healthscore.scoring.explain`; everything here is pure:
arrays and frames in, arrays and frames out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.scoring.explain import Explanation, explain_model
from healthscore.features.catalogue import FAMILIES
from healthscore.features.catalogue import SOURCE_FAMILY as _SOURCE_FAMILY  # a feature's family by its table


def family_column(family: str) -> str:
    """Column holding a family's points: ``points_<family>``."""
    return f"points_{family}"


def catalogue_entry(catalogue: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A feature's catalogue entry as a plain dict with at least ``label`` and ``family``.

    ``catalogue`` maps names to ``FeatureInfo`` objects or their dicts (as exported);
    an unknown feature gets its name as label and its source table's family.
    """
    info = catalogue.get(name)
    if info is not None and not isinstance(info, Mapping):
        info = {k: getattr(info, k) for k in ("name", "label", "family", "unit", "phrase",
                                               "kind", "healthy_direction") if hasattr(info, k)}
    entry = dict(info or {})
    entry.setdefault("label", name)
    if entry.get("family") not in FAMILIES:
        entry["family"] = _SOURCE_FAMILY.get(name.split("__", 1)[0], "account")
    return entry


# ------------------------------------------------------------------------ drivers


@dataclass(frozen=True)
class Drivers:
    """The top ``k`` hurting and helping features of each row.

    ``hurting`` / ``helping``: int64 (n, k) feature indices, most important first,
    -1 where a row has fewer than ``k`` features pushing that way. ``hurting_points``
    (all < 0) and ``helping_points`` (all > 0): float64 (n, k), NaN where the index
    is -1.
    """

    hurting: np.ndarray
    hurting_points: np.ndarray
    helping: np.ndarray
    helping_points: np.ndarray


#: Rows whose drivers are found at a time (:func:`find_drivers`; the same drivers for any value).
DRIVER_ROWS = 4_096


def _top_k(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n, k) of the ``k`` largest positive values per row, largest first."""
    n, p = values.shape
    k_eff = min(k, p)
    if k_eff == 0:
        return np.full((n, k), -1, np.int64), np.full((n, k), np.nan)
    if k_eff < p:
        part = np.argpartition(-values, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.broadcast_to(np.arange(p), (n, p)).copy()
    picked = np.take_along_axis(values, part, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    val = np.take_along_axis(picked, order, axis=1)
    keep = val > 0
    idx = np.where(keep, idx, -1)
    val = np.where(keep, val, np.nan)
    if k_eff < k:
        pad = k - k_eff
        idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=-1)
        val = np.pad(val, ((0, 0), (0, pad)), constant_values=np.nan)
    return idx, val


def find_drivers(points: np.ndarray, *, k: int = 5) -> Drivers:
    """Top ``k`` hurting (most negative) and helping (most positive) features per row.

    Vectorised over rows (``argpartition`` then a sort of ``k`` columns); features
    with exactly zero points are neither.

    Parameters
    ----------
    points : ndarray of shape (n, p)
    k : int
    """
    points = np.asarray(points, dtype=np.float64)
    parts = []
    # rows a block at a time: each row's drivers are its own, and the (rows x features)
    # temporaries of the partition stay a few MiB however many accounts there are
    for start in range(0, max(len(points), 1), DRIVER_ROWS):
        block = points[start:start + DRIVER_ROWS]
        hurt, hurt_val = _top_k(-block, k)
        helps, helps_val = _top_k(block, k)
        parts.append((hurt, -hurt_val, helps, helps_val))
    return Drivers(*(np.concatenate(column) for column in zip(*parts)))


def profile_mask(feature_names: Sequence[str], profile: Sequence[str]) -> np.ndarray:
    """Which features are profile facts (``score.profile_features``: exact names, or
    prefixes ending in ``__``): bool (p,)."""
    exact = {p for p in profile if not p.endswith("__")}
    prefixes = tuple(p for p in profile if p.endswith("__"))
    return np.array([n in exact or (bool(prefixes) and n.startswith(prefixes)) for n in feature_names],
                    dtype=bool)


def split_profile(explanation: Explanation, profile: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(profile_score, driver_points)``: the base plus the profile facts' points (the
    score of accounts like this one), and the points with profile columns zeroed (what
    the drivers are chosen from). ``profile_score + driver_points.sum(axis=1) +
    residual`` is the unclipped score, exactly."""
    mask = profile_mask(explanation.feature_names, profile)
    points = explanation.points
    profile_score = explanation.base + points[:, mask].sum(axis=1)
    drivers = points.copy()
    drivers[:, mask] = 0.0
    return profile_score, drivers


# ----------------------------------------------------------------------- families


def family_points(
    points: np.ndarray, feature_names: Sequence[str], families: Mapping[str, str]
) -> pd.DataFrame:
    """Points summed by family: one column ``points_<family>`` per family in
    :data:`FAMILIES` (zero when no feature belongs to it), n rows.

    ``families`` maps feature name to family; a feature without one counts as
    ``account``.
    """
    points = np.asarray(points, dtype=np.float64)
    which = np.array([families.get(name, "account") for name in feature_names], dtype=object)
    which[~np.isin(which, FAMILIES)] = "account"
    # Each family's columns summed by NumPy's own reduction, not by a matrix product:
    # BLAS sums in an order that depends on its thread count and the block a row falls
    # in, so the same points would give other last digits on a worker or a Spark task.
    return pd.DataFrame({family_column(f): points[:, which == f].sum(axis=1) for f in FAMILIES})


def family_hurting_points(
    points: np.ndarray, feature_names: Sequence[str], families: Mapping[str, str]
) -> pd.DataFrame:
    """The points each family *costs*: the hurting (negative) points of its features
    summed, one ``points_<family>`` column per family (as :func:`family_points`), <= 0.

    The one rule that ranks families by where the score is lost, for every reader: the
    backtest's and the quality benchmark's explanation fidelity (:func:`cause_fidelity`
    on these columns) and the report's family chart. Net points hide a family's harm
    behind its helping signals (a competitor mention offset by a good NPS), so the
    family a CSM should look at can rank below one that merely nets lower.
    """
    return family_points(np.minimum(np.asarray(points, dtype=np.float64), 0.0), feature_names, families)


def explain_families(
    model: Any, dataset: pd.DataFrame, *, scale: Any = None, catalogue: Mapping[str, Any] | None = None,
    profile: Sequence[str] = (),
) -> pd.DataFrame:
    """The points each family costs (:func:`family_hurting_points`) in every row of a
    training-set-like frame.

    ``dataset`` holds the model's feature columns and keys; the result has the keys
    present (``account_id``, ``cutoff_time``, ``renewal_date``), the health score and
    one ``points_<family>`` column per family: the input of :func:`cause_fidelity`.
    ``catalogue`` defaults to the exported model's, then to the feature names' source.
    ``profile`` (``score.profile_features``): their points are left out, so the
    families are those of the behavioural drivers a CSM reads.
    """
    explanation = explain_model(model, dataset, scale=scale)
    if profile:
        _, points = split_profile(explanation, profile)
        explanation = dataclasses.replace(explanation, points=points)
    catalogue = catalogue if catalogue is not None else (getattr(model, "catalogue", None) or {})
    families = {n: catalogue_entry(catalogue, n)["family"] for n in explanation.feature_names}
    keys = [k for k in ("account_id", "cutoff_time", "renewal_date") if k in dataset.columns]
    out = dataset[keys].reset_index(drop=True)
    out["health_score"] = explanation.health_score
    return pd.concat([out, family_hurting_points(explanation.points, explanation.feature_names, families)],
                     axis=1)


# ---------------------------------------------------------------------- fidelity


def cause_fidelity(points_by_family: pd.DataFrame, ground_truth: pd.DataFrame) -> float:
    """Share of churned renewals whose named primary cause shows in the explanation.

    A churned renewal with a ``primary_cause`` counts as a hit when its cause's family
    (``cause_family``) is among the three families with the most negative points
    (hurting, points < 0) of its explanation.

    Parameters
    ----------
    points_by_family : DataFrame
        ``account_id``, ``renewal_date`` and one ``points_<family>`` column per family
        (as :func:`family_points` names them), one row per explained renewal.
    ground_truth : DataFrame
        The simulator's ``ground_truth``: ``account_id``, ``renewal_date``,
        ``churned``, ``primary_cause``, ``cause_family``.

    Returns
    -------
    float
        Hits / churned renewals with a named cause that have an explanation; NaN when
        there are none.
    """
    keys = ["account_id", "renewal_date"]
    columns = [c for c in points_by_family.columns if c.startswith("points_")]
    for frame, what, needed in (
        (points_by_family, "points_by_family", keys),
        (ground_truth, "ground_truth", keys + ["churned", "primary_cause", "cause_family"]),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"cause_fidelity: {what} has no column {missing[0]!r}")
    truth = ground_truth.loc[
        ground_truth["churned"].astype(bool) & ground_truth["primary_cause"].notna(),
        keys + ["cause_family"],
    ]
    merged = truth.merge(points_by_family[keys + columns], on=keys, how="inner")
    if merged.empty:
        return float("nan")
    values = merged[columns].to_numpy(dtype=np.float64)
    families = np.array([c.removeprefix("points_") for c in columns], dtype=object)
    order = np.argsort(values, axis=1, kind="stable")[:, :3]
    top = families[order]
    hurting = np.take_along_axis(values, order, axis=1) < 0
    cause = merged["cause_family"].astype(str).to_numpy()[:, None]
    hits = ((top == cause) & hurting).any(axis=1)
    return float(hits.mean())
