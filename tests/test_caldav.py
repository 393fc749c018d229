"""The caldav calendar connector against a real Radicale on 127.0.0.1 (tests/davserver.py).

What is proven: the stored series expands on the server exactly as agent.meetings.slots and
recurring-ical-events expand it (across DST); updates replace the one resource, cancel
stores STATUS:CANCELLED; busy time from participants' own calendars (events, recurring
events, free-busy-only access, several calendars) skips what is not busy; failures are
one-line ConnectorErrors without secrets; check(); and a whole booking through the CLI
that avoids a participant's busy time.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from agent.config.loading import load_config
from agent.config.model import Config
from agent.meetings.ics import series_ics
from agent.meetings.slots import SeriesSlot
from agent.pairs.planner import search_series, series_uid
from agent.pairs.program import Series
from connectors.base import ConnectorError
from connectors.caldav import CalDavCalendar
from connectors.registry import open_calendar
from tests.conftest import THREE_PAIRS
from tests.davserver import DavServer, DavUser
from tests.mailservers import HOST, free_port
from tests.test_lifecycle_e2e import Program, gmail_reply

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2027, 2, 1, tzinfo=UTC)
CALENDAR_QUERY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    "<D:prop><D:getetag/><C:calendar-data>{expand}</C:calendar-data></D:prop>"
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
    '<C:time-range start="{start}" end="{end}"/>'
    "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
)


# --- building configs, events and series ----------------------------------------------------


def _secret_file(directory: Path, user: DavUser) -> str:
    path = directory / f"{user.login}.password"
    path.write_text(user.password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def access(
    dav: DavServer, user: DavUser, directory: Path, url: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A participant's `calendar:` access: their own login, password in a file."""
    return {
        "url": url or dav.principal_url(user),
        "username": user.login,
        "password_file": _secret_file(directory, user),
        **extra,
    }


def program_yaml(
    dav: DavServer,
    organizer: DavUser,
    directory: Path,
    people: dict[str, dict[str, Any]] | None = None,
    **calendar: Any,
) -> Path:
    """THREE_PAIRS with `calendar: {type: caldav}` for `organizer` and `people`'s access."""
    section = {
        "type": "caldav",
        "url": dav.url,
        "username": organizer.login,
        "password_file": _secret_file(directory, organizer),
        "calendar": "Mentoring",
        "timeout": 5,
        **calendar,
    }
    lines = []
    for line in THREE_PAIRS.splitlines():
        if line.startswith("calendar:"):
            line = f"calendar: {json.dumps(section)}"
        for pid, spec in (people or {}).items():
            if line.startswith(f"  - {{id: {pid},"):
                line = line[:-1] + f", calendar: {json.dumps(spec)}}}"
        lines.append(line)
    path = directory / "program.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def connector(path: Path) -> CalDavCalendar:
    opened = open_calendar(load_config(path))
    assert isinstance(opened, CalDavCalendar)
    return opened


def event_ics(
    uid: str,
    start: datetime,
    minutes: int = 60,
    *,
    rrule: str | None = None,
    **props: str,
) -> str:
    """One VEVENT (with VTIMEZONE) as a participant's calendar app would store it."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//test//test//EN")
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", STAMP)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", uid)
    if rrule:
        event.add("rrule", icalendar.vRecur.from_ical(rrule))
    for name, value in props.items():
        event.add(name, value)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical().decode()


def series_slot() -> SeriesSlot:
    """Mondays 09:00 New York, 1 March - 30 April 2027: across the US (14 Mar) and EU changes."""
    return SeriesSlot(
        tz=NEW_YORK,
        first_start=datetime(2027, 3, 1, 9, tzinfo=NEW_YORK),
        duration=timedelta(minutes=45),
        interval_weeks=1,
        until=datetime(2027, 4, 30, 23, 59, tzinfo=NEW_YORK),
    )


def publish(series: Series, method: str = "PUBLISH") -> bytes:
    return series_ics(
        method=method,  # type: ignore[arg-type]
        uid=series.uid,
        sequence=series.sequence,
        slot=series.slot(),
        summary="Mentoring: Ana & Ben",
        description="Your regular mentoring meeting.",
        video_link="https://meet.example.org/ana-ben",
        organizer=("Mentoring Program", "mentoring@example.org"),
        attendees=[("Ana Alvarez", "ana@example.org"), ("Ben Becker", "Ben.Becker@example.net")],
        dtstamp=STAMP,
    )


def uid_for(config_path: Path, pair: str = "ana-ben") -> str:
    config = load_config(config_path)
    return series_uid(config, config.pair(pair))


def resources(dav: DavServer, user: DavUser, url: str) -> list[tuple[str, icalendar.Calendar]]:
    """(href, parsed data) of every object in the calendar at `url`, read by `user`."""
    calendar = dav.client(user).calendar(url=url)
    return [(str(e.url), icalendar.Calendar.from_ical(e.data)) for e in calendar.get_events()]


def server_expanded(
    dav: DavServer, user: DavUser, url: str, start: datetime, end: datetime
) -> list[datetime]:
    """Occurrence starts (UTC) as Radicale itself expands them (RFC 4791 9.6.5 expand)."""
    window = {"start": f"{start:%Y%m%dT%H%M%SZ}", "end": f"{end:%Y%m%dT%H%M%SZ}"}
    body = CALENDAR_QUERY.format(
        expand='<C:expand start="{start}" end="{end}"/>'.format(**window), **window
    )
    response = dav.client(user).report(url, body, depth=1)
    assert response.status == 207
    starts = []
    for data in response.tree.iter("{urn:ietf:params:xml:ns:caldav}calendar-data"):
        for event in icalendar.Calendar.from_ical(data.text).walk("VEVENT"):
            assert "RRULE" not in event and "RECURRENCE-ID" in event
            starts.append(event.decoded("DTSTART").astimezone(UTC))
    return sorted(starts)


@pytest.fixture
def organizer(dav_server: DavServer) -> DavUser:
    return dav_server.new_user("mentoring")


@pytest.fixture
def opened() -> Iterator[Callable[[Path], CalDavCalendar]]:
    """Factory: the connector a config file describes, closed after the test."""
    connectors: list[CalDavCalendar] = []

    def make(path: Path) -> CalDavCalendar:
        connectors.append(connector(path))
        return connectors[-1]

    yield make
    for each in connectors:
        each.close()


# --- 1, 2: storing series ---------------------------------------------------------------------


def test_stored_series_expands_on_the_server_like_the_slot(
    dav_server: DavServer, organizer: DavUser, tmp_path: Path, opened
) -> None:
    calendar = opened(program_yaml(dav_server, organizer, tmp_path))
    series = Series.from_slot(uid_for(tmp_path / "program.yaml"), series_slot())
    ics = publish(series)
    calendar.put_event(series.uid, ics)

    url = calendar.calendar_url()
    ((href, stored),) = resources(dav_server, organizer, url)
    assert href.startswith(url) and "METHOD" not in stored
    (event,) = stored.walk("VEVENT")
    sent = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
    assert str(event["UID"]) == series.uid and event["SEQUENCE"] == 0
    assert event["RRULE"].to_ical() == sent["RRULE"].to_ical()
    assert event["DTSTART"].params["TZID"] == "America/New_York"

    start, end = datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    by_slot = [o.astimezone(UTC) for o in series_slot().occurrences()]
    by_library = sorted(
        e.decoded("DTSTART").astimezone(UTC)
        for e in recurring_ical_events.of(icalendar.Calendar.from_ical(ics)).between(start, end)
    )
    by_server = server_expanded(dav_server, organizer, url, start, end)
    assert len(by_slot) == 9
    assert by_server == by_slot == by_library
    # 09:00 New York is 14:00 UTC before 14 March and 13:00 UTC after it
    assert {s.hour for s in by_server[:2]} == {14} and {s.hour for s in by_server[2:]} == {13}


def test_update_replaces_the_one_resource_and_cancel_stores_cancelled(
    dav_server: DavServer, organizer: DavUser, tmp_path: Path, opened
) -> None:
    calendar = opened(program_yaml(dav_server, organizer, tmp_path))
    series = Series.from_slot(uid_for(tmp_path / "program.yaml"), series_slot())
    calendar.put_event(series.uid, publish(series))
    url = calendar.calendar_url()
    ((first_href, _),) = resources(dav_server, organizer, url)

    # an update moves the series an hour later and overrides one meeting (same UID)
    moved = series.model_copy(
        update={"sequence": 1, "first_start": series.first_start + timedelta(hours=1)}
    )
    update = icalendar.Calendar.from_ical(publish(moved))
    master = update.walk("VEVENT")[0]
    override = icalendar.Event()
    original = datetime(2027, 3, 15, 10, tzinfo=NEW_YORK)
    for name in ("UID", "SEQUENCE", "DTSTAMP", "SUMMARY", "ORGANIZER"):
        override[name] = master[name]
    override.add("recurrence-id", original)
    override.add("dtstart", original + timedelta(days=1))
    override.add("dtend", original + timedelta(days=1, minutes=45))
    update.add_component(override)
    calendar.put_event(series.uid, update.to_ical())

    ((href, stored),) = resources(dav_server, organizer, url)
    assert href == first_href
    events = stored.walk("VEVENT")
    assert [e["SEQUENCE"] for e in events] == [1, 1] and "RECURRENCE-ID" in events[1]
    starts = server_expanded(
        dav_server,
        organizer,
        url,
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2027, 6, 1, tzinfo=UTC),
    )
    assert datetime(2027, 3, 16, 14, tzinfo=UTC) in starts  # the override, Tuesday 10:00 New York
    assert datetime(2027, 3, 15, 14, tzinfo=UTC) not in starts
    assert len(starts) == 9

    cancelled = moved.model_copy(update={"sequence": 2, "status": "cancelled"})
    calendar.cancel_event(series.uid, publish(cancelled, "CANCEL"))
    ((href, stored),) = resources(dav_server, organizer, url)
    (event,) = stored.walk("VEVENT")
    assert href == first_href and "METHOD" not in stored
    assert event["STATUS"] == "CANCELLED" and event["SEQUENCE"] == 2


# --- 3: busy time -----------------------------------------------------------------------------


def test_busy_reads_events_skips_free_and_own_and_survives_a_broken_login(
    dav_server: DavServer,
    organizer: DavUser,
    tmp_path: Path,
    opened,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ana, ben = dav_server.new_user("ana"), dav_server.new_user("ben")
    work = dav_server.make_calendar(ana, "work")
    own_uid = uid_for(program_yaml(dav_server, organizer, tmp_path))
    one_off = datetime(2027, 3, 3, 10, tzinfo=NEW_YORK)
    work.add_event(event_ics("one-off", one_off))
    work.add_event(
        event_ics(
            "weekly", datetime(2027, 2, 2, 9, tzinfo=NEW_YORK), 30, rrule="FREQ=WEEKLY;COUNT=20"
        )
    )
    work.add_event(
        event_ics("transparent", datetime(2027, 3, 4, 9, tzinfo=NEW_YORK), transp="TRANSPARENT")
    )
    work.add_event(
        event_ics("cancelled", datetime(2027, 3, 5, 9, tzinfo=NEW_YORK), status="CANCELLED")
    )
    work.add_event(
        event_ics(own_uid, datetime(2027, 3, 8, 9, tzinfo=NEW_YORK), 45, rrule="FREQ=WEEKLY")
    )
    dav_server.make_calendar(ben, "work")
    wrong = {**access(dav_server, ben, tmp_path), "password_file": str(tmp_path / "wrong")}
    (tmp_path / "wrong").write_text("not-bens-password\n")
    calendar = opened(
        program_yaml(
            dav_server,
            organizer,
            tmp_path,
            {"ana": access(dav_server, ana, tmp_path, str(work.url)), "ben": wrong},
        )
    )

    start, end = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 29, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="connectors.caldav"):
        busy = calendar.busy(
            ["ANA@example.org", "ben@phone.example.net", "chen@example.com"], start, end
        )

    tuesdays = [datetime(2027, 3, d, 9, tzinfo=NEW_YORK) for d in (2, 9, 16, 23)]
    expected = sorted(
        [(one_off, one_off + timedelta(hours=1))]
        + [(t, t + timedelta(minutes=30)) for t in tuesdays]
    )
    assert busy == {
        "ANA@example.org": [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in expected]
    }
    # Tuesdays 09:00 New York: 14:00 UTC, then 13:00 UTC from 14 March (the one-off at 15:00)
    assert [a.hour for a, _ in busy["ANA@example.org"]] == [14, 15, 14, 13, 13]
    assert "busy time of ben left out" in caplog.text and "401" in caplog.text
    assert "not-bens-password" not in caplog.text and ben.password not in caplog.text


def test_busy_from_free_busy_only_access_and_from_every_calendar_of_a_principal(
    dav_server: DavServer, organizer: DavUser, tmp_path: Path, opened
) -> None:
    dina, eli = dav_server.new_user("dina"), dav_server.new_user("eli")
    dina_cal = dav_server.make_calendar(dina, "private")
    morning = datetime(2027, 3, 3, 9, tzinfo=BERLIN)
    dina_cal.add_event(event_ics("dentist", morning))
    dina_cal.add_event(event_ics("maybe", morning + timedelta(days=1), transp="TRANSPARENT"))
    dina_cal.add_event(event_ics("off", morning + timedelta(days=2), status="CANCELLED"))
    for cal_id, day in (("work", 2), ("home", 4)):
        dav_server.make_calendar(eli, cal_id).add_event(
            event_ics(cal_id, datetime(2027, 3, day, 12, tzinfo=BERLIN))
        )
    calendar = opened(
        program_yaml(
            dav_server,
            organizer,
            tmp_path,
            {
                # dina lets the program's reader see only her free/busy time
                "dina": access(dav_server, dav_server.freebusy, tmp_path, str(dina_cal.url)),
                # eli gives his principal's URL: every calendar of his counts
                "eli": access(dav_server, eli, tmp_path),
            },
        )
    )
    busy = calendar.busy(
        ["dina@example.co.uk", "eli@example.es"],
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2027, 3, 8, tzinfo=UTC),
    )
    hour = timedelta(hours=1)
    assert busy["dina@example.co.uk"] == [
        (morning.astimezone(UTC), (morning + hour).astimezone(UTC))
    ]
    assert [a.astimezone(BERLIN).day for a, _ in busy["eli@example.es"]] == [2, 4]


# --- 4: participants' own calendars -----------------------------------------------------------


def test_write_true_puts_the_series_into_the_participants_calendar(
    dav_server: DavServer, organizer: DavUser, tmp_path: Path, opened
) -> None:
    ana, ben = dav_server.new_user("ana"), dav_server.new_user("ben")
    ana_cal = dav_server.make_calendar(ana, "calendar")
    ben_cal = dav_server.make_calendar(ben, "calendar")
    path = program_yaml(dav_server, organizer, tmp_path)
    series = Series.from_slot(uid_for(path), series_slot())
    # Ben accepted the emailed invitation before: his client filed it under its own name
    ben_cal.add_event(publish(series, "REQUEST").decode().replace("METHOD:REQUEST\r\n", ""))
    ((ben_href, _),) = resources(dav_server, ben, str(ben_cal.url))
    calendar = opened(
        program_yaml(
            dav_server,
            organizer,
            tmp_path,
            {
                # (a calendar URL without its trailing slash works too)
                "ana": access(dav_server, ana, tmp_path, str(ana_cal.url).rstrip("/"), write=True),
                "ben": access(dav_server, ben, tmp_path, str(ben_cal.url), write=True),
            },
        )
    )
    update = series.model_copy(update={"sequence": 1})
    calendar.put_event(series.uid, publish(update))

    for user, url in ((organizer, calendar.calendar_url()), (ana, str(ana_cal.url))):
        ((_, stored),) = resources(dav_server, user, url)
        (event,) = stored.walk("VEVENT")
        assert str(event["UID"]) == series.uid and event["SEQUENCE"] == 1
    ((href, stored),) = resources(dav_server, ben, str(ben_cal.url))
    assert href == ben_href and stored.walk("VEVENT")[0]["SEQUENCE"] == 1

    calendar.cancel_event(series.uid, publish(update.model_copy(update={"sequence": 2}), "CANCEL"))
    ((_, stored),) = resources(dav_server, ana, str(ana_cal.url))
    assert stored.walk("VEVENT")[0]["STATUS"] == "CANCELLED"


# --- 5: failures ------------------------------------------------------------------------------


def test_wrong_password_unreachable_missing_calendar_are_clear_errors(
    dav_server: DavServer,
    organizer: DavUser,
    tmp_path: Path,
    opened,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    series = Series.from_slot("mentormail-x-ana-ben@example.org", series_slot())
    (tmp_path / "bad").mkdir()
    monkeypatch.setenv("TEST_CALDAV_PASSWORD", "WrongSecret123")
    wrong = opened(
        program_yaml(
            dav_server,
            organizer,
            tmp_path / "bad",
            password_file=None,
            password_env="TEST_CALDAV_PASSWORD",
        )
    )
    with pytest.raises(ConnectorError) as caught:
        wrong.put_event(series.uid, publish(series))
    message = str(caught.value)
    assert (
        message == f"CalDAV {dav_server.url}: login as {organizer.login} refused (401 Unauthorized)"
    )
    assert "WrongSecret123" not in message

    port = free_port()  # nothing listens there
    (tmp_path / "down").mkdir()
    down = opened(
        program_yaml(dav_server, organizer, tmp_path / "down", url=f"http://{HOST}:{port}/")
    )
    with pytest.raises(
        ConnectorError, match=rf"^CalDAV http://{HOST}:{port}/: cannot connect: Connection refused$"
    ):
        down.put_event(series.uid, publish(series))

    missing = dav_server.calendar_url(organizer, "no-such-calendar")
    (tmp_path / "missing").mkdir()
    gone = opened(program_yaml(dav_server, organizer, tmp_path / "missing", calendar=missing))
    with pytest.raises(ConnectorError, match=r"no-such-calendar/ not found \(404\)$"):
        gone.put_event(series.uid, publish(series))

    with socket.create_server((HOST, 0)) as silent:  # accepts connections, never answers
        slow_url = f"http://{HOST}:{silent.getsockname()[1]}/"
        (tmp_path / "slow").mkdir()
        slow = opened(
            program_yaml(dav_server, organizer, tmp_path / "slow", url=slow_url, timeout=0.3)
        )
        with pytest.raises(ConnectorError, match=r"no answer within 0\.3 s$"):
            slow.put_event(series.uid, publish(series))

    monkeypatch.delenv("TEST_CALDAV_PASSWORD")
    with pytest.raises(ConnectorError, match="TEST_CALDAV_PASSWORD"):
        connector(tmp_path / "bad" / "program.yaml")


def test_server_errors_and_malformed_answers_are_clear_errors(
    dav_server: DavServer, organizer: DavUser, tmp_path: Path, opened, caplog
) -> None:
    calendar = opened(program_yaml(dav_server, organizer, tmp_path))
    series = Series.from_slot("mentormail-x-ana-ben@example.org", series_slot())
    calendar.put_event(series.uid, publish(series))
    # Radicale answers 500 once the calendar's properties on disk are unreadable
    url = calendar.calendar_url()
    collection = dav_server.dir / "collections" / "collection-root" / organizer.login
    props = collection / url.rstrip("/").rsplit("/", 1)[1] / ".Radicale.props"
    saved = props.read_text()
    props.write_text("{not json")
    try:
        with pytest.raises(
            ConnectorError, match=r"the server failed \(500 Internal Server Error\)$"
        ):
            calendar.put_event(series.uid, publish(series))
    finally:
        props.write_text(saved)

    # a web server that is not a CalDAV server: HTML where XML or iCalendar was expected
    stub = ThreadingHTTPServer((HOST, 0), _NotDav)
    thread = threading.Thread(target=stub.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://{HOST}:{stub.server_address[1]}/"
        (tmp_path / "stub").mkdir()
        html = opened(
            program_yaml(dav_server, organizer, tmp_path / "stub", url=base, calendar=base + "cal/")
        )
        with pytest.raises(ConnectorError) as caught:
            html.put_event(series.uid, publish(series))
        assert str(caught.value).startswith(f"CalDAV {base}: ") and "\n" not in str(caught.value)
        assert "unreadable answer" in str(caught.value)
    finally:
        stub.shutdown()
        stub.server_close()


class _NotDav(BaseHTTPRequestHandler):
    """Answers every request with a 207 whose body is an HTML page."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html><body><p>Welcome<br></body>"
        self.send_response(207)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PROPFIND = do_REPORT = do_PUT = do_GET = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_config_mistakes_are_reported_by_validate(
    dav_server: DavServer, organizer: DavUser, tmp_path: Path, cli
) -> None:
    cases = [
        ({"calender": "typo"}, "calendar.calender: unknown key; did you mean 'calendar'?"),
        ({"password_env": "X"}, "calendar: set only one of password_env, password_file"),
        ({"password_file": None}, "calendar: set password_env (an environment variable's name)"),
        ({"url": "dav.example.org"}, "calendar.url: String should match pattern"),
    ]
    for options, problem in cases:
        code, _, err = cli("validate", program_yaml(dav_server, organizer, tmp_path, **options))
        key, message = problem.split(": ", 1)  # errors name the line: `calendar, line 9: ...`
        assert code == 2 and f"{key}, line " in err and message in err, err


# --- 6: check ---------------------------------------------------------------------------------


def test_check_reports_login_calendar_and_participants(
    dav_server: DavServer, organizer: DavUser, tmp_path: Path, opened
) -> None:
    ana, ben, eli = (dav_server.new_user(name) for name in ("ana", "ben", "eli"))
    ana_cal = dav_server.make_calendar(ana, "calendar")
    dav_server.make_calendar(ben, "calendar")
    (tmp_path / "ben-wrong").write_text("nope\n")
    path = program_yaml(
        dav_server,
        organizer,
        tmp_path,
        {
            "ana": access(dav_server, ana, tmp_path, str(ana_cal.url), write=True),
            "ben": {
                **access(dav_server, ben, tmp_path),
                "password_file": str(tmp_path / "ben-wrong"),
            },
            "dina": access(dav_server, dav_server.freebusy, tmp_path, str(ana_cal.url)),
            "eli": access(dav_server, eli, tmp_path, write=True),  # a principal's URL
        },
    )
    first = opened(path).check()
    lines = {what: (ok, detail) for what, ok, detail in first}
    assert lines["caldav login"] == (
        True,
        f"CalDAV {dav_server.url} as {organizer.login} (principal {dav_server.principal_url(organizer)})",
    )
    ok, detail = lines["caldav calendar"]
    assert ok and detail.startswith("'Mentoring' created: " + dav_server.principal_url(organizer))
    assert lines["caldav calendar of ana"] == (
        True,
        f"busy time read by calendar-query from 1 calendar(s); the series is also written to {ana_cal.url}",
    )
    assert lines["caldav calendar of ben"][0] is False
    assert (
        "login as " + ben.login + " refused (401 Unauthorized)"
        in lines["caldav calendar of ben"][1]
    )
    assert lines["caldav calendar of dina"] == (
        True,
        "busy time read by free-busy-query from 1 calendar(s)",
    )
    assert lines["caldav calendar of eli"] == (
        False,
        f"CalDAV {dav_server.principal_url(eli)}: writing: write: true needs the URL of a "
        "calendar, not of a server or principal",
    )
    again = {what: detail for what, _, detail in opened(path).check()}
    assert again["caldav calendar"] == detail.replace("created", "found")

    from agent.commands.check import check_connectors

    results = check_connectors(load_config(path))
    assert ("calendar (caldav): caldav calendar of ben", False) in {(w, ok) for w, ok, _ in results}


# --- 7: the whole booking through the CLI -----------------------------------------------------


def _inside(start: datetime, minutes: int, zone: ZoneInfo, first: int, last: int) -> bool:
    local, end = start.astimezone(zone), (start + timedelta(minutes=minutes)).astimezone(zone)
    return (
        local.weekday() < 5
        and local.date() == end.date()
        and first <= local.hour
        and (end.hour, end.minute) <= (last, 0)
    )


def test_booking_through_the_cli_avoids_a_participants_busy_time(
    dav_server: DavServer, organizer: DavUser, tmp_path: Path, cli, opened
) -> None:
    ana = dav_server.new_user("ana")
    ana_cal = dav_server.make_calendar(ana, "calendar")
    program = Program(tmp_path, cli)
    program_yaml(
        dav_server,
        organizer,
        tmp_path,
        {"ana": access(dav_server, ana, tmp_path, str(ana_cal.url))},
    )
    config: Config = load_config(program.config)
    booked_at = "2027-02-16T09:00"
    now = datetime.fromisoformat(booked_at).replace(tzinfo=BERLIN)
    (would,) = search_series(config, config.pair("ana-ben"), now).slots
    # Ana has a standing weekly appointment exactly when the finder would otherwise book
    ana_cal.add_event(
        event_ics("standup", would.first_start, 45, rrule="FREQ=WEEKLY;UNTIL=20270701T000000Z")
    )
    taken = [(o, o + timedelta(minutes=45)) for o in would.occurrences()]

    program.tick("2027-02-15T09:00")
    noon = datetime(2027, 2, 15, 15, tzinfo=BERLIN)
    for who, sender in (
        ("ana@example.org", "Ana Alvarez <ana@example.org>"),
        ("ben.becker@example.net", "Ben Becker <Ben.Becker@example.net>"),
    ):
        program.deliver(gmail_reply(program.only(who, "agreement"), sender, "I agree.", noon))
    program.tick(booked_at)
    assert program.status(booked_at)["ana-ben"]["stage"] == "scheduled"

    organizer_calendar = opened(program.config).calendar_url()
    stored = {
        str(c.walk("VEVENT")[0]["UID"]): c
        for _, c in resources(dav_server, organizer, organizer_calendar)
    }
    series = stored[series_uid(config, config.pair("ana-ben"))]
    occurrences = recurring_ical_events.of(series).between(
        datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    )
    assert len(occurrences) >= 12
    for occurrence in occurrences:
        start, end = occurrence.start, occurrence.end
        assert not any(start < b and a < end for a, b in taken), start
        assert _inside(start, 45, NEW_YORK, 8, 11) and _inside(start, 45, BERLIN, 13, 16), start
