"""Meeting series in the program mailbox's Microsoft 365 calendar (`calendar: {type: graph}`).

Exchange Online sends the invitations, updates and cancellations itself
(`invites_attendees`), so the agent's own emails carry no calendar part.

Writing (`put_event`):

- The VCALENDAR the agent built is read into fields (connectors.series_event) and
  written as one recurring event in the mailbox's default calendar: subject, text body,
  location, start/end as local wall time with the zone's Windows name (Graph's
  dateTimeTimeZone), a weekly recurrence pattern (interval, day of week) whose range ends
  on the last day of the series in its zone, and the attendees as required. With
  `teams: true` it becomes a Teams meeting (isOnlineMeeting, teamsForBusiness).
- The event carries the iCalendar UID in a single-value extended property (MAPI named
  property "mentormailUid" in the connector's own property set), and is found by it with
  `$filter=singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '<uid>')`.
  None found: POST /events with a `transactionId` derived from UID and SEQUENCE, so a
  create retried after a lost answer returns the first event instead of a second one.
  Found: PATCH it, but only when the fields differ from what was written last time (a
  hash kept in a second extended property), so a retried update sends attendees no
  second update.
- Then single meetings: `GET /events/{id}/instances` over the series' span lists each
  occurrence with its `originalStart`. One the series skips (EXDATE) is cancelled with
  `POST /events/{occurrence}/cancel` (attendees get a cancellation for that day; a
  cancelled occurrence is no longer listed, so doing it again is a no-op). One that moved
  (RECURRENCE-ID override) gets its start and end PATCHed; one that no longer moves is
  put back at its original time. Repeating put_event therefore converges.
- A skipped meeting cannot be brought back through Graph (the cancelled occurrence is
  gone); that is logged as a warning.

`cancel_event` cancels the whole series (`POST /events/{id}/cancel`, which notifies the
attendees and moves it to Deleted Items); a series that is not there is already gone.

`busy` asks `POST /users/{mailbox}/calendar/getSchedule` (free/busy, in UTC via
`Prefer: outlook.timezone="UTC"`), at most 20 addresses and 42 days per request. Items
with the status busy, tentative or oof count; free and workingElsewhere do not.
Occurrences of the program's own series (found in the mailbox's calendar view) are left
out, so they do not block their own re-booking. A schedule Graph answers with an
`error` (an address outside the organisation, or one that does not share free/busy)
is left out with a warning: the planner then treats that person as unknown.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import ConfigDict

from connectors.base import ConnectorError, merge_spans
from connectors.graph_http import (
    PREFER_UTC,
    GraphClient,
    GraphError,
    GraphOptions,
    graph_time,
    odata_quote,
    offset_time,
    path_id,
    utc_text,
    windows,
    windows_zone,
)

if TYPE_CHECKING:
    from agent.config.model import Config
    from connectors.series_event import SeriesEvent

log = logging.getLogger(__name__)

PROPERTY_SET = "{ee90a86d-6927-495f-b280-e60203968721}"  # mentormail's own MAPI property set
UID_PROPERTY = f"String {PROPERTY_SET} Name mentormailUid"
HASH_PROPERTY = f"String {PROPERTY_SET} Name mentormailHash"
OWN_UID_PREFIX = "mentormail-"  # agent.pairs.planner.series_uid
TRANSACTION_NAMESPACE = uuid.UUID("5d0c8f0e-3f5b-4bb8-9a0e-2f7f63a1c2d4")
BUSY_STATUSES = frozenset({"busy", "tentative", "oof"})
SCHEDULES_PER_REQUEST = 20  # documented limit of getSchedule
SCHEDULE_WINDOW = timedelta(days=42)  # the availability service's longest query
DAY_NAMES = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}
SKIP_COMMENT = "This meeting does not take place; the series continues as planned."
Span = tuple[datetime, datetime]


def transaction_id(uid: str, sequence: int) -> str:
    """Graph's idempotency key for creating the event: the same for retries of one create."""
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, f"{uid}#{sequence}"))


class GraphCalendar:
    """The organizer's calendar in Exchange Online (see the module docstring)."""

    invites_attendees = True

    class Options(GraphOptions):
        model_config = ConfigDict(extra="forbid")
        teams: bool = False  # make every meeting a Teams meeting (teamsForBusiness)

    def __init__(
        self, options: Options, config: Config, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.options = options
        self.client = GraphClient(options, config, sleep=sleep)

    @property
    def where(self) -> str:
        return self.client.where

    # -- finding ------------------------------------------------------------------------

    def _find(self, uid: str) -> tuple[str, str | None] | None:
        """(event id, stored hash) of the series with this UID, or None."""
        what = f"looking for the event {uid}"
        params = {
            "$filter": (
                f"singleValueExtendedProperties/Any(ep: ep/id eq '{UID_PROPERTY}' "
                f"and ep/value eq '{odata_quote(uid)}')"
            ),
            "$select": "id,subject,type",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{HASH_PROPERTY}')",
        }
        found: list[dict[str, Any]] = []
        for page in self.client.pages(self.client.user_path("/events"), what, params=params):
            found += [e for e in page.get("value", []) if isinstance(e, dict) and e.get("id")]
        if not found:
            return None
        if len(found) > 1:
            log.warning(
                "%s: %d events carry the UID %s; updating the first, leaving the others",
                self.where,
                len(found),
                uid,
            )
        event = found[0]
        stored = None
        for prop in event.get("singleValueExtendedProperties") or []:
            if str(prop.get("id", "")).lower() == HASH_PROPERTY.lower():
                stored = str(prop.get("value", ""))
        return str(event["id"]), stored

    # -- writing ------------------------------------------------------------------------

    def _series(self, uid: str, ics: bytes) -> SeriesEvent:
        from agent.meetings.ics import IcsError
        from connectors.series_event import read_series

        try:
            return read_series(ics)
        except IcsError as exc:
            raise ConnectorError(f"{self.where}: cannot store the event {uid}: {exc}") from None

    def _at(self, moment: datetime, series: SeriesEvent) -> dict[str, str]:
        local = moment.astimezone(ZoneInfo(series.zone)).replace(tzinfo=None)
        return {
            "dateTime": local.isoformat(timespec="seconds"),
            "timeZone": windows_zone(series.zone),
        }

    def _fields(self, series: SeriesEvent) -> dict[str, Any]:
        """The event as Graph takes it, without the single meetings."""
        zone = windows_zone(series.zone)
        mailbox = self.options.mailbox.lower()
        fields: dict[str, Any] = {
            "subject": series.summary,
            "body": {"contentType": "text", "content": series.description},
            "location": {"displayName": series.location},
            "start": self._at(series.start, series),
            "end": self._at(series.end, series),
            "recurrence": {
                "pattern": {
                    "type": "weekly",
                    "interval": series.interval_weeks,
                    "daysOfWeek": [DAY_NAMES[series.weekday]],
                    "firstDayOfWeek": "monday",
                },
                "range": {
                    "type": "endDate",
                    "startDate": series.start.date().isoformat(),
                    "endDate": series.last_day.isoformat(),
                    "recurrenceTimeZone": zone,
                },
            },
            "attendees": [
                {"emailAddress": {"address": email, "name": name or email}, "type": "required"}
                for name, email in series.attendees
                if email.lower() != mailbox
            ],
            "allowNewTimeProposals": False,  # new times are agreed by email with the agent
            "isOnlineMeeting": self.options.teams,
        }
        if self.options.teams:
            fields["onlineMeetingProvider"] = "teamsForBusiness"
        return fields

    def put_event(self, uid: str, ics: bytes) -> None:
        series = self._series(uid, ics)
        if series.cancelled:
            self.cancel_event(uid, ics)
            return
        fields = self._fields(series)
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]
        found = self._find(uid)
        if found is None:
            body = {
                **fields,
                "transactionId": transaction_id(uid, series.sequence),
                "singleValueExtendedProperties": [
                    {"id": UID_PROPERTY, "value": uid},
                    {"id": HASH_PROPERTY, "value": digest},
                ],
            }
            created = self.client.json(
                self.client.request(
                    "POST", self.client.user_path("/events"), f"creating the event {uid}", json=body
                ),
                f"creating the event {uid}",
            )
            event_id = str(created.get("id") or "")
            if not event_id:
                raise self.client.error(f"creating the event {uid}", "unreadable answer: no id")
            log.info("%s: created the series %s", self.where, uid)
        else:
            event_id, stored = found
            if stored != digest:
                body = {
                    **fields,
                    "singleValueExtendedProperties": [{"id": HASH_PROPERTY, "value": digest}],
                }
                self.client.request(
                    "PATCH",
                    self.client.user_path(f"/events/{path_id(event_id)}"),
                    f"updating the event {uid}",
                    json=body,
                )
                log.info("%s: updated the series %s", self.where, uid)
        self._single_meetings(uid, event_id, series)

    def _single_meetings(self, uid: str, event_id: str, series: SeriesEvent) -> None:
        """Cancel the skipped occurrences, move the moved ones, put back the others."""
        moved = {m.original.astimezone(UTC): m for m in series.moved}
        skipped = {s.astimezone(UTC) for s in series.skipped}
        first = min([series.start, *(m.start for m in series.moved)])
        last = max([series.until, *(m.end for m in series.moved)])
        what = f"listing the meetings of {uid}"
        params = {
            "startDateTime": utc_text(first - timedelta(days=1)),
            "endDateTime": utc_text(last + timedelta(days=1)),
            "$select": "id,start,end,originalStart,type",
            "$top": "100",
        }
        instances: list[dict[str, Any]] = []
        path = self.client.user_path(f"/events/{path_id(event_id)}/instances")
        for page in self.client.pages(path, what, params=params, headers=PREFER_UTC):
            instances += [i for i in page.get("value", []) if isinstance(i, dict) and i.get("id")]
        listed: set[datetime] = set()
        for instance in instances:
            start, end = graph_time(instance["start"]), graph_time(instance["end"])
            original = (
                offset_time(str(instance["originalStart"]))
                if instance.get("originalStart")
                else start
            )
            listed.add(original)
            instance_path = self.client.user_path(f"/events/{path_id(str(instance['id']))}")
            day = original.astimezone(ZoneInfo(series.zone)).strftime("%Y-%m-%d %H:%M")
            if original in skipped:
                try:
                    self.client.request(
                        "POST",
                        f"{instance_path}/cancel",
                        f"cancelling the meeting of {day} in {uid}",
                        json={"comment": SKIP_COMMENT},
                    )
                except GraphError as exc:
                    if exc.status != 404:
                        raise
                log.info("%s: cancelled the meeting of %s in %s", self.where, day, uid)
                continue
            meeting = moved.get(original)
            wanted = (
                (meeting.start.astimezone(UTC), meeting.end.astimezone(UTC))
                if meeting
                else (original, original + series.duration)
            )
            if (start, end) == wanted:
                continue
            self.client.request(
                "PATCH",
                instance_path,
                f"moving the meeting of {day} in {uid}",
                json={"start": self._at(wanted[0], series), "end": self._at(wanted[1], series)},
            )
            log.info(
                "%s: %s the meeting of %s in %s",
                self.where,
                "moved" if meeting else "put back",
                day,
                uid,
            )
        lost = [s for s in series.starts() if s.astimezone(UTC) not in listed | skipped]
        if lost:
            days = ", ".join(s.strftime("%Y-%m-%d") for s in lost)
            log.warning(
                "%s: %s: the meeting(s) of %s were cancelled earlier and cannot be restored "
                "through Graph; cancel and book the series again to bring them back",
                self.where,
                uid,
                days,
            )

    def cancel_event(self, uid: str, ics: bytes) -> None:
        try:
            summary = self._series(uid, ics).summary
        except ConnectorError:
            summary = ""
        found = self._find(uid)
        if found is None:
            log.info(
                "%s: the series %s is not in the calendar (cancelled already)", self.where, uid
            )
            return
        comment = f"{summary or 'This meeting series'} is cancelled; no further meetings."
        try:
            self.client.request(
                "POST",
                self.client.user_path(f"/events/{path_id(found[0])}/cancel"),
                f"cancelling the event {uid}",
                json={"comment": comment},
            )
        except GraphError as exc:
            if exc.status != 404:
                raise
        log.info("%s: cancelled the series %s", self.where, uid)

    # -- busy time ----------------------------------------------------------------------

    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Span]]:
        """Busy spans per address from getSchedule; addresses Graph cannot answer are absent."""
        wanted = list(dict.fromkeys(e for e in emails if e))
        if not wanted or start >= end:
            return {}
        spans: dict[str, list[Span]] = {}
        failed: set[str] = set()
        for low, high in windows(start, end, SCHEDULE_WINDOW):
            for n in range(0, len(wanted), SCHEDULES_PER_REQUEST):
                batch = [e for e in wanted[n : n + SCHEDULES_PER_REQUEST] if e not in failed]
                if batch:
                    self._schedule(batch, low, high, spans, failed)
        own = self._own_spans(start, end)
        result: dict[str, list[Span]] = {}
        for email in wanted:
            if email in failed or email not in spans:
                continue
            result[email] = merge_spans(
                [
                    (max(a, start), min(b, end))
                    for a, b in spans[email]
                    if (a, b) not in own and max(a, start) < min(b, end)
                ]
            )
        return result

    def _schedule(
        self,
        batch: list[str],
        start: datetime,
        end: datetime,
        spans: dict[str, list[Span]],
        failed: set[str],
    ) -> None:
        body = {
            "schedules": batch,
            "startTime": {"dateTime": _naive_utc(start), "timeZone": "UTC"},
            "endTime": {"dateTime": _naive_utc(end), "timeZone": "UTC"},
            "availabilityViewInterval": 30,
        }
        what = f"reading free/busy time of {len(batch)} address(es)"
        answer = self.client.json(
            self.client.request(
                "POST",
                self.client.user_path("/calendar/getSchedule"),
                what,
                json=body,
                headers=PREFER_UTC,
            ),
            what,
        )
        by_address = {e.lower(): e for e in batch}
        for schedule in answer.get("value", []):
            email = by_address.get(str(schedule.get("scheduleId", "")).lower())
            if email is None:
                continue
            error = schedule.get("error")
            if error:
                failed.add(email)
                spans.pop(email, None)
                log.warning(
                    "%s: no free/busy time for %s: %s %s",
                    self.where,
                    email,
                    error.get("responseCode", "") if isinstance(error, dict) else "",
                    error.get("message", "") if isinstance(error, dict) else error,
                )
                continue
            found = spans.setdefault(email, [])
            for item in schedule.get("scheduleItems") or []:
                if str(item.get("status", "")).lower() not in BUSY_STATUSES:
                    continue
                begin, finish = graph_time(item["start"]), graph_time(item["end"])
                if begin < finish:
                    found.append((begin, finish))  # clipped once the own series is left out

    def _own_spans(self, start: datetime, end: datetime) -> set[Span]:
        """(start, end) of the meetings of the program's own series in [start, end)."""
        try:
            masters: set[str] = set()
            params = {
                "$filter": (
                    f"singleValueExtendedProperties/Any(ep: ep/id eq '{UID_PROPERTY}' "
                    f"and startswith(ep/value, '{OWN_UID_PREFIX}'))"
                ),
                "$select": "id",
            }
            what = "listing the program's own series"
            for page in self.client.pages(self.client.user_path("/events"), what, params=params):
                masters |= {str(e["id"]) for e in page.get("value", []) if e.get("id")}
            if not masters:
                return set()
            own: set[Span] = set()
            view = {
                "startDateTime": utc_text(start),
                "endDateTime": utc_text(end),
                "$select": "id,start,end,seriesMasterId,type",
                "$top": "200",
            }
            what = "reading the program's calendar view"
            path = self.client.user_path("/calendarView")
            for page in self.client.pages(path, what, params=view, headers=PREFER_UTC):
                for item in page.get("value", []):
                    if item.get("seriesMasterId") in masters or item.get("id") in masters:
                        own.add((graph_time(item["start"]), graph_time(item["end"])))
            return own
        except ConnectorError as exc:
            log.warning(
                "%s: cannot tell the program's own meetings apart in free/busy time: %s",
                self.where,
                exc,
            )
            return set()

    # -- checking -----------------------------------------------------------------------

    def check(self) -> list[tuple[str, bool, str]]:
        """Token, the calendar (and whether it may be written), free/busy. Never raises."""
        options = self.options
        try:
            self.client.token()
        except Exception as exc:
            return [("graph token", False, self.client.scrub(str(exc)))]
        lines = [("graph token", True, f"app {options.client_id} in tenant {options.tenant_id}")]
        try:
            calendar = self.client.get(
                self.client.user_path("/calendar"),
                "reading the calendar",
                params={"$select": "id,name,canEdit"},
            )
            editable = bool(calendar.get("canEdit", True))
            detail = f"{calendar.get('name', 'Calendar')!r} of {options.mailbox}"
            lines.append(
                ("graph calendar", editable, detail + ("" if editable else " is read-only"))
            )
        except Exception as exc:  # check() reports, it never raises
            lines.append(("graph calendar", False, self.client.scrub(str(exc))))
        try:
            now = datetime.now(UTC).replace(microsecond=0)
            self.busy([options.mailbox], now, now + timedelta(hours=1))
            mode = "Teams meetings" if options.teams else "no online meeting"
            lines.append(("graph free/busy", True, f"getSchedule answers; {mode}"))
        except Exception as exc:
            lines.append(("graph free/busy", False, self.client.scrub(str(exc))))
        return lines

    def close(self) -> None:
        self.client.close()


def _naive_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
