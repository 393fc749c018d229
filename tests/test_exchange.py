"""The exchange connectors against the EWS emulation in tests/exchange_api.py (no network).

What is proven, by reading the SOAP requests Exchange receives and the state it ends in:
mail is synchronised (SyncFolderItems, full and incremental, resync on a refused sync
state), read as MIME (GetItem), moved into created folders (FindFolder, CreateFolder,
MoveItem), sent as MIME with SendAndSaveCopy and found again in Sent Items by Message-ID;
a series becomes one recurring meeting (CreateItem with WeeklyRecurrence, EndDateRecurrence,
time zone, attendees, SendToAllAndSaveCopy), is updated only where it changed, moved and
skipped meetings address occurrences by index, retries converge, cancel deletes with
cancellations; busy time comes from GetUserAvailability in 42-day windows. Failures
(ErrorInvalidRecipients, ErrorServerBusy, 401, unreachable, TLS) are one-line errors
without secrets; the module imports without exchangelib; check() reports.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import requests_mock
from pydantic import ValidationError

from agent.meetings.ics import series_ics
from agent.meetings.slots import SeriesSlot
from agent.pairs.program import Series, original_key
from connectors.base import ConnectorError, DeliveryRefused
from connectors.exchange import ExchangeOptions, trust_ca
from connectors.exchange_calendar import ExchangeCalendar
from connectors.exchange_mail import ExchangeMailbox, MailCursor
from tests.exchange_api import (
    ENDPOINT,
    MAILBOX,
    NS,
    PASSWORD,
    PASSWORD_ENV,
    USERNAME,
    EwsFault,
    EwsItemError,
    ExchangeServer,
    exchange_config,
)

ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2027, 2, 1, 9, tzinfo=UTC)
ANA = ("Ana Álvarez", "ana@example.org")
BO = ("Bo Chen", "bo@example.net")


# --- helpers --------------------------------------------------------------------------------


def mail_message(subject: str, n: int = 0) -> bytes:
    message = EmailMessage()
    message["From"] = BO[1]
    message["To"] = MAILBOX
    message["Subject"] = subject
    message["Message-ID"] = f"<reply-{n}-{time.monotonic_ns()}@example.net>"
    message.set_content(f"{subject}\n")
    return bytes(message)


def outgoing(message_id: str = "mm.1@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Mentoring <{MAILBOX}>"
    message["To"] = f"{ANA[0]} <{ANA[1]}>"
    message["Cc"] = "coordinator@example.org"
    message["Bcc"] = "archive@example.org"
    message["Subject"] = "Welcome – schön, dass du dabei bist"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content("Hello Ana,\n\nwelcome.\n")
    return message


def open_mailbox(directory: Path, **extra: Any) -> ExchangeMailbox:
    config = exchange_config(directory, "mail", **{"since": "2020-01-01", **extra})
    return ExchangeMailbox(ExchangeMailbox.Options.model_validate(config.mail.options), config)


def open_calendar(directory: Path, **extra: Any) -> ExchangeCalendar:
    config = exchange_config(directory, "calendar", **extra)
    return ExchangeCalendar(
        ExchangeCalendar.Options.model_validate(config.calendar.options), config
    )


def series(uid: str = "mentormail-ana-ben-1@example.org", hour: int = 15, **update: Any) -> Series:
    """Fortnightly Tuesdays from 2 March 2027 in Berlin (across the 28 March DST change)."""
    slot = SeriesSlot(
        tz=BERLIN,
        first_start=datetime(2027, 3, 2, hour, 0, tzinfo=BERLIN),
        duration=timedelta(minutes=45),
        interval_weeks=2,
        until=datetime(2027, 5, 31, 21, 59, tzinfo=UTC),
    )
    made = Series.from_slot(uid, slot)
    return made.model_copy(update=update) if update else made


def ics(
    s: Series,
    *,
    summary: str = "Mentoring: Ana & Bo",
    location: str = "https://meet.example.org/p1",
) -> bytes:
    return series_ics(
        method="CANCEL" if s.status == "cancelled" else "REQUEST",
        uid=s.uid,
        sequence=s.sequence,
        slot=s.slot(),
        summary=summary,
        description="Your regular mentoring meeting.",
        video_link=location,
        organizer=("Mentoring", MAILBOX),
        attendees=[ANA, BO],
        dtstamp=STAMP,
        skipped=s.skipped,
        moved=s.moved_meetings(),
    )


def planned(s: Series) -> list[tuple[datetime, datetime]]:
    return sorted(
        (start.astimezone(UTC), (start + s.duration).astimezone(UTC)) for _, start in s.meetings()
    )


def writes(server: ExchangeServer) -> list[str]:
    return [op for op in server.operations() if op in {"CreateItem", "UpdateItem", "DeleteItem"}]


def set_fields(request: Any) -> set[str]:
    """FieldURIs of the SetItemField updates in an UpdateItem request."""
    path = "m:ItemChanges/t:ItemChange/t:Updates/t:SetItemField/t:FieldURI"
    return {f.get("FieldURI") for f in request.findall(path)}


# --- importing and options ------------------------------------------------------------------


def test_importing_the_module_does_not_import_exchangelib() -> None:
    code = (
        "import sys\n"
        "import connectors.exchange_calendar as c, connectors.exchange_mail as m\n"
        "assert m.ExchangeMailbox.Options.model_fields['processed_folder']\n"
        "assert c.ExchangeCalendar.invites_attendees is True\n"
        "assert 'exchangelib' not in sys.modules, 'exchangelib was imported'\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_options_keep_secrets_out_of_the_config() -> None:
    base = {"service_endpoint": ENDPOINT, "mailbox": MAILBOX, "username": USERNAME}
    with pytest.raises(ValidationError, match="password itself never goes in the config"):
        ExchangeOptions.model_validate(base)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ExchangeOptions.model_validate({**base, "password": PASSWORD})
    with pytest.raises(ValidationError, match="only one of"):
        ExchangeOptions.model_validate({**base, "password_env": "A", "password_file": "b"})
    with pytest.raises(ValidationError, match="needs client_id and tenant_id"):
        ExchangeOptions.model_validate({**base, "auth_type": "oauth", "client_secret_env": "S"})
    app = {
        **base,
        "auth_type": "oauth",
        "client_id": "a",
        "tenant_id": "t",
        "client_secret_env": "S",
    }
    with pytest.raises(ValidationError, match="set access: impersonation"):
        ExchangeOptions.model_validate(app)
    assert ExchangeOptions.model_validate({**app, "access": "impersonation"}).username == USERNAME
    with pytest.raises(ValidationError, match="service_endpoint"):
        ExchangeOptions.model_validate(
            {**base, "password_env": "A", "service_endpoint": "mail.example.org"}
        )
    ok = ExchangeMailbox.Options.model_validate({**base, "password_env": "A"})
    assert (ok.auth_type, ok.access, ok.processed_folder) == (
        "ntlm",
        "delegate",
        "mentormail processed",
    )


def test_a_missing_password_variable_is_reported_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(ConnectorError, match=f"environment variable {PASSWORD_ENV}"):
        open_mailbox(tmp_path)


# --- reading mail ---------------------------------------------------------------------------


def test_first_fetch_synchronises_the_whole_inbox_and_reads_mime(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    first, second = mail_message("First", 1), mail_message("Second", 2)
    exchange_server.deliver(first)
    exchange_server.deliver(second)
    mailbox = open_mailbox(tmp_path)

    raws, cursor = mailbox.fetch(None)

    assert [r.data for r in raws] == [first, second]  # the MIME bytes as delivered, oldest first
    sync = exchange_server.last("SyncFolderItems")
    assert sync.find("m:SyncFolderId/t:DistinguishedFolderId").get("Id") == "inbox"
    assert sync.text("m:SyncFolderId/t:DistinguishedFolderId/t:Mailbox/t:EmailAddress") == MAILBOX
    assert sync.find("m:SyncState") is None  # no state: everything in the inbox
    get = exchange_server.last("GetItem")
    asked = {
        f.get("FieldURI") for f in get.findall("m:ItemShape/t:AdditionalProperties/t:FieldURI")
    }
    assert {"item:MimeContent", "item:DateTimeReceived"} <= asked
    assert [i.get("Id") for i in get.findall("m:ItemIds/t:ItemId")] == [r.ref for r in raws]
    assert cursor is not None and cursor.startswith("v1:{")
    parsed = MailCursor.parse(cursor)
    assert parsed.pending == [r.ref for r in raws] and parsed.sync_state
    mailbox.close()


def test_later_fetches_ask_for_changes_and_return_what_is_still_unhandled(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    mailbox = open_mailbox(tmp_path)
    first = exchange_server.deliver(mail_message("First", 1))
    raws, cursor = mailbox.fetch(None)
    state = MailCursor.parse(cursor).sync_state

    second = exchange_server.deliver(mail_message("Second", 2))
    raws, cursor = mailbox.fetch(cursor)  # the first was never marked handled
    assert [r.ref for r in raws] == [first.id, second.id]
    assert exchange_server.last("SyncFolderItems").text("m:SyncState") == state

    del exchange_server.mails[first.id]  # someone deleted it in Outlook meanwhile
    raws, cursor = mailbox.fetch(cursor)
    assert [r.ref for r in raws] == [second.id]
    mailbox.close()


def test_a_refused_sync_state_means_a_full_resync_with_a_warning(
    exchange_server: ExchangeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox = open_mailbox(tmp_path)
    exchange_server.deliver(mail_message("Old", 1))
    raws, cursor = mailbox.fetch(None)
    mailbox.mark_handled(raws[0].ref, "processed")
    newer = exchange_server.deliver(mail_message("New", 2))
    exchange_server.sync_states.clear()  # e.g. the mailbox was moved to another database

    with caplog.at_level(logging.WARNING):
        raws, _ = mailbox.fetch(cursor)

    assert [r.ref for r in raws] == [newer.id]
    syncs = [r for r in exchange_server.requests if r.operation == "SyncFolderItems"]
    assert syncs[-2].text("m:SyncState") == MailCursor.parse(cursor).sync_state
    assert syncs[-1].find("m:SyncState") is None
    assert "no longer accepts the inbox's sync state" in caplog.text
    assert "ErrorInvalidSyncStateData" in caplog.text
    mailbox.close()


def test_mail_from_before_the_program_is_left_alone(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    mailbox = open_mailbox(tmp_path, since="2027-02-10")
    old = exchange_server.deliver(mail_message("Old newsletter", 1))  # 1 February
    raws, cursor = mailbox.fetch(None)
    assert raws == []
    exchange_server.clock = datetime(2027, 2, 20, 8, tzinfo=UTC)
    new = exchange_server.deliver(mail_message("Reply", 2))
    raws, _ = mailbox.fetch(cursor)
    assert [r.ref for r in raws] == [new.id]
    assert old.id in exchange_server.mails  # untouched in the inbox
    mailbox.close()


def test_an_unreadable_cursor_reads_the_whole_inbox(
    exchange_server: ExchangeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox = open_mailbox(tmp_path)
    exchange_server.deliver(mail_message("One", 1))
    with caplog.at_level(logging.WARNING):
        raws, _ = mailbox.fetch("v0:garbage")
    assert len(raws) == 1 and "unreadable Exchange mailbox cursor" in caplog.text
    mailbox.close()


def test_handled_messages_are_moved_in_one_request_into_created_folders(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    mailbox = open_mailbox(tmp_path, quarantine_folder="mentormail/quarantine")
    for n in range(3):
        exchange_server.deliver(mail_message(f"Reply {n}", n))
    raws, _ = mailbox.fetch(None)

    mailbox.mark_handled(raws[0].ref, "processed")
    mailbox.mark_handled(raws[1].ref, "quarantine")
    assert "MoveItem" not in exchange_server.operations()  # batched until the last one
    mailbox.mark_handled(raws[2].ref, "processed")

    moves = [r for r in exchange_server.requests if r.operation == "MoveItem"]
    processed = exchange_server.folder_path("mentormail processed")
    quarantine = exchange_server.folder_path("mentormail/quarantine")
    assert processed is not None and quarantine is not None
    assert quarantine.parent == exchange_server.folder_path("mentormail").id
    by_target = {m.find("m:ToFolderId/t:FolderId").get("Id"): m for m in moves}
    assert set(by_target) == {processed.id, quarantine.id}
    assert [i.get("Id") for i in by_target[processed.id].findall("m:ItemIds/t:ItemId")] == [
        raws[0].ref,
        raws[2].ref,
    ]
    created = [r for r in exchange_server.requests if r.operation == "CreateFolder"]
    first_parent = created[0].find("m:ParentFolderId/t:DistinguishedFolderId")
    assert first_parent is not None and first_parent.get("Id") == "inbox"
    find = exchange_server.last("FindFolder")
    assert find.find("m:Restriction/t:IsEqualTo/t:FieldURI").get("FieldURI") == "folder:DisplayName"
    assert exchange_server.in_folder(exchange_server.distinguished("inbox")) == []
    assert len(exchange_server.in_folder(processed)) == 2
    mailbox.close()


def test_a_message_already_gone_counts_as_moved(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    mailbox = open_mailbox(tmp_path)
    mail = exchange_server.deliver(mail_message("Gone", 1))
    raws, _ = mailbox.fetch(None)
    del exchange_server.mails[mail.id]
    mailbox.mark_handled(raws[0].ref, "processed")  # MoveItem answers ErrorItemNotFound
    assert "MoveItem" in exchange_server.operations()
    mailbox.close()


def test_a_failed_move_raises_and_the_message_comes_back(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    mailbox = open_mailbox(tmp_path)
    mail = exchange_server.deliver(mail_message("Stays", 1))
    raws, cursor = mailbox.fetch(None)

    def denied() -> None:
        raise EwsItemError(
            "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        )

    exchange_server.fail_next("MoveItem", denied)
    with pytest.raises(ConnectorError) as caught:
        mailbox.mark_handled(raws[0].ref, "processed")
    assert "ErrorAccessDenied" in str(caught.value) and "stay in the inbox" in str(caught.value)
    raws, _ = mailbox.fetch(cursor)
    assert [r.ref for r in raws] == [mail.id]
    mailbox.close()


# --- sending --------------------------------------------------------------------------------


def test_send_hands_exchange_the_mime_and_saves_a_copy_to_sent_items(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    mailbox = open_mailbox(tmp_path)
    mailbox.send(outgoing("mm.42@example.org"))

    create = exchange_server.last("CreateItem")
    assert create.element.get("MessageDisposition") == "SendAndSaveCopy"
    assert create.find("m:SavedItemFolderId/t:DistinguishedFolderId").get("Id") == "sentitems"
    mime = base64.b64decode(create.text("m:Items/t:Message/t:MimeContent") or "")
    sent = message_from_bytes(mime, policy=policy.default)
    assert sent["Message-ID"] == "<mm.42@example.org>"
    assert sent["Subject"] == "Welcome – schön, dass du dabei bist"
    assert b"\r\n" in mime and b"\n\n" not in mime.replace(b"\r\n", b"")
    [accepted] = exchange_server.sent
    assert accepted.message_id == "mm.42@example.org"
    assert accepted.recipients == {
        "ana@example.org",
        "coordinator@example.org",
        "archive@example.org",
    }
    mailbox.close()

    again = open_mailbox(tmp_path)  # a new process: found in Sent Items, not in memory
    assert again.was_sent("mm.42@example.org")
    find = exchange_server.last("FindItem")
    assert (
        find.find("m:Restriction/t:IsEqualTo/t:FieldURI").get("FieldURI")
        == "message:InternetMessageId"
    )
    assert (
        find.find("m:Restriction/t:IsEqualTo/t:FieldURIOrConstant/t:Constant").get("Value")
        == "<mm.42@example.org>"
    )
    assert find.find("m:ParentFolderIds/t:DistinguishedFolderId").get("Id") == "sentitems"
    assert not again.was_sent("mm.43@example.org")
    again.close()


def test_invalid_recipients_are_a_delivery_refusal(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    exchange_server.refuse_recipients = {"ana@example.org"}
    mailbox = open_mailbox(tmp_path)
    with pytest.raises(DeliveryRefused) as caught:
        mailbox.send(outgoing())
    assert "ana@example.org" in caught.value.recipients
    assert caught.value.reply.startswith("ErrorInvalidRecipients: At least one recipient")
    assert exchange_server.sent == []
    mailbox.close()


def test_a_missing_send_as_right_says_so(exchange_server: ExchangeServer, tmp_path: Path) -> None:
    def denied() -> None:
        raise EwsItemError(
            "ErrorSendAsDenied",
            "The user account which was used to submit this request does not have the right "
            "to send mail on behalf of the specified sending account.",
        )

    exchange_server.fail_next("CreateItem", denied)
    mailbox = open_mailbox(tmp_path)
    with pytest.raises(ConnectorError) as caught:
        mailbox.send(outgoing())
    assert not isinstance(caught.value, DeliveryRefused)
    assert "ErrorSendAsDenied" in str(caught.value) and "grant it Send As" in str(caught.value)
    mailbox.close()


# --- failures -------------------------------------------------------------------------------


def test_server_busy_fails_fast_with_the_back_off(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    def busy() -> None:
        raise EwsFault(
            "ErrorServerBusy", "The server cannot service this request right now.", 30000
        )

    exchange_server.fail_next("SyncFolderItems", busy)
    mailbox = open_mailbox(tmp_path)
    began = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        mailbox.fetch(None)
    assert time.monotonic() - began < 20  # FailFast: no 30 s back-off inside a tick
    assert exchange_server.operations().count("SyncFolderItems") == 1
    text = str(caught.value)
    assert text.startswith(
        f"Exchange {ENDPOINT} {MAILBOX}: synchronising the inbox: ErrorServerBusy"
    )
    assert "wait 30 s" in text
    mailbox.fetch(None)  # the next tick works
    mailbox.close()


def test_a_refused_login_names_the_user_but_never_the_password(
    exchange_server: ExchangeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange_server.password = "something-else"
    mailbox = open_mailbox(tmp_path)
    with pytest.raises(ConnectorError) as caught:
        mailbox.fetch(None)
    text = str(caught.value)
    assert text == (
        f"Exchange {ENDPOINT} {MAILBOX}: opening the inbox: "
        f"login as {USERNAME} refused (401 Unauthorized)"
    )
    assert PASSWORD not in text and "\n" not in text
    lines = mailbox.check()
    assert lines[0][0] == "exchange login" and not lines[0][1] and PASSWORD not in lines[0][2]

    monkeypatch.setenv(PASSWORD_ENV, "something-else")  # the password was rotated
    mailbox.fetch(None)  # the refused login was dropped: the new password is read
    mailbox.close()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            requests.exceptions.ConnectionError(
                "HTTPSConnectionPool(host='mail.example.org', port=443): Max retries exceeded "
                "(Caused by NewConnectionError(': Failed to establish a new connection: "
                "[Errno 111] Connection refused'))"
            ),
            "cannot connect: Connection refused",
        ),
        (
            requests.exceptions.SSLError(
                "HTTPSConnectionPool(host='mail.example.org', port=443): Max retries exceeded "
                "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
                "certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1006)')))"
            ),
            "TLS failed: certificate verify failed: self-signed certificate in certificate chain "
            "(an internal CA needs ca_file)",
        ),
    ],
)
def test_unreachable_and_tls_failures_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, expected: str
) -> None:
    from exchangelib import close_connections

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with requests_mock.Mocker() as mocker:
        mocker.post(ENDPOINT, exc=error)
        mailbox = open_mailbox(tmp_path)
        with pytest.raises(ConnectorError) as caught:
            mailbox.fetch(None)
        mailbox.close()
    close_connections()
    assert str(caught.value) == f"Exchange {ENDPOINT} {MAILBOX}: opening the inbox: {expected}"


def test_http_503_is_a_server_failure(exchange_server: ExchangeServer, tmp_path: Path) -> None:
    exchange_server.fail_next(
        "GetFolder", lambda: (503, {"Content-Type": "text/html"}, b"Service Unavailable")
    )
    mailbox = open_mailbox(tmp_path)
    with pytest.raises(ConnectorError, match="opening the inbox: the server failed"):
        mailbox.fetch(None)
    mailbox.close()


# --- logins -----------------------------------------------------------------------------------


def test_impersonation_sends_the_exchange_impersonation_header(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    mailbox = open_mailbox(tmp_path, access="impersonation")
    mailbox.fetch(None)
    header = exchange_server.requests[0].envelope.find("s:Header", NS)
    sid = header.find("t:ExchangeImpersonation/t:ConnectingSID/t:PrimarySmtpAddress", NS)
    assert sid is not None and sid.text == MAILBOX
    mailbox.close()


def test_without_a_version_exchangelib_asks_the_server_once(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    config = exchange_config(tmp_path, "mail")
    options = {k: v for k, v in config.mail.options.items() if k != "version"}
    mailbox = ExchangeMailbox(ExchangeMailbox.Options.model_validate(options), config)
    mailbox.fetch(None)
    assert exchange_server.operations()[0] == "ConvertId"  # the version probe
    assert exchange_server.operations().count("ConvertId") == 1
    mailbox.close()


def test_ntlm_is_the_default_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from requests_ntlm import HttpNtlmAuth

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    config = exchange_config(tmp_path, "mail")
    options = {k: v for k, v in config.mail.options.items() if k != "auth_type"}
    mailbox = ExchangeMailbox(ExchangeMailbox.Options.model_validate(options), config)
    account = mailbox.ews.account()
    session = account.protocol.create_session()  # no request is sent for this
    assert isinstance(session.auth, HttpNtlmAuth)
    assert session.auth.username == USERNAME  # DOMAIN\\user, as requests_ntlm takes it
    session.close()
    mailbox.close()


def test_oauth_asks_entra_id_for_a_token_for_the_on_premises_host(
    exchange_server: ExchangeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "client-s3cret-value"
    monkeypatch.setenv("MENTORMAIL_TEST_CLIENT_SECRET", secret)
    exchange_server.bearer = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.token"
    token_url = "https://login.microsoftonline.com/tenant-1234/oauth2/v2.0/token"
    config = exchange_config(tmp_path, "mail")
    options = {
        k: v for k, v in config.mail.options.items() if k not in {"username", "password_env"}
    } | {
        "auth_type": "oauth",
        "client_id": "app-5678",
        "tenant_id": "tenant-1234",
        "client_secret_env": "MENTORMAIL_TEST_CLIENT_SECRET",
        "access": "impersonation",
    }
    with requests_mock.Mocker(real_http=False) as mocker:
        mocker.post(ENDPOINT, content=exchange_server.handle)
        token = mocker.post(
            token_url,
            json={
                "token_type": "Bearer",
                "expires_in": 3599,
                "access_token": exchange_server.bearer,
            },
        )
        mailbox = ExchangeMailbox(ExchangeMailbox.Options.model_validate(options), config)
        mailbox.fetch(None)
        form = token.last_request.text
        mailbox.close()
    assert "grant_type=client_credentials" in form
    assert "scope=https%3A%2F%2Fmail.example.org%2F.default" in form
    assert (
        exchange_server.requests[0].headers["Authorization"] == f"Bearer {exchange_server.bearer}"
    )


def test_ca_file_is_trusted_for_its_host_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from exchangelib.protocol import BaseProtocol

    import connectors.exchange as module

    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", BaseProtocol.HTTP_ADAPTER_CLS)
    monkeypatch.setattr(module, "_CA_FILES", {})
    ca_file = tmp_path / "internal-ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    trust_ca("mail.example.org", str(ca_file))
    trust_ca("mail.example.org", str(ca_file))  # idempotent: one adapter class

    adapter = BaseProtocol.get_adapter()
    assert type(adapter).__name__ == "CaFileAdapter"
    request = requests.Request("POST", ENDPOINT).prepare()
    pool = adapter.get_connection_with_tls_context(request, True)  # no connection is made
    assert pool.ca_certs == str(ca_file)
    other = requests.Request("POST", "https://elsewhere.example.com/").prepare()
    assert adapter.get_connection_with_tls_context(other, True).ca_certs != str(ca_file)
    adapter.close()


# --- checking -------------------------------------------------------------------------------


def test_mailbox_check_reports_without_sending(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    mailbox = open_mailbox(tmp_path)
    exchange_server.deliver(mail_message("Waiting", 1))
    lines = mailbox.check()
    assert all(ok for _, ok, _ in lines), lines
    names = [name for name, _, _ in lines]
    assert names == [
        "exchange login",
        "exchange inbox",
        "exchange processed_folder",
        "exchange quarantine_folder",
        "exchange sent items",
        "exchange calendar",
    ]
    assert "build 15.2.1544.4" in lines[0][2] and "1 message(s) in it" in lines[1][2]
    assert exchange_server.sent == [] and exchange_server.folder_path("mentormail processed")
    mailbox.close()


# --- the calendar ---------------------------------------------------------------------------


def test_put_event_creates_one_recurring_meeting_exchange_invites_to(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))

    create = exchange_server.last("CreateItem")
    assert create.element.get("SendMeetingInvitations") == "SendToAllAndSaveCopy"
    assert create.find("m:SavedItemFolderId/t:DistinguishedFolderId").get("Id") == "calendar"
    item = create.find("m:Items/t:CalendarItem")

    def text(path: str) -> str | None:
        return item.findtext(path, namespaces=NS)

    assert text("t:Subject") == "Mentoring: Ana & Bo"
    assert text("t:Location") == "https://meet.example.org/p1"
    assert text("t:UID") == booked.uid
    assert text("t:ExtendedProperty/t:Value") == booked.uid
    uri = item.find("t:ExtendedProperty/t:ExtendedFieldURI", NS)
    assert (uri.get("DistinguishedPropertySetId"), uri.get("PropertyName")) == (
        "PublicStrings",
        "mentormail-uid",
    )
    assert text("t:Start") == "2027-03-02T15:00:00+01:00"
    assert text("t:End") == "2027-03-02T15:45:00+01:00"
    assert item.find("t:StartTimeZone", NS).get("Id") == "W. Europe Standard Time"
    assert text("t:Recurrence/t:WeeklyRecurrence/t:Interval") == "2"
    assert text("t:Recurrence/t:WeeklyRecurrence/t:DaysOfWeek") == "Tuesday"
    assert text("t:Recurrence/t:EndDateRecurrence/t:StartDate") == "2027-03-02"
    assert text("t:Recurrence/t:EndDateRecurrence/t:EndDate") == "2027-05-31"
    attendees = item.findall("t:RequiredAttendees/t:Attendee/t:Mailbox", NS)
    assert [
        (a.findtext("t:Name", namespaces=NS), a.findtext("t:EmailAddress", namespaces=NS))
        for a in attendees
    ] == [ANA, BO]

    meeting = exchange_server.meeting_by_uid(booked.uid)
    assert meeting is not None and meeting.meetings() == planned(booked)
    assert [(n.operation, n.flag) for n in exchange_server.notices] == [
        ("CreateItem", "SendToAllAndSaveCopy")
    ]
    calendar.close()


def test_a_repeated_put_event_writes_nothing(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))
    before = len(exchange_server.requests)
    calendar.put_event(booked.uid, ics(booked.model_copy(update={"sequence": 3})))
    assert [r.operation for r in exchange_server.requests[before:]] == ["FindItem", "GetItem"]
    find = exchange_server.requests[before]
    uri = find.find("m:Restriction/t:IsEqualTo/t:ExtendedFieldURI")
    assert uri.get("PropertyName") == "mentormail-uid"
    assert (
        find.find("m:Restriction/t:IsEqualTo/t:FieldURIOrConstant/t:Constant").get("Value")
        == booked.uid
    )
    assert len(exchange_server.meetings) == 1 and writes(exchange_server) == ["CreateItem"]
    calendar.close()


def test_only_changed_fields_are_updated_and_attendees_told(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))
    calendar.put_event(
        booked.uid,
        ics(
            booked, summary="Mentoring: Ana & Bo (new link)", location="https://meet.example.org/p2"
        ),
    )

    update = exchange_server.last("UpdateItem")
    assert update.element.get("SendMeetingInvitationsOrCancellations") == "SendToAllAndSaveCopy"
    assert set_fields(update) == {"item:Subject", "calendar:Location"}
    meeting = exchange_server.meeting_by_uid(booked.uid)
    assert meeting is not None and meeting.location == "https://meet.example.org/p2"
    calendar.close()


def test_moved_and_skipped_meetings_address_occurrences_by_index(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))
    starts = booked.slot().occurrences()
    moved_to = datetime(2027, 3, 31, 16, 30, tzinfo=BERLIN)
    changed = booked.model_copy(
        update={"sequence": 1, "skipped": [starts[1]], "moved": {original_key(starts[2]): moved_to}}
    )
    calendar.put_event(changed.uid, ics(changed))

    delete = exchange_server.last("DeleteItem")
    assert delete.element.get("SendMeetingCancellations") == "SendToAllAndSaveCopy"
    occurrence = delete.find("m:ItemIds/t:OccurrenceItemId")
    assert occurrence.get("InstanceIndex") == "2"
    get = [r for r in exchange_server.requests if r.operation == "GetItem"][-1]
    assert get.find("m:ItemIds/t:OccurrenceItemId").get("InstanceIndex") == "3"
    update = exchange_server.last("UpdateItem")
    assert update.element.get("SendMeetingInvitationsOrCancellations") == "SendToAllAndSaveCopy"
    start = update.find(
        "m:ItemChanges/t:ItemChange/t:Updates/t:SetItemField/t:CalendarItem/t:Start"
    )
    assert start.text == "2027-03-31T16:30:00+02:00"
    meeting = exchange_server.meeting_by_uid(booked.uid)
    assert meeting is not None and meeting.meetings() == planned(changed)

    before = len(exchange_server.requests)
    calendar.put_event(changed.uid, ics(changed))  # repeated: already as planned
    assert [r.operation for r in exchange_server.requests[before:]] == ["FindItem", "GetItem"]
    calendar.close()


def test_an_interrupted_update_converges_on_the_next_try(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))
    starts = booked.slot().occurrences()
    changed = booked.model_copy(
        update={
            "sequence": 1,
            "skipped": [starts[1]],
            "moved": {original_key(starts[2]): starts[2] + timedelta(days=1)},
        }
    )

    def busy() -> None:
        raise EwsFault("ErrorServerBusy", "The server cannot service this request right now.")

    exchange_server.fail_next("UpdateItem", busy)  # the skip is done, the move fails
    with pytest.raises(ConnectorError, match="ErrorServerBusy"):
        calendar.put_event(changed.uid, ics(changed))
    calendar.put_event(changed.uid, ics(changed))

    assert writes(exchange_server).count("DeleteItem") == 1  # the skip was not sent twice
    meeting = exchange_server.meeting_by_uid(booked.uid)
    assert meeting is not None and meeting.meetings() == planned(changed)
    assert len(exchange_server.meetings) == 1
    calendar.close()


def test_an_occurrence_already_deleted_counts_as_skipped(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))
    changed = booked.model_copy(update={"sequence": 1, "skipped": [booked.slot().occurrences()[1]]})

    def gone() -> None:
        raise EwsItemError(
            "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
            "Occurrence with this index was previously deleted from the recurrence.",
        )

    exchange_server.fail_next("DeleteItem", gone)
    calendar.put_event(changed.uid, ics(changed))  # no error
    calendar.close()


def test_a_new_time_rewrites_the_series_and_applies_skips_again(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    skipped = booked.model_copy(update={"sequence": 1, "skipped": [booked.slot().occurrences()[1]]})
    calendar.put_event(booked.uid, ics(skipped))
    later = series(hour=17).model_copy(
        update={"sequence": 2, "skipped": [series(hour=17).slot().occurrences()[1]]}
    )
    calendar.put_event(later.uid, ics(later))

    update = [r for r in exchange_server.requests if r.operation == "UpdateItem"][-1]
    assert {"calendar:Start", "calendar:End", "calendar:StartTimeZone"} <= set_fields(update)
    meeting = exchange_server.meeting_by_uid(booked.uid)
    assert meeting is not None and meeting.meetings() == planned(later)
    calendar.close()


def test_a_moved_meeting_that_is_then_skipped_is_deleted(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    starts = booked.slot().occurrences()
    moved = booked.model_copy(
        update={"sequence": 1, "moved": {original_key(starts[3]): starts[3] + timedelta(hours=2)}}
    )
    calendar.put_event(booked.uid, ics(moved))
    skipped = moved.model_copy(update={"sequence": 2, "moved": {}, "skipped": [starts[3]]})
    calendar.put_event(booked.uid, ics(skipped))

    assert (
        exchange_server.last("DeleteItem").find("m:ItemIds/t:OccurrenceItemId").get("InstanceIndex")
        == "4"
    )
    updates = [r for r in exchange_server.requests if r.operation == "UpdateItem"]
    assert all("calendar:Recurrence" not in set_fields(r) for r in updates)  # no reset needed
    meeting = exchange_server.meeting_by_uid(booked.uid)
    assert meeting is not None and meeting.meetings() == planned(skipped)
    calendar.close()


def test_a_meeting_no_longer_skipped_comes_back(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    skipped = booked.model_copy(update={"sequence": 1, "skipped": [booked.slot().occurrences()[2]]})
    calendar.put_event(booked.uid, ics(skipped))
    calendar.put_event(booked.uid, ics(booked.model_copy(update={"sequence": 2})))

    update = exchange_server.last("UpdateItem")
    assert set_fields(update) == {"calendar:Recurrence"}  # written again: every meeting back
    meeting = exchange_server.meeting_by_uid(booked.uid)
    assert meeting is not None and meeting.meetings() == planned(booked)
    calendar.close()


def test_put_event_of_a_cancelled_series_cancels_it(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))
    calendar.put_event(booked.uid, ics(booked.model_copy(update={"status": "cancelled"})))
    assert exchange_server.meeting_by_uid(booked.uid) is None
    assert exchange_server.notices[-1].operation == "DeleteItem"
    calendar.close()


def test_cancel_deletes_with_cancellations_and_is_idempotent(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))
    cancelled = booked.model_copy(update={"status": "cancelled", "sequence": 1})
    calendar.cancel_event(booked.uid, ics(cancelled))

    delete = exchange_server.last("DeleteItem")
    assert delete.element.get("DeleteType") == "MoveToDeletedItems"
    assert delete.element.get("SendMeetingCancellations") == "SendToAllAndSaveCopy"
    assert exchange_server.meeting_by_uid(booked.uid) is None
    calendar.cancel_event(booked.uid, ics(cancelled))  # already gone: nothing to do
    assert writes(exchange_server).count("DeleteItem") == 1
    calendar.close()


def test_busy_reads_free_busy_in_42_day_windows(
    exchange_server: ExchangeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exchange_server.freebusy["ana@example.org"] = [
        (datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 10, tzinfo=UTC), "Busy"),
        (
            datetime(2027, 3, 2, 9, 30, tzinfo=UTC),
            datetime(2027, 3, 2, 11, tzinfo=UTC),
            "Tentative",
        ),
        (datetime(2027, 4, 20, 8, tzinfo=UTC), datetime(2027, 4, 23, 18, tzinfo=UTC), "OOF"),
        (datetime(2027, 3, 5, 9, tzinfo=UTC), datetime(2027, 3, 5, 10, tzinfo=UTC), "Free"),
        (datetime(2027, 2, 28, 23, tzinfo=UTC), datetime(2027, 3, 1, 1, tzinfo=UTC), "Busy"),
    ]
    exchange_server.unknown_people = {"gone@example.net"}
    calendar = open_calendar(tmp_path)
    start, end = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 30, tzinfo=UTC)
    with caplog.at_level(logging.WARNING):
        found = calendar.busy(["ana@example.org", "bo@example.net", "gone@example.net"], start, end)

    assert found == {
        "ana@example.org": [
            (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 1, 1, tzinfo=UTC)),  # clipped
            (datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 11, tzinfo=UTC)),  # merged
            (datetime(2027, 4, 20, 8, tzinfo=UTC), datetime(2027, 4, 23, 18, tzinfo=UTC)),
        ],
        "bo@example.net": [],
    }
    assert "gone@example.net" in caplog.text and "ErrorMailRecipientNotFound" in caplog.text
    asks = [r for r in exchange_server.requests if r.operation == "GetUserAvailability"]
    windows = [
        (
            a.text("t:FreeBusyViewOptions/t:TimeWindow/t:StartTime"),
            a.text("t:FreeBusyViewOptions/t:TimeWindow/t:EndTime"),
        )
        for a in asks
    ]
    assert windows == [
        ("2027-03-01T00:00:00Z", "2027-04-12T00:00:00Z"),
        ("2027-04-12T00:00:00Z", "2027-05-24T00:00:00Z"),
        ("2027-05-24T00:00:00Z", "2027-05-30T00:00:00Z"),
    ]
    first = [e.text for e in asks[0].findall("m:MailboxDataArray/t:MailboxData/t:Email/t:Address")]
    later = [e.text for e in asks[1].findall("m:MailboxDataArray/t:MailboxData/t:Email/t:Address")]
    assert first == ["ana@example.org", "bo@example.net", "gone@example.net"]
    assert later == ["ana@example.org", "bo@example.net"]  # the failing address is not asked again
    assert asks[0].text("t:FreeBusyViewOptions/t:RequestedView") == "FreeBusy"
    calendar.close()


def test_busy_leaves_out_the_programs_own_meetings(
    exchange_server: ExchangeServer, tmp_path: Path
) -> None:
    calendar = open_calendar(tmp_path)
    booked = series()
    calendar.put_event(booked.uid, ics(booked))
    first = planned(booked)[0]  # 2 March 14:00-14:45 UTC, in Ana's calendar as well
    dentist = (datetime(2027, 3, 3, 8, tzinfo=UTC), datetime(2027, 3, 3, 9, tzinfo=UTC))
    exchange_server.freebusy["ana@example.org"] = [(*first, "Busy"), (*dentist, "Busy")]

    found = calendar.busy(
        ["ana@example.org"], datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 8, tzinfo=UTC)
    )

    assert found == {"ana@example.org": [dentist]}
    view = exchange_server.last("FindItem").find("m:CalendarView")
    assert (view.get("StartDate"), view.get("EndDate")) == (
        "2027-03-01T00:00:00Z",
        "2027-03-08T00:00:00Z",
    )
    calendar.close()


def test_calendar_check_reports(exchange_server: ExchangeServer, tmp_path: Path) -> None:
    calendar = open_calendar(tmp_path)
    calendar.put_event(series().uid, ics(series()))
    lines = calendar.check()
    assert [name for name, _, _ in lines] == [
        "exchange login",
        "exchange calendar",
        "exchange free/busy",
    ]
    assert all(ok for _, ok, _ in lines), lines
    assert "1 program meeting(s)" in lines[1][2]
    calendar.close()


@pytest.fixture(autouse=True)
def _no_cached_logins() -> Iterator[None]:
    """exchangelib caches a Protocol per endpoint and login; tests must not share one."""
    yield
    from exchangelib import close_connections

    close_connections()
