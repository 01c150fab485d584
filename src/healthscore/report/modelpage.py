"""The model page, for the data scientist: version, test metrics against the baselines,
reliability, observed churn per band, the global drivers and the drift since training
(the run's ``drift`` summary: a plain verdict and whether to retrain).

Each thing is shown once and in words: one reliability chart (the training plot of the
same curve is left out when the reliability points are drawn), whole signal labels,
the run's counts named in words (never its raw keys), the score's scale as a sentence.

Pure. ``model_info["metrics"]`` is the flat test metrics of the exported model
(``test_<predictor>_<metric>``, ``test_<predictor>_churn_rate_<band>``, as
:meth:`healthscore.model.training.TrainResult.flat_metrics` names them) or a nested
``{predictor: {metric: value}}`` mapping; ``model_info["reliability"]`` holds the
reliability points when they were exported.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

from healthscore.scoring import wording as text
from healthscore.report import charts

#: metric -> (name in words, its technical name, what it means, higher is better)
METRIC_WORDS: dict[str, tuple[str, str, str, bool]] = {
    "roc_auc": ("Ranking of churners", "ROC-AUC",
                "how often a churner is ranked riskier than a renewer (0.5 is a coin flip, 1 is perfect)", True),
    "pr_auc": ("Finding churners", "PR-AUC",
               "how well churners come first; a model without skill scores the churn rate", True),
    "top_decile_lift": ("Churn in the riskiest tenth", "top-10% lift",
                        "churn among the riskiest 10% of renewals, as a multiple of the average", True),
    "recall_at_top10": ("Churners caught in the riskiest tenth", "recall at top 10%",
                        "share of all churners found among the riskiest 10% of renewals", True),
    "log_loss": ("Penalty for confident mistakes", "log loss",
                 "grows fast when a churner was given a low risk, or a renewer a high one", False),
    "brier": ("Probability error", "Brier score",
              "mean squared gap between the churn probability and what happened (0 or 1)", False),
    "ece": ("Calibration gap", "expected calibration error",
            "average gap between predicted and observed churn, per bin of risk", False),
}

#: model kind -> in words
KIND_WORDS: dict[str, str] = {
    "lightgbm": "Gradient-boosted trees (LightGBM), calibrated",
    "blend": "Gradient-boosted trees (LightGBM) blended with the rule scorecard, calibrated",
    "scorecard": "Rule scorecard (weighted rules, no learning)",
    "logistic": "Logistic regression (L1, prepared metrics), calibrated",
}

#: the run's counts -> in words (shown in this order; a count not listed is not shown)
COUNT_WORDS: dict[str, str] = {
    "active": "Active accounts on the as-of date",
    "scored": "Accounts scored",
    "accounts": "Accounts scored",
    "red": "Red band", "yellow": "Yellow band", "green": "Green band",
    "compared": "Accounts compared with the previous run",
    "alerts": "Alerts raised",
    "tasks": "Tasks made by the plays",
    "reused": "Accounts whose features had not changed (their points were reused)",
}

#: training plots -> (title, caption); the reliability plot is drawn as a chart instead
PLOT_WORDS: dict[str, tuple[str, str]] = {
    "reliability": ("Reliability of each predictor", "Observed against predicted churn per bin of test renewals."),
    "roc": ("Churners found against renewers flagged",
            "Each point is a risk threshold: the share of churners above it against the share of renewers above it "
            "(the ROC curve)."),
    "lift": ("Churn among the riskiest renewals",
             "Churn among the riskiest share of test renewals, as a multiple of the average (the lift curve)."),
}

PREDICTOR_WORDS: dict[str, str] = {
    "model": "Model", "logistic": "Logistic regression", "scorecard": "Rule scorecard",
    "base_rate": "Base rate", "oracle": "Oracle (simulation truth)",
}

_METRIC = re.compile(r"^test_(?P<pred>.+?)_(?P<metric>" + "|".join(METRIC_WORDS) + r")$")
_BAND = re.compile(r"^test_(?P<pred>.+?)_(?P<what>churn_rate|share)_(?P<band>red|yellow|green)$")


def parse_metrics(metrics: Mapping[str, Any]) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """``(per_predictor, per_band)`` from flat or nested test metrics.

    ``per_predictor[predictor][metric]``; ``per_band[band]`` has ``churn_rate`` and
    ``share`` of the model's test rows.
    """
    per_pred: dict[str, dict[str, float]] = {}
    per_band: dict[str, dict[str, float]] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, Mapping):
            if key in ("test", "baselines"):
                nested, bands = parse_metrics({f"test_{p}_{m}": v for p, d in value.items()
                                               if isinstance(d, Mapping) for m, v in d.items()})
                for p, d in nested.items():
                    per_pred.setdefault(p, {}).update(d)
                for b, d in bands.items():
                    per_band.setdefault(b, {}).update(d)
            elif any(m in value for m in METRIC_WORDS):
                per_pred.setdefault(key, {}).update(
                    {m: float(v) for m, v in value.items() if m in METRIC_WORDS and _is_number(v)})
            continue
        if not _is_number(value):
            continue
        if m := _METRIC.match(key):
            per_pred.setdefault(m["pred"], {})[m["metric"]] = float(value)
        elif (m := _BAND.match(key)) and m["pred"] == "model":
            per_band.setdefault(m["band"], {})[m["what"]] = float(value)
        elif key in METRIC_WORDS:
            per_pred.setdefault("model", {})[key] = float(value)
    return per_pred, per_band


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


#: model kind -> the served model's column in the test table (it is one of the baselines'
#: learners when the small-data selection chose a logistic regression or the scorecard)
MODEL_COLUMN: dict[str, str] = {
    "lightgbm": "Model (LightGBM)", "blend": "Model (LightGBM blended with the rules)",
    "logistic": "Model (logistic regression)", "scorecard": "Model (rule scorecard)",
}


def metric_table(per_pred: Mapping[str, Mapping[str, float]], *, kind: str = "lightgbm") -> dict[str, Any]:
    """Rows per metric, columns per predictor (model first, named by its ``kind``); the
    best value marked."""
    words = {**PREDICTOR_WORDS, "model": MODEL_COLUMN.get(kind, "Model")}
    order = [p for p in PREDICTOR_WORDS if p in per_pred] + sorted(p for p in per_pred if p not in PREDICTOR_WORDS)
    columns = [{"key": p, "label": words.get(p, p.replace("_", " ").capitalize())} for p in order]
    rows = []
    for metric, (name, term, meaning, higher) in METRIC_WORDS.items():
        vals = {p: per_pred[p].get(metric, np.nan) for p in order}
        real = {p: v for p, v in vals.items() if np.isfinite(v) and p != "oracle"}
        if not real:
            continue
        best = (max if higher else min)(real, key=real.get)
        rows.append({
            "name": name, "term": term, "meaning": meaning, "direction": "higher is better" if higher else "lower is better",
            "cells": [{"text": "not measured" if not np.isfinite(vals[p]) else f"{vals[p]:.3f}", "best": p == best}
                      for p in order],
        })
    return {"columns": columns, "rows": rows}


def scale_words(scale: Any) -> str:
    """The score's scale as a sentence: even odds, the points that halve them, the bands."""
    return (f"A health score of {scale.offset:g} means even odds of losing the account (1 in 2); "
            f"every {scale.pdo:g} points higher halves those odds. Red is below {scale.red_below}, "
            f"green from {scale.green_from}.")


def count_rows(run: Mapping[str, Any]) -> list[dict[str, str]]:
    """The run's counts in words, in :data:`COUNT_WORDS` order; zero reuse is not shown."""
    counts = run.get("counts") if isinstance(run.get("counts"), Mapping) else run
    rows, seen = [], set()
    for key, words in COUNT_WORDS.items():
        value = counts.get(key)
        if words in seen or not _is_number(value) or (key == "reused" and not value):
            continue
        seen.add(words)
        rows.append({"name": words, "value": f"{value:,.0f}"})
    return rows


def plot_figures(plots: Mapping[str, str], *, reliability_drawn: bool) -> list[dict[str, str]]:
    """The training plots to show, titled in words; the reliability plot only when
    its points were not drawn as a chart (one reliability figure per page)."""
    shown = []
    for name, data in sorted(plots.items()):
        stem = name.rsplit(".", 1)[0]
        if stem == "reliability" and reliability_drawn:
            continue
        title, caption = PLOT_WORDS.get(stem, (stem.replace("_", " ").capitalize(), ""))
        shown.append({"name": title, "caption": caption, "data": data})
    return shown


def _reliability(model_info: Mapping[str, Any]) -> Any:
    data = model_info.get("reliability")
    if not data:
        return None
    frame = pd.DataFrame(data)
    pick = {}
    for target, names in (("predicted", ("predicted", "mean_predicted", "prob_pred", "risk")),
                          ("observed", ("observed", "fraction_positive", "prob_true", "churn_rate")),
                          ("count", ("count", "rows", "n"))):
        pick[target] = next((frame[n] for n in names if n in frame.columns), None)
    if pick["predicted"] is None or pick["observed"] is None:
        return None
    return charts.reliability_curve(pick["predicted"], pick["observed"], counts=pick["count"])


def _when(value: Any) -> str:
    """``2024-04-20 08:00 UTC`` of an ISO time; the text as it is when unparsable."""
    if not value:
        return ""
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        return str(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M") + (" UTC" if stamp.tzinfo is not None else "")


def drift_section(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run's drift (``run["drift"]``, :mod:`healthscore.monitor`) in words: the
    verdict lines, retrain or not, the band shares now against training; None when the
    run kept none (scored before drift monitoring)."""
    drift = run.get("drift")
    if not isinstance(drift, Mapping):
        return None
    window = drift.get("window") or {}
    bands = [{"band": b, "label": text.band_label(b), "now": text.percent(d.get("current")),
              "then": text.percent(d.get("reference")) if d.get("reference") is not None else "not recorded"}
             for b, d in (drift.get("bands") or {}).items() if isinstance(d, Mapping)]
    return {
        "retrain": bool(drift.get("retrain")),
        "headline": "Retraining recommended" if drift.get("retrain") else "No retraining needed",
        "lines": [str(line) for line in drift.get("verdict") or []],
        "bands": bands,
        "window": (f"training cutoffs {window['first_cutoff']} to {window['last_cutoff']}"
                   if window.get("first_cutoff") else ""),
    }


def build_model_page(inputs: Any, params: Any) -> dict[str, Any]:
    """Context of the model page from normalised inputs."""
    info = inputs.model_info
    per_pred, per_band = parse_metrics(info.get("metrics") or {})
    bands = [b for b in ("red", "yellow", "green") if b in per_band and "churn_rate" in per_band[b]]
    band_chart = charts.hbars(
        [text.band_label(b) for b in bands], [per_band[b]["churn_rate"] * 100 for b in bands],
        value_text=[text.percent(per_band[b]["churn_rate"]) for b in bands],
        fills=[charts.BAND_FILL[b] for b in bands], title="Observed churn per band (test)",
        width=500, whole_labels=True,
    ) if bands else None
    band_rows = [{"band": b, "label": text.band_label(b), "churn": text.percent(per_band[b]["churn_rate"], digits=1),
                  "share": text.percent(per_band[b].get("share"))} for b in bands]
    drivers = None
    if len(inputs.feature_points):
        mean_abs = inputs.feature_points.set_index(["feature", "label"])["mean_abs_points"]
        mean_abs = mean_abs.sort_values(ascending=False).head(15)
        drivers = charts.hbars([label for _, label in mean_abs.index], mean_abs.tolist(),
                               value_text=[f"{v:.1f} pts" for v in mean_abs],
                               title="Mean absolute points per signal", width=900, whole_labels=True)
    scale = inputs.scale
    run = inputs.run_info
    reliability = _reliability(info)
    kind = str(info.get("kind") or "")
    return {
        "version": info.get("version") or run.get("model_version") or "unversioned",
        "kind": KIND_WORDS.get(kind, kind), "created_at": _when(info.get("created_at")),
        "package_version": info.get("package_version") or "",
        "run_id": info.get("run_id") or "",
        "scale": {"offset": f"{scale.offset:g}", "pdo": f"{scale.pdo:g}",
                  "red_below": scale.red_below, "green_from": scale.green_from,
                  "words": scale_words(scale)},
        "metrics": metric_table(per_pred, kind=kind),
        "band_chart": band_chart, "band_rows": band_rows,
        "reliability": reliability,
        "drivers": drivers,
        "plots": plot_figures(info.get("plots") or {}, reliability_drawn=reliability is not None),
        "counts": count_rows(run),
        "drift": drift_section(run),
    }
