"""Sending over SMTP submission (RFC 6409), shared by the mailbox connectors.

`SmtpSender` keeps one smtplib connection open across the messages of a tick and
checks it with NOOP when it sat idle, reconnecting when the server dropped it.
Each message is one explicit transaction (MAIL, RCPT per recipient, DATA) rather
than `smtplib.sendmail`, so every reply is classified by its code (RFC 5321
section 4.2.1) at the step it came from:

- 2xx: delivered to that recipient.
- 4xx (transient): tried again after `retry_delays` (0.5 s, 1 s, 2 s by default), only
  for the recipients that did not get it yet; still failing -> ConnectorError.
- 5xx for a recipient, or 5xx to DATA: DeliveryRefused for those recipients; the others
  still got the message.
- A connection lost before DATA is safe to retry on a fresh connection; lost after
  the message body was sent, the outcome is unknown and the send fails with
  ConnectorError instead of risking a duplicate.

Credentials come from an environment variable or a file named in the config (or an
OAuth2 access token file, for XOAUTH2), never from the config itself; error messages
and logs never contain them.
"""

from __future__ import annotations

import contextlib
import copy
import email.policy
import logging
import os
import re
import select
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from connectors.base import ConnectorError, DeliveryRefused

log = logging.getLogger(__name__)

Security = Literal["ssl", "starttls", "none"]
SMTP_PORTS: dict[str, int] = {"ssl": 465, "starttls": 587, "none": 25}
TLS_LABELS: dict[str, str] = {"ssl": "TLS", "starttls": "STARTTLS", "none": "no TLS"}
IDLE_CHECK_AFTER = 5.0  # seconds a pooled connection may sit idle before a NOOP check


class Credentials:
    """Where a password or OAuth2 token is read from; the value is read on each login.

    Reading late means a rotated token file is picked up without a restart. A missing
    variable or unreadable file is a ConnectorError that names the variable or file.
    """

    def __init__(
        self,
        username: str | None,
        *,
        password_env: str | None = None,
        password_file: Path | None = None,
        oauth2_token_file: Path | None = None,
    ) -> None:
        self.username = username
        self.password_env = password_env
        self.password_file = password_file
        self.oauth2_token_file = oauth2_token_file
        self._seen: set[str] = set()  # every secret read so far, to scrub from messages

    @property
    def oauth2(self) -> bool:
        return self.oauth2_token_file is not None

    def secret(self) -> str:
        if self.oauth2_token_file is not None:
            value = self._read(self.oauth2_token_file, "oauth2_token_file")
        elif self.password_file is not None:
            value = self._read(self.password_file, "password_file")
        elif self.password_env is not None:
            value = os.environ.get(self.password_env, "")
            if not value:
                raise ConnectorError(
                    f"the environment variable {self.password_env} (password_env) is not set"
                )
        else:
            raise ConnectorError("no password_env, password_file or oauth2_token_file is set")
        self._seen.add(value)
        return value

    @staticmethod
    def _read(path: Path, key: str) -> str:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConnectorError(f"cannot read {key} {path}: {exc.strerror}") from None
        if not value:
            raise ConnectorError(f"{key} {path} is empty")
        return value

    def scrub(self, text: str) -> str:
        """`text` with any secret read so far replaced by ***."""
        for secret in self._seen:
            if secret:
                text = text.replace(secret, "***")
        return text


def xoauth2(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (Google's and Microsoft's OAuth2 for IMAP/SMTP)."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificate-verifying TLS; `ca_file` adds a private CA (self-signed servers)."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class SmtpOptions(BaseModel):
    """The `mail.smtp:` section. Omitted credentials default to the IMAP ones."""

    model_config = ConfigDict(extra="forbid")
    host: str | None = None  # default: the IMAP host
    port: int | None = None  # default by security: 465 ssl, 587 starttls, 25 none
    security: Security = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    oauth2_token_file: Path | None = None
    auth: bool = True  # false: no AUTH (a trusted relay on port 25)
    ca_file: Path | None = None
    timeout: float | None = None  # default: the mailbox's timeout
    retry_delays: list[float] = [0.5, 1.0, 2.0]  # waits before each retry after a 4xx

    @model_validator(mode="after")
    def _one_secret(self) -> SmtpOptions:
        given = [self.password_env, self.password_file, self.oauth2_token_file]
        if sum(v is not None for v in given) > 1:
            raise ValueError("set only one of password_env, password_file, oauth2_token_file")
        return self

    @property
    def has_secret(self) -> bool:
        return any(
            v is not None for v in (self.password_env, self.password_file, self.oauth2_token_file)
        )


@dataclass
class Delivery:
    """What became of one message: who got it and who did not, with the server's reply."""

    data: bytes  # the bytes that were sent (CRLF, Bcc and Return-Path removed): the copy for Sent
    delivered: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # 5xx: address -> reply
    deferred: dict[str, str] = field(default_factory=dict)  # 4xx after every retry


class _Lost(Exception):
    """The connection broke; `before_data` says whether the message surely did not go."""

    def __init__(self, before_data: bool, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.before_data = before_data


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"


def envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """Envelope sender and recipients from the headers (Return-Path/Sender/From; To, Cc, Bcc).

    The agent puts its signed bounce address (VERP, agent.mail_in.tokens) in Return-Path, where
    RFC 5321 section 4.4 keeps the reverse-path: it becomes MAIL FROM, so delivery status
    notifications come back to it, and it is taken out of the message sent (only the
    final delivery adds a Return-Path). Provider APIs (Gmail, Microsoft Graph, EWS) set
    the envelope sender themselves: there bounces are tied by Message-ID alone.
    """
    sender = message["Return-Path"] or message["Sender"] or message["From"]
    if not sender:
        raise ConnectorError("the message has no From: header")
    from_addr = getaddresses([str(sender)])[0][1]
    fields = [str(v) for key in ("To", "Cc", "Bcc") for v in message.get_all(key, [])]
    recipients: list[str] = []
    for _, addr in getaddresses(fields):
        if addr and addr.lower() not in {r.lower() for r in recipients}:
            recipients.append(addr)
    if not recipients:
        raise ConnectorError("the message has no recipients (To:, Cc:, Bcc:)")
    return from_addr, recipients


class SmtpSender:
    """One SMTP submission connection, reused while it lives. Not thread-safe."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: Security = "starttls",
        credentials: Credentials | None = None,
        timeout: float = 30.0,
        retry_delays: Sequence[float] = (0.5, 1.0, 2.0),
        ca_file: Path | None = None,
        local_hostname: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.host = host
        self.port = port or SMTP_PORTS[security]
        self.security = security
        self.credentials = credentials
        self.timeout = timeout
        self.retry_delays = list(retry_delays)
        self.ca_file = ca_file
        self.local_hostname = local_hostname
        self._sleep = sleep
        self._conn: smtplib.SMTP | None = None
        self._last_used = 0.0

    @property
    def where(self) -> str:
        return f"SMTP {self.host}:{self.port} ({TLS_LABELS[self.security]})"

    def _scrub(self, text: str) -> str:
        return self.credentials.scrub(text) if self.credentials else text

    def _error(self, what: str, exc: BaseException | str) -> ConnectorError:
        return ConnectorError(self._scrub(f"{self.where}: {what}: {exc}"))

    # -- connection ---------------------------------------------------------------------

    def connect(self) -> smtplib.SMTP:
        """Open, secure and authenticate a connection (the pooled one if it still works)."""
        if self._conn is not None:
            idle = time.monotonic() - self._last_used >= IDLE_CHECK_AFTER
            if not idle and not _readable(self._conn.sock):
                return self._conn  # nothing waiting on the socket: no 421, no EOF
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass
            log.info("%s: the idle connection was closed; reconnecting", self.where)
            self._drop()
        try:
            conn = self._open()
        except smtplib.SMTPAuthenticationError as exc:
            user = self.credentials.username if self.credentials else ""
            raise self._error(
                f"login as {user} refused", _reply(exc.smtp_code, exc.smtp_error)
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise self._error("the server does not offer what is needed", exc) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error("cannot connect", exc) from None
        self._conn = conn
        self._last_used = time.monotonic()
        return conn

    def _open(self) -> smtplib.SMTP:
        context = tls_context(self.ca_file) if self.security != "none" else None
        conn: smtplib.SMTP
        if self.security == "ssl":
            conn = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            creds = self.credentials
            if creds is not None and creds.username:
                secret = creds.secret()
                if creds.oauth2:
                    user = creds.username
                    conn.auth(
                        "XOAUTH2", lambda challenge=None: "" if challenge else xoauth2(user, secret)
                    )
                else:
                    conn.login(creds.username, secret)
        except BaseException:
            conn.close()
            raise
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        """QUIT politely; never raises."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    # -- sending ------------------------------------------------------------------------

    def send(self, message: EmailMessage) -> bytes:
        """Deliver `message`; DeliveryRefused / ConnectorError unless every recipient got it."""
        result = self.deliver(message)
        if result.refused:
            raise refusal(result)
        if result.deferred:
            raise self.deferred_error(result)
        return result.data

    def deferred_error(self, result: Delivery) -> ConnectorError:
        """The ConnectorError for recipients still answering 4xx after every retry."""
        tries = len(self.retry_delays) + 1
        replies = "; ".join(f"{a}: {r}" for a, r in result.deferred.items())
        got = f" (delivered to {', '.join(result.delivered)})" if result.delivered else ""
        return self._error(f"temporary failure after {tries} tries{got}", replies)

    def deliver(self, message: EmailMessage) -> Delivery:
        """Send `message` and report per recipient; raises only when nothing could be tried.

        ConnectorError: cannot connect or log in, the sender is refused, or the connection
        broke after the body was sent (unknown outcome). 4xx answers are retried here.
        """
        from_addr, recipients = envelope(message)
        utf8 = not all(a.isascii() for a in [from_addr, *recipients])
        if message["Bcc"] is not None or message["Return-Path"] is not None:
            message = _for_transport(message)
        policy = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
        data = message.as_bytes(policy=policy)
        result = Delivery(data)
        pending = list(recipients)
        for attempt in range(len(self.retry_delays) + 1):
            if attempt:
                delay = self.retry_delays[attempt - 1]
                log.info("%s: retrying %s in %.1f s", self.where, ", ".join(pending), delay)
                self._sleep(delay)
            delivered, refused, deferred = self._attempt(from_addr, pending, data, utf8)
            result.delivered += delivered
            result.refused.update(refused)
            result.deferred = deferred
            pending = list(deferred)
            if not pending:
                break
        return result

    def _attempt(
        self, from_addr: str, recipients: list[str], data: bytes, utf8: bool
    ) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """One transaction; a dead pooled connection is replaced at once, not after a delay."""
        while True:
            reused = self._conn is not None
            conn = self.connect()
            try:
                return self._transaction(conn, from_addr, recipients, data, utf8)
            except _Lost as lost:
                self._drop()
                if not lost.before_data:
                    raise self._error(
                        "the connection broke after the message was sent, before the server "
                        "confirmed it; it may or may not have been delivered",
                        lost,
                    ) from None
                if not reused:
                    return [], {}, {r: f"connection lost: {lost}" for r in recipients}
                log.info("%s: the pooled connection was dropped; reconnecting", self.where)

    def _transaction(
        self, conn: smtplib.SMTP, from_addr: str, recipients: list[str], data: bytes, utf8: bool
    ) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """One MAIL/RCPT/DATA exchange: (delivered, refused 5xx, deferred 4xx)."""
        options = []
        if utf8:
            if not conn.has_extn("smtputf8"):
                raise self._error("cannot send", "non-ASCII addresses but no SMTPUTF8 support")
            options.append("SMTPUTF8")
        if not data.isascii() and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        refused: dict[str, str] = {}
        deferred: dict[str, str] = {}
        try:
            code, text = conn.mail(from_addr, options)
            if code != 250:
                self._rset(conn)
                if code >= 500:
                    raise self._error(f"sender <{from_addr}> refused", _reply(code, text))
                return [], {}, {r: _reply(code, text) for r in recipients}
            accepted = []
            for rcpt in recipients:
                code, text = conn.rcpt(rcpt)
                if code in (250, 251):
                    accepted.append(rcpt)
                elif code >= 500:
                    refused[rcpt] = _reply(code, text)
                else:
                    deferred[rcpt] = _reply(code, text)
            if not accepted:
                self._rset(conn)
                return [], refused, deferred
            code, text = conn.docmd("DATA")
            if code != 354:
                self._rset(conn)
                bucket = refused if code >= 500 else deferred
                bucket.update((r, _reply(code, text)) for r in accepted)
                return [], refused, deferred
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Lost(True, exc) from None
        try:
            body = re.sub(rb"(?m)^\.", b"..", data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            conn.send(body + b".\r\n")
            code, text = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Lost(False, exc) from None
        self._last_used = time.monotonic()
        if code == 250:
            return accepted, refused, deferred
        bucket = refused if code >= 500 else deferred
        bucket.update((r, _reply(code, text)) for r in accepted)
        return [], refused, deferred

    @staticmethod
    def _rset(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.rset()

    # -- checking -----------------------------------------------------------------------

    def check(self, sender: str) -> list[tuple[str, bool, str]]:
        """Connect, EHLO, AUTH, then MAIL FROM/RCPT TO `sender` and RSET: nothing is sent."""
        lines: list[tuple[str, bool, str]] = []
        self._drop()
        try:
            conn = self.connect()
        except ConnectorError as exc:
            return [("smtp connect + login", False, str(exc))]
        user = self.credentials.username if self.credentials and self.credentials.username else None
        lines.append(
            (
                "smtp connect + login",
                True,
                f"{self.where}, EHLO answered"
                + (f", logged in as {user}" if user else ", no AUTH configured"),
            )
        )
        try:
            code, text = conn.mail(sender)
            if code == 250:
                code, text = conn.rcpt(sender)
            ok = code in (250, 251)
            conn.rset()
            what = "accepted" if ok else "refused"
            lines.append(
                (
                    "smtp send permission",
                    ok,
                    f"MAIL FROM/RCPT TO <{sender}> {what}: {_reply(code, text)}"
                    " (RSET, nothing sent)",
                )
            )
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            lines.append(("smtp send permission", False, self._scrub(str(exc))))
        return lines


def refusal(result: Delivery) -> DeliveryRefused:
    """DeliveryRefused for the 5xx recipients (the reply also names any still deferred)."""
    refused = result.refused
    reply = "; ".join(refused.values() if len(refused) == 1 else map(": ".join, refused.items()))
    if result.deferred:
        also = "; ".join(f"{a}: {r}" for a, r in result.deferred.items())
        reply += f" (and not delivered after retries, temporary: {also})"
    return DeliveryRefused(list(result.refused), reply)


def _readable(sock: socket.socket | None) -> bool:
    """Whether the server sent something unasked (a 421 or EOF) on an idle connection."""
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _for_transport(message: EmailMessage) -> EmailMessage:
    """A copy without Bcc: and Return-Path: (both are in the envelope, not the headers)."""
    stripped = copy.deepcopy(message)
    del stripped["Bcc"]
    del stripped["Return-Path"]
    return stripped


def sender_from_options(
    options: SmtpOptions,
    *,
    default_host: str,
    default_credentials: Credentials,
    default_timeout: float,
    config_resolve: Callable[[Path], Path],
) -> SmtpSender:
    """An SmtpSender for a `smtp:` section, filling the defaults from the IMAP side."""
    credentials: Credentials | None
    if not options.auth:
        credentials = None
    elif options.has_secret:
        credentials = Credentials(
            options.username or default_credentials.username,
            password_env=options.password_env,
            password_file=config_resolve(options.password_file) if options.password_file else None,
            oauth2_token_file=(
                config_resolve(options.oauth2_token_file) if options.oauth2_token_file else None
            ),
        )
    else:
        credentials = default_credentials
        if options.username and options.username != default_credentials.username:
            credentials = Credentials(
                options.username,
                password_env=default_credentials.password_env,
                password_file=default_credentials.password_file,
                oauth2_token_file=default_credentials.oauth2_token_file,
            )
    return SmtpSender(
        options.host or default_host,
        options.port,
        security=options.security,
        credentials=credentials,
        timeout=options.timeout or default_timeout,
        retry_delays=options.retry_delays,
        ca_file=config_resolve(options.ca_file) if options.ca_file else None,
    )
