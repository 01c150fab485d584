"""Notifications to real servers on the loopback address: an HTTP server in a thread
(body, signature, retries after a 500, a hanging server) and an aiosmtpd SMTP server."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from email import message_from_bytes

import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.notify import PAYLOAD_KIND, SIGNATURE_HEADER, send_tasks
from healthscore.plays import make_tasks
from healthscore.data.schema import TASK_COLUMNS

from loopback_servers import Receiver, free_port  # tests/: real servers on 127.0.0.1

AS_OF = pd.Timestamp("2024-06-01")
SECRET = "s3cret-for-tests"


def tasks_frame():
    from test_plays_tasks import alerts_frame  # the same tiny day as the plays tests

    alerts = alerts_frame([("a1", ["new_red"], "red", 30, -25), ("a2", ["score_drop"], "yellow", 55, -11)])
    risk = pd.DataFrame({"account_id": ["a1", "a2"], "name": ["One", "Two"], "owner": ["ann", "bob"],
                         "segment": ["smb", "mid"],
                         "renewal_date": pd.to_datetime(["2024-06-20", "2025-01-01"]).astype("datetime64[us]"),
                         "days_to_renewal": pd.array([19.0, 214.0], dtype="Float64")})
    history = pd.DataFrame({"account_id": ["a1", "a2"], "points_billing": [0.0, -6.0],
                            "points_support": [0.0, 0.0]})
    return make_tasks(alerts, risk, history, make_params({}).plays, as_of=AS_OF)


def notify_params(**webhook):
    return make_params({"notify": {"timeout_seconds": 1.0, "retries": 2, "backoff_seconds": 0.0,
                                   "webhook": {"enabled": True, "secret_env": "HS_TEST_SECRET", **webhook}}}).notify


def test_webhook_posts_signed_json_of_every_task():
    tasks = tasks_frame()
    with Receiver() as hook:
        report = send_tasks(tasks, notify_params(url=hook.url), as_of=AS_OF,
                            environ={"HS_TEST_SECRET": SECRET})
    assert report.sent == {"webhook": 1} and not report.failed.get("webhook")
    (headers, body), = hook.requests
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["kind"] == PAYLOAD_KIND and payload["as_of"] == "2024-06-01" and payload["count"] == 2
    got = {t["account_id"]: t for t in payload["tasks"]}
    assert set(got) == {"a1", "a2"} and set(got["a1"]) == set(TASK_COLUMNS)
    assert got["a1"]["play"] == "renewal_save" and got["a1"]["due_date"] == "2024-06-04"
    assert got["a2"]["play"] == "billing_follow_up" and got["a2"]["health_score"] == 55


def test_webhook_retries_after_a_500_and_gives_up_on_a_400():
    tasks = tasks_frame()
    with Receiver(statuses=[500, 503]) as hook:
        report = send_tasks(tasks, notify_params(url=hook.url), as_of=AS_OF,
                            environ={"HS_TEST_SECRET": SECRET})
    assert len(hook.requests) == 3 and report.sent["webhook"] == 1 and report.attempts["webhook"] == 3
    assert hook.requests[0][1] == hook.requests[2][1]  # the same body each time
    with Receiver(statuses=[400]) as hook:
        report = send_tasks(tasks, notify_params(url=hook.url), as_of=AS_OF,
                            environ={"HS_TEST_SECRET": SECRET})
    assert len(hook.requests) == 1 and report.failed["webhook"] == 1
    assert "HTTP 400" in report.summary() or "FAILED" in "\n".join(report.lines)


def test_webhook_on_a_hanging_server_times_out_counts_and_does_not_raise(caplog):
    tasks = tasks_frame()
    waits = []
    with Receiver(hang=30.0) as hook:
        params = dataclasses.replace(notify_params(url=hook.url), timeout_seconds=0.2, retries=1,
                                     backoff_seconds=0.5)
        report = send_tasks(tasks, params, as_of=AS_OF, environ={"HS_TEST_SECRET": SECRET},
                            sleep=waits.append)
    assert report.failed == {"webhook": 1} and report.sent == {"webhook": 0}
    assert report.attempts["webhook"] == 2 and waits == [0.5]
    assert "failed: 1 webhook" in report.summary()
    assert any("notification failed (webhook)" in r.getMessage() for r in caplog.records)


def test_webhook_without_its_secret_is_not_sent_unsigned():
    with Receiver() as hook:
        report = send_tasks(tasks_frame(), notify_params(url=hook.url), as_of=AS_OF, environ={})
    assert hook.requests == [] and report.failed == {"webhook": 1}
    assert "HS_TEST_SECRET is not set" in "\n".join(report.lines)


def test_refused_connection_is_counted_and_dry_run_sends_nothing():
    with Receiver() as hook:
        url = hook.url
    # the server is closed: connections are refused
    report = send_tasks(tasks_frame(), notify_params(url=url), as_of=AS_OF,
                        environ={"HS_TEST_SECRET": SECRET}, sleep=lambda s: None)
    assert report.failed == {"webhook": 1} and report.attempts["webhook"] == 3
    with Receiver() as hook:
        report = send_tasks(tasks_frame(), notify_params(url=hook.url), as_of=AS_OF,
                            environ={"HS_TEST_SECRET": SECRET}, dry_run=True)
    assert hook.requests == [] and report.dry_run
    assert report.lines[0].startswith(f"webhook: would POST {hook.url} (2 tasks")


# ------------------------------------------------------------------ SMTP


@pytest.fixture()
def smtp_server():
    """A real aiosmtpd SMTP server on 127.0.0.1 recording every message."""
    from aiosmtpd.controller import Controller

    class Recorder:
        def __init__(self):
            self.messages, self.answers = [], []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            if self.answers:
                return self.answers.pop(0)
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    recorder = Recorder()
    # aiosmtpd's start() connects to its own port to check it is up: it needs a real one
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, recorder
    finally:
        controller.stop()


def test_email_one_message_per_recipient_with_its_tasks(smtp_server):
    controller, recorder = smtp_server
    port = controller.port
    params = make_params({"notify": {"timeout_seconds": 5.0, "backoff_seconds": 0.0, "email": {
        "enabled": True, "host": "127.0.0.1", "port": port, "sender": "hs@example.com",
        "recipients": {"csm": "cs@example.com"}, "default_to": ""}}}).notify
    report = send_tasks(tasks_frame(), params, as_of=AS_OF)
    # a1 -> renewal_save (csm), a2 -> billing_follow_up (billing: no address, counted)
    assert report.sent == {"email": 1} and report.unaddressed == 1
    (sender, to, content), = recorder.messages
    assert sender == "hs@example.com" and to == ["cs@example.com"]
    message = message_from_bytes(content)
    assert message["Subject"] == "Customer health: 1 new task (2024-06-01)"
    text = message.get_payload(decode=True).decode()
    assert "One (owner ann): Call the sponsor before the renewal" in text and "due 2024-06-04" in text
    assert "Two" not in text

    everyone = dataclasses.replace(params, email=dataclasses.replace(params.email, default_to="lead@example.com"))
    report = send_tasks(tasks_frame(), everyone, as_of=AS_OF)
    assert report.sent == {"email": 2} and report.unaddressed == 0
    assert sorted(m[1][0] for m in recorder.messages[1:]) == ["cs@example.com", "lead@example.com"]


def test_email_retries_a_temporary_refusal_then_delivers(smtp_server):
    controller, recorder = smtp_server
    recorder.answers = ["451 4.3.0 try again later"]
    params = make_params({"notify": {"timeout_seconds": 5.0, "retries": 2, "backoff_seconds": 0.0,
                                     "email": {"enabled": True, "host": "127.0.0.1", "port": controller.port,
                                               "default_to": "lead@example.com"}}}).notify
    report = send_tasks(tasks_frame(), params, as_of=AS_OF)
    assert report.sent == {"email": 1} and report.attempts["email"] == 2
    assert len(recorder.messages) == 1  # the refused try delivered nothing


def test_email_to_a_closed_port_fails_counted_never_raises():
    port = free_port()  # nothing listens there
    params = make_params({"notify": {"timeout_seconds": 1.0, "retries": 1, "backoff_seconds": 0.0,
                                     "email": {"enabled": True, "host": "127.0.0.1", "port": port,
                                               "default_to": "lead@example.com"}}}).notify
    report = send_tasks(tasks_frame(), params, as_of=AS_OF)
    assert report.failed == {"email": 1} and report.sent == {"email": 0}
    assert report.attempts["email"] == 2
