"""The Microsoft Graph connectors (connectors.graph*) at the HTTP layer, without a network.

Two kinds of tests:

- Exact requests: `responses` with realistic Graph JSON, asserting method, URL, query,
  headers and body of what the connector sends (sign-in, delta pages, MIME send,
  getSchedule, event create/update, single meetings).
- Behaviour: the stateful emulator in tests/graph_api.py (delta rounds, moves, events
  with recurrence and instances, throttling and token faults).
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
import pytest
import responses
from responses import matchers

from agent.meetings.ics import series_ics
from agent.meetings.slots import SeriesSlot
from connectors.base import ConnectorError, DeliveryRefused
from connectors.graph import GraphCalendar, GraphMailbox
from connectors.graph_calendar import HASH_PROPERTY, UID_PROPERTY, transaction_id
from connectors.graph_http import graph_time, windows_zone
from tests.graph_api import (
    CLIENT_ID,
    GRAPH,
    LOGIN,
    MAILBOX,
    SECRET,
    SECRET_ENV,
    TENANT,
    GraphEmulator,
    graph_config,
    graph_section,
    openid_configuration,
)

ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")
USER = f"{GRAPH}/users/{MAILBOX}"
TOKEN_URL = f"{LOGIN}/{TENANT}/oauth2/v2.0/token"
DISCOVERY_URL = f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2ln"
MENTOR = ("Ana Alvarez", "ana@example.org")
MENTEE = ("Bo Chen", "bo@example.net")
STAMP = datetime(2027, 2, 1, 9, tzinfo=UTC)


# --- helpers ------------------------------------------------------------------------------


@dataclass
class Factory:
    """Builds connectors on the emulated tenant's config; records the waits they ask for."""

    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    sleeps: list[float] = field(default_factory=list)

    def mailbox(self, **extra: Any) -> GraphMailbox:
        cfg = graph_config(self.tmp_path, self.monkeypatch, mail=graph_section("mail", **extra))
        options = GraphMailbox.Options.model_validate(cfg.mail.options)
        return GraphMailbox(options, cfg, sleep=self.sleeps.append)

    def calendar(self, **extra: Any) -> GraphCalendar:
        cfg = graph_config(
            self.tmp_path, self.monkeypatch, calendar=graph_section("calendar", **extra)
        )
        options = GraphCalendar.Options.model_validate(cfg.calendar.options)
        return GraphCalendar(options, cfg, sleep=self.sleeps.append)


@pytest.fixture
def make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Factory:
    return Factory(tmp_path, monkeypatch)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Exact expectations: an unexpected request fails, an expected one must happen."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def api() -> Iterator[GraphEmulator]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        emulator = GraphEmulator()
        emulator.register(mock)
        yield emulator


def sign_in(rsps: responses.RequestsMock, *tokens: str) -> None:
    """The tenant discovery and one token answer per token (in order)."""
    rsps.get(DISCOVERY_URL, json=openid_configuration(TENANT))
    for token in tokens or (TOKEN,):
        rsps.post(
            TOKEN_URL,
            json={
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            },
        )


def bearer(token: str = TOKEN) -> Any:
    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


def form(call: Any) -> dict[str, str]:
    from urllib.parse import parse_qs

    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else body
    return {k: v[0] for k, v in parse_qs(text).items()}


def incoming(subject: str, n: int) -> bytes:
    message = EmailMessage()
    message["From"] = MENTEE[1]
    message["To"] = MAILBOX
    message["Subject"] = subject
    message["Message-ID"] = f"<reply-{n}@example.net>"
    message.set_content(f"{subject}\n")
    return bytes(message)


def outgoing(*to: str, mid: str = "mm.1@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Mentoring Program <{MAILBOX}>"
    message["To"] = ", ".join(to)
    message["Subject"] = "Welcome to the program"
    message["Message-ID"] = f"<{mid}>"
    message.set_content("Hello Ana,\n\nwelcome.\n")
    return message


def slot(hour: int = 15) -> SeriesSlot:
    """Fortnightly Tuesdays from 2 March 2027 in Berlin (across the 28 March DST change)."""
    return SeriesSlot(
        tz=BERLIN,
        first_start=datetime(2027, 3, 2, hour, 0, tzinfo=BERLIN),
        duration=timedelta(minutes=45),
        interval_weeks=2,
        until=datetime(2027, 5, 31, 21, 59, tzinfo=UTC),
    )


def ics(
    uid: str,
    *,
    sequence: int = 0,
    hour: int = 15,
    skipped: tuple[datetime, ...] = (),
    moved: tuple[tuple[datetime, datetime], ...] = (),
    cancel: bool = False,
) -> bytes:
    return series_ics(
        method="CANCEL" if cancel else "REQUEST",
        uid=uid,
        sequence=sequence,
        slot=slot(hour),
        summary="Mentoring: Ana & Bo",
        description="Your regular mentoring meeting.",
        video_link="https://meet.example.org/p1",
        organizer=("Mentoring Program", MAILBOX),
        attendees=[MENTOR, MENTEE],
        dtstamp=STAMP,
        skipped=skipped,
        moved=moved,
    )


def starts(hour: int = 15) -> list[datetime]:
    return slot(hour).occurrences()


UID = "mentormail-spring-2027-ana-bo@example.org"


# --- module, options, time zones ----------------------------------------------------------


def test_importing_the_module_loads_neither_msal_nor_requests() -> None:
    code = (
        "import sys, connectors.graph as g\n"
        "g.GraphMailbox.Options.model_json_schema(); g.GraphCalendar.Options.model_json_schema()\n"
        "print(sorted(m for m in ('msal', 'requests', 'urllib3') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({}, "set client_secret_env"),
        ({"client_secret_env": "A", "client_secret_file": "b.txt"}, "only one of"),
        ({"certificate_file": "app.pem"}, "go together"),
        ({"certificate_file": "app.pem", "certificate_thumbprint": "xyz"}, "40 hex digits"),
        ({"client_secret_env": "A", "client_secret": "hunter2"}, "Extra inputs"),
    ],
)
def test_options_need_exactly_one_credential(extra: dict[str, str], problem: str) -> None:
    base = {"tenant_id": TENANT, "client_id": CLIENT_ID, "mailbox": MAILBOX}
    with pytest.raises(pydantic.ValidationError, match=problem):
        GraphMailbox.Options.model_validate(base | extra)


def test_options_defaults() -> None:
    base = {"tenant_id": TENANT, "client_id": CLIENT_ID, "mailbox": MAILBOX}
    mail = GraphMailbox.Options.model_validate(base | {"client_secret_env": "S"})
    assert (mail.processed_folder, mail.quarantine_folder) == (
        "mentormail-processed",
        "mentormail-quarantine",
    )
    calendar = GraphCalendar.Options.model_validate(base | {"client_secret_env": "S"})
    assert calendar.teams is False
    with pytest.raises(pydantic.ValidationError):
        GraphCalendar.Options.model_validate(base | {"client_secret_env": "S", "folder": "x"})


def test_iana_zones_become_windows_names_and_back() -> None:
    assert windows_zone("Europe/Berlin") == "W. Europe Standard Time"
    assert windows_zone("America/New_York") == "Eastern Standard Time"
    assert windows_zone("Africa/Nairobi") == "E. Africa Standard Time"
    assert windows_zone("UTC") == "UTC"
    assert graph_time(
        {"dateTime": "2027-03-30T15:00:00.0000000", "timeZone": "W. Europe Standard Time"}
    ) == datetime(2027, 3, 30, 13, tzinfo=UTC)
    assert graph_time({"dateTime": "2027-03-02T14:00:00.0000000", "timeZone": "UTC"}) == datetime(
        2027, 3, 2, 14, tzinfo=UTC
    )


# --- sign-in ------------------------------------------------------------------------------


def test_token_from_the_client_secret_in_the_environment(
    rsps: responses.RequestsMock, make: Factory
) -> None:
    sign_in(rsps)
    rsps.get(
        f"{USER}/messages/AAMkAGI2x=/$value",
        body=incoming("Hi", 1),
        content_type="text/plain",
        match=[bearer()],
    )
    rsps.get(
        f"{USER}/messages/AAMkAGI2y=/$value",
        status=404,
        json={
            "error": {
                "code": "ErrorItemNotFound",
                "message": "The specified object was not found in the store.",
            }
        },
        match=[bearer()],
    )
    mailbox = make.mailbox()
    assert mailbox._mime("AAMkAGI2x=") == incoming("Hi", 1)
    assert mailbox._mime("AAMkAGI2y=") is None  # the token is reused, not fetched again
    token_calls = [c for c in rsps.calls if c.request.url == TOKEN_URL]
    assert len(token_calls) == 1
    assert form(token_calls[0]) == {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
        "client_info": "1",  # MSAL asks for it on every token request
    }
    assert [c.request.url for c in rsps.calls][:2] == [DISCOVERY_URL, TOKEN_URL]  # no more


def test_a_refused_secret_is_reported_without_the_secret(
    api: GraphEmulator, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.secret = "the-secret-entra-knows"
    mailbox = make.mailbox()
    with pytest.raises(ConnectorError) as failure:
        mailbox.fetch(None)
    text = str(failure.value)
    assert text.startswith(
        f"Microsoft Graph {MAILBOX}: getting a token for app {CLIENT_ID} refused"
    )
    assert "invalid_client: AADSTS7000215: Invalid client secret provided." in text
    assert "\n" not in text
    assert SECRET not in text and SECRET not in caplog.text
    lines = dict((what, (ok, detail)) for what, ok, detail in mailbox.check())
    assert lines["graph token"][0] is False and SECRET not in lines["graph token"][1]


def test_a_missing_secret_variable_is_reported_at_open(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = graph_config(make.tmp_path, monkeypatch)
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(ConnectorError, match=f"environment variable {SECRET_ENV}"):
        GraphMailbox(GraphMailbox.Options.model_validate(cfg.mail.options), cfg)


def test_an_unknown_tenant_is_reported(api: GraphEmulator, make: Factory) -> None:
    mailbox = make.mailbox(tenant_id="no-such-tenant.example")
    with pytest.raises(
        ConnectorError,
        match=r"signing in to tenant no-such-tenant\.example: .* does not know this tenant",
    ):
        mailbox.was_sent("x@example.org")


def test_certificate_credentials_send_a_signed_assertion(api: GraphEmulator, make: Factory) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mentormail")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2035, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + cert.public_bytes(serialization.Encoding.PEM)
    (make.tmp_path / "app.pem").write_bytes(pem)
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()
    section = graph_section("mail", certificate_file="app.pem", certificate_thumbprint=thumbprint)
    del section["client_secret_env"]
    cfg = graph_config(make.tmp_path, make.monkeypatch, mail=section)
    mailbox = GraphMailbox(GraphMailbox.Options.model_validate(cfg.mail.options), cfg)
    assert mailbox.was_sent("nothing@example.org") is False
    (request,) = api.token_requests
    assert "client_secret" not in request
    assert request["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    header = json.loads(base64.urlsafe_b64decode(request["client_assertion"].split(".")[0] + "=="))
    expected = base64.urlsafe_b64encode(bytes.fromhex(thumbprint)).decode().rstrip("=")
    assert str(header.get("x5t", "")).rstrip("=") == expected


# --- HTTP: retries and token refresh ------------------------------------------------------


def test_429_waits_retry_after_then_succeeds(api: GraphEmulator, make: Factory) -> None:
    api.deliver(incoming("Hello", 1))
    api.fail_next(
        429,
        code="ApplicationThrottled",
        message="Application is over its MailboxConcurrency limit.",
        headers={"Retry-After": "7"},
        path_contains="/messages/delta",
    )
    raws, _ = make.mailbox().fetch(None)
    assert [r.data for r in raws] == [incoming("Hello", 1)]
    assert make.sleeps == [7.0]
    assert len(api.calls_to("GET", "/messages/delta")) == 2


def test_persistent_503_fails_after_bounded_retries(api: GraphEmulator, make: Factory) -> None:
    api.fail_next(
        503, times=10, code="ServiceUnavailable", message="The service is temporarily unavailable."
    )
    mailbox = make.mailbox()
    with pytest.raises(ConnectorError) as failure:
        mailbox.fetch(None)
    assert make.sleeps == [1.0, 2.0, 4.0]
    assert str(failure.value) == (
        f"Microsoft Graph {MAILBOX}: reading the inbox (delta query): 503 ServiceUnavailable: "
        "The service is temporarily unavailable. (gave up after 3 retries)"
    )


def test_a_long_retry_after_fails_at_once(api: GraphEmulator, make: Factory) -> None:
    api.fail_next(429, code="ApplicationThrottled", headers={"Retry-After": "3600"})
    with pytest.raises(ConnectorError, match=r"429 ApplicationThrottled.*Retry-After: 3600"):
        make.mailbox().fetch(None)
    assert make.sleeps == []


def test_401_signs_in_again_once(api: GraphEmulator, make: Factory) -> None:
    mailbox = make.mailbox()
    assert mailbox.was_sent("a@example.org") is False
    api.revoke_tokens()  # the token was revoked before it expired
    assert mailbox.was_sent("b@example.org") is False
    assert len(api.token_requests) == 2
    first, second = api.tokens
    calls = api.calls_to("GET", "/sentitems/messages")
    assert [c.headers["authorization"] for c in calls] == [
        f"Bearer {first}",
        f"Bearer {first}",
        f"Bearer {second}",
    ]
    api.fail_next(401, times=5, code="InvalidAuthenticationToken", message="Access token is empty.")
    with pytest.raises(ConnectorError, match="401 InvalidAuthenticationToken") as failure:
        mailbox.was_sent("c@example.org")
    assert len(api.token_requests) == 3  # one more sign-in, then it gives up
    assert all(t not in str(failure.value) for t in api.tokens)


def test_403_names_what_to_check(api: GraphEmulator, make: Factory) -> None:
    api.fail_next(
        403, code="ErrorAccessDenied", message="Access is denied. Check credentials and try again."
    )
    with pytest.raises(ConnectorError) as failure:
        make.mailbox().fetch(None)
    assert str(failure.value) == (
        f"Microsoft Graph {MAILBOX}: reading the inbox (delta query): 403 ErrorAccessDenied: "
        "Access is denied. Check credentials and try again. (check the app's application "
        "permissions, admin consent, and that its Exchange RBAC scope or application access "
        "policy covers the mailbox)"
    )


def test_links_off_graph_are_not_followed(rsps: responses.RequestsMock, make: Factory) -> None:
    sign_in(rsps)
    rsps.get(
        f"{USER}/mailFolders/inbox/messages/delta",
        json={"value": [], "@odata.nextLink": "https://collector.example/steal?token=1"},
    )
    with pytest.raises(ConnectorError, match="refusing to follow a link off Graph"):
        make.mailbox().fetch(None)


# --- mail: reading ------------------------------------------------------------------------

DELTA_LINK = (
    f"{USER}/mailFolders('AQMkADAwATNiZmYAZC1')/messages/delta?$deltatoken="
    "LztZwWjo5IivWBhyxw5rACKxf7mPm0oW6JZZ7fvKxYPS_67JnEYmfQQMPccy6FRun0DWJF5775dvuXxlZnMYhBubC1v4"
)
NEXT_LINK = (
    f"{USER}/mailFolders('AQMkADAwATNiZmYAZC1')/messages/delta?$skiptoken="
    "GwcBoTmPuoTQWfcsAbkYM1y2c2Lh3r1e8vrGrTf1Bq2mv3kuP4vT9S2B0f"
)


def message_entry(message_id: str, received: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.message",
        "@odata.etag": 'W/"CQAAABYAAAAiIsqMbYjsT5e/T7KzowPTAAAYbvZD"',
        "id": message_id,
        "receivedDateTime": received,
    }


def test_full_sync_follows_next_links_skips_removed_and_sorts_oldest_first(
    rsps: responses.RequestsMock, make: Factory
) -> None:
    sign_in(rsps)
    prefer = matchers.header_matcher({"Prefer": "odata.maxpagesize=50"})
    rsps.get(
        f"{USER}/mailFolders/inbox/messages/delta",
        match=[
            matchers.query_param_matcher(
                {
                    "$select": "id,receivedDateTime",
                    "$filter": "receivedDateTime ge 2020-01-01T00:00:00Z",
                }
            ),
            prefer,
            bearer(),
        ],
        json={
            "@odata.context": f"{GRAPH}/$metadata#Collection(message)",
            "@odata.nextLink": NEXT_LINK,
            "value": [
                message_entry("AAMkAGI2-newer=", "2027-02-01T09:05:00Z"),
                {
                    "@odata.type": "#microsoft.graph.message",
                    "id": "AAMkAGI2-gone=",
                    "@removed": {"reason": "deleted"},
                },
            ],
        },
    )
    rsps.get(
        NEXT_LINK,
        match=[matchers.query_param_matcher({"$skiptoken": NEXT_LINK.split("=", 1)[1]}), prefer],
        json={
            "@odata.context": f"{GRAPH}/$metadata#Collection(message)",
            "@odata.deltaLink": DELTA_LINK,
            "value": [message_entry("AAMkAGI2-older=", "2027-02-01T09:00:00Z")],
        },
    )
    for name, n in (("older", 1), ("newer", 2)):
        rsps.get(
            f"{USER}/messages/AAMkAGI2-{name}=/$value",
            body=incoming(name, n),
            content_type="text/plain",
        )
    raws, cursor = make.mailbox(since="2020-01-01").fetch(None)
    assert [r.ref for r in raws] == ["AAMkAGI2-older=", "AAMkAGI2-newer="]
    assert raws[0].data == incoming("older", 1)
    assert cursor is not None and cursor.startswith("v1:")
    assert json.loads(cursor[3:]) == {
        "delta": DELTA_LINK,
        "pending": ["AAMkAGI2-older=", "AAMkAGI2-newer="],
    }


def test_incremental_fetch_uses_the_delta_link_and_returns_pending_first(
    rsps: responses.RequestsMock, make: Factory
) -> None:
    sign_in(rsps)
    later = DELTA_LINK.replace("LztZ", "MzuA")
    rsps.get(
        DELTA_LINK,
        match=[matchers.query_param_matcher({"$deltatoken": DELTA_LINK.split("=", 1)[1]})],
        json={
            "@odata.deltaLink": later,
            "value": [
                message_entry("AAMkAGI2-new=", "2027-02-02T10:00:00Z"),
                {
                    "@odata.type": "#microsoft.graph.message",
                    "id": "AAMkAGI2-handled=",
                    "@removed": {"reason": "deleted"},
                },
            ],
        },
    )
    rsps.get(f"{USER}/messages/AAMkAGI2-waiting=/$value", body=incoming("waiting", 1))
    rsps.get(
        f"{USER}/messages/AAMkAGI2-elsewhere=/$value",
        status=404,
        json={
            "error": {
                "code": "ErrorItemNotFound",
                "message": "The specified object was not found in the store.",
            }
        },
    )
    rsps.get(f"{USER}/messages/AAMkAGI2-new=/$value", body=incoming("new", 2))
    cursor = "v1:" + json.dumps(
        {
            "delta": DELTA_LINK,
            "pending": ["AAMkAGI2-waiting=", "AAMkAGI2-handled=", "AAMkAGI2-elsewhere="],
        }
    )
    raws, cursor = make.mailbox().fetch(cursor)
    assert [r.ref for r in raws] == ["AAMkAGI2-waiting=", "AAMkAGI2-new="]
    assert json.loads(cursor[3:]) == {
        "delta": later,
        "pending": ["AAMkAGI2-waiting=", "AAMkAGI2-new="],
    }


def test_an_expired_delta_token_reads_the_inbox_again(
    api: GraphEmulator, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox = make.mailbox()
    api.deliver(incoming("first", 1))
    raws, cursor = mailbox.fetch(None)
    mailbox.mark_handled(raws[0].ref, "processed")
    api.deliver(incoming("second", 2))
    api.expire_delta_tokens()
    raws, cursor = mailbox.fetch(cursor)
    assert "delta token is no longer valid (410 SyncStateNotFound" in caplog.text
    assert [r.data for r in raws] == [incoming("second", 2)]
    api.deliver(incoming("third", 3))
    raws, _ = mailbox.fetch(cursor)
    assert [r.data for r in raws] == [incoming("second", 2), incoming("third", 3)]


def test_an_unreadable_cursor_starts_over(
    api: GraphEmulator, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    api.deliver(incoming("first", 1))
    raws, _ = make.mailbox().fetch("v0:17:3:")
    assert len(raws) == 1
    assert "ignoring an unreadable mailbox cursor" in caplog.text


def test_messages_before_since_are_left_alone(api: GraphEmulator, make: Factory) -> None:
    api.deliver(incoming("old", 1))
    raws, _ = make.mailbox(since=(api.clock + timedelta(days=1)).date().isoformat()).fetch(None)
    assert raws == []


def test_delta_pages_follow_the_page_size(api: GraphEmulator, make: Factory) -> None:
    for n in range(5):
        api.deliver(incoming(f"m{n}", n))
    raws, _ = make.mailbox(page_size=2).fetch(None)
    assert [message_from_bytes(r.data, policy=policy.default)["Subject"] for r in raws] == [
        f"m{n}" for n in range(5)
    ]
    assert len(api.calls_to("GET", "/messages/delta")) == 3


def test_a_pending_message_moved_away_by_someone_is_gone(api: GraphEmulator, make: Factory) -> None:
    mailbox = make.mailbox()
    api.deliver(incoming("first", 1))
    raws, cursor = mailbox.fetch(None)
    other = api.folder_named("Sent Items")
    assert other is not None
    moved = api.messages.pop(raws[0].ref)
    moved.id, moved.folder = "AAMkAGI2-elsewhere=", other.id
    api.messages[moved.id] = moved
    raws, _ = mailbox.fetch(cursor)
    assert raws == []


# --- mail: moving -------------------------------------------------------------------------


def test_mark_handled_creates_the_folder_once_and_moves(api: GraphEmulator, make: Factory) -> None:
    mailbox = make.mailbox()
    for n in range(3):
        api.deliver(incoming(f"m{n}", n))
    raws, _ = mailbox.fetch(None)
    for raw in raws:
        mailbox.mark_handled(raw.ref, "processed")
    folder = api.folder_named("mentormail-processed")
    assert folder is not None and folder.parent == api.well_known["inbox"]
    lookups = api.calls_to("GET", "/mailFolders/inbox/childFolders")
    assert [c.query for c in lookups] == [
        {"$filter": "displayName eq 'mentormail-processed'", "$select": "id,displayName"}
    ]
    (create,) = api.calls_to("POST", "/mailFolders/inbox/childFolders")
    assert json.loads(create.body) == {"displayName": "mentormail-processed"}
    moves = api.calls_to("POST", "/move")
    assert [c.path for c in moves] == [f"/users/{MAILBOX}/messages/{r.ref}/move" for r in raws]
    assert {json.loads(c.body)["destinationId"] for c in moves} == {folder.id}
    assert api.message_ids_in("inbox") == []
    mailbox.mark_handled(raws[0].ref, "processed")  # gone already: not an error


def test_an_existing_folder_is_found_by_name(api: GraphEmulator, make: Factory) -> None:
    from tests.graph_api import Folder

    existing = Folder("AAMkAGI2-quarantine=", "MentorMail-Quarantine", api.well_known["inbox"])
    api.folders[existing.id] = existing
    mailbox = make.mailbox(quarantine_folder="mentormail-quarantine")
    api.deliver(incoming("spam", 1))
    raws, _ = mailbox.fetch(None)
    mailbox.mark_handled(raws[0].ref, "quarantine")
    assert api.calls_to("POST", "/childFolders") == []
    assert api.message_ids_in("MentorMail-Quarantine") == ["reply-1@example.net"]


# --- mail: sending ------------------------------------------------------------------------


def test_send_posts_the_mime_as_base64_text(rsps: responses.RequestsMock, make: Factory) -> None:
    sign_in(rsps)
    rsps.post(
        f"{USER}/sendMail",
        status=202,
        match=[
            matchers.header_matcher(
                {"Content-Type": "text/plain", "Authorization": f"Bearer {TOKEN}"}
            )
        ],
    )
    mailbox = make.mailbox()
    mailbox.send(outgoing(f"{MENTOR[0]} <{MENTOR[1]}>"))
    body = rsps.calls[-1].request.body
    mime = base64.b64decode(body, validate=True)
    assert b"\r\n" in mime and b"\n\n" not in mime.replace(b"\r\n", b"")
    parsed = message_from_bytes(mime, policy=policy.default)
    assert parsed["Message-ID"] == "<mm.1@example.org>"
    assert parsed["To"] == f"{MENTOR[0]} <{MENTOR[1]}>"
    assert mailbox.was_sent("mm.1@example.org")  # remembered: Sent Items may lag behind


def test_was_sent_filters_sent_items_by_internet_message_id(
    rsps: responses.RequestsMock, make: Factory
) -> None:
    sign_in(rsps)
    url = f"{USER}/mailFolders/sentitems/messages"
    query = {"$select": "id,internetMessageId", "$top": "1"}
    rsps.get(
        url,
        match=[
            matchers.query_param_matcher(
                query | {"$filter": "internetMessageId eq '<mm.2@example.org>'"}
            )
        ],
        json={"value": [{"id": "AAMkAGI2-sent=", "internetMessageId": "<mm.2@example.org>"}]},
    )
    rsps.get(
        url,
        match=[
            matchers.query_param_matcher(
                query | {"$filter": "internetMessageId eq '<o''brien@example.org>'"}
            )
        ],
        json={"value": []},
    )
    mailbox = make.mailbox()
    assert mailbox.was_sent("<mm.2@example.org>")
    assert not mailbox.was_sent("o'brien@example.org")


def test_send_then_was_sent_through_the_emulator(api: GraphEmulator, make: Factory) -> None:
    mailbox = make.mailbox()
    mailbox.send(outgoing(MENTOR[1], mid="mm.3@example.org"))
    fresh = make.mailbox()  # another process: only Sent Items can tell
    assert fresh.was_sent("mm.3@example.org")
    assert not fresh.was_sent("mm.4@example.org")
    assert api.message_ids_in("sentitems") == ["mm.3@example.org"]


def test_refused_recipients_raise_delivery_refused(api: GraphEmulator, make: Factory) -> None:
    api.refused.add("nobody@example.net")
    with pytest.raises(DeliveryRefused) as refused:
        make.mailbox().send(outgoing(MENTOR[1], "nobody@example.net"))
    assert refused.value.recipients == ("nobody@example.net",)
    assert refused.value.reply.startswith("400 ErrorInvalidRecipients: At least one recipient")
    assert api.sent == []


def test_a_504_to_send_mail_is_not_retried(api: GraphEmulator, make: Factory) -> None:
    api.fail_next(504, code="GatewayTimeout", path_contains="/sendMail")
    with pytest.raises(ConnectorError, match="may have been sent"):
        make.mailbox().send(outgoing(MENTOR[1]))
    assert make.sleeps == []
    assert len(api.calls_to("POST", "/sendMail")) == 1


def test_mail_check_reports_every_step(api: GraphEmulator, make: Factory) -> None:
    lines = make.mailbox().check()
    assert [(what, ok) for what, ok, _ in lines] == [
        ("graph token", True),
        ("graph inbox", True),
        ("graph processed_folder", True),
        ("graph quarantine_folder", True),
        ("graph sent items", True),
    ]
    assert "mentormail-processed created under the inbox" in lines[2][2]
    assert api.sent == []


# --- calendar: writing --------------------------------------------------------------------


def find_query(uid: str) -> dict[str, str]:
    return {
        "$filter": (
            f"singleValueExtendedProperties/Any(ep: ep/id eq '{UID_PROPERTY}' and ep/value eq '{uid}')"
        ),
        "$select": "id,subject,type",
        "$expand": f"singleValueExtendedProperties($filter=id eq '{HASH_PROPERTY}')",
    }


def instance(n: int, original: datetime, start: datetime | None = None) -> dict[str, Any]:
    start = start or original
    end = start + timedelta(minutes=45)
    return {
        "@odata.etag": 'W/"DwAAABYAAAAiIsqMbYjsT5e/T7KzowPTAAAYbvZD"',
        "id": f"AAMkAGI2-occ{n}=",
        "originalStart": original.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": "exception" if start != original else "occurrence",
        "seriesMasterId": "AAMkAGI2-series=",
        "start": {
            "dateTime": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC",
        },
        "end": {
            "dateTime": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC",
        },
    }


def test_put_event_creates_the_series(rsps: responses.RequestsMock, make: Factory) -> None:
    sign_in(rsps)
    rsps.get(
        f"{USER}/events", match=[matchers.query_param_matcher(find_query(UID))], json={"value": []}
    )
    rsps.post(
        f"{USER}/events",
        status=201,
        match=[matchers.header_matcher({"Content-Type": "application/json"})],
        json={"id": "AAMkAGI2-series=", "type": "seriesMaster"},
    )
    rsps.get(
        f"{USER}/events/AAMkAGI2-series=/instances",
        match=[
            matchers.query_param_matcher(
                {
                    "startDateTime": "2027-03-01T14:00:00Z",
                    "endDateTime": "2027-06-01T21:59:00Z",
                    "$select": "id,start,end,originalStart,type",
                    "$top": "100",
                }
            ),
            matchers.header_matcher({"Prefer": 'outlook.timezone="UTC"'}),
        ],
        json={"value": [instance(n, s) for n, s in enumerate(starts())]},
    )
    make.calendar(teams=True).put_event(UID, ics(UID, sequence=3))
    (post,) = [c for c in rsps.calls if c.request.method == "POST" and "/events" in c.request.url]
    created = json.loads(post.request.body)
    digest = created["singleValueExtendedProperties"][1]["value"]
    assert created == {
        "subject": "Mentoring: Ana & Bo",
        "body": {"contentType": "text", "content": "Your regular mentoring meeting."},
        "location": {"displayName": "https://meet.example.org/p1"},
        "start": {"dateTime": "2027-03-02T15:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2027-03-02T15:45:00", "timeZone": "W. Europe Standard Time"},
        "recurrence": {
            "pattern": {
                "type": "weekly",
                "interval": 2,
                "daysOfWeek": ["tuesday"],
                "firstDayOfWeek": "monday",
            },
            "range": {
                "type": "endDate",
                "startDate": "2027-03-02",
                "endDate": "2027-05-31",
                "recurrenceTimeZone": "W. Europe Standard Time",
            },
        },
        "attendees": [
            {"emailAddress": {"address": MENTOR[1], "name": MENTOR[0]}, "type": "required"},
            {"emailAddress": {"address": MENTEE[1], "name": MENTEE[0]}, "type": "required"},
        ],
        "allowNewTimeProposals": False,
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "transactionId": transaction_id(UID, 3),
        "singleValueExtendedProperties": [
            {"id": UID_PROPERTY, "value": UID},
            {"id": HASH_PROPERTY, "value": digest},
        ],
    }
    assert len(digest) == 32


def test_put_event_updates_and_applies_single_meetings(
    rsps: responses.RequestsMock, make: Factory
) -> None:
    sign_in(rsps)
    original = starts()
    moved_to = datetime(2027, 3, 31, 16, 30, tzinfo=BERLIN)
    rsps.get(
        f"{USER}/events",
        match=[matchers.query_param_matcher(find_query(UID))],
        json={
            "value": [
                {
                    "id": "AAMkAGI2-series=",
                    "subject": "Mentoring: Ana & Bo",
                    "type": "seriesMaster",
                    "singleValueExtendedProperties": [{"id": HASH_PROPERTY, "value": "stale"}],
                }
            ]
        },
    )
    rsps.patch(f"{USER}/events/AAMkAGI2-series=", json={"id": "AAMkAGI2-series="})
    already_moved_back = original[3] + timedelta(hours=1)  # moved earlier, no longer
    listed = [instance(n, s) for n, s in enumerate(original)]
    listed[3] = instance(3, original[3], already_moved_back)
    rsps.get(f"{USER}/events/AAMkAGI2-series=/instances", json={"value": listed})
    rsps.post(f"{USER}/events/AAMkAGI2-occ1=/cancel", status=202)
    rsps.patch(f"{USER}/events/AAMkAGI2-occ2=", json={})
    rsps.patch(f"{USER}/events/AAMkAGI2-occ3=", json={})
    make.calendar().put_event(
        UID, ics(UID, sequence=2, skipped=(original[1],), moved=((original[2], moved_to),))
    )
    bodies = {c.request.url.split("/")[-1].split("?")[0]: c.request.body for c in rsps.calls}
    update = json.loads(bodies["AAMkAGI2-series="])
    assert "transactionId" not in update
    assert update["singleValueExtendedProperties"][0]["id"] == HASH_PROPERTY
    assert update["recurrence"]["pattern"]["interval"] == 2
    assert json.loads(bodies["cancel"]) == {
        "comment": "This meeting does not take place; the series continues as planned."
    }
    assert json.loads(bodies["AAMkAGI2-occ2="]) == {
        "start": {"dateTime": "2027-03-31T16:30:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2027-03-31T17:15:00", "timeZone": "W. Europe Standard Time"},
    }
    assert json.loads(bodies["AAMkAGI2-occ3="]) == {  # put back at its original time
        "start": {"dateTime": "2027-04-13T15:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2027-04-13T15:45:00", "timeZone": "W. Europe Standard Time"},
    }


def test_cancel_event_cancels_the_series(rsps: responses.RequestsMock, make: Factory) -> None:
    sign_in(rsps)
    rsps.get(
        f"{USER}/events",
        match=[matchers.query_param_matcher(find_query(UID))],
        json={"value": [{"id": "AAMkAGI2-series=", "subject": "Mentoring: Ana & Bo"}]},
    )
    rsps.post(
        f"{USER}/events/AAMkAGI2-series=/cancel",
        status=202,
        match=[
            matchers.json_params_matcher(
                {"comment": "Mentoring: Ana & Bo is cancelled; no further meetings."}
            )
        ],
    )
    rsps.get(f"{USER}/events", json={"value": []})  # the second time it is gone
    calendar = make.calendar()
    calendar.cancel_event(UID, ics(UID, sequence=4, cancel=True))
    calendar.cancel_event(UID, ics(UID, sequence=4, cancel=True))
    assert len([c for c in rsps.calls if c.request.url.endswith("/cancel")]) == 1


def test_repeated_updates_converge_without_duplicates(api: GraphEmulator, make: Factory) -> None:
    calendar = make.calendar()
    original = starts()
    calendar.put_event(UID, ics(UID))
    changed = ics(
        UID,
        sequence=2,
        skipped=(original[1],),
        moved=((original[2], original[2] + timedelta(days=1)),),
    )
    for _ in range(3):
        calendar.put_event(UID, changed)
    assert len(api.events) == 1
    assert len(api.calls_to("POST", "/events")) == 1 + 1  # the create, one cancel
    assert len(api.calls_to("PATCH", "/events/")) == 1  # the moved meeting, once
    stored = api.stored(UID)
    assert stored is not None
    wanted = [s for s in original if s not in (original[1], original[2])] + [
        original[2] + timedelta(days=1)
    ]
    assert stored.meetings == tuple(
        sorted((s.astimezone(UTC), (s + timedelta(minutes=45)).astimezone(UTC)) for s in wanted)
    )


def test_a_meeting_no_longer_moved_goes_back_and_a_lost_skip_is_reported(
    api: GraphEmulator, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    calendar = make.calendar()
    original = starts()
    calendar.put_event(
        UID,
        ics(UID, skipped=(original[1],), moved=((original[2], original[2] + timedelta(hours=2)),)),
    )
    calendar.put_event(UID, ics(UID, sequence=1))
    stored = api.stored(UID)
    assert stored is not None
    assert original[2].astimezone(UTC) in {s for s, _ in stored.meetings}
    assert original[1].astimezone(UTC) not in {s for s, _ in stored.meetings}
    assert "were cancelled earlier and cannot be restored" in caplog.text


def test_a_new_time_of_day_rewrites_the_series_and_keeps_the_moves(
    api: GraphEmulator, make: Factory
) -> None:
    calendar = make.calendar()
    calendar.put_event(UID, ics(UID, moved=((starts()[2], starts()[2] + timedelta(days=1)),)))
    later = starts(17)
    calendar.put_event(
        UID, ics(UID, sequence=1, hour=17, moved=((later[2], later[2] + timedelta(days=1)),))
    )
    stored = api.stored(UID)
    assert stored is not None
    wanted = [*later[:2], later[2] + timedelta(days=1), *later[3:]]
    assert stored.meetings == tuple(
        sorted((s.astimezone(UTC), (s + timedelta(minutes=45)).astimezone(UTC)) for s in wanted)
    )


def test_a_create_retried_after_a_lost_answer_is_not_duplicated(
    api: GraphEmulator, make: Factory
) -> None:
    calendar = make.calendar()
    calendar.put_event(UID, ics(UID))
    (event,) = api.events.values()
    hidden = event.props.pop(UID_PROPERTY)  # as if the first answer never came back
    calendar.put_event(UID, ics(UID))
    event.props[UID_PROPERTY] = hidden
    assert len(api.events) == 1
    creates = [
        json.loads(c.body)["transactionId"]
        for c in api.calls_to("POST", "/events")
        if c.path.endswith("/events")
    ]
    assert creates == [transaction_id(UID, 0)] * 2


def test_cancel_leaves_the_calendar_and_notifies(api: GraphEmulator, make: Factory) -> None:
    calendar = make.calendar()
    calendar.put_event(UID, ics(UID))
    calendar.cancel_event(UID, ics(UID, sequence=1, cancel=True))
    assert api.stored(UID) is None
    assert len(api.deleted_events) == 1
    calendar.put_event(UID, ics(UID, sequence=2))  # booked again later: a new event
    assert api.stored(UID) is not None and len(api.events) == 1


def test_a_time_zone_graph_refuses_is_reported(
    api: GraphEmulator, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.graph_calendar as module

    monkeypatch.setattr(module, "windows_zone", lambda name: name)  # send the IANA name
    with pytest.raises(ConnectorError, match="400 TimeZoneNotSupportedException"):
        make.calendar().put_event(UID, ics(UID))


# --- calendar: busy time ------------------------------------------------------------------


def test_get_schedule_counts_busy_tentative_oof_and_skips_errors(
    rsps: responses.RequestsMock, make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in(rsps)

    def item(status: str, start: str, end: str) -> dict[str, Any]:
        return {
            "isPrivate": False,
            "status": status,
            "subject": "",
            "location": "",
            "start": {"dateTime": f"{start}.0000000", "timeZone": "UTC"},
            "end": {"dateTime": f"{end}.0000000", "timeZone": "UTC"},
        }

    rsps.post(
        f"{USER}/calendar/getSchedule",
        match=[
            matchers.json_params_matcher(
                {
                    "schedules": ["Ana@Example.org", "someone@elsewhere.example"],
                    "startTime": {"dateTime": "2027-03-01T00:00:00", "timeZone": "UTC"},
                    "endTime": {"dateTime": "2027-03-08T00:00:00", "timeZone": "UTC"},
                    "availabilityViewInterval": 30,
                }
            ),
            matchers.header_matcher({"Prefer": 'outlook.timezone="UTC"'}),
        ],
        json={
            "@odata.context": f"{GRAPH}/$metadata#Collection(microsoft.graph.scheduleInformation)",
            "value": [
                {
                    "scheduleId": "ana@example.org",
                    "availabilityView": "000220000",
                    "scheduleItems": [
                        item("busy", "2027-03-02T09:00:00", "2027-03-02T10:00:00"),
                        item("tentative", "2027-03-02T09:30:00", "2027-03-02T11:00:00"),
                        item("free", "2027-03-03T09:00:00", "2027-03-03T10:00:00"),
                        item("workingElsewhere", "2027-03-03T12:00:00", "2027-03-03T17:00:00"),
                        item("oof", "2027-03-07T22:00:00", "2027-03-09T08:00:00"),
                    ],
                },
                {
                    "scheduleId": "someone@elsewhere.example",
                    "availabilityView": "",
                    "scheduleItems": [],
                    "error": {
                        "message": "Unable to resolve the e-mail address someone@elsewhere.example.",
                        "responseCode": "ErrorMailRecipientNotFound",
                    },
                },
            ],
        },
    )
    rsps.get(f"{USER}/events", json={"value": []})  # the program has no series yet
    start = datetime(2027, 3, 1, tzinfo=UTC)
    found = make.calendar().busy(
        ["Ana@Example.org", "someone@elsewhere.example"], start, start + timedelta(days=7)
    )
    assert found == {
        "Ana@Example.org": [
            (datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 11, tzinfo=UTC)),
            (datetime(2027, 3, 7, 22, tzinfo=UTC), datetime(2027, 3, 8, tzinfo=UTC)),
        ]
    }
    assert (
        "no free/busy time for someone@elsewhere.example: ErrorMailRecipientNotFound" in caplog.text
    )


def test_busy_leaves_out_the_programs_own_meetings(api: GraphEmulator, make: Factory) -> None:
    calendar = make.calendar()
    calendar.put_event(UID, ics(UID))  # Ana is invited: her free/busy shows the series
    other = (datetime(2027, 3, 4, 13, 30, tzinfo=UTC), datetime(2027, 3, 4, 15, tzinfo=UTC))
    api.make_busy(MENTOR[1], [other])
    start = datetime(2027, 3, 1, tzinfo=UTC)
    found = calendar.busy([MENTOR[1]], start, start + timedelta(days=28))
    assert found == {MENTOR[1]: [other]}
    (schedule,) = api.calls_to("POST", "/getSchedule")
    assert len(json.loads(schedule.body)["schedules"]) == 1


def test_busy_splits_long_windows_and_many_addresses(api: GraphEmulator, make: Factory) -> None:
    people = [f"p{n}@example.org" for n in range(25)]
    busy = (datetime(2027, 4, 20, 9, tzinfo=UTC), datetime(2027, 4, 20, 10, tzinfo=UTC))
    api.users.update(people[:-1])
    api.make_busy(people[-2], [busy])
    start = datetime(2027, 3, 1, tzinfo=UTC)
    found = make.calendar().busy(people, start, start + timedelta(days=100))
    assert found == {p: [busy] if p == people[-2] else [] for p in people[:-1]}
    calls = [json.loads(c.body) for c in api.calls_to("POST", "/getSchedule")]
    # 42-day windows; 20 addresses at most; the unknown address is not asked again
    assert [(len(c["schedules"]), c["startTime"]["dateTime"][:10]) for c in calls] == [
        (20, "2027-03-01"),
        (5, "2027-03-01"),
        (20, "2027-04-12"),
        (4, "2027-04-12"),
        (20, "2027-05-24"),
        (4, "2027-05-24"),
    ]


def test_calendar_check_reports_every_step(api: GraphEmulator, make: Factory) -> None:
    lines = make.calendar(teams=True).check()
    assert [(what, ok) for what, ok, _ in lines] == [
        ("graph token", True),
        ("graph calendar", True),
        ("graph free/busy", True),
    ]
    assert "Teams meetings" in lines[2][2]


def test_calendar_invites_attendees() -> None:
    assert GraphCalendar.invites_attendees is True
