"""Invitations as clients read them, and replies as clients write them."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from agent.meetings.ics import IcsError, ItipResponse, parse_itip, series_ics
from agent.meetings.slots import SeriesSlot

BERLIN = ZoneInfo("Europe/Berlin")
SLOT = SeriesSlot(
    tz=BERLIN,
    first_start=datetime(2027, 3, 1, 14, 0, tzinfo=BERLIN),
    duration=timedelta(minutes=45),
    interval_weeks=1,
    until=datetime(2027, 6, 30, 23, 59, 59, tzinfo=BERLIN),
)
LINK = "https://meet.example.org/mentoring-ana-ben"
DTSTAMP = datetime(2027, 2, 20, 13, 30, tzinfo=BERLIN)


def build(method: str = "REQUEST", sequence: int = 0, **kwargs: object) -> bytes:
    options: dict[str, object] = {
        "method": method,
        "uid": "pair-7-series@mentormail.example.org",
        "sequence": sequence,
        "slot": SLOT,
        "summary": "Mentoring: Ana & Ben",
        "description": "Your fortnightly mentoring call.\nAgenda: goals, progress; next steps",
        "video_link": LINK,
        "organizer": ("Mentoring Programme", "coordinator@example.org"),
        "attendees": [("Ana Smith, PhD", "Ana.Smith@example.com"), ("Ben Weber", "ben@example.de")],
        "dtstamp": DTSTAMP,
    }
    options.update(kwargs)
    return series_ics(**options)  # type: ignore[arg-type]


def test_request_has_every_property_clients_need() -> None:
    raw = build(partstats={"ana.smith@example.com": "accepted"})
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # RFC 5545 3.1 folding
    calendar = Calendar.from_ical(raw)
    assert str(calendar["PRODID"]) == "-//mentormail//mentormail//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    (timezone,) = calendar.walk("VTIMEZONE")

    assert str(event["UID"]) == "pair-7-series@mentormail.example.org"
    assert event.decoded("SEQUENCE") == 0
    assert event.decoded("DTSTAMP") == DTSTAMP
    assert event.decoded("DTSTAMP").utcoffset() == timedelta(0)
    assert b"DTSTAMP:20270220T123000Z" in raw
    for name in ("DTSTART", "DTEND"):
        assert event[name].params["TZID"] == str(timezone["TZID"]) == "Europe/Berlin"
    assert b"DTSTART;TZID=Europe/Berlin:20270301T140000" in raw
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=45)
    # The VTIMEZONE covers the whole series with yearly rules (as Outlook, Google, Apple
    # write them), including the change at 01:00 UTC on 28 March 2027.
    onsets = [sub.decoded("DTSTART") for sub in timezone.subcomponents]
    assert min(onsets) <= datetime(2027, 3, 1) and all("RRULE" in s for s in timezone.subcomponents)
    own = timezone.to_tz(lookup_tzid=False)  # read from the VTIMEZONE alone
    offsets = [datetime(2027, 3, 28, h, 59, tzinfo=UTC).astimezone(own).utcoffset() for h in (0, 1)]
    assert offsets == [timedelta(hours=1), timedelta(hours=2)]

    rule = event["RRULE"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["INTERVAL"] == [1] and rule["BYDAY"] == ["MO"]
    assert rule["UNTIL"][0] == datetime(2027, 6, 30, 21, 59, 59, tzinfo=UTC)
    assert b"UNTIL=20270630T215959Z" in raw  # RFC 5545 3.3.10: UTC with a TZID'd DTSTART

    assert str(event["SUMMARY"]) == "Mentoring: Ana & Ben"
    assert "next steps" in str(event["DESCRIPTION"])
    assert str(event["LOCATION"]) == LINK and str(event["URL"]) == LINK
    assert str(event["STATUS"]) == "CONFIRMED" and str(event["TRANSP"]) == "OPAQUE"
    assert str(event["ORGANIZER"]) == "mailto:coordinator@example.org"
    assert event["ORGANIZER"].params["CN"] == "Mentoring Programme"

    ana, ben = event["ATTENDEE"]
    assert str(ana) == "mailto:Ana.Smith@example.com" and str(ben) == "mailto:ben@example.de"
    assert ana.params["CN"] == "Ana Smith, PhD" and ben.params["CN"] == "Ben Weber"
    assert ana.params["PARTSTAT"] == "ACCEPTED" and ben.params["PARTSTAT"] == "NEEDS-ACTION"
    for attendee in (ana, ben):
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert attendee.params["RSVP"] == "TRUE"

    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-15)
    assert str(alarm["DESCRIPTION"])


def test_cancel_keeps_uid_raises_sequence_and_has_no_alarm() -> None:
    request = Calendar.from_ical(build(sequence=2)).walk("VEVENT")[0]
    calendar = Calendar.from_ical(build("CANCEL", sequence=3))
    assert str(calendar["METHOD"]) == "CANCEL"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == str(request["UID"])
    assert event.decoded("SEQUENCE") == 3 > request.decoded("SEQUENCE")
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.walk("VALARM") == []
    assert len(event["ATTENDEE"]) == 2  # RFC 5546 3.2.5: the attendees to tell
    assert calendar.walk("VTIMEZONE")[0]["TZID"] == event["DTSTART"].params["TZID"]


def test_publish_has_no_attendees_but_an_alarm() -> None:
    calendar = Calendar.from_ical(build("PUBLISH"))
    (event,) = calendar.walk("VEVENT")
    assert "ATTENDEE" not in event  # RFC 5546 3.2.1
    assert str(event["STATUS"]) == "CONFIRMED" and event.walk("VALARM")


def test_generated_ics_reads_back_through_parse_itip() -> None:
    responses = parse_itip(build(partstats={"ben@example.de": "TENTATIVE"}))
    assert [(r.attendee, r.partstat) for r in responses] == [
        ("ana.smith@example.com", "NEEDS-ACTION"),
        ("ben@example.de", "TENTATIVE"),
    ]
    assert all(r.method == "REQUEST" and r.recurrence_id is None for r in responses)


UID = "pair-7-series@mentormail.example.org"


def crlf(text: str) -> str:
    return text.strip().replace("\n", "\r\n") + "\r\n"


GOOGLE_REPLY = crlf(f"""
BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REPLY
BEGIN:VEVENT
DTSTART;TZID=Europe/Berlin:20270301T140000
DTEND;TZID=Europe/Berlin:20270301T144500
RRULE:FREQ=WEEKLY;UNTIL=20270630T215959Z;INTERVAL=1;BYDAY=MO
DTSTAMP:20270221T081503Z
ORGANIZER;CN=Mentoring Programme:mailto:coordinator@example.org
UID:{UID}
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Ana Sm
 ith;X-NUM-GUESTS=0:mailto:ana.smith@gmail.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;CN=be
 n@example.de;X-NUM-GUESTS=0:mailto:ben@example.de
X-MICROSOFT-CDO-OWNERAPPTID:-1912461364
CREATED:20270220T123000Z
DESCRIPTION:Your fortnightly mentoring call.\\n\\n-::~:~::~:~:~:~:~:~:~:~:~:~
 :~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-\\nInvi
 tation from Google Calendar: https://calendar.google.com/calendar/\\n
LAST-MODIFIED:20270221T081503Z
LOCATION:https://meet.example.org/mentoring-ana-ben
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Mentoring: Ana & Ben
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
""")

OUTLOOK_REPLY = crlf(f"""
BEGIN:VCALENDAR
METHOD:REPLY
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
ATTENDEE;PARTSTAT=TENTATIVE;CN=Ben Weber:MAILTO:Ben.Weber@contoso.de
COMMENT;LANGUAGE=de-DE:Ich komme eventuell 5 Minuten später.\\n
SUMMARY;LANGUAGE=de-DE:Mit Vorbehalt angenommen: Mentoring: Ana & Ben
RRULE:FREQ=WEEKLY;UNTIL=20270630T215959Z;INTERVAL=1;BYDAY=MO;WKST=MO
DTSTART;TZID=W. Europe Standard Time:20270301T140000
DTEND;TZID=W. Europe Standard Time:20270301T144500
UID:{UID}
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20270221T093012Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:1
LOCATION;LANGUAGE=de-DE:https://meet.example.org/mentoring-ana-ben
X-MICROSOFT-CDO-APPT-SEQUENCE:1
X-MICROSOFT-CDO-OWNERAPPTID:2118512345
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
X-MICROSOFT-CDO-IMPORTANCE:1
X-MICROSOFT-CDO-INSTTYPE:1
X-MICROSOFT-DONOTFORWARDMEETING:FALSE
X-MICROSOFT-DISALLOW-COUNTER:FALSE
X-MS-OLK-APPTSEQTIME:20270221T093012Z
X-MS-OLK-AUTOFILLLOCATION:FALSE
X-MS-OLK-CONFTYPE:0
END:VEVENT
END:VCALENDAR
""")

OUTLOOK_DECLINE_ONE = (
    OUTLOOK_REPLY.replace("PARTSTAT=TENTATIVE", "PARTSTAT=DECLINED")
    .replace("X-MICROSOFT-CDO-INSTTYPE:1", "X-MICROSOFT-CDO-INSTTYPE:3")
    .replace(
        "UID:",
        "RECURRENCE-ID;TZID=W. Europe Standard Time:20270315T140000\r\nUID:",
    )
)

APPLE_REPLY = crlf(f"""
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Apple Inc.//macOS 15.3//EN
METHOD:REPLY
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
DTSTART:19810329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZNAME:CEST
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:19961027T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZNAME:CET
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
ATTENDEE;CN="Ana Smith";CUTYPE=INDIVIDUAL;EMAIL="ana.smith@icloud.com";PA
 RTSTAT=DECLINED;ROLE=REQ-PARTICIPANT:mailto:ana.smith@icloud.com
DTEND;TZID=Europe/Berlin:20270405T144500
DTSTAMP:20270221T101010Z
DTSTART;TZID=Europe/Berlin:20270405T140000
ORGANIZER;CN="Mentoring Programme";EMAIL="coordinator@example.org":mailto:
 coordinator@example.org
RECURRENCE-ID;TZID=Europe/Berlin:20270405T140000
REQUEST-STATUS:2.0;Success
SEQUENCE:0
SUMMARY:Mentoring: Ana & Ben
UID:{UID}
X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC
END:VEVENT
END:VCALENDAR
""")

THUNDERBIRD_REPLY = crlf(f"""
BEGIN:VCALENDAR
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
VERSION:2.0
METHOD:REPLY
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
CREATED:20270221T110000Z
LAST-MODIFIED:20270221T110512Z
DTSTAMP:20270221T110512Z
UID:{UID}
SUMMARY:Mentoring: Ana & Ben
ORGANIZER;CN=Mentoring Programme:mailto:coordinator@example.org
ATTENDEE;RSVP=TRUE;CN=Ben Weber;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mai
 lto:ben@example.de
RRULE:FREQ=WEEKLY;UNTIL=20270630T215959Z;BYDAY=MO
DTSTART;TZID=Europe/Berlin:20270301T140000
DTEND;TZID=Europe/Berlin:20270301T144500
SEQUENCE:2
TRANSP:OPAQUE
X-MOZ-SEND-INVITATIONS:TRUE
X-MOZ-SEND-INVITATIONS-UNDISCLOSED:FALSE
END:VEVENT
END:VCALENDAR
""")

SERIES_AND_OVERRIDE = crlf(f"""
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Corp.//CalDAV Client//EN
METHOD:REPLY
BEGIN:VEVENT
UID:{UID}
DTSTAMP:20270222T090000Z
SEQUENCE:0
DTSTART;TZID=Europe/Berlin:20270301T140000
RRULE:FREQ=WEEKLY;UNTIL=20270630T215959Z;BYDAY=MO
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ben@example.de
END:VEVENT
BEGIN:VEVENT
UID:{UID}
DTSTAMP:20270222T090000Z
SEQUENCE:0
RECURRENCE-ID:20270315T130000Z
DTSTART:20270315T130000Z
ATTENDEE;PARTSTAT=DECLINED:mailto:ben@example.de
COMMENT:Travelling that week.
END:VEVENT
END:VCALENDAR
""")

COUNTER = crlf(f"""
BEGIN:VCALENDAR
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
VERSION:2.0
METHOD:COUNTER
BEGIN:VEVENT
UID:{UID}
DTSTAMP:20270222T100000Z
SEQUENCE:0
ORGANIZER;CN=Mentoring Programme:mailto:coordinator@example.org
ATTENDEE;PARTSTAT=NEEDS-ACTION;CN=Ben Weber:mailto:ben@example.de
DTSTART;TZID=Europe/Berlin:20270302T150000
DTEND;TZID=Europe/Berlin:20270302T154500
RRULE:FREQ=WEEKLY;UNTIL=20270630T215959Z;BYDAY=TU
COMMENT:Could we move to Tuesdays at 15:00?
END:VEVENT
END:VCALENDAR
""")


def test_google_reply_with_extra_attendees() -> None:
    responses = parse_itip(GOOGLE_REPLY)
    assert [(r.attendee, r.partstat) for r in responses] == [
        ("ana.smith@gmail.com", "ACCEPTED"),
        ("ben@example.de", "NEEDS-ACTION"),
    ]
    assert {(r.method, r.uid, r.sequence, r.recurrence_id) for r in responses} == {
        ("REPLY", UID, 0, None)
    }


def test_outlook_reply_with_windows_zone_and_comment() -> None:
    (response,) = parse_itip(OUTLOOK_REPLY.encode())
    assert response == ItipResponse(
        method="REPLY",
        uid=UID,
        attendee="ben.weber@contoso.de",
        partstat="TENTATIVE",
        recurrence_id=None,
        sequence=1,
        comment="Ich komme eventuell 5 Minuten später.",
        start=response.start,
        summary=response.summary,
    )
    # the Windows zone name is resolved: 14:00 W. Europe Standard Time in March is 13:00 UTC
    assert response.start is not None
    assert response.start.astimezone(UTC) == datetime(2027, 3, 1, 13, 0, tzinfo=UTC)


def test_outlook_declines_one_occurrence() -> None:
    (response,) = parse_itip(OUTLOOK_DECLINE_ONE)
    assert response.partstat == "DECLINED"
    assert response.recurrence_id == datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
    assert response.recurrence_id is not None and response.recurrence_id.tzinfo is not None


def test_apple_declines_one_occurrence() -> None:
    (response,) = parse_itip(APPLE_REPLY)
    assert (response.method, response.attendee, response.partstat) == (
        "REPLY",
        "ana.smith@icloud.com",
        "DECLINED",
    )
    # 5 April 2027 is after Europe's DST start: 14:00 CEST is 12:00 UTC.
    assert response.recurrence_id == datetime(2027, 4, 5, 12, 0, tzinfo=UTC)


def test_thunderbird_accepts_series() -> None:
    (response,) = parse_itip(THUNDERBIRD_REPLY)
    assert (response.attendee, response.partstat, response.sequence) == (
        "ben@example.de",
        "ACCEPTED",
        2,
    )
    assert response.recurrence_id is None and response.comment == ""


def test_series_and_override_in_one_reply() -> None:
    series, override = parse_itip(SERIES_AND_OVERRIDE)
    assert (series.partstat, series.recurrence_id) == ("ACCEPTED", None)
    assert override.partstat == "DECLINED"
    assert override.recurrence_id == datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
    assert override.comment == "Travelling that week."


def test_counter_proposal() -> None:
    (response,) = parse_itip(COUNTER)
    assert response.method == "COUNTER"
    assert response.attendee == "ben@example.de"
    assert "Tuesdays" in response.comment


def test_missing_method_defaults_to_empty() -> None:
    text = THUNDERBIRD_REPLY.replace("METHOD:REPLY\r\n", "")
    (response,) = parse_itip(text)
    assert response.method == "" and response.partstat == "ACCEPTED"


def test_floating_and_date_recurrence_ids_become_aware() -> None:
    floating = SERIES_AND_OVERRIDE.replace(
        "RECURRENCE-ID:20270315T130000Z", "RECURRENCE-ID:20270315T140000"
    ).replace("DTSTART:20270315T130000Z", "DTSTART;TZID=Europe/Berlin:20270315T140000")
    assert parse_itip(floating)[1].recurrence_id == datetime(2027, 3, 15, 14, tzinfo=BERLIN)
    as_date = SERIES_AND_OVERRIDE.replace(
        "RECURRENCE-ID:20270315T130000Z", "RECURRENCE-ID;VALUE=DATE:20270315"
    )
    assert parse_itip(as_date)[1].recurrence_id == datetime(2027, 3, 15, tzinfo=UTC)


def test_event_without_attendee_and_odd_addresses() -> None:
    text = THUNDERBIRD_REPLY.replace(
        "ATTENDEE;RSVP=TRUE;CN=Ben Weber;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mai\r\n lto:ben@example.de\r\n",
        "",
    )
    (response,) = parse_itip(text)
    assert (response.attendee, response.partstat) == ("", "")
    odd = THUNDERBIRD_REPLY.replace(
        ":mai\r\n lto:ben@example.de", ";EMAIL=Ben@Example.DE:urn:uuid:1234"
    ).replace("PARTSTAT=ACCEPTED;", "")
    (response,) = parse_itip(odd)
    assert (response.attendee, response.partstat) == ("ben@example.de", "NEEDS-ACTION")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        "hello, this is not a calendar",
        b"\xff\xfe\x00garbage",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",  # no UID
        SERIES_AND_OVERRIDE.replace("RECURRENCE-ID:20270315T130000Z", "RECURRENCE-ID:2027"),
        "BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n",
        GOOGLE_REPLY[: len(GOOGLE_REPLY) // 2] + "\r\nno colon on this line\r\n",
    ],
)
def test_garbage_raises_ics_error(data: str | bytes) -> None:
    with pytest.raises(IcsError):
        parse_itip(data)


def test_wrong_type_raises_ics_error() -> None:
    with pytest.raises(IcsError):
        parse_itip(12345)  # type: ignore[arg-type]


def _only_ics_error(data: str | bytes) -> None:
    with contextlib.suppress(IcsError):
        parse_itip(data)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_fuzz_random_input_never_raises_other_errors(data: str | bytes) -> None:
    _only_ics_error(data)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([GOOGLE_REPLY, OUTLOOK_DECLINE_ONE, APPLE_REPLY, SERIES_AND_OVERRIDE, COUNTER]),
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3000), st.integers(0, 20), st.text(max_size=8)
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_fuzz_mutated_replies_never_raise_other_errors(
    body: str, edits: list[tuple[int, int, str]]
) -> None:
    for position, length, insert in edits:
        position %= len(body) + 1
        body = body[:position] + insert + body[position + length :]
    _only_ics_error(body)
