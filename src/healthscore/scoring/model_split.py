"""Why it changed, split between the account's data and the model.

When the model version changed since the previous scoring date, the engine's change
lines mix two things: the account's data moved, and a new model reads the same data
differently. :func:`split_model_change` separates them exactly
(:func:`~healthscore.scoring.changes.attribute_changes` with ``previous_model_points``):

    score_new - score_old = [old model, new date - old model, old date]   (the data)
                          + [new model, new date - old model, new date]   (the model)

The previous model is loaded from what the previous date's run file recorded
(``model_source``: the folder or URI it was loaded from; else the registry URI of its
version), and accepted only when its fingerprint is the one that scored that date (an
export folder rewritten by ``promote`` holds the new champion). When it cannot be
loaded, the single ``model changed`` line stays and the run file says why
(``change_split``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
import pandas as pd

from healthscore.scoring.alerts import make_alerts
from healthscore.scoring.changes import attribute_changes, change_reasons
from healthscore.scoring.explain import explain_model
from healthscore.scoring.points import make_points_frame

log = logging.getLogger(__name__)


def model_source(model: Any) -> str:
    """What ``--model`` named, as the run file records it: a URI as given, a folder
    as an absolute path (so a later run finds it from anywhere)."""
    from pathlib import Path

    from healthscore.model.export import is_model_uri

    text = str(model)
    return text if is_model_uri(text) else str(Path(text).resolve())


def load_previous_model(previous_run: dict[str, Any], *, params: Any) -> tuple[Any, str | None]:
    """``(model, None)``: the model that scored the previous date, or ``(None, why)``.

    Tried in turn: the run's ``model_source``, then the registry URI of its version
    (``model_info.model_uri``); a candidate counts only when its fingerprint
    (:func:`~healthscore.scoring.engine.model_identity`) is the run's
    ``model_fingerprint``.
    """
    from healthscore.scoring.model_source import load_scoring_model
    from healthscore.scoring.engine import model_identity

    wanted = previous_run.get("model_fingerprint")
    info = previous_run.get("model_info") or {}
    candidates = [c for c in dict.fromkeys([previous_run.get("model_source"), info.get("model_uri")]) if c]
    if not candidates:
        return None, "the previous run recorded neither its model folder nor a registry version"
    tried = []
    for candidate in candidates:
        try:
            exported = load_scoring_model(candidate, params)
        except Exception as exc:  # noqa: BLE001 - any failure to load is a reason, said below
            tried.append(f"{candidate}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            continue
        found = model_identity(exported)[1]
        if wanted is None or found == wanted:
            return exported, None
        tried.append(f"{candidate} now holds another model (fingerprint {found}, not {wanted})")
    return None, "the previous model could not be loaded (" + "; ".join(tried) + ")"


def previous_model_points(previous_model: Any, points: pd.DataFrame, *,
                          rescore: Callable[[Any], pd.DataFrame] | None = None,
                          ) -> tuple[pd.DataFrame | None, str | None]:
    """The previous model's points frame of today's rows, or ``(None, why)``.

    ``points``: today's points frame, whose value columns are the rows as scored. When
    the previous model reads a feature today's model does not (so today's run did not
    keep it), ``rescore(model)`` scores today's data with the previous model (the
    engine, features built again) and its points are taken instead.
    """
    from healthscore.scoring.engine import model_identity

    names = list(previous_model.feature_names)
    missing = [n for n in names if n not in points.columns]
    if missing:
        listed = f"{', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}"
        if rescore is None:
            return None, f"the previous model reads feature(s) today's model does not ({listed})"
        frame = rescore(previous_model)
        at = pd.Index(frame["account_id"]).get_indexer(points["account_id"])
        if (at < 0).any():
            return None, "scored again with the previous model, some of today's accounts were not active"
        return frame.iloc[at].reset_index(drop=True), None
    values = points[names]
    explanation = explain_model(previous_model, values)
    frame = make_points_frame(points["account_id"].to_numpy(), values, explanation,
                              row_hash=np.zeros(len(points), dtype=np.uint64),
                              model_fingerprint=model_identity(previous_model)[1])
    return frame, None


def split_model_change(outputs: Any, exported: Any, *, previous: Any, layout: Any, params: Any,
                       rescore: Callable[[Any], pd.DataFrame] | None = None) -> None:
    """Replace ``outputs.changes`` (and the alerts' reasons) by the split lines when the
    model version changed since ``previous``; record ``change_split`` in the run
    (``rescore``: :func:`previous_model_points`)."""
    from healthscore.scoring.engine import resolve_catalogue

    version = outputs.run.get("model_version")
    if previous is None or previous.model_version == version:
        return
    previous_run = layout.read_run(previous.as_of)
    old, why = load_previous_model(previous_run, params=params)
    # a bucketed run spools its points and reads the previous date per bucket: a model
    # change (once per model) reads both whole
    points = outputs.points if outputs.points is not None else outputs.read_points()
    if not hasattr(previous, "points"):
        previous = previous.for_accounts(points["account_id"])
    old_points = None
    if old is not None:
        old_points, why = previous_model_points(old, points, rescore=rescore)
    if old_points is None:
        log.warning("why it changed: one 'model changed' line, not split: %s", why)
        outputs.run = {**outputs.run, "change_split": {"split": False, "reason": why}}
        return
    names = list(dict.fromkeys([*exported.feature_names, *old.feature_names]))
    catalogue = {**resolve_catalogue(old, names, features=params.features),
                 **resolve_catalogue(exported, names, features=params.features)}
    changes = attribute_changes(
        points, previous.points, current_scores=outputs.history,
        previous_scores=previous.history, model_changed=True, previous_as_of=previous.as_of,
        catalogue=catalogue, top=params.score.top_drivers, currency=params.report.currency,
        previous_model_points=old_points, versions=(str(previous.model_version), str(version)))
    outputs.changes = changes
    # the alerts' reasons are the data's lines (the previous model on both dates)
    outputs.alerts = make_alerts(
        outputs.history[["account_id", "health_score", "band"]], previous.history,
        change_reasons(changes, top=params.alerts.reasons, profile=params.score.profile_features,
                       min_points=params.alerts.reason_min_points), params.alerts,
        previous_alerts=previous.alerts)
    counts = {**outputs.run["counts"], "alerts": int(len(outputs.alerts)),
              "compared": int(changes["account_id"].nunique())}
    outputs.run = {**outputs.run, "counts": counts,
                   "change_split": {"split": True, "previous_model_version": str(previous.model_version),
                                    "previous_model_fingerprint": previous_run.get("model_fingerprint")}}


def split_line(run: dict[str, Any]) -> str | None:
    """One line on a split of why it changed, for the terminal (None: no model change)."""
    split = run.get("change_split")
    if not split:
        return None
    if split["split"]:
        return (f"  why it changed: split into the accounts' data (model {split['previous_model_version']} "
                f"on both dates) and the model update ({split['previous_model_version']} -> {run['model_version']})")
    return f"  why it changed: one 'model changed' line, not split: {split['reason']}"
