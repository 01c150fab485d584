"""The notification channels: a signed webhook POST and e-mail over SMTP.

Each function makes one attempt, bounded by ``timeout`` seconds, and raises on any
failure; :mod:`healthscore.notify.send` retries and counts. A failure that another try
cannot fix (an HTTP 4xx other than 408 and 429, a refused login) raises
:class:`PermanentFailure`, which is not retried.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage

#: The header carrying ``sha256=<hex HMAC-SHA256 of the body>``.
SIGNATURE_HEADER = "X-Healthscore-Signature"
_RETRYABLE_HTTP = {408, 429}


class PermanentFailure(RuntimeError):
    """A failure that trying again will not fix."""


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``
    keyed by ``secret`` (a receiver recomputes it and compares with
    :func:`hmac.compare_digest`)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_webhook(body: bytes, *, url: str, secret: str, timeout: float) -> int:
    """POST ``body`` (JSON) to ``url``, signed with ``secret``; the HTTP status (2xx).

    Raises
    ------
    PermanentFailure
        The server answered 4xx (except 408, 429): the request itself is wrong.
    OSError
        Any other failure: a 5xx, a refused connection, a timeout.
    """
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "healthscore",
        SIGNATURE_HEADER: sign(body, secret),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) from params)
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in _RETRYABLE_HTTP:
            raise PermanentFailure(f"HTTP {exc.code} from {url}") from None
        raise OSError(f"HTTP {exc.code} from {url}") from None


def send_mail(message: EmailMessage, *, host: str, port: int, starttls: bool, user: str,
              password: str, timeout: float) -> None:
    """Send ``message`` through the SMTP server at ``host:port`` (STARTTLS first when
    ``starttls``; login when ``user`` is given).

    Raises
    ------
    PermanentFailure
        The server refused the login or every recipient.
    OSError, smtplib.SMTPException
        Any other failure (connection, timeout, a temporary refusal).
    """
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        if starttls:
            smtp.starttls()
        if user:
            try:
                smtp.login(user, password)
            except smtplib.SMTPAuthenticationError as exc:
                raise PermanentFailure(f"SMTP login refused by {host}:{port} ({exc.smtp_code})") from None
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"SMTP {host}:{port} refused {', '.join(exc.recipients)}") from None
