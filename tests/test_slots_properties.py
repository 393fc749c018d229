"""Properties of `find_series` over real zone pairs, checked by plain datetime arithmetic.

For random people (zone, working days, window to the 5 minutes), program ranges in
2026-2030, meeting lengths, intervals and busy times:

- every occurrence of every returned series lies inside both people's windows, start and
  end, on each person's own clock; starts at a wall-clock time that exists exactly once;
  overlaps no busy interval; lies between `earliest` and `until`;
- when nothing is returned, a brute-force search (every 15-minute start on each weekday
  in each anchor zone, checked occurrence by occurrence over the whole range) finds
  nothing either, and when something is, the brute force finds a series too.

Busy times are random, some weekly, and some are put on meetings of the series that
would be chosen without them, so that the finder has to move.

Plus named cases across the 2027 DST changes that tests/test_slots.py does not cover:
Sydney-London in October, New York-Berlin in November, Kolkata-Los Angeles all year.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.meetings.slots import Availability, SeriesSlot, find_series

ZONES = [
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Europe/London",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Pacific/Auckland",
    "America/New_York",
    "Europe/Berlin",
    "Africa/Nairobi",
    "America/Chicago",
    "America/St_Johns",  # -03:30 with DST
    "Asia/Kathmandu",  # +05:45
    "Australia/Adelaide",  # +09:30 with DST
    "Pacific/Chatham",  # +12:45 with DST
    "Europe/Dublin",  # "negative" DST in tzdata
    "America/Santiago",  # southern-hemisphere DST, changes at midnight
    "Africa/Cairo",
    "Asia/Tehran",
    "Europe/Helsinki",
]
WEEKDAYS = range(5)
STEP = timedelta(minutes=15)
SYDNEY, LONDON = ZoneInfo("Australia/Sydney"), ZoneInfo("Europe/London")
NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
KOLKATA, LOS_ANGELES = ZoneInfo("Asia/Kolkata"), ZoneInfo("America/Los_Angeles")


# --- the independent checker --------------------------------------------------------------


def _minutes(value: time, *, end: bool) -> int:
    """Minutes into the day; an end of 23:59 means the end of the day (agent.meetings.timefmt's 24:00)."""
    if end and (value.hour, value.minute) >= (23, 59):
        return 24 * 60
    return value.hour * 60 + value.minute


def fits(start: datetime, duration: timedelta, person: Availability) -> bool:
    """The meeting lies inside the window of the weekday it starts on, on the person's clock."""
    local = start.astimezone(person.tz)
    window = person.hours.get(local.weekday())
    if window is None:
        return False
    end = (start.astimezone(UTC) + duration).astimezone(person.tz)
    begin_min = local.hour * 60 + local.minute
    end_min = (end.date() - local.date()).days * 24 * 60 + end.hour * 60 + end.minute
    return _minutes(window[0], end=False) <= begin_min and end_min <= _minutes(window[1], end=True)


def exists_once(value: datetime) -> bool:
    """The wall-clock time is neither in a DST gap nor in a fold."""
    return value.replace(fold=0).utcoffset() == value.replace(fold=1).utcoffset()


def clashes(
    start: datetime, duration: timedelta, busy: Sequence[tuple[datetime, datetime]]
) -> bool:
    end = start + duration
    return any(start < b and a < end for a, b in busy)


def assert_valid(
    slot: SeriesSlot,
    people: Sequence[Availability],
    earliest: datetime,
    until: datetime,
    busy: Sequence[tuple[datetime, datetime]] = (),
) -> None:
    starts = slot.occurrences()
    assert starts and starts[0] >= earliest and starts[-1] <= until
    for start in starts:
        assert exists_once(start), start
        assert not clashes(start, slot.duration, busy), start
        for person in people:
            assert fits(start, slot.duration, person), (start, person)


def brute_force(
    people: Sequence[Availability],
    *,
    anchors: Sequence[ZoneInfo],
    earliest: datetime,
    until: datetime,
    every_weeks: int,
    duration: timedelta,
    busy: Sequence[tuple[datetime, datetime]],
) -> datetime | None:
    """The first start of any valid series, by trying every grid start (find_series' rules).

    A series anchored in `tz` starts on the first such weekday on/after `earliest`'s date
    in `tz`, or a week later if that start is before `earliest` (wall clock), and repeats
    every `every_weeks` weeks while the wall-clock start is not after `until`'s.
    """
    for tz in anchors:
        earliest_wall = earliest.astimezone(tz).replace(tzinfo=None)
        until_wall = until.astimezone(tz).replace(tzinfo=None)
        for weekday in range(7):
            d0 = earliest_wall.date() + timedelta(days=(weekday - earliest_wall.weekday()) % 7)
            for minute in range(0, 24 * 60, int(STEP.total_seconds() // 60)):
                wall = time(minute // 60, minute % 60)
                day = d0 if datetime.combine(d0, wall) >= earliest_wall else d0 + timedelta(7)
                starts: list[datetime] = []
                while datetime.combine(day, wall) <= until_wall:
                    start = datetime.combine(day, wall, tzinfo=tz)
                    if not (
                        exists_once(start)
                        and not clashes(start, duration, busy)
                        and all(fits(start, duration, p) for p in people)
                    ):
                        break
                    starts.append(start)
                    day += timedelta(weeks=every_weeks)
                else:
                    if starts:
                        return starts[0]
    return None


# --- random programs ------------------------------------------------------------------------


@st.composite
def people_strategy(draw: st.DrawFn, name: str) -> Availability:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    days = draw(
        st.one_of(st.just(frozenset(WEEKDAYS)), st.frozensets(st.integers(0, 6), min_size=1))
    )
    start = draw(st.integers(0, 23 * 12)) * 5  # minutes, on a 5-minute grid
    end = min(24 * 60, start + draw(st.integers(6, 14 * 12)) * 5)
    window = (
        time(start // 60, start % 60),
        time(23, 59) if end == 24 * 60 else time(end // 60, end % 60),
    )
    return Availability(f"{name} ({zone.key})", zone, dict.fromkeys(days, window))


programs = st.fixed_dictionaries(
    {
        "a": people_strategy("A"),
        "b": people_strategy("B"),
        "start": st.dates(date(2026, 1, 1), date(2030, 6, 30)),
        "hour": st.integers(0, 23),
        "weeks": st.integers(2, 30),
        "every_weeks": st.integers(1, 2),
        "minutes": st.sampled_from([30, 45, 60, 90]),
        # (start, length) in quarter hours from `earliest`, and whether it repeats weekly
        "busy": st.lists(
            st.tuples(st.integers(0, 14 * 96), st.integers(1, 16), st.booleans()), max_size=4
        ),
        "count": st.integers(1, 3),
    }
)


def _search(program: dict, busy: list[tuple[datetime, datetime]]) -> tuple[Any, dict]:
    a, b = program["a"], program["b"]
    earliest = datetime.combine(program["start"], time(program["hour"]), tzinfo=a.tz)
    terms = {
        "earliest": earliest,
        "until": earliest + timedelta(weeks=program["weeks"]),  # same wall clock: no DST gap
        "every_weeks": program["every_weeks"],
        "duration": timedelta(minutes=program["minutes"]),
        "anchors": (a.tz, b.tz),
    }
    return find_series([a, b], busy=busy, count=program["count"], **terms), terms


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs, data=st.data())
def test_every_series_fits_and_none_is_missed(program: dict, data: st.DataObject) -> None:
    a, b = program["a"], program["b"]
    free, terms = _search(program, [])
    earliest, duration = terms["earliest"], terms["duration"]
    busy = [
        (earliest + q * STEP + week, earliest + (q + length) * STEP + week)
        for q, length, weekly in program["busy"]
        for week in [timedelta(weeks=n) for n in range(program["weeks"] + 1 if weekly else 1)]
    ]
    # and busy times that hit meetings of what would be chosen without them
    for slot in free.slots:
        starts = slot.occurrences()
        hits = data.draw(st.lists(st.integers(0, len(starts) - 1), max_size=3), label="hits")
        for i in hits:
            shift = data.draw(st.integers(-3, 3), label="shift") * STEP
            busy.append((starts[i] + shift, starts[i] + shift + duration))
    result, _ = _search(program, busy)
    for slot in result.slots:
        assert slot.tz in terms["anchors"] and slot.interval_weeks == program["every_weeks"]
        assert_valid(slot, [a, b], earliest, terms["until"], busy)
    found = brute_force([a, b], busy=busy, **terms)
    if result.slots:  # the brute force is no vacuous check: it finds one too
        assert found is not None
    else:
        assert result.explanation
        assert found is None, f"find_series found nothing, but a series starting {found} fits"


# --- named cases across the 2027 changes ---------------------------------------------------


def search(people: Sequence[Availability], earliest: datetime, until: datetime, anchors, count=10):
    return find_series(
        people,
        earliest=earliest,
        until=until,
        every_weeks=1,
        duration=timedelta(minutes=45),
        anchors=anchors,
        count=count,
    )


def test_sydney_london_across_the_october_changes() -> None:
    """Sydney starts DST on 3 Oct 2027, London ends it on 31 Oct: the gap grows 9h -> 11h.

    Sydney 07:00-10:00 and London 19:00-23:00 (every evening) overlap on Sydney's clock in
    07:00-08:00 (September), 07:00-09:00 (October), 07:00-10:00 (November): only
    07:00-08:00 holds all along, which is 22:00-23:00 on London's clock in September.
    """
    sam = Availability("Sam", SYDNEY, {d: (time(7), time(10)) for d in WEEKDAYS})
    lee = Availability("Lee", LONDON, {d: (time(19), time(23)) for d in range(7)})
    earliest = datetime(2027, 9, 6, tzinfo=SYDNEY)
    until = datetime(2027, 11, 30, 12, tzinfo=SYDNEY)
    for anchor, allowed in ((SYDNEY, {time(7), time(7, 15)}), (LONDON, {time(22), time(22, 15)})):
        result = search([sam, lee], earliest, until, (anchor,))
        assert result.slots
        for slot in result.slots:
            assert slot.first_start.astimezone(anchor).time() in allowed
            assert_valid(slot, [sam, lee], earliest, until)
    # the same start anchored in Sydney drifts two hours on London's clock over the autumn
    (slot,) = search([sam, lee], earliest, until, (SYDNEY,), count=1).slots
    assert {s.astimezone(LONDON).hour for s in slot.occurrences()} == {20, 21, 22}
    # and 08:00 Sydney (23:00 London in September) is outside Lee's evening
    late = SeriesSlot(
        SYDNEY, datetime(2027, 9, 6, 8, tzinfo=SYDNEY), timedelta(minutes=45), 1, until
    )
    assert not fits(late.occurrences()[0], late.duration, lee)


def test_new_york_berlin_across_the_november_changes() -> None:
    """Between 31 Oct (EU) and 7 Nov 2027 (US) New York is 5 hours behind Berlin, not 6."""
    ana = Availability("Ana", NEW_YORK, {d: (time(8), time(10)) for d in WEEKDAYS})
    ben = Availability("Ben", BERLIN, {d: (time(14), time(16)) for d in WEEKDAYS})
    earliest = datetime(2027, 10, 1, tzinfo=BERLIN)
    until = datetime(2027, 11, 30, 12, tzinfo=BERLIN)
    for anchor, allowed in ((NEW_YORK, {time(9), time(9, 15)}), (BERLIN, {time(14), time(14, 15)})):
        result = search([ana, ben], earliest, until, (anchor,))
        assert result.slots
        for slot in result.slots:
            assert slot.first_start.astimezone(anchor).time() in allowed
            assert_valid(slot, [ana, ben], earliest, until)
            odd_week = [
                s for s in slot.occurrences() if date(2027, 10, 31) < s.date() < date(2027, 11, 7)
            ]
            assert odd_week, "the series must cover the week with the 5-hour gap"
    naive = SeriesSlot(
        BERLIN, datetime(2027, 10, 4, 15, tzinfo=BERLIN), timedelta(minutes=45), 1, until
    )
    misses = [s for s in naive.occurrences() if not fits(s, naive.duration, ana)]
    assert [m.date() for m in misses] == [date(2027, 11, 1)]  # New York 10:00 that Monday


def test_kolkata_los_angeles_across_both_us_changes() -> None:
    """India keeps +05:30 all year; Los Angeles changes on 14 Mar and 7 Nov 2027.

    Priya works 08:00-10:30 Kolkata, Luis 18:00-21:00 Los Angeles (the evening before on
    the calendar): 13h30 apart in winter, 12h30 in summer, so a Kolkata-anchored meeting
    must start by 08:45 and one anchored in Los Angeles at 19:30 or later.
    """
    priya = Availability("Priya", KOLKATA, {d: (time(8), time(10, 30)) for d in WEEKDAYS})
    luis = Availability("Luis", LOS_ANGELES, {d: (time(18), time(21)) for d in range(7)})
    earliest = datetime(2027, 2, 1, tzinfo=KOLKATA)
    until = datetime(2027, 12, 31, 12, tzinfo=KOLKATA)
    allowed = {
        KOLKATA: {time(8), time(8, 15), time(8, 30), time(8, 45)},
        LOS_ANGELES: {time(19, 30), time(19, 45), time(20), time(20, 15)},
    }
    for anchor, starts in allowed.items():
        result = search([priya, luis], earliest, until, (anchor,))
        assert {s.first_start.astimezone(anchor).time() for s in result.slots} <= starts
        assert result.slots
        for slot in result.slots:
            assert_valid(slot, [priya, luis], earliest, until)
    (slot,) = search([priya, luis], earliest, until, (KOLKATA,), count=1).slots
    by_hour: dict[int, list[date]] = {}
    for start in slot.occurrences():
        by_hour.setdefault(start.astimezone(LOS_ANGELES).hour, []).append(start.date())
    summer, winter = sorted(by_hour.values(), key=len, reverse=True)
    assert min(summer) > date(2027, 3, 14) and max(summer) < date(2027, 11, 8)
    assert {d < date(2027, 3, 15) or d > date(2027, 11, 7) for d in winter} == {True}
