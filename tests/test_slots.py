"""Slot finding across DST changes on both sides, checked independently of the finder."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from agent.meetings.ics import series_ics
from agent.meetings.slots import Availability, SeriesSlot, find_series

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SYDNEY = ZoneInfo("Australia/Sydney")
LONDON = ZoneInfo("Europe/London")
WEEKDAYS = range(5)
MINUTES_45 = timedelta(minutes=45)

ANA = Availability("Ana (America/New_York)", NEW_YORK, {d: (time(8), time(10)) for d in WEEKDAYS})
BEN = Availability("Ben (Europe/Berlin)", BERLIN, {d: (time(14), time(16)) for d in WEEKDAYS})
START = datetime(2027, 3, 1, tzinfo=BERLIN)
END = datetime(2027, 6, 30, 23, 59, 59, tzinfo=BERLIN)


def outside(start: datetime, duration: timedelta, person: Availability) -> str | None:
    """Why one meeting does not fit `person` (None if it fits), by plain datetime arithmetic."""
    local_start = start.astimezone(person.tz)
    local_end = (start.astimezone(UTC) + duration).astimezone(person.tz)
    window = person.hours.get(local_start.weekday())
    if window is None:
        return f"{local_start:%a %Y-%m-%d} is not a working day"
    if local_end.date() != local_start.date() or not (
        window[0] <= local_start.time() and local_end.time() <= window[1]
    ):
        return f"{local_start:%a %Y-%m-%d %H:%M}-{local_end:%H:%M} outside {window}"
    return None


def assert_fits(slot: SeriesSlot, people: Sequence[Availability]) -> None:
    starts = slot.occurrences()
    assert starts, "a series without meetings"
    for start in starts:
        for person in people:
            assert outside(start, slot.duration, person) is None, (start, person.name)


def assert_wall_clock_exists(value: datetime) -> None:
    """The wall-clock time exists exactly once: no DST gap, no fold."""
    assert value.replace(fold=0).utcoffset() == value.replace(fold=1).utcoffset(), value


def search(people: Sequence[Availability], **kwargs: object) -> object:
    options: dict[str, object] = {
        "earliest": START,
        "until": END,
        "every_weeks": 1,
        "duration": MINUTES_45,
        "anchors": (BERLIN, NEW_YORK),
    }
    options.update(kwargs)
    return find_series(people, **options)  # type: ignore[arg-type]


def test_new_york_berlin_series_fits_across_both_dst_changes() -> None:
    result = search([ANA, BEN])
    assert result.explanation is None
    (slot,) = result.slots
    assert_fits(slot, [ANA, BEN])
    starts = slot.occurrences()
    assert starts[0] >= START and starts[-1] <= END
    assert len(starts) == 18  # every Monday from 1 March to 28 June 2027
    # The US is on DST 14-28 March while Europe is not: the series must cover that gap.
    assert any(
        datetime(2027, 3, 14, tzinfo=UTC) < s < datetime(2027, 3, 28, tzinfo=UTC) for s in starts
    )
    # The anchor keeps its wall clock; New York sees the move and the text says so.
    assert slot.describe(slot.tz).startswith("every Monday at ")
    other = NEW_YORK if slot.tz is BERLIN else BERLIN
    assert " from 15 Mar to 22 Mar" in slot.describe(other)


def test_naive_berlin_15_00_is_rejected() -> None:
    naive = SeriesSlot(BERLIN, datetime(2027, 3, 1, 15, tzinfo=BERLIN), MINUTES_45, 1, END)
    misses = [s for s in naive.occurrences() if outside(s, MINUTES_45, ANA)]
    assert misses and all(s.month == 3 and 14 <= s.day <= 28 for s in misses)
    many = search([ANA, BEN], count=20)
    assert many.slots
    for slot in many.slots:
        assert_fits(slot, [ANA, BEN])
        # (New York 09:00 is Berlin 15:00 in March, but moves to 14:00 while the US is on DST.)
        if slot.tz is BERLIN:
            assert slot.first_start.time() != time(15)


def test_anchor_zone_matters() -> None:
    """Anchored in New York only 09:00-09:15 survive; anchored in Berlin 14:00-14:15."""
    for anchor, allowed in ((NEW_YORK, {time(9), time(9, 15)}), (BERLIN, {time(14), time(14, 15)})):
        result = search([ANA, BEN], anchors=(anchor,), count=10)
        assert result.slots
        for slot in result.slots:
            assert slot.tz is anchor
            assert slot.first_start.time() in allowed
            assert_fits(slot, [ANA, BEN])


def test_sydney_london_no_series_explains_date_and_zone() -> None:
    sam = Availability("Sam (Australia/Sydney)", SYDNEY, {d: (time(7), time(9)) for d in WEEKDAYS})
    lee = Availability("Lee (Europe/London)", LONDON, {d: (time(20), time(22)) for d in range(7)})
    # Fits until Sydney leaves DST on 4 April 2027 (London's change on 28 March only narrows it).
    early = search(
        [sam, lee],
        earliest=datetime(2027, 3, 1, tzinfo=LONDON),
        until=datetime(2027, 4, 2, tzinfo=LONDON),
        anchors=(LONDON, SYDNEY),
    )
    assert early.slots
    assert_fits(early.slots[0], [sam, lee])
    result = search(
        [sam, lee],
        earliest=datetime(2027, 3, 1, tzinfo=LONDON),
        until=datetime(2027, 6, 30, 23, 59, tzinfo=LONDON),
        anchors=(LONDON, SYDNEY),
    )
    assert result.slots == ()
    assert result.explanation is not None
    assert "2027-04-04" in result.explanation
    assert "Australia/Sydney ends daylight saving time" in result.explanation


def test_no_overlap_at_all_is_explained() -> None:
    sam = Availability("Sam (Australia/Sydney)", SYDNEY, {d: (time(7), time(9)) for d in WEEKDAYS})
    lee = Availability("Lee (Europe/London)", LONDON, {d: (time(9), time(17)) for d in WEEKDAYS})
    result = search([sam, lee], anchors=())
    assert result.slots == ()
    assert result.explanation is not None
    assert result.explanation.startswith("no common working hours")
    assert "Sam (Australia/Sydney) works Mon–Fri 07:00–09:00 Australia/Sydney" in result.explanation
    assert "never overlap" in result.explanation


def test_short_overlap_is_quantified() -> None:
    ana = Availability("Ana", BERLIN, {d: (time(9), time(10)) for d in WEEKDAYS})
    ben = Availability("Ben", BERLIN, {d: (time(9, 30), time(12)) for d in WEEKDAYS})
    result = search([ana, ben])
    assert result.slots == ()
    assert result.explanation is not None
    assert "overlap at most 30 minutes" in result.explanation


def test_busy_intervals_are_avoided() -> None:
    wide = {d: (time(9), time(17)) for d in WEEKDAYS}
    ana, ben = Availability("Ana", BERLIN, wide), Availability("Ben", BERLIN, wide)
    best = search([ana, ben]).slots[0]
    clash = best.occurrences()[5]
    busy = [(clash - timedelta(minutes=10), clash + timedelta(minutes=20))]
    result = search([ana, ben], busy=busy, count=3)
    assert result.slots
    for slot in result.slots:
        assert_fits(slot, [ana, ben])
        for start in slot.occurrences():
            end = start + slot.duration
            assert not (start < busy[0][1] and busy[0][0] < end), start
    # Busy everywhere: nothing fits, and the explanation says that busy times are the reason.
    everything = [(START - timedelta(days=1), END + timedelta(days=1))]
    blocked = search([ana, ben], busy=everything)
    assert blocked.slots == ()
    assert blocked.explanation is not None and "busy" in blocked.explanation


def test_preferred_days_are_honoured() -> None:
    result = search([ANA, BEN], preferred_days=[3], count=2)
    assert result.slots[0].first_start.weekday() == 3
    assert_fits(result.slots[0], [ANA, BEN])
    # A preferred day on which nobody works falls back to working days.
    weekend = search([ANA, BEN], preferred_days=[6])
    assert weekend.slots and weekend.slots[0].first_start.weekday() == 0


def test_count_three_gives_distinct_options() -> None:
    wide = {d: (time(9), time(17)) for d in WEEKDAYS}
    people = [
        Availability("Ana", BERLIN, wide),
        Availability("Ben", ZoneInfo("Europe/Paris"), wide),
    ]
    result = search(people, count=3)
    assert len(result.slots) == 3 and result.explanation is None
    keys = {
        (s.first_start.astimezone(BERLIN).weekday(), s.first_start.astimezone(BERLIN).time())
        for s in result.slots
    }
    assert len(keys) == 3
    assert len({weekday for weekday, _ in keys}) == 3  # spread across weekdays first
    # On one day only: options must not be neighbouring 15-minute shifts of each other.
    one_day = search(people, count=3, preferred_days=[2])
    wednesday = [s for s in one_day.slots if s.first_start.weekday() == 2]
    assert len(wednesday) == 3
    starts = sorted(datetime.combine(START.date(), s.first_start.time()) for s in wednesday)
    assert all(b - a >= MINUTES_45 for a, b in itertools.pairwise(starts))
    for slot in result.slots + one_day.slots:
        assert_fits(slot, people)


def test_fewer_options_than_asked_are_explained() -> None:
    result = search([ANA, BEN], anchors=(BERLIN,), count=20)
    assert 0 < len(result.slots) < 20
    assert result.explanation is not None and "asked for 20" in result.explanation


def test_every_two_weeks() -> None:
    result = search([ANA, BEN], every_weeks=2)
    (slot,) = result.slots
    assert slot.interval_weeks == 2 and "INTERVAL=2" in slot.rrule
    starts = slot.occurrences()
    assert len(starts) == 9
    assert all((b.date() - a.date()).days == 14 for a, b in itertools.pairwise(starts))
    assert_fits(slot, [ANA, BEN])
    assert slot.describe(slot.tz).startswith("every 2 weeks on Monday at ")


def test_first_meeting_not_before_earliest() -> None:
    earliest = datetime(2027, 3, 1, 14, 5, tzinfo=BERLIN)  # Monday, after 14:00
    (slot,) = search([ANA, BEN], earliest=earliest, anchors=(BERLIN,)).slots
    assert slot.first_start >= earliest
    assert_fits(slot, [ANA, BEN])


def test_nonexistent_and_ambiguous_local_times_are_not_chosen() -> None:
    # 14 March 2027 02:00-03:00 does not exist in New York; 7 November 01:00-02:00 exists twice.
    night_owl = Availability("Nat", NEW_YORK, {6: (time(2), time(3, 30))})
    spring = search(
        [night_owl],
        earliest=datetime(2027, 3, 1, tzinfo=NEW_YORK),
        until=datetime(2027, 4, 30, tzinfo=NEW_YORK),
        duration=timedelta(minutes=30),
        anchors=(NEW_YORK,),
        count=5,
    )
    assert [s.first_start.time() for s in spring.slots] == [time(3)]
    early_bird = Availability("Eve", NEW_YORK, {6: (time(1), time(2, 30))})
    autumn = search(
        [early_bird],
        earliest=datetime(2027, 10, 1, tzinfo=NEW_YORK),
        until=datetime(2027, 11, 30, tzinfo=NEW_YORK),
        duration=timedelta(minutes=30),
        anchors=(NEW_YORK,),
        count=5,
    )
    assert [s.first_start.time() for s in autumn.slots] == [time(2)]
    for slot in (*spring.slots, *autumn.slots):
        for start in slot.occurrences():
            assert_wall_clock_exists(start)


@pytest.mark.parametrize("every_weeks", [1, 2, 3])
def test_occurrences_round_trip_through_ics_rrule(every_weeks: int) -> None:
    result = search([ANA, BEN], every_weeks=every_weeks, count=3)
    assert result.slots
    for slot in result.slots:
        ics = series_ics(
            method="REQUEST",
            uid="uid-1@mentormail",
            sequence=0,
            slot=slot,
            summary="Mentoring",
            description="",
            video_link="https://meet.example.org/x",
            organizer=("Coordinator", "coord@example.org"),
            attendees=[("Ana", "ana@example.org")],
            dtstamp=datetime(2027, 2, 1, tzinfo=UTC),
        )
        event = Calendar.from_ical(ics).walk("VEVENT")[0]
        dtstart = event.decoded("DTSTART")
        rule = event["RRULE"].to_ical().decode()
        expanded = list(rrulestr(rule, dtstart=dtstart))
        assert expanded == slot.occurrences()
        assert [e.utcoffset() for e in expanded] == [o.utcoffset() for o in slot.occurrences()]


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        search([ANA, BEN], earliest=datetime(2027, 3, 1))
    with pytest.raises(ValueError):
        search([ANA, BEN], every_weeks=0)
    assert search([ANA, BEN], until=START - timedelta(days=1)).slots == ()


def test_a_year_with_three_anchors_and_wide_windows() -> None:
    """The shape of a 10,000-pair program's searches (timed in bench/slots.py)."""
    wide = {d: (time(9), time(17)) for d in WEEKDAYS}
    people = [Availability("Ana", BERLIN, wide), Availability("Ben", NEW_YORK, wide)]
    found = find_series(
        people,
        earliest=START,
        until=START + timedelta(days=365),
        every_weeks=1,
        duration=MINUTES_45,
        anchors=(BERLIN, NEW_YORK, LONDON),
        count=3,
    )
    assert len(found.slots) == 3
    for slot in found.slots:
        assert len(slot.occurrences()) >= 52  # a year of weekly meetings
        for start in slot.occurrences():
            for person in people:
                assert outside(start, slot.duration, person) is None, (start, person.name)
