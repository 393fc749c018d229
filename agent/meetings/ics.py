"""iCalendar for meeting series: building iMIP invitations and reading the answers.

Building follows RFC 5545 (iCalendar) and RFC 5546 (iTIP); the message is sent by mail as
RFC 6047 (iMIP) prescribes. The text is produced by the `icalendar` library (folding, CRLF,
escaping, RFC 6868 parameter quoting), never by hand.

Reading (`parse_itip`) accepts what real clients send, which is looser than the RFCs: mixed
case `MAILTO:`, Windows zone names in TZID (Outlook), extra attendees (Google), X- props,
series and overrides in one object. Whatever goes wrong surfaces as one `IcsError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from icalendar import Alarm, Calendar, Event, vCalAddress, vRecur
from icalendar.prop import vBroken

from agent.meetings.slots import SeriesSlot
from agent.meetings.vtimezone import vtimezone

__all__ = ["IcsError", "ItipResponse", "parse_itip", "series_ics"]

PRODID = "-//mentormail//mentormail//EN"
DECLINE_COUNTER = "DECLINECOUNTER"  # the method of an answer to a COUNTER not taken
PARTSTATS = frozenset({"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"})


class IcsError(ValueError):
    """An iCalendar object that cannot be read; the message says what is wrong."""


def series_ics(
    *,
    method: Literal["REQUEST", "CANCEL", "PUBLISH"],
    uid: str,
    sequence: int,
    slot: SeriesSlot,
    summary: str,
    description: str,
    video_link: str,
    organizer: tuple[str, str],
    attendees: Sequence[tuple[str, str]],
    dtstamp: datetime,
    partstats: Mapping[str, str] | None = None,
    skipped: Sequence[datetime] = (),
    moved: Sequence[tuple[datetime, datetime]] = (),
) -> bytes:
    """One VCALENDAR with a VTIMEZONE and the recurring VEVENT of `slot`.

    - REQUEST (RFC 5546 3.2.2) invites or updates: same UID, SEQUENCE raised by the caller
      on every change that matters to attendees (RFC 5546 2.1.4).
    - CANCEL (RFC 5546 3.2.5) removes the series: same UID, a higher SEQUENCE,
      STATUS:CANCELLED, and no VALARM (nothing left to remind of).
    - PUBLISH (RFC 5546 3.2.1) is a plain calendar entry; that method allows no ATTENDEE,
      so `attendees` and `partstats` are left out.

    DTSTART/DTEND carry TZID=<anchor zone> and the VTIMEZONE covers the series
    (RFC 5545 3.6.5); DTEND is the exact end of the first meeting, and RFC 5545 3.8.5.3
    gives every occurrence that same exact duration. Attendee PARTSTAT comes from
    `partstats` (keyed by lower-case email), else NEEDS-ACTION.

    Single meetings that changed travel with the series, so that every update carries
    the whole current state (as Outlook and Google send it too): `skipped` occurrences
    (their original starts) become EXDATEs of the master (RFC 5545 3.8.5.1), and each
    `moved` (original start, new start) becomes an override VEVENT with the same UID and
    RECURRENCE-ID = the original start (RFC 5545 3.8.4.4).
    """
    if dtstamp.tzinfo is None:
        raise ValueError("dtstamp must be aware")
    cancel = method == "CANCEL"
    stats = {email.lower(): value.upper() for email, value in (partstats or {}).items()}

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    def event(start: datetime) -> Event:
        item = Event()
        item.add("uid", uid)
        item.add("sequence", sequence)
        item.add("dtstamp", dtstamp.astimezone(UTC))
        local = start.astimezone(slot.tz)
        item.add("dtstart", local)
        item.add("dtend", (local.astimezone(UTC) + slot.duration).astimezone(slot.tz))
        item.add("summary", summary)
        item.add("description", description)
        item.add("location", video_link)
        item.add("url", video_link)
        item.add("organizer", _address(*organizer))
        if method != "PUBLISH":
            for name, email in attendees:
                attendee = _address(name, email)
                attendee.params["CUTYPE"] = "INDIVIDUAL"
                attendee.params["ROLE"] = "REQ-PARTICIPANT"
                attendee.params["PARTSTAT"] = stats.get(email.lower(), "NEEDS-ACTION")
                attendee.params["RSVP"] = "TRUE"
                item.add("attendee", attendee)
        item.add("status", "CANCELLED" if cancel else "CONFIRMED")
        item.add("transp", "OPAQUE")
        if not cancel:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", summary or "Reminder")
            alarm.add("trigger", timedelta(minutes=-15))
            item.add_component(alarm)
        return item

    master = event(slot.first_start)
    master.add("rrule", vRecur.from_ical(slot.rrule))
    if skipped:
        master.add("exdate", [d.astimezone(slot.tz) for d in sorted(skipped)])
    calendar.add_component(master)
    if not cancel:
        for original, new_start in sorted(moved):
            override = event(new_start)
            override.add("recurrence-id", original.astimezone(slot.tz))
            calendar.add_component(override)

    # RRULE-based observances covering the series (agent.meetings.vtimezone), first in the
    # object as Outlook, Google and Apple place it; none for UTC (its times end in Z).
    first = slot.first_start.astimezone(slot.tz)
    until = max([slot.until, *(new for _, new in moved)]).astimezone(slot.tz)
    if calendar.get_missing_tzids():
        zone = vtimezone(slot.tz, first.date(), until.date())
        calendar.subcomponents.insert(0, zone)
    if calendar.get_missing_tzids():
        raise ValueError(f"no VTIMEZONE can be built for {slot.tz.key}")
    return calendar.to_ical()


def declinecounter_ics(
    *,
    uid: str,
    sequence: int,
    recurrence_id: datetime | None,
    organizer: tuple[str, str],
    attendee: tuple[str, str],
    comment: str,
    dtstamp: datetime,
) -> bytes:
    """The organizer's answer to a COUNTER it does not take (RFC 5546 3.2.8): the same UID
    and SEQUENCE, the meeting the proposal was for (RECURRENCE-ID, or the series), and the
    reason as COMMENT. The attendee's calendar keeps the meeting as it was."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "DECLINECOUNTER")
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", dtstamp.astimezone(UTC))
    if recurrence_id is not None:
        event.add("recurrence-id", recurrence_id.astimezone(UTC))
    event["organizer"] = _address(*organizer)
    event.add("attendee", _address(*attendee))
    event.add("comment", comment)
    calendar.add_component(event)
    return calendar.to_ical()


def _address(name: str, email: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    return address


@dataclass(frozen=True)
class ItipResponse:
    """One attendee's status in one iTIP message (RFC 5546 1.4), as far as mentormail cares."""

    method: str
    uid: str
    attendee: str
    partstat: str
    recurrence_id: datetime | None
    sequence: int
    comment: str
    start: datetime | None = None  # the VEVENT's DTSTART; in a COUNTER, the proposed time
    delegated_to: str = ""  # DELEGATED-TO of the attendee (RFC 5545 3.2.5), an address
    summary: str = ""  # the VEVENT's SUMMARY and DESCRIPTION, to tell whose event it is
    by_date: bool = False  # RECURRENCE-ID is a DATE: the meeting on that day, not a time


def parse_itip(data: str | bytes) -> list[ItipResponse]:
    """Read an iTIP object: one entry per (VEVENT, ATTENDEE), in document order.

    A REPLY (RFC 5546 3.2.3) should name only the replying attendee, but Google and some
    older clients list everyone, so match `attendee` against the mail's sender (RFC 6047
    3 makes the sender the attendee). A VEVENT without ATTENDEE (e.g. an organizer's
    CANCEL) yields one entry with attendee and partstat "". Overrides of single meetings
    (RFC 5545 3.8.4.4 RECURRENCE-ID) come out as their own entries with `recurrence_id`
    set, always aware: a TZID is resolved (Windows names too), a floating value takes the
    zone of the VEVENT's DTSTART, else UTC; a DATE value means midnight UTC that day.
    `method` is "" when the object has no METHOD; the caller decides what that means.

    Raises IcsError, and no other exception, when the data is not a readable VCALENDAR.
    """
    try:
        return _parse(data)
    except IcsError:
        raise
    except Exception as error:  # the library raises all sorts on broken input
        raise IcsError(f"unreadable iCalendar data: {error}") from error


def _parse(data: str | bytes) -> list[ItipResponse]:
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    if not isinstance(data, str):
        raise IcsError(f"expected iCalendar text, got {type(data).__name__}")
    text = data.lstrip("\ufeff \t\r\n")
    if not text.upper().startswith("BEGIN:VCALENDAR"):
        raise IcsError("not an iCalendar object: it does not start with BEGIN:VCALENDAR")
    calendars = Calendar.from_ical(text, multiple=True)
    if not calendars or any(c.name != "VCALENDAR" for c in calendars):
        raise IcsError("no VCALENDAR in the data")
    responses: list[ItipResponse] = []
    for calendar in calendars:
        method = _text(calendar.get("METHOD")).upper()
        for event in calendar.walk("VEVENT"):
            uid = _text(event.get("UID"))
            if not uid:
                raise IcsError("a VEVENT has no UID, so it cannot be matched to a meeting")
            recurrence_id = _recurrence_id(event)
            start = _start(event)
            sequence = _int(event.get("SEQUENCE"))
            comment = "\n".join(t for t in (_text(c) for c in _all(event, "COMMENT")) if t)
            common = {
                "method": method,
                "uid": uid,
                "recurrence_id": recurrence_id,
                "sequence": sequence,
                "comment": comment,
                "start": start,
                "summary": " ".join(_text(event.get(k)) for k in ("SUMMARY", "DESCRIPTION")),
                "by_date": _by_date(event),
            }
            attendees = _all(event, "ATTENDEE")
            if not attendees:
                responses.append(ItipResponse(attendee="", partstat="", **common))
            for attendee in attendees:
                responses.append(
                    ItipResponse(
                        attendee=_email(attendee),
                        partstat=_partstat(attendee),
                        delegated_to=_delegated_to(attendee),
                        **common,
                    )
                )
    return responses


def _all(component: Any, name: str) -> list[Any]:
    value = component.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    return str(value).strip()


def _int(value: Any) -> int:
    """SEQUENCE (RFC 5545 3.8.7.4), 0 when absent or unreadable."""
    if value is None or isinstance(value, vBroken):
        text = _text(value)
        return int(text) if text.isdigit() else 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _email(attendee: Any) -> str:
    """`MAILTO:Ana@Example.org` -> `ana@example.org`; falls back to the EMAIL parameter."""
    value = _text(attendee)
    if value.lower().startswith("mailto:"):
        return value[7:].strip().lower()
    params = getattr(attendee, "params", {})
    email = _text(params.get("EMAIL")) if params else ""
    return (email or value).lower()


def _delegated_to(attendee: Any) -> str:
    """The first DELEGATED-TO address, lower-cased without "mailto:" ("" when none)."""
    params = getattr(attendee, "params", {})
    value = params.get("DELEGATED-TO") if params else None
    if isinstance(value, list):
        value = value[0] if value else None
    text = _text(value).strip('"')
    return text[7:].lower() if text.lower().startswith("mailto:") else text.lower()


def _by_date(event: Any) -> bool:
    prop = event.get("RECURRENCE-ID")
    if isinstance(prop, list):
        prop = prop[0] if prop else None
    value = getattr(prop, "dt", None)
    return isinstance(value, date) and not isinstance(value, datetime)


def _partstat(attendee: Any) -> str:
    """PARTSTAT, upper case; RFC 5545 3.2.12 makes NEEDS-ACTION the default."""
    params = getattr(attendee, "params", {})
    value = _text(params.get("PARTSTAT")) if params else ""
    return value.upper() or "NEEDS-ACTION"


def _recurrence_id(event: Any) -> datetime | None:
    prop = event.get("RECURRENCE-ID")
    if prop is None:
        return None
    if isinstance(prop, list):
        prop = prop[0]
    value = getattr(prop, "dt", None)
    if isinstance(prop, vBroken) or value is None:
        raise IcsError(f"RECURRENCE-ID {_text(prop)!r} is not a date or date-time")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        start = getattr(event.get("DTSTART"), "dt", None)
        zone = start.tzinfo if isinstance(start, datetime) and start.tzinfo else UTC
        return value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise IcsError(f"RECURRENCE-ID {_text(prop)!r} is not a date or date-time")


def _start(event: Any) -> datetime | None:
    """DTSTART as an aware date-time (floating read as UTC), None when absent or a date."""
    value = getattr(event.get("DTSTART"), "dt", None)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
