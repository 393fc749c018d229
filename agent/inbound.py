"""Raw email bytes -> `InboundMessage`: MIME decoding, classification, reply extraction.

Pure: no I/O, no clock, no network. Two public functions:

- `parse_message(raw)` decodes one RFC 5322 message and classifies it
  (auto-reply per RFC 3834, bounce per RFC 3464, DMARC failure). It never
  raises: whatever is wrong with a message ends up in `InboundMessage.problems`.
- `strip_reply(text)` keeps only what the sender newly wrote, removing quoted
  history, quote headers of common mail clients in several languages, and
  signatures.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from functools import cache, cached_property
from html.parser import HTMLParser

from agent.kept import readable
from agent.mailbox_parse import NotOneMailbox, parse_mailbox
from agent.model import InboundMessage

__all__ = ["parse_message", "strip_reply"]

# --------------------------------------------------------------------------- parse_message


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
    MIME parts visited (`_MAX_PARTS`, `_MAX_DEPTH`), header values
    (`_MAX_HEADER_VALUE`), HTML (`_MAX_HTML_CHARS`, `_MAX_HTML_TAGS`) and the
    text handed to `strip_reply` (`_MAX_STRIP_CHARS`); what is left unread is
    named in `problems`. A message with more lines starting "--" than parts
    may be visited is parsed with `policy.compat32` only: `policy.default`
    reads each part's headers with its structured parser, milliseconds a part.

    Every text field is safe to store and to quote in an email: lone surrogates
    (from `charset=unicode_escape`, or bytes kept as surrogate escapes) are
    shown as U+FFFD (`agent.kept.readable`).
    """
    problems: list[str] = []
    many_parts = raw.count(b"\n--") > _MAX_PARTS
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
    headers = _Headers(msg)
    problems.extend(headers.problems)
    body = _Body()
    _visit(msg, body)
    problems.extend(body.problems)
    problems.extend(_defects(msg))

    message_id = _first_id(headers.get("Message-ID"))
    if not message_id:
        problems.append("missing Message-ID")
        message_id = _digest_id(raw)
    from_name, from_addr, sender_problem = _sender(headers)
    if sender_problem:
        problems.append(sender_problem)
    date, date_problem = _parse_date(headers.raw("Date"))
    if date_problem:
        problems.append(date_problem)

    text = _normalise_newlines(body.text())
    text, truncated = _cap(text, max_bytes)
    if truncated:
        problems.append(f"body truncated to {max_bytes} bytes")
    if len(text) > _MAX_STRIP_CHARS:
        problems.append(f"reply looked for in the first {_MAX_STRIP_CHARS:,} characters only")

    bounce = _is_bounce(msg, headers, from_addr, body)
    return InboundMessage(
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        to_addrs=_recipients(headers),
        subject=headers.get("Subject"),
        date=date,
        in_reply_to=_ids(headers.get("In-Reply-To")),
        references=_ids(headers.get("References")),
        text=text,
        reply_text=strip_reply(_head(text, _MAX_STRIP_CHARS)),
        auto_reply=_auto_reply_reason(headers),
        bounce=bounce,
        failed_recipients=_failed_recipients(headers, body) if bounce else (),
        returned_ids=_returned_ids(msg, headers, text) if bounce else (),
        bounce_reason=_bounce_reason(body, text) if bounce else "",
        calendar=tuple(body.calendar),
        attachments=tuple(body.attachments),
        dmarc_fail=_dmarc_fail(headers),
        sender_problem=sender_problem,
        headers=headers.decoded,
        problems=tuple(dict.fromkeys(problems)),
    )


def _digest_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _defects(msg: Message) -> list[str]:
    """Names of the defects the parser registered, e.g. `MissingHeaderBodySeparatorDefect`."""
    found: list[str] = []
    for part in itertools.islice(msg.walk(), _MAX_PARTS):
        found.extend(f"MIME defect: {type(d).__name__}" for d in getattr(part, "defects", ()))
    return found


# ---- bounds on the work for one message (issue 15): each is applied before the work

_MAX_PARTS = 1_000  # MIME parts visited
_MAX_DEPTH = 50  # levels of nested multiparts
# Characters of one header value; longer ones are cut before RFC 2047 decoding, whose cost
# (email.header.decode_header) grows with the square of the number of encoded words.
_MAX_HEADER_VALUE = 16_000
_MAX_HTML_CHARS = 2_000_000  # of one HTML part, before it is converted to text
_MAX_HTML_TAGS = 30_000  # of one HTML part: html.parser handles about 100,000 tags a second
_MAX_QUOTE_DEPTH = 20  # "> " marks for nested <blockquote>s; deeper ones get no more
# Characters of the text handed to strip_reply: what the sender newly wrote is at the top.
_MAX_STRIP_CHARS = 1_000_000

# ---- headers


class _Headers:
    """Header access by name over the raw header lines, decoded once.

    Reading `msg.raw_items()` sidesteps `policy.default`'s structured header
    classes, which raise on some malformed values.
    """

    def __init__(self, msg: Message) -> None:
        self.problems: list[str] = []
        self._raw = [(name, self._bounded(name, value)) for name, value in msg.raw_items()]
        self.decoded = tuple((name, _decode_words(value)) for name, value in self._raw)

    def _bounded(self, name: str, value: str) -> str:
        """The value unfolded, cut at `_MAX_HEADER_VALUE` characters (before any decoding)."""
        if len(value) > _MAX_HEADER_VALUE:
            self.problems.append(f"{name} header cut to {_MAX_HEADER_VALUE:,} characters")
            space = value.rfind(" ", _MAX_HEADER_VALUE // 2, _MAX_HEADER_VALUE)  # not in a word
            value = value[: space if space > 0 else _MAX_HEADER_VALUE]
        return _unfold(_undo_surrogates(value))

    def raw_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self._raw if key.lower() == wanted]

    def raw(self, name: str) -> str:
        values = self.raw_all(name)
        return values[0] if values else ""

    def get(self, name: str) -> str:
        return _decode_words(self.raw(name))

    def has(self, name: str) -> bool:
        return bool(self.raw_all(name))


def _undo_surrogates(value: str) -> str:
    """Turn 8-bit header bytes (kept as surrogate escapes by the parser) into text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return _decode_bytes(value.encode("utf-8", "surrogateescape"), "utf-8")[0]


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; on any error keep the raw text."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except Exception:
        return value
    out = []
    for chunk, charset in chunks:
        out.append(chunk if isinstance(chunk, str) else _decode_bytes(chunk, charset)[0])
    return "".join(out)


def _sender(headers: _Headers) -> tuple[str, str, str]:
    """(display name, lower-cased addr-spec, "") of the one From mailbox, or ("", "", why not).

    Exactly one From header holding exactly one mailbox, parsed strictly
    (agent.mailbox_parse). Sender and Reply-To never name the sender: anyone
    can write them. The mailbox is parsed before RFC 2047 decoding, so an
    encoded comma or bracket in a display name cannot change the address.
    """
    values = headers.raw_all("From")
    if not values:
        return "", "", "unclear sender: no From header"
    if len(values) > 1:
        return "", "", f"unclear sender: {len(values)} From headers"
    try:
        name, addr = parse_mailbox(values[0], _decode_words)
    except NotOneMailbox as exc:
        return "", "", f"unclear sender: {exc} in From: {values[0][:200]!r}"
    return name, addr, ""


def _addresses(raw_value: str) -> list[tuple[str, str]]:
    pairs = getaddresses([raw_value]) if raw_value else []
    return [(_decode_words(name), addr.strip().lower()) for name, addr in pairs if "@" in addr]


def _recipients(headers: _Headers) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        for value in headers.raw_all(name):
            found.update((addr, None) for _, addr in _addresses(value))
    return tuple(found)


_ID = re.compile(r"<([^<>\s]+)>")


def _ids(value: str) -> tuple[str, ...]:
    """Message ids in `<...>` (RFC 5322 3.6.4); bare tokens when there are no brackets."""
    found = _ID.findall(value) or value.split()
    return tuple(dict.fromkeys(found))


def _first_id(value: str) -> str:
    ids = _ids(value)
    return ids[0] if ids else ""


def _parse_date(value: str) -> tuple[datetime | None, str | None]:
    if not value:
        return None, None
    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, f"unparseable Date: {value[:80]!r}"
    return (date if date.tzinfo else date.replace(tzinfo=UTC)), None


# ---- classification


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


def _auto_reply_reason(headers: _Headers) -> str | None:
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


def _is_bounce(msg: Message, headers: _Headers, from_addr: str, body: _Body) -> bool:
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


def _failed_recipients(headers: _Headers, body: _Body) -> tuple[str, ...]:
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


def _bounce_reason(body: _Body, text: str) -> str:
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


def _returned_ids(msg: Message, headers: _Headers, text: str) -> tuple[str, ...]:
    """Message-IDs of the message a bounce returns, most reliable first.

    The copy (`message/rfc822`) or the headers (`text/rfc822-headers`) of the
    returned message in a report; then `Message-ID:` lines in the text, where
    Exim and qmail put the copy without a report; then the bounce's own
    In-Reply-To/References (Gmail sets them). Anyone can write any of these: an
    id counts only as one of ours that `agent.ingest` finds in the outbox, and
    our ids cannot be guessed (agent.tokens).
    """
    found: dict[str, None] = {}
    parts = msg.get_payload() if msg.is_multipart() else []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, Message) and part.get_content_type() in _RETURNED_PARTS:
            found.update(dict.fromkeys(_returned_part_ids(part)))
    for line in text.split("\n"):
        if line[:11].lower() == "message-id:":
            found.update(dict.fromkeys(_ids(line[11:])))
    found.update(dict.fromkeys(_ids(headers.get("In-Reply-To"))))
    found.update(dict.fromkeys(_ids(headers.get("References"))))
    return tuple(found)[:_MAX_RETURNED_IDS]


def _returned_part_ids(part: Message) -> tuple[str, ...]:
    payload = part.get_payload()
    if isinstance(payload, list):  # message/rfc822: the parser made it a Message
        inner = payload[0] if payload and isinstance(payload[0], Message) else Message()
        return _ids(" ".join(str(v) for k, v in inner.raw_items() if k.lower() == "message-id"))
    data = part.get_payload(decode=True)
    text = _decode_bytes(data, "utf-8")[0] if isinstance(data, bytes) else str(payload)
    head = _unfold(_normalise_newlines(text).split("\n\n", 1)[0])
    fields = (line.partition(":") for line in head.split("\n"))
    return _ids(" ".join(value for name, _, value in fields if name.lower() == "message-id"))


def _dsn_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in _unfold(block).splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields


_DMARC_FAIL = re.compile(r"\bdmarc\s*=\s*fail\b", re.IGNORECASE)


def _dmarc_fail(headers: _Headers) -> bool:
    """`Authentication-Results` (RFC 8601) reports dmarc=fail.

    Only meaningful if the receiving MTA strips such headers from incoming
    mail before adding its own; the mailbox connector's server is trusted.
    """
    return any(_DMARC_FAIL.search(v) for v in headers.raw_all("Authentication-Results"))


# ---- body


@dataclass
class _Budget:
    """What is left of the MIME parts one message may cost (`_MAX_PARTS`)."""

    parts: int = _MAX_PARTS


@dataclass
class _Body:
    """What the MIME tree walk collects."""

    budget: _Budget = field(default_factory=_Budget)  # shared by the bodies of one message
    texts: list[tuple[bool, str]] = field(default_factory=list)  # (is_html, text)
    calendar: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    dsn: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n\n".join(_html_to_text(t) if is_html else t for is_html, t in self.texts)

    def absorb(self, other: _Body, *, with_texts: bool) -> None:
        if with_texts:
            self.texts.extend(other.texts)
        self.calendar.extend(other.calendar)
        self.attachments.extend(other.attachments)
        self.dsn.extend(other.dsn)
        self.problems.extend(other.problems)


def _visit(part: Message, out: _Body, depth: int = 0) -> None:
    """Walk the MIME tree (RFC 2046), not descending into attached messages.

    At most `_MAX_PARTS` parts, `_MAX_DEPTH` levels deep, are visited.
    """
    out.budget.parts -= 1
    if out.budget.parts < 0 or depth > _MAX_DEPTH:
        out.problems.append(f"MIME parts beyond {_MAX_PARTS:,} or {_MAX_DEPTH} levels not read")
        return
    ctype = part.get_content_type()
    if ctype.startswith("multipart/") and isinstance(part.get_payload(), list):
        children = part.get_payload()
        if ctype == "multipart/alternative":
            _visit_alternative(children, out, depth + 1)
        else:
            for child in children:
                if out.budget.parts <= 0:
                    out.problems.append(f"MIME parts beyond {_MAX_PARTS:,} not read")
                    break
                _visit(child, out, depth + 1)
    elif ctype == "message/delivery-status":
        out.dsn.append(_delivery_status_text(part))
    else:
        _visit_leaf(part, ctype, out)


def _visit_alternative(children: list[Message], out: _Body, depth: int) -> None:
    """Keep the text of the first alternative with non-blank text/plain, else of the last one.

    RFC 2046 5.1.4 orders alternatives from plainest to richest; some mailers
    send an empty text/plain next to the real HTML. Calendar parts and
    attachments are collected from every alternative (Outlook puts the iTIP
    text/calendar part next to text/plain and text/html).
    """
    if len(children) > out.budget.parts:
        out.problems.append(f"MIME parts beyond {_MAX_PARTS:,} not read")
    subs = []
    for child in children[: max(0, out.budget.parts)]:
        sub = _Body(budget=out.budget)
        _visit(child, sub, depth)
        subs.append(sub)
    with_plain = [s for s in subs if any(not is_html and t.strip() for is_html, t in s.texts)]
    with_text = [s for s in subs if any(t.strip() for _, t in s.texts)] or [
        s for s in subs if s.texts
    ]
    chosen = with_plain[0] if with_plain else (with_text[-1] if with_text else None)
    for sub in subs:
        out.absorb(sub, with_texts=sub is chosen)


def _visit_leaf(part: Message, ctype: str, out: _Body) -> None:
    filename = _decode_words(part.get_filename() or "")
    is_attachment = bool(filename) or part.get_content_disposition() == "attachment"
    if ctype == "text/calendar" or filename.lower().endswith(".ics"):
        out.calendar.append(_part_text(part, out))
    if ctype in ("text/plain", "text/html") and not is_attachment:
        is_html = ctype == "text/html"
        text = _part_text(part, out)
        out.texts.append((is_html, _bounded_html(text, out.problems) if is_html else text))
    elif ctype != "text/calendar" or is_attachment:
        out.attachments.append(filename or ctype)


def _part_text(part: Message, out: _Body) -> str:
    """Payload bytes (quoted-printable/base64 undone) decoded with the declared charset."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text, problem = _decode_bytes(data, part.get_content_charset())
    if problem:
        out.problems.append(problem)
    if part.get_content_type() == "text/plain" and _param(part, "format") == "flowed":
        text = _unflow(_normalise_newlines(text), delsp=_param(part, "delsp") == "yes")
    return text


def _param(part: Message, name: str) -> str:
    return str(part.get_param(name, "") or "").strip().lower()


def _unflow(text: str, *, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed (Apple Mail, Thunderbird): join soft line breaks.

    A line ending in a space continues on the next line of the same quote
    depth, except the signature delimiter "-- "; one leading space after the
    quote marks is stuffing and is removed. With delsp=yes the space that
    marks the soft break is not part of the text.
    """
    out: list[str] = []
    paragraph: list[str] = []
    depth = 0
    for line in text.split("\n"):
        content = line.lstrip(">")
        level = len(line) - len(content)
        content = content.removeprefix(" ")
        if paragraph and level != depth:
            out.append(_quote_marks(depth) + "".join(paragraph))
            paragraph = []
        depth = level
        if content.endswith(" ") and content != "-- ":
            paragraph.append(content[:-1] if delsp else content)
        else:
            out.append(_quote_marks(level) + "".join(paragraph) + content)
            paragraph = []
    if paragraph:
        out.append(_quote_marks(depth) + "".join(paragraph))
    return "\n".join(out)


def _quote_marks(depth: int) -> str:
    return ">" * depth + " " if depth else ""


def _delivery_status_text(part: Message) -> str:
    """The DSN fields as text: the parser splits message/delivery-status into header blocks."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = ["\n".join(f"{k}: {_unfold(str(v))}" for k, v in b.raw_items()) for b in payload]
        return "\n\n".join(blocks)
    return _part_text(part, _Body())


# WHATWG Encoding Standard labels: mail software means the superset.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "big5": "cp950",
    "x-x-big5": "cp950",
    "cn-big5": "cp950",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859_8",
}


def _decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset; if unknown or wrong, try UTF-8, then Windows-1252.

    Windows-1252 as decoded here maps every byte, so nothing is lost. Returns
    the text and a problem note when the declared charset did not work.
    """
    declared = (charset or "").strip().strip('"').lower()
    codec = _CHARSET_ALIASES.get(declared, declared)
    problem = None
    if codec:
        try:
            return _decode_as(data, codec), None
        except LookupError:
            problem = f"unknown charset {declared!r}"
        except UnicodeDecodeError:
            problem = f"text is not valid {declared!r}"
    try:
        return data.decode("utf-8"), problem
    except UnicodeDecodeError:
        return _decode_windows_1252(data), problem


def _decode_as(data: bytes, codec: str) -> str:
    """Decode with a codec name or alias; LookupError if unknown, UnicodeDecodeError if invalid."""
    name = codecs.lookup(codec).name
    special = _DECODERS.get(name)
    return special(data) if special else data.decode(name)


# Windows-1252's five unassigned bytes, decoded as the C1 controls, as browsers do.
_CP1252_UNASSIGNED = {0xDC00 + b: chr(b) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _decode_windows_1252(data: bytes) -> str:
    return data.decode("cp1252", "surrogateescape").translate(_CP1252_UNASSIGNED)


_ISO_2022_JP_ESCAPE = re.compile(rb"\x1b(\$[@B]|\([BJI])")


def _decode_iso_2022_jp(data: bytes) -> str:
    """ISO-2022-JP as Windows writes it (CP50220): JIS X 0208 plus NEC and IBM extensions.

    Python's codec rejects the extensions (①, ㈱, IBM kanji), common in mail from
    Japanese Outlook. Each two-byte JIS code becomes its Shift_JIS code and
    the result is decoded as cp932, which has them.
    """
    if not data.isascii():
        raise UnicodeDecodeError("iso-2022-jp", data, 0, len(data), "8-bit data")
    parts = _ISO_2022_JP_ESCAPE.split(data)  # text, mode, text, mode, ..., text
    sjis = bytearray()
    for mode, chunk in zip([b"(B", *parts[1::2]], parts[::2], strict=True):
        if mode.startswith(b"$"):
            sjis += _jis_to_shift_jis(chunk)
        elif mode == b"(I":  # JIS X 0201 half-width katakana
            sjis += bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in chunk)
        else:
            sjis += chunk
    return sjis.decode("cp932")


def _jis_to_shift_jis(chunk: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(chunk):
        c1 = chunk[i]
        if not 0x21 <= c1 <= 0x7E or i + 1 == len(chunk):  # stray control byte or odd end
            out.append(c1)
            i += 1
            continue
        c2 = chunk[i + 1]
        s1 = ((c1 - 0x21) >> 1) + 0x81
        s1 += 0x40 if s1 > 0x9F else 0
        s2 = c2 + (0x1F if c2 < 0x60 else 0x20) if c1 % 2 else c2 + 0x7E
        out += bytes((s1, s2))
        i += 2
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes], str]] = {
    "cp1252": _decode_windows_1252,
    "iso2022_jp": _decode_iso_2022_jp,
}


def _head(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, cut at a line end when there is one."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > 0 else limit]


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _cap(text: str, max_bytes: int) -> tuple[str, bool]:
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text, False
    return data[:max_bytes].decode("utf-8", "ignore"), True


# ---- HTML -> text


class _HtmlText(HTMLParser):
    """HTML to readable plain text for reply extraction.

    Block elements and `<br>` end lines; `<blockquote>` content is prefixed
    with "> " per level so it is treated like a plain-text quote; `<hr>`
    becomes the Outlook separator line; list items get "- " or "1. ".
    """

    BLOCKS = frozenset(
        {"address", "article", "aside", "dd", "div", "dl", "dt", "figure", "footer", "form"}
        | {"h1", "h2", "h3", "h4", "h5", "h6", "header", "li", "main", "nav", "ol", "p", "pre"}
        | {"section", "table", "tbody", "thead", "tfoot", "tr", "ul"}
    )
    SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._buf: list[str] = []
        self._depth = 0
        self._skip = 0
        self._pre = 0
        self._lists: list[int | None] = []  # None for <ul>, next number for <ol>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skip += 1
        elif tag == "br":
            self._flush(keep_empty=True)
        elif tag == "hr":
            self._flush()
            self.lines.append("_" * 32)
        elif tag == "blockquote":
            self._flush()
            self._depth += 1
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists.append(1 if tag == "ol" else None)
        elif tag == "li":
            self._flush()
            self._buf.append(self._bullet())
        elif tag in self.BLOCKS:
            self._pre += tag == "pre"
            self._flush()
        elif tag in ("td", "th"):
            self._buf.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._flush()
            self._depth = max(0, self._depth - 1)
        elif tag in ("ul", "ol"):
            self._flush()
            if self._lists:
                self._lists.pop()
        elif tag == "p":
            self._flush()
            self._append("")
        elif tag in self.BLOCKS:
            self._pre = max(0, self._pre - (tag == "pre"))
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._buf.append(first)
            for line in rest:
                self._flush(keep_empty=True)
                self._buf.append(line)
        else:
            self._buf.append(re.sub(r"\s+", " ", data))

    def _bullet(self) -> str:
        if not self._lists or self._lists[-1] is None:
            return "- "
        number = self._lists[-1]
        self._lists[-1] = number + 1
        return f"{number}. "

    def _flush(self, *, keep_empty: bool = False) -> None:
        line = "".join(self._buf).replace("\xa0", " ")
        line = line.rstrip() if self._pre else line.strip()
        self._buf = []
        if line or keep_empty:
            self._append(line)

    def _append(self, line: str) -> None:
        prefix = "> " * min(self._depth, _MAX_QUOTE_DEPTH)
        self.lines.append((prefix + line).rstrip())

    def text(self) -> str:
        self._flush()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip("\n")


_TAG_OPEN = re.compile("<")
_HTML_CHUNK = 65_536  # html.parser copies its whole buffer at each feed: fed in pieces


def _bounded_html(html: str, problems: list[str]) -> str:
    """The HTML up to `_MAX_HTML_CHARS` characters and `_MAX_HTML_TAGS` tags."""
    end = min(len(html), _MAX_HTML_CHARS)
    tag = next(itertools.islice(_TAG_OPEN.finditer(html, 0, end), _MAX_HTML_TAGS, None), None)
    end = tag.start() if tag else end
    if end < len(html):
        problems.append(
            f"HTML part cut to {_MAX_HTML_CHARS:,} characters and {_MAX_HTML_TAGS:,} tags"
        )
    return html[:end]


def _html_to_text(html: str) -> str:
    """Readable text of an HTML body (see `_HtmlText`); never raises."""
    parser = _HtmlText()
    try:
        for start in range(0, len(html), _HTML_CHUNK):
            parser.feed(html[start : start + _HTML_CHUNK])
        parser.close()
    except Exception:  # html.parser is lenient; this guards against surprises only
        return re.sub(r"<[^>]*>", " ", html)
    return parser.text()


# --------------------------------------------------------------------------- strip_reply

# Building blocks of quote header patterns. A header is matched against one
# line, or up to three lines joined with spaces (clients wrap long headers),
# and must end with a colon, ASCII or full-width ("："). CJK characters are
# word characters, so there is no `\b` between "10:00" and "写道": patterns
# use `\b` only next to Latin words.
_ANY = r".{0,300}?"
_DATED = r"(?=.*\d)"  # a digit somewhere on the line: the date
_ADDRESS = r"<\s?[^\s<>@]+@[^\s<>]+>"  # "< ana@x>" when a wrapped "<" line is joined
_NAPISAL = r"napisał(?:\(a\)|a)?"  # Polish "wrote" (m/f)
_DEVICE = r"[\w.'’-]+(?: [\w.'’-]+){0,3}"  # "iPhone", "Samsung Galaxy smartphone"


def _dated(opening: str, verb: str) -> str:
    """The Latin-script header shape "<opening> <text with a date> <verb> [...]"."""
    return rf"{opening}\s{_DATED}{_ANY}\b{verb}\b.{{0,200}}?"


@dataclass(frozen=True)
class _Language:
    """How one language's mail clients mark quoted history and signatures.

    Every entry is a regular expression fragment, matched case-insensitively;
    in `header_*`, `separators` and `forwarded` a space stands for any run of
    whitespace.
    """

    quote_headers: tuple[str, ...] = ()  # "On <date>, Ana <ana@x> wrote" (colon implied)
    wrote: tuple[str, ...] = ()  # the verb of an undated "Ana Silva wrote:"
    header_from: tuple[str, ...] = ()  # Outlook's header block: "From:" ...
    header_fields: tuple[str, ...] = ()  # ... followed by "Sent:", "To:", "Subject:"
    separators: tuple[str, ...] = ()  # between dashes: "-----Original Message-----"
    forwarded: tuple[str, ...] = ()  # a line of its own: "Begin forwarded message:"
    mobile: tuple[str, ...] = ()  # "Sent from my iPhone"
    disclaimers: tuple[str, ...] = ()  # how a legal notice starts
    closings: tuple[str, ...] = ()  # sign-offs: "Best regards"


_LANGUAGES: dict[str, _Language] = {
    "en": _Language(
        # Gmail, Apple Mail, Thunderbird, Yahoo ("On Friday, March 12, 2027, 10:00:15 AM GMT+1")
        quote_headers=(_dated("On", "wrote"),),
        wrote=(r"\bwrote",),
        header_from=("From",),
        header_fields=("Sent", "Date", "To", "Cc", "Subject"),
        separators=("Original Message", "Forwarded Message"),
        forwarded=("Begin forwarded message",),
        mobile=(
            rf"sent from my {_DEVICE}",
            r"sent from (?:outlook|mail|yahoo mail|gmail|aol)\b[^,;]{0,30}",
            r"get outlook for (?:ios|android)\S*",
        ),
        disclaimers=(
            r"confidentiality notice|disclaimer\b",
            r"this (?:e-?mail|message|communication)(?: and any (?:attachments?|files))?"
            r" (?:is|are|may be|contains?)\b.{0,40}\b(?:confidential|privileged)",
            r"the information (?:contained )?in this (?:e-?mail|message|communication)",
        ),
        closings=(
            r"best(?: regards| wishes)?|kind regards|warm regards|regards|many thanks",
            r"thanks(?: again)?|thank you|thx|cheers|all the best|sincerely|yours|take care",
        ),
    ),
    "de": _Language(
        quote_headers=(
            _dated("Am", "schrieb"),
            _dated("Am", r"hat") + r"\bFolgendes geschrieben",  # Yahoo
        ),
        wrote=(r"\bschrieb",),
        header_from=("Von",),
        header_fields=("Gesendet", "Datum", "An", "Cc", "Betreff"),
        separators=("Ursprüngliche Nachricht", "Originalnachricht", "Weitergeleitete Nachricht"),
        forwarded=("Anfang der weitergeleiteten (?:Nachricht|E-Mail)",),
        mobile=(
            rf"von meinem {_DEVICE} gesendet",
            rf"gesendet (?:von|mit) (?:meinem |der )?{_DEVICE}",
            r"outlook für (?:ios|android) beziehen",
        ),
        disclaimers=(
            r"diese (?:e-?mail|nachricht)\b.{0,60}\bvertraulich",
            r"vertraulichkeitshinweis",
        ),
        closings=(
            r"viele grüße|viele grüsse|liebe grüße|beste grüße|schöne grüße|herzliche grüße",
            r"mit freundlichen grüßen|mit besten grüßen|grüße|gruß|lg|vg|danke",
        ),
    ),
    "fr": _Language(
        quote_headers=(_dated("Le", r"a\s+écrit"),),
        wrote=(r"\ba\s+écrit",),
        header_from=("De",),
        header_fields=("Envoyé", "Date", "À", "A", "Cc", "Objet"),
        separators=("Message d'origine", "Message original", "Message transféré"),
        forwarded=("Début du message (?:réexpédié|transféré)",),
        mobile=(
            rf"envoyé (?:de|depuis) mon {_DEVICE}",
            r"envoyé (?:de|depuis|à partir de) (?:outlook|yahoo mail|mail)\b[^,;]{0,30}",
            r"obtenir outlook pour (?:ios|android)\S*",
        ),
        disclaimers=(
            r"ce message et (?:toutes )?les pièces jointes",
            r"ce (?:message|courriel)\b.{0,60}\bconfidentiel",
        ),
        closings=(
            r"cordialement|bien cordialement|bien à vous|amitiés|salutations|merci(?: beaucoup)?",
            r"bonne journée|bonne soirée|à bientôt",
        ),
    ),
    "es": _Language(
        quote_headers=(_dated("El", "escribió"),),
        wrote=(r"\bescribió",),
        header_from=("De",),
        header_fields=("Enviado el", "Enviado", "Fecha", "Para", "CC", "Asunto"),
        separators=("Mensaje original", "Mensaje reenviado"),
        forwarded=("Inicio del mensaje reenviado",),
        mobile=(
            rf"enviado desde mi {_DEVICE}",
            r"enviado desde (?:outlook|yahoo mail|correo)\b[^,;]{0,30}",
            r"obtener outlook para (?:ios|android)\S*",
        ),
        disclaimers=(
            r"(?:este|el presente) (?:mensaje|correo)\b.{0,60}\bconfidencial",
            r"aviso (?:de confidencialidad|legal)",
        ),
        closings=(
            r"saludos(?: cordiales)?|un saludo|atentamente|cordialmente|gracias|muchas gracias",
            r"abrazos|un abrazo",
        ),
    ),
    "pt": _Language(
        quote_headers=(_dated("Em", "escreveu"),),
        wrote=(r"\bescreveu",),
        header_from=("De",),
        header_fields=("Enviada em", "Enviado em", "Enviado", "Data", "Para", "Cc", "Assunto"),
        separators=("Mensagem original", "Mensagem encaminhada"),
        forwarded=("Início da mensagem (?:reencaminhada|encaminhada)",),
        mobile=(
            rf"enviado do meu {_DEVICE}",
            r"enviado do (?:outlook|yahoo mail|email)\b[^,;]{0,30}",
            r"obter o outlook para (?:ios|android)\S*",
        ),
        disclaimers=(
            r"(?:esta|a presente) (?:mensagem|e-?mail)\b.{0,60}\bconfidencia",
            r"aviso de confidencialidade",
        ),
        closings=(
            r"cumprimentos|atenciosamente|abraços|abraço|obrigad[oa]|att|saudações",
            r"um abraço|beijos",
        ),
    ),
    "it": _Language(
        quote_headers=(_dated("Il", r"ha\s+scritto"),),
        wrote=(r"\bha\s+scritto",),
        header_from=("Da",),
        header_fields=("Inviato", "Data", "A", "Cc", "Oggetto"),
        separators=("Messaggio originale", "Messaggio inoltrato"),
        forwarded=("Inizio messaggio inoltrato",),
        mobile=(
            rf"inviato da(?:l mio)? {_DEVICE}",
            r"(?:scarica|ottieni) outlook per (?:ios|android)\S*",
        ),
        disclaimers=(
            r"questo (?:messaggio|e-?mail)\b.{0,60}\briservat",
            r"le informazioni contenute in questo (?:messaggio|e-?mail)",
            r"avviso di riservatezza",
        ),
        closings=(
            r"cordiali saluti|distinti saluti|saluti|un saluto|grazie(?: mille)?",
            r"buona giornata|a presto",
        ),
    ),
    "nl": _Language(
        quote_headers=(
            _dated("Op", "schreef"),
            _dated("Op", "heeft") + r"\bhet volgende geschreven",  # Apple Mail
        ),
        wrote=(r"\bschreef",),
        header_from=("Van",),
        header_fields=("Verzonden", "Datum", "Aan", "CC", "Onderwerp"),
        separators=("Oorspronkelijk bericht", "Origineel bericht", "Doorgestuurd bericht"),
        forwarded=("Begin doorgestuurd bericht",),
        mobile=(
            rf"(?:verzonden|verstuurd) (?:vanaf|met) mijn {_DEVICE}",
            r"outlook voor (?:ios|android) downloaden",
        ),
        disclaimers=(
            r"dit (?:e-?mail)?bericht\b.{0,60}\bvertrouwelijk",
            r"de informatie (?:verzonden met|in) dit (?:e-?mail)?bericht",
        ),
        closings=(
            r"met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|hartelijke groet(?:en)?",
            r"groeten|groetjes|bedankt|mvg|dank je wel|dank u wel",
        ),
    ),
    "pl": _Language(
        quote_headers=(
            # Gmail "pt., 12 mar 2027 o 10:00 Ana <ana@x> napisał(a):"
            rf"(?:(?:pon|wt|śr|czw|pt|sob|niedz)\.,?|\d{{1,2}})\s{_DATED}{_ANY}\b{_NAPISAL}",
            # Thunderbird "W dniu 12.03.2027 o 10:00, Ana pisze", Yahoo "W piątek, 12 marca ..."
            rf"(?:W|Dnia)\s{_DATED}{_ANY}\b(?:{_NAPISAL}|pisze)",
            rf"Wiadomość napisana przez\s{_ANY}\bw dniu\s{_DATED}{_ANY}",  # Apple Mail
        ),
        wrote=(rf"\b{_NAPISAL}", r"\bpisze"),
        header_from=("Od",),
        header_fields=("Wysłane", "Wysłano", "Data", "Do", "DW", "Temat"),
        separators=(
            "Oryginalna wiadomość",
            "Wiadomość oryginalna",
            "Przekazana wiadomość",
            "Wiadomość przekazana dalej",
        ),
        forwarded=("Początek przekazywanej wiadomości",),
        mobile=(
            rf"wysłan[eo] z (?:mojego )?{_DEVICE}",
            r"pobierz (?:aplikację )?outlook dla (?:systemu )?(?:ios|android)",
        ),
        disclaimers=(
            r"(?:ta|niniejsza) wiadomość\b.{0,60}\bpoufn",
            r"informacje zawarte w tej wiadomości|treść tej wiadomości\b.{0,60}\bpoufn",
        ),
        closings=(
            r"pozdrawiam(?: serdecznie)?|serdecznie pozdrawiam|pozdrowienia|pozdr",
            r"z poważaniem|z wyrazami szacunku|dziękuję|dzięki|miłego dnia",
        ),
    ),
    "sv": _Language(
        quote_headers=(
            # Gmail "Den fre 12 mars 2027 kl 10:00 skrev Ana <ana@x>", Thunderbird, Yahoo
            rf"Den\s{_DATED}{_ANY}\bskrev\b.{{0,200}}?",
            rf"\d{{1,4}}[\s./-]{_ANY}\bskrev\b.{{0,200}}?",  # Apple Mail "12 mars 2027 kl. 10:00"
        ),
        wrote=(r"\bskrev",),
        header_from=("Från",),
        header_fields=("Skickat", "Datum", "Till", "Kopia", "Ämne"),
        separators=("Ursprungligt meddelande", "Originalmeddelande", "Vidarebefordrat meddelande"),
        forwarded=("Vidarebefordrat brev", "Början av vidarebefordrat meddelande"),
        mobile=(
            rf"skicka(?:t|des) från min {_DEVICE}",
            r"skickat från (?:outlook|yahoo mail|e-post)\b[^,;]{0,30}",
            r"hämta outlook för (?:ios|android)\S*",
        ),
        disclaimers=(
            r"detta (?:e-?post)?meddelande\b.{0,60}\bkonfidentiell",
            r"informationen i detta (?:e-?post)?meddelande",
        ),
        closings=(
            r"med vänliga hälsningar|vänliga hälsningar|vänlig hälsning|bästa hälsningar",
            r"hälsningar|hälsning|mvh|vh|tack(?: så mycket)?|ha det bra",
        ),
    ),
    "ja": _Language(
        quote_headers=(
            # Gmail "2027年3月12日(金) 10:00 Ana <a@x>"
            rf"\d{{4}}年\d{{1,2}}月\d{{1,2}}日{_ANY}{_ADDRESS}",
            rf"\d{{4}}[/年.-]{_ANY}の(?:メール|メッセージ)",  # Apple Mail, Yahoo
            rf"\d{{4}}[/年.-]{_ANY}さんは書きました",  # Thunderbird "2027/03/12 10:00 に Ana"
        ),
        wrote=("さんは書きました",),
        header_from=("差出人",),
        header_fields=("送信日時", "日付", "宛先", "CC", "件名"),
        separators=("元のメッセージ", "転送メッセージ", "転送されたメッセージ"),
        forwarded=("転送されたメッセージ",),
        mobile=(
            r"[\w .'’-]{1,30}?から送信",
            r"(?:outlook for (?:ios|android)|(?:ios|android) ?版 ?outlook) ?を入手",
        ),
        disclaimers=(r"(?:この|本)(?:電子)?メール.{0,40}(?:機密|秘密)情報",),
        closings=(
            r"(?:以上[、,]?\s?)?(?:どうぞ)?(?:よろしく|宜しく)お願い(?:いた|致)?します",
            r"ありがとうございます|ありがとうございました",
        ),
    ),
    "zh": _Language(
        quote_headers=(
            rf"[^<>]{{0,80}}?{_ADDRESS}\s?于\s?\d{_ANY}写道",  # Gmail "Ana <a@x> 于2027年3月12日"
            rf"在\s?{_DATED}{_ANY}写道",  # "在 2027年3月12日 10:00，Ana 写道" (QQ, 163, Foxmail)
            rf"\d{{4}}[年/-]{_ANY}写道",  # Apple Mail "2027年3月12日 10:00，Ana <a@x> 写道"
        ),
        wrote=("写道",),
        header_from=("发件人",),
        header_fields=("发送时间", "时间", "日期", "收件人", "抄送", "主题"),
        separators=("原始邮件", "原始信息", "原始消息", "转发的邮件", "转发邮件", "转发的消息"),
        forwarded=("转发的邮件", "以下是转发的邮件"),
        mobile=(
            rf"发自我的 ?{_DEVICE}",
            rf"从我的 ?{_DEVICE} ?发送",
            r"获取 ?(?:ios|android) ?版 ?outlook",
        ),
        disclaimers=(
            r"(?:本|此)(?:电子)?邮件.{0,20}?(?:含有|包含).{0,10}?(?:机密|保密)",
            r"免责声明",
        ),
        closings=(r"此致(?:敬礼)?|敬礼|谢谢(?:您)?|多谢|感谢|祝好|顺祝商祺|顺颂商祺",),
    ),
    "zh-TW": _Language(
        quote_headers=(
            # Gmail and Apple Mail "Ana <a@x> 於 2027年3月12日 週五 上午10:00 寫道"
            rf"[^<>]{{0,80}}?{_ADDRESS}\s?於\s?\d{_ANY}寫道",
            rf"在\s?{_DATED}{_ANY}寫道",
            rf"\d{{4}}[年/-]{_ANY}寫道",
        ),
        wrote=("寫道",),
        header_from=("寄件者",),
        header_fields=("寄件日期", "日期", "收件者", "副本", "主旨"),
        separators=("原始郵件", "原始訊息", "轉寄的郵件", "轉寄郵件", "轉寄訊息"),
        forwarded=("轉寄的郵件", "以下是轉寄的郵件"),
        mobile=(
            rf"從我的 ?{_DEVICE} ?傳送",
            rf"寄自我的 ?{_DEVICE}",
            r"取得 ?(?:ios|android) ?版 ?outlook",
        ),
        disclaimers=(
            r"(?:本|此)(?:電子)?郵件.{0,20}?(?:含有|包含).{0,10}?(?:機密|保密)",
            r"免責聲明",
        ),
        closings=(r"此致|敬上|謝謝(?:您)?|多謝|感謝|祝好|敬祝商祺|順頌商祺",),
    ),
}


def _column(pick: Callable[[_Language], tuple[str, ...]], *, phrases: bool = False) -> list[str]:
    """A table column over all languages, without repeats."""
    items = [item for language in _LANGUAGES.values() for item in pick(language)]
    if phrases:
        items = [item.replace(" ", r"\s+") for item in items]
    return list(dict.fromkeys(items))


def _alternatives(pick: Callable[[_Language], tuple[str, ...]], *, phrases: bool = False) -> str:
    """One regex alternation of a table column over all languages."""
    return "|".join(f"(?:{item})" for item in _column(pick, phrases=phrases))


# ---- Trying only the alternatives that can start a line
#
# sre tries the alternatives of a case-insensitive alternation one after the
# other, about 0.1 µs each even when the first character already rules them
# out, and the patterns built from the tables have dozens. A `_LineStartIndex`
# splits them by the characters they can start with, read off their text
# (`_starts`), so an ASCII line meets only the few that can start it.

# One atom of a pattern: an escape, a character class, or a character (parentheses too).
_ATOM = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]|.", re.DOTALL)
_QUANTIFIER = re.compile(r"(?:[?*+]|\{\d*(?:,\d*)?\})[?+]?")
# Atoms that match exactly one character: a class, a class escape such as `\d`,
# an escaped symbol, or a character that is not an anchor.
_ONE_CHARACTER = re.compile(r"\[.+\]|\\[dDsSwW]|\\\W|[^\\^$]", re.DOTALL)
_ASCII = [chr(code) for code in range(128)]
_MAX_LINE_CHARS = 10_000  # a longer line is text: never a separator, header or signature


def _branches(pattern: str) -> list[list[tuple[str, str]]]:
    """The top-level alternatives of `pattern`, each a list of (atom, quantifier).

    Here a group, up to its closing parenthesis, is one atom too.
    """
    branches: list[list[tuple[str, str]]] = [[]]
    pos = 0
    while pos < len(pattern):
        end = _atom_end(pattern, pos)
        atom = pattern[pos:end]
        if atom == "|":
            branches.append([])
            pos = end
            continue
        quantifier = _QUANTIFIER.match(pattern, end)
        pos = quantifier.end() if quantifier else end
        branches[-1].append((atom, pattern[end:pos]))
    return branches


def _atom_end(pattern: str, pos: int) -> int:
    """Where the atom at `pos` ends; a group ends after its closing parenthesis."""
    depth = 0
    while True:
        atom = _ATOM.match(pattern, pos)
        if atom is None:
            raise ValueError(f"unbalanced parentheses in {pattern!r}")
        depth += {"(": 1, ")": -1}.get(atom.group(), 0)
        pos = atom.end()
        if depth <= 0:
            return pos


def _at_least_once(quantifier: str) -> bool:
    """Whether an atom with this quantifier ("" for none) matches at least once."""
    return quantifier[:1] in ("", "+") or bool(re.match(r"\{[1-9]", quantifier))


@cache
def _ascii_matches(atom: str) -> frozenset[str]:
    """The ASCII characters a one-character atom matches case-insensitively.

    Asked of sre itself, so its case folding holds: "ſ" matches "s", the
    Kelvin sign "k", "写" nothing.
    """
    return frozenset(filter(re.compile(atom, re.IGNORECASE).fullmatch, _ASCII))


def _starts(pattern: str) -> frozenset[str] | None:
    """The characters a case-insensitive match of `pattern` in ASCII text can start with.

    None when the text of the pattern does not tell, or a match may start with
    a blank. Understood at the start of an alternative: `\\b`, atoms of one
    character (a character, a class, a class escape) and non-capturing groups,
    optional ones followed by more. An alternative that needs a character that
    no ASCII one matches, such as a CJK character, adds nothing.
    """
    found: set[str] = set()
    for branch in _branches(pattern):
        if any(_at_least_once(q) and _matches_no_ascii(atom) for atom, q in branch):
            continue
        first = _branch_starts(branch)
        if first is None:
            return None
        found |= first
    return frozenset(found)


def _matches_no_ascii(atom: str) -> bool:
    return not atom.isascii() and bool(_ONE_CHARACTER.fullmatch(atom)) and not _ascii_matches(atom)


def _branch_starts(branch: list[tuple[str, str]]) -> frozenset[str] | None:
    found: set[str] = set()
    for atom, quantifier in branch:
        if atom == r"\b":  # zero-width
            continue
        if atom.startswith("(?:"):
            first = _starts(atom[3:-1])
        elif _ONE_CHARACTER.fullmatch(atom):
            first = _ascii_matches(atom)
            if any(char.isspace() for char in first):
                return None
        else:
            return None
        if first is None:
            return None
        found |= first
        if _at_least_once(quantifier):
            return frozenset(found)
    return None  # the alternative may match nothing


class _LineStartIndex:
    """A case-insensitive pattern `(?:<alternatives>)<suffix>`, split by first character.

    With `after_blanks` the pattern is `^\\s*(?:<alternatives>)<suffix>`. Either
    way an alternative that `_starts` knows can only match from the first
    non-blank character of an ASCII text, so for such a text the alternatives
    that cannot start with that character are left out. `match` answers as the
    whole pattern's `match` would, in truth value. The pattern for each first
    character is compiled when first needed.
    """

    def __init__(self, alternatives: list[str], suffix: str = "", *, after_blanks: bool) -> None:
        self._alternatives = list(dict.fromkeys(alternatives))
        self._prefix = r"^\s*" if after_blanks else ""
        self._suffix = suffix
        # first non-blank character of an ASCII text (None: of any other) -> its pattern
        self._patterns: dict[str | None, re.Pattern[str] | None] = {}

    def match(self, text: str) -> bool:
        if self._prefix:  # `^\s*`: matched here, so that blanks cost no backtracking
            text = text.lstrip()
        if len(text) > _MAX_LINE_CHARS:
            return False
        key = text[:1] if text.isascii() else None
        try:
            pattern = self._patterns[key]
        except KeyError:
            pattern = self._patterns[key] = self._compile(key)
        return pattern is not None and pattern.match(text) is not None

    @cached_property
    def _first_chars(self) -> dict[str, frozenset[str] | None]:
        return {alternative: _starts(alternative) for alternative in self._alternatives}

    def _compile(self, key: str | None) -> re.Pattern[str] | None:
        chosen = [
            f"(?:{alternative})"
            for alternative, chars in self._first_chars.items()
            if key is None or chars is None or key in chars
        ]
        if not chosen:
            return None
        return re.compile(f"{self._prefix}(?:{'|'.join(chosen)}){self._suffix}", re.IGNORECASE)


# Matched against whole (joined) lines: the `\Z` makes `match` a `fullmatch`.
_ATTRIBUTION = _LineStartIndex(
    _column(lambda lang: lang.quote_headers), r"\s?[:：]\Z", after_blanks=False
)
_WROTE = _alternatives(lambda lang: lang.wrote)
# "Ana Silva <ana@example.org> wrote:" (Thunderbird), never wrapped.
_ADDRESSED_ATTRIBUTION = re.compile(
    rf"^[^<>]{{0,80}}{_ADDRESS}\s*(?:{_WROTE})\s?[:：]$", re.IGNORECASE
)
# "Ana Silva wrote:": a quote header only when quoted lines follow.
_NAMED_ATTRIBUTION = re.compile(
    rf"^[^\s<>:：][^<>:：@]{{0,60}}?(?:{_WROTE})\s?[:：]$", re.IGNORECASE
)
# Outlook's reply header block, e.g. "From: / Sent: / To: / Subject:", localized;
# "*From:*" is the plain-text rendering of the bold HTML labels.
_HEADER_FROM = _LineStartIndex(
    [rf"\*?(?:{label})" for label in _column(lambda lang: lang.header_from, phrases=True)],
    r"\s?(?::\*?\s|：)",
    after_blanks=False,
)
_HEADER_FIELD = _LineStartIndex(
    [rf"\*?(?:{label})" for label in _column(lambda lang: lang.header_fields, phrases=True)],
    r"\s?(?::\*?(?:\s|$)|：)",
    after_blanks=False,
)
# Outlook on phones puts the whole block on one line: "From: Ana Sent: ... To: ...".
_INLINE_FIELD = re.compile(
    rf"\s\*?(?:{_alternatives(lambda lang: lang.header_fields, phrases=True)})\s?(?::\*?\s|：)",
    re.IGNORECASE,
)
# A line of its own; each ends with "_", "-" or a colon (`_cut_at_boundary` relies on it).
_SEPARATOR = _LineStartIndex(
    [
        r"_{8,}",  # Outlook / mailing-list footer
        rf"-{{2,}}\s*(?:{_alternatives(lambda lang: lang.separators, phrases=True)})\s*-{{2,}}",
        *(rf"(?:{line})\s?[:：]" for line in _column(lambda lang: lang.forwarded, phrases=True)),
    ],
    r"\s*$",
    after_blanks=True,
)
_SIG_DELIMITER = re.compile(r"^--\s?$")
# A mobile signature (a line of its own) or the start of a disclaimer.
_SIGNATURE_START = _LineStartIndex(
    [
        *(rf"(?:{mobile})[.!。]?\s*$" for mobile in _column(lambda lang: lang.mobile)),
        *_column(lambda lang: lang.disclaimers),
    ],
    after_blanks=True,
)
_UPPER = "A-ZÀ-ÖØ-ÞĀ-ž"  # ASCII and Latin-1 capitals, Latin Extended-A ("Łukasz")
# A closing alone, or followed by a name on the same line ("Cheers, Ana").
_SIGN_OFF = _LineStartIndex(
    _column(lambda lang: lang.closings),
    rf"\s*+[,.!。！，、]*+(?-i:\s++[{_UPPER}][\w.'-]*+){{0,2}}+\s*+[.!。！]?+\s*+$",
    after_blanks=True,
)
# "-Ana", "— Ana Silva", "/Ana" (Swedish).
_DASH_NAME = re.compile(rf"^\s*+[-–—/]\s?[{_UPPER}][\w.'-]*+(?:\s[{_UPPER}][\w.'-]*+){{0,2}}+\s*+$")
_SENTENCE_END = re.compile(r"[a-z]{2,}[.?!]$|[。？]$")
_SEPARATOR_ONLY = re.compile(r"^[\s\-_=*~]*$")
_MAX_SIGNATURE_LINES = 6
_MAX_HEADER_CHARS = 700  # longer (joined) lines are never quote headers


def strip_reply(text: str) -> str:
    """Only what the sender newly wrote: no quoted history, no signature.

    Conservative: when a rule would leave nothing, or the text is ambiguous,
    the text is kept. Steps:

    1. Cut at the first hard boundary: an Outlook header block, a separator
       line ("-----Original Message-----", "Begin forwarded message:"), or a
       quote header below the sender's text that is not followed by
       `>`-quoted lines (unquoted history, as Yahoo and Outlook write it).
    2. Drop quote headers followed by quoted lines, and the quoted lines, but
       keep text written between quoted blocks (inline / bottom-posted replies).
    3. Cut the signature: "-- " delimiter, mobile signatures, disclaimers,
       and a short trailing sign-off block ("Best,\\nAna").

    Steps 1 and 3 only cut below a line of text, except at a separator or
    header block; step 2 only removes `>` lines and the headers introducing
    them. So the result is empty only if, above the first separator or
    header block, every line is blank, separator-like ("***"), `>`-quoted,
    or a quote header of quoted lines.
    """
    lines = _normalise_newlines(text).split("\n")
    headers = _quote_headers(lines)
    lines = _cut_at_boundary(lines, headers)
    lines = _drop_quotes(lines, headers)
    lines = _cut_signature(lines)
    return "\n".join(lines).strip()


def _is_text(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and (stripped[0] not in "-_=*~" or not _SEPARATOR_ONLY.match(stripped))


def _is_quoted(line: str) -> bool:
    """A `>`-quoted line; the same as matching `^\\s*>`, without the regex call per line."""
    return line.lstrip()[:1] == ">"  # `startswith` would cost more than the slice


def _first_text(lines: list[str]) -> int:
    """Index of the first line of text that is not `>`-quoted, len(lines) if none."""
    for i, line in enumerate(lines):
        if _is_text(line) and not _is_quoted(line):
            return i
    return len(lines)


def _has_text(lines: list[str]) -> bool:
    return any(_is_text(line) for line in lines)


def _ends_with_colon(line: str) -> bool:
    return line.rstrip()[-1:] in (":", "：")


def _quote_headers(lines: list[str]) -> dict[int, int]:
    """Line index -> number of lines (1-3) of each quote header, in line order.

    Every header ends with a colon, so only the three lines up to a line that
    ends with one are candidates: the other lines cost a substring test or two.
    """
    ends = {
        i
        for i, line in enumerate(lines)
        if (":" in line or "：" in line) and _ends_with_colon(line)
    }
    if not ends:
        return {}
    tried: dict[tuple[int, int], bool] = {}
    headers: dict[int, int] = {}
    for start in sorted({s for end in ends for s in (end - 2, end - 1, end) if s >= 0}):
        if span := _attribution_at(lines, start, ends, tried):
            headers[start] = span
    return headers


def _attribution_at(
    lines: list[str], i: int, ends: set[int], tried: dict[tuple[int, int], bool]
) -> int:
    """Number of lines (1-3) of a quote header starting at line i, 0 if none.

    The one-line patterns, slow on long lines, are tried only where they can
    change the answer, and `_NAMED_ATTRIBUTION` only above quoted lines.
    """
    span = _wrapped_attribution_at(lines, i, ends, tried)
    if span != 1 and i in ends:  # both one-line forms end with the colon
        line = lines[i].strip()
        if len(line) > _MAX_HEADER_CHARS:
            return span
        if "@" in line and _ADDRESSED_ATTRIBUTION.match(line):  # "@": see `_ADDRESS`
            return 1
        if _is_quoted(_next_content(lines, i + 1)) and _NAMED_ATTRIBUTION.match(line):
            return 1
    return span


def _wrapped_attribution_at(
    lines: list[str], i: int, ends: set[int], tried: dict[tuple[int, int], bool]
) -> int:
    """Number of lines (1-3) of an `_ATTRIBUTION` header starting at line i, 0 if none.

    A header wrapped over several lines must not be complete without its first
    line: otherwise that line is text of its own ("谢谢" above "Ana 于 ... 写道：").
    """
    for last, line in enumerate(lines[i : i + 3], i):
        if not line.strip() or _is_quoted(line):
            return 0
        if (
            last in ends
            and _is_quote_header(lines, i, last, tried)
            and not any(_is_quote_header(lines, j, last, tried) for j in range(i + 1, last + 1))
        ):
            return last - i + 1
    return 0


def _is_quote_header(
    lines: list[str], first: int, last: int, tried: dict[tuple[int, int], bool]
) -> bool:
    """Lines first..last, joined with spaces, match `_ATTRIBUTION`; `last` ends with a colon.

    `tried` keeps the answers: a run of lines is asked about again as the end of
    a longer run, or of a run that starts one line further up.
    """
    if (first, last) not in tried:
        joined = " ".join([line.strip() for line in lines[first : last + 1]])
        tried[first, last] = len(joined) <= _MAX_HEADER_CHARS and _ATTRIBUTION.match(joined)
    return tried[first, last]


def _outlook_header_at(lines: list[str], i: int) -> bool:
    """A "From:" line with two more Outlook header fields in the next six lines or on it."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    following = sum(1 for line in lines[i + 1 : i + 7] if _HEADER_FIELD.match(line))
    return following >= 2 or len(_INLINE_FIELD.findall(lines[i])) >= 2


def _next_content(lines: list[str], start: int) -> str:
    for i in range(start, len(lines)):
        if lines[i].strip():
            return lines[i]
    return ""


def _cut_at_boundary(lines: list[str], headers: dict[int, int]) -> list[str]:
    """Cut at a separator or header block, or at a quote header over unquoted history.

    A quote header only cuts below text of the sender's own: at the top, with
    unquoted text below, it may as well be the sender's sentence ("On Monday
    at 10:00 I wrote to my manager:"), so it is kept.
    """
    first_text = _first_text(lines)
    end = len(lines)
    for i, span in headers.items():
        if i > first_text and not _is_quoted(_next_content(lines, i + span)):
            end = i
            break
    for i, line in enumerate(lines[:end]):
        # Without a regex call, most lines are ruled out: a separator ends, but
        # for blanks, with "_", "-" or a colon, and an Outlook "From:" line has one.
        if (":" in line or "：" in line or line.rstrip()[-1:] in ("-", "_")) and (
            _SEPARATOR.match(line) or _outlook_header_at(lines, i)
        ):
            return lines[:i]
    return lines[:end]


def _drop_quotes(lines: list[str], headers: dict[int, int]) -> list[str]:
    """Remove `>` lines and the quote headers above them, each block leaving one blank line."""
    # `_is_quoted`, inline: this runs once per line
    marked: list[str | None] = [None if line.lstrip()[:1] == ">" else line for line in lines]
    for i, span in headers.items():
        # A header cut off at the end of `lines` has nothing below it.
        if _is_quoted(_next_content(lines, i + span)):
            marked[i : i + span] = [None] * span
    return _collapse_removed(marked) if None in marked else lines


def _collapse_removed(marked: list[str | None]) -> list[str]:
    out: list[str] = []
    blanks: list[str] = []  # blank lines since the last kept text ...
    removed = False  # ... and whether lines were removed among them
    for line in [*marked, "end"]:
        if line is None:
            removed = True
        elif not line.strip():
            blanks.append(line)
        else:
            if not removed:
                out.extend(blanks)
            elif blanks and out:
                out.append("")
            blanks, removed = [], False
            out.append(line)
    return out[:-1]


def _cut_signature(lines: list[str]) -> list[str]:
    """Cut at a signature start below the first line of text, then a sign-off block.

    `lines` have no `>` lines left (`_drop_quotes`): `_first_text` is the first line of text.
    """
    for i in range(_first_text(lines) + 1, len(lines)):
        line = lines[i]
        if not line or line.isspace():  # matches neither, and costs no call
            continue
        if (line[:2] == "--" and _SIG_DELIMITER.match(line)) or _SIGNATURE_START.match(line):
            lines = lines[:i]
            break
    lines = _trim_trailing(lines)
    return _trim_trailing(_cut_sign_off(lines))


def _trim_trailing(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or _SEPARATOR_ONLY.match(lines[end - 1])):
        end -= 1
    return lines[:end]


def _cut_sign_off(lines: list[str]) -> list[str]:
    """Remove a trailing "Best,\\nAna\\nACME" or "-Ana" block if text remains above it."""
    if lines and _DASH_NAME.match(lines[-1]) and _has_text(lines[:-1]):
        return lines[:-1]
    start = max(0, len(lines) - _MAX_SIGNATURE_LINES - 1)
    for i in range(start, len(lines)):
        if (
            _SIGN_OFF.match(lines[i])
            and _has_text(lines[:i])
            and _looks_like_signature(lines[i + 1 :])
        ):
            return lines[:i]
    return lines


def _looks_like_signature(lines: list[str]) -> bool:
    """Short lines without sentences: names, titles, companies, phone numbers."""
    content = [line.strip() for line in lines if line.strip()]
    return len(content) <= _MAX_SIGNATURE_LINES and all(
        len(line) <= 60 and not _SENTENCE_END.search(line) for line in content
    )
