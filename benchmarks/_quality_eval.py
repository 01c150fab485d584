"""The evaluation of ``benchmarks/quality.py``: one time split (:func:`evaluate_split`) or
time-ordered folds (:func:`evaluate_cv`) of a training set, each predictor's test
metrics, the oracle ratio, fidelity and the single-feature check pooled over them."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from healthscore.config import Params
from healthscore.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _quality_markdown import METRICS  # noqa: E402
import _quality_small  # noqa: E402

PREDICTORS = ("model", "selected", "blend", "logistic", "scorecard", "base_rate", "oracle")


def analyse_test(exported: Any, *, fit: pd.DataFrame, test: pd.DataFrame, names: list[str], features: Any,
                 truth: pd.DataFrame | None, profile: Sequence[str] = ()) -> dict[str, Any]:
    """Drivers (sums over rows), single-feature AUCs and family points of test rows."""
    from healthscore.scoring.drivers import explain_families
    from healthscore.model.evaluation import global_drivers, single_feature_auc
    from healthscore.model.export import catalogue_dict

    y_test = test["label"].to_numpy(dtype=np.int64)
    out: dict[str, Any] = {
        "leak": single_feature_auc(test[names], y_test, X_train=fit[names],
                                   y_train=fit["label"].to_numpy(dtype=np.int64)),
        "rows": len(test),
    }
    if exported.model is not None:  # sums, so folds pool by rows
        # contributions to the calibrated logit (Platt slope a times the raw margin's),
        # so log-odds and points mean the same in every fold
        model = exported.model
        calibrated = model.contributions(test[names]) * model.calibrator_.a
        drivers = global_drivers(calibrated, names, points_per_logit=exported.scale.factor)
        out["drivers"] = drivers.set_index("feature")[
            ["mean_abs_logit", "mean_logit", "mean_abs_points"]] * len(test)
    if truth is not None and {"primary_cause", "cause_family"} <= set(truth.columns):
        catalogue = catalogue_dict(names, features=features, frame=test)
        out["families"] = explain_families(exported, test, catalogue=catalogue, profile=profile)
    return out


def pool(parts: list[dict[str, Any]], truth: pd.DataFrame | None, names: list[str], *,
         features: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """Drivers, leak check and fidelity over the test rows of every fold."""
    from healthscore.scoring.drivers import catalogue_entry, cause_fidelity
    from healthscore.model.evaluation import LEAK_AUC
    from healthscore.model.export import catalogue_dict

    out: dict[str, Any] = {}
    rows = sum(p["rows"] for p in parts)
    with_drivers = [p for p in parts if "drivers" in p]
    if with_drivers:
        drivers = sum(p["drivers"] for p in with_drivers) / sum(p["rows"] for p in with_drivers)
        drivers["share"] = drivers["mean_abs_logit"] / drivers["mean_abs_logit"].sum()
        drivers = drivers.sort_values("mean_abs_logit", ascending=False, kind="stable")
        catalogue = catalogue_dict(names, features=features, frame=frame)
        out["drivers"] = [
            {"feature": name, "label": catalogue_entry(catalogue, name)["label"],
             "family": catalogue_entry(catalogue, name)["family"],
             **{k: round(float(v), 5) for k, v in row.items()}}
            for name, row in drivers.head(25).iterrows()
        ]
    leak = pd.concat([p["leak"] for p in parts]).groupby("feature", sort=False).agg(
        auc=("auc", "mean"), max_fold_auc=("auc", "max"), missing_share=("missing_share", "mean"))
    leak = leak.sort_values("auc", ascending=False, na_position="last")
    out["leak_check"] = {
        "threshold": LEAK_AUC,
        "over": "mean over folds" if len(parts) > 1 else "test rows",
        "flagged": [n for n, a in leak["auc"].items() if a > LEAK_AUC],
        "above_in_a_fold": [n for n, a in leak["max_fold_auc"].items() if a > LEAK_AUC],
        "auc": {n: _round(a) for n, a in leak["auc"].items()},
        "max_fold_auc": {n: _round(a) for n, a in leak["max_fold_auc"].items()},
    }
    families = [p["families"] for p in parts if "families" in p]
    if families and truth is not None:
        points = pd.concat(families, ignore_index=True)
        named = truth.loc[truth["churned"].astype(bool) & truth["primary_cause"].notna(),
                          ["account_id", "renewal_date"]]
        out["fidelity"] = _round(cause_fidelity(points, truth))
        out["fidelity_renewals"] = int(len(named.merge(points[["account_id", "renewal_date"]])))
        if "cause_traced" in truth.columns:  # the cause left its trace by the cutoff
            traced = truth.loc[truth["cause_traced"].astype(bool)]
            out["fidelity_traced"] = _round(cause_fidelity(points, traced))
            out["fidelity_traced_renewals"] = int(len(
                named.merge(traced[["account_id", "renewal_date"]]).merge(points[["account_id", "renewal_date"]])))
    out["test_rows"] = rows
    return out


# ----------------------------------------------------------------------- splits


def evaluate_split(dataset: pd.DataFrame, params: Params, *, truth: pd.DataFrame | None,
                   tune: bool) -> dict[str, Any]:
    """``params.split``, trained and evaluated by ``train_models``."""
    from healthscore.model.split import split_by_time
    from healthscore.model.training import train_models

    result = train_models(dataset, split=params.split, model=params.model,
                          calibration=params.calibration, scorecard=params.scorecard,
                          score=params.score, ground_truth=truth,
                          tune=params.tune if tune else None, small_data=params.small_data)
    train, _, test = split_by_time(dataset, params.split)
    names = result.feature_names
    overall = result.metrics.query("segment == 'all'").set_index("predictor")
    table = {p: {m: _round(overall.loc[p, m]) for m in METRICS} for p in PREDICTORS
             if p in overall.index}
    counts = [{**row, "first_cutoff": str(row["first_cutoff"])[:10],
               "last_cutoff": str(row["last_cutoff"])[:10]}
              for row in result.counts.to_dict(orient="records")]
    part = analyse_test(result.exported, fit=train, test=test, names=names, truth=truth,
                        features=params.features, profile=params.score.profile_features)
    return {"split": {"kind": "params.split", **result.windows.describe(),
                      "test_months": params.split.test_months,
                      "validation_months": params.split.validation_months},
            "counts": counts, "table": table, "auc_to_oracle": _round(result.oracle_auc_ratio),
            "trees": None if result.model is None else result.model.best_iteration_,
            "tuned": None if result.tuning is None else dataclasses.asdict(result.model_params),
            "selection": None if result.selection is None else result.selection.reason,
            **pool([part], truth, names, features=params.features, frame=test)}


def time_series_folds(dataset: pd.DataFrame, n_splits: int, *, holdout_share: float):
    """``(fit, validation, test)`` frames of each ``TimeSeriesSplit`` fold, oldest first."""
    from sklearn.model_selection import TimeSeriesSplit

    labelled = dataset.loc[dataset["label"].notna()].sort_values(
        ["cutoff_time", "account_id"], kind="stable").reset_index(drop=True)
    if len(labelled) <= n_splits:
        raise DataError(f"--cv {n_splits}: only {len(labelled)} labelled row(s)")
    for train_idx, test_idx in TimeSeriesSplit(n_splits=n_splits).split(labelled):
        train = labelled.iloc[train_idx]
        cutoffs = train["cutoff_time"].to_numpy()
        start = cutoffs[len(train) - max(1, int(np.ceil(len(train) * holdout_share)))]
        later = cutoffs >= start  # whole cutoff days: no day in both windows
        yield train.loc[~later], train.loc[later], labelled.iloc[test_idx]


def evaluate_cv(dataset: pd.DataFrame, params: Params, *, n_splits: int,
                truth: pd.DataFrame | None, tune: bool) -> dict[str, Any]:
    """``TimeSeriesSplit`` folds; each mirrors ``train_models`` on its own windows."""
    from healthscore.model.baselines import BaseRateBaseline, RuleScorecard
    from healthscore.model.logistic import LogisticBaseline
    from healthscore.model.estimator import HealthScoreModel
    from healthscore.model.evaluation import metrics_table
    from healthscore.model.export import ExportedModel
    from healthscore.model.scale import HealthScale
    from healthscore.model.oracle import oracle_risk
    from healthscore.model.training import feature_columns

    names = feature_columns(dataset, exclude=params.model.exclude_features)
    scale = HealthScale.from_params(params.score)
    folds, tables, parts = [], [], []
    windows = time_series_folds(dataset, n_splits, holdout_share=params.model.holdout_share)
    for number, (fit, validation, test) in enumerate(windows, start=1):
        info = {"fold": number, **{f"{w}_{k}": v for w, frame in
                                   (("fit", fit), ("validation", validation), ("test", test))
                                   for k, v in _count(frame).items()}}
        folds.append(info)
        lacking = [w for w, frame in (("fit", fit), ("validation", validation))
                   if frame.empty or frame["label"].nunique() < 2]
        if lacking:
            info["skipped"] = f"no churned and retained rows in the {' and '.join(lacking)} window"
            continue
        info["below_min_churned_rows"] = bool(info["fit_churned"] < params.model.min_churned_rows)
        part = pd.concat([fit, validation])
        if _quality_small.applies(params, part) and not tune:
            risks, notes, model = _quality_small.fit_fold(part, test, names, params, scale)
            info |= notes
            risks["base_rate"] = BaseRateBaseline().fit(part, part["label"]).predict_risk(test)
            if truth is not None:
                risks["oracle"] = oracle_risk(test, truth)
            tables.append(metrics_table(test["label"].to_numpy(dtype=np.int64), risks,
                                        n_bins=params.calibration.ece_bins).assign(fold=number))
            parts.append(analyse_test(ExportedModel(model, scale), fit=part, test=test, names=names,
                                      truth=truth, features=params.features,
                                      profile=params.score.profile_features))
            continue
        X_fit, X_val, X_test = fit[names], validation[names], test[names]
        y_fit, y_val = (w["label"].to_numpy(dtype=np.int64) for w in (fit, validation))
        settings = params.model
        if tune:
            from healthscore.model.tuning import tune_model_params

            settings, _ = tune_model_params(X_fit, y_fit, X_val, y_val, model=settings,
                                            calibration=params.calibration, tune=params.tune)
            info["tuned"] = dataclasses.asdict(settings)
        model = HealthScoreModel.from_params(settings, params.calibration).fit(
            X_fit, y_fit, X_val=X_val, y_val=y_val)
        card = RuleScorecard.from_params(params.scorecard, scale).fit(
            X_fit, y_fit, X_val=X_val, y_val=y_val)
        risks = {"model": model.predict_risk(X_test),
                 "logistic": LogisticBaseline().fit(X_fit, y_fit).predict_risk(X_test),
                 "scorecard": card.predict_risk(X_test),
                 "base_rate": BaseRateBaseline().fit(X_fit, y_fit).predict_risk(X_test)}
        if truth is not None:
            risks["oracle"] = oracle_risk(test, truth)
        metrics = metrics_table(test["label"].to_numpy(dtype=np.int64), risks,
                                n_bins=params.calibration.ece_bins)
        tables.append(metrics.assign(fold=number))
        info["trees"] = model.best_iteration_
        exported = ExportedModel(model, scale)
        parts.append(analyse_test(exported, fit=pd.concat([fit, validation]), test=test,
                                  names=names, truth=truth, features=params.features,
                                  profile=params.score.profile_features))
    if not tables:
        raise DataError(f"--cv {n_splits}: no fold has churned and retained training rows")
    long = pd.concat(tables, ignore_index=True)
    mean = long.groupby("predictor", sort=False)[list(METRICS)].mean()
    std = long.groupby("predictor", sort=False)[list(METRICS)].std(ddof=1)
    per_fold = [{"fold": int(r.fold), "predictor": r.predictor,
                 **{m: _round(getattr(r, m)) for m in METRICS}}
                for r in long.itertuples(index=False)]
    ratio = None
    if "oracle" in mean.index:
        ratio = _round(mean.loc["model", "roc_auc"] / mean.loc["oracle", "roc_auc"])
    small = any("selection" in f for f in folds)
    validation = (f"{params.small_data.inner_folds} inner time-ordered folds of each training part "
                  "(whole cutoff days; fit and validation windows together)" if small else
                  f"latest {params.model.holdout_share:g} of each training part (whole cutoff days)")
    return {"split": {"kind": "TimeSeriesSplit", "n_splits": n_splits,
                      "validation": validation, "folds_used": len(tables), "small_data": small},
            "folds": folds,
            "table": {p: {m: _round(mean.loc[p, m]) for m in METRICS} for p in mean.index},
            "table_std": {p: {m: _round(std.loc[p, m]) for m in METRICS} for p in std.index},
            "per_fold": per_fold, "auc_to_oracle": ratio,
            **pool(parts, truth, names, features=params.features, frame=dataset)}


def _count(frame: pd.DataFrame) -> dict[str, Any]:
    cutoffs = frame["cutoff_time"]
    return {"rows": len(frame), "churned": int((frame["label"] == 1).sum()),
            "first_cutoff": str(cutoffs.min())[:10] if len(frame) else None,
            "last_cutoff": str(cutoffs.max())[:10] if len(frame) else None}


def _round(value: Any, digits: int = 5) -> float | None:
    if value is None or pd.isna(value):
        return None
    return round(float(value), digits)


# ------------------------------------------------------------------------- bars
