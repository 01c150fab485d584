"""`healthscore notify [--as-of DATE] [--dry-run]`: send a scored date's tasks again.

``healthscore score`` sends its tasks as its last step; this command sends the stored
tasks of a date (the latest unless ``--as-of`` names another) through the channels of
``params.notify``, for a channel that was down, or shows what would be sent
(``--dry-run``). Task ids are stable per date, play and account, so a receiver can
drop a task it already has.
"""

from __future__ import annotations

import argparse

from healthscore.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", default=None, metavar="DATE",
                        help="a date scored before (default: the latest)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="scoring output folder (default: score.out_dir)")
    parser.add_argument("--dry-run", action="store_true",
                        help="send nothing; print what would be sent")


def run(args: argparse.Namespace, params: Params) -> int:
    from healthscore.plays import ARM_HOLDOUT, empty_tasks, notify_tasks
    from healthscore.scoring import OutputLayout

    layout = OutputLayout(args.out or params.score.out_dir)
    as_of = layout.scored_date(args.as_of)
    from healthscore.plays.hook import sent_tasks

    tasks = sent_tasks(layout.read_table("tasks", as_of), layout.read_table("parent_tasks", as_of))
    if tasks.empty:
        tasks = empty_tasks()
    held = int((tasks["arm"] == ARM_HOLDOUT).sum()) if "arm" in tasks.columns else 0
    task_count = len(tasks) - held
    kept = f" ({held:,} held-out accounts get none)" if held else ""
    print(f"{task_count:,} task{'' if task_count == 1 else 's'} of {as_of:%Y-%m-%d} under {layout.root}{kept}")
    print(notify_tasks(tasks, params.notify, as_of=as_of, dry_run=args.dry_run))
    return 0
