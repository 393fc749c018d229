"""ImapMailbox against a real Dovecot on 127.0.0.1 (see tests/mailservers.py)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from connectors.base import ConnectorError
from connectors.imap import FETCH_BATCH, Cursor, ImapMailbox, parse_uid_set, uid_set
from tests.mailservers import TIMINGS, MailServers, MailUser, OpenMailbox, TcpProxy, program_config

OLD = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)  # before every `since` used here
SINCE = "2024-01-01"


def raw(n: int | str, subject: str | None = None, size: int = 0) -> bytes:
    body = f"message {n}\r\n" + ("x" * 70 + "\r\n") * (size // 72)
    return (
        f"From: Ana <ana@example.test>\r\nTo: program@example.test\r\n"
        f"Subject: {subject or f'message {n}'}\r\nMessage-ID: <m{n}@example.test>\r\n"
        f"Date: Mon, 01 Mar 2027 09:00:00 +0000\r\n\r\n{body}"
    ).encode()


def append(
    client: IMAPClient, folder: str, messages: list[bytes], when: datetime | None = None
) -> None:
    """MULTIAPPEND in chunks (one round trip per 500 messages)."""
    for start in range(0, len(messages), 500):
        chunk = messages[start : start + 500]
        client.multiappend(folder, [{"msg": m, "date": when} if when else m for m in chunk])


def ids(messages: list[Any]) -> list[str]:
    return [m.data.split(b"Message-ID: <m", 1)[1].split(b"@", 1)[0].decode() for m in messages]


def test_uid_sets_round_trip() -> None:
    assert uid_set([7, 1, 2, 3, 9, 10]) == "1:3,7,9:10"
    assert parse_uid_set("1:3,7,9:10") == {1, 2, 3, 7, 9, 10}
    assert str(Cursor(5, 12, {3, 4})) == "v1:5:12:3:4"
    cursor = Cursor.parse("v1:5:12:3:4")
    assert cursor is not None and (cursor.uidvalidity, cursor.last, cursor.pending) == (
        5,
        12,
        {3, 4},
    )
    assert Cursor.parse("garbage") is None and Cursor.parse(None) is None


def test_fetch_is_incremental_lossless_and_leaves_mail_unseen(
    mail_servers: MailServers, imap_mailbox
) -> None:
    user = mail_servers.new_user("program")
    client = mail_servers.imap(user)
    append(client, "INBOX", [raw(f"old{i}") for i in range(3)], when=OLD)
    append(client, "INBOX", [raw(i) for i in range(3)])
    box: ImapMailbox = imap_mailbox(user, since=SINCE)

    first, cursor = box.fetch(None)
    assert ids(first) == ["0", "1", "2"]  # oldest first; the 2020 mail is left alone
    client.select_folder("INBOX", readonly=True)
    flags = client.get_flags([int(m.ref) for m in first])
    assert all(b"\\Seen" not in f for f in flags.values())  # BODY.PEEK[]

    again, cursor = box.fetch(cursor)  # nothing handled yet: everything comes back
    assert ids(again) == ["0", "1", "2"]
    box.mark_handled(again[0].ref, "processed")
    box.mark_handled(again[1].ref, "quarantine")
    append(client, "INBOX", [raw(3)])
    later, cursor = box.fetch(cursor)
    assert ids(later) == ["2", "3"]  # the one never moved, and the new one
    for m in later:
        box.mark_handled(m.ref, "processed")

    # INBOX now holds only the 2020 mail; `last+1:*` would match its highest UID
    empty, cursor = box.fetch(cursor)
    assert empty == []
    assert box.fetch(cursor)[0] == []
    # mail moved in later with an old date still counts: it is new by UID
    append(client, "INBOX", [raw("moved-in")], when=OLD)
    moved, cursor = box.fetch(cursor)
    assert ids(moved) == ["moved-in"]
    box.mark_handled(moved[0].ref, "processed")
    box.mark_handled(moved[0].ref, "processed")  # again: idempotent

    client.select_folder("INBOX", readonly=True)
    assert len(client.search(["ALL"])) == 3  # only the old mail is left
    client.select_folder("mentormail.processed", readonly=True)
    assert len(client.search(["ALL"])) == 4
    client.select_folder("mentormail.quarantine", readonly=True)
    assert len(client.search(["ALL"])) == 1
    client.logout()


@pytest.mark.parametrize("use_move", [True, False], ids=["MOVE", "COPY+EXPUNGE"])
def test_mark_handled_moves_with_move_or_copy_expunge(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, use_move: bool
) -> None:
    user = mail_servers.new_user("program")
    client = mail_servers.imap(user)
    append(client, "INBOX", [raw(i) for i in range(3)])
    client.select_folder("INBOX")
    client.add_flags([1], [b"\\Deleted"])  # someone else's deleted mail must survive
    box: ImapMailbox = imap_mailbox(user, since=SINCE, processed_folder="done/ok")
    box.use_move = use_move
    messages, _ = box.fetch(None)
    assert ids(messages) == ["1", "2"]  # \Deleted is not returned
    for m in messages:
        box.mark_handled(m.ref, "processed")
        box.mark_handled(m.ref, "processed")  # idempotent when the UID is gone
    client.select_folder("INBOX", readonly=True)
    assert client.search(["ALL"]) == [1]
    client.select_folder("done.ok", readonly=True)
    moved = client.fetch(client.search(["ALL"]), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]", "FLAGS"])
    assert len(moved) == 2
    assert all(b"\\Deleted" not in v[b"FLAGS"] for v in moved.values())
    client.logout()


def test_uidvalidity_change_resyncs_without_losing_mail(
    mail_servers: MailServers, imap_mailbox
) -> None:
    user = mail_servers.new_user("program")
    client = mail_servers.imap(user)
    client.create_folder("Program")
    append(client, "Program", [raw(i) for i in range(3)])
    box: ImapMailbox = imap_mailbox(user, since=SINCE, folder="Program")
    messages, cursor = box.fetch(None)
    box.mark_handled(messages[0].ref, "processed")
    before = Cursor.parse(cursor)
    assert before is not None

    # the folder is re-created (as after a server migration): same mail, new UIDVALIDITY
    client.rename_folder("Program", "Program-old")
    client.create_folder("Program")
    client.select_folder("Program-old")
    client.move(client.search(["ALL"]), "Program")
    append(client, "Program", [raw(3)])
    assert client.folder_status("Program", ["UIDVALIDITY"])[b"UIDVALIDITY"] != before.uidvalidity

    resynced, cursor = box.fetch(cursor)
    assert ids(resynced) == ["1", "2", "3"]  # everything still there, nothing skipped
    for m in resynced:
        box.mark_handled(m.ref, "processed")
    assert box.fetch(cursor)[0] == []
    client.logout()


def test_first_run_with_2000_messages_is_batched(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, monkeypatch
) -> None:
    user = mail_servers.new_user("program")
    client = mail_servers.imap(user)
    t0 = time.monotonic()
    append(client, "INBOX", [raw(f"old{i}", size=1500) for i in range(300)], when=OLD)
    append(client, "INBOX", [raw(i, size=1500) for i in range(2000)])
    client.logout()
    filled = time.monotonic() - t0
    box: ImapMailbox = imap_mailbox(user, since=SINCE)

    calls: list[int] = []
    original = IMAPClient.fetch

    def counting(self: IMAPClient, messages: Any, data: Any, modifiers: Any = None) -> Any:
        calls.append(len(messages))
        return original(self, messages, data, modifiers)

    monkeypatch.setattr(IMAPClient, "fetch", counting)
    t0 = time.monotonic()
    messages, cursor = box.fetch(None)
    fetched = time.monotonic() - t0
    assert ids(messages) == [str(i) for i in range(2000)]
    assert calls == [FETCH_BATCH] * (2000 // FETCH_BATCH)
    t0 = time.monotonic()
    for m in messages:
        box.mark_handled(m.ref, "processed")
    moved = time.monotonic() - t0
    assert box.fetch(cursor)[0] == []
    TIMINGS.append(("APPEND 2,300 messages (test setup)", filled))
    TIMINGS.append((f"first fetch of 2,000 of them, {len(calls)} FETCH commands", fetched))
    TIMINGS.append(("mark_handled of the 2,000 (batched MOVE)", moved))


def test_idle_wakes_up_on_smtp_delivery(
    mail_servers: MailServers, imap_mailbox: OpenMailbox
) -> None:
    user = mail_servers.new_user("program")
    sender = mail_servers.new_user("ana")
    box: ImapMailbox = imap_mailbox(user, since=SINCE)
    box.fetch(None)
    t0 = time.monotonic()
    assert box.wait(0.3) is False  # nothing arrives: times out
    assert 0.25 < time.monotonic() - t0 < 10  # (upper bound: it did not hang)

    def deliver() -> None:
        time.sleep(0.3)
        mail_servers.send(sender, [user.login], raw("pushed"))

    thread = threading.Thread(target=deliver)
    t0 = time.monotonic()
    thread.start()
    assert box.wait(60) is True
    woke = time.monotonic() - t0
    thread.join()
    assert woke < 30, woke  # woken by the delivery, not by the end of the wait
    TIMINGS.append(("IDLE woke up after an SMTP submission", woke))
    # mail that arrived between the fetch and the wait is not slept through
    mail_servers.send(sender, [user.login], raw("between"))
    mail_servers.wait_for(user, ["SUBJECT", "message between"])
    t0 = time.monotonic()
    assert box.wait(60) is True and time.monotonic() - t0 < 30
    messages, _ = box.fetch(None)
    assert {"pushed", "between"} <= set(ids(messages))


def test_a_connection_dropped_mid_fetch_is_retried_then_reported(
    mail_servers: MailServers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user = mail_servers.new_user("program")
    client = mail_servers.imap(user)
    append(client, "INBOX", [raw(i, size=20_000) for i in range(5)])
    client.logout()
    proxy = TcpProxy(mail_servers.imap_port)
    from tests.mailservers import open_imap_mailbox

    box: ImapMailbox = open_imap_mailbox(
        program_config(mail_servers, user, tmp_path, port=proxy.port, since=SINCE)
    )
    try:
        _, cursor = box.fetch(None)
        proxy.cut_after(30_000)  # in the middle of the second message's body
        messages, _ = box.fetch(cursor)  # retried once on a new connection: nothing lost
        assert ids(messages) == ["0", "1", "2", "3", "4"]
        assert "connection lost" in caplog.text and user.password not in caplog.text
        proxy.cut()  # dropped while idle: noticed before the next command
        assert len(box.fetch(cursor)[0]) == 5
    finally:
        box.close()
        proxy.close()


def test_an_unreachable_server_is_a_clear_error(mail_servers: MailServers, tmp_path: Path) -> None:
    from tests.mailservers import free_port, open_imap_mailbox

    user = mail_servers.new_user("program")
    port = free_port()  # nothing listens there
    box: ImapMailbox = open_imap_mailbox(program_config(mail_servers, user, tmp_path, port=port))
    try:
        with pytest.raises(ConnectorError) as caught:
            box.fetch(None)
        text = str(caught.value)
        assert f"127.0.0.1:{port}" in text and user.password not in text
    finally:
        box.close()


def test_dovecot_restart_between_fetches(
    mail_servers: MailServers, imap_mailbox: OpenMailbox
) -> None:
    user = mail_servers.new_user("program")
    sender = mail_servers.new_user("ana")
    box: ImapMailbox = imap_mailbox(user, since=SINCE)
    _, cursor = box.fetch(None)
    assert box.wait(0.1) is False  # the IDLE connection exists too
    mail_servers.dovecot.restart()
    mail_servers.send(sender, [user.login], raw("after-restart"))
    mail_servers.wait_for(user, ["ALL"])
    messages, cursor = box.fetch(cursor)  # the next call reconnects and works
    assert ids(messages) == ["after-restart"]
    box.mark_handled(messages[0].ref, "processed")
    assert box.wait(0.1) is False


def test_wrong_password_and_missing_secret_are_clear_errors(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, monkeypatch
) -> None:
    user = mail_servers.new_user("program")
    wrong = MailUser(user.login, "not-the-password-" + user.password)
    box: ImapMailbox = imap_mailbox(wrong)
    with pytest.raises(ConnectorError) as caught:
        box.fetch(None)
    text = str(caught.value)
    assert f"IMAP 127.0.0.1:{mail_servers.imap_port}" in text and "login" in text
    assert wrong.password not in text and user.password not in text
    checks = box.check()  # reports instead of raising
    assert checks[0][:2] == ("imap login", False) and wrong.password not in str(checks)

    monkeypatch.delenv("MENTORMAIL_TEST_IMAP_PASSWORD", raising=False)
    with pytest.raises(ConnectorError, match="MENTORMAIL_TEST_IMAP_PASSWORD"):
        imap_mailbox(user, password_file=None, password_env="MENTORMAIL_TEST_IMAP_PASSWORD")
    monkeypatch.setenv("MENTORMAIL_TEST_IMAP_PASSWORD", user.password)
    box = imap_mailbox(user, password_file=None, password_env="MENTORMAIL_TEST_IMAP_PASSWORD")
    assert box.fetch(None)[0] == []


def test_check_reports_login_capabilities_folders_and_smtp(
    mail_servers: MailServers, imap_mailbox
) -> None:
    user = mail_servers.new_user("program")
    box: ImapMailbox = imap_mailbox(user)
    transactions = mail_servers.smtp.handler.transactions
    report = {what: (ok, detail) for what, ok, detail in box.check()}
    assert all(ok for ok, _ in report.values()), report
    assert set(report) >= {
        "imap login",
        "imap IDLE",
        "imap MOVE",
        "imap UIDPLUS",
        "imap folder",
        "imap processed_folder",
        "imap quarantine_folder",
        "imap sent_folder",
        "smtp connect + login",
        "smtp send permission",
    }
    assert report["imap processed_folder"][1] == "mentormail.processed created"
    assert "Sent" in report["imap sent_folder"][1]
    assert mail_servers.smtp.handler.transactions == transactions  # nothing was sent
    again = {what: detail for what, _, detail in box.check()}
    assert again["imap processed_folder"] == "mentormail.processed exists"


def message(sender: str, to: list[str], subject: str, body: str = "Hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}-{time.monotonic_ns()}@example.test>"
    msg.set_content(body)
    return msg


def test_full_sent_mailbox_is_a_clear_error(
    mail_servers: MailServers, imap_mailbox: OpenMailbox
) -> None:
    user = mail_servers.new_user("full", quota_rule="*:storage=1K")
    ana = mail_servers.new_user("ana")
    box: ImapMailbox = imap_mailbox(user)
    msg = message(user.login, [ana.login], "too big for Sent", "words " * 400)
    with pytest.raises(ConnectorError) as caught:
        box.send(msg)
    text = str(caught.value)
    assert "OVERQUOTA" in text and "WAS delivered" in text and user.password not in text
    assert len(mail_servers.wait_for(ana, ["SUBJECT", "too big for Sent"])) == 1
    assert box.was_sent(msg["Message-ID"].strip("<>"))  # remembered by this process


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_with_a_private_ca(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, security: str
) -> None:
    user, ana = mail_servers.new_user("program"), mail_servers.new_user("ana")
    cert = str(mail_servers.dovecot.cert)
    port = mail_servers.dovecot.imaps_port if security == "ssl" else mail_servers.imap_port
    box: ImapMailbox = imap_mailbox(
        user,
        security=security,
        port=port,
        ca_file=cert,
        smtp={"security": "starttls", "ca_file": cert},
        since=SINCE,
    )
    msg = message(user.login, [ana.login, user.login], f"over {security}")
    box.send(msg)
    messages, _ = box.fetch(None)
    assert [m.data for m in messages if b"over " + security.encode() in m.data]
    assert box.was_sent(msg["Message-ID"])
    assert all(ok for _, ok, _ in box.check())

    untrusted: ImapMailbox = imap_mailbox(user, security=security, port=port)  # no ca_file
    with pytest.raises(ConnectorError, match=r"TLS failed.*certificate verify failed"):
        untrusted.fetch(None)


def test_wait_without_idle_polls(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = mail_servers.new_user("program")
    box: ImapMailbox = imap_mailbox(user)
    real = IMAPClient.has_capability
    monkeypatch.setattr(
        IMAPClient, "has_capability", lambda self, cap: cap.upper() != "IDLE" and real(self, cap)
    )
    t0 = time.monotonic()
    assert box.wait(0.3) is False  # slept: the service's regular poll fetches
    assert 0.25 < time.monotonic() - t0 < 10  # (upper bound: it did not hang)


def test_a_failed_move_is_reported_and_the_messages_come_back(
    mail_servers: MailServers, tmp_path: Path
) -> None:
    from tests.mailservers import open_imap_mailbox

    user = mail_servers.new_user("program")
    client = mail_servers.imap(user)
    append(client, "INBOX", [raw(i) for i in range(3)])
    client.logout()
    proxy = TcpProxy(mail_servers.imap_port)
    box: ImapMailbox = open_imap_mailbox(
        program_config(mail_servers, user, tmp_path, port=proxy.port, since=SINCE)
    )
    try:
        messages, cursor = box.fetch(None)
        box.mark_handled(messages[0].ref, "processed")
        box.mark_handled(messages[1].ref, "processed")
        proxy.cut_after(0)  # the moves are sent with the last one, and get no answer
        with pytest.raises(ConnectorError, match=r"moving handled message\(s\) 1:3 out of INBOX"):
            box.mark_handled(messages[2].ref, "quarantine")
        again, cursor = box.fetch(cursor)
        assert ids(again) == ["0", "1", "2"]  # still there, so read again (and deduplicated)
        for m in again:
            box.mark_handled(m.ref, "processed")
        assert box.fetch(cursor)[0] == []
    finally:
        box.close()
        proxy.close()
