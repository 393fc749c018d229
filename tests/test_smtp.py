"""Sending through aiosmtpd into Dovecot: SmtpSender alone and ImapMailbox.send/was_sent."""

from __future__ import annotations

import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.base import ConnectorError, DeliveryRefused
from connectors.imap import ImapMailbox
from connectors.smtp import Credentials, SmtpSender
from tests.mailservers import TIMINGS, MailServers, MailUser, OpenMailbox, SmtpScript, TcpProxy


def message(sender: MailUser, to: list[str], subject: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Mentoring Program <{sender.login}>"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    for key, value in headers.items():
        msg[key] = value
    msg.set_content(f"{subject}\n\nHéllo, this is the program.\n.\nA line with a dot above.\n")
    return msg


def sender_for(
    servers: MailServers,
    user: MailUser,
    tmp_path: Path,
    password: str | None = None,
    port: int | None = None,
) -> SmtpSender:
    secret = tmp_path / f"{uuid.uuid4().hex}.password"
    secret.write_text(password or user.password)
    creds = Credentials(user.login, password_file=secret)
    return SmtpSender(
        servers.host,
        port or servers.smtp_port,
        security="none",
        credentials=creds,
        timeout=10,
        retry_delays=[0.01, 0.02, 0.04],
    )


def count_by_message_id(
    servers: MailServers, user: MailUser, message_id: str, folder: str = "INBOX", timeout: float = 2
) -> int:
    """How many copies are there (LMTP delivery finishes before the SMTP 250, so no wait)."""
    return len(
        servers.wait_for(user, ["HEADER", "Message-ID", message_id], folder=folder, timeout=timeout)
    )


def test_send_arrives_and_a_copy_is_in_sent(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, smtp_script: SmtpScript
) -> None:
    program, ana, ben = (mail_servers.new_user(n) for n in ("program", "ana", "ben"))
    box: ImapMailbox = imap_mailbox(program)
    msg = message(program, [ana.login], "Welcome", Bcc=ben.login)
    message_id = msg["Message-ID"].strip("<>")
    assert box.was_sent(message_id) is False
    box.send(msg)
    assert count_by_message_id(mail_servers, ana, message_id) == 1
    assert count_by_message_id(mail_servers, ben, message_id) == 1  # Bcc: in the envelope only
    client = mail_servers.imap(ana)
    client.select_folder("INBOX", readonly=True)
    (uid,) = client.search(["HEADER", "Message-ID", message_id])
    body = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    assert b"Bcc" not in body and b"\r\n..\r\n" not in body  # dot-stuffing undone by the server
    client.logout()
    sent = mail_servers.imap(program)
    sent.select_folder("Sent", readonly=True)
    (copy,) = sent.search(["HEADER", "Message-ID", message_id])
    assert b"\\Seen" in sent.get_flags([copy])[copy]
    sent.logout()
    assert box.was_sent(message_id) is True
    # a fresh process (no memory of the send) finds it in Sent
    assert imap_mailbox(program).was_sent(f"<{message_id}>") is True
    assert imap_mailbox(program).was_sent("never-sent@example.test") is False


def test_451_then_250_is_retried_and_delivered_once(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, smtp_script: SmtpScript
) -> None:
    program, ana = mail_servers.new_user("program"), mail_servers.new_user("ana")
    box: ImapMailbox = imap_mailbox(program)
    msg = message(program, [ana.login], "Agreement")
    before = mail_servers.smtp.handler.transactions
    smtp_script.fail_next(2)  # two 451s at DATA, then accepted
    box.send(msg)
    assert mail_servers.smtp.handler.transactions - before == 3
    assert count_by_message_id(mail_servers, ana, msg["Message-ID"]) == 1
    assert count_by_message_id(mail_servers, program, msg["Message-ID"], "Sent") == 1

    smtp_script.fail_next(1, "451 4.7.1 Greylisted, try again", stage="RCPT")
    box.send(late := message(program, [ana.login], "Greylisted"))
    assert count_by_message_id(mail_servers, ana, late["Message-ID"]) == 1


def test_451_every_time_is_a_connector_error_and_nothing_is_stored(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, smtp_script: SmtpScript
) -> None:
    program, ana = mail_servers.new_user("program"), mail_servers.new_user("ana")
    box: ImapMailbox = imap_mailbox(program)
    msg = message(program, [ana.login], "Never")
    smtp_script.fail_next(10, "451 4.3.0 Mailbox busy")
    with pytest.raises(ConnectorError) as caught:
        box.send(msg)
    assert not isinstance(caught.value, DeliveryRefused)
    assert "temporary failure after 4 tries" in str(caught.value) and "451 4.3.0" in str(
        caught.value
    )
    assert box.was_sent(msg["Message-ID"].strip("<>")) is False


def test_550_for_one_recipient_is_delivery_refused_naming_it(
    mail_servers: MailServers, imap_mailbox: OpenMailbox, smtp_script: SmtpScript
) -> None:
    program, ana = mail_servers.new_user("program"), mail_servers.new_user("ana")
    gone = f"gone-{uuid.uuid4().hex[:6]}@example.test"
    box: ImapMailbox = imap_mailbox(program)
    msg = message(program, [ana.login, gone], "Two recipients")
    with pytest.raises(DeliveryRefused) as caught:
        box.send(msg)
    assert caught.value.recipients == (gone,)
    assert "550 5.1.1" in caught.value.reply
    assert count_by_message_id(mail_servers, ana, msg["Message-ID"]) == 1  # the other got it
    assert box.was_sent(msg["Message-ID"].strip("<>")) is True

    smtp_script.refuse(ana.login, "554 5.7.1 Message rejected as spam")
    with pytest.raises(DeliveryRefused) as caught:
        box.send(message(program, [ana.login], "Refused"))
    assert caught.value.recipients == (ana.login,)


def test_wrong_password_is_a_connector_error_without_the_password(
    mail_servers: MailServers, smtp_script: SmtpScript, tmp_path: Path
) -> None:
    program = mail_servers.new_user("program")
    wrong = "wrong-" + uuid.uuid4().hex
    sender = sender_for(mail_servers, program, tmp_path, password=wrong)
    with pytest.raises(ConnectorError) as caught:
        sender.send(message(program, [program.login], "Nope"))
    text = str(caught.value)
    assert f"SMTP 127.0.0.1:{mail_servers.smtp_port}" in text and "login" in text and "535" in text
    assert wrong not in text and program.password not in text
    assert sender.check(program.login)[0][:2] == ("smtp connect + login", False)


def test_dropped_connections_reconnect(
    mail_servers: MailServers, smtp_script: SmtpScript, tmp_path: Path
) -> None:
    program, ana = mail_servers.new_user("program"), mail_servers.new_user("ana")
    proxy = TcpProxy(mail_servers.smtp_port)
    sender = sender_for(mail_servers, program, tmp_path, port=proxy.port)
    try:
        first = message(program, [ana.login], "First")
        sender.send(first)
        proxy.cut()  # the pooled connection dies between two sends: replaced at once
        second = message(program, [ana.login], "Second")
        sender.send(second)
        # dropped after the body was sent: the outcome is unknown, so no blind retry
        smtp_script.drop_next(1)
        third = message(program, [ana.login], "Third")
        with pytest.raises(ConnectorError, match="may or may not have been delivered"):
            sender.send(third)
        fourth = message(program, [ana.login], "Fourth")
        sender.send(fourth)  # reconnects
        for msg in (first, second, fourth):
            assert count_by_message_id(mail_servers, ana, msg["Message-ID"]) == 1
        assert count_by_message_id(mail_servers, ana, third["Message-ID"], timeout=0) == 0
    finally:
        sender.close()
        proxy.close()


def test_one_connection_for_a_batch_and_check_sends_nothing(
    mail_servers: MailServers, smtp_script: SmtpScript, tmp_path: Path
) -> None:
    program, ana = mail_servers.new_user("program"), mail_servers.new_user("ana")
    proxy = TcpProxy(mail_servers.smtp_port)
    sender = sender_for(mail_servers, program, tmp_path, port=proxy.port)
    try:
        t0 = time.monotonic()
        for i in range(20):
            sender.send(message(program, [ana.login], f"Batch {i}"))
        assert proxy.accepted == 1  # one connection for the whole batch
        TIMINGS.append(("20 sends on one SMTP connection", time.monotonic() - t0))
        before = mail_servers.smtp.handler.transactions
        report = sender.check(program.login)
        assert [(what, ok) for what, ok, _ in report] == [
            ("smtp connect + login", True),
            ("smtp send permission", True),
        ]
        assert "nothing sent" in report[1][2]
        assert mail_servers.smtp.handler.transactions == before
    finally:
        sender.close()
        proxy.close()
