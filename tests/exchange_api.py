"""A stateful emulation of an on-premises Exchange 2019 EWS endpoint, at the HTTP layer.

exchangelib talks HTTP through `requests`; `requests_mock` hands every POST to
`ExchangeServer.handle`, which parses the SOAP request (lxml) and answers the way Exchange
Server 2019 CU14 does: SOAP 1.1 envelope, `h:ServerVersionInfo` header, `m:`/`t:` namespaces,
`ResponseClass`/`ResponseCode` per message, SOAP faults for ErrorServerBusy, HTTP 401
without valid Basic credentials.

What it holds: the program mailbox's folders (root, inbox and its subfolders, Sent Items,
Deleted Items, calendar), messages with their MIME content, recurring meetings (weekly
pattern, end date, start time zone, attendees, modified and deleted occurrences) expanded
here with dateutil.rrule in the meeting's zone, what it was asked to send, the meeting
requests and cancellations it would have sent, and other people's free/busy time.

Operations: ConvertId (exchangelib's version probe), GetFolder, FindFolder, CreateFolder,
SyncFolderItems, GetItem (MimeContent, calendar items, OccurrenceItemId), FindItem (restrictions
on InternetMessageId and on extended properties), MoveItem, CreateItem (send with
MimeContent; calendar items with recurrence), UpdateItem, DeleteItem,
GetServerTimeZones, GetUserAvailability.

Also here: the pytest fixtures `exchange_mail_harness` and `exchange_calendar_harness`
(tests/contract.py), loaded with `-p tests.exchange_api` or imported by a test module.
"""

from __future__ import annotations

import base64
import email.policy
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests_mock
from dateutil import rrule
from lxml import etree

from tests.contract import SentMail, Span, StoredSeries, message_id_of

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS = {"s": SOAP, "m": M, "t": T}
ENDPOINT = "https://mail.example.org/EWS/Exchange.asmx"
MAILBOX = "mentoring@example.org"
USERNAME = "EXAMPLE\\svc-mentormail"
PASSWORD = "Corr3ct-H0rse-Battery"
BUILD = (15, 2, 1544, 4)  # Exchange Server 2019 CU14
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
RRULE_DAYS = [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU]
MINIMAL = Path(__file__).resolve().parents[1] / "config" / "minimal.yaml"


def q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _id(kind: bytes) -> str:
    """An id shaped like Exchange's (base64 of a store entry id)."""
    raw = b"\x00\x00\x00\x00" + kind + uuid.uuid4().bytes + uuid.uuid4().bytes
    return "AAMkAGI2" + base64.b64encode(raw).decode()


def _ews_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str, zone: ZoneInfo | None = None) -> datetime:
    """An EWS xs:dateTime: `Z`, an offset, or (rarely) naive, then in `zone` or UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone or UTC)
    return value.astimezone(UTC)


def _parse_date(text: str) -> date:
    return date.fromisoformat(text.strip()[:10])


def _windows_zone(ms_id: str) -> ZoneInfo:
    from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

    return ZoneInfo(MS_TIMEZONE_TO_IANA_MAP[ms_id])


def _ms_zone(zone: ZoneInfo) -> str:
    from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP

    return IANA_TO_MS_TIMEZONE_MAP[zone.key][0]


class EwsFault(Exception):
    """Answer the whole request with a SOAP fault (HTTP 500), as Exchange does for throttling."""

    def __init__(self, code: str, message: str, back_off_ms: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.back_off_ms = code, message, back_off_ms


class EwsItemError(Exception):
    """One response message with ResponseClass="Error"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# --- what the server holds ------------------------------------------------------------------


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None
    distinguished: str | None = None
    folder_class: str = "IPF.Note"
    changekey: str = "AQAAABYAAAB7"


@dataclass
class Mail:
    id: str
    folder: str
    mime: bytes
    received: datetime
    changekey: str = "CQAAABYAAAB7"

    @property
    def message_id(self) -> str:
        return "<" + message_id_of(self.mime) + ">"

    @property
    def subject(self) -> str:
        return str(message_from_bytes(self.mime, policy=email.policy.default)["Subject"] or "")


@dataclass
class Recurrence:
    interval: int
    weekdays: list[int]  # 0 = Monday
    start: date
    end: date


@dataclass
class Meeting:
    id: str
    folder: str
    uid: str
    subject: str = ""
    body: str = ""
    location: str = ""
    start: datetime = datetime(2000, 1, 1, tzinfo=UTC)  # UTC
    end: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    recurrence: Recurrence | None = None
    attendees: list[tuple[str, str]] = field(default_factory=list)  # (name, email)
    extended: dict[tuple[str, str], str] = field(default_factory=dict)  # (set, name) -> value
    busy_status: str = "Busy"
    modified: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)  # index -> UTC
    deleted: set[int] = field(default_factory=set)
    sequence: int = 0
    changekey: str = "DwAAABYAAAB7"

    def originals(self) -> list[datetime]:
        """Original starts of every occurrence (UTC), expanded in the meeting's zone."""
        if self.recurrence is None:
            return [self.start]
        local_start = self.start.astimezone(self.zone).replace(tzinfo=None)
        first = datetime.combine(self.recurrence.start, local_start.time())
        until = datetime.combine(self.recurrence.end, time(23, 59, 59))
        rule = rrule.rrule(
            rrule.WEEKLY,
            dtstart=first,
            interval=self.recurrence.interval,
            byweekday=[RRULE_DAYS[d] for d in self.recurrence.weekdays],
            until=until,
            wkst=rrule.MO,
        )
        return [start.replace(tzinfo=self.zone).astimezone(UTC) for start in rule]

    def meetings(self) -> list[Span]:
        duration = self.end - self.start
        out = []
        for index, original in enumerate(self.originals(), start=1):
            if index in self.deleted:
                continue
            out.append(self.modified.get(index, (original, original + duration)))
        return sorted(out)


@dataclass
class Request:
    """One SOAP request as the server saw it."""

    operation: str
    element: Any  # the operation element (lxml)
    envelope: Any
    headers: dict[str, str]

    def find(self, path: str) -> Any:
        return self.element.find(path, NS)

    def findall(self, path: str) -> list[Any]:
        return self.element.findall(path, NS)

    def text(self, path: str) -> str | None:
        return self.element.findtext(path, namespaces=NS)


@dataclass
class Notice:
    """A meeting request, update or cancellation Exchange would have sent."""

    operation: str  # CreateItem, UpdateItem, DeleteItem
    flag: str  # SendToAllAndSaveCopy, ...
    uid: str
    occurrence: int | None = None


# --- the server -----------------------------------------------------------------------------


class ExchangeServer:
    def __init__(self, mailbox: str = MAILBOX) -> None:
        self.mailbox = mailbox
        self.username, self.password = USERNAME, PASSWORD
        self.bearer: str | None = None  # an OAuth access token to accept besides Basic
        self.folders: dict[str, Folder] = {}
        self.mails: dict[str, Mail] = {}
        self.meetings: dict[str, Meeting] = {}
        self.occurrence_ids: dict[str, tuple[str, int]] = {}  # occurrence id -> (master, index)
        self.sent: list[SentMail] = []
        self.notices: list[Notice] = []
        self.requests: list[Request] = []
        self.freebusy: dict[str, list[tuple[datetime, datetime, str]]] = {}
        self.unknown_people: set[str] = set()  # GetUserAvailability: ErrorMailRecipientNotFound
        self.refuse_recipients: set[str] = set()  # CreateItem send: ErrorInvalidRecipients
        self.failures: list[tuple[str, Callable[[], Any]]] = []  # (operation, raise/return)
        self.sync_states: dict[str, tuple[str, frozenset[str]]] = {}  # token -> (folder, ids)
        self.clock = datetime(2027, 2, 1, 9, tzinfo=UTC)
        for key, name, parent, cls in (
            ("root", "Root", None, "IPF.Note"),
            ("msgfolderroot", "Top of Information Store", "root", "IPF.Note"),
            ("inbox", "Inbox", "msgfolderroot", "IPF.Note"),
            ("sentitems", "Sent Items", "msgfolderroot", "IPF.Note"),
            ("deleteditems", "Deleted Items", "msgfolderroot", "IPF.Note"),
            ("drafts", "Drafts", "msgfolderroot", "IPF.Note"),
            ("calendar", "Calendar", "msgfolderroot", "IPF.Appointment"),
        ):
            parent_id = self.distinguished(parent).id if parent else None
            folder = Folder(_id(b"\x01"), name, parent_id, key, cls)
            self.folders[folder.id] = folder

    # -- state helpers ------------------------------------------------------------------------

    def distinguished(self, key: str) -> Folder:
        return next(f for f in self.folders.values() if f.distinguished == key)

    def children(self, folder_id: str) -> list[Folder]:
        return [f for f in self.folders.values() if f.parent == folder_id]

    def folder_path(self, path: str) -> Folder | None:
        """The folder `a/b` under the inbox, or None."""
        folder = self.distinguished("inbox")
        for part in path.split("/"):
            found = [c for c in self.children(folder.id) if c.name.lower() == part.lower()]
            if not found:
                return None
            folder = found[0]
        return folder

    def deliver(self, raw: bytes) -> Mail:
        self.clock += timedelta(seconds=7)
        mail = Mail(_id(b"\x02"), self.distinguished("inbox").id, raw, self.clock)
        self.mails[mail.id] = mail
        return mail

    def in_folder(self, folder: Folder | str | None) -> list[Mail]:
        folder_id = folder.id if isinstance(folder, Folder) else folder
        return sorted(
            (m for m in self.mails.values() if m.folder == folder_id), key=lambda m: m.received
        )

    def meeting_by_uid(self, uid: str) -> Meeting | None:
        calendar = self.distinguished("calendar").id
        found = [m for m in self.meetings.values() if m.uid == uid and m.folder == calendar]
        return found[0] if found else None

    def fail_next(self, operation: str, failure: Callable[[], Any]) -> None:
        """Make the next `operation` request fail: `failure` raises EwsFault/EwsItemError or
        returns (status, headers, body) for a raw HTTP answer."""
        self.failures.append((operation, failure))

    def operations(self) -> list[str]:
        return [r.operation for r in self.requests]

    def last(self, operation: str) -> Request:
        return next(r for r in reversed(self.requests) if r.operation == operation)

    # -- HTTP -----------------------------------------------------------------------------------

    def handle(self, request: Any, context: Any) -> bytes:
        context.headers["Content-Type"] = "text/xml; charset=utf-8"
        context.headers["X-BEServer"] = "EXCH01"
        context.headers["request-id"] = str(uuid.uuid4())
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        given = request.headers.get("Authorization")
        if given != expected and (self.bearer is None or given != f"Bearer {self.bearer}"):
            context.status_code = 401
            context.headers["Content-Type"] = "text/html"
            context.headers["WWW-Authenticate"] = 'Basic realm="mail.example.org"'
            return b""
        envelope = etree.fromstring(
            request.body if isinstance(request.body, bytes) else request.body.encode()
        )
        body = envelope.find("s:Body", NS)
        element = body[0]
        operation = local(element.tag).removesuffix("Request")  # GetUserAvailabilityRequest
        self.requests.append(Request(operation, element, envelope, dict(request.headers)))
        for n, (name, failure) in enumerate(self.failures):
            if name == operation:
                del self.failures[n]
                try:
                    raw = failure()
                except EwsFault as fault:
                    context.status_code = 500
                    return self._fault(fault)
                except EwsItemError as error:
                    return self._wrap(operation, [self._message(operation, error=error)])
                status, headers, content = raw
                context.status_code = status
                context.headers.update(headers)
                return content
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            context.status_code = 500
            return self._fault(EwsFault("NotEmulated", f"{operation} is not emulated"))
        try:
            return handler(Request(operation, element, envelope, dict(request.headers)))
        except EwsFault as fault:
            context.status_code = 500
            return self._fault(fault)

    # -- envelopes -----------------------------------------------------------------------------

    @staticmethod
    def _header() -> str:
        major, minor, build, revision = BUILD
        return (
            f'<s:Header><h:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" '
            f'MajorBuildNumber="{build}" MinorBuildNumber="{revision}" Version="V2017_07_11" '
            f'xmlns:h="{T}" xmlns="{T}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></s:Header>'
        )

    def _envelope(self, body: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{SOAP}">{self._header()}'
            '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body></s:Envelope>'
        ).encode()

    def _wrap(self, operation: str, messages: list[str]) -> bytes:
        return self._envelope(
            f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}">'
            f"<m:ResponseMessages>{''.join(messages)}</m:ResponseMessages>"
            f"</m:{operation}Response>"
        )

    @staticmethod
    def _message(operation: str, inner: str = "", error: EwsItemError | None = None) -> str:
        if error is not None:
            return (
                f'<m:{operation}ResponseMessage ResponseClass="Error">'
                f"<m:MessageText>{_escape(error.message)}</m:MessageText>"
                f"<m:ResponseCode>{error.code}</m:ResponseCode>"
                f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{inner}"
                f"</m:{operation}ResponseMessage>"
            )
        return (
            f'<m:{operation}ResponseMessage ResponseClass="Success">'
            f"<m:ResponseCode>NoError</m:ResponseCode>{inner}</m:{operation}ResponseMessage>"
        )

    def _fault(self, fault: EwsFault) -> bytes:
        extra = ""
        if fault.back_off_ms is not None:
            extra = (
                f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">'
                f"{fault.back_off_ms}</t:Value></t:MessageXml>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
            '<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">'
            f"a:{fault.code}</faultcode>"
            f'<faultstring xml:lang="en-US">{_escape(fault.message)}</faultstring>'
            f'<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
            f"{fault.code}</e:ResponseCode>"
            f'<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
            f"{_escape(fault.message)}</e:Message>{extra}</detail>"
            "</s:Fault></s:Body></s:Envelope>"
        ).encode()

    def _each(self, operation: str, elements: Sequence[Any], answer: Callable[[Any], str]) -> bytes:
        messages = []
        for element in elements:
            try:
                messages.append(self._message(operation, answer(element)))
            except EwsItemError as error:
                messages.append(self._message(operation, error=error))
        return self._wrap(operation, messages)

    # -- access -------------------------------------------------------------------------------

    def _check_mailbox(self, element: Any) -> None:
        address = element.findtext("t:Mailbox/t:EmailAddress", namespaces=NS)
        if address is not None and address.lower() != self.mailbox.lower():
            raise EwsItemError(
                "ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."
            )

    def _folder_of(self, element: Any) -> Folder:
        """A FolderId or DistinguishedFolderId element -> the folder."""
        tag = local(element.tag)
        if tag == "DistinguishedFolderId":
            self._check_mailbox(element)
            key = element.get("Id")
            found = [f for f in self.folders.values() if f.distinguished == key]
            if not found:
                raise EwsItemError(
                    "ErrorFolderNotFound", "The specified folder could not be found in the store."
                )
            return found[0]
        folder = self.folders.get(element.get("Id", ""))
        if folder is None:
            raise EwsItemError(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            )
        return folder

    # -- folders --------------------------------------------------------------------------------

    def _folder_xml(self, folder: Folder) -> str:
        tag = "CalendarFolder" if folder.folder_class == "IPF.Appointment" else "Folder"
        parent = self.folders.get(folder.parent or "")
        parent_xml = (
            f'<t:ParentFolderId Id="{parent.id}" ChangeKey="{parent.changekey}"/>' if parent else ""
        )
        count = len(self.in_folder(folder)) if tag == "Folder" else 0
        children = len(self.children(folder.id))
        return (
            f'<t:{tag}><t:FolderId Id="{folder.id}" ChangeKey="{folder.changekey}"/>{parent_xml}'
            f"<t:FolderClass>{folder.folder_class}</t:FolderClass>"
            f"<t:DisplayName>{_escape(folder.name)}</t:DisplayName>"
            f"<t:TotalCount>{count}</t:TotalCount><t:ChildFolderCount>{children}</t:ChildFolderCount>"
            + ("<t:UnreadCount>0</t:UnreadCount>" if tag == "Folder" else "")
            + f"</t:{tag}>"
        )

    def op_ConvertId(self, request: Request) -> bytes:
        error = EwsItemError("ErrorInvalidIdMalformed", "Id is malformed.")
        return self._envelope(
            f'<m:ConvertIdResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            + self._message("ConvertId", error=error)
            + "</m:ResponseMessages></m:ConvertIdResponse>"
        )

    def op_GetFolder(self, request: Request) -> bytes:
        ids = list(request.find("m:FolderIds"))
        return self._each(
            "GetFolder",
            ids,
            lambda e: f"<m:Folders>{self._folder_xml(self._folder_of(e))}</m:Folders>",
        )

    def op_FindFolder(self, request: Request) -> bytes:
        def answer(element: Any) -> str:
            parent = self._folder_of(element)
            found = self.children(parent.id)
            equal = request.find("m:Restriction/t:IsEqualTo")
            if equal is not None:
                wanted = equal.find("t:FieldURIOrConstant/t:Constant", NS).get("Value")
                found = [f for f in found if f.name.lower() == wanted.lower()]
            folders = "".join(self._folder_xml(f) for f in found)
            return (
                f'<m:RootFolder TotalItemsInView="{len(found)}" IncludesLastItemInRange="true">'
                f"<t:Folders>{folders}</t:Folders></m:RootFolder>"
            )

        return self._each("FindFolder", list(request.find("m:ParentFolderIds")), answer)

    def op_CreateFolder(self, request: Request) -> bytes:
        parent = self._folder_of(request.find("m:ParentFolderId")[0])

        def answer(element: Any) -> str:
            name = element.findtext("t:DisplayName", namespaces=NS)
            if any(c.name.lower() == name.lower() for c in self.children(parent.id)):
                raise EwsItemError(
                    "ErrorFolderExists", "A folder with the specified name already exists."
                )
            folder = Folder(_id(b"\x01"), name, parent.id)
            self.folders[folder.id] = folder
            return f'<m:Folders><t:Folder><t:FolderId Id="{folder.id}" ChangeKey="{folder.changekey}"/></t:Folder></m:Folders>'

        return self._each("CreateFolder", list(request.find("m:Folders")), answer)

    # -- mail -----------------------------------------------------------------------------------

    def _mail_xml(self, mail: Mail, wanted: set[str], tag: str = "Message") -> str:
        parts = [f'<t:ItemId Id="{mail.id}" ChangeKey="{mail.changekey}"/>']
        if "item:MimeContent" in wanted:
            encoded = base64.b64encode(mail.mime).decode()
            parts.append(f'<t:MimeContent CharacterSet="UTF-8">{encoded}</t:MimeContent>')
        if "item:ParentFolderId" in wanted:
            folder = self.folders[mail.folder]
            parts.append(f'<t:ParentFolderId Id="{folder.id}" ChangeKey="{folder.changekey}"/>')
        if "item:Subject" in wanted:
            parts.append(f"<t:Subject>{_escape(mail.subject)}</t:Subject>")
        if "item:DateTimeReceived" in wanted:
            parts.append(f"<t:DateTimeReceived>{_ews_time(mail.received)}</t:DateTimeReceived>")
        if "message:InternetMessageId" in wanted:
            parts.append(f"<t:InternetMessageId>{_escape(mail.message_id)}</t:InternetMessageId>")
        return f"<t:{tag}>{''.join(parts)}</t:{tag}>"

    @staticmethod
    def _wanted(request: Request, shape: str = "m:ItemShape") -> set[str]:
        found = request.findall(f"{shape}/t:AdditionalProperties/t:FieldURI")
        return {f.get("FieldURI") for f in found}

    def op_SyncFolderItems(self, request: Request) -> bytes:
        folder = self._folder_of(request.find("m:SyncFolderId")[0])
        token = request.text("m:SyncState")
        limit = int(request.text("m:MaxChangesReturned") or 512)
        if token:
            if token not in self.sync_states or self.sync_states[token][0] != folder.id:
                invalid = EwsItemError(
                    "ErrorInvalidSyncStateData",
                    "Synchronization state data is corrupt or otherwise invalid.",
                )
                # as documented for SyncFolderItems: the error still carries these two
                tail = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
                return self._wrap(
                    "SyncFolderItems", [self._message("SyncFolderItems", tail, error=invalid)]
                )
            known = set(self.sync_states[token][1])
        else:
            known = set()
        current = [m.id for m in self.in_folder(folder)]
        changes: list[str] = []
        for gone in sorted(known - set(current)):
            if len(changes) < limit:
                changes.append(f'<t:Delete><t:ItemId Id="{gone}"/></t:Delete>')
                known.discard(gone)
        wanted = self._wanted(request)
        for mail_id in current:
            if mail_id not in known and len(changes) < limit:
                changes.append(
                    f"<t:Create>{self._mail_xml(self.mails[mail_id], wanted)}</t:Create>"
                )
                known.add(mail_id)
        done = known == set(current)
        new_token = base64.b64encode(b"H4sIAAAAAAAEAO29B2AcSZ" + uuid.uuid4().bytes).decode()
        self.sync_states[new_token] = (folder.id, frozenset(known))
        inner = (
            f"<m:SyncState>{new_token}</m:SyncState>"
            f"<m:IncludesLastItemInRange>{str(done).lower()}</m:IncludesLastItemInRange>"
            f"<m:Changes>{''.join(changes)}</m:Changes>"
        )
        return self._wrap("SyncFolderItems", [self._message("SyncFolderItems", inner)])

    def op_GetItem(self, request: Request) -> bytes:
        wanted = self._wanted(request)

        def answer(element: Any) -> str:
            tag = local(element.tag)
            if tag == "OccurrenceItemId":
                master = self._meeting(element.get("RecurringMasterId"))
                index = int(element.get("InstanceIndex"))
                return f"<m:Items>{self._occurrence_xml(master, index)}</m:Items>"
            item_id = element.get("Id")
            if item_id in self.mails:
                return f"<m:Items>{self._mail_xml(self.mails[item_id], wanted)}</m:Items>"
            if item_id in self.occurrence_ids:
                master_id, index = self.occurrence_ids[item_id]
                return f"<m:Items>{self._occurrence_xml(self._meeting(master_id), index)}</m:Items>"
            return f"<m:Items>{self._meeting_xml(self._meeting(item_id))}</m:Items>"

        return self._each("GetItem", list(request.find("m:ItemIds")), answer)

    def op_MoveItem(self, request: Request) -> bytes:
        target = self._folder_of(request.find("m:ToFolderId")[0])

        def answer(element: Any) -> str:
            mail = self.mails.pop(element.get("Id"), None)
            if mail is None:
                raise EwsItemError(
                    "ErrorItemNotFound",
                    "The specified object was not found in the store., The process failed to get the correct properties.",
                )
            moved = Mail(
                _id(b"\x02"), target.id, mail.mime, mail.received
            )  # a new id, like Exchange
            self.mails[moved.id] = moved
            return f'<m:Items><t:Message><t:ItemId Id="{moved.id}" ChangeKey="{moved.changekey}"/></t:Message></m:Items>'

        return self._each("MoveItem", list(request.find("m:ItemIds")), answer)

    def op_FindItem(self, request: Request) -> bytes:
        view_range = request.find("m:CalendarView")
        if view_range is not None:
            return self._calendar_view(request, view_range)
        restriction = request.find("m:Restriction")
        view = request.find("m:IndexedPageItemView")
        limit = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
        offset = int(view.get("Offset", "0")) if view is not None else 0

        def answer(element: Any) -> str:
            folder = self._folder_of(element)
            found: list[Any] = [m for m in self.in_folder(folder)]
            found += [m for m in self.meetings.values() if m.folder == folder.id]
            if restriction is not None:
                found = [i for i in found if _matches(restriction[0], i)]
            page = found[offset : offset + limit]
            items = []
            for item in page:
                if isinstance(item, Mail):
                    items.append(self._mail_xml(item, set()))
                else:
                    items.append(
                        f'<t:CalendarItem><t:ItemId Id="{item.id}" ChangeKey="{item.changekey}"/></t:CalendarItem>'
                    )
            last = offset + len(page) >= len(found)
            return (
                f'<m:RootFolder IndexedPagingOffset="{offset + len(page)}" '
                f'TotalItemsInView="{len(found)}" IncludesLastItemInRange="{str(last).lower()}">'
                f"<t:Items>{''.join(items)}</t:Items></m:RootFolder>"
            )

        return self._each("FindItem", list(request.find("m:ParentFolderIds")), answer)

    def _calendar_view(self, request: Request, view_range: Any) -> bytes:
        """FindItem with CalendarView: every occurrence overlapping the range, expanded."""
        start = _parse_time(view_range.get("StartDate"))
        end = _parse_time(view_range.get("EndDate"))
        wanted_extended = request.findall("m:ItemShape/t:AdditionalProperties/t:ExtendedFieldURI")

        def answer(element: Any) -> str:
            folder = self._folder_of(element)
            items = []
            for meeting in self.meetings.values():
                if meeting.folder != folder.id:
                    continue
                duration = meeting.end - meeting.start
                for index, original in enumerate(meeting.originals(), start=1):
                    if index in meeting.deleted:
                        continue
                    begin, finish = meeting.modified.get(index, (original, original + duration))
                    if begin >= end or finish <= start:
                        continue
                    extended = "".join(
                        f'<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="{u.get("DistinguishedPropertySetId")}" '
                        f'PropertyName="{u.get("PropertyName")}" PropertyType="String"/>'
                        f"<t:Value>{_escape(value)}</t:Value></t:ExtendedProperty>"
                        for u in wanted_extended
                        if (
                            value := meeting.extended.get(
                                (u.get("DistinguishedPropertySetId"), u.get("PropertyName"))
                            )
                        )
                    )
                    kind = "Exception" if index in meeting.modified else "Occurrence"
                    if meeting.recurrence is None:
                        kind = "Single"
                    item_id = (
                        meeting.id
                        if meeting.recurrence is None
                        else self._occurrence_id(meeting, index)
                    )
                    items.append(
                        f'<t:CalendarItem><t:ItemId Id="{item_id}" ChangeKey="{meeting.changekey}"/>'
                        f"{extended}<t:Start>{_ews_time(begin)}</t:Start><t:End>{_ews_time(finish)}</t:End>"
                        f"<t:CalendarItemType>{kind}</t:CalendarItemType></t:CalendarItem>"
                    )
            return (
                f'<m:RootFolder TotalItemsInView="{len(items)}" IncludesLastItemInRange="true">'
                f"<t:Items>{''.join(items)}</t:Items></m:RootFolder>"
            )

        return self._each("FindItem", list(request.find("m:ParentFolderIds")), answer)

    # -- creating -------------------------------------------------------------------------------

    def op_CreateItem(self, request: Request) -> bytes:
        disposition = request.element.get("MessageDisposition")
        invitations = request.element.get("SendMeetingInvitations", "SendToNone")
        saved = request.find("m:SavedItemFolderId")
        saved_folder = self._folder_of(saved[0]) if saved is not None else None

        def answer(element: Any) -> str:
            tag = local(element.tag)
            if tag == "Message":
                return self._send(element, disposition, saved_folder)
            if tag == "CalendarItem":
                folder = saved_folder or self.distinguished("calendar")
                meeting = Meeting(
                    _id(b"\x03"),
                    folder.id,
                    element.findtext("t:UID", namespaces=NS) or str(uuid.uuid4()),
                )
                self._apply_calendar_fields(meeting, element)
                self.meetings[meeting.id] = meeting
                if invitations != "SendToNone":
                    self.notices.append(Notice("CreateItem", invitations, meeting.uid))
                return f'<m:Items><t:CalendarItem><t:ItemId Id="{meeting.id}" ChangeKey="{meeting.changekey}"/></t:CalendarItem></m:Items>'
            raise EwsItemError("ErrorInvalidRequest", f"{tag} is not emulated")

        return self._each("CreateItem", list(request.find("m:Items")), answer)

    def _send(self, element: Any, disposition: str | None, saved_folder: Folder | None) -> str:
        mime_text = element.findtext("t:MimeContent", namespaces=NS)
        if not mime_text:
            raise EwsItemError("ErrorInvalidRequest", "only MimeContent messages are emulated")
        mime = base64.b64decode(mime_text)
        message = message_from_bytes(mime, policy=email.policy.default)
        fields = [str(v) for key in ("To", "Cc", "Bcc") for v in message.get_all(key, [])]
        recipients = frozenset(a.lower() for _, a in getaddresses(fields) if a)
        if not recipients or recipients & self.refuse_recipients:
            raise EwsItemError("ErrorInvalidRecipients", "At least one recipient isn't valid.")
        if disposition in ("SendOnly", "SendAndSaveCopy"):
            self.sent.append(SentMail(message_id_of(mime), recipients))
        if disposition in ("SaveOnly", "SendAndSaveCopy"):
            folder = saved_folder or self.distinguished(
                "sentitems" if disposition != "SaveOnly" else "drafts"
            )
            self.clock += timedelta(seconds=1)
            copy = Mail(_id(b"\x02"), folder.id, mime, self.clock)
            self.mails[copy.id] = copy
        return "<m:Items/>"

    def _apply_calendar_fields(self, meeting: Meeting, element: Any) -> set[str]:
        """Set the fields present in a t:CalendarItem element; the names that were set."""
        seen: set[str] = set()
        zone_id = element.find("t:StartTimeZone", NS)
        if zone_id is not None:
            meeting.zone = _windows_zone(zone_id.get("Id"))
            seen.add("StartTimeZone")
        for child in element:
            name = local(child.tag)
            seen.add(name)
            if name == "Subject":
                meeting.subject = child.text or ""
            elif name == "Body":
                meeting.body = child.text or ""
            elif name == "Location":
                meeting.location = child.text or ""
            elif name == "UID":
                meeting.uid = child.text or ""
            elif name == "Start":
                meeting.start = _parse_time(child.text, meeting.zone)
            elif name == "End":
                meeting.end = _parse_time(child.text, meeting.zone)
            elif name == "LegacyFreeBusyStatus":
                meeting.busy_status = child.text or "Busy"
            elif name == "RequiredAttendees":
                meeting.attendees = [
                    (
                        a.findtext("t:Mailbox/t:Name", default="", namespaces=NS),
                        a.findtext("t:Mailbox/t:EmailAddress", namespaces=NS),
                    )
                    for a in child.findall("t:Attendee", NS)
                ]
            elif name == "Recurrence":
                weekly = child.find("t:WeeklyRecurrence", NS)
                bounds = child.find("t:EndDateRecurrence", NS)
                if weekly is None or bounds is None:
                    raise EwsItemError(
                        "ErrorInvalidRecurrence", "only weekly end-date recurrences are emulated"
                    )
                days = (weekly.findtext("t:DaysOfWeek", namespaces=NS) or "").split()
                meeting.recurrence = Recurrence(
                    interval=int(weekly.findtext("t:Interval", namespaces=NS)),
                    weekdays=[WEEKDAY_NAMES.index(d) for d in days],
                    start=_parse_date(bounds.findtext("t:StartDate", namespaces=NS)),
                    end=_parse_date(bounds.findtext("t:EndDate", namespaces=NS)),
                )
            elif name == "ExtendedProperty":
                uri = child.find("t:ExtendedFieldURI", NS)
                key = (
                    uri.get("DistinguishedPropertySetId") or uri.get("PropertySetId"),
                    uri.get("PropertyName"),
                )
                meeting.extended[key] = child.findtext("t:Value", namespaces=NS) or ""
        # Start/End carry their UTC offset; their wall time in StartTimeZone is what recurs
        return seen

    # -- calendar items -------------------------------------------------------------------------

    def _meeting(self, item_id: str | None) -> Meeting:
        meeting = self.meetings.get(item_id or "")
        if meeting is None:
            raise EwsItemError(
                "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return meeting

    def _occurrence_id(self, master: Meeting, index: int) -> str:
        for occurrence_id, key in self.occurrence_ids.items():
            if key == (master.id, index):
                return occurrence_id
        occurrence_id = _id(b"\x04")
        self.occurrence_ids[occurrence_id] = (master.id, index)
        return occurrence_id

    def _check_index(self, master: Meeting, index: int) -> datetime:
        originals = master.originals()
        if master.recurrence is None or not 1 <= index <= len(originals):
            raise EwsItemError(
                "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
                "The occurrence index is out of recurrence range.",
            )
        if index in master.deleted:
            raise EwsItemError(
                "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                "Occurrence with this index was previously deleted from the recurrence.",
            )
        return originals[index - 1]

    def _occurrence_xml(self, master: Meeting, index: int) -> str:
        original = self._check_index(master, index)
        start, end = master.modified.get(index, (original, original + (master.end - master.start)))
        kind = "Exception" if index in master.modified else "Occurrence"
        return (
            f'<t:CalendarItem><t:ItemId Id="{self._occurrence_id(master, index)}" ChangeKey="{master.changekey}"/>'
            f"<t:Subject>{_escape(master.subject)}</t:Subject>"
            f"<t:UID>{_escape(master.uid)}</t:UID>"
            f"<t:RecurrenceId>{_ews_time(original)}</t:RecurrenceId>"
            f"<t:Start>{_ews_time(start)}</t:Start><t:End>{_ews_time(end)}</t:End>"
            f"<t:OriginalStart>{_ews_time(original)}</t:OriginalStart>"
            f"<t:IsRecurring>true</t:IsRecurring><t:CalendarItemType>{kind}</t:CalendarItemType>"
            "</t:CalendarItem>"
        )

    def _meeting_xml(self, meeting: Meeting) -> str:
        attendees = "".join(
            f"<t:Attendee><t:Mailbox><t:Name>{_escape(name or email)}</t:Name>"
            f"<t:EmailAddress>{_escape(email)}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>"
            "<t:MailboxType>OneOff</t:MailboxType></t:Mailbox>"
            "<t:ResponseType>Unknown</t:ResponseType></t:Attendee>"
            for name, email in meeting.attendees
        )
        extended = "".join(
            f'<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="{key[0]}" '
            f'PropertyName="{key[1]}" PropertyType="String"/><t:Value>{_escape(value)}</t:Value>'
            "</t:ExtendedProperty>"
            for key, value in meeting.extended.items()
        )
        recurrence = ""
        occurrences = ""
        kind = "Single"
        if meeting.recurrence is not None:
            kind = "RecurringMaster"
            r = meeting.recurrence
            start_offset = _offset(meeting.zone, r.start)
            end_offset = _offset(meeting.zone, r.end)
            recurrence = (
                "<t:Recurrence><t:WeeklyRecurrence>"
                f"<t:Interval>{r.interval}</t:Interval>"
                f"<t:DaysOfWeek>{' '.join(WEEKDAY_NAMES[d] for d in r.weekdays)}</t:DaysOfWeek>"
                "<t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>"
                f"<t:EndDateRecurrence><t:StartDate>{r.start.isoformat()}{start_offset}</t:StartDate>"
                f"<t:EndDate>{r.end.isoformat()}{end_offset}</t:EndDate></t:EndDateRecurrence>"
                "</t:Recurrence>"
            )
            originals = meeting.originals()
            if meeting.modified:
                occurrences += (
                    "<t:ModifiedOccurrences>"
                    + "".join(
                        f'<t:Occurrence><t:ItemId Id="{self._occurrence_id(meeting, i)}" ChangeKey="{meeting.changekey}"/>'
                        f"<t:Start>{_ews_time(s)}</t:Start><t:End>{_ews_time(e)}</t:End>"
                        f"<t:OriginalStart>{_ews_time(originals[i - 1])}</t:OriginalStart></t:Occurrence>"
                        for i, (s, e) in sorted(meeting.modified.items())
                    )
                    + "</t:ModifiedOccurrences>"
                )
            if meeting.deleted:
                occurrences += (
                    "<t:DeletedOccurrences>"
                    + "".join(
                        f"<t:DeletedOccurrence><t:Start>{_ews_time(originals[i - 1])}</t:Start></t:DeletedOccurrence>"
                        for i in sorted(meeting.deleted)
                    )
                    + "</t:DeletedOccurrences>"
                )
        zone_name = _ms_zone(meeting.zone)
        return (
            f'<t:CalendarItem><t:ItemId Id="{meeting.id}" ChangeKey="{meeting.changekey}"/>'
            f'<t:ParentFolderId Id="{meeting.folder}" ChangeKey="AQAAAA=="/>'
            "<t:ItemClass>IPM.Appointment</t:ItemClass>"
            f"<t:Subject>{_escape(meeting.subject)}</t:Subject>"
            f'<t:Body BodyType="Text">{_escape(meeting.body.replace(chr(10), chr(13) + chr(10)))}</t:Body>'
            f"{extended}"
            f"<t:UID>{_escape(meeting.uid)}</t:UID>"
            f"<t:Start>{_ews_time(meeting.start)}</t:Start><t:End>{_ews_time(meeting.end)}</t:End>"
            "<t:IsAllDayEvent>false</t:IsAllDayEvent>"
            f"<t:LegacyFreeBusyStatus>{meeting.busy_status}</t:LegacyFreeBusyStatus>"
            f"<t:Location>{_escape(meeting.location)}</t:Location>"
            "<t:IsMeeting>true</t:IsMeeting><t:IsCancelled>false</t:IsCancelled>"
            f"<t:IsRecurring>{str(meeting.recurrence is not None).lower()}</t:IsRecurring>"
            "<t:MeetingRequestWasSent>true</t:MeetingRequestWasSent>"
            f"<t:CalendarItemType>{kind}</t:CalendarItemType>"
            "<t:MyResponseType>Organizer</t:MyResponseType>"
            f"<t:Organizer><t:Mailbox><t:Name>Mentoring</t:Name><t:EmailAddress>{self.mailbox}</t:EmailAddress>"
            "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Organizer>"
            f"<t:RequiredAttendees>{attendees}</t:RequiredAttendees>"
            f"<t:AppointmentSequenceNumber>{meeting.sequence}</t:AppointmentSequenceNumber>"
            f"{recurrence}{occurrences}"
            f'<t:StartTimeZone Id="{zone_name}" Name="{zone_name}"/>'
            f'<t:EndTimeZone Id="{zone_name}" Name="{zone_name}"/>'
            "</t:CalendarItem>"
        )

    def op_UpdateItem(self, request: Request) -> bytes:
        flag = request.element.get("SendMeetingInvitationsOrCancellations", "SendToNone")

        def answer(change: Any) -> str:
            target = change[0]
            tag = local(target.tag)
            if tag == "OccurrenceItemId":
                master = self._meeting(target.get("RecurringMasterId"))
                index = int(target.get("InstanceIndex"))
            elif target.get("Id") in self.occurrence_ids:
                master_id, index = self.occurrence_ids[target.get("Id")]
                master = self._meeting(master_id)
            else:
                master, index = self._meeting(target.get("Id")), None
            updates = change.find("t:Updates", NS)
            if index is not None:
                original = self._check_index(master, index)
                start, end = master.modified.get(
                    index, (original, original + (master.end - master.start))
                )
                for update in updates:
                    item = update.find("t:CalendarItem", NS)
                    if item is None:
                        continue
                    if item.find("t:Start", NS) is not None:
                        start = _parse_time(item.findtext("t:Start", namespaces=NS), master.zone)
                    if item.find("t:End", NS) is not None:
                        end = _parse_time(item.findtext("t:End", namespaces=NS), master.zone)
                master.modified[index] = (start, end)
                item_id = self._occurrence_id(master, index)
            else:
                changed: set[str] = set()
                for update in updates:
                    item = update.find("t:CalendarItem", NS)
                    if item is not None:
                        changed |= self._apply_calendar_fields(master, item)
                if changed & {"Start", "End", "Recurrence", "StartTimeZone"}:
                    master.modified.clear()  # Exchange drops the exceptions of a re-timed series
                    master.deleted.clear()
                item_id = master.id
            master.sequence += 1
            master.changekey = "DwAAABYAAAB7" + str(master.sequence)
            if flag != "SendToNone":
                self.notices.append(Notice("UpdateItem", flag, master.uid, index))
            return (
                f'<m:Items><t:CalendarItem><t:ItemId Id="{item_id}" ChangeKey="{master.changekey}"/>'
                "</t:CalendarItem></m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>"
            )

        return self._each("UpdateItem", list(request.find("m:ItemChanges")), answer)

    def op_DeleteItem(self, request: Request) -> bytes:
        kind = request.element.get("DeleteType")
        flag = request.element.get("SendMeetingCancellations", "SendToNone")

        def answer(element: Any) -> str:
            tag = local(element.tag)
            if tag == "OccurrenceItemId" or element.get("Id") in self.occurrence_ids:
                if tag == "OccurrenceItemId":
                    master = self._meeting(element.get("RecurringMasterId"))
                    index = int(element.get("InstanceIndex"))
                else:
                    master_id, index = self.occurrence_ids[element.get("Id")]
                    master = self._meeting(master_id)
                self._check_index(master, index)
                master.deleted.add(index)
                master.modified.pop(index, None)
                if flag != "SendToNone":
                    self.notices.append(Notice("DeleteItem", flag, master.uid, index))
                return ""
            item_id = element.get("Id")
            if item_id in self.mails:
                mail = self.mails.pop(item_id)
                if kind == "MoveToDeletedItems":
                    mail.folder = self.distinguished("deleteditems").id
                    self.mails[mail.id] = mail
                return ""
            meeting = self._meeting(item_id)
            if flag != "SendToNone":
                self.notices.append(Notice("DeleteItem", flag, meeting.uid))
            if kind == "MoveToDeletedItems":
                meeting.folder = self.distinguished("deleteditems").id
            else:
                del self.meetings[meeting.id]
            return ""

        return self._each("DeleteItem", list(request.find("m:ItemIds")), answer)

    # -- time zones and availability --------------------------------------------------------------

    def op_GetServerTimeZones(self, request: Request) -> bytes:
        ids = [e.text for e in request.findall("m:Ids/t:Id")] or ["UTC"]
        definitions = "".join(_UTC_DEFINITION.replace("{id}", i) for i in ids if i == "UTC")
        return self._wrap(
            "GetServerTimeZones",
            [
                self._message(
                    "GetServerTimeZones",
                    f"<m:TimeZoneDefinitions>{definitions}</m:TimeZoneDefinitions>",
                )
            ],
        )

    def op_GetUserAvailability(self, request: Request) -> bytes:
        window = request.find("t:FreeBusyViewOptions/t:TimeWindow")
        if window is None:
            window = request.find("m:FreeBusyViewOptions/t:TimeWindow")
        start = _parse_time(window.findtext("t:StartTime", namespaces=NS))
        end = _parse_time(window.findtext("t:EndTime", namespaces=NS))
        if end - start > timedelta(days=42):
            raise EwsFault("ErrorInvalidTimeInterval", "The time interval is longer than 42 days.")
        responses = []
        for data in request.findall("m:MailboxDataArray/t:MailboxData"):
            address = data.findtext("t:Email/t:Address", namespaces=NS).lower()
            if address in self.unknown_people:
                responses.append(
                    '<m:FreeBusyResponse><m:ResponseMessage ResponseClass="Error">'
                    "<m:MessageText>No mailbox with such guid.</m:MessageText>"
                    "<m:ResponseCode>ErrorMailRecipientNotFound</m:ResponseCode>"
                    "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:ResponseMessage>"
                    "<m:FreeBusyView><t:FreeBusyViewType>None</t:FreeBusyViewType></m:FreeBusyView>"
                    "</m:FreeBusyResponse>"
                )
                continue
            events = self._busy_of(address)
            array = "".join(
                "<t:CalendarEvent>"
                f"<t:StartTime>{s.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')}</t:StartTime>"
                f"<t:EndTime>{e.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')}</t:EndTime>"
                f"<t:BusyType>{kind}</t:BusyType></t:CalendarEvent>"
                for s, e, kind in events
                if s < end and e > start  # partly inside: returned whole, as Exchange does
            )
            responses.append(
                '<m:FreeBusyResponse><m:ResponseMessage ResponseClass="Success">'
                "<m:ResponseCode>NoError</m:ResponseCode></m:ResponseMessage>"
                "<m:FreeBusyView><t:FreeBusyViewType>FreeBusy</t:FreeBusyViewType>"
                f"<t:CalendarEventArray>{array}</t:CalendarEventArray></m:FreeBusyView>"
                "</m:FreeBusyResponse>"
            )
        return self._envelope(
            f'<m:GetUserAvailabilityResponse xmlns:m="{M}" xmlns:t="{T}">'
            f"<m:FreeBusyResponseArray>{''.join(responses)}</m:FreeBusyResponseArray>"
            "</m:GetUserAvailabilityResponse>"
        )

    def _busy_of(self, address: str) -> list[tuple[datetime, datetime, str]]:
        events = list(self.freebusy.get(address, []))
        if address == self.mailbox.lower():  # the organizer's own meetings
            for meeting in self.meetings.values():
                if meeting.folder == self.distinguished("calendar").id:
                    events += [(s, e, meeting.busy_status) for s, e in meeting.meetings()]
        return events


_UTC_DEFINITION = (
    '<t:TimeZoneDefinition Id="{id}" Name="(UTC) Coordinated Universal Time">'
    '<t:Periods><t:Period Bias="PT0M" Name="Standard" Id="trule:Microsoft/Registry/UTC/1-Standard"/></t:Periods>'
    '<t:TransitionsGroups><t:TransitionsGroup Id="0">'
    '<t:Transition><t:To Kind="Period">trule:Microsoft/Registry/UTC/1-Standard</t:To></t:Transition>'
    "</t:TransitionsGroup></t:TransitionsGroups>"
    '<t:Transitions><t:Transition><t:To Kind="Group">0</t:To></t:Transition></t:Transitions>'
    "</t:TimeZoneDefinition>"
)


def _offset(zone: ZoneInfo, day: date) -> str:
    offset = datetime.combine(day, time(12), tzinfo=zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _matches(restriction: Any, item: Any) -> bool:
    """Evaluate the restrictions exchangelib sends for this connector."""
    kind = local(restriction.tag)
    if kind == "And":
        return all(_matches(r, item) for r in restriction)
    if kind == "Or":
        return any(_matches(r, item) for r in restriction)
    if kind == "Not":
        return not _matches(restriction[0], item)
    uri = restriction[0]
    value = _field_value(uri, item)
    if kind == "Exists":
        return value is not None
    if kind == "IsEqualTo":
        constant = restriction.find("t:FieldURIOrConstant/t:Constant", NS).get("Value")
        return value is not None and value == constant
    raise EwsFault("ErrorUnsupportedQueryFilter", f"{kind} is not emulated")


def _field_value(uri: Any, item: Any) -> str | None:
    if local(uri.tag) == "FieldURI":
        name = uri.get("FieldURI")
        if name == "message:InternetMessageId" and isinstance(item, Mail):
            return item.message_id
        if name == "item:Subject":
            return item.subject
        return None
    key = (
        uri.get("DistinguishedPropertySetId") or uri.get("PropertySetId"),
        uri.get("PropertyName"),
    )
    return item.extended.get(key) if isinstance(item, Meeting) else None


# --- contract harnesses -------------------------------------------------------------------------

PASSWORD_ENV = "MENTORMAIL_TEST_EXCHANGE_PASSWORD"


def exchange_section(**extra: Any) -> dict[str, Any]:
    """A `mail:`/`calendar:` section for the emulated server (Basic auth, version given)."""
    return {
        "type": "exchange",
        "service_endpoint": ENDPOINT,
        "mailbox": MAILBOX,
        "username": USERNAME,
        "password_env": PASSWORD_ENV,
        "auth_type": "basic",
        "version": "15.2",
        **extra,
    }


def exchange_config(directory: Path, section: str, **extra: Any) -> Any:
    """config/minimal.yaml with its `mail:` or `calendar:` line replaced, loaded."""
    from agent.config.loading import load_config

    lines = []
    for line in MINIMAL.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{section}:"):
            line = f"{section}: {json.dumps(exchange_section(**extra))}"
        lines.append(line)
    path = directory / "program.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


@pytest.fixture
def exchange_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ExchangeServer]:
    """The emulated server behind https://mail.example.org/EWS/Exchange.asmx; nothing else
    is reachable (requests_mock answers any other URL with a ConnectionError)."""
    from exchangelib import close_connections

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    server = ExchangeServer()
    with requests_mock.Mocker() as mocker:
        mocker.post(ENDPOINT, content=server.handle)
        yield server
    close_connections()


@dataclass
class ExchangeMailHarness:
    mailbox: Any
    server: ExchangeServer

    def deliver(self, raw: bytes) -> None:
        self.server.deliver(raw)

    def _ids(self, folder: Folder | None) -> list[str]:
        return [message_id_of(m.mime) for m in self.server.in_folder(folder)] if folder else []

    def inbox(self) -> list[str]:
        return self._ids(self.server.distinguished("inbox"))

    def handled(self, outcome: str) -> list[str]:
        options = self.mailbox.options
        name = options.processed_folder if outcome == "processed" else options.quarantine_folder
        return self._ids(self.server.folder_path(name))

    def sent(self) -> list[SentMail]:
        return list(self.server.sent)


@dataclass
class ExchangeCalendarHarness:
    calendar: Any
    server: ExchangeServer

    def stored(self, uid: str) -> StoredSeries | None:
        meeting = self.server.meeting_by_uid(uid)
        if meeting is None:
            return None
        return StoredSeries(
            cancelled=False,
            attendees=frozenset(email.lower() for _, email in meeting.attendees),
            meetings=tuple(meeting.meetings()),
        )

    def make_busy(self, email: str, spans: Sequence[Span]) -> bool:
        self.server.freebusy.setdefault(email.lower(), []).extend((s, e, "Busy") for s, e in spans)
        return True


@pytest.fixture
def exchange_mail_harness(
    exchange_server: ExchangeServer, tmp_path: Path
) -> Iterator[ExchangeMailHarness]:
    from connectors.exchange_mail import ExchangeMailbox

    # `since`: the contract's messages arrive now, before the program's onboarding
    config = exchange_config(tmp_path, "mail", since="2020-01-01")
    mailbox = ExchangeMailbox(ExchangeMailbox.Options.model_validate(config.mail.options), config)
    yield ExchangeMailHarness(mailbox, exchange_server)
    mailbox.close()


@pytest.fixture
def exchange_calendar_harness(
    exchange_server: ExchangeServer, tmp_path: Path
) -> Iterator[ExchangeCalendarHarness]:
    from connectors.exchange_calendar import ExchangeCalendar

    config = exchange_config(tmp_path, "calendar")
    calendar = ExchangeCalendar(
        ExchangeCalendar.Options.model_validate(config.calendar.options), config
    )
    yield ExchangeCalendarHarness(calendar, exchange_server)
    calendar.close()
