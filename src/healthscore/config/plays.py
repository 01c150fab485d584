"""The ``plays:`` and ``notify:`` sections of ``params.yaml``, typed for pydantic.

A play turns an alert into a task (:mod:`healthscore.plays`); the notification
channels send the tasks (:mod:`healthscore.notify`). Every channel is off by default,
so the demo writes tasks and sends nothing.
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from healthscore.config.fields import (Bool, Count, Expected, Float, Int, Key, Mismatch, NonNegative, Positive, Str,
                                       section)

AlertKind = Literal["new_red", "band_drop", "score_drop"]
Band = Literal["red", "yellow", "green"]
Family = Literal["usage", "support", "billing", "sentiment", "engagement", "contract", "account"]


@section
class PlayWhen:
    """When a play applies to an alerted account; every condition given must hold.

    ``alerts``: the alert kinds that start it (any of them). ``bands``: the band now
    (empty: any). ``renewal_within_days``: the next renewal falls within this many days
    of the as-of date. ``family``: the driver family (usage, support, billing, ...) whose
    points cost the account at least ``min_points``. ``segments``: the account's segment
    (empty: any).
    """

    alerts: list[AlertKind] = field(default_factory=lambda: ["new_red", "band_drop", "score_drop"])
    bands: list[Band] = field(default_factory=list)
    renewal_within_days: Count | None = None
    family: Family | None = None
    min_points: NonNegative = 5.0
    segments: list[Str] = field(default_factory=list)

    @model_validator(mode="after")
    def _starts_somewhere(self) -> PlayWhen:
        if not self.alerts:
            raise Mismatch(lambda key: f"{key('alerts')}: expected at least one alert kind "
                           "(a play turns alerts into tasks), got an empty list")
        return self


@section
class Play:
    """One play: a scenario (``when``), the ``action`` to take, the ``owner`` role who
    takes it and the task's due date, ``due_days`` after the as-of date.

    ``holdout``: the share (0 to 0.5) of the accounts it applies to that are held out
    (no task, no notification; written with the tasks, arm ``holdout``) so its uplift
    can be measured (``healthscore plays``); assigned by a hash of account, play and
    ``holdout_seed``, stratified by band and segment (:mod:`healthscore.plays.assign`).
    """

    name: Annotated[Str, Field(min_length=1, pattern=r"^[a-z0-9_]+$")]
    action: Annotated[Str, Field(min_length=1)]
    owner: Annotated[Str, Field(min_length=1)] = "csm"
    due_days: Positive = 7
    when: PlayWhen = field(default_factory=PlayWhen)
    holdout: Annotated[Float, Field(ge=0.0, le=0.5)] = 0.0
    holdout_seed: Int = 0


@section
class WebhookParams:
    """A JSON POST of the run's tasks, signed: header ``X-Healthscore-Signature:
    sha256=<hex HMAC-SHA256 of the body>`` with the secret read from the environment
    variable ``secret_env`` (never from this file)."""

    enabled: Bool = False
    url: Str = ""
    secret_env: Str = "HEALTHSCORE_WEBHOOK_SECRET"


@section
class EmailParams:
    """One e-mail per recipient over SMTP (STARTTLS when ``starttls``), listing their
    tasks. ``recipients``: owner role -> address; tasks of a role not listed go to
    ``default_to`` (empty: not sent, counted). User and password from the environment
    variables named (empty: no login)."""

    enabled: Bool = False
    host: Str = "localhost"
    port: Annotated[Int, Field(ge=1, le=65535)] = 25
    starttls: Bool = False
    sender: Str = "healthscore@localhost"
    recipients: dict[Key, Str] = field(default_factory=dict)
    default_to: Str = ""
    user_env: Str = ""
    password_env: Str = ""


@section
class NotifyParams:
    """How tasks are sent. Each channel is tried ``1 + retries`` times, waiting
    ``backoff_seconds * 2**k`` after the k-th failure, each attempt limited to
    ``timeout_seconds``; a channel that still fails is logged and counted, and never
    fails the scoring run."""

    timeout_seconds: Annotated[Float, Field(gt=0, le=300)] = 10.0
    retries: Annotated[Count, Field(le=10)] = 2
    backoff_seconds: NonNegative = 1.0
    webhook: WebhookParams = field(default_factory=WebhookParams)
    email: EmailParams = field(default_factory=EmailParams)

    @model_validator(mode="after")
    def _enabled_has_target(self) -> NotifyParams:
        if self.webhook.enabled and not self.webhook.url:
            raise Mismatch(lambda key: f"{key('webhook')}.url: expected the URL to POST to "
                           "when notify.webhook.enabled is true, got nothing")
        return self


def check_unique_names(plays: list[Play]) -> list[Play]:
    """``plays`` when every name is used once (a task names its play)."""
    seen: set[str] = set()
    for play in plays:
        if play.name in seen:
            raise Expected(f"plays with distinct names (a task names its play); {play.name!r} twice")
        seen.add(play.name)
    return plays


def default_plays() -> list[Play]:
    """The plays of the shipped ``params.yaml`` (the most specific first)."""
    return [
        Play("renewal_save", "Call the sponsor before the renewal and agree a save plan", "csm", 3,
             PlayWhen(alerts=["new_red"], renewal_within_days=90)),
        Play("billing_follow_up", "Check overdue invoices with finance, then call the billing contact",
             "billing", 7, PlayWhen(family="billing", min_points=5.0)),
        Play("support_review", "Review the open tickets with support and agree a fix date with the "
             "customer", "support_lead", 7, PlayWhen(family="support", min_points=5.0)),
        Play("health_check", "Book a health check-up call", "csm", 14, PlayWhen()),
    ]


#: The ``plays:`` list: distinct names, in order of priority (the first that applies wins).
PlayList = Annotated[list[Play], AfterValidator(check_unique_names)]
