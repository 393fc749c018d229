"""The two protocols every back end implements, and the terms they use.

A **Mailbox** is the program's own mailbox: where participants' replies arrive
and through which the program's emails leave. `fetch` returns messages that
have not been handled yet; a message stays there until `mark_handled` moves it
out, so a crash between the two re-delivers it (the agent deduplicates by
Message-ID) instead of losing it. `send` delivers one message; `was_sent`
answers whether a message with that Message-ID already left, which lets the
executor finish an action whose outcome a crash left unknown without sending
it twice.

A **Calendar** is the organizer's calendar. Events are whole iCalendar
objects (RFC 5545) keyed by UID: `put_event` creates or replaces one,
`cancel_event` stores its cancelled form. A series may carry single meetings
that moved (override VEVENTs with RECURRENCE-ID) or are skipped (EXDATE); a back
end with an API for single meetings applies them there. `busy` reports busy intervals of
people the back end can see (an empty list when it cannot know).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Literal, Protocol

Outcome = Literal["processed", "quarantine"]


class ConnectorError(Exception):
    """A back end failed in a way the operator has to know about (unreachable, refused).

    Transient by default: the action is tried again on a later tick.
    """


class FolderUnusable(Exception):
    """A local connector's folder cannot be used: a file where the folder should be, or
    one it must write in that is read-only. Not a connector failure to retry: the
    operator fixes the path or its permissions (the CLI prints the line, exit 2)."""


class DeliveryRefused(ConnectorError):
    """The server refused some recipients permanently (SMTP 5xx, RFC 5321 4.2.1).

    Sending again will not help: the executor marks those addresses as failing
    and tells the coordinator instead of retrying.
    """

    def __init__(self, recipients: Sequence[str], reply: str) -> None:
        super().__init__(f"refused {', '.join(recipients)}: {reply}")
        self.recipients = tuple(recipients)
        self.reply = reply


@dataclass(frozen=True)
class RawMessage:
    ref: str  # the back end's handle for mark_handled (a Maildir file name, an IMAP UID)
    data: bytes


class Mailbox(Protocol):
    # What the provider lets one mailbox send: (per minute, per day); None where it sets
    # no limit or the server decides. agent.pairs.limits keeps the agent under it.
    send_limits: tuple[int | None, int | None]

    def fetch(self, cursor: str | None) -> tuple[list[RawMessage], str | None]:
        """Unhandled messages, oldest first, and the cursor to pass next time."""
        ...

    def mark_handled(self, ref: str, outcome: Outcome) -> None:
        """Move a fetched message out of the inbox, into the processed or quarantine folder."""
        ...

    def send(self, message: EmailMessage) -> None:
        """Deliver one message to the recipients in its headers."""
        ...

    def was_sent(self, message_id: str) -> bool:
        """Whether a message with this Message-ID (without <>) has already been sent."""
        ...

    def close(self) -> None: ...


class Waitable(Protocol):
    """A mailbox that can sleep until new mail arrives (IMAP IDLE, RFC 2177)."""

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True when new mail may have arrived."""
        ...


class Checkable(Protocol):
    """A back end that can report what works without changing anything."""

    def check(self) -> list[tuple[str, bool, str]]:
        """(what, ok, detail) lines: login, folders, capabilities, send permission ..."""
        ...


Span = tuple[datetime, datetime]


def merge_spans(spans: Sequence[Span]) -> list[Span]:
    """Busy intervals sorted, with overlapping and touching ones joined."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class Calendar(Protocol):
    # True when the back end itself sends the attendees their invitations, updates and
    # cancellations (Google Calendar, Exchange, Microsoft 365). It is then given the series
    # with its ATTENDEEs, and the agent's own emails carry no iMIP calendar part, so
    # nobody gets two invitations. False: it stores the organizer's copy only (PUBLISH).
    invites_attendees: bool

    def busy(
        self, emails: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        """Busy intervals per address between start and end (empty when unknown)."""
        ...

    def put_event(self, uid: str, ics: bytes) -> None:
        """Create or replace the event with this UID."""
        ...

    def cancel_event(self, uid: str, ics: bytes) -> None:
        """Store the cancelled form (STATUS:CANCELLED) of the event with this UID."""
        ...

    def close(self) -> None: ...
