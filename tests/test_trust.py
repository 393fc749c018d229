"""Who may change what by email (agent.pairs.trust, agent.mail_in.authresults), through the CLI.

A change (skip, move, rate, agree, leave ...) is applied at once only for a reply that
came with our token or thread *and* a DMARC pass from the receiving mail server's own
Authentication-Results. A forged From without token or thread changes nothing and the
coordinator is told; a token or thread without a trusted pass waits for the participant
to confirm from their configured address. Maildir (the default) and IMAP/SMTP (Dovecot).
"""

from __future__ import annotations

import email.policy
import mailbox
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import THREE_PAIRS
from tests.local_harness import ProgramCli
from tests.mailservers import MailServers, program_config
from tests.mta import stamp
from tests.test_lifecycle_e2e import Program, at, gmail_reply, outlook_reply
from tests.test_reschedule_e2e import (
    ANA,
    BEN,
    invitations,
    meeting_after,
    needs_you,
    next_meeting,
)

PARSER = BytesParser(policy=email.policy.default)
BEN_PHONE = "ben@phone.example.net"  # Ben's alias in THREE_PAIRS
SKIP = "I'm travelling next week, let's skip next week's session."


@pytest.fixture
def booked(tmp_path: Path, cli) -> Program:
    """ana-ben agreed (replies with a trusted DMARC pass) and their series is booked."""
    program = Program(tmp_path, cli)
    program.tick("2027-02-15T09:00")
    for who, name in ((ANA, "Ana Alvarez"), (BEN, "Ben Becker")):
        original = program.only(who, "agreement")
        program.deliver(
            gmail_reply(original, f"{name} <{who}>", "I agree.", at("2027-02-15T12:00"))
        )
    program.tick("2027-02-16T09:00")
    assert program.status("2027-02-16T09:00")["ana-ben"]["stage"] == "scheduled"
    return program


def deliver_raw(program: Program, data: bytes) -> None:
    mailbox.Maildir(program.root / "mail" / "inbox").add(data)


def received(message: EmailMessage, dmarc: str = "none") -> bytes:
    """The message as the program's MTA delivers it, with its DMARC verdict on top."""
    return stamp(message.as_bytes(policy=email.policy.SMTP), dmarc=dmarc)


def calendars(program: Program) -> dict[str, bytes]:
    """Every calendar file of the program (the organizer's calendar)."""
    root = program.root / "calendar"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.ics"))}


def text_of(message: EmailMessage) -> str:
    return " ".join(message.get_body(preferencelist=("plain",)).get_content().split())


def gmail_new(sender: str, to: str, subject: str, text: str, when: datetime) -> bytes:
    """A new email (no thread) as Gmail's web client sends it: text and HTML."""
    html = "".join(f"<div>{line or '<br>'}</div>" for line in text.splitlines())
    return (
        "MIME-Version: 1.0\r\n"
        f"Date: {format_datetime(when)}\r\n"
        "Message-ID: <CAKx9vQ1f0rG3d=Yp2mXk7Lw4t5sZ0cQ@mail.gmail.com>\r\n"
        f"Subject: {subject}\r\n"
        f"From: {sender}\r\n"
        f"To: {to}\r\n"
        'Content-Type: multipart/alternative; boundary="0000000000004f7b9c05e1a3b2c1"\r\n'
        "\r\n"
        "--0000000000004f7b9c05e1a3b2c1\r\n"
        'Content-Type: text/plain; charset="UTF-8"\r\n\r\n'
        f"{text}\r\n\r\n"
        "--0000000000004f7b9c05e1a3b2c1\r\n"
        'Content-Type: text/html; charset="UTF-8"\r\n\r\n'
        f'<div dir="ltr">{html}</div>\r\n\r\n'
        "--0000000000004f7b9c05e1a3b2c1--\r\n"
    ).encode()


def iphone_reply(original: EmailMessage, sender: str, text: str, when: datetime) -> EmailMessage:
    """A reply from the iPhone Mail app: plain text, quoted below "Sent from my iPhone"."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["Content-Type"] = "text/plain; charset=us-ascii"
    reply["Mime-Version"] = "1.0 (1.0)"
    reply["Subject"] = "Re: " + str(original["Subject"])
    reply["Date"] = format_datetime(when)
    reply["Message-Id"] = f"<8C5E2A1B-{int(when.timestamp())}-4D2F@example.net>"
    reply["References"] = original["Message-ID"]
    reply["In-Reply-To"] = original["Message-ID"]
    reply["To"] = str(original["Reply-To"] or original["From"])
    reply["X-Mailer"] = "iPhone Mail (21D61)"
    body = original.get_body(preferencelist=("plain",)).get_content()
    quoted = "\n".join("> " + line if line else ">" for line in body.splitlines())
    header = f"> On {when:%-d %b %Y}, at {when:%H:%M}, {original['From']} wrote:\n>"
    reply.set_content(f"{text}\n\nSent from my iPhone\n\n{header}\n{quoted}\n")
    return reply


def confirmations(program: Program, to: str) -> list[EmailMessage]:
    return [m for m in program.sent(to) if "please confirm your request" in m["Subject"]]


def skip_request_without_pass(program: Program, sender: str = f"Ben Becker <{BEN_PHONE}>") -> None:
    """Ben answers the invitation (token and thread) from his phone's address, whose
    provider publishes no DMARC policy: the MTA's verdict is dmarc=none."""
    invitation = invitations(program, BEN)[0]
    program_reply = gmail_reply(invitation, sender, SKIP, at("2027-03-03T10:00"))
    deliver_raw(program, received(program_reply, dmarc="none"))


# --------------------------------------------------------------------------- forged From


def test_a_forged_from_without_token_or_thread_cannot_skip_a_meeting(booked: Program) -> None:
    program = booked
    meeting = next_meeting(program, "2027-03-03T09:00")
    program.tick("2027-03-03T09:00")  # what is due anyway has gone out
    before = calendars(program)
    to_them = len(program.sent(ANA)) + len(program.sent(BEN))
    forged = gmail_new(
        f"Ben Becker <{BEN}>", "mentoring@example.org", "Next week", SKIP, at("2027-03-03T10:00")
    )
    deliver_raw(program, stamp(forged, dmarc="none"))
    out = program.tick("2027-03-03T11:00")
    assert "needs_human" in out and "without our thread or token" in out
    assert next_meeting(program, "2027-03-03T11:00") == meeting
    assert calendars(program) == before
    assert [m for m in program.sent(ANA) if "cancelled" in m["Subject"]] == []
    assert confirmations(program, BEN) == []  # the person gets nothing automatic
    (notice,) = needs_you(program)
    body = text_of(notice)
    assert "asks to skip a meeting: not applied" in body
    assert f"sent from {BEN.lower()}'s address but without our thread or token" in body
    assert SKIP in body  # the coordinator sees the text
    assert len(program.sent(ANA)) + len(program.sent(BEN)) == to_them  # nothing to them


def test_a_forged_rating_is_no_rating(booked: Program) -> None:
    program = booked
    first = next_meeting(program, "2027-02-16T09:00")
    program.tick((first + timedelta(hours=3)).isoformat())
    text = "Honestly it was terrible, I'd rate it 1 out of 5."
    forged = gmail_new(
        f"Ben Becker <{BEN}>", "mentoring@example.org", "Feedback", text, first + timedelta(hours=4)
    )
    deliver_raw(program, stamp(forged, dmarc="none"))
    out = program.tick((first + timedelta(hours=5)).isoformat())
    assert "escalation_low_rating" not in out and "rating_follow_up" not in out
    progress = program.status((first + timedelta(hours=5)).isoformat())["ana-ben"]["progress"]
    assert not [e for e in progress if e["kind"] == "rating"]
    (notice,) = needs_you(program)
    assert "asks to rate the mentoring 1/5: not applied" in text_of(notice)
    # the same words in Ben's own reply to the follow-up, with the MTA's pass, count
    follow_up = program.only(BEN, "How did your meeting")
    program.deliver(gmail_reply(follow_up, f"Ben Becker <{BEN}>", text, first + timedelta(hours=6)))
    out = program.tick((first + timedelta(hours=7)).isoformat())
    assert "ana-ben: escalation_low_rating -> coordinator" in out


# The receiving MTA stamps dmarc=none on top; the sender wrote a "pass" further down.
FORGED_PASSES = {
    "another server's id": "Authentication-Results: mx.google.com;\r\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.net\r\n",
    "our server's id, below its own": "Authentication-Results: mx.example.org;\r\n"
    "       dkim=pass header.i=@example.net;\r\n"
    "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.net\r\n",
}


@pytest.mark.parametrize("forged", FORGED_PASSES.values(), ids=FORGED_PASSES.keys())
def test_a_pass_the_sender_wrote_is_not_trusted(booked: Program, forged: str) -> None:
    program = booked
    meeting = next_meeting(program, "2027-03-03T09:00")
    before = calendars(program)
    invitation = invitations(program, BEN)[0]
    reply = gmail_reply(invitation, f"Ben Becker <{BEN}>", SKIP, at("2027-03-03T10:00"))
    data = forged.encode() + reply.as_bytes(policy=email.policy.SMTP)  # the sender's header
    deliver_raw(program, stamp(data, dmarc="none"))  # the MTA's own, on top
    out = program.tick("2027-03-03T11:00")
    assert "held (waiting for confirmation: skip a meeting)" in out
    assert next_meeting(program, "2027-03-03T11:00") == meeting
    assert calendars(program) == before
    assert len(confirmations(program, BEN)) == 1


# --------------------------------------------------------------------------- confirmations


def test_a_token_without_a_pass_is_confirmed_by_reply_and_applied_once(booked: Program) -> None:
    program = booked
    meeting = next_meeting(program, "2027-03-03T09:00")
    following = meeting_after(program, meeting)
    before = calendars(program)
    skip_request_without_pass(program)
    out = program.tick("2027-03-03T11:00")
    assert "ana-ben/mentee: held (waiting for confirmation: skip a meeting)" in out
    assert next_meeting(program, "2027-03-03T11:00") == meeting and calendars(program) == before
    # the confirmation goes to the address in the config, not the one the request came from
    (confirmation,) = confirmations(program, BEN)
    assert confirmations(program, BEN_PHONE) == []
    assert confirmation["Reply-To"] is None  # answers come to the program's own address
    assert "asking to: - skip a meeting" in text_of(confirmation)
    assert needs_you(program) == []

    # someone with Ben's reply address but not the confirmation says "yes": not a confirmation
    forged_yes = EmailMessage()
    forged_yes["From"] = f"Ben Becker <{BEN}>"
    forged_yes["To"] = invitations(program, BEN)[0]["Reply-To"]
    forged_yes["Subject"] = "Re: please confirm your request"
    forged_yes["Date"] = format_datetime(at("2027-03-03T11:30"))
    forged_yes["Message-ID"] = "<forged-yes-1@attacker.test>"
    forged_yes.set_content("Yes")
    deliver_raw(program, received(forged_yes))
    program.tick("2027-03-03T12:00")
    assert next_meeting(program, "2027-03-03T12:00") == meeting and calendars(program) == before

    # Ben confirms from his iPhone (his provider gives no DMARC pass either)
    deliver_raw(
        program,
        received(iphone_reply(confirmation, f"Ben Becker <{BEN}>", "Yes", at("2027-03-03T12:30"))),
    )
    out = program.tick("2027-03-03T13:00")
    assert "applied (confirmed: skip a meeting)" in out
    assert next_meeting(program, "2027-03-03T13:00") == following
    assert calendars(program) != before
    for who in (ANA, BEN):
        assert "cancelled" in invitations(program, who)[-1]["Subject"]
    updates = len(invitations(program, ANA))

    # a second "yes" changes nothing more; the coordinator hears of it
    again = iphone_reply(confirmation, f"Ben Becker <{BEN}>", "Yes!", at("2027-03-03T14:00"))
    deliver_raw(program, received(again))
    program.tick("2027-03-03T15:00")
    assert len(invitations(program, ANA)) == updates
    assert next_meeting(program, "2027-03-03T15:00") == following
    assert any("no longer pending" in text_of(m) for m in needs_you(program))


def test_a_confirmation_lapses_and_the_coordinator_is_told(booked: Program) -> None:
    program = booked
    before = calendars(program)
    skip_request_without_pass(program)
    program.tick("2027-03-03T11:00")
    (confirmation,) = confirmations(program, BEN)
    assert "by Monday 8 March 2027" in text_of(confirmation)  # security.confirm_within: 5d
    program.tick("2027-03-07T11:00")
    assert needs_you(program) == []  # still waiting
    out = program.tick("2027-03-08T12:00")
    assert "confirm_expired -> coordinator" in out
    (notice,) = needs_you(program)
    body = text_of(notice)
    assert "asks to skip a meeting: not applied" in body and "was not answered by" in body
    assert SKIP in body
    assert "confirm_expired" not in program.tick("2027-03-08T13:00")  # told once
    # a late "yes" no longer applies it
    late = iphone_reply(confirmation, f"Ben Becker <{BEN}>", "Yes", at("2027-03-08T14:00"))
    deliver_raw(program, received(late))
    out = program.tick("2027-03-08T15:00")
    assert "update_series" not in out and calendars(program) == before
    assert any("no longer pending" in text_of(m) for m in needs_you(program))


def test_a_no_to_the_confirmation_changes_nothing(booked: Program) -> None:
    program = booked
    meeting = next_meeting(program, "2027-03-03T09:00")
    skip_request_without_pass(program)
    program.tick("2027-03-03T11:00")
    (confirmation,) = confirmations(program, BEN)
    answer = outlook_reply(
        confirmation, f"Ben Becker <{BEN}>", "No, that wasn't me!", at("2027-03-03T12:00")
    )
    answer["In-Reply-To"] = confirmation["Message-ID"]  # Outlook on the desktop keeps these
    answer["References"] = confirmation["Message-ID"]
    answer.replace_header("To", str(confirmation["From"]))
    deliver_raw(program, received(answer))
    program.tick("2027-03-03T13:00")
    assert next_meeting(program, "2027-03-03T13:00") == meeting
    (notice,) = needs_you(program)
    assert "says they did not ask to skip a meeting" in text_of(notice)
    assert SKIP in text_of(notice)  # the request itself, for the coordinator to judge
    assert "confirm_expired" not in program.tick("2027-03-09T09:00")  # settled: no lapse


def test_policy_coordinator_sends_an_unauthenticated_change_to_the_coordinator(
    booked: Program,
) -> None:
    program = booked
    program.config.write_text(
        THREE_PAIRS.replace(
            "security: {authserv_id: mx.example.org}",
            "security: {authserv_id: mx.example.org, unauthenticated: coordinator}",
        ),
        encoding="utf-8",
    )
    meeting = next_meeting(program, "2027-03-03T09:00")
    skip_request_without_pass(program)
    program.tick("2027-03-03T11:00")
    assert next_meeting(program, "2027-03-03T11:00") == meeting
    assert confirmations(program, BEN) == []
    (notice,) = needs_you(program)
    assert "asks to skip a meeting: not applied: the message carries no trusted DMARC pass" in (
        text_of(notice)
    )


def test_a_trusted_pass_with_the_token_applies_at_once(booked: Program) -> None:
    program = booked
    meeting = next_meeting(program, "2027-03-03T09:00")
    following = meeting_after(program, meeting)
    invitation = invitations(program, BEN)[0]
    # Outlook on a phone drops the thread headers: the Reply-To token places it
    program.deliver(outlook_reply(invitation, f"Ben Becker <{BEN}>", SKIP, at("2027-03-03T10:00")))
    out = program.tick("2027-03-03T11:00")
    assert "ana-ben/mentee: applied" in out
    assert next_meeting(program, "2027-03-03T11:00") == following
    assert confirmations(program, BEN) == [] and needs_you(program) == []


# --------------------------------------------------------------------------- IMAP


def test_over_imap_a_forged_from_changes_nothing_and_a_confirmed_request_applies(
    mail_servers: MailServers, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    """Through Dovecot and the SMTP relay, which stamps DMARC pass only for mail whose
    From is the submitting user's own address (tests/mailservers.py)."""
    program = mail_servers.new_user("program")
    ana, ben, mallory = (mail_servers.new_user(n) for n in ("ana", "ben", "mallory"))
    text = THREE_PAIRS.replace("email: ana@example.org", f"email: {ana.login}")
    text = text.replace("email: Ben.Becker@example.net", f"email: {ben.login}")
    config = program_config(mail_servers, program, tmp_path, text=text)

    driven = ProgramCli(cli, config)
    tick = driven.tick

    def agreed(now: str) -> dict[str, bool]:
        return driven.status(now)["ana-ben"]["agreed"]

    def send(user: Any, to: str, message: EmailMessage, count: int) -> None:
        mail_servers.send(user, [to], message.as_bytes(policy=email.policy.SMTP))
        mail_servers.wait_for(program, ["ALL"], count=count)

    tick("2027-02-15T09:00")
    agreement = next(m for m in mail_servers.messages(ben) if "agreement" in m["Subject"])
    token_address = agreement["Reply-To"].addresses[0].addr_spec

    # Mallory writes as Ben to the program's plain address: no token, no thread
    forged = EmailMessage()
    forged["From"] = f"Ben Becker <{ben.login}>"
    forged["To"] = program.login
    forged["Subject"] = "Agreement"
    forged["Date"] = format_datetime(at("2027-02-15T10:00"))
    forged["Message-ID"] = "<forged-agree-1@attacker.test>"
    forged.set_content("I agree.")
    send(mallory, program.login, forged, 1)
    out = tick("2027-02-15T11:00")
    assert "without our thread or token" in out
    assert agreed("2027-02-15T11:00") == {"mentor": False, "mentee": False}

    # Mallory has a copy of Ben's agreement email: the token, but no DMARC pass
    forged.replace_header("To", token_address)
    forged.replace_header("Message-ID", "<forged-agree-2@attacker.test>")
    send(mallory, token_address, forged, 1)
    out = tick("2027-02-15T12:00")
    assert "held (waiting for confirmation: agree to the mentoring agreement)" in out
    assert agreed("2027-02-15T12:00") == {"mentor": False, "mentee": False}
    (confirmation,) = [
        m for m in mail_servers.messages(ben) if "please confirm" in str(m["Subject"])
    ]

    # Ben, who did agree in the end, confirms from his own mailbox
    answer = iphone_reply(confirmation, f"Ben Becker <{ben.login}>", "Yes", at("2027-02-15T13:00"))
    send(ben, program.login, answer, 1)
    out = tick("2027-02-15T14:00")
    assert "applied (confirmed: agree to the mentoring agreement)" in out
    assert agreed("2027-02-15T14:00") == {"mentor": False, "mentee": True}
