"""What the channels send: the tasks of a run as a JSON body and as e-mails.

Pure functions of the tasks table (:data:`~healthscore.data.schema.TASK_COLUMNS`); the
channels (:mod:`healthscore.notify.channels`) only move the bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Mapping

import pandas as pd

from healthscore.data.schema import TASK_COLUMNS

#: The webhook body's ``kind``, so a receiver can tell our messages apart.
PAYLOAD_KIND = "healthscore.tasks"


@dataclass(frozen=True)
class Mail:
    """One e-mail: its recipient and the tasks listed in it."""

    to: str
    role: str
    tasks: pd.DataFrame


def task_records(tasks: pd.DataFrame) -> list[dict]:
    """The tasks as JSON-ready dicts (dates ``YYYY-MM-DD``, missing values null)."""
    frame = tasks.loc[:, list(TASK_COLUMNS)].copy()
    for column in ("as_of", "due_date", "renewal_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
    frame = frame.astype(object).where(frame.notna(), None)
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def webhook_body(tasks: pd.DataFrame, *, as_of: pd.Timestamp) -> bytes:
    """The webhook's JSON body (UTF-8): ``{"kind", "as_of", "count", "tasks": [...]}``."""
    body = {"kind": PAYLOAD_KIND, "as_of": f"{pd.Timestamp(as_of):%Y-%m-%d}",
            "count": int(len(tasks)), "tasks": task_records(tasks)}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def plan_mails(tasks: pd.DataFrame, recipients: Mapping[str, str], *, default_to: str) -> tuple[list[Mail], int]:
    """One :class:`Mail` per recipient address, and the number of tasks nobody receives
    (their owner role has no address and ``default_to`` is empty)."""
    address = tasks["owner_role"].map(lambda role: recipients.get(str(role), default_to) or "")
    unsent = int((address == "").sum())
    mails = []
    for to, group in tasks[address != ""].groupby(address[address != ""], sort=True):
        roles = ", ".join(sorted(set(group["owner_role"].astype(str))))
        mails.append(Mail(to=str(to), role=roles, tasks=group))
    return mails, unsent


def mail_message(mail: Mail, *, sender: str, as_of: pd.Timestamp) -> EmailMessage:
    """The e-mail of ``mail``: a plain-text list of tasks, soonest due first."""
    when = f"{pd.Timestamp(as_of):%Y-%m-%d}"
    n = len(mail.tasks)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = f"Customer health: {n} new task{'s' * (n != 1)} ({when})"
    lines = [f"New tasks from the health scores of {when}, for {mail.role}:", ""]
    for task in task_records(mail.tasks):
        lines.append(f"- {task['name'] or task['account_id']} (owner {task['owner'] or 'none'}): "
                     f"{task['action']}, due {task['due_date']}")
        lines.append(f"  health {task['health_score']} ({task['band']}), "
                     f"change {task['score_change'] if task['score_change'] is not None else 'first scoring'}; "
                     f"why: {task['reason'] or 'no changed driver named'}")
    lines += ["", f"Task ids: {', '.join(str(t) for t in mail.tasks['task_id'])}"]
    message.set_content("\n".join(lines))
    return message


def _plain(value: object) -> object:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
