"""Meeting series in a CalDAV calendar (RFC 4791), and participants' busy time from theirs.

Writing (`put_event`, `cancel_event`):

- The VCALENDAR the agent built is stored whole: the series and any overrides of single
  meetings (same UID, RECURRENCE-ID) belong in one calendar object resource (RFC 4791
  4.1), which also forbids the METHOD property there, so METHOD is removed first. A
  cancelled series is stored the same way, with its STATUS:CANCELLED.
- The resource is the one that already holds the UID, found with a calendar-query on UID
  (RFC 4791 7.8.5), else `<calendar>/<uid>.ics`. So a copy that a participant's own client
  filed under another name is replaced, never duplicated (RFC 4791 5.3.2.1 forbids two
  resources with one UID).
- The organizer's calendar is `calendar:` (a display name, or the URL of a calendar).
  A name that is not there yet is created with MKCALENDAR; a URL must exist.
- Participants whose `calendar:` access says `write: true` get the same object in their
  own calendar (that access's URL must then be a calendar). A failure there is logged
  and does not fail the booking: the emailed invitation still reaches them.

Reading busy time (`busy`), for participants whose config gives calendar access; the rest
are left out of the answer, which the planner takes as "unknown":

- A time-range calendar-query (RFC 4791 7.8.1) returns the events; they are expanded here
  with recurring-ical-events (RRULE, RDATE, EXDATE, overridden and cancelled meetings).
  Skipped: TRANSP:TRANSPARENT, STATUS:CANCELLED, and the program's own series (UIDs
  starting with `mentormail-`), which would otherwise block their own re-booking.
  All-day and floating times are read in the participant's time zone.
- When the account may read only free/busy time (the server answers the calendar-query
  with 403, RFC 4791 6.1.1 CALDAV:read-free-busy), a free-busy-query REPORT (RFC 4791
  7.10) is used instead: BUSY, BUSY-TENTATIVE and BUSY-UNAVAILABLE count. It cannot tell
  the program's own series from other appointments.
- An access URL that is not a calendar (a server or principal URL) means every calendar
  of that principal.
- A participant whose calendar fails (unreachable, wrong password, missing calendar,
  unreadable answer) is logged as a warning and left out; the others are still returned.
  A single unreadable event is skipped with a warning.

Every failure is a ConnectorError naming the server URL and what failed (for example
`CalDAV https://dav.example.org/: login as mentoring refused (401 Unauthorized)`), on one
line, with credentials removed from URLs and never a password.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import ConnectorError, merge_spans

if TYPE_CHECKING:
    from agent.config.model import Config, Participant
    from connectors.smtp import Credentials

# icalendar, connectors.smtp and xml.sax.saxutils (both import ssl), and agent.pairs.planner are
# imported where used: `mentormail validate` imports this module only to read its Options.

log = logging.getLogger(__name__)

OWN_UID_PREFIX = "mentormail-"  # the program's own series (agent.pairs.planner.series_uid)
DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'
NAMESPACES = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
BUSY_TYPES = frozenset({"BUSY", "BUSY-TENTATIVE", "BUSY-UNAVAILABLE"})
WRITE_NEEDS_CALENDAR = "write: true needs the URL of a calendar, not of a server or principal"
Span = tuple[datetime, datetime]
T = TypeVar("T")


class _Refused(ConnectorError):
    """The server answered with an HTTP error; `status` lets callers pick a fallback."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


def _public(url: str) -> str:
    """`url` without any user:password@ part, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _resource_name(uid: str) -> str:
    """`<uid>.ics` when the UID is plain enough for a URL path, else a hash of it."""
    if re.fullmatch(r"[A-Za-z0-9._@+-]{1,200}", uid):
        return quote(uid, safe="") + ".ics"
    return hashlib.sha256(uid.encode()).hexdigest() + ".ics"


def _aware(value: date | datetime, zone: tzinfo) -> datetime:
    """An event time as an aware datetime: dates and floating times are in `zone`."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _storable(ics: bytes) -> bytes:
    """The object as a CalDAV resource: everything as given, without METHOD (RFC 4791 4.1)."""
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(ics)
    except ValueError as exc:
        raise ConnectorError(f"cannot store the event: not iCalendar data: {exc}") from None
    calendar.pop("METHOD", None)
    return calendar.to_ical()


def _collection(url: str) -> str:
    """A collection URL with its trailing slash, so that member names join onto it."""
    return url if url.endswith("/") else url + "/"


def _calendar_query(inner: str) -> str:
    """A calendar-query REPORT body (RFC 4791 7.8) for the VEVENTs matching `inner`."""
    return (
        f"{XML_HEAD}<C:calendar-query {NAMESPACES}><D:prop><C:calendar-data/></D:prop>"
        f'<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{inner}'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )


def _time_range(start: datetime, end: datetime) -> str:
    return f'<C:time-range start="{_utc_text(start)}" end="{_utc_text(end)}"/>'


@dataclass(frozen=True)
class _Resource:
    href: str  # absolute URL
    data: str  # the calendar-data text


class _Account:
    """One CalDAV login (a URL and credentials); every server call goes through `call`."""

    def __init__(self, url: str, credentials: Credentials | None, timeout: float) -> None:
        self.url = url
        self.credentials = credentials
        self.timeout = timeout
        self._client: Any = None
        self._principal: Any = None

    @property
    def where(self) -> str:
        return f"CalDAV {_public(self.url)}"

    @property
    def username(self) -> str:
        return (self.credentials.username if self.credentials else None) or "(anonymous)"

    def _scrub(self, text: str) -> str:
        return self.credentials.scrub(text) if self.credentials else text

    def error(self, what: str, detail: str, status: int | None = None) -> _Refused:
        return _Refused(self._scrub(_one_line(f"{self.where}: {what}: {detail}")), status)

    def client(self) -> Any:
        if self._client is None:
            import caldav

            password = self.credentials.secret() if self.credentials else None
            self._client = caldav.DAVClient(
                url=self.url,
                username=self.credentials.username if self.credentials else None,
                password=password,
                timeout=self.timeout,  # type: ignore[arg-type]  # niquests takes a float
                enable_rfc6764=False,  # the URL is given: no DNS discovery
            )
        return self._client

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run one library call; whatever goes wrong becomes a one-line ConnectorError."""
        from caldav.lib import error as dav_error

        try:
            return action()
        except ConnectorError:
            raise
        except dav_error.AuthorizationError as exc:
            if exc.status == 403:
                raise self.error(what, "not allowed (403 Forbidden)", 403) from None
            raise _Refused(
                self._scrub(f"{self.where}: login as {self.username} refused (401 Unauthorized)"),
                401,
            ) from None
        except dav_error.DAVError as exc:
            reason = (str(exc.reason).strip().splitlines() or ["no reason given"])[0]
            raise self.error(what, _status_text(exc.status, reason), exc.status) from None
        except OSError as exc:  # niquests' errors, sockets, TLS
            if "timed out" in str(exc).lower():
                raise self.error(what, f"no answer within {self.timeout:g} s") from None
            raise self.error("cannot connect", _connect_reason(exc)) from None
        except Exception as exc:  # the library trips over malformed answers in many ways
            raise self.error(what, f"unreadable answer: {type(exc).__name__}: {exc}") from None

    def request(self, what: str, method: str, url: str, body: str, headers: dict[str, str]) -> Any:
        """One HTTP request; a non-2xx answer is a `_Refused` with its status."""
        response = self.call(what, lambda: self.client().request(url, method, body, headers))
        if not 200 <= response.status < 300:
            detail = _status_text(response.status, str(response.reason or ""))
            if response.status == 404:
                detail = f"{_public(url)} not found (404)"
            raise self.error(what, detail, response.status)
        return response

    def report(self, what: str, url: str, body: str) -> Any:
        headers = {"Depth": "1", "Content-Type": 'application/xml; charset="utf-8"'}
        return self.request(what, "REPORT", url, body, headers)

    def multistatus(self, what: str, url: str, body: str) -> list[_Resource]:
        """The calendar-data of every resource a calendar-query REPORT returns."""
        response = self.report(what, url, body)
        tree = getattr(response, "tree", None)
        if tree is None or tree.tag != f"{DAV}multistatus":
            raise self.error(what, "unreadable answer: not a WebDAV multistatus")
        found: list[_Resource] = []
        for entry in tree.iter(f"{DAV}response"):
            href = entry.findtext(f"{DAV}href")
            data = entry.findtext(f".//{CALDAV}calendar-data")
            if href and data:
                found.append(_Resource(urljoin(url, href.strip()), data))
        return found

    def principal(self) -> Any:
        """The logged-in user's principal (RFC 5397 current-user-principal)."""
        if self._principal is None:
            self._principal = self.call(
                f"finding the principal of {self.username}",
                lambda: self.client().get_principal(),
            )
        return self._principal

    def calendars(self) -> list[tuple[str, str]]:
        """(URL, display name) of every calendar of the principal."""
        principal = self.principal()

        def listing() -> list[tuple[str, str]]:
            return [
                (str(c.url), str(c.get_display_name() or "")) for c in principal.get_calendars()
            ]

        return self.call("listing the calendars", listing)

    def is_calendar(self, url: str) -> bool:
        """Whether `url` is a calendar collection; `_Refused` (404) when it does not exist."""
        body = f"{XML_HEAD}<D:propfind {NAMESPACES}><D:prop><D:resourcetype/></D:prop></D:propfind>"
        response = self.request(
            f"looking at {_public(url)}",
            "PROPFIND",
            url,
            body,
            {"Depth": "0", "Content-Type": 'application/xml; charset="utf-8"'},
        )
        tree = getattr(response, "tree", None)
        if tree is None:
            raise self.error(f"looking at {_public(url)}", "unreadable answer: no XML")
        return tree.find(f".//{DAV}resourcetype/{CALDAV}calendar") is not None

    def make_calendar(self, name: str) -> str:
        principal = self.principal()
        created = self.call(
            f"creating the calendar {name!r}", lambda: principal.make_calendar(name=name)
        )
        return str(created.url)

    def store(self, calendar_url: str, uid: str, data: bytes) -> None:
        """PUT the object into the calendar, replacing the resource that holds `uid`."""
        from xml.sax.saxutils import escape

        match = f'<C:prop-filter name="UID"><C:text-match collation="i;octet">{escape(uid)}'
        match += "</C:text-match></C:prop-filter>"
        existing = [
            r.href
            for r in self.multistatus(
                f"looking for the event {uid}", calendar_url, _calendar_query(match)
            )
            if _uid_of(r.data) == uid
        ]
        href = existing[0] if existing else urljoin(calendar_url, _resource_name(uid))
        self.request(
            f"storing the event {uid}",
            "PUT",
            href,
            data.decode("utf-8"),
            {"Content-Type": "text/calendar; charset=utf-8"},
        )

    def close(self) -> None:
        client, self._client, self._principal = self._client, None, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # closing must not fail a tick
                log.debug("%s: close: %s", self.where, exc)


def _status_text(status: int | None, reason: str) -> str:
    reason = reason.strip()
    if status is not None and reason.startswith(str(status)):
        reason = reason[len(str(status)) :].strip()
    text = f"{status} {reason}".strip() if status else reason or "failed"
    return f"the server failed ({text})" if status and status >= 500 else text


def _connect_reason(exc: BaseException) -> str:
    """The root cause of a connection error, e.g. `Connection refused`."""
    errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return errno.group(1).strip() if errno else f"{type(exc).__name__}: {exc}"


def _uid_of(data: str) -> str | None:
    import icalendar

    try:
        events = icalendar.Calendar.from_ical(data).walk("VEVENT")
    except (ValueError, IndexError, KeyError):  # unreadable: not the one we look for
        return None
    return str(events[0].get("UID", "")) if events else None


def _credentials(
    username: str | None, password_env: str | None, password_file: Path | None, config: Config
) -> Credentials | None:
    if username is None and password_env is None and password_file is None:
        return None  # anonymous access
    if username is None:
        raise ConnectorError("a password is configured but no username")
    from connectors.smtp import Credentials

    return Credentials(
        username,
        password_env=password_env,
        password_file=config.resolve(password_file) if password_file else None,
    )


class CalDavCalendar:
    """The organizer's CalDAV calendar, plus participants' own (see the module docstring)."""

    # Stored as PUBLISH, without ATTENDEEs: a server with scheduling (RFC 6638) would
    # otherwise send its own invitations next to the agent's iMIP emails.
    invites_attendees = False

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        url: Annotated[str, Field(pattern=r"^https?://\S+$")]  # server or principal URL
        username: str
        password_env: str | None = None
        password_file: Path | None = None  # resolved against the config's folder
        calendar: str = "Mentoring"  # display name (created if missing) or a calendar's URL
        timeout: float = 30.0

        @model_validator(mode="after")
        def _one_secret(self) -> CalDavCalendar.Options:
            count = (self.password_env is not None) + (self.password_file is not None)
            if count == 0:
                raise ValueError(
                    "set password_env (an environment variable's name) or password_file; "
                    "the password itself never goes in the config"
                )
            if count > 1:
                raise ValueError("set only one of password_env, password_file")
            return self

    def __init__(self, options: Options, config: Config) -> None:
        from agent.pairs.planner import series_uid

        self.options = options
        self.config = config
        credentials = _credentials(
            options.username, options.password_env, options.password_file, config
        )
        assert credentials is not None  # the options require a username
        credentials.secret()  # a missing variable or file is reported at open
        self.organizer = _Account(options.url, credentials, options.timeout)
        self._calendar_url: str | None = None
        self._accounts: dict[str, _Account] = {}  # participant id -> their login
        self._by_address = {a: p for p in config.participants for a in p.addresses}
        self._series_people = {
            series_uid(config, pair): [
                config.participant(pair.mentor),
                config.participant(pair.mentee),
            ]
            for pair in config.pairs
        }

    # -- the organizer's calendar -----------------------------------------------------------

    def _resolve_calendar(self) -> tuple[str, Literal["found", "created"]]:
        wanted = self.options.calendar
        account = self.organizer
        if re.match(r"^https?://", wanted):
            url = _collection(wanted)
            if not account.is_calendar(url):
                raise account.error("the calendar", f"{_public(url)} is not a calendar")
            return url, "found"
        for url, name in account.calendars():
            if wanted in (name, url.rstrip("/").rsplit("/", 1)[-1]):
                return url, "found"
        return account.make_calendar(wanted), "created"

    def calendar_url(self) -> str:
        if self._calendar_url is None:
            self._calendar_url, how = self._resolve_calendar()
            if how == "created":
                log.info("%s: created the calendar %r", self.organizer.where, self._calendar_url)
        return self._calendar_url

    # -- participants ----------------------------------------------------------------------

    def _account(self, person: Participant) -> _Account:
        access = person.calendar
        assert access is not None
        if person.id not in self._accounts:
            credentials = _credentials(
                access.username, access.password_env, access.password_file, self.config
            )
            self._accounts[person.id] = _Account(
                _collection(access.url), credentials, self.options.timeout
            )
        return self._accounts[person.id]

    def _person_calendars(self, person: Participant) -> list[str]:
        """The access URL if it is a calendar, else every calendar of that principal."""
        account = self._account(person)
        if account.is_calendar(account.url):
            return [account.url]
        return [url for url, _ in account.calendars()]

    def _person_busy(
        self, person: Participant, calendars: list[str], start: datetime, end: datetime
    ) -> tuple[list[Span], str]:
        """Busy spans across the person's `calendars`, and how they were read."""
        account = self._account(person)
        spans: list[Span] = []
        how = "calendar-query"
        for url in calendars:
            try:
                spans += self._event_spans(account, url, start, end, person.timezone)
            except _Refused as exc:
                if exc.status != 403:
                    raise
                spans += self._freebusy_spans(account, url, start, end)
                how = "free-busy-query"
        return merge_spans(spans), how

    def _event_spans(
        self, account: _Account, url: str, start: datetime, end: datetime, zone: tzinfo
    ) -> list[Span]:
        import icalendar
        import recurring_ical_events

        spans: list[Span] = []
        query = _calendar_query(_time_range(start, end))
        for resource in account.multistatus(f"reading events of {_public(url)}", url, query):
            try:
                calendar = icalendar.Calendar.from_ical(resource.data)
                occurrences = recurring_ical_events.of(calendar).between(start, end)
            except Exception as exc:  # a broken event must not hide the others
                log.warning(
                    "%s: skipping the unreadable event %s: %s",
                    account.where,
                    _public(resource.href),
                    _one_line(str(exc)),
                )
                continue
            for event in occurrences:
                if (
                    str(event.get("UID", "")).startswith(OWN_UID_PREFIX)
                    or str(event.get("TRANSP", "")).upper() == "TRANSPARENT"
                    or str(event.get("STATUS", "")).upper() == "CANCELLED"
                ):
                    continue
                begin = max(_aware(event.start, zone), start)
                finish = min(_aware(event.end, zone), end)
                if begin < finish:
                    spans.append((begin.astimezone(UTC), finish.astimezone(UTC)))
        return spans

    def _freebusy_spans(
        self, account: _Account, url: str, start: datetime, end: datetime
    ) -> list[Span]:
        import icalendar

        what = f"free-busy-query on {_public(url)}"
        body = f"{XML_HEAD}<C:free-busy-query {NAMESPACES}>{_time_range(start, end)}"
        body += "</C:free-busy-query>"
        response = account.report(what, url, body)
        spans: list[Span] = []
        try:
            calendar = icalendar.Calendar.from_ical(str(response.raw))
            for component in calendar.walk("VFREEBUSY"):
                periods = component.get("FREEBUSY", [])
                for period in periods if isinstance(periods, list) else [periods]:
                    kind = str(period.params.get("FBTYPE", "BUSY")).upper()
                    begin, finish = period.dt
                    if isinstance(finish, timedelta):
                        finish = begin + finish
                    if kind in BUSY_TYPES and begin < finish:
                        spans.append((begin.astimezone(UTC), finish.astimezone(UTC)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise account.error(what, f"unreadable answer: {exc}") from None
        return spans

    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Span]]:
        """Busy spans of the people behind `emails` who gave calendar access (others: absent)."""
        result: dict[str, list[Span]] = {}
        done: dict[str, list[Span] | None] = {}  # participant id -> spans, None if it failed
        for address in emails:
            person = self._by_address.get(address.lower())
            if person is None or person.calendar is None:
                continue
            if person.id not in done:
                try:
                    calendars = self._person_calendars(person)
                    done[person.id] = self._person_busy(person, calendars, start, end)[0]
                except ConnectorError as exc:
                    log.warning("busy time of %s left out: %s", person.id, exc)
                    done[person.id] = None
            spans = done[person.id]
            if spans is not None:
                result[address] = list(spans)
        return result

    # -- writing ---------------------------------------------------------------------------

    def put_event(self, uid: str, ics: bytes) -> None:
        data = _storable(ics)
        try:
            self.organizer.store(self.calendar_url(), uid, data)
        except _Refused as exc:
            if exc.status == 404:
                self._calendar_url = None  # deleted meanwhile: look again next time
            raise
        for person in self._series_people.get(uid, []):
            if person.calendar is None or not person.calendar.write:
                continue
            try:
                self._write_to(person, uid, data)
            except ConnectorError as exc:
                log.warning("could not write %s into the calendar of %s: %s", uid, person.id, exc)

    def _write_to(self, person: Participant, uid: str, data: bytes) -> None:
        account = self._account(person)
        if not account.is_calendar(account.url):
            raise account.error("writing", WRITE_NEEDS_CALENDAR)
        account.store(account.url, uid, data)

    def cancel_event(self, uid: str, ics: bytes) -> None:
        self.put_event(uid, ics)

    # -- check -----------------------------------------------------------------------------

    def check(self) -> list[tuple[str, bool, str]]:
        """Login, the calendar (found or created), and each participant's access; never raises."""
        lines: list[tuple[str, bool, str]] = []
        where = self.organizer.where
        with _reported(lines, "caldav login"):
            principal = self.organizer.principal()
            detail = f"{where} as {self.options.username} (principal {principal.url})"
            lines.append(("caldav login", True, detail))
        with _reported(lines, "caldav calendar"):
            url, how = self._resolve_calendar()
            self._calendar_url = url
            lines.append(("caldav calendar", True, f"{self.options.calendar!r} {how}: {url}"))
        now = datetime.now(UTC)
        for person in self.config.participants:
            if person.calendar is None:
                continue
            what = f"caldav calendar of {person.id}"
            with _reported(lines, what):
                account = self._account(person)
                calendars = self._person_calendars(person)
                _, how = self._person_busy(person, calendars, now, now + timedelta(days=1))
                detail = f"busy time read by {how} from {len(calendars)} calendar(s)"
                if person.calendar.write:
                    if calendars != [account.url]:
                        raise account.error("writing", WRITE_NEEDS_CALENDAR)
                    detail += f"; the series is also written to {_public(account.url)}"
                lines.append((what, True, detail))
        return lines

    def close(self) -> None:
        for account in [self.organizer, *self._accounts.values()]:
            account.close()


@contextmanager
def _reported(lines: list[tuple[str, bool, str]], what: str) -> Iterator[None]:
    """Turn a failure inside the block into a FAIL line (check() reports, it never raises)."""
    try:
        yield
    except ConnectorError as exc:
        lines.append((what, False, str(exc)))
    except Exception as exc:
        lines.append((what, False, _one_line(f"{type(exc).__name__}: {exc}")))
