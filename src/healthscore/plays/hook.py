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
    if getattr(outputs, "parent_alerts", None) is not None:  # accounts with parent_account_id
        outputs.parent_tasks = make_parent_tasks(outputs, plays)
        run["counts"]["parent_tasks"] = int(len(outputs.parent_tasks))
    run["plays"] = [p.name for p in plays]
    outputs.run = run


def make_parent_tasks(outputs, plays: Sequence[Play]) -> pd.DataFrame:
    """The tasks ``plays`` make from the parent alerts of ``outputs`` (columns
    :data:`~healthscore.data.schema.TASK_COLUMNS`, ``account_id`` renamed
    ``parent_account_id``): a parent is matched as an account whose renewal is its
    accounts' soonest and whose family points are its ARR-weighted ones
    (:func:`healthscore.scoring.parent_alerts.parent_accounts`). No parent is held out
    (the hold-out arms measure a play's uplift on accounts), and a task id names the
    parent, never the account of the same id."""
    import dataclasses

    from healthscore.data.schema import PARENT_ID
    from healthscore.plays.tasks import task_id
    from healthscore.scoring.parent_alerts import parent_accounts

    rows = parent_accounts(outputs.parents, outputs.risk_list)
    alerts = outputs.parent_alerts.rename(columns={PARENT_ID: "account_id"})
    tasks = make_tasks(alerts, rows, rows, [dataclasses.replace(p, holdout=0.0) for p in plays],
                       as_of=outputs.as_of)
    tasks["task_id"] = pd.array([task_id(outputs.as_of, p, f"parent {a}")
                                 for p, a in zip(tasks["play"], tasks["account_id"])], dtype="string")
    return tasks.rename(columns={"account_id": PARENT_ID})


def sent_tasks(tasks: pd.DataFrame | None, parent_tasks: pd.DataFrame | None) -> pd.DataFrame | None:
    """What a run sends: its tasks, then its parents' (keyed ``account_id`` as the
    channels read them, named ``... (parent)``); ``tasks`` alone without parents."""
    if parent_tasks is None or parent_tasks.empty:
        return tasks
    from healthscore.data.schema import PARENT_ID

    parents = parent_tasks.rename(columns={PARENT_ID: "account_id"})
    if tasks is None or tasks.empty:
        return parents
    return pd.concat([tasks, parents.astype({"account_id": tasks["account_id"].dtype})], ignore_index=True)


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
