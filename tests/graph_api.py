"""A stateful emulator of the Microsoft Graph endpoints the `graph` connectors use.

Everything runs at the HTTP layer: `GraphEmulator.register` puts callbacks on a
`responses.RequestsMock`, so requests (and MSAL, which uses requests) talk to it
instead of the network. The answers follow Graph's documented JSON (v1.0) and the
behaviour of Exchange Online where the connectors depend on it:

Sign-in     the tenant's OpenID configuration and the v2.0 token endpoint (client
            credentials with a secret or a client assertion); every Graph call needs a
            token issued here (401 InvalidAuthenticationToken otherwise).
Mail        the inbox with delta rounds (@odata.nextLink pages by Prefer:
            odata.maxpagesize, @odata.deltaLink; later rounds report new messages and
            `@removed` ones; `expire_delta_tokens` makes old tokens 410 SyncStateNotFound),
            $value, child folders of the inbox (409 when the name exists), move (the
            message gets a new id, as without immutable ids), sendMail with MIME
            (base64, Content-Type text/plain; stored in Sent Items; refused recipients
            give 400 ErrorInvalidRecipients), Sent Items filtered by internetMessageId.
Calendar    events with Windows time zone names, weekly recurrence expanded with
            dateutil.rrule in the event's zone (the range's endDate is inclusive in the
            recurrence time zone), transactionId (a repeated create returns the first
            event), single-value extended properties ($filter with Any(), $expand),
            instances with originalStart, PATCH of an occurrence (an exception), cancel
            of an occurrence (no longer listed) or of the series (moved to Deleted
            Items), Exchange dropping all exceptions when the series' times or
            recurrence change, calendarView, and getSchedule over busy items given with
            `make_busy` plus the meetings a person is invited to (tentative); addresses
            the directory does not know come back with an `error`.
Faults      `fail_next` answers the next matching requests with an error (429 with
            Retry-After, 503 ...).

The pytest fixtures `graph_mail_harness` and `graph_calendar_harness` wrap the
connectors and this emulator for the shared contract (tests/contract.py); load this
module with `-p tests.graph_api`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import textwrap
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from email import message_from_bytes, policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest
import responses
from dateutil.rrule import FR, MO, SA, SU, TH, TU, WE, WEEKLY, rrule
from tzlocal.windows_tz import win_tz

from agent.config.loading import load_config
from agent.config.model import Config
from connectors.base import Outcome
from tests.contract import SentMail, Span, StoredSeries, message_id_of

LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"
TENANT = "3f6e3f0e-4c8b-4e0c-9d7b-2b1c7e9a5d11"
CLIENT_ID = "0c5a7b2e-8d1f-4a3e-b6c9-1e2d3f4a5b6c"
SECRET = "Qx8~mentormail-test-secret.Zr4_kP2wLd9sVf3"
SECRET_ENV = "MENTORMAIL_GRAPH_SECRET"
MAILBOX = "mentoring@example.org"
WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
WEEKDAYS = {
    "monday": MO,
    "tuesday": TU,
    "wednesday": WE,
    "thursday": TH,
    "friday": FR,
    "saturday": SA,
    "sunday": SU,
}
Reply = tuple[int, dict[str, str], str | bytes]


def openid_configuration(tenant: str) -> dict[str, Any]:
    """The tenant's v2.0 OpenID configuration, as login.microsoftonline.com serves it."""
    base = f"{LOGIN}/{tenant}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{LOGIN}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{LOGIN}/{tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "tid"],
        "kerberos_endpoint": f"{LOGIN}/{tenant}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def instance_metadata() -> dict[str, Any]:
    """What /common/discovery/instance?api-version=1.1 answers (MSAL's authority aliases)."""
    return {
        "tenant_discovery_endpoint": f"{LOGIN}/common/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [
            {
                "preferred_network": "login.microsoftonline.com",
                "preferred_cache": "login.windows.net",
                "aliases": [
                    "login.microsoftonline.com",
                    "login.windows.net",
                    "login.microsoft.com",
                    "sts.windows.net",
                ],
            },
            {
                "preferred_network": "login.partner.microsoftonline.cn",
                "preferred_cache": "login.partner.microsoftonline.cn",
                "aliases": ["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
            },
        ],
    }


def graph_error(status: int, code: str, message: str, **headers: str) -> Reply:
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2027-02-01T09:00:00",
                "request-id": "c7a8e3f2-1b4d-4e6a-9f0c-2d3e4f5a6b7c",
                "client-request-id": "c7a8e3f2-1b4d-4e6a-9f0c-2d3e4f5a6b7c",
            },
        }
    }
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body)


def _ok(body: Any, status: int = 200) -> Reply:
    headers = {"Content-Type": "application/json; odata.metadata=minimal; charset=utf-8"}
    return status, headers, json.dumps(body)


def _opaque(prefix: str, text: str) -> str:
    """A Graph-looking id: base64url text with a recognisable start, ending in '='."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"{prefix}{digest[:40]}AAA="


def _local(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone as an aware time (Windows zone names, or UTC)."""
    zone = value.get("timeZone") or "UTC"
    text = re.sub(r"(\.\d{6})\d+", r"\1", value["dateTime"])
    return datetime.fromisoformat(text).replace(tzinfo=_zone(zone))


def _zone(name: str) -> tzinfo:
    if name in ("UTC", "Etc/UTC"):
        return UTC
    if name not in win_tz:
        raise ValueError(name)
    return ZoneInfo(win_tz[name])


def _out(moment: datetime, zone: tzinfo) -> dict[str, str]:
    local = moment.astimezone(zone).replace(tzinfo=None)
    name = "UTC" if zone is UTC else next(k for k, v in win_tz.items() if ZoneInfo(v) == zone)
    return {"dateTime": local.isoformat(timespec="microseconds") + "0", "timeZone": name}


def _offset(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Message:
    id: str
    folder: str  # folder id
    mime: bytes
    received: datetime
    internet_id: str  # with <>


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None


@dataclass
class Event:
    id: str
    data: dict[str, Any]  # the fields as stored (what the client sent, merged)
    props: dict[str, str] = field(default_factory=dict)  # extended property id -> value
    exceptions: dict[datetime, tuple[datetime, datetime]] = field(default_factory=dict)
    cancelled: set[datetime] = field(default_factory=set)  # original starts, UTC

    @property
    def zone(self) -> tzinfo:
        return _zone(self.data["start"]["timeZone"])

    def occurrences(self) -> list[tuple[datetime, datetime, datetime, bool]]:
        """(original start, start, end, is exception) of every meeting that takes place."""
        start, end = _local(self.data["start"]), _local(self.data["end"])
        duration = end - start
        recurrence = self.data.get("recurrence")
        if not recurrence:
            return [(start.astimezone(UTC), start.astimezone(UTC), end.astimezone(UTC), False)]
        pattern, span = recurrence["pattern"], recurrence["range"]
        assert pattern["type"] == "weekly" and span["type"] == "endDate"
        zone = self.zone
        until_zone = _zone(span.get("recurrenceTimeZone") or self.data["start"]["timeZone"])
        last = datetime.combine(date.fromisoformat(span["endDate"]), time(23, 59, 59))
        last_local = last.replace(tzinfo=until_zone).astimezone(zone).replace(tzinfo=None)
        first = datetime.combine(
            date.fromisoformat(span["startDate"]),
            start.astimezone(zone).time().replace(tzinfo=None),
        )
        rule = rrule(
            WEEKLY,
            interval=int(pattern.get("interval", 1)),
            byweekday=[WEEKDAYS[d] for d in pattern["daysOfWeek"]],
            wkst=WEEKDAYS[pattern.get("firstDayOfWeek", "sunday")],
            dtstart=first,
            until=last_local,
        )
        out = []
        for wall in rule:
            original = wall.replace(tzinfo=zone).astimezone(UTC)
            if original in self.cancelled:
                continue
            moved = self.exceptions.get(original)
            if moved:
                out.append((original, moved[0], moved[1], True))
            else:
                out.append(
                    (
                        original,
                        original,
                        (wall.replace(tzinfo=zone) + duration).astimezone(UTC),
                        False,
                    )
                )
        return out

    def attendees(self) -> list[str]:
        return [str(a["emailAddress"]["address"]).lower() for a in self.data.get("attendees", [])]


@dataclass
class Call:
    method: str
    path: str  # decoded, under /v1.0
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Fault:
    status: int
    code: str
    message: str
    headers: dict[str, str]
    method: str | None
    path_contains: str | None
    left: int


class GraphEmulator:
    """Graph for one tenant, one app and one program mailbox (see the module docstring)."""

    def __init__(
        self,
        *,
        mailbox: str = MAILBOX,
        tenant: str = TENANT,
        client_id: str = CLIENT_ID,
        secret: str | None = SECRET,
        instances_page: int = 4,
    ) -> None:
        self.mailbox = mailbox
        self.tenant = tenant
        self.client_id = client_id
        self.secret = secret
        self.instances_page = instances_page
        self.counter = itertools.count(1)
        self.clock = datetime.now(UTC).replace(microsecond=0)
        self.tokens: list[str] = []
        self.valid_tokens: set[str] = set()
        self.token_requests: list[dict[str, str]] = []
        self.discovery_requests = 0
        self.instance_discovery_requests = 0
        self.calls: list[Call] = []
        self.faults: list[_Fault] = []
        inbox = Folder(_opaque("AQMkADAwATNiZmYAZC1", "inbox"), "Inbox", None)
        sent = Folder(_opaque("AQMkADAwATNiZmYAZC1", "sentitems"), "Sent Items", None)
        self.folders: dict[str, Folder] = {inbox.id: inbox, sent.id: sent}
        self.well_known = {"inbox": inbox.id, "sentitems": sent.id}
        self.messages: dict[str, Message] = {}
        self.delta_tokens: dict[str, dict[str, Any]] = {}  # token -> snapshot + filter
        self.skip_tokens: dict[str, dict[str, Any]] = {}  # token -> the rest of a round
        self.sent: list[SentMail] = []
        self.refused: set[str] = set()  # addresses sendMail rejects
        self.events: dict[str, Event] = {}
        self.deleted_events: dict[str, Event] = {}
        self.cancellations: list[tuple[str, str]] = []  # (event or occurrence id, comment)
        self.users: set[str] = {mailbox.lower()}  # addresses in the directory
        self.busy: dict[str, list[tuple[datetime, datetime, str]]] = {}

    # -- set-up and looking inside ---------------------------------------------------------

    def register(self, rsps: responses.RequestsMock) -> None:
        login = re.compile(re.escape(LOGIN) + r"/.*")
        graph = re.compile(r"https://graph\.microsoft\.com/.*")
        rsps.add_callback(responses.GET, login, callback=self._login)
        rsps.add_callback(responses.POST, login, callback=self._login)
        for method in (responses.GET, responses.POST, responses.PATCH, responses.DELETE):
            rsps.add_callback(method, graph, callback=self._graph)

    def next_id(self, prefix: str) -> str:
        return _opaque(prefix, f"{prefix}-{next(self.counter)}")

    def deliver(self, raw: bytes) -> str:
        """Put a message into the inbox; receivedDateTime goes up a second each time."""
        self.clock += timedelta(seconds=1)
        message = Message(
            self.next_id("AAMkAGI2TG93AAA-"),
            self.well_known["inbox"],
            raw,
            self.clock,
            f"<{message_id_of(raw)}>",
        )
        self.messages[message.id] = message
        return message.id

    def folder_named(self, name: str) -> Folder | None:
        return next((f for f in self.folders.values() if f.name.lower() == name.lower()), None)

    def message_ids_in(self, folder: str) -> list[str]:
        """Message-IDs (without <>) in a folder given by well-known or display name."""
        found = self.well_known.get(folder) or getattr(self.folder_named(folder), "id", None)
        messages = sorted(
            (m for m in self.messages.values() if m.folder == found), key=lambda m: m.received
        )
        return [m.internet_id.strip("<>") for m in messages]

    def expire_delta_tokens(self) -> None:
        self.delta_tokens.clear()
        self.skip_tokens.clear()

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        code: str = "",
        message: str = "",
        headers: dict[str, str] | None = None,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        self.faults.append(
            _Fault(status, code, message, headers or {}, method, path_contains, times)
        )

    def revoke_tokens(self) -> None:
        self.valid_tokens.clear()

    def make_busy(self, email: str, spans: Sequence[Span], status: str = "busy") -> None:
        self.users.add(email.lower())
        self.busy.setdefault(email.lower(), []).extend((a, b, status) for a, b in spans)

    def event_for(self, uid: str) -> Event | None:
        for event in self.events.values():
            if any(
                v == uid
                for k, v in event.props.items()
                if k.lower().endswith(" name mentormailuid")
            ):
                return event
        return None

    def stored(self, uid: str) -> StoredSeries | None:
        event = self.event_for(uid)
        if event is None:
            return None
        meetings = tuple(
            sorted(
                (start, end)
                for _, start, end, _ in event.occurrences()
                if start < WINDOW[1] and end > WINDOW[0]
            )
        )
        return StoredSeries(
            cancelled=bool(event.data.get("isCancelled")),
            attendees=frozenset(event.attendees()),
            meetings=meetings,
        )

    def calls_to(self, method: str, contains: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and contains in c.path]

    # -- sign-in ---------------------------------------------------------------------------

    def _login(self, request: Any) -> Reply:
        parts = urlsplit(request.url)
        if (
            request.method == "GET"
            and parts.path == f"/{self.tenant}/v2.0/.well-known/openid-configuration"
        ):
            self.discovery_requests += 1
            return _ok(openid_configuration(self.tenant))
        if request.method == "GET" and parts.path == "/common/discovery/instance":
            self.instance_discovery_requests += 1
            return _ok(instance_metadata())
        if request.method == "GET" and parts.path.endswith(
            "/v2.0/.well-known/openid-configuration"
        ):
            body = {
                "error": "invalid_tenant",
                "error_description": "AADSTS90002: Tenant not found. Check to make sure you "
                "have the correct tenant ID and are signing into the correct cloud.",
                "error_codes": [90002],
            }
            return 400, {"Content-Type": "application/json"}, json.dumps(body)
        if request.method == "POST" and parts.path == f"/{self.tenant}/oauth2/v2.0/token":
            raw = request.body.decode() if isinstance(request.body, bytes) else request.body
            form = {k: v[0] for k, v in parse_qs(raw or "").items()}
            self.token_requests.append(form)
            return self._token(form)
        return 404, {"Content-Type": "text/plain"}, "not found"

    def _token(self, form: dict[str, str]) -> Reply:
        def refuse(code: int, error: str, text: str) -> Reply:
            body = {
                "error": error,
                "error_description": f"AADSTS{code}: {text}\r\nTrace ID: 5b1c2d3e\r\n"
                "Correlation ID: 9f8e7d6c\r\nTimestamp: 2027-02-01 09:00:00Z",
                "error_codes": [code],
                "timestamp": "2027-02-01 09:00:00Z",
                "trace_id": "5b1c2d3e",
                "correlation_id": "9f8e7d6c",
            }
            return (
                401 if error == "invalid_client" else 400,
                {"Content-Type": "application/json"},
                json.dumps(body),
            )

        if form.get("grant_type") != "client_credentials":
            return refuse(
                70003, "unsupported_grant_type", "The app requested an unsupported grant type."
            )
        if form.get("client_id") != self.client_id:
            return refuse(
                700016,
                "unauthorized_client",
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if form.get("scope") != "https://graph.microsoft.com/.default":
            return refuse(1002012, "invalid_scope", "The provided value for scope is not valid.")
        if "client_assertion" in form:
            header = json.loads(
                base64.urlsafe_b64decode(form["client_assertion"].split(".")[0] + "==")
            )
            if "x5t" not in header and "x5t#S256" not in header:
                return refuse(
                    700027, "invalid_client", "Client assertion contains an invalid signature."
                )
        elif form.get("client_secret") != self.secret:
            return refuse(
                7000215,
                "invalid_client",
                f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{self.client_id}'.",
            )
        token = (
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
            + base64.urlsafe_b64encode(f"token-{next(self.counter)}".encode()).decode().rstrip("=")
            + ".c2lnbmF0dXJl"
        )
        self.tokens.append(token)
        self.valid_tokens.add(token)
        return _ok(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        )

    # -- Graph dispatch --------------------------------------------------------------------

    def _graph(self, request: Any) -> Reply:
        parts = urlsplit(request.url)
        path = unquote(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else bytes(body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        call = Call(request.method, path.removeprefix("/v1.0"), query, headers, body)
        self.calls.append(call)
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
                **{"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
            )
        for fault in self.faults:
            if (
                fault.left > 0
                and (fault.method in (None, call.method))
                and (fault.path_contains is None or fault.path_contains in call.path)
            ):
                fault.left -= 1
                return graph_error(fault.status, fault.code, fault.message, **fault.headers)
        if not path.startswith("/v1.0/users/"):
            return graph_error(400, "BadRequest", "Resource not found for the segment.")
        user, _, rest = path.removeprefix("/v1.0/users/").partition("/")
        if user.lower() != self.mailbox.lower():
            return graph_error(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        rest = "/" + re.sub(r"mailFolders\('([^']+)'\)", r"mailFolders/\1", rest, flags=re.I)
        try:
            return self._route(call, rest, query, headers, body)
        except _Refusal as refusal:
            return refusal.reply

    def _route(
        self, call: Call, rest: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        method = call.method
        routes: list[tuple[str, str, Callable[..., Reply]]] = [
            ("GET", r"/mailFolders/(?P<folder>[^/]+)/messages/delta", self._delta),
            ("GET", r"/mailFolders/(?P<folder>[^/]+)/childFolders", self._child_folders),
            ("POST", r"/mailFolders/(?P<folder>[^/]+)/childFolders", self._create_folder),
            ("GET", r"/mailFolders/(?P<folder>[^/]+)/messages", self._folder_messages),
            ("GET", r"/mailFolders/(?P<folder>[^/]+)", self._folder),
            ("GET", r"/messages/(?P<id>[^/]+)/\$value", self._mime),
            ("POST", r"/messages/(?P<id>[^/]+)/move", self._move),
            ("POST", r"/sendMail", self._send_mail),
            ("GET", r"/events", self._list_events),
            ("POST", r"/events", self._create_event),
            ("PATCH", r"/events/(?P<id>[^/]+)", self._patch_event),
            ("POST", r"/events/(?P<id>[^/]+)/cancel", self._cancel_event),
            ("GET", r"/events/(?P<id>[^/]+)/instances", self._instances),
            ("GET", r"/calendarView", self._calendar_view),
            ("GET", r"/calendar", self._calendar),
            ("POST", r"/calendar/getSchedule", self._get_schedule),
        ]
        for verb, pattern, handler in routes:
            found = re.fullmatch(pattern, rest, flags=re.I)
            if verb == method and found:
                return handler(query=query, headers=headers, body=body, **found.groupdict())
        return graph_error(400, "BadRequest", f"Resource not found for the segment '{rest}'.")

    # -- mail ------------------------------------------------------------------------------

    def _folder_id(self, name: str) -> str:
        folder = self.well_known.get(name.lower(), name)
        if folder not in self.folders:
            raise _Refusal(
                graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            )
        return folder

    def _message_json(self, message: Message, select: str | None) -> dict[str, Any]:
        full = {
            "@odata.etag": f'W/"CQAAABYAAAD{message.id[-10:]}"',
            "id": message.id,
            "receivedDateTime": _offset(message.received),
            "internetMessageId": message.internet_id,
            "parentFolderId": message.folder,
            "subject": str(
                message_from_bytes(message.mime, policy=policy.default)["Subject"] or ""
            ),
        }
        if select:
            keep = {"id", "@odata.etag", *select.split(",")}
            full = {k: v for k, v in full.items() if k in keep}
        return full

    def _delta(
        self, *, query: dict[str, str], headers: dict[str, str], folder: str, **_: Any
    ) -> Reply:
        folder_id = self._folder_id(folder)
        prefer = headers.get("prefer", "")
        size = int(m.group(1)) if (m := re.search(r"odata\.maxpagesize=(\d+)", prefer)) else 10
        if "$skiptoken" in query:
            state = self.skip_tokens.pop(query["$skiptoken"], None)
            if state is None:
                return graph_error(
                    410,
                    "SyncStateNotFound",
                    "The sync state generation is not found; generation=3;[highest=5][5][4].",
                )
            return self._delta_page(folder_id, state, size)
        if "$deltatoken" in query:
            previous = self.delta_tokens.get(query["$deltatoken"])
            if previous is None:
                return graph_error(
                    410,
                    "SyncStateNotFound",
                    "The sync state generation is not found; generation=7;[highest=9][9][8].",
                )
            select, since = previous["select"], previous["since"]
            known: set[str] = previous["ids"]
        else:
            select = query.get("$select")
            since = None
            if "$filter" in query:
                found = re.fullmatch(r"receivedDateTime ge (\S+)", query["$filter"])
                if not found:
                    return graph_error(
                        400,
                        "ErrorInvalidUrlQueryFilter",
                        "The query filter contains one or more invalid nodes.",
                    )
                since = datetime.fromisoformat(found.group(1))
            known = set()
        current = [
            m
            for m in self.messages.values()
            if m.folder == folder_id and (since is None or m.received >= since)
        ]
        ids = {m.id for m in current}
        # Exchange returns a round in no documented order: newest first here
        entries: list[dict[str, Any]] = [
            {"@odata.type": "#microsoft.graph.message", **self._message_json(m, select)}
            for m in sorted(current, key=lambda m: m.received, reverse=True)
            if m.id not in known
        ]
        entries += [
            {
                "@odata.type": "#microsoft.graph.message",
                "id": gone,
                "@removed": {"reason": "deleted"},
            }
            for gone in sorted(known - ids)
        ]
        state = {"entries": entries, "ids": ids, "select": select, "since": since}
        return self._delta_page(folder_id, state, size)

    def _delta_page(self, folder_id: str, state: dict[str, Any], size: int) -> Reply:
        page, rest = state["entries"][:size], state["entries"][size:]
        link = f"{GRAPH}/users/{self.mailbox}/mailFolders('{folder_id}')/messages/delta"
        body: dict[str, Any] = {
            "@odata.context": f"{GRAPH}/$metadata#Collection(message)",
            "value": page,
        }
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode().rstrip("=")
        if rest:
            self.skip_tokens[token] = {**state, "entries": rest}
            body["@odata.nextLink"] = f"{link}?$skiptoken={token}"
        else:
            self.delta_tokens[token] = {
                "ids": state["ids"],
                "select": state["select"],
                "since": state["since"],
            }
            body["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
        return _ok(body)

    def _folder(self, *, folder: str, **_: Any) -> Reply:
        found = self.folders[self._folder_id(folder)]
        count = sum(1 for m in self.messages.values() if m.folder == found.id)
        return _ok(self._folder_json(found) | {"totalItemCount": count})

    def _folder_json(self, folder: Folder) -> dict[str, Any]:
        return {
            "id": folder.id,
            "displayName": folder.name,
            "parentFolderId": folder.parent,
            "childFolderCount": 0,
            "unreadItemCount": 0,
            "totalItemCount": 0,
            "isHidden": False,
        }

    def _child_folders(self, *, folder: str, query: dict[str, str], **_: Any) -> Reply:
        parent = self._folder_id(folder)
        children = [f for f in self.folders.values() if f.parent == parent]
        if "$filter" in query:
            found = re.fullmatch(r"displayName eq '((?:[^']|'')*)'", query["$filter"])
            if not found:
                return graph_error(
                    400,
                    "ErrorInvalidUrlQueryFilter",
                    "The query filter contains one or more invalid nodes.",
                )
            name = found.group(1).replace("''", "'")
            children = [f for f in children if f.name.lower() == name.lower()]
        return _ok({"value": [self._folder_json(f) for f in children]})

    def _create_folder(self, *, folder: str, body: bytes, **_: Any) -> Reply:
        parent = self._folder_id(folder)
        name = json.loads(body)["displayName"]
        if any(
            f.parent == parent and f.name.lower() == name.lower() for f in self.folders.values()
        ):
            return graph_error(
                409, "ErrorFolderExists", "A folder with the specified name already exists."
            )
        created = Folder(self.next_id("AAMkAGI2Rm9sZGVy"), name, parent)
        self.folders[created.id] = created
        return _ok(self._folder_json(created), 201)

    def _message(self, message_id: str) -> Message:
        if message_id not in self.messages:
            raise _Refusal(
                graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            )
        return self.messages[message_id]

    def _mime(self, *, id: str, **_: Any) -> Reply:
        return 200, {"Content-Type": "text/plain"}, self._message(id).mime

    def _move(self, *, id: str, body: bytes, **_: Any) -> Reply:
        message = self._message(id)
        target = self._folder_id(json.loads(body)["destinationId"])
        del self.messages[id]
        message.id, message.folder = self.next_id("AAMkAGI2TW92ZWQ-"), target
        self.messages[message.id] = message
        return _ok(self._message_json(message, None), 201)

    def _send_mail(self, *, headers: dict[str, str], body: bytes, **_: Any) -> Reply:
        if not headers.get("content-type", "").startswith("text/plain"):
            return graph_error(400, "ErrorInvalidRequest", "Cannot read the request body.")
        try:
            mime = base64.b64decode(body, validate=True)
        except ValueError:
            return graph_error(
                400,
                "ErrorMimeContentInvalidBase64String",
                "Invalid base64 string for MIME content.",
            )
        parsed = message_from_bytes(mime, policy=policy.default)
        fields = [str(v) for key in ("To", "Cc", "Bcc") for v in parsed.get_all(key, [])]
        recipients = [a.lower() for _, a in getaddresses(fields) if a]
        if not recipients:
            return graph_error(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
            )
        for address in recipients:
            if address in self.refused:
                return graph_error(
                    400,
                    "ErrorInvalidRecipients",
                    f"At least one recipient isn't valid., Recipient '{address}' is not resolved. All recipients must be resolved before a message can be submitted.",
                )
        internet_id = str(parsed["Message-ID"] or f"<{uuid.uuid4().hex}@example.org>").strip()
        self.clock += timedelta(seconds=1)
        copy = Message(
            self.next_id("AAMkAGI2U2VudA-"),
            self.well_known["sentitems"],
            mime,
            self.clock,
            internet_id,
        )
        self.messages[copy.id] = copy
        self.sent.append(SentMail(internet_id.strip("<>"), frozenset(recipients)))
        return 202, {}, ""

    def _folder_messages(self, *, folder: str, query: dict[str, str], **_: Any) -> Reply:
        folder_id = self._folder_id(folder)
        found = [m for m in self.messages.values() if m.folder == folder_id]
        if "$filter" in query:
            match = re.fullmatch(r"internetMessageId eq '((?:[^']|'')*)'", query["$filter"])
            if not match:
                return graph_error(
                    400,
                    "ErrorInvalidUrlQueryFilter",
                    "The query filter contains one or more invalid nodes.",
                )
            wanted = match.group(1).replace("''", "'")
            found = [m for m in found if m.internet_id == wanted]
        top = int(query.get("$top", "10"))
        return _ok({"value": [self._message_json(m, query.get("$select")) for m in found[:top]]})

    # -- calendar --------------------------------------------------------------------------

    def _event(self, event_id: str) -> Event:
        if event_id not in self.events:
            raise _Refusal(
                graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            )
        return self.events[event_id]

    def _occurrence_id(self, event: Event, original: datetime) -> str:
        raw = f"{event.id}|{_offset(original)}".encode()
        return "AAMkAGI2T2NjAFE" + base64.urlsafe_b64encode(raw).decode()

    def _occurrence(self, occurrence_id: str) -> tuple[Event, datetime] | None:
        if not occurrence_id.startswith("AAMkAGI2T2NjAFE"):
            return None
        raw = base64.urlsafe_b64decode(occurrence_id.removeprefix("AAMkAGI2T2NjAFE")).decode()
        event_id, original = raw.split("|")
        event = self._event(event_id)
        moment = datetime.fromisoformat(original)
        if moment in event.cancelled or not any(o == moment for o, *_ in event.occurrences()):
            raise _Refusal(
                graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            )
        return event, moment

    def _event_json(
        self, event: Event, select: str | None = None, expand: str | None = None
    ) -> dict[str, Any]:
        data = dict(event.data)
        full: dict[str, Any] = {
            "@odata.etag": f'W/"DwAAABYAAAD{event.id[-10:]}"',
            "id": event.id,
            "iCalUId": "040000008200E00074C5B7101A82E008"
            + hashlib.md5(event.id.encode()).hexdigest().upper(),
            "type": "seriesMaster" if data.get("recurrence") else "singleInstance",
            "isOrganizer": True,
            "isCancelled": False,
            "organizer": {"emailAddress": {"name": "Mentoring", "address": self.mailbox}},
            **data,
        }
        if data.get("isOnlineMeeting"):
            full["onlineMeeting"] = {
                "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{event.id[-12:]}%40thread.v2/0"
            }
        full.pop("singleValueExtendedProperties", None)
        if select:
            keep = {"id", "@odata.etag", *select.split(",")}
            full = {k: v for k, v in full.items() if k in keep}
        if expand:
            found = re.fullmatch(
                r"singleValueExtendedProperties\(\$filter=id eq '([^']*)'\)", expand
            )
            if not found:
                raise _Refusal(
                    graph_error(400, "BadRequest", "Parsing OData Select and Expand failed.")
                )
            wanted = found.group(1).lower()
            full["singleValueExtendedProperties"] = [
                {"id": k, "value": v} for k, v in event.props.items() if k.lower() == wanted
            ]
        return full

    def _validate_event(self, data: dict[str, Any]) -> None:
        for key in ("start", "end"):
            if key in data:
                zone = data[key].get("timeZone", "")
                try:
                    _zone(zone)
                except ValueError:
                    raise _Refusal(
                        graph_error(
                            400,
                            "TimeZoneNotSupportedException",
                            f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{zone}'.",
                        )
                    ) from None
        recurrence = data.get("recurrence")
        if recurrence:
            pattern, span = recurrence.get("pattern", {}), recurrence.get("range", {})
            if pattern.get("type") != "weekly" or not pattern.get("daysOfWeek"):
                raise _Refusal(
                    graph_error(
                        400, "ErrorInvalidRecurrence", "The recurrence pattern is not valid."
                    )
                )
            if span.get("type") != "endDate" or span.get("endDate", "") < span.get(
                "startDate", "~"
            ):
                raise _Refusal(
                    graph_error(400, "ErrorInvalidRecurrence", "The recurrence range is not valid.")
                )

    def _create_event(self, *, body: bytes, **_: Any) -> Reply:
        data = json.loads(body)
        self._validate_event(data)
        transaction = data.get("transactionId")
        if transaction:
            for event in self.events.values():
                if event.data.get("transactionId") == transaction:
                    return _ok(self._event_json(event), 201)
        event = Event(self.next_id("AAMkAGI2RXZlbnQ"), data)
        for prop in data.get("singleValueExtendedProperties", []):
            event.props[prop["id"]] = prop["value"]
        self.events[event.id] = event
        return _ok(self._event_json(event), 201)

    def _list_events(self, *, query: dict[str, str], **_: Any) -> Reply:
        events = list(self.events.values())
        if "$filter" in query:
            found = re.fullmatch(
                r"singleValueExtendedProperties/Any\(ep: ep/id eq '(?P<id>[^']*)' and "
                r"(?:ep/value eq '(?P<eq>(?:[^']|'')*)'|startswith\(ep/value, '(?P<sw>(?:[^']|'')*)'\))\)",
                query["$filter"],
            )
            if not found:
                return graph_error(
                    400,
                    "ErrorInvalidUrlQueryFilter",
                    "The query filter contains one or more invalid nodes.",
                )
            prop = found.group("id")
            if found.group("eq") is not None:
                wanted = found.group("eq").replace("''", "'").lower()
                events = [e for e in events if e.props.get(prop, "\0").lower() == wanted]
            else:
                prefix = found.group("sw").replace("''", "'").lower()
                events = [e for e in events if e.props.get(prop, "\0").lower().startswith(prefix)]
        return _ok(
            {
                "value": [
                    self._event_json(e, query.get("$select"), query.get("$expand")) for e in events
                ]
            }
        )

    def _patch_event(self, *, id: str, body: bytes, **_: Any) -> Reply:
        data = json.loads(body)
        self._validate_event(data)
        occurrence = self._occurrence(id)
        if occurrence is not None:
            event, original = occurrence
            start, end = _local(data["start"]).astimezone(UTC), _local(data["end"]).astimezone(UTC)
            duration = _local(event.data["end"]) - _local(event.data["start"])
            if (start, end) == (original, original + duration):
                event.exceptions.pop(original, None)
            else:
                event.exceptions[original] = (start, end)
            return _ok(
                self._instance_json(event, original, start, end, original in event.exceptions, UTC)
            )
        event = self._event(id)
        before = {k: event.data.get(k) for k in ("start", "end", "recurrence")}
        for key, value in data.items():
            if key == "singleValueExtendedProperties":
                for prop in value:
                    event.props[prop["id"]] = prop["value"]
            elif key != "transactionId":
                event.data[key] = value
        if any(event.data.get(k) != v for k, v in before.items()):
            event.exceptions.clear()  # Exchange drops exceptions when the pattern changes
            event.cancelled.clear()
        return _ok(self._event_json(event))

    def _cancel_event(self, *, id: str, body: bytes, **_: Any) -> Reply:
        comment = json.loads(body or b"{}").get("comment", "")
        occurrence = self._occurrence(id)
        if occurrence is not None:
            event, original = occurrence
            event.cancelled.add(original)
            event.exceptions.pop(original, None)
        else:
            self.deleted_events[id] = self.events.pop(self._event(id).id)
        self.cancellations.append((id, comment))
        return 202, {}, ""

    def _instance_json(
        self,
        event: Event,
        original: datetime,
        start: datetime,
        end: datetime,
        exception: bool,
        zone: tzinfo,
    ) -> dict[str, Any]:
        return {
            "@odata.etag": f'W/"DwAAABYAAAD{event.id[-6:]}"',
            "id": self._occurrence_id(event, original),
            "subject": event.data.get("subject", ""),
            "originalStart": _offset(original),
            "type": "exception" if exception else "occurrence",
            "seriesMasterId": event.id,
            "isCancelled": False,
            "start": _out(start, zone),
            "end": _out(end, zone),
        }

    def _window(self, query: dict[str, str]) -> tuple[datetime, datetime]:
        try:
            return (
                datetime.fromisoformat(query["startDateTime"]).astimezone(UTC),
                datetime.fromisoformat(query["endDateTime"]).astimezone(UTC),
            )
        except (KeyError, ValueError):
            raise _Refusal(
                graph_error(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
                )
            ) from None

    @staticmethod
    def _response_zone(headers: dict[str, str]) -> tzinfo:
        found = re.search(r'outlook\.timezone="([^"]+)"', headers.get("prefer", ""))
        return _zone(found.group(1)) if found else UTC

    def _paged(self, items: list[dict[str, Any]], query: dict[str, str], path: str) -> Reply:
        top = min(int(query.get("$top", "10")), self.instances_page)
        skip = int(query.get("$skip", "0"))
        body: dict[str, Any] = {"value": items[skip : skip + top]}
        if skip + top < len(items):
            rest = {k: v for k, v in query.items() if k not in ("$skip", "$top")}
            rest |= {"$top": str(top), "$skip": str(skip + top)}
            tail = "&".join(f"{k}={v}" for k, v in rest.items())
            body["@odata.nextLink"] = f"{GRAPH}/users/{self.mailbox}{path}?{tail}"
        return _ok(body)

    def _instances(
        self, *, id: str, query: dict[str, str], headers: dict[str, str], **_: Any
    ) -> Reply:
        event = self._event(id)
        low, high = self._window(query)
        zone = self._response_zone(headers)
        items = [
            self._instance_json(event, original, start, end, exception, zone)
            for original, start, end, exception in sorted(event.occurrences(), key=lambda o: o[1])
            if start < high and end > low
        ]
        return self._paged(items, query, f"/events/{id}/instances")

    def _calendar_view(self, *, query: dict[str, str], headers: dict[str, str], **_: Any) -> Reply:
        low, high = self._window(query)
        zone = self._response_zone(headers)
        items = []
        for event in self.events.values():
            for original, start, end, exception in event.occurrences():
                if start < high and end > low:
                    if event.data.get("recurrence"):
                        items.append(
                            self._instance_json(event, original, start, end, exception, zone)
                        )
                    else:
                        items.append(
                            {
                                "id": event.id,
                                "type": "singleInstance",
                                "start": _out(start, zone),
                                "end": _out(end, zone),
                            }
                        )
        items.sort(key=lambda i: i["start"]["dateTime"])
        return self._paged(items, query, "/calendarView")

    def _calendar(self, **_: Any) -> Reply:
        return _ok(
            {
                "id": _opaque("AAMkAGI2Q2FsZW5kYXI", "calendar"),
                "name": "Calendar",
                "canEdit": True,
                "canShare": True,
                "owner": {"name": "Mentoring", "address": self.mailbox},
            }
        )

    def _get_schedule(self, *, headers: dict[str, str], body: bytes, **_: Any) -> Reply:
        data = json.loads(body)
        schedules = data["schedules"]
        if len(schedules) > 20:
            return graph_error(
                400,
                "ErrorMailboxDataArrayTooBig",
                f"There are too many target users in the EmailAddress array. The allowed size = 20; the actual size = {len(schedules)}.",
            )
        low, high = (
            _local(data["startTime"]).astimezone(UTC),
            _local(data["endTime"]).astimezone(UTC),
        )
        if high - low > timedelta(days=62):
            return graph_error(
                400,
                "ErrorInvalidTimeInterval",
                "The time interval is not valid: it must be at most 62 days.",
            )
        interval = timedelta(minutes=int(data.get("availabilityViewInterval", 30)))
        zone = self._response_zone(headers)
        out = []
        for address in schedules:
            key = address.lower()
            if key not in self.users:
                out.append(
                    {
                        "scheduleId": address,
                        "availabilityView": "",
                        "scheduleItems": [],
                        "error": {
                            "message": f"Unable to resolve the e-mail address {address} to an Active Directory object.",
                            "responseCode": "ErrorMailRecipientNotFound",
                        },
                    }
                )
                continue
            items = [(a, b, status, "") for a, b, status in self.busy.get(key, [])]
            for event in self.events.values():
                if key in event.attendees():
                    items += [
                        (a, b, "tentative", event.data.get("subject", ""))
                        for _, a, b, _ in event.occurrences()
                    ]
            items = [i for i in items if i[0] < high and i[1] > low]
            view = ""
            slot = low
            codes = {"tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
            while slot < high:
                here = [codes[s] for a, b, s, _ in items if a < slot + interval and b > slot]
                view += max(here, default="0")
                slot += interval
            out.append(
                {
                    "scheduleId": address,
                    "availabilityView": view,
                    "scheduleItems": [
                        {
                            "isPrivate": False,
                            "status": status,
                            "subject": subject,
                            "location": "",
                            "start": _out(a, zone),
                            "end": _out(b, zone),
                        }
                        for a, b, status, subject in sorted(items)
                    ],
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": "W. Europe Standard Time"},
                    },
                }
            )
        return _ok(
            {
                "@odata.context": f"{GRAPH}/$metadata#Collection(microsoft.graph.scheduleInformation)",
                "value": out,
            }
        )


class _Refusal(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply[0])
        self.reply = reply


# --- harnesses for the shared contract ----------------------------------------------------


def graph_section(kind: str, **extra: Any) -> dict[str, Any]:
    """A `mail:` or `calendar:` section for the emulated tenant."""
    return {
        "type": "graph",
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret_env": SECRET_ENV,
        "mailbox": MAILBOX,
        **({"since": "2020-01-01"} if kind == "mail" else {}),
        **extra,
    }


def graph_config(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    mail: dict[str, Any] | None = None,
    calendar: dict[str, Any] | None = None,
) -> Config:
    """A program config (two participants, one pair) using the emulated tenant."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    mail = mail or graph_section("mail")
    calendar = calendar or graph_section("calendar")
    text = textwrap.dedent(
        f"""\
        program:
          name: Spring 2027 Mentoring
          timezone: Europe/Berlin
          start: 2027-03-01
          end: 2027-06-30
          sender: {{name: Mentoring Program, email: {MAILBOX}}}
          coordinator: {{name: Chris Coordinator, email: coordinator@example.org}}
        cadence:
          meetings: {{every: 2w, duration: 45m}}
        participants:
          - {{id: ana, name: Ana Alvarez, email: ana@example.org, role: mentor, timezone: America/New_York, hours: "09:00-17:00"}}
          - {{id: bo, name: Bo Chen, email: bo@example.net, role: mentee, timezone: Europe/Berlin, hours: "08:00-18:00"}}
        pairs:
          - {{id: ana-bo, mentor: ana, mentee: bo}}
        mail: {json.dumps(mail)}
        calendar: {json.dumps(calendar)}
        storage: {{path: ./state.json}}
        """
    )
    path = tmp_path / "program.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@dataclass
class GraphMailHarness:
    mailbox: Any  # connectors.graph.GraphMailbox
    api: GraphEmulator

    def deliver(self, raw: bytes) -> None:
        self.api.deliver(raw)

    def inbox(self) -> list[str]:
        return self.api.message_ids_in("inbox")

    def handled(self, outcome: Outcome) -> list[str]:
        options = self.mailbox.options
        name = options.processed_folder if outcome == "processed" else options.quarantine_folder
        return self.api.message_ids_in(name)

    def sent(self) -> list[SentMail]:
        return list(self.api.sent)


@dataclass
class GraphCalendarHarness:
    calendar: Any  # connectors.graph.GraphCalendar
    api: GraphEmulator

    def stored(self, uid: str) -> StoredSeries | None:
        return self.api.stored(uid)

    def make_busy(self, email: str, spans: Sequence[Span]) -> bool:
        self.api.make_busy(email, spans)
        return True


@pytest.fixture
def graph_emulator() -> Iterator[GraphEmulator]:
    """The emulated tenant, answering every request to Microsoft's hosts."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        api = GraphEmulator()
        api.register(rsps)
        yield api


@pytest.fixture
def graph_mail_harness(
    graph_emulator: GraphEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphMailHarness]:
    from connectors.graph import GraphMailbox

    cfg = graph_config(tmp_path, monkeypatch)
    mailbox = GraphMailbox(
        GraphMailbox.Options.model_validate(cfg.mail.options), cfg, sleep=_no_sleep
    )
    yield GraphMailHarness(mailbox, graph_emulator)
    mailbox.close()


@pytest.fixture
def graph_calendar_harness(
    graph_emulator: GraphEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphCalendarHarness]:
    from connectors.graph import GraphCalendar

    cfg = graph_config(tmp_path, monkeypatch)
    calendar = GraphCalendar(
        GraphCalendar.Options.model_validate(cfg.calendar.options), cfg, sleep=_no_sleep
    )
    yield GraphCalendarHarness(calendar, graph_emulator)
    calendar.close()


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the contract run should not need to wait ({seconds} s)")
