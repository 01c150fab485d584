"""Parent accounts benchmark: the ARR-weighted roll-up against the plain average of the
children, on what each parent then lost.

On a simulation with parents (``--parents-share``; families share a health shock),
``build-dataset`` (on the data as known at the as-of date), ``train`` and ``promote`` as
the CLI does, then ``score`` one as-of
date whose whole 12-month horizon is inside the data. A member is lost when no
subscription covers the date a horizon later. Per parent, the share of its ARR that was
lost is compared with:

* ``arr_weighted``: the served ``arr_weighted_risk`` (expected ARR lost / parent ARR);
* ``mean_risk``: the plain mean of the members' ``risk_proba``;
* ``mean_score``: the risk of the plain mean of the members' health scores (the
  commercial platforms' roll-up, read back through the same scale).

Recorded: the mean squared error over parents of each against the realised share, the
same weighted by parent ARR, the expected against the realised ARR lost, and the
coverage of the 80 % range of the parents' ARR lost. Settings are read on the
validation seed (11), never on the test seed (7).

    python benchmarks/parents.py --accounts 3000 --months 48 --seed 11
    python benchmarks/parents.py --accounts 400 --months 44 --trees 40 --out /tmp/parents-smoke  # smoke
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--parents-share", type=float, default=0.4)
    parser.add_argument("--trees", type=int, default=200, help="model.n_estimators")
    parser.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--name", default="parents", help="results file stem")
    args = parser.parse_args(argv)
    work = Path(args.out or tempfile.mkdtemp(prefix="parents-bench-"))
    figures = run(work, args)
    command = "python benchmarks/parents.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    paths = record(args.name, figures, command=command, notes=(
        "Per parent (its children and its own account when scored): realised share of ARR lost "
        "within 12 months against each roll-up; lower MSE is better."))
    print(paths["md"].read_text())
    return 0


def run(work: Path, args: argparse.Namespace) -> dict:
    import os

    from healthscore.cli import main as cli
    from healthscore.config import make_params
    from healthscore.io.sources import read_source
    from healthscore.model.scale import HealthScale
    from healthscore.scoring import make_scoring_cutoffs
    from healthscore.scoring.arr_range import interval_coverage
    from healthscore.scoring.parents import parent_groups
    from healthscore.sim.simulate import SimulationSpec, write_simulation

    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlruns.db'}"
    spec = SimulationSpec(n_accounts=args.accounts, months=args.months, seed=args.seed,
                          parents_share=args.parents_share)
    write_simulation(spec, work / "data", force=True)
    end = pd.Timestamp(str(spec.end))
    as_of = (end - pd.DateOffset(months=13)).normalize().replace(day=1)
    later = as_of + pd.Timedelta(days=365)
    src = ["--set", f"data.source={work / 'data'}", "--set", f"score.out_dir={work / 'outputs'}"]
    model = ["--set", f"model.n_estimators={args.trees}", "--set", "model.min_churned_rows=20"]
    # the model learns only outcomes known at the as-of date: the data ends there for training
    assert cli([*src, "--set", f"data.observed_until={as_of:%Y-%m-%d}", "build-dataset",
                "--out", str(work / "ds.parquet")]) == 0
    assert cli([*model, "train", "--data", str(work / "ds.parquet")]) == 0
    assert cli(["promote", "--set", "tracking.gates.max_ece=1.0", "--set", "tracking.gates.max_auc_drop=1.0"]) == 0
    assert cli([*src, "score", "--as-of", f"{as_of:%Y-%m-%d}", "--no-report"]) == 0

    tables, _ = read_source(make_params({}).data, source=work / "data")
    still = set(make_scoring_cutoffs(tables, later)["account_id"])
    risk = pd.read_parquet(work / "outputs" / "risk_list" / f"{as_of:%Y-%m-%d}.parquet")
    parents = pd.read_parquet(work / "outputs" / "parents" / f"{as_of:%Y-%m-%d}.parquet")
    run_info = pd.read_json(work / "outputs" / "run" / f"{as_of:%Y-%m-%d}.json", typ="series")
    scale = HealthScale.from_dict(dict(run_info["scale"]))
    members = risk.assign(group=parent_groups(risk)).dropna(subset=["group"])
    members = members.assign(lost=~members["account_id"].isin(still), arr=members["arr"].fillna(0.0))
    members["lost_arr"] = members["arr"] * members["lost"]
    by = members.groupby("group")
    table = pd.DataFrame({"arr": by["arr"].sum(), "lost_arr": by["lost_arr"].sum(),
                          "mean_risk": by["risk_proba"].mean(), "mean_score": by["health_score"].mean(),
                          "accounts": by.size()})
    table = table.join(parents.set_index("parent_account_id")[
        ["arr_weighted_risk", "arr_at_risk", "arr_lost_low", "arr_lost_high"]])
    table = table.loc[table["arr"] > 0]
    realised = table["lost_arr"] / table["arr"]
    guesses = {"arr_weighted": table["arr_weighted_risk"], "mean_risk": table["mean_risk"],
               "mean_score": pd.Series(scale.risk_from_score(table["mean_score"]), index=table.index)}
    weight = table["arr"] / table["arr"].sum()
    figures = {
        "as_of": f"{as_of:%Y-%m-%d}", "accounts": args.accounts, "seed": args.seed,
        "parents": int(len(table)), "members": int(table["accounts"].sum()),
        "members_lost": int(members["lost"].sum()),
        "mse": {k: round(float(((v - realised) ** 2).mean()), 5) for k, v in guesses.items()},
        "mse_arr_weighted": {k: round(float((weight * (v - realised) ** 2).sum()), 5) for k, v in guesses.items()},
        "expected_arr_lost": {k: round(float((v * table["arr"]).sum()), 0) for k, v in guesses.items()},
        "realised_arr_lost": round(float(table["lost_arr"].sum()), 0),
        "range80_coverage": round(interval_coverage(table["lost_arr"], table["arr_lost_low"],
                                                    table["arr_lost_high"]), 3),
    }
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
