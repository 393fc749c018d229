"""The connector contract: every mailbox and every calendar back end behaves the same.

The agent relies on exactly this and nothing else from a connector (connectors/base.py):

Mailbox
- `fetch(None)` returns what is in the inbox; `fetch(cursor)` returns what arrived since,
  and again anything fetched but not yet marked handled (a crash between the two must not
  lose a reply).
- `mark_handled` moves a message out of the inbox to the processed or quarantine place.
- `send` hands the message to the provider for its recipients, keeping its Message-ID;
  `was_sent` finds it by that Message-ID afterwards.

Calendar
- `put_event` stores the series so that the server expands it to exactly the meetings the
  agent planned (across a DST change, with a moved and a skipped meeting), replacing the
  previous version instead of adding a second one; calendars that invite by themselves
  (`invites_attendees`) invite both participants.
- `cancel_event` leaves no meeting.
- `busy` returns each person's appointments when the back end can read them, else nothing.

Each back end takes part through its `<type>_mail_harness` / `<type>_calendar_harness`
fixture (tests/contract.py), against a real server on 127.0.0.1 or the provider's HTTP API
emulated at the HTTP layer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest

from agent.meetings.ics import series_ics
from agent.meetings.slots import SeriesSlot
from agent.pairs.program import Series, original_key
from tests.contract import CalendarHarness, MailHarness, message_id_of

MAIL_BACKENDS = ["maildir", "imap", "google", "exchange", "graph"]
CALENDAR_BACKENDS = ["ics", "caldav", "google", "exchange", "graph"]

BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2027, 2, 1, 9, tzinfo=UTC)
MENTOR = ("Ana Álvarez", "ana@example.org")
MENTEE = ("Bo Chen", "bo@example.net")


@pytest.fixture(params=MAIL_BACKENDS)
def mail(request: pytest.FixtureRequest) -> MailHarness:
    return request.getfixturevalue(f"{request.param}_mail_harness")


@pytest.fixture(params=CALENDAR_BACKENDS)
def cal(request: pytest.FixtureRequest) -> CalendarHarness:
    return request.getfixturevalue(f"{request.param}_calendar_harness")


def incoming(subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"{MENTEE[1]}"
    message["To"] = "mentoring@example.test"
    message["Subject"] = subject
    message["Date"] = format_datetime(STAMP)
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    message.set_content(f"{subject}\n\nSounds good, see you Tuesday.\n")
    return bytes(message)


def ids(raws: list) -> list[str]:
    return [message_id_of(r.data) for r in raws]


# --- mailbox ------------------------------------------------------------------------------


def test_fetch_with_cursor_returns_each_message_until_handled(mail: MailHarness) -> None:
    first = incoming("First reply")
    mail.deliver(first)
    raws, cursor = mail.mailbox.fetch(None)
    assert ids(raws) == [message_id_of(first)]

    again, cursor = mail.mailbox.fetch(cursor)  # not marked handled: a crash came between
    assert ids(again) == [message_id_of(first)]
    mail.mailbox.mark_handled(again[0].ref, "processed")

    second = incoming("Second reply")
    mail.deliver(second)
    raws, cursor = mail.mailbox.fetch(cursor)
    assert ids(raws) == [message_id_of(second)]
    mail.mailbox.mark_handled(raws[0].ref, "quarantine")

    raws, cursor = mail.mailbox.fetch(cursor)
    assert raws == []
    mail.mailbox.close()  # handled messages are moved by now, even when moves are batched
    assert mail.inbox() == []
    assert mail.handled("processed") == [message_id_of(first)]
    assert mail.handled("quarantine") == [message_id_of(second)]


def test_fetch_keeps_order_and_full_content(mail: MailHarness) -> None:
    sent = [incoming(f"Reply {n} – ünïcödé") for n in range(3)]
    for raw in sent:
        mail.deliver(raw)
    raws, _ = mail.mailbox.fetch(None)
    assert ids(raws) == [message_id_of(r) for r in sent]
    for n, raw in enumerate(raws):
        message = message_from_bytes(raw.data, policy=policy.default)
        assert message["Subject"] == f"Reply {n} – ünïcödé"
        assert "Sounds good, see you Tuesday." in message.get_content()


def test_send_then_was_sent(mail: MailHarness) -> None:
    message = EmailMessage()
    message["From"] = "Mentoring <mentoring@example.test>"
    message["To"] = f"{MENTOR[0]} <{MENTOR[1]}>"
    message["Subject"] = "Welcome to the program"
    message["Message-ID"] = f"<mm.{uuid.uuid4().hex}@example.test>"
    message["Date"] = format_datetime(STAMP)
    message.set_content("Hello Ana,\n\nwelcome.\n")
    mid = str(message["Message-ID"]).strip("<>")

    assert not mail.mailbox.was_sent(mid)
    mail.mailbox.send(message)
    sent = mail.sent()
    assert [s.message_id for s in sent] == [mid]
    assert sent[0].recipients == {MENTOR[1]}
    assert mail.mailbox.was_sent(mid)
    assert not mail.mailbox.was_sent(f"other.{mid}")


# --- calendar -----------------------------------------------------------------------------


def booked(uid: str) -> Series:
    """Fortnightly Tuesdays 15:00 Berlin from 2 March 2027, across the 28 March DST change."""
    slot = SeriesSlot(
        tz=BERLIN,
        first_start=datetime(2027, 3, 2, 15, 0, tzinfo=BERLIN),
        duration=timedelta(minutes=45),
        interval_weeks=2,
        until=datetime(2027, 5, 31, 21, 59, tzinfo=UTC),
    )
    return Series.from_slot(uid, slot)


def calendar_bytes(cal: CalendarHarness, series: Series, *, cancel: bool = False) -> bytes:
    """What the executor hands the calendar (agent.commands.executor.Executor.calendar_bytes)."""
    invites = cal.calendar.invites_attendees
    method = "CANCEL" if cancel else ("REQUEST" if invites else "PUBLISH")
    return series_ics(
        method=method,
        uid=series.uid,
        sequence=series.sequence,
        slot=series.slot(),
        summary="Mentoring: Ana & Bo",
        description="Your regular mentoring meeting.",
        video_link="https://meet.example.test/p1",
        organizer=("Mentoring", "mentoring@example.test"),
        attendees=[MENTOR, MENTEE] if invites or cancel else [],
        dtstamp=STAMP,
        skipped=series.skipped,
        moved=series.moved_meetings(),
    )


def expected(series: Series) -> tuple[tuple[datetime, datetime], ...]:
    return tuple(
        sorted(
            (start.astimezone(UTC), (start + series.duration).astimezone(UTC))
            for _, start in series.meetings()
        )
    )


def new_uid() -> str:
    return f"mentormail-contract-{uuid.uuid4().hex[:8]}@example.test"


def test_put_event_stores_the_series_as_planned(cal: CalendarHarness) -> None:
    series = booked(new_uid())
    cal.calendar.put_event(series.uid, calendar_bytes(cal, series))
    stored = cal.stored(series.uid)
    assert stored is not None and not stored.cancelled
    assert stored.meetings == expected(series)
    # 15:00 in Berlin is 14:00 UTC before 28 March 2027 and 13:00 UTC after it
    assert {start.hour for start, _ in stored.meetings} == {14, 13}
    people = {MENTOR[1], MENTEE[1]} if cal.calendar.invites_attendees else set()
    assert stored.attendees == people


def test_updates_move_and_skip_single_meetings(cal: CalendarHarness) -> None:
    series = booked(new_uid())
    cal.calendar.put_event(series.uid, calendar_bytes(cal, series))
    starts = series.slot().occurrences()
    moved_to = datetime(2027, 3, 31, 16, 30, tzinfo=BERLIN)
    changed = series.model_copy(
        update={
            "sequence": 2,
            "skipped": [starts[1]],
            "moved": {original_key(starts[2]): moved_to},
        }
    )
    cal.calendar.put_event(changed.uid, calendar_bytes(cal, changed))
    cal.calendar.put_event(changed.uid, calendar_bytes(cal, changed))  # a retried update
    stored = cal.stored(series.uid)
    assert stored is not None
    assert stored.meetings == expected(changed)
    assert len(stored.meetings) == len(starts) - 1
    assert moved_to.astimezone(UTC) in {start for start, _ in stored.meetings}


def test_cancel_leaves_no_meeting(cal: CalendarHarness) -> None:
    series = booked(new_uid())
    cal.calendar.put_event(series.uid, calendar_bytes(cal, series))
    cancelled = series.model_copy(update={"status": "cancelled", "sequence": 1})
    cal.calendar.cancel_event(series.uid, calendar_bytes(cal, cancelled, cancel=True))
    stored = cal.stored(series.uid)
    assert stored is None or stored.cancelled or stored.meetings == ()


def test_busy_reports_appointments_it_can_see(cal: CalendarHarness) -> None:
    start = datetime(2027, 3, 1, tzinfo=UTC)
    spans = [
        (datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 10, tzinfo=UTC)),
        (datetime(2027, 3, 4, 13, 30, tzinfo=UTC), datetime(2027, 3, 4, 15, tzinfo=UTC)),
    ]
    visible = cal.make_busy(MENTOR[1], spans)
    found = cal.calendar.busy([MENTOR[1], MENTEE[1]], start, start + timedelta(days=7))
    if not visible:
        assert not any(found.values())
        return
    assert sorted((a.astimezone(UTC), b.astimezone(UTC)) for a, b in found[MENTOR[1]]) == spans
    assert not found.get(MENTEE[1])
