"""Hostile and machine mail as it really arrives, for tests/test_forged_sender.py and
tests/test_bounces.py: a Gmail reply with any From block, and delivery status
notifications in the shapes Postfix, Exim, Gmail and Exchange Online send."""

from __future__ import annotations

import email.policy
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

CRLF = "\r\n"


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", CRLF).encode("utf-8")


def _body(original: EmailMessage) -> str:
    return original.get_body(preferencelist=("plain",)).get_content()


def gmail_reply(
    original: EmailMessage, from_block: str, text: str, when: datetime, *, thread: bool = True
) -> bytes:
    """A reply as Gmail's web client writes it (multipart/alternative, the quote below),
    with `from_block` as its From line(s): forged senders write whatever they like."""
    quoted = "\n".join("> " + line if line else ">" for line in _body(original).splitlines())
    attribution = f"On {when:%a, %b %d, %Y at %-I:%M %p} {original['From']} wrote:"
    html_text = text.replace("\n", "<br>")
    threading = (
        f"References: {original['Message-ID']}\nIn-Reply-To: {original['Message-ID']}\n"
        if thread
        else ""
    )
    return _crlf(
        "MIME-Version: 1.0\n"
        f"Date: {format_datetime(when)}\n"
        f"{threading}"
        f"Message-ID: <CAGx{when:%s}Zq8nR3-kd7fW+xPq9o=Vb@mail.gmail.com>\n"
        f"Subject: Re: {original['Subject']}\n"
        f"{from_block}\n"
        f"To: {original['Reply-To']}\n"
        'Content-Type: multipart/alternative; boundary="000000000000c4d2a905f1e2b3c4"\n'
        "\n--000000000000c4d2a905f1e2b3c4\n"
        'Content-Type: text/plain; charset="UTF-8"\n\n'
        f"{text}\n\n{attribution}\n\n{quoted}\n"
        "\n--000000000000c4d2a905f1e2b3c4\n"
        'Content-Type: text/html; charset="UTF-8"\n\n'
        f'<div dir="ltr">{html_text}</div><br><div class="gmail_quote">'
        f'<div dir="ltr" class="gmail_attr">{attribution}<br></div>'
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">...</blockquote></div>\n'
        "\n--000000000000c4d2a905f1e2b3c4--\n"
    )


def _headers_of(original: EmailMessage) -> str:
    return "".join(
        f"{name}: {original[name]}\n"
        for name in ("From", "To", "Subject", "Date", "Message-ID", "Reply-To")
        if original[name]
    )


def _original_copy(original: EmailMessage) -> str:
    return original.as_bytes(policy=email.policy.SMTP).decode("utf-8").replace(CRLF, "\n")


def postfix_dsn(original: EmailMessage, failed: str, to: str, when: datetime) -> bytes:
    """Postfix 3.x: multipart/report with the returned message's headers only."""
    boundary = "4Xk2Lq1mzWz9sWQ.1802674871/mx.example.org"
    return _crlf(
        "Return-Path: <>\n"
        f"Delivered-To: {to}\n"
        f"Date: {format_datetime(when)}\n"
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"To: {to}\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status;\n"
        f'\tboundary="{boundary}"\n'
        "Content-Transfer-Encoding: 8bit\n"
        f"Message-Id: <{when:%Y%m%d%H%M%S}.4Xk2Lq1mzWz9sWQ@mx.example.org>\n"
        "\nThis is a MIME-encapsulated message.\n\n"
        f"--{boundary}\n"
        "Content-Description: Notification\nContent-Type: text/plain; charset=utf-8\n\n"
        "This is the mail system at host mx.example.org.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        "                   The mail system\n\n"
        f"<{failed}>: host mx.example.net[192.0.2.25] said: 550 5.1.1\n"
        f"    <{failed}>: Recipient address rejected: User unknown in virtual mailbox\n"
        "    table (in reply to RCPT TO command)\n\n"
        f"--{boundary}\n"
        "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.org\nX-Postfix-Queue-ID: 4Xk2Lq1mzWz9sWQ\n"
        f"X-Postfix-Sender: rfc822; {to}\nArrival-Date: {format_datetime(when)}\n\n"
        f"Final-Recipient: rfc822; {failed}\nOriginal-Recipient: rfc822;{failed}\n"
        "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.net\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected:\n"
        "    User unknown in virtual mailbox table\n\n"
        f"--{boundary}\n"
        "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n"
        "Received: by mail.example.org (Postfix, from userid 1001) id 2Qw8x;\n"
        f"\t{format_datetime(when)}\n"
        f"{_headers_of(original)}"
        f"\n--{boundary}--\n"
    )


def exim_bounce(original: EmailMessage, failed: str, to: str, when: datetime) -> bytes:
    """Exim 4.96's classic bounce: plain text, X-Failed-Recipients, the copy inline."""
    return _crlf(
        "Return-path: <>\n"
        f"Envelope-to: {to}\n"
        "Received: from Debian-exim by mail.example.net with local (Exim 4.96)\n"
        f"\tid 1tXyZa-000ABC-2Q\n\tfor {to}; {format_datetime(when)}\n"
        f"X-Failed-Recipients: {failed}\n"
        "Auto-Submitted: auto-replied\n"
        "From: Mail Delivery System <Mailer-Daemon@mail.example.net>\n"
        f"To: {to}\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "Message-Id: <E1tXyZa-000ABC-2Q@mail.example.net>\n"
        f"Date: {format_datetime(when)}\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        f"  {failed}\n"
        "    host mx.example.net [192.0.2.25]\n"
        f"    SMTP error from remote mail server after RCPT TO:<{failed}>:\n"
        "    550 5.1.1 User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "Return-path: <mentoring@example.org>\n"
        f"{_original_copy(original)}"
    )


def gmail_dsn(original: EmailMessage, failed: str, to: str, when: datetime) -> bytes:
    """Gmail's "Address not found": a report with the whole original, threaded to it."""
    mid = original["Message-ID"]
    return _crlf(
        f"Delivered-To: {to}\n"
        "Return-Path: <>\n"
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        f"To: {to}\n"
        "Auto-Submitted: auto-replied\n"
        "Subject: Delivery Status Notification (Failure)\n"
        f"References: {mid}\nIn-Reply-To: {mid}\n"
        f"X-Failed-Recipients: {failed}\n"
        "Message-ID: <67b0a1c2.050a0220.3d7a1c.4f5e.GMR@mx.google.com>\n"
        f"Date: {format_datetime(when)}\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; boundary="000000000000f1e2d3"; '
        "report-type=delivery-status\n\n"
        "--000000000000f1e2d3\n"
        'Content-Type: multipart/related; boundary="000000000000f1e2d4"\n\n'
        "--000000000000f1e2d4\n"
        'Content-Type: multipart/alternative; boundary="000000000000f1e2d5"\n\n'
        "--000000000000f1e2d5\n"
        'Content-Type: text/plain; charset="UTF-8"\n\n\n'
        "** Address not found **\n\n"
        f"Your message wasn't delivered to {failed} because the address couldn't be\n"
        "found, or is unable to receive mail.\n\n"
        "The response from the remote server was:\n"
        "550 5.1.1 The email account that you tried to reach does not exist.\n\n"
        "--000000000000f1e2d5\n"
        'Content-Type: text/html; charset="UTF-8"\n\n'
        "<html><body><h2>Address not found</h2><p>Your message wasn't delivered to "
        f"<b>{failed}</b> because the address couldn't be found.</p></body></html>\n\n"
        "--000000000000f1e2d5--\n\n"
        "--000000000000f1e2d4--\n\n"
        "--000000000000f1e2d3\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; googlemail.com\n"
        "Received-From-MTA: dns; mentoring@example.org\n"
        f"Arrival-Date: {format_datetime(when)}\n\n"
        f"Final-Recipient: rfc822; {failed}\nAction: failed\nStatus: 5.1.1\n"
        "Remote-MTA: dns; mx.example.net. (192.0.2.25, the server for the domain.)\n"
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\n"
        "    not exist.\n"
        f"Last-Attempt-Date: {format_datetime(when)}\n\n"
        "--000000000000f1e2d3\n"
        "Content-Type: message/rfc822\n\n"
        f"{_original_copy(original)}\n"
        "--000000000000f1e2d3--\n"
    )


def exchange_ndr(original: EmailMessage, failed: str, to: str, when: datetime) -> bytes:
    """Exchange Online's non-delivery report (RESOLVER.ADR.RecipientNotFound)."""
    mid = original["Message-ID"]
    return _crlf(
        "From: Microsoft Outlook\n <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e"
        "@contoso.onmicrosoft.com>\n"
        f"To: <{to}>\n"
        f"Date: {format_datetime(when)}\n"
        'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="b1_ndr"\n'
        "MIME-Version: 1.0\n"
        "Message-ID: <9f3e2a1b-7c4d-4e5f-8a9b-0c1d2e3f4a5b@AM0PR01MB1234.eurprd01.prod."
        "exchangelabs.com>\n"
        f"In-Reply-To: {mid}\nReferences: {mid}\n"
        f"Subject: Undeliverable: {original['Subject']}\n"
        "Auto-Submitted: auto-replied\n"
        "X-MS-Exchange-Message-Is-Ndr:\n"
        "Content-Language: en-US\n\n"
        "--b1_ndr\n"
        'Content-Type: text/plain; charset="us-ascii"\n\n'
        f"Your message to {failed} couldn't be delivered.\n"
        f"{failed.split('@')[0]} wasn't found at {failed.split('@')[1]}.\n\n"
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not\n"
        "found by SMTP address lookup'\n\n"
        "--b1_ndr\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com\n"
        "Received-From-MTA: dns;mail.example.org\n"
        f"Arrival-Date: {format_datetime(when)}\n\n"
        f"Final-Recipient: rfc822;{failed}\nAction: failed\nStatus: 5.1.10\n"
        "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not\n"
        " found by SMTP address lookup\n\n"
        "--b1_ndr\n"
        "Content-Type: message/rfc822\n\n"
        f"{_original_copy(original)}\n"
        "--b1_ndr--\n"
    )


DSN_SHAPES: dict[str, Callable[[EmailMessage, str, str, datetime], bytes]] = {
    "postfix": postfix_dsn,
    "exim": exim_bounce,
    "gmail": gmail_dsn,
    "exchange": exchange_ndr,
}


def with_message_id(original: EmailMessage, message_id: str) -> EmailMessage:
    """A copy of `original` that went out (or claims to have gone out) with another id."""
    copy = EmailMessage()
    for name, value in original.items():
        if not name.lower().startswith(("content-", "mime-")):
            copy[name] = f"<{message_id}>" if name.lower() == "message-id" else value
    copy.set_content(_body(original))
    return copy


class Outbox:
    """What the agent sent, as `agent.pairs.ingest.match` asks for it: these records by id."""

    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records

    def sent(self, message_id: str) -> dict[str, Any] | None:
        return self.records.get(message_id)

    def latest_sent(self, pair_id: str, role: str) -> dict[str, Any] | None:
        return None
