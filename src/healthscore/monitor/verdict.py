"""Drift in words: the verdict lines, the data-scientist alerts and whether to retrain.

:func:`summarise_drift` turns a date's drift table, band shift, matured calibration and
model age into the summary kept in ``run/<as_of>.json`` under ``drift``: plain lines
("inputs stable", "usage features drifted since training (PSI 0.31: ...)",
"calibration off by 7 percentage points at the red band ..."), the alerts past
``params.monitor``'s thresholds, and ``retrain`` (any alert) with its reasons.
:func:`render_recommendation` prints it for ``healthscore monitor``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.monitor.drift import SCORE

NO_REFERENCE = "no training reference (the model was saved without reference.json; retrain to monitor drift)"


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def family_findings(table: pd.DataFrame, monitor: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Lines and alerts of the features, one per family past ``psi_warn``."""
    features = table[(table["name"] != SCORE) & table["psi"].notna() & table["counted"]]
    if features.empty:
        return ["inputs not measured (no feature of the reference was scored)"], []
    lines, alerts = [], []
    for family, group in features.groupby("family", sort=False):
        top = group.sort_values("psi", ascending=False).iloc[0]
        if top["psi"] < monitor.psi_warn:
            continue
        drifted = int((group["psi"] >= monitor.psi_warn).sum())
        words = "drifted" if top["psi"] >= monitor.psi_alert else "shifted slightly"
        line = (f"{family} features {words} since training (PSI {top['psi']:.2f}: {top['label']}"
                f"{f'; {drifted} {family} features past {monitor.psi_warn:g}' if drifted > 1 else ''})")
        lines.append((top["psi"], line))
        if top["psi"] >= monitor.psi_alert:
            alerts.append({"kind": "feature_drift", "family": family, "feature": top["name"],
                           "value": float(top["psi"]), "message": line})
    lines.sort(key=lambda t: -t[0])
    if not lines:
        return [f"inputs stable (largest PSI {features['psi'].max():.2f}: "
                f"{features.iloc[0]['label']})"], []
    return [line for _, line in lines], alerts


def summarise_drift(table: pd.DataFrame | None, *, bands: Mapping[str, Any] | None,
                    matured: Mapping[str, Any], age_days: float, monitor: Any) -> dict[str, Any]:
    """The ``drift`` summary of a run (module docstring); ``table`` None: no reference."""
    lines: list[str] = []
    alerts: list[dict[str, Any]] = []
    out: dict[str, Any] = {"reference": table is not None}
    if table is None:
        lines.append(NO_REFERENCE)
    else:
        feature_lines, feature_alerts = family_findings(table, monitor)
        lines += feature_lines
        alerts += feature_alerts
        score = table[table["name"] == SCORE].iloc[0]
        out["psi_score"] = _finite(score["psi"])
        features = table[(table["name"] != SCORE) & table["psi"].notna() & table["counted"]]
        out["psi_max"] = _finite(features["psi"].max()) if len(features) else None
        out["psi_max_feature"] = str(features.iloc[0]["name"]) if len(features) else None
        out["features_warn"] = int((features["level"] == "warn").sum())
        out["features_alert"] = int((features["level"] == "alert").sum())
        if np.isfinite(score["psi"]) and score["psi"] >= monitor.psi_warn:
            line = (f"the health score's distribution {'drifted' if score['psi'] >= monitor.psi_alert else 'shifted slightly'} "
                    f"since training (PSI {score['psi']:.2f})")
            lines.append(line)
            if score["psi"] >= monitor.psi_alert:
                alerts.append({"kind": "score_drift", "value": float(score["psi"]), "message": line})
        out["bands"] = {b: {k: _finite(v) for k, v in d.items()} for b, d in (bands or {}).items()}
    out["matured"] = dict(matured)
    lines += _calibration_lines(matured, monitor, alerts)
    out["model_age_days"] = _finite(age_days)
    if np.isfinite(age_days) and age_days > monitor.max_model_age_days:
        line = (f"the model is {age_days:.0f} days past the end of its training data "
                f"(more than {monitor.max_model_age_days})")
        lines.append(line)
        alerts.append({"kind": "model_age", "value": float(age_days), "message": line})
    out["verdict"] = lines
    out["alerts"] = alerts
    out["retrain"] = bool(alerts)
    return out


def _calibration_lines(matured: Mapping[str, Any], monitor: Any, alerts: list) -> list[str]:
    if matured.get("status") != "measured":
        return [f"calibration on matured outcomes not measured: {matured.get('reason')}"]
    n = matured["accounts"]
    if n < monitor.min_matured_accounts:
        return [f"calibration on matured outcomes not judged: {n} accounts of the {matured['as_of']} run "
                f"matured, fewer than {monitor.min_matured_accounts}"]
    lines = []
    red = (matured.get("bands") or {}).get("red")
    if red and abs(red["gap"]) > monitor.max_band_gap:
        line = (f"calibration off by {abs(red['gap']) * 100:.0f} percentage points at the red band "
                f"(predicted {red['predicted']:.0%}, observed {red['observed']:.0%} churn of "
                f"{red['rows']} accounts scored {matured['as_of']})")
        lines.append(line)
        alerts.append({"kind": "calibration_red", "value": float(red["gap"]), "message": line})
    if np.isfinite(matured["ece"]) and matured["ece"] > monitor.max_ece:
        line = (f"calibration off on matured outcomes: ECE {matured['ece']:.3f} above {monitor.max_ece:g} "
                f"({n} accounts scored {matured['as_of']})")
        lines.append(line)
        alerts.append({"kind": "calibration", "value": float(matured["ece"]), "message": line})
    if not lines:
        auc = matured.get("roc_auc")
        lines.append(f"calibrated on matured outcomes (ECE {matured['ece']:.3f}"
                     f"{f', ROC-AUC {auc:.3f}' if auc is not None and np.isfinite(auc) else ''}; "
                     f"{n} accounts scored {matured['as_of']})")
    return lines


def drift_metrics(summary: Mapping[str, Any], table: pd.DataFrame | None) -> dict[str, float]:
    """MLflow metrics of a run's drift: ``drift_psi_score``, ``drift_psi_max``,
    ``drift_psi/<feature>``, ``drift_band_share_<band>``, ``matured_ece``,
    ``matured_roc_auc``, ``matured_red_gap``, ``model_age_days`` (finite values only)."""
    out: dict[str, float] = {}
    for key in ("psi_score", "psi_max"):
        if summary.get(key) is not None:
            out[f"drift_{key}"] = float(summary[key])
    if table is not None:
        for row in table.itertuples(index=False):
            if row.name != SCORE and np.isfinite(row.psi):
                out[f"drift_psi/{row.name}"] = float(row.psi)
    for band, shares in (summary.get("bands") or {}).items():
        if shares.get("current") is not None:
            out[f"drift_band_share_{band}"] = float(shares["current"])
    matured = summary.get("matured") or {}
    if matured.get("status") == "measured":
        for key in ("ece", "roc_auc"):
            if matured.get(key) is not None and math.isfinite(matured[key]):
                out[f"matured_{key}"] = float(matured[key])
        if "red" in (matured.get("bands") or {}):
            out["matured_red_gap"] = float(matured["bands"]["red"]["gap"])
    if summary.get("model_age_days") is not None:
        out["model_age_days"] = float(summary["model_age_days"])
    out["retrain"] = float(bool(summary.get("retrain")))
    return out


def render_recommendation(summary: Mapping[str, Any], *, as_of: str, model_version: str | None) -> str:
    """What ``healthscore monitor`` prints: retrain or not, and why."""
    kinds = dict.fromkeys(a["kind"].replace("_", " ") for a in summary.get("alerts") or [])
    head = ("RETRAIN: " + "; ".join(kinds)
            if summary.get("retrain") else "no retraining needed")
    lines = [f"monitor {as_of} (model {model_version or 'unversioned'}): {head}"]
    lines += [f"  - {line}" for line in summary.get("verdict") or []]
    bands = summary.get("bands") or {}
    if bands:
        lines.append("  band shares now vs training: " + ", ".join(
            f"{b} {d['current']:.0%} vs {d['reference']:.0%}" if d.get("reference") is not None
            else f"{b} {d['current']:.0%}" for b, d in bands.items()))
    age = summary.get("model_age_days")
    if age is not None and age < 0:
        lines.append(f"  model age: {as_of} is inside the model's training data (it ends "
                     f"{summary.get('trained_until')})")
    elif age is not None and not any(a["kind"] == "model_age" for a in summary.get("alerts") or []):
        lines.append(f"  model age: {age:.0f} days since the end of its training data")
    return "\n".join(lines)
