"""Sending a run's tasks through the channels of ``params.notify``, never failing the run.

Each message is tried ``1 + retries`` times with exponential backoff, each attempt
limited to ``timeout_seconds``. A message that still fails is logged (a warning naming
the channel, the target and the last error) and counted in the :class:`NotifyReport`;
:func:`send_tasks` itself never raises, so a broken webhook cannot fail a scoring run
whose outputs are already committed. ``dry_run`` describes every message and sends
none.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import pandas as pd

from healthscore.config.plays import NotifyParams
from healthscore.notify.channels import PermanentFailure, post_webhook, send_mail
from healthscore.notify.messages import mail_message, plan_mails, webhook_body

log = logging.getLogger(__name__)


@dataclass
class NotifyReport:
    """What a send did (or, on a dry run, would do).

    ``sent`` and ``failed`` count messages per channel (``webhook``, ``email``);
    ``attempts`` counts tries; ``unaddressed`` counts tasks no e-mail goes to;
    ``lines`` describe each message in words; ``note`` says why nothing was tried.
    """

    dry_run: bool
    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    unaddressed: int = 0
    lines: list[str] = field(default_factory=list)
    note: str = ""

    def summary(self) -> str:
        """One line: what was sent and what failed."""
        if self.note:
            return f"notifications: {self.note}"
        if not self.lines:
            return "notifications: no channel enabled (params notify.webhook / notify.email)"
        verb = "would send" if self.dry_run else "sent"
        parts = [f"{self.sent.get(c, 0)} {c}" for c in sorted(set(self.sent) | set(self.failed))]
        text = f"notifications: {verb} " + ", ".join(parts)
        if any(self.failed.values()):
            text += "; failed: " + ", ".join(f"{n} {c}" for c, n in sorted(self.failed.items()) if n)
        if self.unaddressed:
            text += f"; {self.unaddressed} task(s) without an e-mail address"
        return text


def send_tasks(
    tasks: pd.DataFrame,
    params: NotifyParams,
    *,
    as_of: pd.Timestamp,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyReport:
    """Send ``tasks`` through every enabled channel of ``params``; never raises.

    Parameters
    ----------
    tasks : DataFrame
        The run's tasks (:data:`~healthscore.data.schema.TASK_COLUMNS`); nothing is sent
        when it is empty.
    params : NotifyParams
    as_of : Timestamp
        The run's as-of date (in the messages).
    dry_run : bool
        Describe every message in ``report.lines`` and send none.
    environ : mapping, optional
        Where the secrets are read (default ``os.environ``).
    sleep : callable
        Waits between tries (seconds).

    Returns
    -------
    NotifyReport
    """
    env = os.environ if environ is None else environ
    report = NotifyReport(dry_run=dry_run)
    if tasks.empty:
        if params.webhook.enabled or params.email.enabled:
            report.note = "no tasks, nothing to send"
        return report
    if params.webhook.enabled:
        _webhook(tasks, params, as_of=as_of, env=env, report=report, sleep=sleep)
    if params.email.enabled:
        _email(tasks, params, as_of=as_of, env=env, report=report, sleep=sleep)
    return report


def _webhook(tasks, params: NotifyParams, *, as_of, env, report: NotifyReport, sleep) -> None:
    hook = params.webhook
    body = webhook_body(tasks, as_of=as_of)
    target = f"POST {hook.url} ({len(tasks)} tasks, {len(body):,} bytes)"
    if report.dry_run:
        report.lines.append(f"webhook: would {target}, signed with ${hook.secret_env}")
        report.sent["webhook"] = 1
        return
    secret = env.get(hook.secret_env, "")
    if not secret:
        _count_failure(report, "webhook", target, f"environment variable {hook.secret_env} is not set "
                       "(the webhook is never sent unsigned)")
        return
    _attempt(report, "webhook", target, params, sleep,
             lambda: post_webhook(body, url=hook.url, secret=secret, timeout=params.timeout_seconds))


def _email(tasks, params: NotifyParams, *, as_of, env, report: NotifyReport, sleep) -> None:
    mail_params = params.email
    mails, report.unaddressed = plan_mails(tasks, mail_params.recipients, default_to=mail_params.default_to)
    user = env.get(mail_params.user_env, "") if mail_params.user_env else ""
    password = env.get(mail_params.password_env, "") if mail_params.password_env else ""
    report.sent.setdefault("email", 0)
    for mail in mails:
        message = mail_message(mail, sender=mail_params.sender, as_of=as_of)
        target = f"mail to {mail.to} via {mail_params.host}:{mail_params.port} ({len(mail.tasks)} tasks)"
        if report.dry_run:
            report.lines.append(f"email: would send {target}: {message['Subject']}")
            report.sent["email"] += 1
            continue
        _attempt(report, "email", target, params, sleep, lambda m=message: send_mail(
            m, host=mail_params.host, port=mail_params.port, starttls=mail_params.starttls,
            user=user, password=password, timeout=params.timeout_seconds))


def _attempt(report: NotifyReport, channel: str, target: str, params: NotifyParams, sleep,
             action: Callable[[], object]) -> None:
    tries = 1 + params.retries
    error: BaseException | None = None
    for k in range(tries):
        report.attempts[channel] = report.attempts.get(channel, 0) + 1
        try:
            action()
        except PermanentFailure as exc:
            error = exc
            break
        except Exception as exc:  # noqa: BLE001 (any failure is counted, never raised)
            error = exc
            if k + 1 < tries:
                sleep(params.backoff_seconds * 2 ** k)
            continue
        report.sent[channel] = report.sent.get(channel, 0) + 1
        report.lines.append(f"{channel}: sent {target}" + (f" after {k + 1} tries" if k else ""))
        return
    _count_failure(report, channel, target, f"{type(error).__name__}: {error}")


def _count_failure(report: NotifyReport, channel: str, target: str, why: str) -> None:
    report.failed[channel] = report.failed.get(channel, 0) + 1
    report.sent.setdefault(channel, 0)
    report.lines.append(f"{channel}: FAILED {target}: {why}")
    log.warning("notification failed (%s): %s: %s", channel, target, why)
