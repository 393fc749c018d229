"""A clock that stays put (issue 18, item 5): a series is anchored in one participant's zone,
never in the program's zone when neither lives there, a time that keeps both clocks steady
is preferred, and the invitation says whose clock is fixed and when the other's moves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from agent.meetings.slots import Availability, find_series
from tests.test_civil_hours import KOLKATA, LOS_ANGELES, LUCIA, PRIYA, GlobalProgram
from tests.test_lifecycle_e2e import _body, gmail_reply, outlook_reply

LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
WEEKDAYS = {d: (time(0), time(23, 59)) for d in range(5)}


def booked(program: GlobalProgram) -> GlobalProgram:
    """Lucía and Priya onboarded on Monday 15 February, both agree, the series is booked."""
    program.tick("2027-02-15T09:00Z")  # 14:30 in Kolkata
    program.tick("2027-02-15T16:00Z")  # 08:00 in Los Angeles
    evening = datetime(2027, 2, 16, 19, 10, tzinfo=KOLKATA)
    agreement = program.only(PRIYA, "agreement")
    program.deliver(gmail_reply(agreement, f"Priya Raman <{PRIYA}>", "I agree.", evening))
    program.tick("2027-02-16T14:00Z")
    morning = datetime(2027, 2, 17, 8, 50, tzinfo=LOS_ANGELES)
    agreement = program.only(LUCIA, "agreement")
    program.deliver(outlook_reply(agreement, f"Lucía Morales <{LUCIA}>", "I agree", morning))
    program.tick("2027-02-17T17:00Z")  # 09:00 in Los Angeles, 22:30 in Kolkata
    program.tick("2027-02-18T05:00Z")  # 10:30 in Kolkata
    return program


def the_series(program: GlobalProgram) -> icalendar.Calendar:
    (path,) = (program.root / "calendar" / "events").glob("*.ics")
    return icalendar.Calendar.from_ical(path.read_bytes())


def test_the_series_keeps_one_persons_clock_through_every_2027_dst_change(
    tmp_path: Path, cli
) -> None:
    program = booked(GlobalProgram(tmp_path, cli))
    calendar = the_series(program)
    start = calendar.walk("VEVENT")[0]["DTSTART"].dt
    anchor = str(start.tzinfo)
    assert anchor in ("America/Los_Angeles", "Asia/Kolkata")  # never the program's London
    meetings = recurring_ical_events.of(calendar).between(date(2027, 1, 1), date(2028, 1, 1))
    starts = sorted(e["DTSTART"].dt for e in meetings)
    assert starts[0].date() >= date(2027, 3, 1) and starts[-1].date() <= date(2027, 12, 17)
    # the US changes (14 March, 7 November) and London's (28 March, 31 October) all lie inside
    assert starts[0] < datetime(2027, 3, 14, tzinfo=UTC) and starts[-1] > datetime(
        2027, 11, 8, tzinfo=UTC
    )
    fixed, other = (
        (LOS_ANGELES, KOLKATA) if anchor == "America/Los_Angeles" else (KOLKATA, LOS_ANGELES)
    )
    assert len({s.astimezone(fixed).time() for s in starts}) == 1  # steady all year
    assert len({s.astimezone(other).time() for s in starts}) == 2  # one hour apart, with LA's DST
    assert len({s.astimezone(LONDON).time() for s in starts}) > 1  # London is nobody's clock

    # the invitation says whose clock is fixed, and from when the other's shows another time
    fixed_email, other_email = (LUCIA, PRIYA) if fixed == LOS_ANGELES else (PRIYA, LUCIA)
    text = _body(program.only(fixed_email, "Invitation"))
    assert "The time is fixed on your clock." in text
    assert "moves by an hour with the daylight-saving changes, from the meetings of" in text
    other_text = _body(program.only(other_email, "Invitation"))
    partner = "Lucía" if fixed == LOS_ANGELES else "Priya"
    assert f"The time is fixed on {partner}'s clock. On yours it moves by an hour" in other_text
    moved = [
        s for a, s in pairwise(starts) if a.astimezone(other).time() != s.astimezone(other).time()
    ]
    for meeting in moved:  # e.g. "15 March 2027" and "8 November 2027" on the other's clock
        local = meeting.astimezone(other)
        assert f"{local.day} {local:%B}" in other_text


def test_a_time_that_keeps_both_clocks_steady_is_preferred() -> None:
    # New York leaves DST a week after London (31 October, 7 November 2027): a fortnightly
    # series that meets on 1 November would show New York an hour off for that meeting.
    people = [
        Availability("Dana (Europe/London)", LONDON, WEEKDAYS),
        Availability("Eve (America/New_York)", NEW_YORK, WEEKDAYS),
    ]
    search = find_series(
        people,
        earliest=datetime(2027, 4, 5, tzinfo=LONDON),
        until=datetime(2027, 12, 15, tzinfo=LONDON),
        every_weeks=2,
        duration=timedelta(minutes=45),
        anchors=[LONDON, NEW_YORK],
        count=3,
    )
    assert search.slots
    for slot in search.slots:
        starts = slot.occurrences()
        assert len({s.astimezone(LONDON).time() for s in starts}) == 1
        assert len({s.astimezone(NEW_YORK).time() for s in starts}) == 1
        assert all(s.date() not in {date(2027, 11, d) for d in range(1, 7)} for s in starts)
