"""`validate` and booking agree on whether a pair can meet: the same search, the same notice.

Each case is a config where the program's dates and `cadence.meetings.min_notice` make the
difference (the hours alone would say the opposite), checked twice through the CLI: what
`validate` says, and what the ticks do once both people of ana-ben have agreed by email
(replies from Gmail's web client into the Maildir inbox).

- Onboarding three days before a three-week program, with four weeks' notice: the hours
  fit, but no booking can have its first meeting before the program closes. `validate`
  refuses it; the ticks escalate ana-ben to the coordinator instead of booking.
- Hours whose only window is lost from 14 to 28 March (the US changes clocks two weeks
  before the EU), with five weeks' notice after a one-week onboarding: every booking's
  first meeting comes after 28 March, so the lost fortnight does not matter. `validate`
  accepts it, and the ticks book a series that starts after it.
- Once onboarding is under way, `validate --now` warns about pairs a booking from now on
  could no longer give a time, while pairs already booked keep theirs (exit 0).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import THREE_PAIRS
from tests.test_lifecycle_e2e import BERLIN, Program, at, gmail_reply
from tests.test_reschedule_e2e import ANA, BEN

CADENCE = "  agreement: {reminder_after: 3d, escalate_after: 7d}\n  meetings: {every: 1w, duration: 45m}\n"


def program_with(tmp_path: Path, cli, *, cadence: str, **replacements: str) -> Program:
    text = THREE_PAIRS.replace(CADENCE, cadence)
    for old, new in replacements.values():
        assert old in text, old
        text = text.replace(old, new)
    assert text != THREE_PAIRS
    program = Program(tmp_path, cli)
    program.config.write_text(text, encoding="utf-8")
    return program


def agree(program: Program, welcomed: str, replied: str, booked: str) -> None:
    """The first tick at `welcomed`, Ana's and Ben's "I agree" at `replied`, a tick at `booked`."""
    program.tick(welcomed)
    for who, name in ((ANA, "Ana Alvarez"), (BEN, "Ben Becker")):
        original = program.only(who, "agreement")
        program.deliver(gmail_reply(original, f"{name} <{who}>", "I agree.", at(replied)))
    program.tick(booked)


@pytest.fixture
def sprint(tmp_path: Path, cli) -> Program:
    return program_with(
        tmp_path,
        cli,
        cadence="  onboarding: {before_start: 3d}\n"
        "  agreement: {reminder_after: 3d, escalate_after: 7d}\n"
        "  meetings: {every: 1w, duration: 45m, min_notice: 4w}\n",
        end=("end: 2027-05-31", "end: 2027-03-19"),
    )


def test_a_notice_longer_than_the_program_is_refused_and_booking_escalates(
    sprint: Program, cli
) -> None:
    code, out, err = cli("validate", sprint.config)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "no pair can be booked: after a booking as soon as onboarding opens on 26 February "
        "2027, cadence.meetings.min_notice (4w) puts the first meeting on 26 March 2027, "
        "after the program closes (19 March 2027 09:00); shorten the notice or start "
        "onboarding earlier (cadence.onboarding.before_start)"
    ]

    agree(sprint, "2027-02-26T09:00", "2027-02-26T12:00", "2027-02-27T09:00")
    status = sprint.status("2027-02-27T09:00")["ana-ben"]
    assert status["stage"] == "agreed" and status["meetings"]["rrule"] is None
    assert not [m for m in sprint.sent(BEN) if "nvitation" in m["Subject"]]
    (escalation,) = [m for m in sprint.sent("coordinator@example.org") if "ana-ben" in m["Subject"]]
    assert escalation["Subject"] == (
        "Pair ana-ben needs attention: No meeting time fits both people for the whole program"
    )


@pytest.fixture
def lost_fortnight(tmp_path: Path, cli) -> Program:
    # 11:00 in New York is 17:00 in Berlin, except from 14 to 28 March 2027
    return program_with(
        tmp_path,
        cli,
        cadence="  onboarding: {before_start: 1w}\n"
        "  agreement: {reminder_after: 3d, escalate_after: 7d}\n"
        "  meetings: {every: 1w, duration: 45m, min_notice: 5w}\n",
        ana=(
            'timezone: America/New_York, hours: "08:00-11:00"',
            'timezone: America/New_York, hours: "11:00-12:00"',
        ),
        ben=(
            'timezone: Europe/Berlin, hours: "13:00-16:00"',
            'timezone: Europe/Berlin, hours: "17:00-18:00"',
        ),
    )


def test_a_window_lost_before_the_first_meeting_can_be_is_accepted_and_booked(
    lost_fortnight: Program, cli
) -> None:
    program = lost_fortnight
    code, out, err = cli("validate", program.config)
    assert (code, err) == (0, ""), err
    assert "OK - 'Spring 2027 Mentoring'" in out
    # with the notice of the first part of this test, the lost fortnight is in the way
    short = program.config.read_text(encoding="utf-8").replace("min_notice: 5w", "min_notice: 2d")
    program.config.write_text(short, encoding="utf-8")
    code, _, err = cli("validate", program.config)
    assert code == 2
    assert err.splitlines() == [
        "pair ana-ben: no weekly 45-minute meeting fits both Ana (America/New_York, "
        "Mon–Fri 11:00–12:00) and Ben (Europe/Berlin, Mon–Fri 17:00–18:00) from 1 March "
        "to 31 May 2027: no common window for Ana (America/New_York) and Ben "
        "(Europe/Berlin) on Mon–Fri (America/New_York days) after 2027-03-14, when "
        "America/New_York starts daylight saving time"
    ]
    program.config.write_text(short.replace("min_notice: 2d", "min_notice: 5w"), encoding="utf-8")

    agree(program, "2027-02-22T09:00", "2027-02-22T12:00", "2027-02-23T09:00")
    status = program.status("2027-02-23T09:00")["ana-ben"]
    assert status["stage"] == "scheduled", status
    first = datetime.fromisoformat(status["meetings"]["next"]).astimezone(BERLIN)
    assert first >= at("2027-03-29T00:00") and f"{first:%H:%M}" == "17:00"  # after 28 March


def test_validate_now_warns_of_pairs_a_late_booking_cannot_seat(cli, write_config) -> None:
    """THREE_PAIRS with a week's notice, where Ben does not work on Fridays, validated on
    the morning of the Friday ten days before it ends: a booking now has its first meeting
    on 28 May at the earliest, and ana-ben (13:00 to 16:00 Berlin) has no Monday to
    Thursday left before the 09:00 closing on the 31st. The others would be booked on the
    Friday; nobody is refused."""
    text = THREE_PAIRS.replace(CADENCE, CADENCE.replace("45m}", "45m, min_notice: 1w}"))
    text = text.replace('hours: "13:00-16:00"', 'hours: "Mon-Thu 13:00-16:00"')
    path = write_config(text)
    code, _, err = cli("validate", path)  # booked as onboarding opens, all can meet
    assert (code, err) == (0, ""), err
    code, out, err = cli("validate", path, "--now", "2027-05-21T08:00")
    assert code == 0 and "OK" in out
    (warning,) = err.splitlines()
    # (the slot finder's own explanation in between is agent.meetings.slots' wording)
    assert warning.startswith(
        "warning: pair ana-ben: no weekly 45-minute meeting fits both Ana (America/New_York, "
        "Mon–Fri 08:00–11:00) and Ben (Europe/Berlin, Mon–Thu 13:00–16:00) from 28 May "
        "(cadence.meetings.min_notice, 1w, after a booking now, on 21 May 2027) to 31 May "
        "2027: "
    )
    assert warning.endswith("; pairs already booked keep their series")
    # before onboarding opens, or after the program closed, nothing is said about "now"
    for now in ("2027-01-10T12:00", "2027-06-02T12:00"):
        code, _, err = cli("validate", path, "--now", now)
        assert (code, err) == (0, ""), err
