"""The MIME tree walked into text, calendar parts and attachment names (RFC 2046).

The walk is bounded before the work is done: at most `MAX_PARTS` parts, `MAX_DEPTH`
levels; format=flowed is undone (RFC 3676); what is left unread is named in `problems`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from agent.mail_in.charsets import decode_bytes
from agent.mail_in.headers import decode_words, unfold
from agent.mail_in.html_text import bounded_html, html_to_text

MAX_PARTS = 1_000  # MIME parts visited
MAX_DEPTH = 50  # levels of nested multiparts


@dataclass
class _Budget:
    """What is left of the MIME parts one message may cost (`MAX_PARTS`)."""

    parts: int = MAX_PARTS


@dataclass
class Body:
    """What the MIME tree walk collects."""

    budget: _Budget = field(default_factory=_Budget)  # shared by the bodies of one message
    texts: list[tuple[bool, str]] = field(default_factory=list)  # (is_html, text)
    html: list[str] = field(default_factory=list)  # every HTML body part, chosen or not
    calendar: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    dsn: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n\n".join(html_to_text(t) if is_html else t for is_html, t in self.texts)

    def absorb(self, other: Body, *, with_texts: bool) -> None:
        if with_texts:
            self.texts.extend(other.texts)
        self.html.extend(other.html)
        self.calendar.extend(other.calendar)
        self.attachments.extend(other.attachments)
        self.dsn.extend(other.dsn)
        self.problems.extend(other.problems)


def walk(part: Message, out: Body, depth: int = 0) -> None:
    """Walk the MIME tree (RFC 2046), not descending into attached messages.

    At most `MAX_PARTS` parts, `MAX_DEPTH` levels deep, are visited.
    """
    out.budget.parts -= 1
    if out.budget.parts < 0 or depth > MAX_DEPTH:
        out.problems.append(f"MIME parts beyond {MAX_PARTS:,} or {MAX_DEPTH} levels not read")
        return
    ctype = part.get_content_type()
    if ctype.startswith("multipart/") and isinstance(part.get_payload(), list):
        children = part.get_payload()
        if ctype == "multipart/alternative":
            _visit_alternative(children, out, depth + 1)
        else:
            for child in children:
                if out.budget.parts <= 0:
                    out.problems.append(f"MIME parts beyond {MAX_PARTS:,} not read")
                    break
                walk(child, out, depth + 1)
    elif ctype == "message/delivery-status":
        out.dsn.append(_delivery_status_text(part))
    else:
        _visit_leaf(part, ctype, out)


def _visit_alternative(children: list[Message], out: Body, depth: int) -> None:
    """Keep the text of the first alternative with non-blank text/plain, else of the last one.

    RFC 2046 5.1.4 orders alternatives from plainest to richest; some mailers
    send an empty text/plain next to the real HTML. Calendar parts and
    attachments are collected from every alternative (Outlook puts the iTIP
    text/calendar part next to text/plain and text/html).
    """
    if len(children) > out.budget.parts:
        out.problems.append(f"MIME parts beyond {MAX_PARTS:,} not read")
    subs = []
    for child in children[: max(0, out.budget.parts)]:
        sub = Body(budget=out.budget)
        walk(child, sub, depth)
        subs.append(sub)
    with_plain = [s for s in subs if any(not is_html and t.strip() for is_html, t in s.texts)]
    with_text = [s for s in subs if any(t.strip() for _, t in s.texts)] or [
        s for s in subs if s.texts
    ]
    chosen = with_plain[0] if with_plain else (with_text[-1] if with_text else None)
    for sub in subs:
        out.absorb(sub, with_texts=sub is chosen)


def _visit_leaf(part: Message, ctype: str, out: Body) -> None:
    filename = decode_words(part.get_filename() or "")
    is_attachment = bool(filename) or part.get_content_disposition() == "attachment"
    if ctype == "text/calendar" or filename.lower().endswith(".ics"):
        out.calendar.append(_part_text(part, out))
    if ctype in ("text/plain", "text/html") and not is_attachment:
        is_html = ctype == "text/html"
        text = _part_text(part, out)
        if is_html:
            text = bounded_html(text, out.problems)
            out.html.append(text)
        out.texts.append((is_html, text))
    elif ctype != "text/calendar" or is_attachment:
        out.attachments.append(filename or ctype)


def _part_text(part: Message, out: Body) -> str:
    """Payload bytes (quoted-printable/base64 undone) decoded with the declared charset."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text, problem = decode_bytes(data, part.get_content_charset())
    if problem:
        out.problems.append(problem)
    if part.get_content_type() == "text/plain" and _param(part, "format") == "flowed":
        text = _unflow(normalise_newlines(text), delsp=_param(part, "delsp") == "yes")
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
        blocks = ["\n".join(f"{k}: {unfold(str(v))}" for k, v in b.raw_items()) for b in payload]
        return "\n\n".join(blocks)
    return _part_text(part, Body())


def head(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, cut at a line end when there is one."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > 0 else limit]


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def cap_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text, False
    return data[:max_bytes].decode("utf-8", "ignore"), True
