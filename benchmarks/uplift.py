"""Aiming a play by its expected benefit rather than by risk (issue 20, item 5).

The simulator applies an onboarding play with a planted effect per cause
(:mod:`healthscore.sim.plays`): aimed at accounts struck by a champion's departure (low
breadth of use) or a budget cut, it removes ``--effect`` of the churn log-odds a
champion's departure adds and nothing of a budget cut's; half the eligible accounts are
held out by the real plays' hash. Each assignment gets its features as known strictly
before its date (:func:`healthscore.features.build_features`) and, once the horizon has
passed, its outcome (:func:`healthscore.plays.uplift.attach_outcomes`).

Per repetition, the accounts are split at random into ``--folds`` folds (seeded); each
fold is ranked by a T-learner (:class:`healthscore.plays.uplift_model.TLearner`) and by a
churn model over both arms (:class:`healthscore.model.HealthScoreModel`: ranking by
risk, as the tasks do today) fitted on the other folds (cross-fitting: no account is
ranked by a model that saw it); then each ranking is scored over every account by

* ``qini``: the Qini coefficient on the observed outcomes (accounts saved per account,
  area above the random ranking; :func:`~healthscore.plays.uplift_model.qini_coefficient`);
* ``uplift_at_k``: churn held out minus churn treated in the top ``--k`` share;
* ``true_at_k``: the mean planted effect (:func:`healthscore.sim.plays.planted_effects`)
  of the top ``--k`` share, against ``true_all`` (everyone) and the oracle ranking's.

Settings are chosen on the validation simulation (``--seed``, default 11); the test
simulation (``--test-seed``, default 7) is reported separately and chooses nothing.
Figures go to ``benchmarks/results/uplift.json``/``.md``.

    python benchmarks/uplift.py                        # 8,000 accounts, 5 repetitions
    python benchmarks/uplift.py --accounts 2000 --reps 2 --no-record   # smoke run
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record  # noqa: E402

from healthscore.config import make_params  # noqa: E402
from healthscore.features import build_features  # noqa: E402
from healthscore.io.sources import read_source  # noqa: E402
from healthscore.model import HealthScoreModel  # noqa: E402
from healthscore.plays.assign import ARM_TASK  # noqa: E402
from healthscore.plays.uplift import UpliftSettings, attach_outcomes  # noqa: E402
from healthscore.plays.uplift_model import TLearner, qini_coefficient, uplift_at_k  # noqa: E402
from healthscore.sim.plays import PlayEffect, planted_effects  # noqa: E402
from healthscore.sim.simulate import SimulationSpec, write_simulation  # noqa: E402

PLAY = "onboarding"


def make_world(*, seed: int, accounts: int, months: int, effect: float, holdout: float,
               horizon_days: int, folder: Path) -> pd.DataFrame:
    """One simulation's matured assignments: keys, arm, lost, planted effect, features."""
    play = PlayEffect(PLAY, ("champion_left", "budget_cut"), {"champion_left": effect}, holdout=holdout)
    write_simulation(SimulationSpec(n_accounts=accounts, months=months, seed=seed, plays=(play,)), folder)
    params = make_params({})
    tables, _ = read_source(params.data, source=folder)
    assigned = pd.read_parquet(folder / "play_assignments.parquet").loc[:, ["play", "account_id", "as_of", "arm"]]
    settings = UpliftSettings(horizon_days=horizon_days, grace_days=params.labels.grace_days)
    outcomes = attach_outcomes(assigned, tables, settings=settings)
    outcomes["effect"] = planted_effects(pd.read_parquet(folder / "play_truth.parquet"), outcomes,
                                         horizon_days=horizon_days)
    done = outcomes.loc[outcomes["matured"]].reset_index(drop=True)
    features = build_features(tables, done.rename(columns={"as_of": "cutoff_time"}), params.features)
    names = [c for c in features.columns if "__" in c]
    return pd.concat([done, features[names]], axis=1)


def score_rankings(world: pd.DataFrame, *, rep: int, k: float, folds: int,
                   learner: dict) -> dict[str, dict[str, float]]:
    """Cross-fitted rankings: the accounts in ``folds`` seeded random folds, each fold
    scored by models fitted on the others; then every ranking scored over all rows."""
    names = [c for c in world.columns if "__" in c]
    rng = np.random.default_rng(1000 + rep)
    accounts = world["account_id"].unique()
    fold_of = dict(zip(rng.permutation(accounts).tolist(), np.arange(len(accounts)) % folds))
    fold = world["account_id"].map(fold_of).to_numpy()
    scores = {"t_learner": np.zeros(len(world)), "risk": np.zeros(len(world))}
    for f in range(folds):
        fit, test = world.loc[fold != f], world.loc[fold == f]
        model = TLearner(random_state=rep, **learner).fit(fit[names], fit["arm"].to_numpy(),
                                                          fit["lost"].astype(int).to_numpy())
        risk = HealthScoreModel(n_estimators=400, min_child_samples=30, early_stopping_rounds=50,
                                random_state=rep, n_jobs=1).fit(fit[names], fit["lost"].astype(int))
        scores["t_learner"][fold == f] = model.predict_uplift(test[names])
        scores["risk"][fold == f] = risk.predict_risk(test[names])
    scores["random"] = rng.random(len(world))
    scores["oracle"] = world["effect"].to_numpy()
    treated, lost = (world["arm"] == ARM_TASK).to_numpy(), world["lost"].astype(int).to_numpy()
    effect = world["effect"].to_numpy()
    out = {}
    for name, s in scores.items():
        top = np.argsort(-s, kind="stable")[: max(1, int(round(k * len(s))))]
        out[name] = {"qini": qini_coefficient(s, treated, lost, random_state=rep),
                     "uplift_at_k": uplift_at_k(s, treated, lost, k=k, random_state=rep),
                     "true_at_k": float(effect[top].mean())}
    out["true_all"] = {"true": float(effect.mean())}
    out["corr_with_truth"] = {name: float(pd.Series(scores[name]).corr(pd.Series(effect), method="spearman"))
                              for name in ("t_learner", "risk")}
    return out


def summarise(reps: list[dict]) -> dict:
    """Mean and standard deviation of every figure over the repetitions; how often the
    T-learner beat the risk ranking."""
    keys = [(a, b) for a, inner in reps[0].items() for b in inner]
    out: dict = {}
    for a, b in keys:
        values = np.array([r[a][b] for r in reps], dtype="float64")
        if a != "corr_with_truth":  # accounts saved per 100, as the plays' verdicts say it
            values, b = values * 100, f"{b}_per100"
        out.setdefault(a, {})[b] = {"mean": round(float(np.nanmean(values)), 3),
                                    "sd": round(float(np.nanstd(values)), 3)}
    for b in ("qini", "uplift_at_k", "true_at_k"):
        wins = [r["t_learner"][b] > r["risk"][b] for r in reps]
        out.setdefault("t_learner_beats_risk", {})[b] = f"{sum(wins)} of {len(wins)}"
    return out


def run_seed(seed: int, args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(seed=seed, accounts=args.accounts, months=args.months, effect=args.effect,
                           holdout=args.holdout, horizon_days=args.horizon_days, folder=Path(tmp) / "data")
    learner = {"num_leaves": args.num_leaves, "max_depth": args.max_depth,
               "min_child_samples": args.min_child_samples, "learning_rate": args.learning_rate}
    reps = [score_rankings(world, rep=r, k=args.k, folds=args.folds, learner=learner) for r in range(args.reps)]
    summary = summarise(reps)
    summary["data"] = {"matured_assignments": len(world), "treated": int((world["arm"] == ARM_TASK).sum()),
                       "churn": round(float(world["lost"].mean()), 4),
                       "planted_effect_mean": round(float(world["effect"].mean()), 4),
                       "share_with_effect": round(float((world["effect"] > 0.001).mean()), 4),
                       "seconds": round(time.perf_counter() - start, 1)}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=8000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--effect", type=float, default=0.8,
                        help="share of a champion's departure's churn log-odds the play removes")
    parser.add_argument("--holdout", type=float, default=0.5)
    parser.add_argument("--horizon-days", type=int, default=365)
    parser.add_argument("--k", type=float, default=0.3, help="top share for the uplift at k")
    parser.add_argument("--reps", type=int, default=5, help="seeded repetitions of the folds")
    parser.add_argument("--folds", type=int, default=5, help="cross-fitting folds (by account)")
    parser.add_argument("--num-leaves", type=int, default=7, help="T-learner: leaves per tree")
    parser.add_argument("--max-depth", type=int, default=3, help="T-learner: depth per tree")
    parser.add_argument("--min-child-samples", type=int, default=30, help="T-learner: accounts per leaf")
    parser.add_argument("--learning-rate", type=float, default=0.05, help="T-learner: learning rate")
    parser.add_argument("--seed", type=int, default=11, help="validation simulation (settings chosen here)")
    parser.add_argument("--test-seed", type=int, default=7, help="test simulation (reported, chooses nothing)")
    parser.add_argument("--validation-only", action="store_true",
                        help="run the validation simulation only (while choosing settings)")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args(argv)
    figures = {"validation": run_seed(args.seed, args)}
    if not args.validation_only:
        figures["test"] = run_seed(args.test_seed, args)
    for part, summary in figures.items():
        print(f"{part}: {summary['data']}")
        for name in ("t_learner", "risk", "random", "oracle"):
            print(f"  {name:10s} " + "  ".join(f"{m} {v['mean']:+.2f} (sd {v['sd']:.2f})"
                                               for m, v in summary[name].items()))
        print(f"  true effect, everyone: {summary['true_all']['true_per100']['mean']:+.2f} per 100; "
              f"T-learner beats risk: {summary['t_learner_beats_risk']}")
    if not args.no_record:
        command = "python benchmarks/uplift.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        notes = (f"Simulator: {args.accounts} accounts, {args.months} months; play aimed at champion_left or "
                 f"budget_cut, removing {args.effect:g} of champion_left's churn log-odds, nothing of budget_cut's; "
                 f"hold-out {args.holdout:g}; horizon {args.horizon_days} days; k = {args.k:g}; "
                 f"{args.reps} seeded repetitions of {args.folds}-fold cross-fitting by account per simulation. Validation = seed {args.seed} "
                 f"(settings chosen there), test = seed {args.test_seed}. qini and uplift_at_k from observed "
                 "outcomes of the cross-fitted rankings; true_at_k from the planted effect; all three in accounts "
                 "saved per 100 (qini: per 100 accounts, area above the random ranking; the two at k: per 100 "
                 "treated in the top k).")
        paths = record("uplift", figures, command=command.strip(), notes=notes)
        print(f"written: {paths['md']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
