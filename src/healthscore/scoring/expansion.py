"""Expansion propensity at scoring: ``expansion_proba`` and its signals in the risk list.

When an expansion model is exported at ``params.expansion.export_dir`` (``healthscore
train --target expansion``, then ``promote`` to that folder), ``score`` adds to the risk
list of the date, per account active at the as-of date:

* ``expansion_proba``: the calibrated chance that its MRR rises by at least
  ``expansion.min_increase`` within the model's horizon (features strictly before the
  as-of date, as for the risk);
* ``expansion_arr_gain``: the expected ARR gain, ``expansion_proba * arr *`` the mean
  rise of the expanding training rows (the model's ``expansion_mean_increase``);
* ``expansion_signals``: the behaviour behind it, explained as the churn model is
  (TreeSHAP points of :mod:`healthscore.scoring.explain`, profile facts set apart and
  the top signals chosen by :mod:`healthscore.scoring.drivers`), the points signed so
  that a positive point pushes towards an expansion.

No model there, no columns: the risk list is the churn model's alone.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthscore.errors import DataError, ModelError

log = logging.getLogger(__name__)

#: The columns :func:`attach_expansion` adds to the risk list, in order.
EXPANSION_COLUMNS = ("expansion_proba", "expansion_arr_gain", "expansion_signals")


def load_expansion_model(params: Any) -> Any:
    """The exported expansion model of ``params.expansion.export_dir``; None when the
    folder does not exist. A folder holding another model is a :class:`ModelError`."""
    from healthscore.model.expansion import MIN_INCREASE_KEY
    from healthscore.model.export import load_exported

    folder = Path(params.expansion.export_dir)
    if not folder.exists():
        return None
    exported = load_exported(folder)
    if MIN_INCREASE_KEY not in exported.metrics:
        raise ModelError(f"{folder} (params.expansion.export_dir) holds a model that was not trained "
                         "with `healthscore train --target expansion` (its metrics have no "
                         f"{MIN_INCREASE_KEY}); promote the expansion model there, or point "
                         "expansion.export_dir elsewhere")
    return exported


def attach_expansion(outputs: Any, tables: Any, params: Any) -> None:
    """Add :data:`EXPANSION_COLUMNS` to ``outputs.risk_list`` (in place) when an expansion
    model is exported; record its version in ``outputs.run``. The one call the score
    path makes into this module."""
    exported = load_expansion_model(params)
    if exported is None:
        return
    if tables is None:  # a bucketed source: one bucket at a time, not wired here yet
        log.warning("expansion: a bucketed source is not scored for expansion yet; no expansion_proba")
        return
    frame = score_expansion(tables, exported, as_of=outputs.as_of, features=params.features,
                            score=params.score, expansion=params.expansion,
                            arr=outputs.risk_list[["account_id", "arr"]], currency=params.report.currency)
    merged = outputs.risk_list.drop(columns=[c for c in EXPANSION_COLUMNS if c in outputs.risk_list])
    outputs.risk_list = merged.merge(frame, on="account_id", how="left", validate="1:1")
    outputs.run = {**outputs.run, "expansion": {
        "model_version": exported.version, "scored": int(frame["expansion_proba"].notna().sum()),
        "min_increase": float(params.expansion.min_increase),
        "horizon_days": int(exported.metrics.get("expansion_horizon_days", params.expansion.horizon_days)),
        # the growth view of the report reads its settings here: it renders outputs only
        "healthy_bands": list(params.expansion.healthy_bands), "min_proba": float(params.expansion.min_proba),
        "top_accounts": int(params.expansion.top_accounts)}}


def score_expansion(
    tables: Any, exported: Any, *, as_of: pd.Timestamp, features: Any, score: Any, expansion: Any,
    arr: pd.DataFrame, currency: str = "$",
) -> pd.DataFrame:
    """``account_id`` and :data:`EXPANSION_COLUMNS` of every account active at ``as_of``.

    Parameters
    ----------
    tables : Tables
        The validated source; features use only rows strictly before ``as_of``.
    exported : ExportedModel
        The expansion model (:func:`load_expansion_model`).
    features, score, expansion : params sections
        The feature builder's; ``score.profile_features`` (set apart from the signals);
        ``expansion.top_signals``.
    arr : DataFrame
        ``account_id``, ``arr`` (the risk list's).
    """
    from healthscore.features import build_features
    from healthscore.model.expansion import MEAN_INCREASE_KEY
    from healthscore.scoring.drivers import find_drivers, split_profile
    from healthscore.scoring.engine import phrase_references, plan_for_model, resolve_catalogue
    from healthscore.scoring.explain import explain_model
    from healthscore.scoring.risk_list import feature_columns, make_scoring_cutoffs, render_drivers

    cutoffs = make_scoring_cutoffs(tables, as_of)
    names = list(exported.feature_names)
    keys = cutoffs[["account_id", "cutoff_time"]]
    frame = build_features(tables, keys, features, plan=plan_for_model(tables, features, names))
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DataError(f"the expansion model needs feature(s) the data cannot give: "
                        f"{', '.join(missing[:5])}")
    explanation = explain_model(exported, frame[names])
    _, driver_points = split_profile(explanation, score.profile_features)
    signals = find_drivers(-driver_points, k=expansion.top_signals)  # + = towards an expansion
    catalogue = resolve_catalogue(exported, names, features=features, frame=frame)
    extra = [n for n in phrase_references(catalogue, names) if n in frame.columns]
    texts = render_drivers(signals, feature_names=names, which="helping",
                           columns=feature_columns(frame, [*names, *extra]), catalogue=catalogue,
                           currency=currency)
    out = pd.DataFrame({"account_id": frame["account_id"].to_numpy(),
                        "expansion_proba": explanation.risk_proba, "expansion_signals": texts})
    account_arr = out[["account_id"]].merge(arr, on="account_id", how="left")["arr"].to_numpy(dtype=np.float64)
    rise = float(exported.metrics.get(MEAN_INCREASE_KEY, expansion.min_increase))
    out.insert(2, "expansion_arr_gain", np.round(out["expansion_proba"].to_numpy() * account_arr * rise, 2))
    return out
