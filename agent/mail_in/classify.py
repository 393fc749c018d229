"""What kind of message it is: an auto-reply (RFC 3834), a bounce (RFC 3464, RFC 6522) and
what it returns, or mail whose DMARC check failed. Pure; bounded like the rest of mail_in.
"""

from __future__ import annotations

import re
from email.message import Message

from agent.mail_in.charsets import decode_bytes
from agent.mail_in.headers import Headers, message_ids, unfold
from agent.mail_in.mime_body import Body, normalise_newlines

_AUTO_SUBJECT = re.compile(
    r"""^\s*(?:
        automatic\ reply | auto(?:matic)?[- ]?reply | auto\s*: | autoreply
      | out\ of\ (?:the\ )?office(?:\ auto-?reply)?\s*(?::|$)
      | abwesenheitsnotiz | automatische\ antwort | r[ée]ponse\ automatique
      | respuesta\ autom[áa]tica | resposta\ autom[áa]tica | risposta\ automatica
      | automatisch\ antwoord | afwezig\s*: | automatyczna\ odpowied[źz] | autosvar
      | fr[åa]nvaro\s*: | abwesend\s*: | absence\s*: | ausente\s*: | fuori\ sede\s*:
      | 自動応答 | 自動返信 | 不在通知 | 自动回复 | 自動回覆 | 自動回復
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


def auto_reply_reason(headers: Headers) -> str | None:
    """Why a message is machine-generated (RFC 3834), or None for a human reply.

    RFC 3834 section 5: `Auto-Submitted` with any value other than "no".
    De-facto headers: `X-Autoreply`, `X-Autorespond`, `Precedence`
    (bulk/junk/list/auto_reply), and mailing-list headers (RFC 2369/2919).
    `X-Auto-Response-Suppress` is deliberately ignored: it asks others not to
    auto-reply and Outlook sets it on ordinary mail, so it says nothing about
    the sender being a machine. Last, localized out-of-office subjects.
    """
    auto_submitted = headers.get("Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if headers.has(name):
            return f"{name} header"
    precedence = headers.get("Precedence").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("List-Id", "List-Unsubscribe"):
        if headers.has(name):
            return f"mailing list ({name})"
    subject = headers.get("Subject")
    if _AUTO_SUBJECT.match(subject):
        return f"auto-reply subject: {subject[:80]}"
    return None


_DAEMONS = ("mailer-daemon@", "postmaster@")


def is_bounce(msg: Message, headers: Headers, from_addr: str, body: Body) -> bool:
    """A delivery status notification (RFC 3464).

    Either a top-level `multipart/report; report-type=delivery-status`
    (RFC 6522), or a message from MAILER-DAEMON/postmaster carrying a
    `message/delivery-status` part or an `X-Failed-Recipients` header (Exim).
    """
    report_type = str(msg.get_param("report-type", "") or "").lower()
    if msg.get_content_type() == "multipart/report" and report_type == "delivery-status":
        return True
    from_daemon = from_addr.startswith(_DAEMONS)
    return from_daemon and (bool(body.dsn) or headers.has("X-Failed-Recipients"))


def failed_recipients(headers: Headers, body: Body) -> tuple[str, ...]:
    """Recipients with `Action: failed` in the DSN (RFC 3464 2.3), plus X-Failed-Recipients."""
    found: dict[str, None] = {}
    for dsn in body.dsn:
        for block in re.split(r"\n\s*\n", dsn):
            fields = _dsn_fields(block)
            if fields.get("action", "").lower().startswith("failed"):
                addr = fields.get("final-recipient", "").rpartition(";")[2].strip().strip("<>")
                if "@" in addr:
                    found[addr.lower()] = None
    for value in headers.raw_all("X-Failed-Recipients"):
        found.update((a.strip().lower(), None) for a in value.split(",") if "@" in a)
    return tuple(found)


# An SMTP reply with an enhanced status code (RFC 3463) on a line of its own.
_SMTP_REPLY = re.compile(r"[45][0-9][0-9][ -][45]\.[0-9]{1,3}\.[0-9]{1,3}\b")
_REASON_LINES = 200  # lines of a bounce without a report searched for the server's words


def bounce_reason(body: Body, text: str) -> str:
    """The receiving server's words for the first failed recipient.

    The Diagnostic-Code of a report (RFC 3464 section 2.3.6); for a bounce without
    one (Exim, qmail), the first line of its text that starts with an SMTP reply.
    """
    for dsn in body.dsn:
        for block in re.split(r"\n\s*\n", dsn):
            fields = _dsn_fields(block)
            if fields.get("action", "").lower().startswith("failed"):
                code = fields.get("diagnostic-code", "")
                return code.partition(";")[2].strip() or code or fields.get("status", "")
    for line in text.split("\n", _REASON_LINES)[:_REASON_LINES]:
        if _SMTP_REPLY.match(line.strip()):
            return line.strip()[:200]
    return ""


# The returned message in a report (RFC 3464 section 2, RFC 6522, RFC 6533).
_RETURNED_PARTS = frozenset(
    {"message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers"}
)
_MAX_RETURNED_IDS = 8


def returned_ids(msg: Message, headers: Headers, text: str) -> tuple[str, ...]:
    """Message-IDs of the message a bounce returns, most reliable first.

    The copy (`message/rfc822`) or the headers (`text/rfc822-headers`) of the
    returned message in a report; then `Message-ID:` lines in the text, where
    Exim and qmail put the copy without a report; then the bounce's own
    In-Reply-To/References (Gmail sets them). Anyone can write any of these: an
    id counts only as one of ours that `agent.pairs.ingest` finds in the outbox, and
    our ids cannot be guessed (agent.mail_in.tokens).
    """
    found: dict[str, None] = {}
    parts = msg.get_payload() if msg.is_multipart() else []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, Message) and part.get_content_type() in _RETURNED_PARTS:
            found.update(dict.fromkeys(_returned_part_ids(part)))
    for line in text.split("\n"):
        if line[:11].lower() == "message-id:":
            found.update(dict.fromkeys(message_ids(line[11:])))
    found.update(dict.fromkeys(message_ids(headers.get("In-Reply-To"))))
    found.update(dict.fromkeys(message_ids(headers.get("References"))))
    return tuple(found)[:_MAX_RETURNED_IDS]


def _returned_part_ids(part: Message) -> tuple[str, ...]:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/rfc822: the parser made it a Message
        inner = payload[0] if payload and isinstance(payload[0], Message) else Message()
        return message_ids(
            " ".join(str(v) for k, v in inner.raw_items() if k.lower() == "message-id")
        )
    data = part.get_payload(decode=True)
    text = decode_bytes(data, "utf-8")[0] if isinstance(data, bytes) else str(payload)
    head = unfold(normalise_newlines(text).split("\n\n", 1)[0])
    fields = (line.partition(":") for line in head.split("\n"))
    return message_ids(" ".join(value for name, _, value in fields if name.lower() == "message-id"))


def _dsn_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in unfold(block).splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


_DMARC_FAIL = re.compile(r"\bdmarc\s*=\s*fail\b", re.IGNORECASE)


def dmarc_fail(headers: Headers) -> bool:
    """`Authentication-Results` (RFC 8601) reports dmarc=fail.

    Only meaningful if the receiving MTA strips such headers from incoming
    mail before adding its own; the mailbox connector's server is trusted.
    """
    return any(_DMARC_FAIL.search(v) for v in headers.raw_all("Authentication-Results"))
