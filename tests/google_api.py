"""A stateful emulator of the Gmail and Google Calendar REST APIs at the httplib2 layer.

`GoogleApiEmulator` is what `httplib2.Http` would be for the connectors: an object with
`request(uri, method, body, headers, ...)` returning `(httplib2.Response, bytes)`. It keeps
one program mailbox and its primary calendar in memory and answers the calls the Google
connectors make, the way the documented API does:

- OAuth: the token endpoint issues access tokens (refresh-token and JWT-bearer grants, the
  grants are recorded); every API call must carry one of them, else 401.
- Batch: a POST to a `/batch` path is split into its multipart/mixed parts, each answered
  as a single call, and answered as multipart/mixed again (Content-ID `response-...`).
- Gmail: profile, messages (list with labelIds and a `q` of after:/rfc822msgid:/in:, get
  as raw, modify, send), labels (list, create, 409 for a name taken), history (messageAdded,
  labelAdded, labelRemoved records with gaps between ids; 404 for a startHistoryId older
  than what is kept, see `expire_history`), sendAs. Lists are paged by `page_size`.
- Calendar: events (insert with id rules and 409 for an id taken, get, list, patch, update,
  delete with 410 for one already deleted), instances of a recurring event expanded with
  dateutil.rrule in the event's own zone (instance ids `<id>_<UTC start>`, patch and delete
  of single instances, deleted ones with showDeleted), Meet conference creation with
  conferenceDataVersion=1, and freeBusy (people made busy by a test, and the owner's
  meetings; anybody else gets the `notFound` error entry Google gives).

`faults` lets a test make a call fail (status, body, how many times) to see retries.

The pytest fixtures `google_mail_harness` and `google_calendar_harness` wrap a connector
around a fresh emulator, for the shared contract (tests/contract.py, tests/test_contract.py).
Load them with `-p tests.google_api`, or by naming this module in tests/conftest.py's
`pytest_plugins`.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, message_from_string, policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httplib2
import pytest
from dateutil.rrule import rruleset, rrulestr

from agent.config.loading import load_config
from agent.config.model import Config
from connectors.base import Outcome
from tests.contract import SentMail, Span, StoredSeries, message_id_of

TOKEN_URI = "https://oauth2.googleapis.com/token"
OWNER = "mentoring@example.org"  # config/minimal.yaml's program.sender.email
SYSTEM_LABELS = ("INBOX", "SENT", "UNREAD", "STARRED", "IMPORTANT", "TRASH", "SPAM", "DRAFT")
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
ROOT = Path(__file__).resolve().parents[1]
Answer = tuple[int, Any]  # status, JSON data (None: no content)


class Fail(Exception):
    """An API error answer, raised inside a handler."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


@dataclass
class Fault:
    """Answer calls matching `method` and the URL pattern with this error, `times` times."""

    method: str
    pattern: str  # a regex searched in the path + query
    status: int
    body: Any = None  # JSON (dict) or bytes; default: a Google error body for the status
    times: int = 1


@dataclass
class Recorded:
    method: str
    url: str
    body: Any  # parsed JSON, form fields, or text
    headers: dict[str, str]
    batch: bool = False  # a part of a batch request


@dataclass
class Message:
    id: str
    raw: bytes
    labels: set[str]
    internal_date: int  # ms
    history_id: int


@dataclass
class CalendarEvent:
    resource: dict[str, Any]
    exceptions: dict[datetime, dict[str, Any]] = field(default_factory=dict)  # original UTC ->


def _error_body(status: int, message: str, reason: str) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise Fail(400, f"Invalid time value {text!r}: no time zone offset", "invalid")
    return value.astimezone(UTC)


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Patch semantics: objects are merged field by field, anything else replaced."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _merge_spans(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class GoogleApiEmulator:
    """One Workspace mailbox and its primary calendar, answering at the httplib2 layer."""

    def __init__(self, owner: str = OWNER, *, page_size: int = 2, event_page_size: int = 4) -> None:
        self.owner = owner
        self.page_size = page_size
        self.event_page_size = event_page_size
        self.requests: list[Recorded] = []
        self.grants: list[dict[str, Any]] = []  # token requests: form fields (+ "jwt" claims)
        self.tokens: set[str] = set()
        self.faults: list[Fault] = []
        self.notifications: list[tuple[str, str, str]] = []  # (call, event id, sendUpdates)
        self._ids = itertools.count(0x18F3A2B4C5D6E000)
        self._clock = itertools.count(int(datetime.now(UTC).timestamp()) * 1000, 1000)
        # Gmail
        self.history_id = 41000
        self.oldest_history = self.history_id  # history before this is gone (404)
        self.messages: dict[str, Message] = {}
        self.labels: dict[str, str] = {name: name for name in SYSTEM_LABELS}  # id -> name
        self.history: list[dict[str, Any]] = []
        self.send_as: list[dict[str, Any]] = [
            {"sendAsEmail": owner, "isPrimary": True, "verificationStatus": "accepted"}
        ]
        self.sent: list[SentMail] = []
        # Calendar
        self.events: dict[str, CalendarEvent] = {}
        self.appointments: dict[str, list[Span]] = {}  # lower-case email -> busy spans
        self.time_zone = "Europe/Berlin"

    # -- the httplib2 interface -------------------------------------------------------

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
        redirections: int = 5,
        connection_type: Any = None,
    ) -> tuple[httplib2.Response, bytes]:
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        text = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
        if uri == TOKEN_URI and method == "POST":
            return self._token(text)
        parts = urllib.parse.urlsplit(uri)
        if parts.path.startswith("/batch"):
            self.requests.append(Recorded(method, uri, text, headers))
            if not self._authorized(headers):
                return self._response(401, _error_body(401, "Invalid Credentials", "authError"))
            return self._batch(text, headers.get("content-type", ""))
        status, data = self.answer(method, uri, text, headers)
        return self._response(status, data)

    def answer(
        self, method: str, uri: str, text: str, headers: dict[str, str], batch: bool = False
    ) -> Answer:
        """One call's status and JSON answer (also for each part of a batch)."""
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = text
        self.requests.append(Recorded(method, uri, parsed, headers, batch))
        parts = urllib.parse.urlsplit(uri)
        target = parts.path + ("?" + parts.query if parts.query else "")
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and re.search(fault.pattern, target):
                fault.times -= 1
                default = _error_body(fault.status, f"emulated {fault.status}", "backendError")
                return fault.status, default if fault.body is None else fault.body
        if not self._authorized(headers):
            return 401, _error_body(401, "Invalid Credentials", "authError")
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        try:
            return self._route(method, parts.path, query, parsed)
        except Fail as exc:
            return exc.status, _error_body(exc.status, exc.message, exc.reason)

    @staticmethod
    def _response(
        status: int, data: Any, content_type: str = ""
    ) -> tuple[httplib2.Response, bytes]:
        if isinstance(data, bytes):
            content = data
        else:
            content = b"" if data is None else json.dumps(data).encode("utf-8")
        headers = {"status": str(status)}
        headers["content-type"] = content_type or "application/json; charset=UTF-8"
        return httplib2.Response(headers), content

    def _authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    # -- OAuth --------------------------------------------------------------------------

    def _token(self, text: str) -> tuple[httplib2.Response, bytes]:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(text).items()}
        grant: dict[str, Any] = dict(form)
        if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            payload = form["assertion"].split(".")[1]
            grant["jwt"] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        elif form.get("grant_type") != "refresh_token" or not form.get("refresh_token"):
            self.grants.append(grant)
            return self._response(400, {"error": "unsupported_grant_type"})
        self.grants.append(grant)
        token = f"ya29.emulated-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return self._response(
            200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    # -- batch --------------------------------------------------------------------------

    def _batch(self, text: str, content_type: str) -> tuple[httplib2.Response, bytes]:
        envelope = message_from_string(f"Content-Type: {content_type}\r\n\r\n{text}")
        if not envelope.is_multipart():
            return self._response(
                400, _error_body(400, "Failed to parse batch request", "badRequest")
            )
        boundary = f"batch_{uuid.uuid4().hex}"
        out: list[str] = []
        for part in envelope.get_payload():
            content_id = re.sub(r"\r?\n", "", str(part["Content-ID"])).strip()  # unfold
            payload = part.get_payload()
            head, _, body = [*re.split(r"(\r?\n\r?\n)", payload, maxsplit=1), "", ""][:3]
            request_line, *header_lines = head.splitlines()
            method, target, _ = request_line.split(" ", 2)
            part_headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                part_headers[name.strip().lower()] = value.strip()
            host = part_headers.get("host", "www.googleapis.com")
            status, data = self.answer(
                method, f"https://{host}{target}", body, part_headers, batch=True
            )
            content = "" if data is None else json.dumps(data)
            reason = {200: "OK", 204: "No Content"}.get(status, "Error")
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: <response-{content_id[1:-1]}>\r\n\r\n"
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8\r\n"
                f"Content-Length: {len(content.encode())}\r\n\r\n{content}\r\n"
            )
        out.append(f"--{boundary}--\r\n")
        return self._response(200, "".join(out).encode(), f"multipart/mixed; boundary={boundary}")

    # -- routing ------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        gmail = re.fullmatch(r"/gmail/v1/users/(me|[^/]+)/(.+)", path)
        if gmail:
            if gmail.group(1) not in ("me", self.owner):
                raise Fail(403, "Delegation denied", "forbidden")
            return self._gmail(method, gmail.group(2), query, body)
        calendar = re.fullmatch(
            r"/calendar/v3/calendars/([^/]+)/events(?:/([^/]+))?(/instances)?", path
        )
        if calendar:
            calendar_id = urllib.parse.unquote(calendar.group(1))
            if calendar_id not in ("primary", self.owner):
                raise Fail(404, "Not Found", "notFound")
            event = urllib.parse.unquote(calendar.group(2) or "") or None
            if calendar.group(3):
                return 200, self._instances_page(event or "", query)
            return self._events(method, event, query, body)
        if path == "/calendar/v3/freeBusy" and method == "POST":
            return 200, self._freebusy(body)
        raise Fail(404, f"no such method: {method} {path}", "notFound")

    # -- Gmail --------------------------------------------------------------------------

    def _gmail(self, method: str, rest: str, query: dict[str, list[str]], body: Any) -> Answer:
        if rest == "profile" and method == "GET":
            return 200, {
                "emailAddress": self.owner,
                "messagesTotal": len(self.messages),
                "threadsTotal": len(self.messages),
                "historyId": str(self.history_id),
            }
        if rest == "messages" and method == "GET":
            return 200, self._list_messages(query)
        if rest == "messages/send" and method == "POST":
            return 200, self._send(body)
        match = re.fullmatch(r"messages/([^/]+)(/modify)?", rest)
        if match:
            message = self.messages.get(match.group(1))
            if message is None:
                raise Fail(404, "Requested entity was not found.", "notFound")
            if match.group(2) and method == "POST":
                return 200, self._modify(message, body)
            if method == "GET":
                return 200, self._message_resource(message, query.get("format", ["full"])[0])
        if rest == "labels" and method == "GET":
            return 200, {
                "labels": [
                    {"id": lid, "name": name, "type": "system" if lid == name else "user"}
                    for lid, name in self.labels.items()
                ]
            }
        if rest == "labels" and method == "POST":
            name = str(body["name"])
            if name.lower() in {n.lower() for n in self.labels.values()}:
                raise Fail(409, "Label name exists or conflicts", "duplicate")
            lid = f"Label_{len(self.labels) + 1}"
            self.labels[lid] = name
            return 200, {"id": lid, "name": name, "type": "user"}
        if rest == "history" and method == "GET":
            return 200, self._history_page(query)
        if rest == "settings/sendAs" and method == "GET":
            return 200, {"sendAs": self.send_as}
        raise Fail(404, f"no such Gmail method: {method} {rest}", "notFound")

    def _next_history(self) -> int:
        self.history_id += 1 + next(self._ids) % 3  # history ids grow with gaps
        return self.history_id

    def deliver(self, raw: bytes, labels: Sequence[str] = ("INBOX", "UNREAD")) -> str:
        """Put a message into the mailbox as Gmail's delivery would; its id."""
        mid = f"{next(self._ids):016x}"
        hid = self._next_history()
        message = Message(mid, raw, set(labels), next(self._clock), hid)
        self.messages[mid] = message
        added = {"id": mid, "threadId": mid, "labelIds": sorted(message.labels)}
        self.history.append({"id": str(hid), "messagesAdded": [{"message": added}]})
        return mid

    def expire_history(self) -> None:
        """Forget all history so far: older startHistoryIds get 404 (as after a week)."""
        self.oldest_history = self.history_id + 1
        self.history = []

    def _message_resource(self, message: Message, form: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": message.id,
            "threadId": message.id,
            "labelIds": sorted(message.labels),
            "historyId": str(message.history_id),
            "internalDate": str(message.internal_date),
            "sizeEstimate": len(message.raw),
        }
        if form == "raw":
            data["raw"] = base64.urlsafe_b64encode(message.raw).decode("ascii")
        elif form != "minimal":
            raise Fail(400, f"format {form} is not emulated", "invalidArgument")
        return data

    def _matches(self, message: Message, term: str) -> bool:
        key, _, value = term.partition(":")
        if key == "after" or key == "before":
            if re.fullmatch(r"\d+", value):
                limit = int(value) * 1000
            else:
                day = datetime.strptime(value, "%Y/%m/%d").replace(
                    tzinfo=ZoneInfo("America/Los_Angeles")
                )
                limit = int(day.timestamp() * 1000)
            return (
                message.internal_date > limit if key == "after" else message.internal_date < limit
            )
        if key == "rfc822msgid":
            return message_id_of(message.raw) == value.strip("<>")
        if key == "in":
            return value == "anywhere" or value.upper() in message.labels
        raise Fail(400, f"Invalid query: {term!r} is not emulated", "invalidArgument")

    def _list_messages(self, query: dict[str, list[str]]) -> dict[str, Any]:
        labels = query.get("labelIds", [])
        terms = query.get("q", [""])[0].split()
        spam_trash = query.get("includeSpamTrash", ["false"])[0] == "true"
        found = [
            m
            for m in sorted(self.messages.values(), key=lambda m: -m.internal_date)  # newest first
            if all(label in m.labels for label in labels)
            and (spam_trash or not m.labels & {"SPAM", "TRASH"})
            and all(self._matches(m, term) for term in terms)
        ]
        page, token = self._page(found, query)
        data: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if page:
            data["messages"] = [{"id": m.id, "threadId": m.id} for m in page]
        if token:
            data["nextPageToken"] = token
        return data

    def _page(
        self, items: list[Any], query: dict[str, list[str]], size: int | None = None
    ) -> tuple[list[Any], str | None]:
        start = int(query.get("pageToken", ["0"])[0] or 0)
        size = min(int(query.get("maxResults", ["100"])[0]), size or self.page_size)
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    def _modify(self, message: Message, body: dict[str, Any]) -> dict[str, Any]:
        add = [lid for lid in body.get("addLabelIds", []) if lid not in message.labels]
        remove = [lid for lid in body.get("removeLabelIds", []) if lid in message.labels]
        for lid in add + remove:
            if lid not in self.labels:
                raise Fail(400, f"Invalid label: {lid}", "invalidArgument")
        message.labels |= set(add)
        message.labels -= set(remove)
        hid = self._next_history()
        message.history_id = hid
        short = {"id": message.id, "threadId": message.id, "labelIds": sorted(message.labels)}
        record: dict[str, Any] = {"id": str(hid)}
        if add:
            record["labelsAdded"] = [{"message": short, "labelIds": add}]
        if remove:
            record["labelsRemoved"] = [{"message": short, "labelIds": remove}]
        self.history.append(record)
        return short

    def _send(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = str(body.get("raw", ""))
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        parsed = message_from_bytes(data, policy=policy.default)
        fields = [str(v) for key in ("To", "Cc", "Bcc") for v in parsed.get_all(key, [])]
        recipients = [addr for _, addr in getaddresses(fields) if addr]
        if not recipients:
            raise Fail(400, "Recipient address required", "invalidArgument")
        for address in recipients:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
                raise Fail(400, "Invalid To header", "invalidArgument")
        mid = self.deliver(data, labels=("SENT",))
        self.sent.append(SentMail(message_id_of(data), frozenset(a.lower() for a in recipients)))
        return {"id": mid, "threadId": mid, "labelIds": ["SENT"]}

    def _history_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        start = int(query["startHistoryId"][0])
        if start < self.oldest_history:
            raise Fail(404, "Requested entity was not found.", "notFound")
        types = set(query.get("historyTypes", [])) or {
            "messageAdded",
            "messageDeleted",
            "labelAdded",
            "labelRemoved",
        }
        keys = {
            "messageAdded": "messagesAdded",
            "messageDeleted": "messagesDeleted",
            "labelAdded": "labelsAdded",
            "labelRemoved": "labelsRemoved",
        }
        label = query.get("labelId", [None])[0]
        records = []
        for record in self.history:
            if int(record["id"]) <= start:
                continue
            kept: dict[str, Any] = {"id": record["id"]}
            for kind in types:
                entries = [
                    e
                    for e in record.get(keys[kind], [])
                    if label is None
                    or label in e["message"]["labelIds"]
                    or label in e.get("labelIds", [])
                ]
                if entries:
                    kept[keys[kind]] = entries
            if len(kept) > 1:
                records.append(kept)
        page, token = self._page(records, query)
        data: dict[str, Any] = {"historyId": str(self.history_id)}
        if page:
            data["history"] = page
        if token:
            data["nextPageToken"] = token
        return data

    # -- Calendar -----------------------------------------------------------------------

    def _events(
        self, method: str, eid: str | None, query: dict[str, list[str]], body: Any
    ) -> Answer:
        send = query.get("sendUpdates", ["none"])[0]
        if eid is None:
            if method == "POST":
                return 200, self._insert(body, query, send)
            if method == "GET":
                items = [
                    self._public(e)
                    for e in self.events.values()
                    if e.resource["status"] != "cancelled"
                ]
                page, token = self._page(items, query, self.event_page_size)
                data = {
                    "kind": "calendar#events",
                    "summary": self.owner,
                    "timeZone": self.time_zone,
                    "accessRole": "owner",
                    "items": page,
                }
                if token:
                    data["nextPageToken"] = token
                return 200, data
            raise Fail(405, "Method not allowed", "badRequest")
        master_id, _, when = eid.partition("_")
        event = self.events.get(master_id)
        if event is None:
            raise Fail(404, "Not Found", "notFound")
        if when:
            return self._instance_call(method, event, eid, when, body, send)
        resource = event.resource
        if method == "GET":
            return 200, self._public(event)
        if method == "DELETE":
            if resource["status"] == "cancelled":
                raise Fail(410, "Resource has been deleted", "deleted")
            resource["status"] = "cancelled"
            self._changed(resource, "delete", send)
            return 204, None
        if method in ("PATCH", "PUT"):
            fields = {k: v for k, v in body.items() if k not in ("id", "iCalUID", "sequence")}
            if method == "PUT":
                kept = {
                    k: resource[k]
                    for k in ("id", "iCalUID", "organizer", "creator", "created", "conferenceData")
                    if k in resource
                }
                resource.clear()
                resource.update(kept)
                resource["status"] = "confirmed"
            conference = fields.pop("conferenceData", None)
            _merge(resource, fields)
            self._validate(resource)
            if conference is not None:
                self._conference(resource, conference, query)
            self._changed(resource, method.lower(), send)
            return 200, self._public(event)
        raise Fail(405, "Method not allowed", "badRequest")

    def _validate(self, resource: dict[str, Any]) -> None:
        for key in ("start", "end"):
            when = resource.get(key) or {}
            if "dateTime" not in when:
                raise Fail(400, f"Missing {key} time.", "required")
            _utc(when["dateTime"])
            if resource.get("recurrence") and not when.get("timeZone"):
                raise Fail(400, f"Missing time zone definition for {key} time.", "required")
        for line in resource.get("recurrence", []):
            if not line.startswith(("RRULE:", "EXDATE", "RDATE")):
                raise Fail(400, "Invalid recurrence rule.", "invalid")
        self._expand(resource)  # an unreadable rule is a 400, as with Google

    def _insert(
        self, body: dict[str, Any], query: dict[str, list[str]], send: str
    ) -> dict[str, Any]:
        eid = str(body.get("id") or uuid.uuid4().hex)
        if not EVENT_ID.fullmatch(eid):
            raise Fail(400, "Invalid resource id value.", "invalid")
        if eid in self.events:
            raise Fail(409, "The requested identifier already exists.", "duplicate")
        resource = {k: v for k, v in body.items() if k != "conferenceData"}
        resource.update(
            {
                "kind": "calendar#event",
                "id": eid,
                "status": body.get("status", "confirmed"),
                "iCalUID": f"{eid}@google.com",
                "organizer": {"email": self.owner, "self": True},
                "creator": {"email": self.owner, "self": True},
                "sequence": 0,
            }
        )
        self._validate(resource)
        if "conferenceData" in body:
            self._conference(resource, body["conferenceData"], query)
        event = CalendarEvent(resource)
        self.events[eid] = event
        self._changed(resource, "insert", send, bump=False)
        return self._public(event)

    def _conference(
        self, resource: dict[str, Any], data: dict[str, Any], query: dict[str, list[str]]
    ) -> None:
        if query.get("conferenceDataVersion", ["0"])[0] != "1":
            return  # version 0 ignores conference data, as Google does
        request = data.get("createRequest")
        existing = resource.get("conferenceData", {})
        if request is None:
            resource["conferenceData"] = data
            return
        if existing.get("createRequest", {}).get("requestId") == request.get("requestId"):
            return  # the same request again is ignored
        if request.get("conferenceSolutionKey", {}).get("type") != "hangoutsMeet":
            raise Fail(400, "Invalid conference type value.", "invalid")
        code = uuid.uuid4().hex
        link = f"https://meet.google.com/{code[:3]}-{code[3:7]}-{code[7:10]}"
        resource["conferenceData"] = {
            "createRequest": {**request, "status": {"statusCode": "success"}},
            "entryPoints": [{"entryPointType": "video", "uri": link}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "conferenceId": link.rsplit("/", 1)[1],
        }
        resource["hangoutLink"] = link

    def _changed(self, resource: dict[str, Any], call: str, send: str, bump: bool = True) -> None:
        if bump:
            resource["sequence"] = int(resource.get("sequence", 0)) + 1
        resource["updated"] = _z(datetime.now(UTC))
        self.notifications.append((call, resource["id"], send))

    def _public(self, event: CalendarEvent) -> dict[str, Any]:
        return json.loads(json.dumps(event.resource))

    def _expand(self, resource: dict[str, Any]) -> list[datetime]:
        """Original starts of every occurrence, aware in the event's own zone."""
        zone = ZoneInfo(resource["start"].get("timeZone") or "UTC")
        start = _utc(resource["start"]["dateTime"]).astimezone(zone)
        rules = rruleset()
        has_rule = False
        try:
            for line in resource.get("recurrence", []):
                if line.startswith("RRULE:"):
                    rules.rrule(rrulestr(line[6:], dtstart=start))
                    has_rule = True
                elif line.startswith("EXDATE"):
                    params, _, values = line.partition(":")
                    tzid = re.search(r"TZID=([^;:]+)", params)
                    for value in values.split(","):
                        moment = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
                        rules.exdate(
                            moment.replace(
                                tzinfo=UTC
                                if value.endswith("Z")
                                else ZoneInfo(tzid.group(1) if tzid else zone.key)
                            )
                        )
        except (ValueError, TypeError) as exc:
            raise Fail(400, f"Invalid recurrence rule: {exc}", "invalid") from None
        if not has_rule:
            return [start]
        return [when.astimezone(zone) for when in itertools.islice(rules, 1000)]

    def instances(
        self, event: CalendarEvent, show_deleted: bool = True
    ) -> Iterator[dict[str, Any]]:
        resource = event.resource
        zone = resource["start"].get("timeZone") or "UTC"
        duration = _utc(resource["end"]["dateTime"]) - _utc(resource["start"]["dateTime"])
        for original in self._expand(resource):
            key = original.astimezone(UTC)
            change = event.exceptions.get(key, {})
            status = change.get("status", "confirmed")
            if resource["status"] == "cancelled":
                status = "cancelled"
            if status == "cancelled" and not show_deleted:
                continue
            yield {
                "kind": "calendar#event",
                "id": f"{resource['id']}_{key:%Y%m%dT%H%M%SZ}",
                "status": status,
                "recurringEventId": resource["id"],
                "originalStartTime": {"dateTime": original.isoformat(), "timeZone": zone},
                "start": change.get("start", {"dateTime": original.isoformat(), "timeZone": zone}),
                "end": change.get(
                    "end", {"dateTime": (original + duration).isoformat(), "timeZone": zone}
                ),
                "summary": resource.get("summary", ""),
                "attendees": resource.get("attendees", []),
                "iCalUID": resource["iCalUID"],
                "organizer": resource["organizer"],
            }

    def _instances_page(self, eid: str, query: dict[str, list[str]]) -> dict[str, Any]:
        event = self.events.get(eid)
        if event is None:
            raise Fail(404, "Not Found", "notFound")
        if event.resource["status"] == "cancelled":
            raise Fail(410, "Resource has been deleted", "deleted")
        show = query.get("showDeleted", ["false"])[0] == "true"
        items = list(self.instances(event, show))
        if "originalStart" in query:
            wanted = _utc(query["originalStart"][0])
            items = [i for i in items if _utc(i["originalStartTime"]["dateTime"]) == wanted]
        page, token = self._page(items, query, self.event_page_size)
        data: dict[str, Any] = {"kind": "calendar#events", "accessRole": "owner", "items": page}
        if token:
            data["nextPageToken"] = token
        return data

    def _instance_call(
        self, method: str, event: CalendarEvent, iid: str, when: str, body: Any, send: str
    ) -> Answer:
        try:
            key = datetime.strptime(when, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise Fail(404, "Not Found", "notFound") from None
        if key not in {o.astimezone(UTC) for o in self._expand(event.resource)}:
            raise Fail(404, "Not Found", "notFound")
        change = event.exceptions.setdefault(key, {})
        if method == "DELETE":
            if change.get("status") == "cancelled":
                raise Fail(410, "Resource has been deleted", "deleted")
            change["status"] = "cancelled"
            self.notifications.append(("delete", iid, send))
            return 204, None
        if method in ("PATCH", "PUT"):
            for key_name in ("start", "end"):
                if key_name in body:
                    _utc(body[key_name]["dateTime"])
                    change[key_name] = body[key_name]
            change["status"] = body.get(
                "status", "confirmed" if method == "PUT" else change.get("status", "confirmed")
            )
            self.notifications.append((method.lower(), iid, send))
            return 200, next(i for i in self.instances(event) if i["id"] == iid)
        if method == "GET":
            return 200, next(i for i in self.instances(event) if i["id"] == iid)
        raise Fail(405, "Method not allowed", "badRequest")

    def meetings(self, event: CalendarEvent) -> list[Span]:
        """(start, end) in UTC of every meeting of the event that takes place, sorted."""
        return sorted(
            (_utc(i["start"]["dateTime"]), _utc(i["end"]["dateTime"]))
            for i in self.instances(event, show_deleted=False)
        )

    def _freebusy(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = _utc(body["timeMin"]), _utc(body["timeMax"])
        if end <= start:
            raise Fail(400, "The specified time range is empty.", "timeRangeEmpty")
        if end - start > timedelta(days=90):
            raise Fail(400, "The requested time range is too long.", "timeRangeTooLong")
        if len(body.get("items", [])) > 50:
            raise Fail(400, "Too many calendars requested", "tooManyCalendarsRequested")
        calendars: dict[str, Any] = {}
        for item in body.get("items", []):
            cid = str(item["id"])
            address = self.owner if cid == "primary" else cid.lower()
            if address != self.owner and address not in self.appointments:
                calendars[cid] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
                continue
            spans = list(self.appointments.get(address, []))
            if address == self.owner:
                spans += [s for e in self.events.values() for s in self.meetings(e)]
            clipped = [(max(a, start), min(b, end)) for a, b in spans if a < end and b > start]
            calendars[cid] = {
                "busy": [{"start": _z(a), "end": _z(b)} for a, b in _merge_spans(clipped)]
            }
        return {
            "kind": "calendar#freeBusy",
            "timeMin": _z(start),
            "timeMax": _z(end),
            "calendars": calendars,
        }

    def event_by_uid(self, uid: str) -> CalendarEvent | None:
        for event in self.events.values():
            private = event.resource.get("extendedProperties", {}).get("private", {})
            if private.get("mentormailUid") == uid:
                return event
        return None


# --- configs, token files -----------------------------------------------------------------


def write_program(directory: Path) -> Config:
    """config/minimal.yaml in `directory` (its program.sender.email is the mailbox)."""
    path = directory / "program.yaml"
    path.write_text(
        (ROOT / "config" / "minimal.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return load_config(path)


def write_token_file(directory: Path, *, access_token: str | None = None) -> Path:
    """An authorized-user token file; with `access_token` one that is valid until 2099."""
    info: dict[str, Any] = {
        "type": "authorized_user",
        "client_id": "1234-emulated.apps.googleusercontent.com",
        "client_secret": "GOCSPX-emulated-client-secret",
        "refresh_token": "1//emulated-refresh-token",
    }
    if access_token:
        info["token"] = access_token
        info["expiry"] = "2099-01-01T00:00:00Z"
    path = directory / "google-token.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    path.chmod(0o600)
    return path


# --- the contract's harnesses -------------------------------------------------------------


@dataclass
class GoogleMailHarness:
    api: GoogleApiEmulator
    mailbox: Any  # GoogleMailbox

    def deliver(self, raw: bytes) -> None:
        self.api.deliver(raw)

    def _with_label(self, label: str | None) -> list[str]:
        if label is None:
            return []
        found = [m for m in self.api.messages.values() if label in m.labels]
        return [message_id_of(m.raw) for m in sorted(found, key=lambda m: m.internal_date)]

    def inbox(self) -> list[str]:
        return self._with_label("INBOX")

    def handled(self, outcome: Outcome) -> list[str]:
        options = self.mailbox.options
        name = options.processed_label if outcome == "processed" else options.quarantine_label
        label = next((lid for lid, n in self.api.labels.items() if n == name), None)
        return self._with_label(label)

    def sent(self) -> list[SentMail]:
        return list(self.api.sent)


@dataclass
class GoogleCalendarHarness:
    api: GoogleApiEmulator
    calendar: Any  # GoogleCalendar

    def stored(self, uid: str) -> StoredSeries | None:
        event = self.api.event_by_uid(uid)
        if event is None:
            return None
        resource = event.resource
        return StoredSeries(
            cancelled=resource["status"] == "cancelled",
            attendees=frozenset(str(a["email"]).lower() for a in resource.get("attendees", [])),
            meetings=tuple(self.api.meetings(event)),
        )

    def make_busy(self, email: str, spans: Sequence[Span]) -> bool:
        self.api.appointments[email.lower()] = [
            (a.astimezone(UTC), b.astimezone(UTC)) for a, b in spans
        ]
        return True


@pytest.fixture
def google_api() -> GoogleApiEmulator:
    return GoogleApiEmulator()


@pytest.fixture
def google_mail_harness(
    tmp_path: Path, google_api: GoogleApiEmulator
) -> Iterator[GoogleMailHarness]:
    from connectors.google import GoogleMailbox

    config = write_program(tmp_path)
    write_token_file(tmp_path)
    options = GoogleMailbox.Options(token_file=Path("google-token.json"), since=date(2000, 1, 1))
    mailbox = GoogleMailbox(options, config, transport=google_api)
    yield GoogleMailHarness(google_api, mailbox)
    mailbox.close()


@pytest.fixture
def google_calendar_harness(
    tmp_path: Path, google_api: GoogleApiEmulator
) -> Iterator[GoogleCalendarHarness]:
    from connectors.google import GoogleCalendar

    config = write_program(tmp_path)
    write_token_file(tmp_path)
    options = GoogleCalendar.Options(token_file=Path("google-token.json"), meet=True)
    calendar = GoogleCalendar(options, config, transport=google_api)
    yield GoogleCalendarHarness(google_api, calendar)
    calendar.close()
