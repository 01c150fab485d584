"""What the report reads: :class:`ReportInputs`, and its normalisation.

The scoring outputs (architecture.md, "Scoring outputs") arrive as frames and dicts;
:func:`normalise_inputs` turns them into the one shape the report's views use, filling
what a source leaves out (no owner: ``Unassigned``; no catalogue: a label made from the
feature name) and converting the wide points layout into a long one. It is pure.

Normalised frames (columns the views rely on):

* ``risk_list``: ``account_id, name, owner, segment, arr, health_score, band,
  risk_proba, arr_at_risk, renewal_date, days_to_renewal, renewal_risk, score_change,
  previous_band, top_drivers`` (list of str), ``base_points``, ``profile_score`` and
  ``unclipped_score`` (float, NaN when unknown);
* ``history``: ``account_id, as_of, health_score, band, risk_proba, arr`` (NaN when
  the history does not keep it);
* ``points`` / ``previous_points`` (long): ``account_id, feature, value, points,
  label, family, phrase, unit, profile`` (bool: a profile fact, never a driver);
* ``changes`` (long): ``account_id, feature, points_change, points_before, points_now,
  value_before, value_now, label, family, unit, against_direction, profile``;
* ``alerts``: ``account_id, kind, reason`` (the reason worded from the changes as the
  account page shows them, when the account has change lines).

The health scale and bands are :class:`healthscore.model.scale.HealthScale`, built from
the run's ``scale`` (else the exported model's); the horizon is the run's
``horizon.horizon_days``; the profile features the run's ``params.score.profile_features``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.errors import DataError
from healthscore.model.scale import HealthScale
from healthscore.scoring import wording as text
from healthscore.scoring.profile import profile_features_of, with_standing
from healthscore.report.points import (
    base_and_residual, catalogue_columns, empty_frame, hurt_accounts, hurt_summary, normalise_points, numeric_column,
    point_summary, text_column,
)
from healthscore.data.schema import AS_OF
from healthscore.report.changes_view import changes_shown, normalise_alerts, normalise_changes


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, for one as-of date.

    Attributes
    ----------
    as_of : Timestamp
        The scoring date the report describes.
    risk_list : DataFrame
        One row per scored account (architecture.md risk list columns).
    history : DataFrame
        Score history over every as-of date (``as_of`` column), one row per account
        and date.
    points : DataFrame or ParquetColumns
        Per-feature points and values at ``as_of``, long or wide; :func:`read_report_inputs`
        gives the wide file (:class:`healthscore.io.columns.ParquetColumns`), read a few
        columns at a time by :func:`normalise_inputs` (a long frame after it).
    previous_points : DataFrame or ParquetColumns
        The same at ``previous_as_of`` (empty when there is no earlier run).
    changes : DataFrame or ParquetColumns
        Why it changed: per account and feature, the change in points (the loader's:
        the file, read for the accounts shown).
    alerts : DataFrame
        Alerts raised at ``as_of``.
    calls : DataFrame
        The week's call list of ``as_of`` (``calls/<as_of>.csv``, columns
        :data:`healthscore.scoring.calls.CALL_COLUMNS`; empty when the run wrote none).
    run_info : dict
        ``run/<as_of>.json``.
    runs : tuple of dict
        What every run up to ``as_of`` recorded (``as_of``, ``counts``, ``arr_at_risk``
        of its ``run/<date>.json``), oldest first, for the trend across runs (empty:
        the trend is taken from ``history``).
    uplift : DataFrame
        Each play's measured uplift (``uplift/<date>.parquet`` of the latest date on or
        before ``as_of``, columns :data:`healthscore.plays.uplift.UPLIFT_COLUMNS` plus
        ``as_of``: the date its outcomes are known until; empty when none was written).
    parents, parent_drivers : DataFrame
        The parent accounts rolled up on ``as_of`` and their drivers
        (``parents/<as_of>.parquet``, ``parent_drivers/<as_of>.parquet``,
        :mod:`healthscore.scoring.parents`; empty when the accounts have no parents).
    parent_alerts : DataFrame
        The parents' alerts of ``as_of`` (``parent_alerts/<as_of>.parquet``,
        :mod:`healthscore.scoring.parent_alerts`; empty when none was raised).
    people : DataFrame
        The contacts behind the score (``people/<as_of>.parquet``, columns
        :data:`healthscore.scoring.people.PEOPLE_COLUMNS`; empty when the run wrote none).
    model_info : dict
        ``version``, ``kind``, ``created_at``, ``metrics`` (flat test metrics),
        ``catalogue`` (feature -> entry), ``scale`` (offset, pdo, red_below,
        green_from).
    previous_as_of : Timestamp or None
        The previous scoring date.
    feature_points : DataFrame
        Filled by :func:`normalise_inputs`: per feature, the mean absolute points over
        every scored account (``feature, label, mean_abs_points``), for the model page.
    previous_hurt : Series or None
        Filled by :func:`normalise_inputs` with ``detail_accounts`` and ``min_points``:
        per feature, the scored accounts the previous run's points hurt by at least
        ``min_points`` (:func:`~healthscore.report.points.hurt_accounts`); then
        ``previous_points`` keeps the detail accounts' rows only (their pages).
    hurt : dict of str to DataFrame, or None
        Filled by :func:`normalise_inputs` with ``detail_accounts`` and ``min_points``:
        what the drivers hurting accounts now add up to over every account
        (:func:`~healthscore.report.points.hurt_summary`); then ``points`` keeps the
        detail accounts' rows only.
    scale : HealthScale or None
        Filled by :func:`normalise_inputs`: the scale and bands the run scored with.
    horizon_days : int or None
        Filled by :func:`normalise_inputs`: the horizon of ``risk_proba`` (None when
        the run does not say).
    profile : tuple of str
        Filled by :func:`normalise_inputs`: the profile features of the run.
    """

    as_of: pd.Timestamp
    risk_list: pd.DataFrame
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    points: Any = field(default_factory=pd.DataFrame)  # DataFrame or ParquetColumns
    previous_points: Any = field(default_factory=pd.DataFrame)
    changes: Any = field(default_factory=pd.DataFrame)  # DataFrame or ParquetColumns
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    calls: pd.DataFrame = field(default_factory=pd.DataFrame)
    run_info: Mapping[str, Any] = field(default_factory=dict)
    runs: tuple[Mapping[str, Any], ...] = ()
    uplift: pd.DataFrame = field(default_factory=pd.DataFrame)
    parents: pd.DataFrame = field(default_factory=pd.DataFrame)
    parent_drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    parent_alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    people: pd.DataFrame = field(default_factory=pd.DataFrame)
    model_info: Mapping[str, Any] = field(default_factory=dict)
    previous_as_of: pd.Timestamp | None = None
    feature_points: pd.DataFrame = field(default_factory=pd.DataFrame)
    previous_hurt: pd.Series | None = None
    hurt: Mapping[str, pd.DataFrame] | None = None
    scale: HealthScale | None = None
    horizon_days: int | None = None
    profile: tuple[str, ...] = ()


# ----------------------------------------------------------------- helpers


def parse_drivers(value: Any) -> list[str]:
    """``top_drivers`` as a list of short texts: the text ``score`` writes (lines joined
    by ``; ``, :func:`healthscore.scoring.risk_list.render_drivers`), or a list of them."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if text.is_missing(value):
        return []
    if isinstance(value, str):
        value = value.split(";")
    return [str(item).strip() for item in value if not text.is_missing(item) and str(item).strip()]


# ------------------------------------------------------------- normalising


def scale_of(run_info: Mapping[str, Any], model_info: Mapping[str, Any]) -> HealthScale:
    """The health scale the run scored with: the run's ``scale``, else the exported
    model's ``scale.json``. Raises :class:`DataError` when neither says."""
    for source in (run_info.get("scale"), model_info.get("scale")):
        if isinstance(source, HealthScale):
            return source
        if isinstance(source, Mapping) and source:
            return HealthScale.from_dict(dict(source))
    raise DataError("run/<as_of>.json: no 'scale' (offset, pdo, red_below, green_from), and no "
                    "exported model's scale.json; expected the health scale the run scored with")


def horizon_of(run_info: Mapping[str, Any]) -> int | None:
    """The run's ``horizon.horizon_days`` (None when it does not say)."""
    horizon = run_info.get("horizon")
    days = horizon.get("horizon_days") if isinstance(horizon, Mapping) else None
    return None if text.is_missing(days) else int(days)


def _bands(score: pd.Series, scale: HealthScale) -> pd.Series:
    bands = pd.Series(scale.band(score.fillna(0).to_numpy()), index=score.index, dtype=object)
    return bands.where(score.notna(), None)


def riskiest(risk_list: pd.DataFrame, n: int) -> list[Any]:
    """account_ids of the ``n`` riskiest accounts of a normalised risk list: highest
    ``risk_proba``, then lowest score, then largest ARR."""
    order = risk_list.sort_values(
        ["risk_proba", "health_score", "arr"], ascending=[False, True, False],
        na_position="last", kind="stable",
    )
    return order["account_id"].head(max(int(n), 0)).tolist()


def normalise_risk_list(
    risk_list: pd.DataFrame,
    *,
    scale: HealthScale,
    sums: pd.Series,
    extras: pd.DataFrame,
    profile_sums: pd.Series | None = None,
    as_of: Any = None,
) -> pd.DataFrame:
    """The risk list with every column the views use (see the module docstring).

    ``sums`` and ``profile_sums``: each account's feature points and profile facts'
    points summed (:func:`point_summary`); ``profile_score`` is recovered from them
    when the list has none. ``as_of``: the scoring date (days to a renewal date)."""
    if risk_list is None or risk_list.empty:
        raise DataError("risk_list: no scored accounts; run `healthscore score` first")
    frame = risk_list
    for column in ("account_id", "health_score"):
        if column not in frame.columns:
            raise DataError(f"risk_list: no column {column!r}; expected the risk list of "
                            "`healthscore score` (healthscore.data.schema.RISK_LIST_COLUMNS)")
    out = pd.DataFrame({"account_id": frame["account_id"].to_numpy()}, index=frame.index)
    out["name"] = text_column(frame, "name", "")
    out.loc[out["name"] == "", "name"] = out["account_id"].map(str)
    out["owner"] = text_column(frame, "owner", "Unassigned")
    out["segment"] = text_column(frame, "segment", "Unknown")
    if "lifecycle_stage" in frame.columns:  # lifecycle.enabled (healthscore.features.lifecycle)
        out["lifecycle_stage"] = text_column(frame, "lifecycle_stage", "unknown")
    out["arr"] = numeric_column(frame, "arr")
    if "expansion_proba" in frame.columns:  # an expansion model exported (healthscore.scoring.expansion)
        out["expansion_proba"] = numeric_column(frame, "expansion_proba")
    out["health_score"] = numeric_column(frame, "health_score")
    band = frame["band"].astype(object) if "band" in frame.columns else pd.Series(None, index=frame.index)
    out["band"] = band.where(band.notna(), _bands(out["health_score"], scale))
    risk = numeric_column(frame, "risk_proba")
    implied = scale.risk_from_score(out["health_score"].to_numpy())
    out["risk_proba"] = risk.where(risk.notna(), pd.Series(implied, index=out.index))
    at_risk = numeric_column(frame, "arr_at_risk")
    out["arr_at_risk"] = at_risk.where(at_risk.notna(), out["arr"] * out["risk_proba"])
    # The next renewal: its date, the days to it and the chance it is lost.
    renewal = pd.to_datetime(frame["renewal_date"], errors="coerce") if "renewal_date" in frame.columns \
        else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    days = numeric_column(frame, "days_to_renewal")
    if as_of is not None:
        from_date = (renewal - pd.Timestamp(as_of)).dt.days.astype("float64")
        days = days.where(days.notna(), from_date)
        renewal = renewal.where(renewal.notna(), pd.Timestamp(as_of) + pd.to_timedelta(days, unit="D"))
    out["renewal_date"] = renewal.to_numpy()
    out["days_to_renewal"] = days
    out["renewal_risk"] = numeric_column(frame, "renewal_risk")
    out["score_change"] = numeric_column(frame, "score_change")
    prev = frame["previous_band"] if "previous_band" in frame.columns else pd.Series(None, index=frame.index)
    out["previous_band"] = prev.astype(object).where(prev.notna(), None)
    drivers = frame["top_drivers"] if "top_drivers" in frame.columns else pd.Series(None, index=frame.index)
    out["top_drivers"] = drivers.map(parse_drivers)
    # The score's arithmetic: base + points (+ residual) = unclipped score.
    ids = out["account_id"]
    point_sum = ids.map(sums).astype("float64")
    base = numeric_column(frame, "base_points")
    base = base.where(base.notna(), ids.map(extras["base_points"]) if len(extras) else np.nan)
    residual = ids.map(extras["residual_points"]).astype("float64") if len(extras) else pd.Series(
        np.nan, index=out.index)
    out["residual_points"] = residual.fillna(0.0)
    unclipped = numeric_column(frame, "unclipped_score")
    from_base = base + point_sum.fillna(0.0) + out["residual_points"]
    unclipped = unclipped.where(unclipped.notna(), from_base)
    from_risk = pd.Series(scale.unclipped_from_risk(out["risk_proba"].to_numpy()), index=out.index)
    out["unclipped_score"] = unclipped.where(unclipped.notna(), from_risk)
    # Without an explicit base, it is what the points leave of the unclipped score.
    out["base_points"] = base.where(
        base.notna(), out["unclipped_score"] - point_sum - out["residual_points"])
    # The starting point: base + profile facts' points ("accounts like this score N").
    own_profile = ids.map(profile_sums).astype("float64") if profile_sums is not None and len(profile_sums) \
        else pd.Series(np.nan, index=out.index)
    stored = numeric_column(frame, "profile_score")
    out["profile_score"] = stored.where(stored.notna(), out["base_points"] + own_profile.fillna(0.0))
    for column in ("model_version", "as_of"):
        if column in frame.columns:
            out[column] = frame[column].to_numpy()
    return out.reset_index(drop=True)


def normalise_history(history: pd.DataFrame, *, scale: HealthScale) -> pd.DataFrame:
    columns = ["account_id", "as_of", "health_score", "band", "risk_proba", "arr"]
    if history is None or history.empty:
        return empty_frame(columns)
    frame = history
    if AS_OF not in frame.columns or "health_score" not in frame.columns:
        raise DataError(f"history: expected columns account_id, {AS_OF}, health_score; got "
                        f"{list(frame.columns)[:8]}")
    out = pd.DataFrame({
        "account_id": frame["account_id"].to_numpy(),
        "as_of": pd.to_datetime(frame[AS_OF].astype(str)).to_numpy(),
        "health_score": numeric_column(frame, "health_score").to_numpy(),
        "risk_proba": numeric_column(frame, "risk_proba").to_numpy(),
        "arr": numeric_column(frame, "arr").to_numpy(),
    })
    band = frame["band"].astype(object).to_numpy() if "band" in frame.columns else None
    out["band"] = band if band is not None else _bands(out["health_score"], scale)
    return out.sort_values(["account_id", "as_of"], kind="stable").reset_index(drop=True)


def normalise_inputs(inputs: ReportInputs, *, detail_accounts: int | None = None,
                     min_points: float | None = None) -> ReportInputs:
    """The inputs in the one shape the views use (module docstring); pure.

    The run file fills what the exported model does not say: its ``catalogue``
    (entries of the features scored), ``scale``, ``model_version``, ``model_kind``.

    With ``detail_accounts`` = N, only the N riskiest accounts (:func:`riskiest`) keep
    every feature's points and values (their pages show them); with ``min_points`` too,
    what the overview's patterns count of every account's drivers costing at least
    that many points is counted from the points as given (``hurt`` and
    ``previous_hurt``), never made into long rows. Sums and per-feature means are
    taken over every account first.
    """
    run = dict(inputs.run_info or {})
    model_info = dict(inputs.model_info or {})
    catalogue = {**(run.get("catalogue") or {}), **(model_info.get("catalogue") or {})}
    model_info["catalogue"] = catalogue
    if not model_info.get("scale") and isinstance(run.get("scale"), Mapping):
        model_info["scale"] = run["scale"]
    for key, run_key in (("version", "model_version"), ("kind", "model_kind")):
        if not model_info.get(key) and run.get(run_key):
            model_info[key] = run[run_key]
    for key, value in (run.get("model_info") or {}).items():
        model_info.setdefault(key, value)
    scale = scale_of(run, model_info)
    profile = profile_features_of(run)
    sums, profile_sums, mean_abs = point_summary(inputs.points, profile)
    extras = base_and_residual(inputs.points)
    risk_list = normalise_risk_list(inputs.risk_list, scale=scale, sums=sums, extras=extras,
                                    profile_sums=profile_sums, as_of=inputs.as_of)
    detail = None if detail_accounts is None else riskiest(risk_list, detail_accounts)
    hurt_below = None if min_points is None else -abs(min_points)
    hurt = previous_hurt = None
    if detail is not None and hurt_below is not None:
        # the hurting rows of every account are only ever counted (the overview's
        # patterns): counted here, from the wide file a few columns at a time; the long
        # rows are kept for the detail accounts' pages only
        hurt = hurt_summary(inputs.points, risk_list, min_points=hurt_below, profile=profile,
                            catalogue=catalogue)
        previous_hurt = hurt_accounts(inputs.previous_points, min_points=hurt_below, profile=profile,
                                      accounts=risk_list["account_id"])
    points, _ = normalise_points(inputs.points, catalogue, detail=detail, profile=profile)
    previous_points, _ = normalise_points(inputs.previous_points, catalogue, detail=detail, profile=profile)
    # where each value stands among similar accounts (the same segment): profile.holds_up
    # (the detail accounts' rows only: their pages are the only view that shows it)
    points = with_standing(points, inputs.points, catalogue=catalogue,
                           groups=risk_list.set_index("account_id")["segment"], accounts=detail)
    changes = normalise_changes(changes_shown(inputs.changes, detail, inputs.alerts), catalogue, profile)
    feature_points = catalogue_columns(
        pd.DataFrame({"feature": mean_abs.index.astype(str), "mean_abs_points": mean_abs.to_numpy()}),
        catalogue)[["feature", "label", "mean_abs_points"]] if len(mean_abs) else pd.DataFrame(
        columns=["feature", "label", "mean_abs_points"])
    model_info["scale"] = scale.to_dict()
    return replace(
        inputs,
        as_of=pd.Timestamp(inputs.as_of),
        previous_as_of=None if inputs.previous_as_of is None else pd.Timestamp(inputs.previous_as_of),
        risk_list=risk_list,
        history=normalise_history(inputs.history, scale=scale),
        points=points,
        previous_points=previous_points,
        previous_hurt=previous_hurt,
        hurt=hurt,
        changes=changes,
        alerts=normalise_alerts(inputs.alerts, changes=changes, risk_list=risk_list, profile=profile),
        run_info=run,
        model_info=model_info,
        feature_points=feature_points,
        scale=scale,
        horizon_days=horizon_of(run),
        profile=profile,
    )
