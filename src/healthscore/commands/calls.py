"""`healthscore calls [--owner NAME] [--as-of DATE]`: who to call this week, and why.

Read from the stored scoring outputs (``params.score.out_dir``): the risk list, the
alerts and the why-it-changed lines of the latest date scored (or ``--as-of``), ranked
per owner by :func:`healthscore.scoring.calls.make_calls`. ``--csv`` also writes the
list as ``calls/<as_of>.csv`` under the outputs folder (``healthscore score`` writes it
too, with the date, from the params it scored with; ``--owner`` lists one owner's).
"""

from __future__ import annotations

import argparse

from healthscore.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--owner", default=None, metavar="NAME",
                        help="only this owner's calls (as in accounts.owner)")
    parser.add_argument("--as-of", default=None, metavar="DATE",
                        help="a date scored before (default: the latest)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="scoring output folder (default: score.out_dir)")
    parser.add_argument("--csv", action="store_true",
                        help="also write calls/<as_of>.csv under the outputs folder (all owners)")


def run(args: argparse.Namespace, params: Params) -> int:
    import pandas as pd

    from healthscore.errors import DataError
    from healthscore.io.files import atomic_path
    from healthscore.scoring import OutputLayout
    from healthscore.scoring.calls import calls_of, needing_points, render_calls
    from healthscore.scoring.outputs import DateOutputs, as_of_text
    from healthscore.scoring.risk_list import write_risk_csv

    if args.csv and args.owner is not None:
        raise DataError("--csv writes the whole call list (calls/<as_of>.csv); drop --owner to write it")
    layout = OutputLayout(args.out or params.score.out_dir)
    when = layout.scored_date(args.as_of)
    risk_list = members = layout.read_table("risk_list", when)
    if args.owner is not None:
        owners = risk_list["owner"].astype("string")
        if not (owners == args.owner).any():
            known = ", ".join(sorted(owners.dropna().unique())[:5])
            raise DataError(f"--owner {args.owner!r}: no account of the risk list of {as_of_text(when)} "
                            f"has that owner (owners include: {known})")
        risk_list = risk_list.loc[(owners == args.owner).fillna(False).to_numpy(dtype=bool)]
    alerts = layout.read_table("alerts", when)
    quiet = needing_points(risk_list, alerts)  # read only the stored points the list needs
    points = layout.read_partition("points", when, account_ids=quiet.tolist()) if len(quiet) else None
    stored = DateOutputs(when, risk_list, pd.DataFrame(), points, layout.read_table("changes", when),
                         alerts, layout.read_run(when))
    if layout.parents(when).exists():  # accounts with parent_account_id: the parents' lines too
        stored.parents, stored.parent_drivers, stored.parent_alerts = (
            layout.read_table(kind, when) for kind in ("parents", "parent_drivers", "parent_alerts"))
    calls = calls_of(stored, params, members=members)
    print(render_calls(calls, as_of=when, currency=params.report.currency))
    if args.csv:
        path = layout.calls(when)
        with atomic_path(path) as tmp:
            write_risk_csv(calls, tmp)  # the same CSV rules: formulas neutralised
        print(f"\nwrote {path}")
    return 0
