"""Bounces only for what we sent: a delivery failure marks an address only when it ties
to an email the program sent to that address.

Tied (a) by the returned message's Message-ID, which is keyed by the program's secret
(agent.mail_in.tokens), and its recipient, or (b) by the signed bounce address (VERP) the email
went out with as its envelope sender. The same DSN from a stranger, naming a participant
or a Message-ID we never sent (or one computed the old, guessable way), is quarantined and
counted: nothing changes and nobody is told. DSNs in the shapes Postfix, Exim, Gmail and
Exchange Online send (tests/forgery.py), on the embedded default and on IMAP (Dovecot).
"""

from __future__ import annotations

import hashlib
import mailbox
import secrets
import shutil
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from agent.commands.runtime import token_key
from agent.config.loading import load_config
from agent.mail_in.inbound import parse_message
from agent.mail_in.tokens import bounce_address, message_id
from agent.pairs.ingest import NOT_OURS, match
from agent.state.opening import open_store
from connectors.smtp import envelope
from tests.conftest import THREE_PAIRS
from tests.forgery import DSN_SHAPES, Outbox, exim_bounce, with_message_id
from tests.local_harness import ProgramCli
from tests.mailservers import MailServers, program_config
from tests.test_lifecycle_e2e import Program, at

BEN = "Ben.Becker@example.net"
ANA = "ana@example.org"
PROGRAM = "mentoring@example.org"
WHEN = at("2027-02-15T09:05")


@pytest.fixture
def program(onboarded: Path, tmp_path: Path, cli) -> Program:
    root = tmp_path / "program"
    shutil.copytree(onboarded, root)
    return Program(root, cli)


def deliver(program: Program, raw: bytes) -> None:
    mailbox.Maildir(program.root / "mail" / "inbox").add(raw)


def sent_count(program: Program) -> int:
    return len(program.sent())


def undeliverable(program: Program, when: str = "2027-02-15T10:00") -> dict[str, Any]:
    return program.status(when)["ana-ben"]["undeliverable"]


def inbound(program: Program) -> list[dict[str, Any]]:
    store = open_store(program.root / "state.json")
    try:
        return list(store.inbound_records())
    finally:
        store.close(flush=False)


def old_message_id(program: Program, kind: str, to: str) -> str:
    """The id the email got before ids were keyed: anyone can compute it."""
    cfg = load_config(program.config)
    store = open_store(program.root / "state.json")
    try:
        key = next(a["key"] for a in store.actions() if a["kind"] == kind and a.get("to") == to)
    finally:
        store.close(flush=False)
    digest = hashlib.sha256(f"{cfg.program.slug}/{key}".encode()).hexdigest()[:32]
    return f"mm.{digest}@example.org"


# --------------------------------------------------------------------------- ours


@pytest.mark.parametrize("shape", list(DSN_SHAPES))
def test_a_bounce_for_an_email_we_sent_marks_that_address(program: Program, shape: str) -> None:
    agreement = program.only(BEN, "agreement")
    deliver(program, DSN_SHAPES[shape](agreement, BEN.lower(), PROGRAM, WHEN))
    out = program.tick("2027-02-15T10:00")
    assert "ana-ben/mentee: bounce" in out, out
    held = undeliverable(program)
    assert list(held) == ["mentee"] and held["mentee"]["address"] == BEN.lower()
    assert "5.1.1" in held["mentee"]["reason"] or "5.1.10" in held["mentee"]["reason"]
    notices = [m for m in program.sent("coordinator@example.org") if "delivered" in m["Subject"]]
    assert len(notices) == 1 and "Ben" in notices[0]["Subject"]


def bens_bounce_address(program: Program) -> str:
    """The envelope sender (VERP) mail to Ben gets where there is an envelope (SMTP)."""
    cfg = load_config(program.config)
    return bounce_address(PROGRAM, token_key(cfg, create=False), "ana-ben", "mentee")


def test_a_bounce_to_the_signed_bounce_address_needs_no_copy_of_the_email(
    program: Program,
) -> None:
    """VERP: the bounce address names Ben's pair and role, signed."""
    agreement = program.only(BEN, "agreement")
    assert agreement["Return-Path"] is None  # Maildir has no envelope
    verp = bens_bounce_address(program)
    assert verp.startswith("mentoring+bounce.ana-ben.e") and verp.endswith("@example.org")
    bare = exim_bounce(agreement, BEN.lower(), verp, WHEN)
    bare = bare.split(b"------ This is a copy")[0]  # the server kept no copy
    deliver(program, bare)
    out = program.tick("2027-02-15T10:00")
    assert "ana-ben/mentee: bounce" in out, out
    assert undeliverable(program)["mentee"]["address"] == BEN.lower()


# --------------------------------------------------------------------------- not ours


@pytest.mark.parametrize("shape", list(DSN_SHAPES))
@pytest.mark.parametrize("names", ["an id we never sent", "the old computable id"])
def test_the_same_bounce_from_a_stranger_changes_nothing(
    program: Program, shape: str, names: str
) -> None:
    agreement = program.only(BEN, "agreement")
    if names == "an id we never sent":
        forged_id = f"mm2.{secrets.token_hex(16)}@example.org"
    else:
        forged_id = old_message_id(program, "agreement", BEN)
    forged = with_message_id(agreement, forged_id)
    raw = DSN_SHAPES[shape](forged, BEN.lower(), PROGRAM, WHEN)
    before = sent_count(program)
    deliver(program, raw)

    out = program.tick("2027-02-15T10:00")

    assert f"quarantined ({NOT_OURS})" in out, out
    assert undeliverable(program) == {}
    assert sent_count(program) == before  # nobody is told: it is counted in the digest
    assert len(program.folder("quarantine")) == 1 and program.folder("processed") == []
    records = [r for r in inbound(program) if r["outcome"] == "quarantined"]
    assert [r["reason"] for r in records] == [NOT_OURS]


def test_mailer_daemon_of_any_domain_with_x_failed_recipients_changes_nothing(
    program: Program,
) -> None:
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@attacker.test>\r\n"
        f"To: {PROGRAM}\r\n"
        f"X-Failed-Recipients: {BEN}, {ANA}\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        "Message-ID: <E1tAbCd-0001@attacker.test>\r\n"
        "Date: Mon, 15 Feb 2027 09:05:00 +0100\r\n"
        "Auto-Submitted: auto-replied\r\n\r\n"
        "This message was created automatically by mail delivery software.\r\n"
    ).encode()
    before = sent_count(program)
    deliver(program, raw)
    out = program.tick("2027-02-15T10:00")
    assert f"quarantined ({NOT_OURS})" in out, out
    assert undeliverable(program) == {} and sent_count(program) == before


def test_a_bounce_for_bens_email_cannot_cut_off_ana(program: Program) -> None:
    """Ben (or anyone who saw his email) names Ana as failed: the coordinator reads it."""
    agreement = program.only(BEN, "agreement")
    deliver(program, DSN_SHAPES["postfix"](agreement, ANA, PROGRAM, WHEN))
    verp = bens_bounce_address(program)
    deliver(program, DSN_SHAPES["gmail"](agreement, ANA, verp, WHEN).replace(b"GMR", b"GMS"))
    out = program.tick("2027-02-15T10:00")
    assert undeliverable(program) == {}, out
    notices = [m for m in program.sent("coordinator@example.org") if "Needs you" in m["Subject"]]
    assert len(notices) == 2
    assert all(ANA in m.get_body(preferencelist=("plain",)).get_content() for m in notices)


def test_a_forged_bounce_address_changes_nothing(program: Program) -> None:
    agreement = program.only(BEN, "agreement")
    local, domain = bens_bounce_address(program).split("@")
    forged = f"{local[:-4]}{'0' if local[-4] != '0' else '1'}{local[-3:]}@{domain}"
    bare = exim_bounce(agreement, BEN.lower(), forged, WHEN).split(b"------ This is a copy")[0]
    deliver(program, bare)
    out = program.tick("2027-02-15T10:00")
    assert f"quarantined ({NOT_OURS})" in out and undeliverable(program) == {}, out


# --------------------------------------------------------------------------- SMTP and IMAP


def test_the_bounce_address_is_the_smtp_envelope_sender_and_leaves_no_header() -> None:
    message = EmailMessage()
    message["From"] = "Mentoring Program <mentoring@example.org>"
    message["To"] = "Ben Becker <Ben.Becker@example.net>"
    message["Return-Path"] = "<mentoring+bounce.ana-ben.e0123456789@example.org>"
    message.set_content("Hello")
    assert envelope(message) == (
        "mentoring+bounce.ana-ben.e0123456789@example.org",
        ["Ben.Becker@example.net"],
    )
    del message["Return-Path"]
    assert envelope(message)[0] == "mentoring@example.org"


def test_bounces_over_smtp_and_imap(
    mail_servers: MailServers, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    assert mail_servers.smtp is not None
    user = mail_servers.new_user("program")
    # a coordinator of its own: the sink for other domains is shared by the whole session
    coordinator = mail_servers.new_user("coordinator").login
    text = THREE_PAIRS.replace("coordinator@example.org", coordinator)
    config = program_config(mail_servers, user, tmp_path, text=text)
    start = len(mail_servers.smtp.handler.delivered)

    driven = ProgramCli(cli, config)
    tick, status = driven.tick, driven.status

    tick("2027-02-15T09:00")
    agreement = next(
        m
        for m in mail_servers.messages(user, "Sent")
        if m["To"].addresses[0].addr_spec == BEN and "agreement" in m["Subject"]
    )
    # the signed bounce address went out as MAIL FROM, and not as a header
    transaction = next(
        d
        for d in mail_servers.smtp.handler.delivered[start:]
        if BEN in d.rcpt_tos and str(agreement["Message-ID"]).encode() in d.data
    )
    local, domain = user.login.split("@")
    assert transaction.mail_from.startswith(f"{local}+bounce.ana-ben.e")
    assert transaction.mail_from.endswith(f"@{domain}")
    assert b"Return-Path" not in transaction.data.split(b"\r\n\r\n")[0]
    assert agreement["Return-Path"] is None

    # a stranger's DSN naming Ben and an id we never sent, then the MTA's real one
    forged = with_message_id(agreement, f"mm2.{secrets.token_hex(16)}@{domain}")
    mail_servers.append(user, DSN_SHAPES["exchange"](forged, BEN.lower(), user.login, WHEN))
    out = tick("2027-02-15T10:00")
    assert f"quarantined ({NOT_OURS})" in out, out
    assert status("2027-02-15T10:00")["ana-ben"]["undeliverable"] == {}
    assert len(mail_servers.messages(user, "mentormail/quarantine")) == 1

    mail_servers.append(
        user, DSN_SHAPES["postfix"](agreement, BEN.lower(), transaction.mail_from, WHEN)
    )
    out = tick("2027-02-15T11:00")
    assert "ana-ben/mentee: bounce" in out, out
    held = status("2027-02-15T11:00")["ana-ben"]["undeliverable"]
    assert held["mentee"]["address"] == BEN.lower()


def test_an_email_sent_before_ids_were_keyed_ties_no_bounce(write_config) -> None:
    """Its id is still in the outbox, but anyone can compute it: it proves nothing."""
    cfg = load_config(write_config(THREE_PAIRS))
    digest = hashlib.sha256(f"{cfg.program.slug}/ana-ben/agreement/mentee".encode())
    old = f"mm.{digest.hexdigest()[:32]}@example.org"
    record = {"pair": "ana-ben", "role": "mentee", "kind": "agreement", "to": BEN}
    original = EmailMessage()
    original["From"] = f"Mentoring Program <{PROGRAM}>"
    original["To"] = f"Ben Becker <{BEN}>"
    original["Subject"] = "Your mentoring agreement"
    original["Message-ID"] = f"<{old}>"
    original.set_content("Please reply I agree.")
    raw = DSN_SHAPES["postfix"](original, BEN.lower(), PROGRAM, WHEN)
    parsed = parse_message(raw)
    assert parsed.bounce and parsed.returned_ids == (old,)
    assert match(parsed, cfg, b"k" * 32, Outbox({old: record})).problem == NOT_OURS
    keyed = message_id(b"k" * 32, cfg.program.slug, "ana-ben/agreement/mentee", "example.org")
    original.replace_header("Message-ID", f"<{keyed}>")
    parsed = parse_message(DSN_SHAPES["postfix"](original, BEN.lower(), PROGRAM, WHEN))
    found = match(parsed, cfg, b"k" * 32, Outbox({keyed: record}))
    assert (found.pair_id, found.role, found.address) == ("ana-ben", "mentee", BEN.lower())
