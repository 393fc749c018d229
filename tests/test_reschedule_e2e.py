"""Reschedule and skip requests by email and by calendar COUNTER, through the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import icalendar
import pytest

from tests.test_lifecycle_e2e import BERLIN, Program, at, gmail_reply

ANA, BEN = "ana@example.org", "Ben.Becker@example.net"


def both_agree(program: Program) -> Program:
    """ana-ben onboarded on 15 February, both agree by noon, and the next morning's tick."""
    program.tick("2027-02-15T09:00")
    for who, name in ((ANA, "Ana Alvarez"), (BEN, "Ben Becker")):
        original = program.only(who, "agreement")
        program.deliver(
            gmail_reply(original, f"{name} <{who}>", "I agree.", at("2027-02-15T12:00"))
        )
    program.tick("2027-02-16T09:00")
    return program


@pytest.fixture
def booked(tmp_path: Path, cli) -> Program:
    program = both_agree(Program(tmp_path, cli))
    assert program.status("2027-02-16T09:00")["ana-ben"]["stage"] == "scheduled"
    return program


def invitations(program: Program, to: str) -> list[EmailMessage]:
    return sorted(
        (m for m in program.sent(to) if "nvitation" in m["Subject"]),
        key=lambda m: int(_calendar(m).walk("VEVENT")[0]["SEQUENCE"]),
    )


def _calendar(message: EmailMessage) -> icalendar.Calendar:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return icalendar.Calendar.from_ical(part.get_content())


def next_meeting(program: Program, when: str) -> datetime:
    return datetime.fromisoformat(program.status(when)["ana-ben"]["meetings"]["next"])


def meeting_after(program: Program, meeting: datetime) -> datetime:
    """The series' meeting after `meeting`: a week later on the series' own clock, which
    is not 168 hours when a participant's clock changes in between."""
    return next_meeting(program, (meeting + timedelta(minutes=1)).isoformat())


def needs_you(program: Program) -> list[EmailMessage]:
    return [m for m in program.sent("coordinator@example.org") if "Needs you" in m["Subject"]]


def test_a_reschedule_by_email_moves_one_meeting_for_both(booked: Program) -> None:
    program = booked
    meeting = next_meeting(program, "2027-03-03T09:00")  # the second meeting, next week
    invitation = invitations(program, BEN)[0]
    program.deliver(
        gmail_reply(
            invitation,
            f"Ben Becker <{BEN}>",
            "Hi! Can we move our next meeting to Thursday, same time? Thanks, Ben",
            at("2027-03-03T10:00"),
        )
    )
    program.tick("2027-03-03T11:00")
    thursday = meeting + timedelta(days=3 - meeting.weekday())  # Thursday of that week
    assert next_meeting(program, "2027-03-03T11:00") == thursday
    assert needs_you(program) == []  # handled: nobody had to step in
    for who in (ANA, BEN):
        update = invitations(program, who)[-1]
        assert update["Subject"].startswith("Updated invitation")
        events = list(_calendar(update).walk("VEVENT"))
        override = next(e for e in events if e.get("RECURRENCE-ID"))
        assert override["RECURRENCE-ID"].dt == meeting
        assert override["DTSTART"].dt == thursday and int(override["SEQUENCE"]) == 1
    # the organizer's calendar holds the move too
    stored = icalendar.Calendar.from_ical((program.root / "calendar" / "program.ics").read_bytes())
    override = next(e for e in stored.walk("VEVENT") if e.get("RECURRENCE-ID"))
    assert override["RECURRENCE-ID"].dt == meeting and override["DTSTART"].dt == thursday
    program.tick("2027-03-03T12:00")  # nothing twice
    assert len(invitations(program, ANA)) == 2


def test_a_calendar_counter_moves_the_meeting_it_names(booked: Program) -> None:
    program = booked
    invitation = invitations(program, ANA)[0]
    master = _calendar(invitation).walk("VEVENT")[0]
    meeting = next_meeting(program, "2027-03-10T09:00")
    later = meeting + timedelta(days=1)
    counter = icalendar.Calendar()
    counter.add("prodid", "-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN")
    counter.add("version", "2.0")
    counter.add("method", "COUNTER")
    event = icalendar.Event()
    event.add("uid", str(master["UID"]))
    event.add("sequence", 0)
    event.add("recurrence-id", meeting.astimezone(BERLIN))
    event.add("dtstart", later.astimezone(BERLIN))
    event.add("dtend", later.astimezone(BERLIN) + timedelta(minutes=45))
    event.add("dtstamp", at("2027-03-10T10:00"))
    attendee = icalendar.vCalAddress(f"mailto:{ANA}")
    attendee.params["PARTSTAT"] = "TENTATIVE"
    event.add("attendee", attendee)
    event.add("comment", "Wednesday would suit me better this week.")
    counter.add_component(event)
    message = EmailMessage()
    message["From"] = f"Ana Alvarez <{ANA}>"
    message["To"] = invitation["Reply-To"]
    message["Subject"] = "New Time Proposed: " + invitation["Subject"]
    message["Date"] = format_datetime(at("2027-03-10T10:00"))
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("Wednesday would suit me better this week.")
    message.add_alternative(
        counter.to_ical(), maintype="text", subtype="calendar", params={"method": "COUNTER"}
    )
    program.deliver(message)
    out = program.tick("2027-03-10T11:00")
    assert next_meeting(program, "2027-03-10T11:00") == later, out
    assert needs_you(program) == []
    assert invitations(program, BEN)[-1]["Subject"].startswith("Updated invitation")


def test_a_time_that_does_not_fit_goes_to_the_coordinator_with_the_reason(booked: Program) -> None:
    program = booked
    before = next_meeting(program, "2027-03-03T09:00")
    invitation = invitations(program, BEN)[0]
    program.deliver(
        gmail_reply(
            invitation,
            f"Ben Becker <{BEN}>",
            "Could we move our next session to Saturday 8pm?",
            at("2027-03-03T10:00"),
        )
    )
    program.tick("2027-03-03T11:00")
    assert next_meeting(program, "2027-03-03T11:00") == before
    (notice,) = needs_you(program)
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert "asks to reschedule a meeting" in body and "outside" in body and "hours" in body
    assert len(invitations(program, ANA)) == 1  # no invitation for a time that does not work


def test_a_skip_cancels_one_meeting_for_both(booked: Program) -> None:
    program = booked
    meeting = next_meeting(program, "2027-03-03T09:00")
    following = meeting_after(program, meeting)
    invitation = invitations(program, ANA)[0]
    program.deliver(
        gmail_reply(
            invitation,
            f"Ana Alvarez <{ANA}>",
            "I'm travelling next week, let's skip next week's session.",
            at("2027-03-03T10:00"),
        )
    )
    program.tick("2027-03-03T11:00")
    assert next_meeting(program, "2027-03-03T11:00") == following
    for who in (ANA, BEN):
        update = invitations(program, who)[-1]
        assert "cancelled" in update["Subject"]
        master = next(e for e in _calendar(update).walk("VEVENT") if not e.get("RECURRENCE-ID"))
        exdates = (
            [d.dt for x in master.get("EXDATE", []) for d in x.dts]
            if isinstance(master.get("EXDATE"), list)
            else [d.dt for d in master["EXDATE"].dts]
        )
        assert meeting in exdates
    # no follow-up is sent for the meeting that did not happen
    program.tick((meeting + timedelta(hours=3)).astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M"))
    follow_ups = [m for m in program.sent(ANA) if m["Subject"].startswith("How did")]
    assert follow_ups  # for the first meeting, which did take place
    assert not [m for m in follow_ups if meeting.strftime("%-d March") in m["Subject"]]
