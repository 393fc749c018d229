"""Machines that answer: out-of-office replies postpone reminders, bounces stop mail to an address.

Driven through the CLI on the embedded default, like tests/test_lifecycle_e2e.py.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from tests.test_lifecycle_e2e import Program, at, gmail_reply

BEN = "Ben.Becker@example.net"


@pytest.fixture
def program(tmp_path: Path, cli) -> Program:
    return Program(tmp_path, cli)


def out_of_office(original: EmailMessage, sender: str, body: str, when: str) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["Reply-To"]
    reply["Subject"] = "Automatic reply: " + original["Subject"]
    reply["Date"] = format_datetime(at(when))
    reply["Message-ID"] = make_msgid(domain="mail.example.net")
    reply["Auto-Submitted"] = "auto-replied"
    reply["In-Reply-To"] = original["Message-ID"]
    reply.set_content(body)
    return reply


def delivery_failure(original: EmailMessage, recipient: str, when: str) -> bytes:
    """A bounce as Postfix sends it: multipart/report with message/delivery-status (RFC 3464)."""
    return (
        f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: mentoring@example.org\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(at(when))}\r\n"
        f"Message-ID: <{when}.bounce@mx.example.net>\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        f"\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"<{recipient}>: host mx.example.net said: 550 5.1.1 User unknown\r\n"
        f"\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: "
        f"User unknown\r\n"
        f"\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original['Message-ID']}\r\nSubject: {original['Subject']}\r\n"
        f"\r\n--B--\r\n"
    ).encode()


def deliver_raw(program: Program, data: bytes) -> None:
    import mailbox

    mailbox.Maildir(program.root / "mail" / "inbox").add(data)


def subjects(program: Program, to: str) -> list[str]:
    return sorted(m["Subject"] for m in program.sent(to))


def test_out_of_office_postpones_that_persons_reminders_until_they_are_back(
    program: Program,
) -> None:
    program.tick("2027-02-15T09:00")
    ana = program.only("ana@example.org", "agreement")
    ben = program.only(BEN, "agreement")
    program.deliver(
        out_of_office(
            ben,
            f"Ben Becker <{BEN}>",
            "Thank you for your message. I am out of the office until 24 February 2027 "
            "and will answer when I am back.\n\nBen",
            "2027-02-15T09:05",
        )
    )
    program.deliver(
        gmail_reply(ana, "Ana Alvarez <ana@example.org>", "I agree.", at("2027-02-15T12:00"))
    )
    before = len(program.sent(BEN))
    out = program.tick("2027-02-15T13:00")
    assert "auto_reply" in out
    assert len(program.sent(BEN)) == before  # an auto-reply is never answered

    program.tick("2027-02-18T09:00")  # three days: Ben would get reminder 1, but he is away
    assert not [s for s in subjects(program, BEN) if "reminder" in s.lower()]
    program.tick("2027-02-22T10:00")  # the coordinator still hears that the agreement is missing
    assert program.sent("coordinator@example.org")
    assert not [s for s in subjects(program, BEN) if "reminder" in s.lower()]

    program.tick("2027-02-25T09:00")  # back: one reminder, the one due now, no backlog
    program.tick("2027-02-25T15:00")
    reminders = [m for m in program.sent(BEN) if "reminder" in m["Subject"].lower()]
    assert len(reminders) == 1
    status = program.status("2027-02-25T15:00")["ana-ben"]
    assert status["stage"] == "agreement_pending" and status["away_until"] == {}
    assert program.status("2027-02-20T09:00")["ana-ben"]["away_until"] == {
        "mentee": "2027-02-25T00:00:00+01:00"
    }


def test_bounce_stops_mail_to_that_address_and_tells_the_coordinator_once(
    program: Program,
) -> None:
    program.tick("2027-02-15T09:00")
    ben = program.only(BEN, "agreement")
    deliver_raw(program, delivery_failure(ben, BEN.lower(), "2027-02-15T09:01"))
    program.tick("2027-02-15T10:00")

    notices = [
        m for m in program.sent("coordinator@example.org") if "cannot be delivered" in m["Subject"]
    ]
    assert len(notices) == 1
    body = notices[0].get_body(preferencelist=("plain",)).get_content()
    assert "550 5.1.1" in body and BEN.lower() in body and "Ben" in notices[0]["Subject"]

    held = program.status("2027-02-15T10:00")["ana-ben"]["undeliverable"]
    assert held["mentee"]["address"] == BEN.lower() and "550 5.1.1" in held["mentee"]["reason"]
    before = len(program.sent(BEN))
    program.tick("2027-02-18T09:00")  # Ana gets her reminder; nothing more goes to Ben's address
    program.tick("2027-02-19T09:00")
    assert len(program.sent(BEN)) == before
    assert [m for m in program.sent("ana@example.org") if "reminder" in m["Subject"].lower()]
    assert (
        len(
            [
                m
                for m in program.sent("coordinator@example.org")
                if "cannot be delivered" in m["Subject"]
            ]
        )
        == 1
    )

    # the coordinator fixes the address in the config: mail to Ben resumes at the new one
    program.config.write_text(
        program.config.read_text().replace(BEN, "ben@new.example.net"), encoding="utf-8"
    )
    program.tick("2027-02-19T10:00")
    assert [m for m in program.sent("ben@new.example.net") if "reminder" in m["Subject"].lower()]
    assert program.status("2027-02-19T10:00")["ana-ben"]["undeliverable"] == {}


def test_a_bounce_for_an_unknown_address_goes_to_the_coordinator_as_is(program: Program) -> None:
    program.tick("2027-02-15T09:00")
    ben = program.only(BEN, "agreement")
    deliver_raw(program, delivery_failure(ben, "someone@else.example", "2027-02-15T09:01"))
    out = program.tick("2027-02-15T10:00")
    assert "bounce" in out
    notices = [m for m in program.sent("coordinator@example.org") if "Needs you" in m["Subject"]]
    assert len(notices) == 1
    assert "someone@else.example" in notices[0].get_body(preferencelist=("plain",)).get_content()
    assert len(program.folder("processed")) == 1 and program.folder("inbox") == []


def test_bounces_and_auto_replies_are_kept(program: Program) -> None:
    """Machine mail is logged and moved to processed, never lost, never answered."""
    program.tick("2027-02-15T09:00")
    ben = program.only(BEN, "agreement")
    deliver_raw(program, delivery_failure(ben, BEN.lower(), "2027-02-15T09:01"))
    program.deliver(
        out_of_office(ben, f"Ben Becker <{BEN}>", "Out until Monday.", "2027-02-15T09:02")
    )
    program.tick("2027-02-15T10:00")
    kept = program.folder("processed")
    assert len(kept) == 2
    assert {m["Subject"].split(":")[0] for m in kept} == {
        "Undelivered Mail Returned to Sender",
        "Automatic reply",
    }
    assert program.folder("inbox") == []
