"""The plays' place in a scoring run: tasks before the outputs are written, the
notifications after they are committed (``healthscore score``, ``healthscore notify``)."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from healthscore.config.plays import NotifyParams, Play
from healthscore.plays.assign import ARM_HOLDOUT, ARM_TASK, earlier_arms
from healthscore.plays.tasks import make_tasks


def attach_tasks(outputs, plays: Sequence[Play], *, layout=None) -> None:
    """Set ``outputs.tasks`` (a :class:`~healthscore.scoring.outputs.DateOutputs`) to the
    tasks ``plays`` make from its alerts, and count them in its run record; written with
    the date, all or nothing. ``layout`` (an :class:`~healthscore.scoring.OutputLayout`):
    the tasks of earlier dates are read from it, so an account keeps the arm it first
    got for a play (a held-out account stays held out)."""
    earlier = earlier_arms(read_tasks(layout, before=outputs.as_of)) if layout is not None else None
    outputs.tasks = make_tasks(outputs.alerts, outputs.risk_list, outputs.history, plays,
                               as_of=outputs.as_of, earlier=earlier)
    arm = outputs.tasks["arm"].astype("string")
    run = dict(outputs.run)
    run["counts"] = {**run.get("counts", {}), "tasks": int((arm == ARM_TASK).sum()),
                     "held_out": int((arm == ARM_HOLDOUT).sum())}
    run["plays"] = [p.name for p in plays]
    outputs.run = run


def read_tasks(layout, *, before: pd.Timestamp | None = None) -> pd.DataFrame:
    """Every stored tasks table under ``layout`` (of the complete dates strictly before
    ``before``, when given), one frame; empty when there are none."""
    from healthscore.plays.tasks import empty_tasks

    dates = [d for d in layout.dates() if before is None or d < pd.Timestamp(before)]
    parts = [layout.read_table("tasks", d) for d in dates]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else empty_tasks()


def read_assignments(layout, *, before: pd.Timestamp | None = None) -> pd.DataFrame:
    """The first assignment of every (play, account) in the stored tasks tables (dates
    strictly before ``before``), with ``arr``: the account's ARR on the risk list of the
    assignment's date (:func:`healthscore.plays.uplift.first_assignments`)."""
    from healthscore.plays.uplift import first_assignments

    first = first_assignments(read_tasks(layout, before=before))
    parts = []
    for when, group in first.groupby("as_of", sort=True):
        risk = layout.read_table("risk_list", when)
        arr = risk.set_index("account_id")["arr"] if "arr" in risk else pd.Series(dtype="float64")
        parts.append(group.assign(arr=group["account_id"].map(arr).astype("float64").to_numpy()))
    return pd.concat(parts, ignore_index=True) if parts else first.assign(arr=pd.Series(dtype="float64"))


def notify_tasks(tasks: pd.DataFrame | None, params: NotifyParams, *, as_of: pd.Timestamp,
                 dry_run: bool) -> str:
    """Send ``tasks`` of the ``task`` arm (held-out rows are no task and are never sent;
    never raises, :func:`healthscore.notify.send_tasks`); the lines to print: a summary,
    then one line per message."""
    from healthscore.notify import send_tasks
    from healthscore.plays.tasks import empty_tasks

    tasks = empty_tasks() if tasks is None else tasks
    if "arm" in tasks:
        tasks = tasks.loc[tasks["arm"].astype("string").fillna(ARM_TASK) == ARM_TASK]
    report = send_tasks(tasks, params, as_of=as_of, dry_run=dry_run)
    return "\n".join([f"  {report.summary()}", *(f"    {line}" for line in report.lines)])
