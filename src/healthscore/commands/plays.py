"""`healthscore plays [--as-of DATE]`: what each play is worth, from its hold-out.

Reads the assignments from the stored tasks tables (``params.score.out_dir``; arm
``task`` or ``holdout``, :mod:`healthscore.plays.assign`) and the outcomes from the data
source as known at ``--as-of`` (default: the end of the data): per play, the accounts
treated and held out whose horizon has passed, churn and ARR lost in each arm, the
accounts saved per 100 treated with its 90 % interval, the ARR saved, the touches the
``interventions`` table records, and a verdict (:mod:`healthscore.plays.uplift`). The
table is written as ``uplift/<as_of>.parquet`` under the outputs folder.
"""

from __future__ import annotations

import argparse

from healthscore.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", default=None, metavar="DATE",
                        help="outcomes as known on this date (default: the end of the data)")
    parser.add_argument("--data", default=None, metavar="DIR_OR_DB",
                        help="data source (default: data.source)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="scoring output folder holding tasks/ (default: score.out_dir)")
    parser.add_argument("--horizon-days", type=int, default=None, metavar="DAYS",
                        help="an account is lost if lost within this many days of its assignment "
                             "(default: timeline.horizon_days)")
    parser.add_argument("--min-effect", type=float, default=0.03, metavar="SHARE",
                        help="the smallest saving worth detecting, a share of treated accounts "
                             "(default 0.03: 3 in 100), for the accounts still needed")


def run(args: argparse.Namespace, params: Params) -> int:
    from healthscore.data.known import as_known_at
    from healthscore.errors import ConfigError
    from healthscore.io.files import write_parquet_atomic
    from healthscore.io.sources import read_source
    from healthscore.plays.hook import read_assignments
    from healthscore.plays.uplift import UpliftSettings, attach_outcomes, measure_uplift
    from healthscore.scoring import OutputLayout
    from healthscore.scoring.outputs import as_of_text, parse_as_of

    horizon = params.timeline.horizon_days if args.horizon_days is None else args.horizon_days
    if horizon < 1:
        raise ConfigError(f"--horizon-days: expected 1 or more days, got {horizon}")
    if not 0 < args.min_effect < 1:
        raise ConfigError(f"--min-effect: expected a share in (0, 1), got {args.min_effect}")
    settings = UpliftSettings(horizon_days=horizon, grace_days=params.labels.grace_days,
                              min_effect=args.min_effect)
    layout = OutputLayout(args.out or params.score.out_dir)
    tables, _ = read_source(params.data, source=args.data)
    when = tables.observed_until if args.as_of is None else parse_as_of(args.as_of)
    if when < tables.observed_until:
        tables = as_known_at(tables, when)
    assignments = read_assignments(layout, before=when)
    if assignments.empty:
        print(f"no play assignments under {layout.root} before {as_of_text(when)}; "
              "run `healthscore score` with plays first")
        return 0
    uplift = measure_uplift(attach_outcomes(assignments, tables, settings=settings), settings=settings)
    print(render_uplift(uplift, as_of=when, horizon_days=horizon, currency=params.report.currency))
    path = write_parquet_atomic(uplift, layout.root / "uplift" / f"{as_of_text(when)}.parquet")
    print(f"  written: {path}")
    return 0


def render_uplift(uplift, *, as_of, horizon_days: int, currency: str = "$") -> str:
    """The uplift table in lines: one block per play."""
    import pandas as pd

    from healthscore.features.phrases import money

    lines = [f"plays: outcomes known until {as_of:%Y-%m-%d}, an account counts once its "
             f"{horizon_days}-day horizon has passed"]
    for row in uplift.to_dict("records"):
        lines.append(f"  {row['play']}: {row['treated']:,} treated, {row['held_out']:,} held out"
                     + (f" ({row['pending']:,} more pending)" if row["pending"] else "")
                     + f", assigned {row['first_as_of']:%Y-%m-%d} to {row['last_as_of']:%Y-%m-%d}")
        if row["treated"] and row["held_out"]:
            lines.append(f"    churn: {row['treated_churn']:.1%} treated ({row['treated_lost']:,} lost, "
                         f"{money(row['treated_arr_lost'], symbol=currency)} ARR), {row['held_out_churn']:.1%} "
                         f"held out ({row['held_out_lost']:,} lost, "
                         f"{money(row['held_out_arr_lost'], symbol=currency)} ARR)")
        lines.append(f"    {row['verdict']}")
        if row["works"]:
            lines.append(f"    ARR saved: about {money(row['arr_saved'], symbol=currency)}")
        if not pd.isna(row["touched"]):
            lines.append(f"    recorded touches: {row['touched']:,} of the treated, "
                         f"{row['held_out_touched']:,} of the held out")
    return "\n".join(lines)
