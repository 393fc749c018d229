"""What a test needs from each back end to run the shared connector contract (test_contract.py).

A harness wraps one connector together with the server (or the provider's HTTP API, as
recorded or emulated at the HTTP layer) behind it, and lets a test look at that server
directly: put a message into the program's inbox the way the provider would, see what the
provider was asked to send, and read back the series the provider now holds.

Each connector's test module provides two pytest fixtures, `<type>_mail_harness` and
`<type>_calendar_harness` (for example `google_mail_harness`), that return these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from typing import Protocol

from connectors.base import Calendar, Mailbox, Outcome

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class StoredSeries:
    """A series as the calendar server holds it, expanded the server's way."""

    cancelled: bool
    attendees: frozenset[str]  # lower-case addresses the server invites (empty: none)
    meetings: tuple[Span, ...]  # (start, end) of every meeting that takes place, sorted, UTC


@dataclass(frozen=True)
class SentMail:
    message_id: str  # without <>
    recipients: frozenset[str]  # lower-case addresses the provider was asked to deliver to


class MailHarness(Protocol):
    mailbox: Mailbox

    def deliver(self, raw: bytes) -> None:
        """Put a message into the program's inbox, as the provider's delivery would."""
        ...

    def inbox(self) -> list[str]:
        """Message-IDs (without <>) of the messages still in the inbox."""
        ...

    def handled(self, outcome: Outcome) -> list[str]:
        """Message-IDs of the messages moved to that outcome's folder or label."""
        ...

    def sent(self) -> list[SentMail]:
        """What the provider accepted for delivery, in order."""
        ...


class CalendarHarness(Protocol):
    calendar: Calendar

    def stored(self, uid: str) -> StoredSeries | None:
        """The series with this iCalendar UID as the server holds it (None: not there)."""
        ...

    def make_busy(self, email: str, spans: Sequence[Span]) -> bool:
        """Give `email` these appointments on the server; False if this back end
        cannot read anyone's busy time (the contract then expects empty answers)."""
        ...


def message_id_of(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=policy.default)["Message-ID"]).strip().strip("<>")
