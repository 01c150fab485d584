"""Contact-event benchmark: when a champion left, do the account's top drivers say so?

The simulator with ``contacts`` has ground truth for one contact event: a champion who
left (the ``champion_left`` cause; the ``contacts`` row of that champion gets ``left_at``
the day it struck, and an heir takes the seat). On a simulated source (validation seed
11, never the test seed 7) a training set is built with ``features.contacts`` on, a
LightGBM (``params.model``'s settings, one thread) is fitted on the rows before the test
window (``params.split``, early stopping on the validation window), and the book is
scored with :func:`healthscore.scoring.score_date` at monthly as-of dates inside the
test window. For every scored account whose champion left in the ``--days`` before the
as-of date, the benchmark asks whether its top ``score.top_drivers`` hurting behavioural
drivers (profile facts set apart, as the risk list chooses them) name a contact signal
(``contacts__*``); the same share among the accounts whose champion did not leave is
the rate at which the drivers name it anyway. Recorded in
``benchmarks/results/grp_contact_drivers.md``.

    python benchmarks/grp_contact_drivers.py --accounts 2000 --months 30 --seed 11
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record  # noqa: E402
from contacts import _fit  # noqa: E402

from healthscore.config import make_params  # noqa: E402
from healthscore.dataset.pipeline import build_dataset  # noqa: E402
from healthscore.io.sources import read_source  # noqa: E402
from healthscore.model import ExportedModel, HealthScale  # noqa: E402
from healthscore.model.export import catalogue_dict  # noqa: E402
from healthscore.model.split import split_by_time  # noqa: E402
from healthscore.scoring import score_date  # noqa: E402
from healthscore.scoring.drivers import find_drivers, profile_mask  # noqa: E402
from healthscore.scoring.points import feature_names_of, points_matrix  # noqa: E402
from healthscore.sim.simulate import SimulationSpec, write_simulation  # noqa: E402


def named_contact(points: pd.DataFrame, *, profile, k: int, prefix: str = "contacts__") -> pd.Series:
    """Per account (index), whether a feature named ``prefix...`` is among its top ``k``
    hurting behavioural drivers."""
    names = feature_names_of(points)
    matrix = points_matrix(points, names)
    matrix[:, profile_mask(names, list(profile))] = 0.0
    hurting = find_drivers(matrix, k=k).hurting
    is_contact = np.array([n.startswith(prefix) for n in names] + [False])
    return pd.Series(is_contact[hurting].any(axis=1), index=points["account_id"].to_numpy())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--months", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11, help="simulator seed (validation: 11)")
    parser.add_argument("--model-seed", type=int, default=42)
    parser.add_argument("--dates", type=int, default=4, help="monthly as-of dates in the test window")
    parser.add_argument("--days", type=int, default=90, help="a departure this recent counts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sim"
        write_simulation(SimulationSpec(n_accounts=args.accounts, months=args.months, seed=args.seed,
                                        contacts=True), data)
        params = make_params({"data": {"source": str(data)}, "features": {"contacts": {"enabled": True}}})
        tables, _ = read_source(params.data)
    dataset = build_dataset(tables, params)
    labelled = dataset[dataset["label"].notna()]
    train, val, test = split_by_time(labelled, params.split)
    names = [c for c in labelled.columns if "__" in c]
    model = _fit(train, val, names, params.model, args.model_seed)
    exported = ExportedModel(model, HealthScale(), catalogue=catalogue_dict(names))
    start = pd.Timestamp(test["cutoff_time"].min()).normalize()
    champions = tables["contacts"].loc[lambda c: c["role"] == "champion"]
    figures: dict = {"data": {"accounts": args.accounts, "months": args.months, "seed": args.seed,
                              "train_rows": len(train), "test_from": f"{start:%Y-%m-%d}"}}
    left_hits, left_n, other_hits, other_n, left_signal, other_signal, left_first = 0, 0, 0, 0, 0, 0, 0
    k = params.score.top_drivers
    for step in range(args.dates):
        as_of = (start + pd.DateOffset(months=step)).normalize()
        if as_of >= tables.observed_until:
            break
        out = score_date(tables, exported, as_of=as_of, features=params.features, score=params.score,
                         alerts=params.alerts)
        named = named_contact(out.points, profile=params.score.profile_features, k=k)
        departure = named_contact(out.points, profile=params.score.profile_features, k=k,
                                  prefix="contacts__left__")
        first = named_contact(out.points, profile=params.score.profile_features, k=1,
                              prefix="contacts__left__")
        recent = champions.loc[(champions["left_at"] < as_of)
                               & (champions["left_at"] >= as_of - pd.Timedelta(days=args.days)),
                               "account_id"].unique()
        left = named.index.isin(recent)
        figures[f"as_of_{as_of:%Y-%m-%d}"] = {
            "scored": int(len(named)), "champion_left": int(left.sum()),
            "named_when_left": round(float(named[left].mean()), 4) if left.any() else None,
            "named_otherwise": round(float(named[~left].mean()), 4),
            "left_signal_when_left": round(float(departure[left].mean()), 4) if left.any() else None,
            "left_signal_otherwise": round(float(departure[~left].mean()), 4),
            "left_signal_first_when_left": round(float(first[left].mean()), 4) if left.any() else None}
        left_first += int(first[left].sum())
        left_signal += int(departure[left].sum())
        other_signal += int(departure[~left].sum())
        left_hits += int(named[left].sum())
        left_n += int(left.sum())
        other_hits += int(named[~left].sum())
        other_n += int((~left).sum())
        print(as_of.date(), figures[f"as_of_{as_of:%Y-%m-%d}"], flush=True)
    figures["all_dates"] = {
        "top_drivers": k, "days": args.days, "champion_left_rows": left_n,
        "named_when_left": round(left_hits / max(left_n, 1), 4),
        "named_otherwise": round(other_hits / max(other_n, 1), 4),
        "left_signal_when_left": round(left_signal / max(left_n, 1), 4),
        "left_signal_otherwise": round(other_signal / max(other_n, 1), 4),
        "left_signal_first_when_left": round(left_first / max(left_n, 1), 4)}
    print(figures["all_dates"])
    record("grp_contact_drivers", figures,
           command="python benchmarks/grp_contact_drivers.py " + " ".join(argv or sys.argv[1:]),
           notes="named_when_left: share of (account, as-of) rows whose champion left in the last "
                 "`days` days with a contacts__ feature among the top hurting behavioural drivers; "
                 "named_otherwise: the same share among the other rows; left_signal_*: the same "
                 "with the departure feature itself (contacts__left__*); left_signal_first_when_left: it is "
                 "the costliest driver.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
