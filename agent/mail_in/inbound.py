"""Raw email bytes -> `InboundMessage`: where every received message is read. Pure.

No I/O, no clock, no network. The work is split along the message: `headers` (RFC 5322
and 2047), `mime_body` (the MIME tree, with `charsets` and `html_text`), `classify`
(auto-reply, bounce, DMARC) and `reply_text` (the new text, with the per-language table in
`quote_languages`); ahead of the text rules, `html_quotes` reads the clients' HTML quote
markup. Two public functions:

- `parse_message(raw)` decodes one RFC 5322 message and classifies it
  (auto-reply per RFC 3834, bounce per RFC 3464, DMARC failure). It never
  raises: whatever is wrong with a message ends up in `InboundMessage.problems`.
- `strip_reply(text)` keeps only what the sender newly wrote, removing quoted
  history, quote headers of common mail clients in several languages, and
  signatures.
"""

from __future__ import annotations

import hashlib
import itertools
from email import message_from_bytes, policy
from email.message import Message

from agent.mail_in.classify import (
    auto_reply_reason,
    bounce_reason,
    dmarc_fail,
    failed_recipients,
    is_bounce,
    returned_ids,
)
from agent.mail_in.headers import Headers, first_id, message_ids, parse_date, recipients, sender_of
from agent.mail_in.html_quotes import reply_from_html
from agent.mail_in.kept import readable
from agent.mail_in.message import InboundMessage
from agent.mail_in.mime_body import MAX_PARTS, Body, cap_utf8, head, normalise_newlines, walk
from agent.mail_in.reply_text import strip_reply

# Characters of the text handed to strip_reply: what the sender newly wrote is at the top.
_MAX_STRIP_CHARS = 1_000_000


def parse_message(raw: bytes, *, max_bytes: int = 5_000_000) -> InboundMessage:
    """Decode and classify one raw email. Never raises.

    The message is parsed with `email.policy.default`; if that policy raises
    while reading a broken header, the message is parsed again with
    `policy.compat32`, which treats headers as plain strings. Header values are
    always decoded from the raw header lines (RFC 2047 encoded words, 8-bit
    bytes as UTF-8 or Windows-1252), so a bad header costs only itself.
    The decoded body text is capped at `max_bytes` (UTF-8) with a note in
    `problems`.

    The work is bounded before it is done, whatever the message (issue 15):
    MIME parts visited (`MAX_PARTS`, `MAX_DEPTH`), header values
    (`_MAX_HEADER_VALUE`), HTML (`_MAX_HTML_CHARS`, `_MAX_HTML_TAGS`) and the
    text handed to `strip_reply` (`_MAX_STRIP_CHARS`); what is left unread is
    named in `problems`. A message with more lines starting "--" than parts
    may be visited is parsed with `policy.compat32` only: `policy.default`
    reads each part's headers with its structured parser, milliseconds a part.

    Every text field is safe to store and to quote in an email: lone surrogates
    (from `charset=unicode_escape`, or bytes kept as surrogate escapes) are
    shown as U+FFFD (`agent.mail_in.kept.readable`).
    """
    problems: list[str] = []
    many_parts = raw.count(b"\n--") > MAX_PARTS
    for pol in (policy.compat32,) if many_parts else (policy.default, policy.compat32):
        try:
            msg = message_from_bytes(raw, policy=pol)
            return readable(_build(raw, msg, max_bytes, problems))
        except Exception as exc:  # fuzz safety: any parser bug becomes a problem note
            problems.append(f"parse error ({pol.__class__.__name__}): {exc!r}")
    return InboundMessage(
        message_id=_digest_id(raw),
        from_addr="",
        from_name="",
        to_addrs=(),
        subject="",
        date=None,
        in_reply_to=(),
        references=(),
        text="",
        reply_text="",
        sender_problem="unclear sender: the message cannot be parsed",
        problems=tuple(problems),
    )


def _build(raw: bytes, msg: Message, max_bytes: int, problems: list[str]) -> InboundMessage:
    headers = Headers(msg)
    problems.extend(headers.problems)
    body = Body()
    walk(msg, body)
    problems.extend(body.problems)
    problems.extend(_defects(msg))

    message_id = first_id(headers.get("Message-ID"))
    if not message_id:
        problems.append("missing Message-ID")
        message_id = _digest_id(raw)
    from_name, from_addr, sender_problem = sender_of(headers)
    if sender_problem:
        problems.append(sender_problem)
    date, date_problem = parse_date(headers.raw("Date"))
    if date_problem:
        problems.append(date_problem)

    text = normalise_newlines(body.text())
    text, truncated = cap_utf8(text, max_bytes)
    if truncated:
        problems.append(f"body truncated to {max_bytes} bytes")
    if len(text) > _MAX_STRIP_CHARS:
        problems.append(f"reply looked for in the first {_MAX_STRIP_CHARS:,} characters only")

    bounce = is_bounce(msg, headers, from_addr, body)
    return InboundMessage(
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        to_addrs=recipients(headers),
        subject=headers.get("Subject"),
        date=date,
        in_reply_to=message_ids(headers.get("In-Reply-To")),
        references=message_ids(headers.get("References")),
        text=text,
        reply_text=_reply_text(body, text),
        auto_reply=auto_reply_reason(headers),
        bounce=bounce,
        failed_recipients=failed_recipients(headers, body) if bounce else (),
        returned_ids=returned_ids(msg, headers, text) if bounce else (),
        bounce_reason=bounce_reason(body, text) if bounce else "",
        calendar=tuple(body.calendar),
        attachments=tuple(body.attachments),
        dmarc_fail=dmarc_fail(headers),
        sender_problem=sender_problem,
        headers=headers.decoded,
        problems=tuple(dict.fromkeys(problems)),
    )


def _reply_text(body: Body, text: str) -> str:
    """From the client's HTML markup where the one body has an HTML version, else the text.

    The markup shows the quoted history whatever the language (`html_quotes`); without
    it, or with several body parts, the text rules of `reply_text` decide.
    """
    if len(body.html) == 1 and len(body.texts) == 1:
        found = reply_from_html(body.html[0], _MAX_STRIP_CHARS)
        if found is not None:
            return found
    return strip_reply(head(text, _MAX_STRIP_CHARS))


def _digest_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _defects(msg: Message) -> list[str]:
    """Names of the defects the parser registered, e.g. `MissingHeaderBodySeparatorDefect`."""
    found: list[str] = []
    for part in itertools.islice(msg.walk(), MAX_PARTS):
        found.extend(f"MIME defect: {type(d).__name__}" for d in getattr(part, "defects", ()))
    return found
