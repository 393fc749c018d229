"""Outgoing email: headers that thread, identify and protect, and iMIP invitations.

Every message gets a Message-ID derived from its action's idempotency key and
the program's secret, so the same action always produces the same id: that is
how a re-run after a crash recognises a message that already left. `Auto-Submitted:
auto-generated` (RFC 3834 section 5) tells well-behaved auto-responders not
to answer, which keeps out-of-office replies from looping.

An invitation follows RFC 6047 section 2.4 as the big clients send it: a
multipart/alternative with the text, the HTML and the text/calendar part
carrying the METHOD, and the same calendar as an .ics attachment for clients
that only look at attachments.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from agent.mail_in import tokens
from agent.mail_out.headers import WRITTEN
from agent.mail_out.render import RenderedEmail


def message_id(token_key: bytes, program_slug: str, key: str, domain: str) -> str:
    """Stable Message-ID (without <>) for an action key, keyed by the program's secret
    so that nobody else can compute it (agent.mail_in.tokens.message_id)."""
    return tokens.message_id(token_key, program_slug, key, domain)


def _address(name: str, email: str) -> Address:
    local, domain = email.rsplit("@", 1)
    return Address(display_name=name, username=local, domain=domain)


def compose(
    *,
    rendered: RenderedEmail,
    sender: tuple[str, str],
    to: tuple[str, str],
    reply_to: str | None,
    msg_id: str,
    date: datetime,
    pair_id: str | None,
    calendar: bytes | None = None,
    method: str | None = None,
    answer_to: tuple[str, str] | None = None,
) -> EmailMessage:
    """One email, ready for a Mailbox to send. Header values cannot inject new headers:
    EmailMessage refuses CR/LF in them, and names are validated as single lines. The
    address and subject fields are folded by agent.mail_out.headers, so that they decode
    to exactly the rendered text; the addresses are used exactly as configured.

    `answer_to` (name, address): for a coordinator's notice about a person who is to be
    answered. They are the Reply-To (the coordinator's Reply reaches them) and the
    program is in Cc (Reply all reaches the agent too, which reads an instruction in it,
    or notes that the coordinator answered them: agent.commands.coordinator)."""
    message = EmailMessage(policy=WRITTEN)
    message["From"] = _address(*sender)
    message["To"] = _address(*to)
    if answer_to:
        message["Reply-To"] = _address(*answer_to)
        message["Cc"] = _address(*sender)
    elif reply_to:
        message["Reply-To"] = _address(sender[0], reply_to)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{msg_id}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"  # Exchange's own loop guard
    if pair_id:
        message["X-Mentormail-Pair"] = pair_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if calendar is not None and method:
        message.add_alternative(
            calendar.decode("utf-8"), subtype="calendar", params={"method": method}
        )
        message.make_mixed()
        message.add_attachment(
            calendar, maintype="application", subtype="ics", filename="invite.ics"
        )
    message["Content-Language"] = rendered.language  # RFC 3282; last: set_content drops it
    return message
