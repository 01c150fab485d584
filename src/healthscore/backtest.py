"""Backtest what users read: replay ``score`` at past as-of dates, then compare.

For each as-of date T: the data as known at T (:func:`healthscore.data.known.as_known_at`),
the training set built from it, the model trained on it exactly as ``healthscore
train`` would have then (outcomes known at T only) and every active account scored on
T as ``healthscore score`` would have. Then the full data says what happened within the
horizon after T: who was lost, how much ARR went with them. Compared per date and
pooled: calibration of ``risk_proba`` (ECE, reliability), ROC-AUC, churn per band,
separately for monthly, annual and multi-year contracts and per segment; with the
simulator's oracle (the true probability of the same quantity), the model/oracle AUC;
and the coverage of the ARR-at-risk range (does the realised loss fall inside the 80 %
range, per date and group?).

Pure: tables and params in, frames out. ``healthscore backtest`` reads and writes.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import pandas as pd

from healthscore.config import Params
from healthscore.errors import ConfigError, DataError
from healthscore.data.known import as_known_at
from healthscore.model.evaluation import expected_calibration_error, reliability_table
from healthscore.model.exposure import Horizon, horizon_for
from healthscore.data.tables import Tables
from healthscore.progress import progress

log = logging.getLogger(__name__)

#: Contract classes the backtest reports separately, by the term of the contract held.
TERMS = (("monthly", 0, 62), ("annual", 62, 400), ("multi-year", 400, np.inf))


def term_class(term_days: Any) -> np.ndarray:
    """``monthly`` / ``annual`` / ``multi-year`` of contract lengths in days."""
    term = np.asarray(term_days, dtype=np.float64)
    out = np.full(term.shape, "unknown", dtype=object)
    for name, lo, hi in TERMS:
        out[(term >= lo) & (term < hi)] = name
    return out


def last_as_of(tables: Tables, horizon: Horizon) -> pd.Timestamp:
    """The last as-of date whose whole horizon (and grace) is inside the data."""
    return tables.observed_until - pd.Timedelta(days=horizon.lead_days + horizon.horizon_days
                                                + horizon.grace_days)


def backtest_dates(tables: Tables, horizon: Horizon, *, first: pd.Timestamp, step_months: int = 3) -> list[pd.Timestamp]:
    """As-of dates from ``first`` every ``step_months``, each with its whole horizon
    (and grace) inside the data."""
    last = last_as_of(tables, horizon)
    dates = pd.date_range(pd.Timestamp(first).normalize(), last, freq=pd.DateOffset(months=step_months))
    return [pd.Timestamp(d).as_unit("us") for d in dates]


def replay_date(tables: Tables, params: Params, as_of: pd.Timestamp) -> tuple[pd.DataFrame, Any]:
    """Train on the data known at ``as_of`` and score every account active then.

    Returns
    -------
    risk_list : DataFrame
        What ``score`` would have written on ``as_of`` (plus ``term_days``).
    model : ExportedModel
        The model ``train`` would have exported then (its served fit).
    """
    from healthscore.model.export import ExportedModel
    from healthscore.model.predictor import HazardPredictor
    from healthscore.model.scale import HealthScale
    from healthscore.model.training import fit_served_model
    from healthscore.dataset.pipeline import build_dataset
    from healthscore.scoring.engine import score_date

    known = as_known_at(tables, as_of)
    dataset = build_dataset(known, params)
    horizon = horizon_for(params.timeline, params.labels)
    served = fit_served_model(dataset, horizon=horizon, observed_until=known.observed_until,
                              split=params.split, model=params.model, calibration=params.calibration)
    result = ExportedModel(served if horizon is None else HazardPredictor(served, horizon),
                           HealthScale.from_params(params.score))
    outputs = score_date(known, result, as_of=as_of, features=params.features,
                         score=params.score, alerts=params.alerts, lifecycle=params.lifecycle)
    points = outputs.points.set_index("account_id")
    risk = outputs.risk_list.merge(behaviour_families(outputs.points, params), on="account_id", how="left")
    # the term the calendar assumed, as scored (NaN for a contract under a day)
    terms = points["exposure__term_days"].to_numpy(np.float64)
    return risk.assign(term_days=risk["account_id"].map(pd.Series(terms, index=points.index))
                       .to_numpy(np.float64)), result


def behaviour_families(points: pd.DataFrame, params: Params) -> pd.DataFrame:
    """``account_id`` and the points each family of behavioural drivers costs (profile
    facts left out; :func:`healthscore.scoring.drivers.family_hurting_points`, the rule
    of the report's family chart) in a scoring run's points frame: what a CSM reads."""
    from healthscore.scoring.drivers import catalogue_entry, family_hurting_points, profile_mask
    from healthscore.model.export import catalogue_dict

    names = [c.removeprefix("points:") for c in points.columns if c.startswith("points:")]
    matrix = points[[f"points:{n}" for n in names]].to_numpy(dtype=np.float64).copy()
    matrix[:, profile_mask(names, params.score.profile_features)] = 0.0
    catalogue = catalogue_dict(names, features=params.features)
    families = family_hurting_points(matrix, names, {n: catalogue_entry(catalogue, n)["family"] for n in names})
    return pd.concat([points[["account_id"]].reset_index(drop=True), families], axis=1)


def outcomes_after(tables: Tables, params: Params, account_ids: Any, as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Whether each account was lost within the horizon after ``as_of``, from the full
    data (1/0; the horizon must be inside the data), and when (``lost_at``)."""
    from healthscore.dataset.labels import make_labels

    rows = pd.DataFrame({"account_id": np.asarray(account_ids),
                         "cutoff_time": pd.Series(pd.Timestamp(as_of), index=range(len(account_ids)))
                         .astype("datetime64[us]")})
    rows["account_id"] = rows["account_id"].astype(tables.accounts["account_id"].dtype)
    rows["renewal_date"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[us]")
    labelled = make_labels(rows, tables, timeline=params.timeline, labels=params.labels)
    damaged = labelled["account_id"].isin(list(tables.incomplete_accounts)).to_numpy()
    if damaged.any():
        raise DataError(f"backtest: {int(damaged.sum())} account(s) lost a subscription row or value in "
                        f"validation (e.g. account_id={labelled.loc[damaged, 'account_id'].iloc[0]!r}), so "
                        "their outcome is unknown; fix those rows (healthscore validate lists them)")
    if labelled["label"].isna().any():
        raise DataError(f"backtest: the horizon after {as_of:%Y-%m-%d} is not inside the data "
                        f"(it ends {tables.observed_until:%Y-%m-%d})")
    return labelled["label"].to_numpy(dtype=np.int64), labelled["lost_at"].to_numpy("datetime64[us]")


def run_backtest(
    tables: Tables, params: Params, dates: Sequence[pd.Timestamp], *,
    oracle: pd.DataFrame | None = None, ground_truth: pd.DataFrame | None = None,
    level: float = 0.8, random_state: int = 0,
) -> dict[str, pd.DataFrame]:
    """Replay every date; the scored rows with their outcomes, and the summaries.

    Parameters
    ----------
    tables : Tables
        The full data (outcomes after each date are read from it).
    params : Params
        Horizon mode (``timeline.mode: horizon``).
    dates : sequence of Timestamp
        As-of dates whose horizon is inside the data (:func:`backtest_dates`).
    oracle : DataFrame, optional
        Simulator truth ``account_id``, ``cutoff_time``, ``risk_horizon``.
    ground_truth : DataFrame, optional
        Simulator truth per renewal decision (``churned``, ``primary_cause``,
        ``cause_family``): the explanation fidelity, over accounts lost within the
        horizon whose loss has a named cause, of the behavioural families.
    level : float
        Central probability of the ARR-at-risk range.

    Returns
    -------
    dict of DataFrame
        ``rows`` (one per scored account and date: risk, band, term, segment, ARR,
        outcome, oracle), ``metrics`` (per date and pooled, overall and per term and
        segment), ``reliability`` (pooled, per term), ``bands`` (churn per band),
        ``coverage`` (ARR range and realised loss per date and group).
    """
    from healthscore.scoring.engine import arr_ranges, level_sd_of

    if params.timeline.mode != "horizon":
        raise ConfigError("backtest: timeline.mode must be horizon (the served risk_proba's window)")
    horizon = horizon_for(params.timeline, params.labels)
    end = last_as_of(tables, horizon)
    late = [d for d in dates if pd.Timestamp(d) > end]
    if late:
        raise DataError(f"backtest: the horizon after {pd.Timestamp(late[0]):%Y-%m-%d} is not inside "
                        f"the data (it ends {tables.observed_until:%Y-%m-%d}; the last as-of date "
                        f"with its whole horizon and grace inside is {end:%Y-%m-%d})")
    parts, coverage = [], []
    for as_of in progress(dates, what="backtest", unit="dates"):
        risk, result = replay_date(tables, params, pd.Timestamp(as_of))
        risk["lost"], risk["lost_at"] = outcomes_after(tables, params, risk["account_id"], as_of)
        risk["term"] = term_class(risk["term_days"])
        risk["arr_lost"] = risk["arr"] * risk["lost"]
        if oracle is not None:
            truth = oracle.loc[pd.to_datetime(oracle["cutoff_time"]) == pd.Timestamp(as_of),
                               ["account_id", "risk_horizon"]]
            risk = risk.merge(truth.rename(columns={"risk_horizon": "risk_oracle"}),
                              on="account_id", how="left")
        parts.append(risk.assign(as_of=pd.Timestamp(as_of)))
        logit_sd = level_sd_of(result)
        ranges = pd.DataFrame(arr_ranges(risk, by=(None, "segment", "owner", "term"), level=level,
                                         logit_sd=logit_sd, random_state=random_state))
        known = risk.assign(all="all")
        for column in ("segment", "owner"):
            known[column] = known[column].astype(object).where(known[column].notna(), "unknown")
        realised = pd.concat([known.groupby(column)[["arr_lost", "lost"]].sum().assign(by=column)
                              for column in ("all", "segment", "owner", "term")])
        realised = realised.rename_axis("group").reset_index()
        ranges = ranges.merge(realised.rename(columns={"arr_lost": "realised_arr_lost",
                                                       "lost": "realised_accounts_lost"}),
                              on=["by", "group"], how="left").assign(as_of=pd.Timestamp(as_of),
                                                                     logit_sd=logit_sd)
        coverage.append(ranges)
        log.info("backtest %s: %d accounts, %d lost, mean risk %.4f", f"{as_of:%Y-%m-%d}",
                 len(risk), int(risk["lost"].sum()), float(risk["risk_proba"].mean()))
    rows = pd.concat(parts, ignore_index=True)
    cover = pd.concat(coverage, ignore_index=True)
    cover["inside"] = (cover["arr_lost_low"] <= cover["realised_arr_lost"]) & (
        cover["realised_arr_lost"] <= cover["arr_lost_high"])
    out = {"rows": rows, "metrics": summarise(rows), "reliability": _reliability(rows),
           "bands": _bands(rows), "coverage": cover}
    if ground_truth is not None:
        out["fidelity"] = fidelity(rows, ground_truth, tables)
    return out


def fidelity(rows: pd.DataFrame, ground_truth: pd.DataFrame, tables=None) -> pd.DataFrame:
    """Share of accounts lost within the horizon, with a named primary cause of that
    loss, whose cause family is among the three behavioural families costing the most
    points at the as-of date; per contract term and overall.

    ``fidelity`` counts every such loss; ``fidelity_seen`` only those whose cause had
    struck before the as-of date (the simulator's ``cause_at``, when present): a cause
    that strikes later in the horizon is in no data the explanation could read.
    With ``tables``, ``fidelity_traced`` counts only those whose cause had also left
    its direct trace in them by the as-of date (:func:`~healthscore.model.oracle.
    cause_traced`: a budget cut the CRM never recorded is not in the data either).
    """
    from healthscore.model.oracle import cause_traced
    from healthscore.scoring.drivers import cause_fidelity

    truth = ground_truth.assign(renewal_date=pd.to_datetime(ground_truth["renewal_date"]).astype("datetime64[us]"))
    truth = truth.loc[truth["churned"].astype(bool) & truth["primary_cause"].notna()]
    keys = ["account_id", "renewal_date"]
    lost = rows.loc[rows["lost"] == 1].assign(renewal_date=lambda f: f["lost_at"])
    if tables is not None and "cause_at" in truth.columns:  # once per lost account and date
        causes = lost[keys + ["as_of"]].merge(truth[keys + ["primary_cause", "cause_at"]], on=keys,
                                          how="left", validate="many_to_one")
        lost = lost.assign(traced=cause_traced(causes, tables, cutoff="as_of"))

    def share(group: pd.DataFrame, seen: bool, traced: bool = False) -> tuple[int, float]:
        """(losses counted, fidelity) pooled over the as-of dates of ``group``."""
        count, hits = 0, 0.0
        for as_of, part in group.groupby("as_of"):
            named = truth.merge(part[keys + (["traced"] if traced else [])], on=keys)
            if seen:
                named = named.loc[pd.to_datetime(named["cause_at"]) < pd.Timestamp(as_of)]
            if traced:
                named = named.loc[named["traced"]]
            if len(named):
                count += len(named)
                hits += len(named) * cause_fidelity(part, named)
        return count, hits / count if count else np.nan

    out = []
    for term, group in [("all", lost), *lost.groupby("term")]:
        count, value = share(group, seen=False)
        row = {"term": term, "lost_with_named_cause": count, "fidelity": value}
        if "cause_at" in truth.columns:
            row["cause_seen_by_as_of"], row["fidelity_seen"] = share(group, seen=True)
            if tables is not None:
                row["cause_traced_by_as_of"], row["fidelity_traced"] = share(group, True, traced=True)
        out.append(row)
    return pd.DataFrame(out)


def summarise(rows: pd.DataFrame, *, n_bins: int = 10) -> pd.DataFrame:
    """Metrics of ``risk_proba`` (and the oracle's) against ``lost``, per date and
    pooled (``as_of`` = ``all``), overall, per term and per segment; per lifecycle
    stage too when the rows have one (``lifecycle.enabled``)."""
    from sklearn.metrics import roc_auc_score
    from healthscore.features.lifecycle import STAGE_COLUMN

    out = []
    groups = [("all", None), ("term", "term"), ("segment", "segment")]
    if STAGE_COLUMN in rows.columns:
        groups.append(("stage", STAGE_COLUMN))
    for when, frame in [("all", rows), *[(f"{d:%Y-%m-%d}", g) for d, g in rows.groupby("as_of")]]:
        for kind, column in groups:
            parts = [("all", frame)] if column is None else list(frame.groupby(column))
            for name, g in parts:
                y, p = g["lost"].to_numpy(), g["risk_proba"].to_numpy()
                two = 0 < y.sum() < len(y)
                row = {"as_of": when, "group": kind, "value": str(name), "accounts": len(g),
                       "lost": int(y.sum()), "observed": float(y.mean()), "predicted": float(p.mean()),
                       "ece": expected_calibration_error(y, p, n_bins=n_bins),
                       "roc_auc": float(roc_auc_score(y, p)) if two else np.nan}
                if "risk_oracle" in g and g["risk_oracle"].notna().all():
                    q = g["risk_oracle"].to_numpy()
                    row["oracle_predicted"] = float(q.mean())
                    row["oracle_ece"] = expected_calibration_error(y, q, n_bins=n_bins)
                    row["oracle_auc"] = float(roc_auc_score(y, q)) if two else np.nan
                    row["auc_to_oracle"] = row["roc_auc"] / row["oracle_auc"] if two else np.nan
                out.append(row)
    return pd.DataFrame(out)


def _reliability(rows: pd.DataFrame) -> pd.DataFrame:
    parts = [reliability_table(rows["lost"], rows["risk_proba"]).assign(term="all")]
    for term, g in rows.groupby("term"):
        parts.append(reliability_table(g["lost"], g["risk_proba"]).assign(term=term))
    return pd.concat(parts, ignore_index=True)


def _bands(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows.groupby(["term", "band"]).agg(accounts=("lost", "size"), lost=("lost", "sum"),
                                             churn_rate=("lost", "mean"),
                                             mean_risk=("risk_proba", "mean")).reset_index()
    every = rows.groupby("band").agg(accounts=("lost", "size"), lost=("lost", "sum"),
                                     churn_rate=("lost", "mean"),
                                     mean_risk=("risk_proba", "mean")).reset_index()
    return pd.concat([every.assign(term="all"), out], ignore_index=True)
