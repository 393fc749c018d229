"""Meeting series in Google Calendar, and participants' busy time, through the Calendar API.

Google sends the invitations, updates and cancellations itself (`invites_attendees`), so
the agent's own emails carry no calendar part and nobody gets two invitations.

Writing (`put_event`):

- The VCALENDAR the agent built is read with `read_series` and mapped to one recurring
  event: summary, description, location (the video link), start and end in the series'
  zone, `RRULE:FREQ=WEEKLY;INTERVAL=..;BYDAY=..;UNTIL=..Z`, the attendees, and the
  iCalendar UID in a private extended property (`mentormailUid`).
- Its event id is derived from the UID (`event_id`: "mm" + 40 hex digits of its SHA-256,
  inside the base32hex alphabet Google requires), so a retry or a crash between two calls
  never makes a second event: events.insert answers 409 for an id that exists (or was
  deleted), and the event is then patched with the same fields (status confirmed, which
  also brings a deleted one back).
- `meet: true` asks for a Google Meet link (conferenceData.createRequest, type
  hangoutsMeet, conferenceDataVersion=1); the request id is the event id, so a repeated
  request does not make a second conference.
- Single meetings: after an update, or when the series has moved or skipped meetings, the
  instances are listed once (events.instances, deleted ones included) and each one that
  differs from the plan is changed, all in one batch request: a skipped meeting is
  deleted, a moved one patched to its new start and end, and one that is no longer moved
  or skipped is put back. An instance that is already as planned is left alone, so
  repeating put_event sends nothing twice; a 410 for an instance deleted meanwhile is fine.
- `send_updates` (all, externalOnly, none) goes with every change.

`cancel_event` deletes the event (Google sends the cancellations); one that is gone
already (404, 410) is fine.

`busy` asks freebusy.query for the addresses (at most 50 per query, at most 90 days per
query); an address Google cannot answer for (outside the domain, not shared: the entry
carries `errors`) is left out with a warning, which the planner takes as "unknown".
Google's free/busy cannot tell the program's own meetings from other appointments.

Errors are one-line ConnectorErrors such as `Google Calendar mentoring@example.org:
storing the series <uid>: 403 Forbidden (forbidden)`, without keys or tokens.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict

from connectors.base import ConnectorError
from connectors.google_auth import CALENDAR_SCOPES, GoogleApi, GoogleApiError, GoogleOptions

if TYPE_CHECKING:
    from agent.config.model import Config
    from connectors.series_event import SeriesEvent

log = logging.getLogger(__name__)

Span = tuple[datetime, datetime]
FREEBUSY_ITEMS = 50  # calendars per freebusy.query
FREEBUSY_SPAN = timedelta(days=90)  # the longest time range freebusy.query accepts
INSTANCES_PAGE = 2500  # events.instances maxResults (the API's maximum)


def event_id(uid: str) -> str:
    """The Google event id of the series with iCalendar UID `uid` (base32hex: a-v, 0-9)."""
    return "mm" + hashlib.sha256(uid.encode("utf-8")).hexdigest()[:40]


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _when(value: datetime, zone: str) -> dict[str, str]:
    return {"dateTime": value.isoformat(), "timeZone": zone}


def _parse(value: dict[str, Any] | None) -> datetime | None:
    """An EventDateTime's dateTime as an aware UTC datetime (None for all-day or missing)."""
    text = (value or {}).get("dateTime")
    if not text:
        return None
    parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else None


class GoogleCalendar:
    """The organizer's Google calendar (see the module docstring for the exact behaviour)."""

    invites_attendees = True

    class Options(GoogleOptions):
        model_config = ConfigDict(extra="forbid")
        calendar: str = "primary"  # a calendar id; "primary" is the mailbox's own
        meet: bool = False  # add a Google Meet link to the series
        send_updates: Literal["all", "externalOnly", "none"] = "all"

    def __init__(self, options: Options, config: Config, *, transport: Any = None) -> None:
        self.options = options
        self.config = config
        self.api = GoogleApi(
            product="Google Calendar",
            api="calendar",
            version="v3",
            scopes=CALENDAR_SCOPES,
            options=options,
            config=config,
            transport=transport,
        )
        self.calendar_id = options.calendar

    @property
    def where(self) -> str:
        return self.api.where

    # -- writing -----------------------------------------------------------------------

    def _body(self, uid: str, series: SeriesEvent) -> dict[str, Any]:
        rule = (
            f"RRULE:FREQ=WEEKLY;INTERVAL={series.interval_weeks};BYDAY={series.weekday};"
            f"UNTIL={_utc_text(series.until)}"
        )
        attendees = []
        for name, address in series.attendees:
            attendee: dict[str, Any] = {"email": address}
            if name:
                attendee["displayName"] = name
            attendees.append(attendee)
        body: dict[str, Any] = {
            "id": event_id(uid),
            "status": "confirmed",
            "summary": series.summary,
            "description": series.description,
            "location": series.location,
            "start": _when(series.start, series.zone),
            "end": _when(series.end, series.zone),
            "recurrence": [rule],
            "attendees": attendees,
            "reminders": {"useDefault": True},
            "extendedProperties": {"private": {"mentormailUid": uid}},
        }
        if self.options.meet:
            body["conferenceData"] = {
                "createRequest": {
                    "requestId": event_id(uid),
                    "conferenceSolutionKey": {"type": "hangoutsMeet"},
                }
            }
        return body

    def _write_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "calendarId": self.calendar_id,
            "sendUpdates": self.options.send_updates,
        }
        if self.options.meet:
            params["conferenceDataVersion"] = 1
        return params

    def put_event(self, uid: str, ics: bytes) -> None:
        from agent.meetings.ics import IcsError  # icalendar: not for `validate`
        from connectors.series_event import read_series

        try:
            series = read_series(ics)
        except IcsError as exc:
            raise ConnectorError(f"{self.where}: cannot store the series {uid}: {exc}") from None
        if series.cancelled:
            self.cancel_event(uid, ics)
            return
        body = self._body(uid, series)
        eid = body["id"]
        params = self._write_params()
        what = f"storing the series {uid}"
        existed = False
        try:
            self.api.call(what, lambda s: s.events().insert(body=body, **params))
        except GoogleApiError as exc:
            if exc.status != 409:
                raise
            existed = True  # a retry, an update, or a series cancelled before
            patch = {k: v for k, v in body.items() if k != "id"}
            self.api.call(what, lambda s: s.events().patch(eventId=eid, body=patch, **params))
        if existed or series.moved or series.skipped:
            self._apply_single_meetings(uid, eid, series)
        log.info("%s: stored the series %s as event %s", self.where, uid, eid)

    def _instances(self, uid: str, eid: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self.api.pages(
            f"listing the meetings of {uid}",
            lambda s, token: s.events().instances(
                calendarId=self.calendar_id,
                eventId=eid,
                showDeleted=True,
                maxResults=INSTANCES_PAGE,
                pageToken=token,
            ),
        ):
            found += page.get("items", [])
        return found

    def _apply_single_meetings(self, uid: str, eid: str, series: SeriesEvent) -> None:
        """Delete, move or restore the instances that differ from the series' plan."""
        skipped = {when.astimezone(UTC) for when in series.skipped}
        moved = {m.original.astimezone(UTC): m for m in series.moved}
        duration = series.duration
        send = self.options.send_updates
        changes: list[tuple[str, Callable[[Any], Any]]] = []
        seen: set[datetime] = set()
        for instance in self._instances(uid, eid):
            original = _parse(instance.get("originalStartTime"))
            if original is None:
                continue
            seen.add(original)
            iid = str(instance["id"])
            cancelled = instance.get("status") == "cancelled"
            start, end = _parse(instance.get("start")), _parse(instance.get("end"))
            if original in skipped:
                if not cancelled:
                    changes.append(
                        (
                            iid,
                            lambda s, iid=iid: s.events().delete(
                                calendarId=self.calendar_id, eventId=iid, sendUpdates=send
                            ),
                        )
                    )
                continue
            meeting = moved.get(original)
            want_start = meeting.start if meeting else original
            want_end = meeting.end if meeting else original + duration
            if cancelled or start != want_start or end != want_end:
                patch = {
                    "status": "confirmed",
                    "start": _when(want_start.astimezone(series.start.tzinfo), series.zone),
                    "end": _when(want_end.astimezone(series.start.tzinfo), series.zone),
                }
                changes.append(
                    (
                        iid,
                        lambda s, iid=iid, patch=patch: s.events().patch(
                            calendarId=self.calendar_id, eventId=iid, body=patch, sendUpdates=send
                        ),
                    )
                )
        for original in sorted((skipped | set(moved)) - seen):
            log.warning(
                "%s: the series %s has no meeting at %s to move or skip",
                self.where,
                uid,
                original.isoformat(),
            )
        if not changes:
            return
        results = self.api.batch(f"changing single meetings of {uid}", changes)
        failures = [
            str(r)
            for r in results.values()
            if isinstance(r, GoogleApiError) and r.status not in (404, 410)
        ]
        if failures:
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            raise ConnectorError(failures[0] + more)

    def cancel_event(self, uid: str, ics: bytes) -> None:
        eid = event_id(uid)
        try:
            self.api.call(
                f"cancelling the series {uid}",
                lambda s: s.events().delete(
                    calendarId=self.calendar_id, eventId=eid, sendUpdates=self.options.send_updates
                ),
            )
        except GoogleApiError as exc:
            if exc.status not in (404, 410):
                raise
            log.info("%s: the series %s is gone already", self.where, uid)

    # -- reading busy time -------------------------------------------------------------

    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Span]]:
        """Busy spans per address Google answers for; the others are left out."""
        wanted = list(dict.fromkeys(emails))
        spans: dict[str, list[Span]] = {}
        failed: set[str] = set()
        for first in range(0, len(wanted), FREEBUSY_ITEMS):
            chunk = wanted[first : first + FREEBUSY_ITEMS]
            window = start
            while window < end:
                window_end = min(end, window + FREEBUSY_SPAN)
                answer = self._freebusy(chunk, window, window_end)
                for address in chunk:
                    entry = answer.get(address.lower())
                    if entry is None or entry.get("errors"):
                        reasons = ", ".join(
                            str(e.get("reason", "?")) for e in (entry or {}).get("errors", [])
                        )
                        if address not in failed:
                            log.warning(
                                "%s: busy time of %s left out: %s",
                                self.where,
                                address,
                                reasons or "not in the answer",
                            )
                        failed.add(address)
                        continue
                    for period in entry.get("busy", []):
                        begin = _parse({"dateTime": period["start"]})
                        finish = _parse({"dateTime": period["end"]})
                        if begin and finish and begin < finish:
                            spans.setdefault(address, []).append((begin, finish))
                window = window_end
        return {a: sorted(spans.get(a, [])) for a in wanted if a not in failed}

    def _freebusy(self, emails: list[str], start: datetime, end: datetime) -> dict[str, Any]:
        body = {
            "timeMin": _rfc3339(start),
            "timeMax": _rfc3339(end),
            "items": [{"id": address} for address in emails],
        }
        answer = self.api.call(
            f"reading busy time of {', '.join(emails)}", lambda s: s.freebusy().query(body=body)
        )
        return {str(k).lower(): v for k, v in answer.get("calendars", {}).items()}

    # -- check -------------------------------------------------------------------------

    def check(self) -> list[tuple[str, bool, str]]:
        """Sign-in and access to the calendar, participants' busy time; never raises."""
        lines: list[tuple[str, bool, str]] = []
        try:
            listing = self.api.call(
                f"reading the calendar {self.calendar_id}",
                lambda s: s.events().list(calendarId=self.calendar_id, maxResults=1),
            )
            role = str(listing.get("accessRole", "?"))
            writable = role in ("owner", "writer")
            detail = (
                f"{self.where}: calendar {self.calendar_id} "
                f"({listing.get('summary', '')}, {listing.get('timeZone', '?')}), access {role}"
            )
            if not writable:
                detail += ": the program cannot create events there"
            lines.append(("google calendar", writable, detail))
        except ConnectorError as exc:
            return [("google calendar", False, str(exc))]
        except Exception as exc:  # check() reports, it never raises
            return [("google calendar", False, self.api.scrub(repr(exc)))]
        emails = [p.email for p in self.config.participants]
        if not emails:
            return lines
        try:
            now = datetime.now(UTC)
            answer = self._freebusy(emails[:FREEBUSY_ITEMS], now, now + timedelta(days=1))
            hidden = sorted(
                e
                for e in emails[:FREEBUSY_ITEMS]
                if (answer.get(e.lower()) or {"errors": [{}]}).get("errors")
            )
            readable = len(emails[:FREEBUSY_ITEMS]) - len(hidden)
            detail = f"busy time readable for {readable} of {len(emails[:FREEBUSY_ITEMS])}"
            if hidden:
                detail += f"; unknown (planned as free): {', '.join(hidden)}"
            lines.append(("google calendar free/busy", True, detail))
        except Exception as exc:
            lines.append(("google calendar free/busy", False, self.api.scrub(str(exc))))
        return lines

    def close(self) -> None:
        self.api.close()
