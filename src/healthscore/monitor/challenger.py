"""Champion against challenger on matured outcomes, for ``healthscore promote``.

The dates both models scored (``score --challenger``, :mod:`healthscore.scoring.challenger`)
whose whole horizon the data now covers are matched with what happened, as the
monitor's matured calibration is (:func:`healthscore.backtest.outcomes_after`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from healthscore.backtest import last_as_of, outcomes_after
from healthscore.model.evaluation import classification_metrics
from healthscore.model.exposure import horizon_for


def challenger_dates(layout: Any, version: str) -> list[pd.Timestamp]:
    """Complete scoring dates under ``layout`` that hold a risk list of challenger
    ``version`` (both models scored them)."""
    return [d for d in layout.dates() if layout.challenger_risk_list(version, d).exists()]


def compare_on_matured(layout: Any, tables: Any, params: Any, *, version: str) -> dict[str, Any]:
    """Champion against challenger ``version`` on matured outcomes.

    For every date both scored whose whole horizon (lead, horizon and grace) lies
    inside ``tables``, the accounts in both risk lists (and in the data, with complete
    subscriptions) are matched with what happened (:func:`healthscore.backtest.outcomes_after`,
    as the monitor's matured calibration does); ROC-AUC and ECE of both models over
    those (account, date) pairs.

    Returns ``{"status": "measured", "dates", "accounts", "churned", "champion":
    {"roc_auc", "ece", "versions"}, "challenger": {"roc_auc", "ece", "version"}}``, or
    ``{"status": "not measured", "reason"}``.
    """
    dates = challenger_dates(layout, version)
    if not dates:
        return {"status": "not measured",
                "reason": f"no date under {layout.root} was scored with --challenger {version}"}
    horizon = horizon_for(params.timeline, params.labels)
    if horizon is None:
        return {"status": "not measured", "reason": "a renewal-mode model (no common horizon)"}
    matured = last_as_of(tables, horizon)
    done = [d for d in dates if d <= matured]
    if not done:
        return {"status": "not measured",
                "reason": f"no matured outcomes yet: {len(dates)} date(s) scored by both, the first "
                          f"{dates[0]:%Y-%m-%d}; the data matures dates up to {matured:%Y-%m-%d}"}
    ys, champ, chall, versions = [], [], [], []
    for when in done:
        ours = layout.read_table("risk_list", when)[["account_id", "risk_proba"]]
        theirs = pd.read_parquet(layout.challenger_risk_list(version, when), columns=["account_id", "risk_proba"])
        pair = ours.merge(theirs, on="account_id", suffixes=("_champion", "_challenger"), validate="1:1")
        known = pair["account_id"].isin(tables.accounts["account_id"]) & \
            ~pair["account_id"].isin(list(tables.incomplete_accounts))
        pair = pair.loc[known]
        if pair.empty:
            continue
        y, _ = outcomes_after(tables, params, pair["account_id"].to_numpy(), when)
        ys.append(y)
        champ.append(pair["risk_proba_champion"].to_numpy(float))
        chall.append(pair["risk_proba_challenger"].to_numpy(float))
        versions.append(str(layout.read_run(when).get("model_version")))
    if not ys:
        return {"status": "not measured", "reason": "no account of the matured dates is in the data"}
    y = np.concatenate(ys)
    bins = params.calibration.ece_bins
    a = classification_metrics(y, np.concatenate(champ), n_bins=bins)
    b = classification_metrics(y, np.concatenate(chall), n_bins=bins)
    return {"status": "measured", "dates": [f"{d:%Y-%m-%d}" for d in done], "accounts": int(len(y)),
            "churned": int(y.sum()),
            "champion": {"roc_auc": float(a["roc_auc"]), "ece": float(a["ece"]),
                         "versions": sorted(set(versions))},
            "challenger": {"roc_auc": float(b["roc_auc"]), "ece": float(b["ece"]), "version": str(version)}}


def comparison_line(comparison: dict[str, Any]) -> str:
    """The comparison in one line, for ``promote``."""
    if comparison["status"] != "measured":
        return f"matured outcomes: {comparison['reason']}; the test-window gates decide"
    a, b, dates = comparison["champion"], comparison["challenger"], comparison["dates"]
    span = dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}"
    return (f"matured outcomes of {comparison['accounts']:,} accounts ({comparison['churned']:,} lost) "
            f"on {len(dates)} date(s) {span}: champion (version {', '.join(a['versions'])}) "
            f"ROC-AUC {a['roc_auc']:.3f} ECE {a['ece']:.3f}; challenger version {b['version']} "
            f"ROC-AUC {b['roc_auc']:.3f} ECE {b['ece']:.3f}")
