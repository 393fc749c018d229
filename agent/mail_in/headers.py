"""Header values read from the raw header lines, decoded once (RFC 5322, RFC 2047).

Reading `msg.raw_items()` sidesteps `policy.default`'s structured header classes, which
raise on some malformed values; a bad header costs only itself. The sender is parsed
strictly (`mailbox_parse`) before any decoding, so an encoded comma cannot change it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from agent.mail_in.charsets import decode_bytes
from agent.mail_in.mailbox_parse import NotOneMailbox, parse_mailbox

# Characters of one header value; longer ones are cut before RFC 2047 decoding, whose cost
# (email.header.decode_header) grows with the square of the number of encoded words.
_MAX_HEADER_VALUE = 16_000


class Headers:
    """Header access by name over the raw header lines, decoded once.

    Reading `msg.raw_items()` sidesteps `policy.default`'s structured header
    classes, which raise on some malformed values.
    """

    def __init__(self, msg: Message) -> None:
        self.problems: list[str] = []
        self._raw = [(name, self._bounded(name, value)) for name, value in msg.raw_items()]
        self.decoded = tuple((name, decode_words(value)) for name, value in self._raw)

    def _bounded(self, name: str, value: str) -> str:
        """The value unfolded, cut at `_MAX_HEADER_VALUE` characters (before any decoding)."""
        if len(value) > _MAX_HEADER_VALUE:
            self.problems.append(f"{name} header cut to {_MAX_HEADER_VALUE:,} characters")
            space = value.rfind(" ", _MAX_HEADER_VALUE // 2, _MAX_HEADER_VALUE)  # not in a word
            value = value[: space if space > 0 else _MAX_HEADER_VALUE]
        return unfold(_undo_surrogates(value))

    def raw_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self._raw if key.lower() == wanted]

    def raw(self, name: str) -> str:
        values = self.raw_all(name)
        return values[0] if values else ""

    def get(self, name: str) -> str:
        return decode_words(self.raw(name))

    def has(self, name: str) -> bool:
        return bool(self.raw_all(name))


def _undo_surrogates(value: str) -> str:
    """Turn 8-bit header bytes (kept as surrogate escapes by the parser) into text."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"), "utf-8")[0]


def unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; on any error keep the raw text."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except Exception:
        return value
    out = []
    for chunk, charset in chunks:
        out.append(chunk if isinstance(chunk, str) else decode_bytes(chunk, charset)[0])
    return "".join(out)


def sender_of(headers: Headers) -> tuple[str, str, str]:
    """(display name, lower-cased addr-spec, "") of the one From mailbox, or ("", "", why not).

    Exactly one From header holding exactly one mailbox, parsed strictly
    (agent.mail_in.mailbox_parse). Sender and Reply-To never name the sender: anyone
    can write them. The mailbox is parsed before RFC 2047 decoding, so an
    encoded comma or bracket in a display name cannot change the address.
    """
    values = headers.raw_all("From")
    if not values:
        return "", "", "unclear sender: no From header"
    if len(values) > 1:
        return "", "", f"unclear sender: {len(values)} From headers"
    try:
        name, addr = parse_mailbox(values[0], decode_words)
    except NotOneMailbox as exc:
        return "", "", f"unclear sender: {exc} in From: {values[0][:200]!r}"
    return name, addr, ""


def addresses(raw_value: str) -> list[tuple[str, str]]:
    pairs = getaddresses([raw_value]) if raw_value else []
    return [(decode_words(name), addr.strip().lower()) for name, addr in pairs if "@" in addr]


def recipients(headers: Headers) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        for value in headers.raw_all(name):
            found.update((addr, None) for _, addr in addresses(value))
    return tuple(found)


_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(value: str) -> tuple[str, ...]:
    """Message ids in `<...>` (RFC 5322 3.6.4); bare tokens when there are no brackets."""
    found = _ID.findall(value) or value.split()
    return tuple(dict.fromkeys(found))


def first_id(value: str) -> str:
    ids = message_ids(value)
    return ids[0] if ids else ""


def parse_date(value: str) -> tuple[datetime | None, str | None]:
    if not value:
        return None, None
    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, f"unparseable Date: {value[:80]!r}"
    return (date if date.tzinfo else date.replace(tzinfo=UTC)), None
