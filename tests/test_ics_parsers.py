"""Every event the agent writes expands to the same UTC instants in every parser.

The parsers are those of the calendars people use: vobject (Radicale's parser), ical.js
(Thunderbird, Nextcloud; run with node), icalendar + recurring-ical-events (the agent's
own reading, and Python CalDAV tools), and a Radicale server's own expansion. Each must put every meeting where the
planner put it, for pairs whose zones change offset on different dates through 2027:
Sydney/London (the southern and northern changes in opposite directions), New York/Berlin
(two weeks apart in March, one week in autumn) and Kolkata/Los Angeles (one zone without
DST), with the series anchored in either person's zone.

The events are built by the agent's own code: the slot finder's series, changed by the
pair state machine's own events (a moved meeting, a skipped one, a cadence split into two
series, a cancel), written by `series_ics` as `agent.commands.executor` calls it; and
what a program ticked through the CLI (Maildir + .ics files) sends and stores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject
import vobject.icalendar

from agent.meetings.ics import series_ics
from agent.meetings.slots import Availability, find_series
from agent.meetings.vtimezone import vtimezone
from agent.pairs.program import Booked, Moved, PairState, Recadenced, Series, Skipped, apply
from agent.pairs.program import recadence as split_cadence
from tests.davserver import DavServer
from tests.test_lifecycle_e2e import Program, at, gmail_reply
from tests.test_reschedule_e2e import ANA, BEN, both_agree, invitations, next_meeting

TESTS = Path(__file__).resolve().parent
ICALJS = TESTS / "node_modules" / "ical.js"
NODE = shutil.which("node")

SYDNEY, LONDON = ZoneInfo("Australia/Sydney"), ZoneInfo("Europe/London")
NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
KOLKATA, LOS_ANGELES = ZoneInfo("Asia/Kolkata"), ZoneInfo("America/Los_Angeles")
WEEKDAYS = range(5)
PAIRS = {
    # Sydney evenings meet London mornings; both move by two hours across the year
    "sydney-london": ((SYDNEY, time(7), time(21, 30)), (LONDON, time(7), time(21, 30))),
    "newyork-berlin": ((NEW_YORK, time(8), time(18)), (BERLIN, time(8), time(20))),
    "kolkata-losangeles": ((KOLKATA, time(7), time(23)), (LOS_ANGELES, time(7), time(18))),
}
EARLIEST = datetime(2027, 1, 4, tzinfo=UTC)
UNTIL = datetime(2027, 12, 20, tzinfo=UTC)  # through every 2027 change of these zones
HORIZON = UNTIL + timedelta(days=60)
DTSTAMP = datetime(2027, 1, 2, 9, 30, tzinfo=UTC)

Occurrences = dict[str, list[tuple[int, int]]]


def booked(pair: str, anchor: int) -> Series:
    """The slot finder's weekly series for `pair`, anchored in its `anchor`-th zone."""
    people = [
        Availability(str(zone), zone, dict.fromkeys(WEEKDAYS, (start, end)))
        for zone, start, end in PAIRS[pair]
    ]
    search = find_series(
        people,
        earliest=EARLIEST,
        until=UNTIL,
        every_weeks=1,
        duration=timedelta(minutes=45),
        anchors=[people[anchor].tz],
    )
    assert search.slots, search.explanation
    return Series.from_slot(f"{pair}-{anchor}@mentormail.example.org", search.slots[0])


def written(series: Series, method: str) -> bytes:
    """`series` as `agent.commands.executor` writes it (`_calendar_bytes`)."""
    return series_ics(
        method=method,  # type: ignore[arg-type]
        uid=series.uid,
        sequence=series.sequence,
        slot=series.slot(),
        summary="Mentoring: Ana & Ben",
        description="Your regular mentoring meeting.",
        video_link="https://meet.example.org/mentoring",
        organizer=("Mentoring Program", "mentoring@example.org"),
        attendees=[("Ana Alvarez", "ana@example.org"), ("Ben Becker", "ben@example.net")],
        dtstamp=DTSTAMP,
        skipped=series.skipped,
        moved=series.moved_meetings(),
    )


def planned(*series: Series) -> Occurrences:
    """The planner's meetings, as (start, end) UTC epoch seconds per UID."""
    return {
        s.uid: sorted(
            (int(t.timestamp()), int((t + s.duration).timestamp())) for _, t in s.meetings()
        )
        for s in series
    }


def near_change(series: Series, zone: ZoneInfo, after: int = 0) -> datetime:
    """The first meeting of `series` after `zone`'s offset changed (skipping `after` ones)."""
    starts = [o for o, _ in series.meetings()]
    first = starts[0].astimezone(zone).utcoffset()
    changed = [o for o in starts if o.astimezone(zone).utcoffset() != first]
    return changed[after]


def lifecycle(pair: str, anchor: int) -> list[tuple[str, bytes, Occurrences]]:
    """Every event the agent writes for one pair, with the meetings each must expand to."""
    series = booked(pair, anchor)
    changing = [
        z
        for z, _, _ in PAIRS[pair]
        if z.utcoffset(datetime(2027, 1, 1)) != z.utcoffset(datetime(2027, 7, 1))
    ]
    state = apply(PairState(pair_id=pair), Booked(series))
    events = [("first invitation", written(series, "REQUEST"), planned(series))]

    moved_from = near_change(series, changing[-1])
    state = apply(state, Moved(moved_from, moved_from + timedelta(days=1, hours=1), by="mentee"))
    assert state.series is not None and state.series.sequence == 1
    events.append(("moved meeting", written(state.series, "REQUEST"), planned(state.series)))

    state = apply(state, Skipped(near_change(series, changing[0], after=1), by="mentor"))
    assert state.series is not None and state.series.skipped
    events.append(("skipped meeting", written(state.series, "REQUEST"), planned(state.series)))

    split = state.series.meetings()[len(state.series.meetings()) // 2][0]
    ended, current = split_cadence(
        state.series,
        interval_weeks=2,
        duration_minutes=60,
        first_start=split,
        new_uid=f"{pair}-{anchor}-2@mentormail.example.org",
        at=DTSTAMP,
    )
    state = apply(state, Recadenced(ended, current))
    assert state.earlier and state.series is not None
    earlier, later = state.earlier[-1], state.series
    events.append(("cadence split: earlier", written(earlier, "REQUEST"), planned(earlier)))
    events.append(("cadence split: later", written(later, "REQUEST"), planned(later)))

    cancelled = later.model_copy(update={"status": "cancelled", "sequence": later.sequence + 1})
    events.append(("cancel", written(cancelled, "CANCEL"), planned(cancelled)))
    return events


CASES = [(pair, anchor) for pair in PAIRS for anchor in (0, 1)]
CASE_IDS = [f"{pair}@{PAIRS[pair][anchor][0].key.split('/')[1]}" for pair, anchor in CASES]


# --- the parsers -----------------------------------------------------------------------


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def by_recurring_ical_events(raw: bytes) -> Occurrences:
    calendar = icalendar.Calendar.from_ical(raw)
    found: Occurrences = {}
    window = (datetime(2000, 1, 1, tzinfo=UTC), HORIZON)
    for event in recurring_ical_events.of(calendar).between(*window):
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        found.setdefault(str(event["UID"]), []).append((_epoch(start), _epoch(end)))
    return {uid: sorted(spans) for uid, spans in found.items()}


def by_vobject(raw: bytes) -> Occurrences:
    """As Radicale reads it: vobject's rruleset of the master, overrides applied.

    vobject keeps one process-wide TZID -> zone table and keeps the first zone registered
    under a name; it is emptied first, as in a server that just started, so that each
    object is read on its own VTIMEZONE (and not on one an earlier test registered).
    """
    table = vars(vobject.icalendar)["__tzidMap"]
    table.clear()
    vobject.icalendar.registerTzid("UTC", vobject.icalendar.utc)
    calendar = vobject.readOne(raw.decode("utf-8"))
    events = calendar.contents.get("vevent", [])
    found: Occurrences = {}
    for master in (e for e in events if "recurrence-id" not in e.contents):
        uid = master.uid.value
        overrides = [e for e in events if "recurrence-id" in e.contents and e.uid.value == uid]
        replaced = {_epoch(o.recurrence_id.value) for o in overrides}
        length = _epoch(master.dtend.value) - _epoch(master.dtstart.value)
        spans = [
            (_epoch(start), _epoch(start) + length)
            for start in master.getrruleset(addRDate=True)
            if _epoch(start) not in replaced and start <= HORIZON
        ]
        spans += [(_epoch(o.dtstart.value), _epoch(o.dtend.value)) for o in overrides]
        found[uid] = sorted(spans)
    return found


def by_icaljs(raws: list[bytes]) -> list[Occurrences]:
    """All objects through one node process (tests/ics_expand.mjs)."""
    if NODE is None:
        pytest.skip("node is not installed: ical.js cannot run (it is on the CI machines)")
    if not ICALJS.is_dir():
        pytest.fail(
            f"ical.js is missing: run `npm install --prefix {TESTS} ical.js` (.ci/run does)"
        )
    payload = [{"ics": raw.decode("utf-8"), "end": _epoch(HORIZON)} for raw in raws]
    # a zone no series uses: a TZID ical.js failed to resolve would read in this one
    env = {**os.environ, "TZ": "Asia/Kathmandu"}
    done = subprocess.run(
        [NODE, str(TESTS / "ics_expand.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [
        {uid: sorted((a, b) for a, b in spans) for uid, spans in item.items()}
        for item in json.loads(done.stdout)
    ]


def differences(got: Occurrences, want: Occurrences) -> str:
    """'' when equal, else which meetings differ, in words."""
    problems = []
    for uid in sorted(set(got) | set(want)):
        a, b = got.get(uid, []), want.get(uid, [])
        if a == b:
            continue
        wrong = sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))
        example = next(((x, y) for x, y in zip(a, b, strict=False) if x != y), None)
        shown = ""
        if example:
            (start, _), (expected, _) = example
            shown = (
                f"; e.g. {datetime.fromtimestamp(start, UTC):%Y-%m-%d %H:%M} UTC"
                f" instead of {datetime.fromtimestamp(expected, UTC):%Y-%m-%d %H:%M} UTC"
            )
        problems.append(f"{uid}: {wrong} of {len(b)} meetings differ{shown}")
    return "; ".join(problems)


# --- the cross-check -------------------------------------------------------------------


@pytest.mark.parametrize(("pair", "anchor"), CASES, ids=CASE_IDS)
def test_python_parsers_expand_every_event_to_the_planned_meetings(pair: str, anchor: int) -> None:
    problems = []
    for what, raw, want in lifecycle(pair, anchor):
        meetings = sum(len(spans) for spans in want.values())
        assert meetings >= 10, f"{what}: only {meetings} meetings"  # spans some changes
        for parser, got in (
            ("vobject", by_vobject(raw)),
            ("recurring-ical-events", by_recurring_ical_events(raw)),
        ):
            if problem := differences(got, want):
                problems.append(f"{what}, {parser}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def icaljs_results() -> dict[tuple[str, int], list[Occurrences]]:
    """ical.js's reading of every event of every case, in one node run."""
    events = {case: lifecycle(*case) for case in CASES}
    flat = [raw for case in CASES for _, raw, _ in events[case]]
    results = iter(by_icaljs(flat))
    return {case: [next(results) for _ in events[case]] for case in CASES}


@pytest.mark.parametrize(("pair", "anchor"), CASES, ids=CASE_IDS)
def test_icaljs_expands_every_event_to_the_planned_meetings(
    pair: str, anchor: int, icaljs_results: dict[tuple[str, int], list[Occurrences]]
) -> None:
    problems = []
    events = lifecycle(pair, anchor)
    for (what, _, want), got in zip(events, icaljs_results[(pair, anchor)], strict=True):
        if problem := differences(got, want):
            problems.append(f"{what}: {problem}")
    assert not problems, "\n".join(problems)


def test_london_series_reads_right_in_vobject_all_year() -> None:
    """The case of issue 19: 40 meetings from January, London's clock, read by vobject."""
    series = booked("sydney-london", 1)
    assert series.tz == "Europe/London"
    series = series.model_copy(update={"until": series.first_start + timedelta(weeks=39, hours=1)})
    assert len(series.meetings()) == 40
    assert differences(by_vobject(written(series, "REQUEST")), planned(series)) == ""


# --- what the VTIMEZONE says -----------------------------------------------------------


def _observances(zone: ZoneInfo, first: date, last: date) -> list[icalendar.cal.Component]:
    return list(vtimezone(zone, first, last).subcomponents)


def test_zones_with_dst_get_yearly_rules_from_where_they_began() -> None:
    """As Apple writes them: one STANDARD and one DAYLIGHT, each with a yearly RRULE."""
    written_rules = {}
    for zone in (LONDON, BERLIN, NEW_YORK, LOS_ANGELES, SYDNEY):
        parts = _observances(zone, date(2027, 1, 4), date(2027, 12, 20))
        assert sorted(p.name for p in parts) == ["DAYLIGHT", "STANDARD"], zone
        written_rules[zone.key] = {
            p.name: (p.decoded("DTSTART"), p["RRULE"].to_ical().decode()) for p in parts
        }
        assert all("UNTIL" not in p["RRULE"] for p in parts)
    # RFC 5545 3.6.5: DTSTART is the wall-clock time before the change
    assert written_rules["Europe/Berlin"] == {
        "DAYLIGHT": (datetime(1981, 3, 29, 2), "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"),
        "STANDARD": (datetime(1996, 10, 27, 3), "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"),
    }
    assert written_rules["America/New_York"] == {
        "DAYLIGHT": (datetime(2007, 3, 11, 2), "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"),
        "STANDARD": (datetime(2007, 11, 4, 2), "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
    }
    assert written_rules["Australia/Sydney"]["DAYLIGHT"][1] == "FREQ=YEARLY;BYDAY=1SU;BYMONTH=10"


def test_zone_without_dst_gets_one_standard() -> None:
    (part,) = _observances(KOLKATA, date(2027, 1, 4), date(2027, 12, 20))
    assert part.name == "STANDARD" and "RRULE" not in part
    assert part["TZOFFSETFROM"].td == part["TZOFFSETTO"].td == timedelta(hours=5, minutes=30)
    assert str(part["TZNAME"]) == "IST"


def test_rules_that_changed_are_bounded_and_weekday_windows_are_kept() -> None:
    # Brazil ended DST in 2019: for a series from 2018 to 2020 the old rules end
    parts = _observances(ZoneInfo("America/Sao_Paulo"), date(2018, 6, 1), date(2020, 6, 1))
    rules = {p.name: p["RRULE"].to_ical().decode() for p in parts if "RRULE" in p}
    assert "UNTIL=20171016" in rules["DAYLIGHT"] and "UNTIL=20190218" in rules["STANDARD"]
    # 2018's start of DST moved to November: an observance of its own
    (november,) = [p for p in parts if "RRULE" not in p]
    assert november.decoded("DTSTART") == datetime(2018, 11, 4, 0, 0)
    # Israel: the Friday before the last Sunday of March, as Apple writes it
    parts = _observances(ZoneInfo("Asia/Jerusalem"), date(2027, 1, 4), date(2027, 12, 20))
    daylight = next(p for p in parts if p.name == "DAYLIGHT")
    assert "BYMONTHDAY=23,24,25,26,27,28,29;BYMONTH=3" in daylight["RRULE"].to_ical().decode()


ODD_ZONES = [
    "America/Sao_Paulo",  # rules that ended within the series
    "Africa/Casablanca",  # Ramadan changes; +00:00 in winter, which vobject may take for UTC
    "Asia/Jerusalem",  # a weekday window rule
    "Europe/Dublin",  # negative DST in tzdata
    "Pacific/Chatham",  # a 45-minute offset
    "Africa/Abidjan",  # +00:00 all year
    "Europe/Lisbon",
]


def odd_series(key: str) -> Series:
    """A two-year weekly series at 10:00 in `key`."""
    zone = ZoneInfo(key)
    first = datetime(2018 if key == "America/Sao_Paulo" else 2026, 1, 3, 10, tzinfo=zone)
    return Series(
        uid=f"odd-{key}@mentormail.example.org",
        tz=key,
        first_start=first,
        duration_minutes=45,
        interval_weeks=1,
        until=first + timedelta(weeks=104),
    )


@pytest.mark.parametrize("key", ODD_ZONES)
def test_odd_zones_read_right_in_python_parsers(key: str) -> None:
    """Every meeting is read at 10:00 in `key`."""
    series = odd_series(key)
    raw, want = written(series, "REQUEST"), planned(series)
    assert differences(by_recurring_ical_events(raw), want) == ""
    assert differences(by_vobject(raw), want) == ""


def test_odd_zones_read_right_in_icaljs() -> None:
    series = [odd_series(key) for key in ODD_ZONES]
    results = by_icaljs([written(s, "REQUEST") for s in series])
    problems = [differences(got, planned(s)) for s, got in zip(series, results, strict=True)]
    assert not [p for p in problems if p], problems


# --- Radicale, the CalDAV server of the caldav connector's tests -------------------------

EXPAND = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><C:calendar-data><C:expand start="{0}" end="{1}"/></C:calendar-data></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{0}" end="{1}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """A Radicale of its own (vobject's zone table starts empty), and a calendar URL."""
    server = DavServer(tmp_path_factory.mktemp("radicale")).start()
    try:
        user = server.new_user("organizer")
        server.make_calendar(user, "mentoring")
        yield server.client(user), server.calendar_url(user, "mentoring")
    finally:
        server.stop()


def by_radicale(client: Any, url: str, raw: bytes) -> Occurrences:
    """Stored in Radicale, and read back expanded by the server (RFC 4791 9.6.5)."""
    uid = str(icalendar.Calendar.from_ical(raw).walk("VEVENT")[0]["UID"])
    client.put(f"{url}{uid}.ics", raw.decode("utf-8"), {"Content-Type": "text/calendar"})
    window = ("20260101T000000Z", HORIZON.strftime("%Y%m%dT%H%M%SZ"))
    response = client.report(url, EXPAND.format(*window), depth=1)
    client.delete(f"{url}{uid}.ics")
    found: Occurrences = {}
    for data in ElementTree.fromstring(response.raw).iter(
        "{urn:ietf:params:xml:ns:caldav}calendar-data"
    ):
        for event in icalendar.Calendar.from_ical(data.text or "").walk("VEVENT"):
            span = (_epoch(event.decoded("DTSTART")), _epoch(event.decoded("DTEND")))
            found.setdefault(str(event["UID"]), []).append(span)
    return {uid: sorted(spans) for uid, spans in found.items()}


@pytest.mark.parametrize(("pair", "anchor"), CASES, ids=CASE_IDS)
def test_radicale_expands_every_event_to_the_planned_meetings(
    pair: str, anchor: int, radicale: tuple[Any, str]
) -> None:
    problems = []
    for what, raw, want in lifecycle(pair, anchor):
        if problem := differences(by_radicale(*radicale, raw), want):
            problems.append(f"{what}: {problem}")
    assert not problems, "\n".join(problems)


# --- through the running program -------------------------------------------------------


def test_what_a_ticked_program_sends_and_stores_reads_the_same_everywhere(
    tmp_path: Path, cli: Any, radicale: tuple[Any, str]
) -> None:
    """ana-ben (New York/Berlin) booked and one meeting moved by email, through the CLI on
    the Maildir + .ics default: every invitation and the organizer's stored copy expand
    alike in every parser, with the moved meeting where the status says it is."""
    program = both_agree(Program(tmp_path, cli))
    meeting = next_meeting(program, "2027-03-03T09:00")
    program.deliver(
        gmail_reply(
            invitations(program, BEN)[0],
            f"Ben Becker <{BEN}>",
            "Hi! Can we move our next meeting to Thursday, same time? Thanks, Ben",
            at("2027-03-03T10:00"),
        )
    )
    program.tick("2027-03-03T11:00")
    thursday = next_meeting(program, "2027-03-03T11:00")
    assert thursday == meeting + timedelta(days=3 - meeting.weekday())
    written_objects = [
        part.get_payload(decode=True)
        for who in (ANA, BEN)
        for message in invitations(program, who)
        for part in message.walk()
        if part.get_content_type() == "text/calendar"
    ]
    written_objects += [p.read_bytes() for p in sorted((tmp_path / "calendar").rglob("*.ics"))]
    assert len(written_objects) >= 5  # two invitations each, and the stored series
    # ical.js where node is installed (the tests above say so when it is not)
    icaljs = by_icaljs(written_objects) if NODE else [None] * len(written_objects)
    for raw, in_icaljs in zip(written_objects, icaljs, strict=True):
        reference = by_recurring_ical_events(raw)
        assert len(next(iter(reference.values()))) >= 10
        readings = [("vobject", by_vobject(raw)), ("Radicale", by_radicale(*radicale, raw))]
        if in_icaljs is not None:
            readings.append(("ical.js", in_icaljs))
        for parser, got in readings:
            assert differences(got, reference) == "", parser
    moved = by_recurring_ical_events(written_objects[-1])
    starts = {start for spans in moved.values() for start, _ in spans}
    assert _epoch(thursday) in starts and _epoch(meeting) not in starts
