"""`healthscore plays [--as-of DATE]`: what each play is worth, from its hold-out.

Reads the assignments from the stored tasks tables (``params.score.out_dir``; arm
``task`` or ``holdout``, :mod:`healthscore.plays.assign`) and the outcomes from the data
source as known at ``--as-of`` (default: the end of the data): per play, the accounts
treated and held out whose horizon has passed, churn and ARR lost in each arm, the
accounts saved per 100 treated with its 90 % interval, the ARR saved, the touches the
``interventions`` table records, and a verdict (:mod:`healthscore.plays.uplift`). The
table is written as ``uplift/<as_of>.parquet`` under the outputs folder (``score`` writes
the same table with each date it scores, for the report's leader view).
"""

from __future__ import annotations

import argparse

from healthscore.config import Params

#: The smallest saving worth detecting (a share of treated accounts), for the accounts
#: still needed: ``--min-effect``'s default, and what ``score`` writes with.
DEFAULT_MIN_EFFECT = 0.03


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
    parser.add_argument("--min-effect", type=float, default=DEFAULT_MIN_EFFECT, metavar="SHARE",
                        help="the smallest saving worth detecting, a share of treated accounts "
                             "(default 0.03: 3 in 100), for the accounts still needed")


def run(args: argparse.Namespace, params: Params) -> int:
    from healthscore.errors import ConfigError
    from healthscore.io.files import write_parquet_atomic
    from healthscore.io.sources import read_source
    from healthscore.scoring import OutputLayout
    from healthscore.scoring.outputs import as_of_text, parse_as_of

    horizon = params.timeline.horizon_days if args.horizon_days is None else args.horizon_days
    if horizon < 1:
        raise ConfigError(f"--horizon-days: expected 1 or more days, got {horizon}")
    if not 0 < args.min_effect < 1:
        raise ConfigError(f"--min-effect: expected a share in (0, 1), got {args.min_effect}")
    layout = OutputLayout(args.out or params.score.out_dir)
    tables, _ = read_source(params.data, source=args.data)
    when = tables.observed_until if args.as_of is None else parse_as_of(args.as_of)
    uplift = uplift_of(tables, layout, as_of=when, params=params, horizon_days=horizon,
                       min_effect=args.min_effect)
    if uplift is None:
        print(f"no play assignments under {layout.root} before {as_of_text(when)}; "
              "run `healthscore score` with plays first")
        return 0
    print(render_uplift(uplift, as_of=when, horizon_days=horizon, currency=params.report.currency))
    path = write_parquet_atomic(uplift, layout.uplift(when))
    print(f"  written: {path}")
    return 0


def uplift_of(tables, layout, *, as_of, params: Params, horizon_days: int | None = None,
              min_effect: float = DEFAULT_MIN_EFFECT):
    """The uplift table (:data:`healthscore.plays.uplift.UPLIFT_COLUMNS`) of every play
    assigned in the tasks tables under ``layout`` strictly before ``as_of``, with the
    outcomes of ``tables`` as known at ``as_of``; None without assignments (or without
    tables: a bucketed source is scored one bucket at a time).

    ``healthscore score`` writes it with the date (``uplift/<as_of>.parquet``, the
    report's leader view reads it); ``healthscore plays`` prints and writes it.
    """
    from healthscore.data.known import as_known_at
    from healthscore.plays.hook import read_assignments
    from healthscore.plays.uplift import UpliftSettings, attach_outcomes, measure_uplift

    if tables is None:
        return None
    assignments = read_assignments(layout, before=as_of)
    if assignments.empty:
        return None
    horizon = params.timeline.horizon_days if horizon_days is None else horizon_days
    settings = UpliftSettings(horizon_days=horizon, grace_days=params.labels.grace_days,
                              min_effect=min_effect)
    if as_of < tables.observed_until:
        tables = as_known_at(tables, as_of)
    return measure_uplift(attach_outcomes(assignments, tables, settings=settings), settings=settings)


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
