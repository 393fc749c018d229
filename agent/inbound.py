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
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

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
    """
    problems: list[str] = []
    for pol in (policy.default, policy.compat32):
        try:
            msg = message_from_bytes(raw, policy=pol)
            return _build(raw, msg, max_bytes, problems)
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
        problems=tuple(problems),
    )


def _build(raw: bytes, msg: Message, max_bytes: int, problems: list[str]) -> InboundMessage:
    headers = _Headers(msg)
    body = _Body()
    _visit(msg, body)
    problems.extend(body.problems)
    problems.extend(_defects(msg))

    message_id = _first_id(headers.get("Message-ID"))
    if not message_id:
        problems.append("missing Message-ID")
        message_id = _digest_id(raw)
    from_name, from_addr = _first_address(headers.raw("From"))
    if not from_addr:
        problems.append("missing or unparseable From")
    date, date_problem = _parse_date(headers.raw("Date"))
    if date_problem:
        problems.append(date_problem)

    text = _normalise_newlines(body.text())
    text, truncated = _cap(text, max_bytes)
    if truncated:
        problems.append(f"body truncated to {max_bytes} bytes")

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
        reply_text=strip_reply(text),
        auto_reply=_auto_reply_reason(headers),
        bounce=bounce,
        failed_recipients=_failed_recipients(headers, body) if bounce else (),
        calendar=tuple(body.calendar),
        attachments=tuple(body.attachments),
        dmarc_fail=_dmarc_fail(headers),
        headers=headers.decoded,
        problems=tuple(dict.fromkeys(problems)),
    )


def _digest_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _defects(msg: Message) -> list[str]:
    """Names of the defects the parser registered, e.g. `MissingHeaderBodySeparatorDefect`."""
    found: list[str] = []
    for part in msg.walk():
        found.extend(f"MIME defect: {type(d).__name__}" for d in getattr(part, "defects", ()))
    return found


# ---- headers


class _Headers:
    """Header access by name over the raw header lines, decoded once.

    Reading `msg.raw_items()` sidesteps `policy.default`'s structured header
    classes, which raise on some malformed values.
    """

    def __init__(self, msg: Message) -> None:
        self._raw = [(name, _unfold(_undo_surrogates(value))) for name, value in msg.raw_items()]
        self.decoded = tuple((name, _decode_words(value)) for name, value in self._raw)

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


def _first_address(raw_value: str) -> tuple[str, str]:
    """(display name, lower-cased addr-spec) of the first address, ("", "") if none.

    Addresses are split before RFC 2047 decoding, so an encoded comma in a
    display name cannot split one address in two.
    """
    pairs = _addresses(raw_value)
    return pairs[0] if pairs else ("", "")


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
      | automatisch\ antwoord
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
class _Body:
    """What the MIME tree walk collects."""

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


def _visit(part: Message, out: _Body) -> None:
    """Walk the MIME tree (RFC 2046), not descending into attached messages."""
    ctype = part.get_content_type()
    if ctype.startswith("multipart/") and isinstance(part.get_payload(), list):
        children = part.get_payload()
        if ctype == "multipart/alternative":
            _visit_alternative(children, out)
        else:
            for child in children:
                _visit(child, out)
    elif ctype == "message/delivery-status":
        out.dsn.append(_delivery_status_text(part))
    else:
        _visit_leaf(part, ctype, out)


def _visit_alternative(children: list[Message], out: _Body) -> None:
    """Keep the text of the first alternative that has text/plain, else of the last one.

    RFC 2046 5.1.4 orders alternatives from plainest to richest. Calendar
    parts and attachments are collected from every alternative (Outlook puts
    the iTIP text/calendar part next to text/plain and text/html).
    """
    subs = []
    for child in children:
        sub = _Body()
        _visit(child, sub)
        subs.append(sub)
    with_plain = [s for s in subs if any(not is_html for is_html, _ in s.texts)]
    with_text = [s for s in subs if s.texts]
    chosen = with_plain[0] if with_plain else (with_text[-1] if with_text else None)
    for sub in subs:
        out.absorb(sub, with_texts=sub is chosen)


def _visit_leaf(part: Message, ctype: str, out: _Body) -> None:
    filename = _decode_words(part.get_filename() or "")
    is_attachment = bool(filename) or part.get_content_disposition() == "attachment"
    if ctype == "text/calendar" or filename.lower().endswith(".ics"):
        out.calendar.append(_part_text(part, out))
    if ctype in ("text/plain", "text/html") and not is_attachment:
        out.texts.append((ctype == "text/html", _part_text(part, out)))
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
    return text


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
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
}


def _decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset; if unknown or wrong, try UTF-8, then Windows-1252.

    Latin-1 is the last resort because it maps every byte, so nothing is lost.
    Returns the text and a problem note when the declared charset did not work.
    """
    declared = (charset or "").strip().strip('"').lower()
    codec = _CHARSET_ALIASES.get(declared, declared)
    problem = None
    if codec:
        try:
            codecs.lookup(codec)
            return data.decode(codec), None
        except LookupError:
            problem = f"unknown charset {declared!r}"
        except UnicodeDecodeError:
            problem = f"text is not valid {declared!r}"
    for fallback in ("utf-8", "cp1252"):
        try:
            return data.decode(fallback), problem
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), problem


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
        prefix = "> " * self._depth
        self.lines.append((prefix + line).rstrip())

    def text(self) -> str:
        self._flush()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self.lines)).strip("\n")


def _html_to_text(html: str) -> str:
    """Readable text of an HTML body (see `_HtmlText`); never raises."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this guards against surprises only
        return re.sub(r"<[^>]*>", " ", html)
    return parser.text()


# --------------------------------------------------------------------------- strip_reply

# Attribution lines ("On <date>, <name> wrote:") by language: (opening word, verb).
# Clients wrap long ones, so up to three lines are joined before matching.
_ATTRIBUTIONS = {
    "en": (r"On", r"wrote"),
    "de": (r"Am", r"schrieb"),
    "fr": (r"Le", r"a\s+écrit"),
    "es": (r"El", r"escribió"),
    "nl": (r"Op", r"schreef"),
    "pt": (r"Em", r"escreveu"),
    "it": (r"Il", r"ha\s+scritto"),
}
_ATTRIBUTION = re.compile(
    "|".join(
        rf"(?:^{opening}\s(?=[^\n]*\d)[^\n]{{0,300}}\b{verb}\b[^\n]{{0,200}}?\s?:$)"
        for opening, verb in _ATTRIBUTIONS.values()
    ),
    re.IGNORECASE,
)
# Thunderbird without a date, never wrapped: "Ana Silva <ana@example.org> wrote:".
_NAMED_ATTRIBUTION = re.compile(
    r"^[^<>]{0,80}<[^<>\s@]+@[^<>\s]+>\s*(?:wrote|schrieb|a écrit|escribió)\s?:$", re.IGNORECASE
)

# Outlook's reply header block, e.g. "From: / Sent: / To: / Subject:", localized;
# "*From:*" is the plain-text rendering of the bold HTML labels.
_HEADER_FROM = re.compile(r"^\*?(?:From|Von|De|Da|Van|Från|Fra)\s?:\*?\s", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\*?(?:Sent|Date|To|Cc|Subject|Gesendet|Datum|An|Betreff|Envoyé|Date|À|A|Objet"
    r"|Enviado|Enviada|Fecha|Para|Asunto|Assunto|Inviato|Data|Oggetto|Verzonden|Aan"
    r"|Onderwerp)\s?:\*?(?:\s|$)",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"""^\s*(?:
        _{8,}                                          # Outlook / mailing-list footer
      | -{2,}\s*(?:original\s+message|ursprüngliche\s+nachricht|message\s+d'origine
        |mensaje\s+original|mensagem\s+original|messaggio\s+originale
        |oorspronkelijk\s+bericht|forwarded\s+message|weitergeleitete\s+nachricht
        |message\s+transféré|mensaje\s+reenviado)\s*-{2,}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_QUOTED = re.compile(r"^\s*>")
_SIG_DELIMITER = re.compile(r"^--\s?$")
_MOBILE_SIGNATURE = re.compile(
    r"""^\s*(?:
        sent\ from\ my\ [\w.'-]+(?:\ [\w.'-]+){0,3}
      | sent\ from\ (?:outlook|mail|yahoo\ mail|gmail|aol)\b[^,;]{0,30}
      | get\ outlook\ for\ (?:ios|android)\S*
      | von\ meinem\ [\w.-]+(?:\ [\w.-]+){0,3}\ gesendet
      | envoyé\ de\ mon\ [\w.-]+(?:\ [\w.-]+){0,3}
      | enviado\ desde\ mi\ [\w.-]+(?:\ [\w.-]+){0,3}
      | enviado\ do\ meu\ [\w.-]+(?:\ [\w.-]+){0,3}
      | inviato\ da(?:l\ mio)?\ [\w.-]+(?:\ [\w.-]+){0,3}
      | (?:verzonden|verstuurd)\ (?:vanaf|met)\ mijn\ [\w.-]+(?:\ [\w.-]+){0,3}
    )[.!]?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_DISCLAIMER = re.compile(
    r"""^\s*(?:
        confidentiality\ notice | disclaimer\b
      | this\ (?:e-?mail|message|communication)(?:\ and\ any\ (?:attachments?|files))?
        \ (?:is|are|may\ be|contains?)\b.{0,40}\b(?:confidential|privileged)
      | the\ information\ (?:contained\ )?in\ this\ (?:e-?mail|message|communication)
      | diese\ (?:e-?mail|nachricht)\ (?:enthält|ist)\ vertraulich
      | ce\ message\ et\ (?:toutes\ )?les\ pièces\ jointes
      | este\ (?:mensaje|correo)\b.{0,40}\bconfidencial
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_CLOSINGS = (
    r"best(?: regards| wishes)?|kind regards|warm regards|regards|many thanks|thanks(?: again)?"
    r"|thank you|thx|cheers|all the best|sincerely|yours|take care"
    r"|viele grüße|viele grüsse|liebe grüße|beste grüße|mit freundlichen grüßen|grüße|lg|vg"
    r"|cordialement|bien à vous|amitiés|merci|bonne journée"
    r"|saludos(?: cordiales)?|un saludo|atentamente|gracias|abrazos"
    r"|cumprimentos|atenciosamente|abraços|obrigad[oa]"
    r"|cordiali saluti|saluti|grazie"
    r"|met vriendelijke groet(?:en)?|groeten|groetjes|bedankt"
)
# A closing alone, or followed by a name on the same line ("Cheers, Ana").
_SIGN_OFF = re.compile(
    rf"^\s*(?:{_CLOSINGS})\s*[,.!]*(?-i:\s+[A-Z][\w.'-]*){{0,2}}\s*[.!]?\s*$", re.IGNORECASE
)
_DASH_NAME = re.compile(r"^\s*[-–—]\s?[A-Z][\w.'-]*(?:\s[A-Z][\w.'-]*){0,2}\s*$")
_SEPARATOR_ONLY = re.compile(r"^[\s\-_=*~]*$")
_MAX_SIGNATURE_LINES = 6


def strip_reply(text: str) -> str:
    """Only what the sender newly wrote: no quoted history, no signature.

    Conservative: when a rule would leave nothing, or the text is ambiguous,
    the text is kept. Steps:

    1. Cut at the first hard boundary: an Outlook header block or separator
       line, or a quote header that is not followed by `>`-quoted lines.
    2. Drop quote headers followed by quoted lines, and the quoted lines, but
       keep text written between quoted blocks (inline / bottom-posted replies).
    3. Cut the signature: "-- " delimiter, mobile signatures, disclaimers,
       and a short trailing sign-off block ("Best,\\nAna").
    """
    lines = _normalise_newlines(text).split("\n")
    lines = _cut_at_boundary(lines)
    lines = _drop_quotes(lines)
    lines = _cut_signature(lines)
    return "\n".join(lines).strip()


def _has_text(lines: list[str]) -> bool:
    return any(line.strip() and not _SEPARATOR_ONLY.match(line) for line in lines)


def _attribution_at(lines: list[str], i: int) -> int:
    """Number of lines (1-3) of a quote header starting at line i, 0 if none."""
    if _NAMED_ATTRIBUTION.match(lines[i].strip()):
        return 1
    for span in (1, 2, 3):
        window = lines[i : i + span]
        if len(window) < span or (span > 1 and not window[-1].strip()):
            return 0
        if _ATTRIBUTION.match(" ".join(w.strip() for w in window)):
            return span
    return 0


def _outlook_header_at(lines: list[str], i: int) -> bool:
    """A "From:" line followed, within six lines, by two more Outlook header fields."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    following = lines[i + 1 : i + 7]
    return sum(1 for line in following if _HEADER_OTHER.match(line)) >= 2


def _next_content(lines: list[str], start: int) -> str:
    return next((line for line in lines[start:] if line.strip()), "")


def _cut_at_boundary(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _SEPARATOR.match(line) or _outlook_header_at(lines, i):
            return lines[:i]
        span = _attribution_at(lines, i)
        if span and not _QUOTED.match(_next_content(lines, i + span)):
            return lines[:i]
    return lines


def _drop_quotes(lines: list[str]) -> list[str]:
    """Remove quote headers and `>` lines; a removed block becomes at most one blank line."""
    marked: list[str | None] = []
    i = 0
    while i < len(lines):
        span = _attribution_at(lines, i)
        if span:
            marked.extend([None] * span)
            i += span
            continue
        marked.append(None if _QUOTED.match(lines[i]) else lines[i])
        i += 1
    return _collapse_removed(marked)


def _collapse_removed(marked: list[str | None]) -> list[str]:
    out: list[str] = []
    gap: list[str | None] = []  # blank lines and removed lines between kept text
    for line in [*marked, "end"]:
        if line is None or not line.strip():
            gap.append(line)
            continue
        if None in gap:
            blanks = [g for g in gap if g is not None]
            out.extend([""] if blanks and out else [])
        else:
            out.extend(g for g in gap if g is not None)
        gap = []
        out.append(line)
    return out[:-1]


def _cut_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        is_signature = (
            _SIG_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line) or _DISCLAIMER.match(line)
        )
        if is_signature and _has_text(lines[:i]):
            lines = lines[:i]
            break
    lines = _trim_trailing(lines)
    return _trim_trailing(_cut_sign_off(lines))


def _trim_trailing(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and _SEPARATOR_ONLY.match(lines[end - 1]):
        end -= 1
    return lines[:end]


def _cut_sign_off(lines: list[str]) -> list[str]:
    """Remove a trailing "Best,\\nAna\\nACME" or "-Ana" block if text remains above it."""
    if lines and _DASH_NAME.match(lines[-1]) and _has_text(lines[:-1]):
        return lines[:-1]
    start = max(0, len(lines) - _MAX_SIGNATURE_LINES - 1)
    for i in range(start, len(lines)):
        tail = lines[i + 1 :]
        if _SIGN_OFF.match(lines[i]) and _has_text(lines[:i]) and _looks_like_signature(tail):
            return lines[:i]
    return lines


def _looks_like_signature(lines: list[str]) -> bool:
    """Short lines without sentences: names, titles, companies, phone numbers."""
    content = [line.strip() for line in lines if line.strip()]
    return len(content) <= _MAX_SIGNATURE_LINES and all(
        len(line) <= 60 and not re.search(r"[a-z]{2,}[.?!]$", line) for line in content
    )
