"""The organizer's calendar in the program mailbox on an on-premises Exchange Server (EWS).

`type: exchange` under `calendar:`; the connection (login, TLS, retry policy, error
messages) is `connectors.exchange.Ews`. The behaviour is described on `ExchangeCalendar`.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.base import ConnectorError, merge_spans
from connectors.exchange import (
    GONE,
    Ews,
    ExchangeOptions,
    code_of,
    describe,
    reported,
    utc,
)

if TYPE_CHECKING:
    from agent.config.model import Config
    from connectors.series_event import SeriesEvent

log = logging.getLogger(__name__)

FREEBUSY_DAYS = 42  # the longest time window GetUserAvailability accepts by default
BUSY_TYPES = frozenset({"Busy", "Tentative", "OOF"})
UID_PROPERTY = "mentormail-uid"  # the series' iCalendar UID, kept on the calendar item
OWN_UID_PREFIX = "mentormail-"  # the program's own series (agent.pairs.planner.series_uid)
WEEKDAY_NUMBERS = {"MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6, "SU": 7}
Span = tuple[datetime, datetime]


def _uid_property() -> Any:
    """The `mentormail_uid` extended property of CalendarItem, registered once per process.

    EWS cannot search on calendar:UID, so the series' UID is also kept in a named property
    (PublicStrings `mentormail-uid`, a string) that FindItem can restrict on.
    """
    from exchangelib import CalendarItem, ExtendedProperty
    from exchangelib.fields import InvalidField

    try:
        return CalendarItem.get_field_by_fieldname("mentormail_uid")
    except InvalidField:
        pass

    class MentormailUid(ExtendedProperty):
        distinguished_property_set_id = "PublicStrings"
        property_name = UID_PROPERTY
        property_type = "String"

    CalendarItem.register("mentormail_uid", MentormailUid)
    return CalendarItem.get_field_by_fieldname("mentormail_uid")


MASTER_FIELDS = (
    "subject",
    "body",
    "location",
    "start",
    "end",
    "recurrence",
    "required_attendees",
    "modified_occurrences",
    "deleted_occurrences",
    "type",
    "uid",
    "mentormail_uid",
    "_start_timezone",
)


def _text(value: object) -> str:
    """Body text for comparing: line ends, spaces, and HTML if Exchange converted the body."""
    text = str(value or "")
    if type(value).__name__ == "HTMLBody":  # someone edited the meeting in Outlook
        text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?i)<br\s*/?>|</p>", "\n", text)))
    lines = (" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


class ExchangeCalendar:
    """The organizer's calendar in the program mailbox on Exchange Server.

    Writing (`put_event`): the VCALENDAR is read into fields (connectors.series_event) and
    stored as one recurring meeting (CalendarItem with a WeeklyRecurrence and an
    EndDateRecurrence ending on the day of UNTIL in the series' zone, start and end time
    zone that zone) with the two participants as required attendees. Exchange sends the
    meeting requests, updates and cancellations itself (SendToAllAndSaveCopy), so the agent
    sends no iMIP part (`invites_attendees`).

    - The item holding a UID is found with FindItem on the `mentormail-uid` property (EWS
      cannot restrict on calendar:UID); calendar:UID is set as well, so the attendees'
      clients see the series' own UID. A retried put_event therefore updates the one item.
    - An existing item is updated (UpdateItem) only in the fields that differ, so a
      repeated put_event sends no needless updates. A new time or recurrence resets single
      meetings on Exchange; they are applied again afterwards.
    - Single meetings: a moved one is the occurrence with its 1-based index in the series
      (OccurrenceItemId), given its new start and end; a skipped one is that occurrence
      deleted with cancellations sent. What the master already lists as modified or deleted
      is left alone; an occurrence already gone counts as done. A meeting that was moved or
      skipped before and no longer is makes the recurrence be written again, which brings
      every occurrence back before the current moves and skips are applied.
    - `cancel_event` deletes the meeting to Deleted Items with cancellations to every
      attendee; a meeting that is not there any more is already cancelled.

    Reading busy time (`busy`): GetUserAvailability (FreeBusy view) for the addresses,
    windows of at most 42 days; Busy, Tentative and OOF count, clipped to the window. An
    address the server answers with an error (unknown, no permission) is left out with a
    warning. Free/busy cannot say whose a block is: one at exactly the time of one of the
    program's own meetings (a CalendarView of the organizer's calendar) is taken to be that
    meeting and left out, so re-booking a series does not clash with itself.
    """

    invites_attendees = True

    class Options(ExchangeOptions):
        pass

    def __init__(self, options: Options, config: Config) -> None:
        self.options = options
        self.ews = Ews(options, config)

    @property
    def where(self) -> str:
        return self.ews.where

    # -- finding ------------------------------------------------------------------------

    def _calendar(self) -> Any:
        account = self.ews.account()
        return self.ews.call("opening the calendar", lambda: account.calendar)

    def _find(self, uid: str) -> Any:
        """The series' item (recurring master or single), fetched with MASTER_FIELDS."""
        _uid_property()
        calendar = self._calendar()

        def find() -> list[Any]:
            query = calendar.filter(mentormail_uid=uid).only(*MASTER_FIELDS)
            return [i for i in query if not isinstance(i, Exception)]

        found = self.ews.call(f"looking for the meeting {uid}", find)
        masters = [i for i in found if i.type in ("RecurringMaster", "Single", None)]
        if len(masters) > 1:
            log.warning(
                "%s: %d calendar items hold the UID %s; updating the first",
                self.where,
                len(masters),
                uid,
            )
        return masters[0] if masters else None

    # -- writing ------------------------------------------------------------------------

    def put_event(self, uid: str, ics: bytes) -> None:
        series = self._read(ics)
        if series.cancelled:
            self.cancel_event(uid, ics)
            return
        master = self._find(uid)
        # a new item keeps its id, so the moves and skips below apply to it directly
        master = self._create(uid, series) if master is None else self._update(uid, master, series)
        self._single_meetings(uid, master, series)

    @staticmethod
    def _read(ics: bytes) -> SeriesEvent:
        from agent.meetings.ics import IcsError
        from connectors.series_event import read_series

        try:
            return read_series(ics)
        except IcsError as exc:
            raise ConnectorError(f"cannot store the meeting: {exc}") from None

    def _wanted(self, series: SeriesEvent) -> dict[str, Any]:
        """The master's fields as exchangelib values."""
        from exchangelib import Attendee, Body, EWSDateTime, Mailbox
        from exchangelib.recurrence import Recurrence, WeeklyPattern

        return {
            "subject": series.summary,
            "body": Body(series.description),
            "location": series.location,
            "start": EWSDateTime.from_datetime(series.start),
            "end": EWSDateTime.from_datetime(series.end),
            "recurrence": Recurrence(
                pattern=WeeklyPattern(
                    interval=series.interval_weeks,
                    weekdays=[WEEKDAY_NUMBERS[series.weekday]],
                    first_day_of_week=1,
                ),
                start=series.start.date(),
                end=series.last_day,
            ),
            "required_attendees": [
                Attendee(mailbox=Mailbox(email_address=email, name=name or None))
                for name, email in series.attendees
            ],
        }

    def _create(self, uid: str, series: SeriesEvent) -> Any:
        from exchangelib import CalendarItem
        from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

        calendar = self._calendar()
        account = self.ews.account()
        item = CalendarItem(
            account=account,
            folder=calendar,
            uid=uid,
            mentormail_uid=uid,
            legacy_free_busy_status="Busy",
            **self._wanted(series),
        )
        self.ews.call(
            f"creating the meeting {uid}",
            lambda: item.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY),
        )
        log.info("%s: created the meeting %s; Exchange invites the attendees", self.where, uid)
        return item

    def _changed(self, master: Any, series: SeriesEvent) -> list[str]:
        """Names of the master's fields that differ from the series."""
        wanted = self._wanted(series)
        changed = []
        if (master.subject or "") != series.summary:
            changed.append("subject")
        if _text(master.body) != _text(series.description):
            changed.append("body")
        if (master.location or "") != series.location:
            changed.append("location")
        if master.start is None or utc(master.start) != utc(series.start):
            changed.append("start")
        if master.end is None or utc(master.end) != utc(series.end):
            changed.append("end")
        start_zone = getattr(master, "_start_timezone", None)
        zone = getattr(start_zone, "ms_id", None)
        if "start" not in changed and zone is not None and zone != wanted["start"].tzinfo.ms_id:
            changed += ["start", "end"]  # same instant, another zone: DST shifts differ
        if not _same_recurrence(master.recurrence, wanted["recurrence"]):
            changed.append("recurrence")
        have = {a.mailbox.email_address.lower() for a in master.required_attendees or []}
        if have != {email.lower() for _, email in series.attendees}:
            changed.append("required_attendees")
        return changed

    def _update(self, uid: str, master: Any, series: SeriesEvent) -> Any:
        from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

        changed = self._changed(master, series)
        if not changed:
            return master
        wanted = self._wanted(series)
        for name in changed:
            setattr(master, name, wanted[name])
        if "start" in changed or "end" in changed:
            master._start_timezone = wanted["start"].tzinfo  # exchangelib's own fields
            master._end_timezone = wanted["end"].tzinfo
        self.ews.call(
            f"updating the meeting {uid} ({', '.join(changed)})",
            lambda: master.save(
                update_fields=changed, send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY
            ),
        )
        log.info("%s: updated the meeting %s: %s", self.where, uid, ", ".join(changed))
        return self._find(uid) or master

    def _single_meetings(self, uid: str, master: Any, series: SeriesEvent) -> None:
        """Move and skip single meetings until the master lists exactly the series' ones."""
        if master.recurrence is None:
            return
        skipped = {utc(s) for s in series.skipped}
        moved = {utc(m.original): m for m in series.moved}
        deleted, modified = self._exceptions(master)
        if (deleted - skipped) or (set(modified) - set(moved) - skipped):
            master = self._reset(uid, master, series)
            deleted, modified = self._exceptions(master)
        index = {utc(start): n for n, start in enumerate(series.starts(), start=1)}
        for original in sorted(skipped - deleted):
            if original not in index:
                log.warning(
                    "%s: %s: skipped %s is no meeting of the series", self.where, uid, original
                )
                continue
            self._delete_occurrence(uid, master, index[original], original)
        for original, meeting in sorted(moved.items()):
            done = modified.get(original)
            if done is not None and (utc(done.start), utc(done.end)) == (
                utc(meeting.start),
                utc(meeting.end),
            ):
                continue
            if original not in index or original in skipped:
                log.warning(
                    "%s: %s: moved %s is no meeting of the series", self.where, uid, original
                )
                continue
            self._move_occurrence(uid, master, index[original], meeting.start, meeting.end)

    @staticmethod
    def _exceptions(master: Any) -> tuple[set[datetime], dict[datetime, Any]]:
        """Original starts (UTC) of the deleted occurrences, and the modified ones by original."""
        deleted = {utc(d.start) for d in master.deleted_occurrences or []}
        modified = {utc(m.original_start): m for m in master.modified_occurrences or []}
        return deleted, modified

    def _reset(self, uid: str, master: Any, series: SeriesEvent) -> Any:
        """Write the recurrence again, which makes Exchange drop every exception.

        Needed only when a meeting that was skipped or moved no longer is (EWS cannot bring
        one occurrence back). The agent itself never un-skips a meeting.
        """
        from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

        log.info(
            "%s: %s: a meeting is no longer moved or skipped; writing the recurrence again "
            "to bring every meeting back",
            self.where,
            uid,
        )
        master.recurrence = self._wanted(series)["recurrence"]
        self.ews.call(
            f"resetting the single meetings of {uid}",
            lambda: master.save(
                update_fields=["recurrence"], send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY
            ),
        )
        fresh = self._find(uid) or master
        deleted, modified = self._exceptions(fresh)
        skipped = {utc(s) for s in series.skipped}
        if (deleted - skipped) or (set(modified) - {utc(m.original) for m in series.moved}):
            log.warning(
                "%s: %s: Exchange kept single meetings after the recurrence was written "
                "again; they stay as they are",
                self.where,
                uid,
            )
        return fresh

    def _occurrence(self, master: Any, number: int) -> Any:
        """The occurrence `number` (1-based) of the master, addressed by OccurrenceItemId.

        No ChangeKey: the master's ChangeKey changes with every single-meeting edit, and the
        master's id with the index is all EWS needs.
        """
        from exchangelib import CalendarItem
        from exchangelib.properties import OccurrenceItemId

        return CalendarItem(
            account=master.account,
            folder=master.folder,
            _id=OccurrenceItemId(id=master.id, instance_index=number),
        )

    def _delete_occurrence(self, uid: str, master: Any, number: int, original: datetime) -> None:
        from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

        occurrence = self._occurrence(master, number)
        try:
            self.ews.call(
                f"skipping meeting {number} ({original:%Y-%m-%d %H:%M} UTC) of {uid}",
                lambda: occurrence.delete(send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY),
            )
        except ConnectorError as exc:
            if not any(f": {code}:" in str(exc) for code in GONE):
                raise
            log.debug("%s: meeting %d of %s is already gone", self.where, number, uid)

    def _move_occurrence(
        self, uid: str, master: Any, number: int, start: datetime, end: datetime
    ) -> None:
        from exchangelib import EWSDateTime
        from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

        account = self.ews.account()
        what = f"moving meeting {number} of {uid} to {start:%Y-%m-%d %H:%M %Z}"
        occurrence = self._occurrence(master, number)
        fetched = self.ews.call(
            what, lambda: list(account.fetch(ids=[occurrence], only_fields=["start", "end"]))
        )
        item = fetched[0] if fetched else None
        if isinstance(item, Exception) or item is None:
            if item is not None and code_of(item) in GONE:
                log.warning(
                    "%s: %s: meeting %d is deleted, cannot move it", self.where, uid, number
                )
                return
            raise self.ews.error(what, describe(item, "") if item else "no answer")
        item.start = EWSDateTime.from_datetime(start)
        item.end = EWSDateTime.from_datetime(end)
        self.ews.call(
            what,
            lambda: item.save(
                update_fields=["start", "end"], send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY
            ),
        )

    def cancel_event(self, uid: str, ics: bytes) -> None:
        """Delete the meeting (to Deleted Items) with cancellations to every attendee."""
        from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY

        master = self._find(uid)
        if master is None:
            log.info("%s: the meeting %s is not there (already cancelled)", self.where, uid)
            return
        try:
            self.ews.call(
                f"cancelling the meeting {uid}",
                lambda: master.move_to_trash(send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY),
            )
        except ConnectorError as exc:
            if ": ErrorItemNotFound:" not in str(exc):
                raise
        log.info("%s: cancelled the meeting %s; Exchange told the attendees", self.where, uid)

    # -- busy time ----------------------------------------------------------------------

    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Span]]:
        """Busy spans per address (GetUserAvailability); addresses with an error are absent."""
        addresses = list(dict.fromkeys(emails))
        if not addresses or end <= start:
            return {}
        spans: dict[str, list[Span]] = {a: [] for a in addresses}
        failed: set[str] = set()
        for window_start, window_end in _windows(utc(start), utc(end)):
            asked = [a for a in addresses if a not in failed]
            if not asked:
                break
            views = self._availability(asked, window_start, window_end)
            own = self._own_meetings(window_start, window_end)
            for address, view in zip(asked, views, strict=True):
                if isinstance(view, Exception):
                    log.warning(
                        "%s: busy time of %s left out: %s",
                        self.where,
                        address,
                        describe(view, ""),
                    )
                    failed.add(address)
                    continue
                for event in view.calendar_events or []:
                    if event.busy_type not in BUSY_TYPES:
                        continue
                    if (utc(event.start), utc(event.end)) in own:
                        continue  # one of the program's own meetings: not a clash with itself
                    begin, finish = (
                        max(utc(event.start), window_start),
                        min(utc(event.end), window_end),
                    )
                    if begin < finish:
                        spans[address].append((begin, finish))
        return {a: merge_spans(s) for a, s in spans.items() if a not in failed}

    def _own_meetings(self, start: datetime, end: datetime) -> set[Span]:
        """(start, end) in UTC of the program's meetings between start and end (CalendarView).

        Free/busy time cannot say whose meeting a busy block is; a block at exactly the
        time of one of the program's own meetings is taken to be that meeting, so that
        re-booking a series does not clash with itself. Unreadable: nothing is left out.
        """
        from exchangelib import EWSDateTime

        _uid_property()
        try:
            calendar = self._calendar()
            items = self.ews.call(
                "reading the program's meetings",
                lambda: list(
                    calendar.view(
                        start=EWSDateTime.from_datetime(start), end=EWSDateTime.from_datetime(end)
                    ).only("start", "end", "uid", "mentormail_uid")
                ),
            )
        except ConnectorError as exc:
            log.warning("%s: busy time may include the program's own meetings: %s", self.where, exc)
            return set()
        return {
            (utc(i.start), utc(i.end))
            for i in items
            if not isinstance(i, Exception)
            and i.start
            and i.end
            and (i.mentormail_uid or str(i.uid or "").startswith(OWN_UID_PREFIX))
        }

    def _availability(self, addresses: list[str], start: datetime, end: datetime) -> list[Any]:
        from exchangelib import UTC as EWS_UTC
        from exchangelib import EWSDateTime

        account = self.ews.account()
        return self.ews.call(
            f"reading busy time of {len(addresses)} address(es)",
            lambda: list(
                account.protocol.get_free_busy_info(
                    accounts=[(a, "Required", False) for a in addresses],
                    start=EWSDateTime.from_datetime(start).astimezone(EWS_UTC),
                    end=EWSDateTime.from_datetime(end).astimezone(EWS_UTC),
                    requested_view="FreeBusy",
                )
            ),
        )

    # -- checking -----------------------------------------------------------------------

    def check(self) -> list[tuple[str, bool, str]]:
        """Login, the calendar, free/busy of the program mailbox; never raises."""
        login = self.ews.check_login()
        lines = [login]
        if not login[1]:
            return lines
        with reported(lines, "exchange calendar", self.ews):
            calendar = self._calendar()
            _uid_property()
            count = self.ews.call(
                "looking for the program's meetings",
                lambda: calendar.filter(mentormail_uid__exists=True).count(),
            )
            lines.append(("exchange calendar", True, f"readable; {count} program meeting(s)"))
        with reported(lines, "exchange free/busy", self.ews):
            now = datetime.now(UTC).replace(microsecond=0)
            views = self._availability([self.ews.mailbox], now, now + timedelta(days=1))
            if views and isinstance(views[0], Exception):
                raise self.ews.error("reading free/busy", describe(views[0], ""))
            lines.append(("exchange free/busy", True, "GetUserAvailability answers"))
        return lines

    def close(self) -> None:
        self.ews.close()


def _same_recurrence(have: Any, want: Any) -> bool:
    if have is None:
        return False
    pattern, boundary = have.pattern, have.boundary
    wanted_pattern, wanted_boundary = want.pattern, want.boundary
    try:
        return (
            type(pattern).__name__ == "WeeklyPattern"
            and pattern.interval == wanted_pattern.interval
            and list(pattern.weekdays) == list(wanted_pattern.weekdays)
            and type(boundary).__name__ == "EndDatePattern"
            and _day(boundary.start) == _day(wanted_boundary.start)
            and _day(boundary.end) == _day(wanted_boundary.end)
        )
    except (AttributeError, TypeError):
        return False


def _day(value: Any) -> Any:
    return value.date() if isinstance(value, datetime) else value


def _windows(start: datetime, end: datetime) -> Iterable[Span]:
    step = timedelta(days=FREEBUSY_DAYS)
    while start < end:
        yield start, min(start + step, end)
        start += step
