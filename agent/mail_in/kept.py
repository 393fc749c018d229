"""What of a received message is kept, and how its text is made safe to show. Pure.

Anyone can write to the program's address, so what a message leaves in the state is
bounded: the text of an inbound record is cut at `TEXT_KEPT` characters with a visible
note (the raw message stays in the mailbox's processed or quarantine folder), and of
the messages quarantined in one day only the first `PER_SENDER` from one address, and
the first `PER_DAY` in all, keep their subject and text; the rest keep a record without
them, which is what the digest counts.

Received text may hold lone surrogates: a `charset=unicode_escape` part decodes
`\\ud800` to one, and bytes decoded with `surrogateescape` become them. Such a string
cannot be encoded as UTF-8, so an email quoting it would fail to send. `visible` turns
every lone surrogate into U+FFFD, which a reader sees, and joins escaped surrogate pairs
into the character they stand for.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.mail_in.message import InboundMessage

TEXT_KEPT = 64_000  # characters of text kept per inbound record
SUBJECT_KEPT = 998  # characters of a subject or address (RFC 5322's line limit)
PER_SENDER = 5  # quarantined messages a day from one address that keep subject and text
PER_DAY = 100  # quarantined messages a day, all senders, that keep subject and text


def visible(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD; never raises."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def readable(msg: InboundMessage) -> InboundMessage:
    """`msg` with `visible` applied to every piece of text in it."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        clean = _visible_in(value)
        if clean is not value:
            changes[f.name] = clean
    return dataclasses.replace(msg, **changes) if changes else msg


def _visible_in(value: Any) -> Any:
    if isinstance(value, str):
        clean = visible(value)
        return value if clean == value else clean
    if isinstance(value, tuple):
        items = tuple(_visible_in(v) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def capped(text: str, folder: str, limit: int = TEXT_KEPT) -> str:
    """`text`, cut at `limit` characters with a note saying where the whole message is."""
    if len(text) <= limit:
        return text
    note = f"{len(text) - limit:,} characters not kept; the raw message is in the {folder} folder"
    return f"{text[:limit]}\n[… {note}]"


def short(text: str, limit: int = SUBJECT_KEPT) -> str:
    """A one-line value (subject, address, name) cut at `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass
class QuarantineAllowance:
    """How many quarantined messages kept their text today, per sender and in all.

    Stored in the store's meta as `quarantine_kept`; a new day starts from zero. Senders
    are counted by a digest of their address, so the counter holds no address (that
    `mentormail forget` would have to find).
    """

    day: str
    senders: dict[str, int] = field(default_factory=dict)
    total: int = 0
    told: int = 0  # of those, how many went to the coordinator as a notice (a stranger's)

    @classmethod
    def of(cls, stored: Any, today: date) -> QuarantineAllowance:
        if isinstance(stored, dict) and stored.get("day") == today.isoformat():
            senders = stored.get("senders") or {}
            total, told = int(stored.get("total") or 0), int(stored.get("told") or 0)
            return cls(today.isoformat(), dict(senders), total, told)
        return cls(today.isoformat())

    def take(self, sender: str) -> bool:
        """Whether one more quarantined message from `sender` keeps its text (and count it)."""
        who = _digest(sender)
        if self.total >= PER_DAY or self.senders.get(who, 0) >= PER_SENDER:
            return False
        self.senders[who] = self.senders.get(who, 0) + 1
        self.total += 1
        return True

    def tell(self, sender: str, limit: int) -> bool:
        """Whether a quarantined message that kept its text goes to the coordinator (and
        count it): the first of the day from `sender`, at most `limit` a day in all."""
        if self.told >= limit or self.senders.get(_digest(sender), 0) > 1:
            return False
        self.told += 1
        return True

    def record(self) -> dict[str, Any]:
        return {"day": self.day, "senders": self.senders, "total": self.total, "told": self.told}


def _digest(sender: str) -> str:
    return hashlib.sha256(sender.encode("utf-8", "replace")).hexdigest()[:16]
