"""The plays' place in a scoring run: tasks before the outputs are written, the
notifications after they are committed (``healthscore score``, ``healthscore notify``)."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from healthscore.config.plays import NotifyParams, Play
from healthscore.plays.tasks import make_tasks


def attach_tasks(outputs, plays: Sequence[Play]) -> None:
    """Set ``outputs.tasks`` (a :class:`~healthscore.scoring.outputs.DateOutputs`) to the
    tasks ``plays`` make from its alerts, and count them in its run record; written with
    the date, all or nothing."""
    outputs.tasks = make_tasks(outputs.alerts, outputs.risk_list, outputs.history, plays,
                               as_of=outputs.as_of)
    run = dict(outputs.run)
    run["counts"] = {**run.get("counts", {}), "tasks": int(len(outputs.tasks))}
    run["plays"] = [p.name for p in plays]
    outputs.run = run


def notify_tasks(tasks: pd.DataFrame | None, params: NotifyParams, *, as_of: pd.Timestamp,
                 dry_run: bool) -> str:
    """Send ``tasks`` (never raises, :func:`healthscore.notify.send_tasks`); the lines
    to print: a summary, then one line per message."""
    from healthscore.notify import send_tasks
    from healthscore.plays.tasks import empty_tasks

    report = send_tasks(empty_tasks() if tasks is None else tasks, params, as_of=as_of,
                        dry_run=dry_run)
    return "\n".join([f"  {report.summary()}", *(f"    {line}" for line in report.lines)])
