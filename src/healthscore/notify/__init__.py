"""Notifications: the tasks of a run sent by signed webhook and by e-mail
(:mod:`healthscore.notify.send`), retried, time-limited, never failing the run."""

from healthscore.notify.channels import SIGNATURE_HEADER, PermanentFailure, sign
from healthscore.notify.messages import PAYLOAD_KIND, webhook_body
from healthscore.notify.send import NotifyReport, send_tasks

__all__ = ["NotifyReport", "PAYLOAD_KIND", "PermanentFailure", "SIGNATURE_HEADER", "send_tasks",
           "sign", "webhook_body"]
