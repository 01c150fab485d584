"""`healthscore explain ACCOUNT_ID [--as-of DATE]`: one account's explanation.

A parent account's id (``accounts.parent_account_id``) shows its roll-up first: the
ARR-weighted risk of its accounts, its drivers and its accounts
(:mod:`healthscore.scoring.parent_view`); then, when the parent is scored as an account
itself, its own explanation.

Read from the stored scoring outputs (``params.score.out_dir``); the latest date
scored unless ``--as-of`` names another. Says what the report's account page says:
the risk within the run's horizon, the next renewal, the starting point of accounts
like this one and the behavioural drivers measured against it.
"""

from __future__ import annotations

import argparse

from healthscore.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("account_id", metavar="ACCOUNT_ID", help="the account to explain")
    parser.add_argument("--as-of", default=None, metavar="DATE",
                        help="a date scored before (default: the latest)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="scoring output folder (default: score.out_dir)")


def run(args: argparse.Namespace, params: Params) -> int:
    import dataclasses

    from healthscore.scoring import OutputLayout, read_account, render_account
    from healthscore.terminal import clean_values

    from healthscore.scoring.parent_view import read_parent, render_parent

    layout = OutputLayout(getattr(args, "out", None) or params.score.out_dir)

    parent = read_parent(layout, args.account_id, getattr(args, "as_of", None))
    if parent is not None:
        parent = dataclasses.replace(parent, **{f: clean_values(getattr(parent, f))
                                                for f in ("row", "hurting", "helping", "members")})
        print(render_parent(parent, currency=params.report.currency, outcome=params.report.outcome))
        if not any(m["account_id"] == parent.parent_id for m in parent.members):
            return 0  # a group id, or a parent account not scored on the date
        print("\nThe parent's own account:\n")
    info = read_account(layout, args.account_id, getattr(args, "as_of", None), top=params.score.top_drivers,
                        profile=params.score.profile_features, currency=params.report.currency)
    # Names, owners and phrases from the data, each on one line and without escapes
    # (the output stream strips escapes too, but keeps line breaks it cannot tell apart).
    info = dataclasses.replace(info, **{f.name: clean_values(getattr(info, f.name))
                                        for f in dataclasses.fields(info)})
    print(render_account(info, outcome=params.report.outcome, currency=params.report.currency))
    return 0
