"""Score an as-of date: features, scores and explanations, then every output frame.

:func:`score_date` computes; it reads nothing from disk and writes nothing (the
previous date's outputs come in as a :class:`~healthscore.scoring.history.Previous`).
``healthscore score`` reads the inputs and writes the result with
:func:`~healthscore.scoring.outputs.write_date`.
"""

from __future__ import annotations

import hashlib
import logging
import string
import time
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from healthscore.config import AlertParams, FeatureParams, ScoreParams, params_to_dict
from healthscore.config.lifecycle import LifecycleParams
from healthscore.features.lifecycle import stage_of_rows
from healthscore.errors import DataError, NoActiveAccountsError
from healthscore.model.export import ExportedModel
from healthscore.scoring.drivers import find_drivers, split_profile
from healthscore.progress import progress_callback
from healthscore.scoring.explain import Explanation, explain_model, explanation_from_points
from healthscore.scoring.alerts import make_alerts
from healthscore.scoring.changes import attribute_changes, change_reasons
from healthscore.scoring.history import Previous, make_history_rows
from healthscore.scoring.outputs import DateOutputs, as_of_text
from healthscore.scoring.points import (
    feature_names_of, hash_rows, make_points_frame, points_matrix,
)
from healthscore.scoring.risk_list import (
    build_risk_list, feature_columns, make_scoring_cutoffs, render_drivers, with_stage,
)
from healthscore.data.tables import Tables

log = logging.getLogger(__name__)


def model_identity(exported: ExportedModel) -> tuple[str, str]:
    """``(model_version, fingerprint)`` of an exported model.

    The fingerprint hashes what decides a score (the predictor's
    :meth:`~healthscore.model.predictor.Predictor.identity`: trees, calibration,
    feature encoding, horizon or scorecard rules; then the scale); the version is the
    registered version when known, else ``sha-`` and the fingerprint's start.
    """
    digest = hashlib.sha256(exported.predictor.identity())
    digest.update(exported.scale.to_json().encode())
    fingerprint = digest.hexdigest()[:16]
    return (exported.version or f"sha-{fingerprint[:10]}"), fingerprint


def resolve_catalogue(exported: Any, names: Sequence[str], *, features: Any = None,
                      frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """The exported catalogue, completed by the feature package's for missing names
    (with ``params.features``'s signal families and ``frame``'s category columns)."""
    from healthscore.model.export import catalogue_dict

    catalogue = dict(getattr(exported, "catalogue", None) or {})
    missing = [n for n in names if n not in catalogue]
    if missing:
        catalogue.update(catalogue_dict(missing, features=features, frame=frame))
    return catalogue


def phrase_references(catalogue: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """Feature names the phrases of ``names`` refer to (besides ``value``)."""
    found: list[str] = []
    for name in names:
        phrase = (catalogue.get(name) or {}).get("phrase") or ""
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(phrase) if f]
        except ValueError:
            continue
        found.extend(f for f in fields if "__" in f)
    return list(dict.fromkeys(found))


def plan_for_model(tables: Tables, features: FeatureParams, names: Sequence[str]) -> Any:
    """The feature plan that builds the columns ``names`` a model was trained on.

    The plan's whole-table choices (the most common event and signal types) are made
    from the data at hand; when the data has drifted since training (another type is
    now among the most common), the per-type columns the model reads would be missing.
    The types are then taken from the model's own column names instead.
    """
    from healthscore.features import feature_names, plan_features
    from healthscore.features.contacts import params_for_names
    from healthscore.features.plan import FeaturePlan, category_levels, slugify, top_types

    features = params_for_names(features, names)  # the per-user features the model reads
    plan = plan_features(tables, features)
    if set(names) <= set(plan.feature_names):
        return plan

    def types_in_model(table: str, column: str) -> tuple[str, ...]:
        if table not in tables:
            return ()
        wanted = {n.split("__")[1] for n in names
                  if n.startswith(f"{table}__") and len(n.split("__")) == 4}
        every = top_types(tables[table][column], tables[table][column].nunique())
        found = tuple(t for t, slug in zip(every, slugify(every)) if slug in wanted)
        # A type the model reads that has no row here (a small bucket, a type gone
        # quiet) still gets its columns: no rows, so counts of 0, as a single build of
        # the whole source gives such accounts.
        absent = sorted(wanted - set(slugify(found)))
        return found + tuple(absent)

    event_types = types_in_model("events", "event")
    signal_types = types_in_model("signals", "signal")
    built = feature_names(tables, features, event_types=event_types, signal_types=signal_types)
    log.info("feature plan: event and signal types taken from the model's columns "
             "(the most common types of the data changed since training)")
    return FeaturePlan(tuple(built), event_types, signal_types, category_levels(tables, features))


def explain_rows(
    exported: ExportedModel,
    values: pd.DataFrame,
    *,
    chunk_rows: int,
    reuse: pd.DataFrame | None = None,
    account_ids: Any = None,
) -> tuple[Explanation, np.ndarray, int]:
    """Explain ``values`` (the model's feature columns, n rows) ``chunk_rows`` at a time.

    With ``reuse`` (a stored points frame of the same model), a row whose
    ``(account_id, row_hash)`` is stored takes its stored points instead of being
    explained again. Returns the explanation, the row hashes and the rows reused.
    """
    names = list(exported.feature_names)
    n = len(values)
    hashes = hash_rows(values)
    todo = np.ones(n, dtype=bool)
    points = np.zeros((n, len(names)))
    base, residual = np.zeros(n), np.zeros(n)
    # stored points rebuild a score only where the score is the scale on their sum
    rebuild = exported.predictor.scale_scores
    if reuse is not None and len(reuse) and rebuild and feature_names_of(reuse) == names:
        stored = pd.DataFrame({"account_id": np.asarray(account_ids), "row_hash": hashes,
                               "row": np.arange(n)})
        hit = stored.merge(reuse.assign(_pos=np.arange(len(reuse)))[["account_id", "row_hash", "_pos"]],
                           on=["account_id", "row_hash"], how="inner")
        rows, pos = hit["row"].to_numpy(), hit["_pos"].to_numpy()
        points[rows] = points_matrix(reuse, names, pos)
        base[rows] = reuse["base"].to_numpy()[pos]
        residual[rows] = reuse["residual"].to_numpy()[pos]
        todo[rows] = False
    fresh = np.nonzero(todo)[0]
    scored = []
    step = max(int(chunk_rows), 1)
    for start in range(0, len(fresh), step):
        rows = fresh[start:start + step]
        part = explain_model(exported, values.iloc[rows])
        scored.append((rows, part))
    if len(fresh) == n and len(scored) == 1:
        return scored[0][1], hashes, 0
    if rebuild:
        for rows, part in scored:
            points[rows], base[rows], residual[rows] = part.points, part.base, part.residual
        explanation = explanation_from_points(points, base, residual, feature_names=names,
                                              scale=exported.scale)
        return explanation, hashes, n - len(fresh)
    # Rule scorecard: its risk comes from its own map, so concatenate as explained.
    parts = [p for _, p in scored]
    return Explanation(
        names, np.concatenate([p.points for p in parts]), np.concatenate([p.base for p in parts]),
        np.concatenate([p.residual for p in parts]), np.concatenate([p.unclipped for p in parts]),
        np.concatenate([p.risk_proba for p in parts]), np.concatenate([p.health_score for p in parts]),
        np.concatenate([p.band for p in parts]),
    ), hashes, 0


def level_sd_of(exported: ExportedModel) -> float:
    """The exported model's calibration-level uncertainty (0 when it has none)."""
    model = exported.model
    return 0.0 if model is None else float(model.calibrator_.level_sd or 0.0)


def arr_ranges(risk_list: pd.DataFrame, *, level: float = 0.8, logit_sd: float = 0.0,
               by: Sequence[str | None] = (None, "segment", "owner"),
               random_state: int = 0) -> list[dict[str, Any]]:
    """The expected ARR lost within the horizon with its central ``level`` range, for
    the whole book (``None``) and per value of each column of ``by``
    (:func:`healthscore.scoring.arr_range.arr_at_risk`; ``logit_sd``, the model's
    ``level_sd``, makes losses move together; a missing ARR counts 0, a missing group
    ``unknown``): one dict per group, ``by`` naming its column (``all`` for the book).
    Every grouping reads the same draws of the book
    (:func:`~healthscore.scoring.arr_range.arr_at_risk_groups`)."""
    from healthscore.scoring.arr_range import arr_at_risk_groups

    frame = risk_list.assign(arr=risk_list["arr"].fillna(0.0))
    for column in by:
        if column is not None:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "unknown")
    tables = arr_at_risk_groups(frame, by=by, level=level, logit_sd=logit_sd, random_state=random_state)
    out = []
    for column, table in zip(by, tables):
        if column is not None:
            table = table.loc[table["group"] != "all"]
        out += [{"by": column or "all", **{k: (v.item() if hasattr(v, "item") else v)
                                       for k, v in row.items()}}
                for row in table.to_dict(orient="records")]
    return out


def score_date(
    tables: Tables,
    exported: ExportedModel,
    *,
    as_of: pd.Timestamp,
    features: FeatureParams,
    score: ScoreParams,
    alerts: AlertParams,
    previous: Previous | None = None,
    reuse: pd.DataFrame | None = None,
    currency: str = "$",
    book_ranges: bool = True,
    lifecycle: LifecycleParams | None = None,
    chunk_rows: int | None = None,
) -> DateOutputs:
    """Score and explain every account active at ``as_of``; every output frame.

    Parameters
    ----------
    tables : Tables
        Validated source; features use only rows strictly before ``as_of``.
    exported : ExportedModel
    as_of : Timestamp
        Midnight of the as-of date (the cutoff of every row).
    features, score, alerts : the params sections
    previous : Previous, optional
        The last scoring before ``as_of`` (changes, alerts and score_change need it).
    reuse : DataFrame, optional
        Stored points of the same model, for incremental scoring.
    currency : str
        The symbol amounts in the driver text and change lines are worded with
        (``report.currency``).
    book_ranges : bool
        Compute the book's ARR-at-risk ranges (the run's ``arr_at_risk``); a bucket of
        the book leaves them to the merge (:mod:`healthscore.scoring.buckets`).
    lifecycle : LifecycleParams, optional
        With ``enabled``, the risk list gets a ``lifecycle_stage`` column (the stage
        at ``as_of``: :func:`healthscore.features.lifecycle.lifecycle_stage`).
    chunk_rows : int, optional
        Rows explained at a time (default ``score.chunk_rows``; a bucket's may be fewer:
        the outputs are the same, the peak lower).
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    cutoffs = make_scoring_cutoffs(tables, as_of)
    if cutoffs.empty:
        raise NoActiveAccountsError(f"no account is active on {as_of_text(as_of)} (no subscription "
                                    "in subscriptions covers that date)")
    names = list(exported.feature_names)
    keys = cutoffs[["account_id", "cutoff_time"]]
    from healthscore.features import build_features

    from healthscore.model.exposure import ACCOUNT_EXPOSURE, account_exposure

    built = [n for n in names if n not in ACCOUNT_EXPOSURE]  # the calendar is added below
    frame = build_features(tables, keys, features, plan=plan_for_model(tables, features, built),
                           progress=progress_callback(what="score: features", unit="partitions"))
    if not frame["account_id"].reset_index(drop=True).equals(cutoffs["account_id"]):
        frame = cutoffs[["account_id"]].merge(frame, on="account_id", how="left", validate="1:1")
    horizon = exported.horizon
    if horizon is not None:  # the renewal calendar known at the as-of date
        frame = account_exposure(frame.copy().assign(renewal_date=cutoffs["renewal_date"].to_numpy(),
                                              term_days=cutoffs["term_days"].to_numpy()), horizon)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DataError(f"the model needs feature(s) the data cannot give: {', '.join(missing[:5])} "
                        "(a table or column present at training is absent now?)")
    timings["features_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    ids = cutoffs["account_id"].to_numpy()
    explanation, hashes, reused = explain_rows(
        exported, frame[names], chunk_rows=chunk_rows or score.chunk_rows, reuse=reuse, account_ids=ids)
    timings["explain_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    model_version, fingerprint = model_identity(exported)
    catalogue = resolve_catalogue(exported, names, features=features, frame=frame)
    extra = [n for n in phrase_references(catalogue, names) if n in frame.columns]
    history = make_history_rows(ids, explanation, arr=12.0 * cutoffs["mrr"].to_numpy(),
                                model_version=model_version, catalogue=catalogue)
    points = make_points_frame(ids, frame, explanation, row_hash=hashes,
                               model_fingerprint=fingerprint, value_names=extra)
    profile_score, driver_points = split_profile(explanation, score.profile_features)
    drivers = find_drivers(driver_points, k=score.top_drivers)
    renewal_risk = (exported.predict_renewal_risk(frame[names]) if horizon is not None
                    else explanation.risk_proba)
    texts = render_drivers(drivers, feature_names=names,
                           columns=feature_columns(frame, [*names, *extra]), catalogue=catalogue,
                           currency=currency)
    scores = pd.DataFrame({"account_id": ids, "mrr": cutoffs["mrr"].to_numpy(),
                           "health_score": explanation.health_score, "band": explanation.band,
                           "risk_proba": explanation.risk_proba,
                           "renewal_date": cutoffs["renewal_date"].to_numpy(),
                           "renewal_risk": renewal_risk, "profile_score": profile_score})
    risk_list = build_risk_list(scores, tables.accounts,
                                None if previous is None else previous.history,
                                top_drivers=texts, model_version=model_version, as_of=as_of)
    if lifecycle is not None and lifecycle.enabled:
        risk_list = with_stage(risk_list, ids, stage_of_rows(frame, params=lifecycle,
                                                             mrr=cutoffs["mrr"].to_numpy()))
    if previous is not None:
        changes = attribute_changes(
            points, previous.points, current_scores=history, previous_scores=previous.history,
            model_changed=previous.model_version != model_version,
            previous_as_of=previous.as_of, catalogue=catalogue, top=score.top_drivers,
            currency=currency)
    else:
        changes = attribute_changes(points, points.iloc[:0], current_scores=history,
                                    previous_scores=history.iloc[:0], model_changed=False,
                                    previous_as_of=as_of, catalogue=catalogue)
    alert_frame = make_alerts(history[["account_id", "health_score", "band"]],
                              None if previous is None else previous.history,
                              change_reasons(changes, top=alerts.reasons,
                                             profile=score.profile_features,
                                             min_points=alerts.reason_min_points), alerts,
                              previous_alerts=None if previous is None else previous.alerts)
    timings["outputs_s"] = time.perf_counter() - clock

    from healthscore.io.datasets import make_meta

    bands = pd.Series(explanation.band).value_counts()
    ranges = arr_ranges(risk_list, logit_sd=level_sd_of(exported)) if book_ranges else None
    run = make_meta(
        as_of=as_of_text(as_of),
        previous_as_of=None if previous is None else as_of_text(previous.as_of),
        model_version=model_version,
        model_fingerprint=fingerprint,
        # the verified folder's identity (model.manifest): which files scored this date
        model_bundle_fingerprint=exported.info.get("bundle_fingerprint"),
        model_kind=exported.kind,
        model_info=dict(exported.info),
        scale=exported.scale.to_dict(),
        counts={
            "active": int(len(cutoffs)), "scored": int(len(explanation)),
            "red": int(bands.get("red", 0)), "yellow": int(bands.get("yellow", 0)),
            "green": int(bands.get("green", 0)), "alerts": int(len(alert_frame)),
            "compared": int(changes["account_id"].nunique()), "reused": int(reused),
        },
        params={"score": params_to_dict(score), "alerts": params_to_dict(alerts),
                **({"lifecycle": params_to_dict(lifecycle)} if lifecycle is not None and lifecycle.enabled
                   else {})},
        catalogue={n: catalogue.get(n) for n in [*names, *extra] if n in catalogue},
        horizon=None if horizon is None else horizon.to_dict(),
        arr_at_risk=ranges,
        timings=timings,
    )
    return DateOutputs(pd.Timestamp(as_of), risk_list, history, points, changes, alert_frame, run)

