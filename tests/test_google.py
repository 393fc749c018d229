"""The Google connectors (connectors.google): Gmail and Google Calendar, without a network.

Two layers, both at the httplib2 transport the connectors are given:

- Exact requests, with googleapiclient's own HttpMockSequence (recording what it was asked):
  method, URL with its query, JSON body, and the parts of batch requests (multipart/mixed,
  answered as Google answers them); the library's retries (429, 5xx, 403 rate limits) with
  its sleep patched; sign-in with a service account through domain-wide delegation (the
  JWT sent to the token endpoint) and with a token file.
- Behaviour, against the stateful emulator in tests/google_api.py: history that expired,
  mail moved back into the inbox, more than one batch of bodies, a repeated or reverted
  update of a series, a cancelled series booked again, long busy-time ranges, check().

The shared contract (tests/test_contract.py) runs on the same emulator.
"""

from __future__ import annotations

import base64
import email.policy
import json
import logging
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_string
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from googleapiclient.http import HttpMockSequence
from pydantic import ValidationError

from agent.config.model import Config
from agent.meetings.ics import series_ics
from agent.pairs.program import Series, original_key
from connectors.base import ConnectorError, DeliveryRefused
from connectors.google import (
    CALENDAR_SCOPES,
    GMAIL_SCOPES,
    GoogleCalendar,
    GoogleMailbox,
    event_id,
)
from tests.google_api import (
    ROOT,
    TOKEN_URI,
    Fault,
    GoogleApiEmulator,
    write_program,
    write_token_file,
)
from tests.test_contract import MENTEE, MENTOR, STAMP, booked, incoming

GMAIL = "https://gmail.googleapis.com/gmail/v1/users/me"
CALENDAR = "https://www.googleapis.com/calendar/v3/calendars/primary"
ACCESS_TOKEN = "ya29.test-access-token-which-must-never-leak"
BERLIN = ZoneInfo("Europe/Berlin")
UID = "mentormail-ana-ben@example.org"
EID = event_id(UID)
SINCE = date(2027, 2, 1)
AFTER = int(datetime(2027, 2, 1, tzinfo=UTC).timestamp())


# --- the library's mock, recording -----------------------------------------------------------


@dataclass
class Call:
    method: str
    url: str
    body: Any  # parsed JSON, form fields (token endpoint), or None
    headers: dict[str, str]
    parts: list[Call] = field(default_factory=list)  # of a batch request


def _parse_body(body: Any) -> Any:
    text = body.decode() if isinstance(body, bytes) else body
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _batch_parts(body: str, content_type: str) -> list[Call]:
    envelope = message_from_string(f"Content-Type: {content_type}\r\n\r\n{body}")
    assert envelope.is_multipart(), "a batch request is multipart/mixed"
    parts = []
    for part in envelope.get_payload():
        assert part.get_content_type() == "application/http"
        head, _, inner = part.get_payload().partition("\n\n")
        request_line, *lines = head.splitlines()
        method, target, _ = request_line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        url = f"https://{headers['host']}{target}"
        parts.append(Call(method, url, _parse_body(inner), headers))
    return parts


class Recorder(HttpMockSequence):
    """googleapiclient's HttpMockSequence; `calls` are the requests it got, parsed."""

    @property
    def calls(self) -> list[Call]:
        out = []
        for uri, method, body, headers in self.request_sequence:
            headers = {k.lower(): v for k, v in (headers or {}).items()}
            if uri == TOKEN_URI:
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                out.append(Call(method, uri, form, headers))
            elif "/batch" in uri:
                parts = _batch_parts(body, headers["content-type"])
                out.append(Call(method, uri, None, headers, parts))
            else:
                out.append(Call(method, uri, _parse_body(body), headers))
        return out


Reply = tuple[dict[str, str], str]


def ok(data: Any = None, status: int = 200) -> Reply:
    return {"status": str(status), "content-type": "application/json"}, json.dumps(data or {})


def no_content() -> Reply:
    return {"status": "204"}, ""


def error(status: int, message: str, reason: str) -> Reply:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }
    return {"status": str(status), "content-type": "application/json"}, json.dumps(body)


def batch_reply(*parts: tuple[str, int, Any]) -> Reply:
    """A multipart/mixed batch answer: (request id, status, JSON or None) per part."""
    boundary = "batch_test_boundary"
    chunks = []
    for key, status, data in parts:
        content = "" if data is None else json.dumps(data)
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-ID: <response-0f1e2d3c + {urllib.parse.quote(key)}>\r\n\r\n"
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{content}\r\n"
        )
    chunks.append(f"--{boundary}--\r\n")
    return {"status": "200", "content-type": f"multipart/mixed; boundary={boundary}"}, "".join(
        chunks
    )


def raw_of(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def gmail_message(mid: str, data: bytes, when: int, labels: tuple[str, ...] = ("INBOX",)) -> dict:
    return {"id": mid, "labelIds": list(labels), "internalDate": str(when), "raw": raw_of(data)}


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Config:
    write_token_file(tmp_path, access_token=ACCESS_TOKEN)
    return write_program(tmp_path)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The library's backoff sleeps (googleapiclient.http.time.sleep), recorded, not slept."""
    slept: list[float] = []
    monkeypatch.setattr("googleapiclient.http.time.sleep", slept.append)
    return slept


def mailbox(config: Config, replies: list[Reply], **options: Any) -> tuple[GoogleMailbox, Recorder]:
    mock = Recorder(list(replies))
    opts = GoogleMailbox.Options(token_file=Path("google-token.json"), since=SINCE, **options)
    return GoogleMailbox(opts, config, transport=mock), mock


def calendar(
    config: Config, replies: list[Reply], **options: Any
) -> tuple[GoogleCalendar, Recorder]:
    mock = Recorder(list(replies))
    opts = GoogleCalendar.Options(token_file=Path("google-token.json"), **options)
    return GoogleCalendar(opts, config, transport=mock), mock


def series_bytes(series: Series) -> bytes:
    return series_ics(
        method="REQUEST",
        uid=series.uid,
        sequence=series.sequence,
        slot=series.slot(),
        summary="Mentoring: Ana & Bo",
        description="Your regular mentoring meeting.",
        video_link="https://meet.example.test/p1",
        organizer=("Mentoring", "mentoring@example.org"),
        attendees=[MENTOR, MENTEE],
        dtstamp=STAMP,
        skipped=series.skipped,
        moved=series.moved_meetings(),
    )


# --- Gmail: reading --------------------------------------------------------------------------


def test_full_sync_takes_the_history_id_first_lists_every_page_and_reads_in_one_batch(
    config: Config,
) -> None:
    old, new = incoming("Older reply"), incoming("Newer reply")
    box, mock = mailbox(
        config,
        [
            ok({"emailAddress": "mentoring@example.org", "historyId": "500"}),
            ok({"messages": [{"id": "m2"}, {"id": "m9"}], "nextPageToken": "p2"}),
            ok({"messages": [{"id": "m1"}]}),
            batch_reply(
                ("m2", 200, gmail_message("m2", new, 1_800_000_002_000)),
                ("m9", 200, gmail_message("m9", b"x", 1_800_000_003_000, ("Label_7",))),
                ("m1", 200, gmail_message("m1", old, 1_800_000_001_000)),
            ),
        ],
    )
    messages, cursor = box.fetch(None)

    calls = mock.calls
    assert [(c.method, c.url) for c in calls] == [
        ("GET", f"{GMAIL}/profile?alt=json"),
        ("GET", f"{GMAIL}/messages?labelIds=INBOX&q=after%3A{AFTER}&maxResults=500&alt=json"),
        (
            "GET",
            f"{GMAIL}/messages?labelIds=INBOX&q=after%3A{AFTER}&maxResults=500&pageToken=p2&alt=json",
        ),
        ("POST", "https://gmail.googleapis.com/batch"),
    ]
    assert calls[3].headers["content-type"].startswith("multipart/mixed; boundary=")
    assert [(p.method, p.url) for p in calls[3].parts] == [
        ("GET", f"{GMAIL}/messages/{mid}?format=raw&alt=json") for mid in ("m2", "m9", "m1")
    ]
    assert all(p.headers["authorization"] == f"Bearer {ACCESS_TOKEN}" for p in calls[3].parts)
    # oldest first; m9 left the inbox meanwhile
    assert [(m.ref, m.data) for m in messages] == [("m1", old), ("m2", new)]
    assert cursor == 'v1:{"historyId":"500","pending":["m1","m2"]}'


def test_history_sync_returns_what_arrived_and_what_is_still_pending(config: Config) -> None:
    pending, new, moved_back = incoming("Pending"), incoming("New"), incoming("Moved back")
    box, mock = mailbox(
        config,
        [
            ok(
                {
                    "history": [
                        {"id": "501", "messagesAdded": [{"message": {"id": "n1"}}]},
                    ],
                    "historyId": "505",
                    "nextPageToken": "h2",
                }
            ),
            ok(
                {
                    "history": [
                        {
                            "id": "507",
                            "labelsAdded": [
                                {"message": {"id": "n2"}, "labelIds": ["INBOX"]},
                                {"message": {"id": "x"}, "labelIds": ["Label_3"]},
                            ],
                        }
                    ],
                    "historyId": "510",
                }
            ),
            batch_reply(
                ("p1", 200, gmail_message("p1", pending, 1_800_000_000_000)),
                (
                    "p2",
                    404,
                    json.loads(error(404, "Requested entity was not found.", "notFound")[1]),
                ),
                ("n1", 200, gmail_message("n1", new, 1_800_000_005_000)),
                ("n2", 200, gmail_message("n2", moved_back, 1_700_000_000_000)),
            ),
        ],
    )
    messages, cursor = box.fetch('v1:{"historyId":"500","pending":["p1","p2"]}')

    calls = mock.calls
    history = (
        f"{GMAIL}/history?startHistoryId=500&historyTypes=messageAdded&historyTypes=labelAdded"
        "&labelId=INBOX&maxResults=500"
    )
    assert [(c.method, c.url) for c in calls[:2]] == [
        ("GET", f"{history}&alt=json"),
        ("GET", f"{history}&pageToken=h2&alt=json"),
    ]
    assert [p.url.split("?")[0].rsplit("/", 1)[1] for p in calls[2].parts] == [
        "p1",
        "p2",
        "n1",
        "n2",
    ]
    assert [m.ref for m in messages] == ["n2", "p1", "n1"]  # by internalDate
    assert cursor == 'v1:{"historyId":"510","pending":["n2","p1","n1"]}'


def test_history_too_old_means_a_full_sync_with_a_warning(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    box, mock = mailbox(
        config,
        [
            error(404, "Requested entity was not found.", "notFound"),
            ok({"historyId": "900"}),
            ok({"resultSizeEstimate": 0}),
        ],
    )
    with caplog.at_level(logging.WARNING):
        messages, cursor = box.fetch('v1:{"historyId":"12","pending":[]}')
    assert messages == [] and cursor == 'v1:{"historyId":"900","pending":[]}'
    assert [c.url.split("?")[0] for c in mock.calls] == [
        f"{GMAIL}/history",
        f"{GMAIL}/profile",
        f"{GMAIL}/messages",
    ]
    assert "no history back to 12" in caplog.text


def test_an_unreadable_cursor_starts_over(config: Config) -> None:
    box, mock = mailbox(config, [ok({"historyId": "7"}), ok({})])
    assert box.fetch("v0:garbage") == ([], 'v1:{"historyId":"7","pending":[]}')
    assert mock.calls[0].url == f"{GMAIL}/profile?alt=json"


def test_a_rate_limited_part_of_a_batch_is_sent_again_on_its_own(
    config: Config, sleeps: list[float]
) -> None:
    data = incoming("Reply")
    box, mock = mailbox(
        config,
        [
            ok({"historyId": "5"}),
            ok({"messages": [{"id": "m1"}, {"id": "m2"}]}),
            batch_reply(
                ("m1", 200, gmail_message("m1", data, 1)),
                ("m2", 429, json.loads(error(429, "Too many requests", "rateLimitExceeded")[1])),
            ),
            ok(gmail_message("m2", data, 2)),
        ],
    )
    messages, _ = box.fetch(None)
    assert [m.ref for m in messages] == ["m1", "m2"]
    assert (mock.calls[3].method, mock.calls[3].url) == (
        "GET",
        f"{GMAIL}/messages/m2?format=raw&alt=json",
    )


def test_a_batch_answered_503_is_sent_again_after_a_backoff(
    config: Config, sleeps: list[float]
) -> None:
    data = incoming("Reply")
    box, mock = mailbox(
        config,
        [
            ok({"historyId": "5"}),
            ok({"messages": [{"id": "m1"}]}),
            error(503, "The service is currently unavailable.", "backendError"),
            batch_reply(("m1", 200, gmail_message("m1", data, 1))),
        ],
    )
    messages, _ = box.fetch(None)
    assert [m.ref for m in messages] == ["m1"]
    assert [c.url for c in mock.calls[2:]] == ["https://gmail.googleapis.com/batch"] * 2
    assert len(sleeps) == 1


# --- Gmail: labels, sending ------------------------------------------------------------------


def test_mark_handled_creates_the_label_on_first_use_and_moves_the_message(config: Config) -> None:
    box, mock = mailbox(
        config,
        [
            ok(
                {
                    "labels": [
                        {"id": "INBOX", "name": "INBOX"},
                        {"id": "Label_2", "name": "mentormail/quarantine"},
                    ]
                }
            ),
            ok({"id": "Label_9", "name": "mentormail/processed"}),
            ok({"id": "m1", "labelIds": ["Label_9"]}),
            ok({"id": "m2", "labelIds": ["Label_9"]}),
            ok({"id": "m3", "labelIds": ["Label_2"]}),
            error(404, "Requested entity was not found.", "notFound"),
        ],
    )
    box.mark_handled("m1", "processed")
    box.mark_handled("m2", "processed")  # the label id is cached
    box.mark_handled("m3", "quarantine")
    box.mark_handled("gone", "processed")  # deleted meanwhile: nothing to move

    calls = mock.calls
    assert [(c.method, c.url, c.body) for c in calls] == [
        ("GET", f"{GMAIL}/labels?alt=json", None),
        (
            "POST",
            f"{GMAIL}/labels?alt=json",
            {
                "name": "mentormail/processed",
                "labelListVisibility": "labelShow",
                "messageListVisibility": "show",
            },
        ),
        *[
            (
                "POST",
                f"{GMAIL}/messages/{mid}/modify?alt=json",
                {"addLabelIds": [label], "removeLabelIds": ["INBOX"]},
            )
            for mid, label in [
                ("m1", "Label_9"),
                ("m2", "Label_9"),
                ("m3", "Label_2"),
                ("gone", "Label_9"),
            ]
        ],
    ]


def outgoing(to: str = f"{MENTOR[0]} <{MENTOR[1]}>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Mentoring Program <mentoring@example.org>"
    message["To"] = to
    message["Subject"] = "Welcome"
    message["Message-ID"] = "<mm.welcome.ana@example.org>"
    message.set_content("Hello Ana,\n\nwelcome.\n")
    return message


def test_send_hands_gmail_the_raw_message_with_its_message_id(config: Config) -> None:
    box, mock = mailbox(config, [ok({"id": "s1", "labelIds": ["SENT"]})])
    message = outgoing()
    box.send(message)

    (call,) = mock.calls
    assert (call.method, call.url) == ("POST", f"{GMAIL}/messages/send?alt=json")
    raw = call.body["raw"]
    sent = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    assert sent == message.as_bytes(policy=email.policy.SMTP)
    assert b"Message-ID: <mm.welcome.ana@example.org>\r\n" in sent
    assert box.was_sent("mm.welcome.ana@example.org")  # remembered: no search needed
    assert len(mock.calls) == 1


def test_an_invalid_recipient_is_a_delivery_refusal(config: Config) -> None:
    box, _ = mailbox(config, [error(400, "Invalid To header", "invalidArgument")])
    with pytest.raises(DeliveryRefused) as caught:
        box.send(outgoing("ana@example"))
    assert caught.value.recipients == ("ana@example",)
    assert caught.value.reply == "Invalid To header"


def test_other_send_errors_are_connector_errors(config: Config) -> None:
    box, _ = mailbox(
        config, [error(403, "Delegation denied for mentoring@example.org", "forbidden")]
    )
    with pytest.raises(ConnectorError) as caught:
        box.send(outgoing())
    assert not isinstance(caught.value, DeliveryRefused)
    assert str(caught.value) == (
        "Gmail mentoring@example.org: sending <mm.welcome.ana@example.org>: "
        "403 Delegation denied for mentoring@example.org (forbidden)"
    )


def test_was_sent_searches_sent_mail_by_message_id(config: Config) -> None:
    box, mock = mailbox(
        config,
        [ok({"messages": [{"id": "s1", "threadId": "s1"}]}), ok({"resultSizeEstimate": 0})],
    )
    assert box.was_sent("<mm.1@example.org>")
    assert not box.was_sent("mm.2@example.org")
    assert [c.url for c in mock.calls] == [
        f"{GMAIL}/messages?q=rfc822msgid%3A{mid}%40example.org+in%3Asent"
        "&includeSpamTrash=true&maxResults=1&alt=json"
        for mid in ("mm.1", "mm.2")
    ]


# --- retries and errors ----------------------------------------------------------------------


def test_429_is_retried_with_the_librarys_backoff(config: Config, sleeps: list[float]) -> None:
    box, mock = mailbox(
        config,
        [
            error(429, "Too many requests", "rateLimitExceeded"),
            ok({"messages": [{"id": "s1"}]}),
        ],
    )
    assert box.was_sent("mm.1@example.org")
    assert len(mock.calls) == 2 and len(sleeps) == 1


def test_403_rate_limit_is_retried(config: Config, sleeps: list[float]) -> None:
    box, mock = mailbox(
        config,
        [
            error(403, "User Rate Limit Exceeded", "userRateLimitExceeded"),
            error(403, "Rate Limit Exceeded", "rateLimitExceeded"),
            ok({"resultSizeEstimate": 0}),
        ],
    )
    assert not box.was_sent("mm.1@example.org")
    assert len(mock.calls) == 3 and len(sleeps) == 2


def test_403_forbidden_is_not_retried(config: Config, sleeps: list[float]) -> None:
    box, mock = mailbox(config, [error(403, "Mail service not enabled", "failedPrecondition")])
    with pytest.raises(ConnectorError) as caught:
        box.was_sent("mm.1@example.org")
    assert len(mock.calls) == 1 and sleeps == []
    assert str(caught.value) == (
        "Gmail mentoring@example.org: looking for <mm.1@example.org> in Sent: "
        "403 Mail service not enabled (failedPrecondition)"
    )


def test_a_persistent_500_gives_up_with_one_line(config: Config, sleeps: list[float]) -> None:
    box, mock = mailbox(config, [error(500, "Backend Error\nplease retry", "backendError")] * 6)
    with pytest.raises(ConnectorError) as caught:
        box.fetch(None)
    assert len(mock.calls) == 6 and len(sleeps) == 5
    assert str(caught.value) == (
        "Gmail mentoring@example.org: reading the mailbox profile: 500 Backend Error please "
        "retry (backendError); gave up after 5 retries"
    )
    assert "\n" not in str(caught.value) and ACCESS_TOKEN not in str(caught.value)


def test_an_unreachable_api_is_a_connector_error(config: Config, sleeps: list[float]) -> None:
    class Unreachable:
        def request(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionRefusedError(111, "Connection refused")

    opts = GoogleMailbox.Options(token_file=Path("google-token.json"))
    box = GoogleMailbox(opts, config, transport=Unreachable())
    with pytest.raises(
        ConnectorError,
        match=r"^Gmail mentoring@example.org: reading the mailbox profile: cannot connect: .*Connection refused",
    ):
        box.fetch(None)
    assert len(sleeps) == 5  # the library retries refused connections too


# --- Google Calendar -------------------------------------------------------------------------


def expected_event(meet: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": EID,
        "status": "confirmed",
        "summary": "Mentoring: Ana & Bo",
        "description": "Your regular mentoring meeting.",
        "location": "https://meet.example.test/p1",
        "start": {"dateTime": "2027-03-02T15:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2027-03-02T15:45:00+01:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;UNTIL=20270531T215900Z"],
        "attendees": [
            {"email": "ana@example.org", "displayName": "Ana Álvarez"},
            {"email": "bo@example.net", "displayName": "Bo Chen"},
        ],
        "reminders": {"useDefault": True},
        "extendedProperties": {"private": {"mentormailUid": UID}},
    }
    if meet:
        body["conferenceData"] = {
            "createRequest": {"requestId": EID, "conferenceSolutionKey": {"type": "hangoutsMeet"}}
        }
    return body


def test_event_ids_are_base32hex_and_stable() -> None:
    assert event_id(UID) == event_id(UID) != event_id(UID + "x")
    assert len(EID) == 42 and set(EID) <= set("0123456789abcdefghijklmnopqrstuv")


def test_put_event_inserts_the_series_with_its_rule_attendees_and_meet(config: Config) -> None:
    cal, mock = calendar(config, [ok({"id": EID})], meet=True)
    cal.put_event(UID, series_bytes(booked(UID)))

    (call,) = mock.calls  # no single meetings changed: nothing else to do
    assert (call.method, call.url) == (
        "POST",
        f"{CALENDAR}/events?sendUpdates=all&conferenceDataVersion=1&alt=json",
    )
    assert call.body == expected_event(meet=True)
    assert "iCalUID" not in call.body


def test_send_updates_is_configurable_and_meet_optional(config: Config) -> None:
    cal, mock = calendar(config, [ok({"id": EID})], send_updates="none")
    cal.put_event(UID, series_bytes(booked(UID)))
    assert mock.calls[0].url == f"{CALENDAR}/events?sendUpdates=none&alt=json"
    assert mock.calls[0].body == expected_event()


def instance(
    original: datetime, *, status: str = "confirmed", start: datetime | None = None
) -> dict:
    start = start or original
    iid = f"{EID}_{original.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return {
        "id": iid,
        "status": status,
        "recurringEventId": EID,
        "originalStartTime": {"dateTime": original.isoformat(), "timeZone": "Europe/Berlin"},
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Berlin"},
        "end": {
            "dateTime": (start + timedelta(minutes=45)).isoformat(),
            "timeZone": "Europe/Berlin",
        },
    }


def test_an_existing_event_is_patched_and_its_meetings_checked(config: Config) -> None:
    series = booked(UID)
    starts = series.slot().occurrences()
    cal, mock = calendar(
        config,
        [
            error(409, "The requested identifier already exists.", "duplicate"),
            ok({"id": EID}),
            ok({"items": [instance(s) for s in starts]}),  # all as planned: nothing to change
        ],
    )
    cal.put_event(UID, series_bytes(series))

    insert, patch, listing = mock.calls
    assert insert.method == "POST"
    assert (patch.method, patch.url) == (
        "PATCH",
        f"{CALENDAR}/events/{EID}?sendUpdates=all&alt=json",
    )
    assert patch.body == {k: v for k, v in expected_event().items() if k != "id"}
    assert (listing.method, listing.url) == (
        "GET",
        f"{CALENDAR}/events/{EID}/instances?showDeleted=true&maxResults=2500&alt=json",
    )


def test_moved_and_skipped_meetings_change_together_in_one_batch(config: Config) -> None:
    series = booked(UID)
    starts = series.slot().occurrences()
    moved_to = datetime(2027, 3, 31, 16, 30, tzinfo=BERLIN)
    changed = series.model_copy(
        update={
            "sequence": 1,
            "skipped": [starts[1], starts[3]],
            "moved": {original_key(starts[2]): moved_to},
        }
    )
    listing = [instance(s) for s in starts]
    listing[3] = instance(starts[3], status="cancelled")  # skipped before: left alone
    skip_id, move_id = listing[1]["id"], listing[2]["id"]
    cal, mock = calendar(
        config,
        [
            ok({"id": EID}),
            ok({"items": listing[:4], "nextPageToken": "n2"}),
            ok({"items": listing[4:]}),
            batch_reply((skip_id, 204, None), (move_id, 200, {"id": move_id})),
        ],
    )
    cal.put_event(UID, series_bytes(changed))

    calls = mock.calls
    assert calls[2].url.endswith("&pageToken=n2&alt=json")
    batch = calls[3]
    assert (batch.method, batch.url) == ("POST", "https://www.googleapis.com/batch/calendar/v3")
    assert [(p.method, p.url, p.body) for p in batch.parts] == [
        ("DELETE", f"{CALENDAR}/events/{skip_id}?sendUpdates=all", None),
        (
            "PATCH",
            f"{CALENDAR}/events/{move_id}?sendUpdates=all&alt=json",
            {
                "status": "confirmed",
                "start": {"dateTime": "2027-03-31T16:30:00+02:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2027-03-31T17:15:00+02:00", "timeZone": "Europe/Berlin"},
            },
        ),
    ]
    assert len(calls) == 4


def test_an_instance_deleted_meanwhile_is_fine_but_other_failures_are_not(config: Config) -> None:
    series = booked(UID)
    starts = series.slot().occurrences()
    changed = series.model_copy(update={"skipped": [starts[1], starts[2]]})
    ids = [instance(s)["id"] for s in starts]
    replies = [
        ok({"id": EID}),
        ok({"items": [instance(s) for s in starts]}),
        batch_reply(
            (ids[1], 410, json.loads(error(410, "Resource has been deleted", "deleted")[1])),
            (ids[2], 204, None),
        ),
    ]
    cal, _ = calendar(config, replies)
    cal.put_event(UID, series_bytes(changed))  # no error

    replies[2] = batch_reply(
        (ids[1], 204, None),
        (
            ids[2],
            403,
            json.loads(
                error(
                    403, "You need to have writer access to this calendar.", "requiredAccessLevel"
                )[1]
            ),
        ),
    )
    cal, _ = calendar(config, replies)
    with pytest.raises(ConnectorError, match="403 You need to have writer access to this calendar"):
        cal.put_event(UID, series_bytes(changed))


def test_cancel_deletes_the_event_and_gone_is_fine(config: Config) -> None:
    cal, mock = calendar(
        config,
        [
            no_content(),
            error(410, "Resource has been deleted", "deleted"),
            error(404, "Not Found", "notFound"),
        ],
    )
    for _ in range(3):
        cal.cancel_event(UID, b"")
    assert {(c.method, c.url) for c in mock.calls} == {
        ("DELETE", f"{CALENDAR}/events/{EID}?sendUpdates=all")
    }


def test_a_calendar_error_is_one_line_naming_calendar_and_series(config: Config) -> None:
    cal, _ = calendar(config, [error(403, "Forbidden", "forbidden")])
    with pytest.raises(ConnectorError) as caught:
        cal.put_event(UID, series_bytes(booked(UID)))
    assert str(caught.value) == (
        f"Google Calendar mentoring@example.org: storing the series {UID}: 403 Forbidden (forbidden)"
    )


def test_busy_asks_freebusy_once_and_leaves_out_calendars_it_cannot_read(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    cal, mock = calendar(
        config,
        [
            ok(
                {
                    "calendars": {
                        "ana@example.org": {
                            "busy": [
                                {"start": "2027-03-02T09:00:00Z", "end": "2027-03-02T10:00:00Z"},
                                {
                                    "start": "2027-03-04T14:30:00+01:00",
                                    "end": "2027-03-04T16:00:00+01:00",
                                },
                            ]
                        },
                        "bo@example.net": {
                            "errors": [{"domain": "global", "reason": "notFound"}],
                            "busy": [],
                        },
                    }
                }
            )
        ],
    )
    start = datetime(2027, 3, 1, tzinfo=UTC)
    with caplog.at_level(logging.WARNING):
        found = cal.busy(["ana@example.org", "bo@example.net"], start, start + timedelta(days=7))

    (call,) = mock.calls
    assert (call.method, call.url) == (
        "POST",
        "https://www.googleapis.com/calendar/v3/freeBusy?alt=json",
    )
    assert call.body == {
        "timeMin": "2027-03-01T00:00:00Z",
        "timeMax": "2027-03-08T00:00:00Z",
        "items": [{"id": "ana@example.org"}, {"id": "bo@example.net"}],
    }
    assert found == {
        "ana@example.org": [
            (datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 10, tzinfo=UTC)),
            (datetime(2027, 3, 4, 13, 30, tzinfo=UTC), datetime(2027, 3, 4, 15, tzinfo=UTC)),
        ]
    }
    assert "busy time of bo@example.net left out: notFound" in caplog.text


# --- signing in ------------------------------------------------------------------------------


def service_account_file(directory: Path) -> tuple[Path, rsa.RSAPublicKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "mentormail-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "mentormail@mentormail-test.iam.gserviceaccount.com",
        "client_id": "104857600000000000001",
        "token_uri": TOKEN_URI,
    }
    path = directory / "service-account.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    return path, key.public_key(), pem


def _b64json(text: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


@pytest.mark.parametrize(
    ("make", "scopes"),
    [(GoogleMailbox, GMAIL_SCOPES), (GoogleCalendar, CALENDAR_SCOPES)],
)
def test_a_service_account_signs_in_as_the_delegate(
    tmp_path: Path, make: type, scopes: tuple[str, ...]
) -> None:
    path, public_key, _ = service_account_file(tmp_path)
    config = write_program(tmp_path)
    mock = Recorder(
        [
            ok({"access_token": "ya29.delegated", "expires_in": 3600, "token_type": "Bearer"}),
            ok({"emailAddress": "mentoring@example.org", "historyId": "1"}),
            ok({}),
        ]
    )
    options = make.Options(service_account_file=path.name, delegate="mentoring@example.org")
    connector = make(options, config, transport=mock)
    if make is GoogleMailbox:
        connector.fetch(None)
    else:
        connector.cancel_event(UID, b"")

    token, api = mock.calls[:2]
    assert (token.method, token.url) == ("POST", "https://oauth2.googleapis.com/token")
    assert token.body["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, payload, signature = token.body["assertion"].split(".")
    assert _b64json(header)["alg"] == "RS256"
    claims = _b64json(payload)
    assert claims["sub"] == "mentoring@example.org"
    assert claims["iss"] == "mentormail@mentormail-test.iam.gserviceaccount.com"
    assert claims["aud"] == TOKEN_URI
    assert claims["scope"].split() == list(scopes)
    public_key.verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        f"{header}.{payload}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert api.headers["authorization"] == "Bearer ya29.delegated"


def test_delegation_not_set_up_is_explained_without_the_key(tmp_path: Path) -> None:
    path, _, pem = service_account_file(tmp_path)
    config = write_program(tmp_path)
    refused = {
        "error": "unauthorized_client",
        "error_description": "Client is unauthorized to retrieve access tokens using this method, "
        "or client not authorized for any of the scopes requested.",
    }
    mock = Recorder([({"status": "401", "content-type": "application/json"}, json.dumps(refused))])
    options = GoogleMailbox.Options(service_account_file=path, delegate="mentoring@example.org")
    box = GoogleMailbox(options, config, transport=mock)
    with pytest.raises(ConnectorError) as caught:
        box.was_sent("mm.1@example.org")
    text = str(caught.value)
    assert text.startswith("Gmail mentoring@example.org: sign-in failed: unauthorized_client")
    assert (
        "authorize client ID 104857600000000000001 for https://www.googleapis.com/auth/gmail.modify"
        in text
    )
    assert "\n" not in text
    assert not any(line in text for line in pem.splitlines()[1:-1])


def test_a_token_file_is_refreshed_through_the_given_transport(tmp_path: Path) -> None:
    api = GoogleApiEmulator()
    config = write_program(tmp_path)
    write_token_file(tmp_path)
    box = GoogleMailbox(
        GoogleMailbox.Options(token_file="google-token.json"), config, transport=api
    )
    assert box.fetch(None)[0] == []
    (grant,) = api.grants
    assert grant["grant_type"] == "refresh_token"
    assert grant["refresh_token"] == "1//emulated-refresh-token"
    assert grant["client_id"] == "1234-emulated.apps.googleusercontent.com"


def test_a_revoked_token_is_explained_without_secrets(tmp_path: Path) -> None:
    config = write_program(tmp_path)
    write_token_file(tmp_path)
    refused = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    mock = Recorder([({"status": "400", "content-type": "application/json"}, json.dumps(refused))])
    cal = GoogleCalendar(
        GoogleCalendar.Options(token_file="google-token.json"), config, transport=mock
    )
    with pytest.raises(ConnectorError) as caught:
        cal.cancel_event(UID, b"")
    text = str(caught.value)
    assert text.startswith("Google Calendar mentoring@example.org: sign-in failed: invalid_grant")
    assert "google-token.json was revoked or expired" in text
    for secret in ("GOCSPX-emulated-client-secret", "1//emulated-refresh-token"):
        assert secret not in text


def test_options_need_exactly_one_way_in() -> None:
    with pytest.raises(ValidationError, match="exactly one of service_account_file"):
        GoogleMailbox.Options()
    with pytest.raises(ValidationError, match="exactly one of service_account_file"):
        GoogleCalendar.Options(
            service_account_file="sa.json", token_file="t.json", delegate="a@b.c"
        )
    with pytest.raises(ValidationError, match="needs delegate"):
        GoogleMailbox.Options(service_account_file="sa.json")
    with pytest.raises(ValidationError, match="delegate goes with service_account_file"):
        GoogleCalendar.Options(token_file="t.json", delegate="a@b.c")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        GoogleMailbox.Options(token_file="t.json", password="x")
    with pytest.raises(ValidationError):
        GoogleCalendar.Options(token_file="t.json", send_updates="everyone")


def test_a_missing_or_broken_file_is_reported_when_opening(tmp_path: Path) -> None:
    config = write_program(tmp_path)
    with pytest.raises(
        ConnectorError, match=r"cannot read token_file .*missing.json: No such file"
    ):
        GoogleMailbox(GoogleMailbox.Options(token_file="missing.json"), config)
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConnectorError, match=r"service_account_file .*broken.json is not JSON"):
        GoogleCalendar(
            GoogleCalendar.Options(service_account_file="broken.json", delegate="m@example.org"),
            config,
        )


def test_importing_the_module_loads_no_google_library() -> None:
    code = (
        "import connectors.google, sys; "
        "assert not any(m.startswith(('googleapiclient', 'google.auth', 'httplib2')) "
        "for m in sys.modules), sorted(m for m in sys.modules if 'google' in m)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_missing_library_is_named_when_the_connector_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.config.loading import load_config
    from connectors.registry import open_mailbox

    write_token_file(tmp_path)
    text = (ROOT / "config" / "minimal.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "mail: {type: maildir, path: ./mail}", "mail: {type: google, token_file: google-token.json}"
    )
    (tmp_path / "program.yaml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "program.yaml")
    monkeypatch.setitem(sys.modules, "googleapiclient", None)
    with pytest.raises(ConnectorError, match=r"pip install 'mentormail\[google\]'"):
        open_mailbox(config)


# --- behaviour against the emulator ----------------------------------------------------------


def open_mailbox(tmp_path: Path, api: GoogleApiEmulator) -> GoogleMailbox:
    config = write_program(tmp_path)
    write_token_file(tmp_path)
    options = GoogleMailbox.Options(token_file="google-token.json", since=date(2000, 1, 1))
    return GoogleMailbox(options, config, transport=api)


def open_calendar(tmp_path: Path, api: GoogleApiEmulator, **options: Any) -> GoogleCalendar:
    config = write_program(tmp_path)
    write_token_file(tmp_path)
    return GoogleCalendar(
        GoogleCalendar.Options(token_file="google-token.json", **options), config, transport=api
    )


def test_expired_history_reads_the_inbox_again_without_losing_mail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = GoogleApiEmulator()
    box = open_mailbox(tmp_path, api)
    first = api.deliver(incoming("First"))
    _, cursor = box.fetch(None)
    api.expire_history()
    second = api.deliver(incoming("Second"))
    with caplog.at_level(logging.WARNING):
        messages, cursor = box.fetch(cursor)
    assert [m.ref for m in messages] == [first, second]  # the first was never marked handled
    assert "reading the whole inbox again" in caplog.text
    for message in messages:
        box.mark_handled(message.ref, "processed")
    assert box.fetch(cursor)[0] == []


def test_mail_moved_back_into_the_inbox_is_read_again(tmp_path: Path) -> None:
    api = GoogleApiEmulator()
    box = open_mailbox(tmp_path, api)
    mid = api.deliver(incoming("Quarantined, then released"))
    messages, cursor = box.fetch(None)
    box.mark_handled(mid, "quarantine")
    assert box.fetch(cursor)[0] == []
    label = next(lid for lid, name in api.labels.items() if name == "mentormail/quarantine")
    api.answer(  # the coordinator moves it back in Gmail's web interface
        "POST",
        f"{GMAIL}/messages/{mid}/modify",
        json.dumps({"addLabelIds": ["INBOX"], "removeLabelIds": [label]}),
        {"authorization": f"Bearer {next(iter(api.tokens))}"},
    )
    messages, cursor = box.fetch(cursor)
    assert [m.ref for m in messages] == [mid]


def test_many_messages_go_in_batches_of_fifty(tmp_path: Path) -> None:
    api = GoogleApiEmulator(page_size=500)
    box = open_mailbox(tmp_path, api)
    delivered = [api.deliver(incoming(f"Reply {n}")) for n in range(120)]
    messages, _ = box.fetch(None)
    assert [m.ref for m in messages] == delivered
    batches = [r for r in api.requests if "/batch" in r.url]
    parts = [r for r in api.requests if r.batch]
    assert len(batches) == 3 and len(parts) == 120


def changed_series() -> tuple[Series, Series]:
    series = booked(UID)
    starts = series.slot().occurrences()
    changed = series.model_copy(
        update={
            "sequence": 2,
            "skipped": [starts[1]],
            "moved": {original_key(starts[2]): datetime(2027, 3, 31, 16, 30, tzinfo=BERLIN)},
        }
    )
    return series, changed


def test_repeating_an_update_sends_nothing_twice(tmp_path: Path) -> None:
    api = GoogleApiEmulator()
    cal = open_calendar(tmp_path, api)
    series, changed = changed_series()
    cal.put_event(UID, series_bytes(series))
    cal.put_event(UID, series_bytes(changed))
    before = list(api.notifications)
    cal.put_event(UID, series_bytes(changed))  # a retry after a crash

    assert len(api.events) == 1
    assert api.notifications[len(before) :] == [("patch", EID, "all")]  # the series only
    meetings = api.meetings(api.events[EID])
    assert len(meetings) == len(series.slot().occurrences()) - 1
    assert (
        datetime(2027, 3, 31, 14, 30, tzinfo=UTC),
        datetime(2027, 3, 31, 15, 15, tzinfo=UTC),
    ) in meetings


def test_a_meeting_no_longer_moved_or_skipped_is_put_back(tmp_path: Path) -> None:
    api = GoogleApiEmulator()
    cal = open_calendar(tmp_path, api)
    series, changed = changed_series()
    cal.put_event(UID, series_bytes(changed))
    cal.put_event(UID, series_bytes(series.model_copy(update={"sequence": 3})))
    starts = series.slot().occurrences()
    assert api.meetings(api.events[EID]) == [
        (s.astimezone(UTC), (s + timedelta(minutes=45)).astimezone(UTC)) for s in starts
    ]


def test_a_cancelled_series_booked_again_comes_back(tmp_path: Path) -> None:
    api = GoogleApiEmulator()
    cal = open_calendar(tmp_path, api, meet=True)
    series = booked(UID)
    cal.put_event(UID, series_bytes(series))
    link = api.events[EID].resource["hangoutLink"]
    cal.cancel_event(UID, b"")
    cal.cancel_event(UID, b"")  # a retry: 410, fine
    assert api.events[EID].resource["status"] == "cancelled"
    cal.put_event(UID, series_bytes(series.model_copy(update={"sequence": 4})))
    resource = api.events[EID].resource
    assert resource["status"] == "confirmed"
    assert resource["hangoutLink"] == link  # the same conference, not a second one
    assert len(api.meetings(api.events[EID])) == len(series.slot().occurrences())


def test_busy_over_more_than_ninety_days_is_asked_in_parts(tmp_path: Path) -> None:
    api = GoogleApiEmulator()
    cal = open_calendar(tmp_path, api)
    start = datetime(2027, 3, 1, tzinfo=UTC)
    late = (datetime(2027, 7, 1, 9, tzinfo=UTC), datetime(2027, 7, 1, 10, tzinfo=UTC))
    api.appointments["ana@example.org"] = [late]
    found = cal.busy(
        ["ana@example.org", "nobody@elsewhere.example"], start, start + timedelta(days=150)
    )
    assert found == {"ana@example.org": [late]}
    assert len([r for r in api.requests if r.url.endswith("/freeBusy?alt=json")]) == 2


def test_check_reports_sign_in_sender_labels_and_calendar_access(tmp_path: Path) -> None:
    api = GoogleApiEmulator()
    box = open_mailbox(tmp_path, api)
    lines = box.check()
    assert [(what, good) for what, good, _ in lines] == [
        ("gmail login", True),
        ("gmail sender", True),
        ("gmail labels", True),
    ]
    assert "is created on first use" in lines[2][2]
    assert not any(lid.startswith("Label_") for lid in api.labels)  # check changes nothing

    api.owner = "other@example.org"
    api.send_as = [{"sendAsEmail": "other@example.org", "isPrimary": True}]
    assert box.check()[1] == (
        "gmail sender",
        False,
        "program.sender.email mentoring@example.org is not a send-as address of "
        "other@example.org: Gmail would send as other@example.org",
    )

    api.appointments["ana@example.org"] = []
    cal_lines = open_calendar(tmp_path, api).check()
    assert cal_lines[0][:2] == ("google calendar", True)
    assert "access owner" in cal_lines[0][2]
    assert cal_lines[1] == (
        "google calendar free/busy",
        True,
        "busy time readable for 1 of 2; unknown (planned as free): ben@example.net",
    )


def test_check_never_raises(tmp_path: Path, sleeps: list[float]) -> None:
    api = GoogleApiEmulator()
    api.faults.append(Fault("GET", r"/profile", 500, times=99))
    box = open_mailbox(tmp_path, api)
    (line,) = box.check()
    assert line[0] == "gmail login" and not line[1]
