"""The meeting series a calendar connector is asked to store, read back from its iCalendar.

The agent hands every calendar the whole VCALENDAR it built (`agent.meetings.ics.series_ics`): one
weekly master VEVENT, EXDATEs for skipped meetings and override VEVENTs (RECURRENCE-ID)
for moved ones. File and CalDAV back ends store that text as it is; the provider APIs
(Google Calendar, Exchange, Microsoft Graph) want structured fields instead. This module
turns the text into those fields once, so each provider connector only maps names.

Only what `series_ics` writes is read: a weekly RRULE with INTERVAL, BYDAY and UNTIL.
Anything else is an `IcsError`, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from agent.meetings.ics import IcsError

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class MovedMeeting:
    original: datetime  # the start the series gives it (RECURRENCE-ID), aware in the zone
    start: datetime
    end: datetime


@dataclass(frozen=True)
class SeriesEvent:
    uid: str
    sequence: int
    summary: str
    description: str
    location: str  # the video link
    zone: str  # IANA name of the zone the series is anchored in
    start: datetime  # first meeting, aware in `zone`
    end: datetime
    interval_weeks: int
    weekday: str  # RRULE BYDAY of every meeting: "MO" .. "SU"
    until: datetime  # aware, UTC: no meeting starts after it
    organizer: tuple[str, str]  # (name, email)
    attendees: tuple[tuple[str, str], ...]  # (name, email)
    cancelled: bool
    skipped: tuple[datetime, ...]  # original starts, aware in `zone`
    moved: tuple[MovedMeeting, ...]

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def last_day(self) -> date:
        """The date of `until` in the series' zone (for APIs that end a recurrence on a day)."""
        return self.until.astimezone(ZoneInfo(self.zone)).date()

    def starts(self) -> list[datetime]:
        """Original start of every meeting of the series, skipped ones included."""
        zone = ZoneInfo(self.zone)
        wall, day = self.start.timetz().replace(tzinfo=None), self.start.date()
        out: list[datetime] = []
        while (start := datetime.combine(day, wall, tzinfo=zone)) <= self.until:
            out.append(start)
            day += timedelta(weeks=self.interval_weeks)
        return out


def _address(value: object) -> tuple[str, str]:
    email = str(value)
    if email.lower().startswith("mailto:"):
        email = email[7:]
    params = getattr(value, "params", {})
    return str(params.get("CN", "")), email


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise IcsError(f"{what} must be a date-time with a time zone, got {value!r}")
    return value


def _zone_name(start: datetime) -> str:
    key = getattr(start.tzinfo, "key", None)
    if key is None:
        if start.utcoffset() == timedelta(0):
            return "UTC"
        raise IcsError(f"DTSTART's time zone {start.tzinfo!r} is not an IANA zone")
    return str(key)


def read_series(ics: bytes) -> SeriesEvent:
    """The series in `ics` (as `agent.meetings.ics.series_ics` writes it), or IcsError
    saying why not."""
    try:
        calendar = Calendar.from_ical(ics)
    except ValueError as exc:
        raise IcsError(f"unreadable iCalendar: {exc}") from None
    events = [c for c in calendar.walk("VEVENT")]
    masters = [e for e in events if "RECURRENCE-ID" not in e]
    if len(masters) != 1:
        raise IcsError(f"expected one recurring VEVENT, found {len(masters)}")
    master = masters[0]
    rule = master.get("RRULE")
    if rule is None:
        raise IcsError("the VEVENT has no RRULE")
    if rule.get("FREQ") != ["WEEKLY"] or not rule.get("UNTIL") or len(rule.get("BYDAY", [])) != 1:
        raise IcsError(f"only weekly series with one BYDAY and an UNTIL are supported: {rule}")
    start = _aware(master.decoded("DTSTART"), "DTSTART")
    end = _aware(master.decoded("DTEND"), "DTEND")
    zone = _zone_name(start)
    tz = ZoneInfo(zone)
    until = _aware(rule["UNTIL"][0], "RRULE UNTIL").astimezone(UTC)
    skipped = tuple(
        sorted(
            _aware(when.dt, "EXDATE").astimezone(tz)
            for prop in _as_list(master.get("EXDATE"))
            for when in prop.dts
        )
    )
    moved = tuple(
        sorted(
            (
                MovedMeeting(
                    original=_aware(e.decoded("RECURRENCE-ID"), "RECURRENCE-ID").astimezone(tz),
                    start=_aware(e.decoded("DTSTART"), "DTSTART").astimezone(tz),
                    end=_aware(e.decoded("DTEND"), "DTEND").astimezone(tz),
                )
                for e in events
                if "RECURRENCE-ID" in e
            ),
            key=lambda m: m.original,
        )
    )
    organizer = master.get("ORGANIZER")
    return SeriesEvent(
        uid=str(master.get("UID", "")),
        sequence=int(master.get("SEQUENCE", 0)),
        summary=str(master.get("SUMMARY", "")),
        description=str(master.get("DESCRIPTION", "")),
        location=str(master.get("LOCATION", "")),
        zone=zone,
        start=start.astimezone(tz),
        end=end.astimezone(tz),
        interval_weeks=int(rule.get("INTERVAL", [1])[0]),
        weekday=str(rule["BYDAY"][0]),
        until=until,
        organizer=_address(organizer) if organizer else ("", ""),
        attendees=tuple(_address(a) for a in _as_list(master.get("ATTENDEE"))),
        cancelled=str(master.get("STATUS", "")).upper() == "CANCELLED",
        skipped=skipped,
        moved=moved,
    )


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
