"""The coordinator's answers to the agent's emails as real clients write them, full RFC 5322
messages for tests/test_conv_coordinator.py: Outlook (desktop, top-posted over the
"From: / Sent:" block, HTML with the quote), Gmail's web client (quote below an "On ...
wrote:" line), the iPhone Mail app (one line and "Sent from my iPhone"), Apple Mail on a
Mac (German attribution).

Reply goes to the Reply-To (or From); Reply all adds the Cc. A notice about a person's
reply has them as Reply-To and the agent in Cc, so an answer reaches the agent only by
Reply all, and then reaches the person too."""

from __future__ import annotations

import email.policy
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

COORDINATOR = "Chris Coordinator <coordinator@example.org>"


def _body(original: EmailMessage) -> str:
    return original.get_body(preferencelist=("plain",)).get_content()


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _recipients(original: EmailMessage, *, reply_all: bool) -> tuple[str, str]:
    """(To, Cc) of the reply: Reply goes to Reply-To (or From); Reply all adds the Cc."""
    to = str(original["Reply-To"] or original["From"])
    cc = str(original["Cc"]) if reply_all and original["Cc"] else ""
    return to, cc


def _thread(original: EmailMessage) -> str:
    mid = original["Message-ID"]
    return f"In-Reply-To: {mid}\nReferences: {mid}\n"


def outlook(
    original: EmailMessage,
    text: str,
    when: datetime,
    *,
    sender: str = COORDINATOR,
    reply_all: bool = False,
) -> bytes:
    """Outlook for Windows (Microsoft 365): top-posted, the original below a rule."""
    to, cc = _recipients(original, reply_all=reply_all)
    block = (
        "________________________________\n"
        f"From: {original['From']}\n"
        f"Sent: {when:%A, %B %d, %Y %I:%M %p}\n"
        f"To: {original['To']}\n"
        f"Subject: {original['Subject']}\n\n"
    )
    html = text.replace("\n", "<br>\n")
    quoted_html = _body(original).replace("\n", "<br>\n")
    boundary = "_000_AM9PR07MB7105E2F1C4B0A8D0B4F3C9A2AM9PR07MB7105eurp_"
    return _crlf(
        "Received: from AM9PR07MB7105.eurprd07.prod.outlook.com (2603:10a6:20b:2f1::9)\n"
        " by mx.example.org with ESMTPS; " + format_datetime(when) + "\n"
        f"From: {sender}\n"
        f"To: {to}\n" + (f"CC: {cc}\n" if cc else "") + f"Subject: RE: {original['Subject']}\n"
        "Thread-Topic: " + str(original["Subject"]) + "\n"
        "Thread-Index: AQHZxK3nT0w2b1cQ0U6lXk2vA1B2Cw==\n"
        f"Date: {format_datetime(when)}\n"
        f"Message-ID: <AM9PR07MB7105{when:%H%M%S}E2F1C4B0A8D0B4F3C9A2@AM9PR07MB7105.eurprd07.prod.outlook.com>\n"
        f"{_thread(original)}"
        "Accept-Language: en-GB, en-US\n"
        "Content-Language: en-GB\n"
        "X-MS-Has-Attach:\n"
        "X-MS-TNEF-Correlator:\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n'
        "MIME-Version: 1.0\n\n"
        f"--{boundary}\n"
        'Content-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: 8bit\n\n"
        f"{text}\n\n{block}{_body(original)}\n\n"
        f"--{boundary}\n"
        'Content-Type: text/html; charset="utf-8"\n'
        "Content-Transfer-Encoding: 8bit\n\n"
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>'
        '<body><div style="font-family: Aptos, Calibri, sans-serif; font-size: 12pt;">'
        f"{html}</div>"
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif"><b>From:</b> '
        f"{original['From']}<br><b>Sent:</b> {when:%A, %B %d, %Y %I:%M %p}<br>"
        f"<b>Subject:</b> {original['Subject']}</font></div>"
        f"<div>{quoted_html}</div></body></html>\n\n"
        f"--{boundary}--\n"
    )


def gmail(
    original: EmailMessage,
    text: str,
    when: datetime,
    *,
    sender: str = COORDINATOR,
    reply_all: bool = False,
) -> bytes:
    """Gmail's web client: the quote below an attribution line, HTML in gmail_quote."""
    to, cc = _recipients(original, reply_all=reply_all)
    quoted = "\n".join("> " + line if line else ">" for line in _body(original).splitlines())
    attribution = f"On {when:%a, %b %d, %Y at %-I:%M %p} {original['From']} wrote:"
    html = text.replace("\n", "<br>")
    boundary = "0000000000007f3b2c0605e1d4a2"
    return _crlf(
        "MIME-Version: 1.0\n"
        f"Date: {format_datetime(when)}\n"
        f"{_thread(original)}"
        f"Message-ID: <CAKx9{when:%s}vQmZ8pW3+Lq=k2Yc@mail.gmail.com>\n"
        f"Subject: Re: {original['Subject']}\n"
        f"From: {sender}\n"
        f"To: {to}\n" + (f"Cc: {cc}\n" if cc else "") + "Content-Type: multipart/alternative; "
        f'boundary="{boundary}"\n\n'
        f"--{boundary}\n"
        'Content-Type: text/plain; charset="UTF-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n\n"
        f"{_qp(text)}\n\n{_qp(attribution)}\n\n{_qp(quoted)}\n\n"
        f"--{boundary}\n"
        'Content-Type: text/html; charset="UTF-8"\n\n'
        f'<div dir="ltr">{html}</div><br><div class="gmail_quote">'
        f'<div dir="ltr" class="gmail_attr">{attribution}<br></div>'
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">...</blockquote></div>\n'
        f"\n--{boundary}--\n"
    )


def _qp(text: str) -> str:
    import quopri

    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


def iphone(
    original: EmailMessage,
    text: str,
    when: datetime,
    *,
    sender: str = COORDINATOR,
    reply_all: bool = False,
) -> bytes:
    """The iPhone Mail app: plain text, "Sent from my iPhone", the quote below it."""
    to, cc = _recipients(original, reply_all=reply_all)
    quoted = "\n".join("> " + line if line else ">" for line in _body(original).splitlines())
    return _crlf(
        "Content-Type: text/plain;\n\tcharset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "Mime-Version: 1.0 (1.0)\n"
        f"Subject: Re: {original['Subject']}\n"
        f"From: {sender}\n"
        f"Date: {format_datetime(when)}\n"
        f"Message-Id: <3F1B2C7A-{when:%H%M%S}-4E55-9A21-0C8D5E6F7A8B@example.org>\n"
        f"{_thread(original)}"
        f"To: {to}\n" + (f"Cc: {cc}\n" if cc else "") + "X-Mailer: iPhone Mail (21E236)\n\n"
        f"{text}\n\nSent from my iPhone\n\n"
        f"> On {when:%d %b %Y}, at {when:%H:%M}, {original['From']} wrote:\n>\n{quoted}\n"
    )


def apple_mail_de(
    original: EmailMessage,
    text: str,
    when: datetime,
    *,
    sender: str = COORDINATOR,
    reply_all: bool = False,
) -> bytes:
    """Apple Mail on a Mac, German locale: "Am ... schrieb ...:" and a quoted body."""
    to, cc = _recipients(original, reply_all=reply_all)
    quoted = "\n".join("> " + line if line else ">" for line in _body(original).splitlines())
    months = ["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sep.", "Okt."]
    attribution = f"> Am {when.day:02d}.{months[when.month - 1]} {when.year} um {when:%H:%M} schrieb {original['From']}:"
    return _crlf(
        "Content-Type: text/plain;\n\tcharset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.500.171.1.1\\))\n"
        f"Subject: Re: {original['Subject']}\n"
        f"From: {sender}\n"
        f"In-Reply-To: {original['Message-ID']}\n"
        f"Date: {format_datetime(when)}\n"
        f"References: {original['Message-ID']}\n"
        f"To: {to}\n"
        + (f"Cc: {cc}\n" if cc else "")
        + f"Message-Id: <A7C1D2E3-{when:%H%M%S}-4F5A-8B6C-9D0E1F2A3B4C@example.org>\n"
        "X-Mailer: Apple Mail (2.3774.500.171.1.1)\n\n"
        f"{text}\n\n\n{attribution}\n>\n{quoted}\n"
    )


def parse(raw: bytes) -> EmailMessage:
    from email.parser import BytesParser

    return BytesParser(policy=email.policy.default).parsebytes(raw)  # type: ignore[return-value]
