"""One clear sender or none: a From that is not exactly one plain mailbox is quarantined.

Each forged form carries Ben's valid reply token and threads to his agreement (an
attacker who saw one forwarded email has both) and says "I agree": applied as Ben it
would change the pair. On the Maildir default and on IMAP (Dovecot, tests/mailservers.py)
a tick leaves the pair's state and the calendars as they were, moves the message to
quarantine, and tells the coordinator once (a message that claims a pair is reported;
agent.pairs.ingest.route). Message-IDs are keyed by the program's secret, so a reply threaded
with an id computed the old way places nothing.
"""

from __future__ import annotations

import contextlib
import email.policy
import gc
import hashlib
import hmac
import json
import shutil
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from agent.config.loading import load_config
from agent.mail_in.inbound import parse_message
from agent.mail_in.mailbox_parse import NotOneMailbox, parse_mailbox
from agent.mail_in.tokens import (
    bounce_address,
    keyed_message_id,
    message_id,
    read_bounce_address,
    read_token,
    reply_address,
)
from agent.pairs.ingest import match
from tests.conftest import THREE_PAIRS
from tests.forgery import Outbox, gmail_reply
from tests.local_harness import ProgramCli
from tests.mailservers import MailServers, program_config
from tests.test_lifecycle_e2e import Program, at

BEN = "Ben.Becker@example.net"
BEN_FROM = f"From: Ben Becker <{BEN}>"
EVIL = "evil@attacker.test"

# The forms that getaddresses() reads as Ben (or Ben first) while the mail system and
# DMARC see the attacker.
FORGED: dict[str, tuple[str, str]] = {
    "address as display name": (f"From: {BEN} <{EVIL}>", "another address"),
    "CVE-2023-27043": (f"From: {BEN})<{EVIL}>", "a stray ')'"),
    "address after the brackets": (f"From: <{BEN}>{EVIL}", "text after the address"),
    "two From headers": (f"{BEN_FROM}\nFrom: Eve <{EVIL}>", "2 From headers"),
    "two addresses": (f"{BEN_FROM}, Eve <{EVIL}>", "more than one address"),
    "group": (f"From: Mentees: Ben Becker <{BEN}>;", "a group"),
    "quoted address as display name": (f'From: "{BEN}" <{EVIL}>', "another address"),
    "encoded address as display name": (
        f"From: =?UTF-8?Q?Ben=2EBecker=40example=2Enet?= <{EVIL}>",
        "another address",
    ),
    "full-width at sign in the name": (
        f"From: Ben.Becker\uff20example.net <{EVIL}>",
        "another address",
    ),
    "Sender and Reply-To name Ben": (
        f"From: Eve <{EVIL}>\nSender: Ben Becker <{BEN}>\nReply-To: Ben Becker <{BEN}>",
        f"{EVIL} is not a participant of pair ana-ben",
    ),
}

AGREE = "I agree.\n\nBen"


# --------------------------------------------------------------------------- the parser


@pytest.mark.parametrize(
    ("value", "name", "addr"),
    [
        ("Ben Becker <Ben.Becker@example.net>", "Ben Becker", "ben.becker@example.net"),  # Gmail
        ('"Becker, Ben" <Ben.Becker@example.net>', "Becker, Ben", "ben.becker@example.net"),
        ("'ben@example.net' <ben@example.net>", "'ben@example.net'", "ben@example.net"),
        ('"ben@example.net" <ben@example.net>', "ben@example.net", "ben@example.net"),
        ("=?UTF-8?B?w4FuYSDDgWx2YXJleg==?= <ana@example.org>", "Ána Álvarez", "ana@example.org"),
        ("=?iso-2022-jp?b?GyRCOjRGIxsoQg==?= <sato@example.jp>", "佐藤", "sato@example.jp"),
        ("Ana Álvarez <ana@example.org>", "Ana Álvarez", "ana@example.org"),  # 8-bit (RFC 6532)
        ("ben@example.net", "", "ben@example.net"),
        ("<ben@example.net>", "", "ben@example.net"),
        (
            "MAILER-DAEMON@mx.example.org (Mail Delivery System)",
            "Mail Delivery System",
            "mailer-daemon@mx.example.org",
        ),
        ("J. R. Smith <jr@example.com>", "J. R. Smith", "jr@example.com"),
        ('"Ana \\"Coach\\" Silva" <ana@example.org>', 'Ana "Coach" Silva', "ana@example.org"),
        ("Ben <ben@example.net> (work)", "Ben", "ben@example.net"),
        ('Ben <"ben becker"@example.net>', "Ben", '"ben becker"@example.net'),
    ],
)
def test_real_clients_from_lines_are_one_clear_mailbox(value: str, name: str, addr: str) -> None:
    from agent.mail_in.headers import decode_words

    assert parse_mailbox(value, decode_words) == (name, addr)


@pytest.mark.parametrize(
    "value",
    [
        f"{BEN} <{EVIL}>",
        f"{BEN})<{EVIL}>",
        f"<{BEN}>{EVIL}",
        f"<{BEN}> <{EVIL}>",
        f"Ben <{BEN}>, Eve <{EVIL}>",
        f"Mentees: Ben <{BEN}>;",
        "Mentees:;",
        f'"{BEN}" <{EVIL}>',
        f"Ben <{BEN} >x",
        "Ben <ben @example.net>",
        "Ben <ben@[192.0.2.1]>",
        f"Ben (<{BEN}>) <{EVIL}>",
        f'"Ben <{BEN}>',
        "Ben (unclosed <ben@example.net>",
        "",
        "Ben Becker",
        "Ben <ben@example.net",
        "ben@@example.net",
        "ben@example..net",
        f"Ben\x00 <{BEN}>",
    ],
)
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(NotOneMailbox):
        parse_mailbox(value)


def _best_time(value: str) -> float:
    """CPU seconds of the fastest of 5 parses: other processes' load does not count, and
    the garbage collector (whose passes grow with the objects alive) is held off."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            started = time.process_time()
            with contextlib.suppress(NotOneMailbox):
                parse_mailbox(value, max_length=None)
            best = min(best, time.process_time() - started)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize(
    "unit",
    ["(", "a.", "a@", '"\\', "<a@b>", "x ", "(a)", "\\", "a@b, ", "=?utf-8?q?a?= "],
)
def test_parsing_time_grows_linearly(unit: str) -> None:
    """100 KB of a repeated shape takes about 10x the time of 10 KB (quadratic: 100x),
    even without the length limit that From values meet first."""
    small = _best_time(unit * (10_000 // len(unit)))
    large = _best_time(unit * (100_000 // len(unit)))
    assert large < 40 * max(small, 1e-3), (small, large)


def test_a_from_longer_than_any_mailbox_is_refused_before_parsing() -> None:
    name = "Ben " * 1_000_000
    with pytest.raises(NotOneMailbox, match="more than one mailbox has"):
        parse_mailbox(f"{name}<{BEN}>")
    assert parse_mailbox(f"{'Ben ' * 900}<{BEN}>")[1] == BEN.lower()


def test_parse_message_names_no_sender_for_an_unclear_from() -> None:
    for label, (block, why) in FORGED.items():
        raw = (
            f"{block}\r\nTo: mentoring@example.org\r\nSubject: x\r\n"
            "Message-ID: <f@attacker.test>\r\n\r\nI agree.\r\n"
        ).encode()
        parsed = parse_message(raw)
        if "not a participant" in why:  # From is clear: Sender and Reply-To are ignored
            assert parsed.from_addr == EVIL and not parsed.sender_problem, label
            continue
        assert parsed.from_addr == "" and why in parsed.sender_problem, label
        assert parsed.sender_problem in parsed.problems


# --------------------------------------------------------------------------- keyed ids


def _old_message_id(slug: str, key: str, domain: str) -> str:
    """How Message-IDs were made before: a plain hash anyone can compute."""
    return f"mm.{hashlib.sha256(f'{slug}/{key}'.encode()).hexdigest()[:32]}@{domain}"


def test_message_ids_are_keyed_stable_and_not_the_old_hash() -> None:
    key = b"0123456789abcdef" * 4
    made = message_id(key, "spring", "ana-ben/agreement/mentee", "example.org")
    assert made == message_id(key, "spring", "ana-ben/agreement/mentee", "example.org")
    assert made != message_id(b"other", "spring", "ana-ben/agreement/mentee", "example.org")
    assert made != _old_message_id("spring", "ana-ben/agreement/mentee", "example.org")
    assert keyed_message_id(made)
    assert not keyed_message_id(_old_message_id("spring", "ana-ben/agreement/mentee", "x.org"))


def test_tokens_of_old_emails_still_read_and_purposes_never_mix() -> None:
    key, sender = b"k" * 32, "mentoring@example.org"
    # a token as every earlier version wrote it: HMAC-SHA256 of "pair.letter", 10 hex
    old_sig = hmac.new(key, b"ana-ben.e", hashlib.sha256).hexdigest()[:10]
    old = f"mentoring+ana-ben.e{old_sig}@example.org"
    assert reply_address(sender, key, "ana-ben", "mentee") == old
    assert read_token([old], sender, key) == ("ana-ben", "mentee")
    bounces = bounce_address(sender, key, "ana-ben", "mentee")
    assert read_bounce_address([bounces], sender, key) == ("ana-ben", "mentee")
    assert read_bounce_address([old], sender, key) is None
    assert read_token([bounces], sender, key) is None
    forged = bounces.replace("ana-ben", "chen-dina")
    assert read_bounce_address([forged], sender, key) is None


def test_an_email_sent_with_an_old_guessable_id_places_no_reply(write_config) -> None:
    """Emails sent before the upgrade stay in the outbox under ids anyone can compute."""
    cfg = load_config(write_config(THREE_PAIRS))
    old = _old_message_id(cfg.program.slug, "ana-ben/agreement/mentee", "example.org")
    outbox = Outbox({old: {"pair": "ana-ben", "role": "mentee", "kind": "agreement"}})
    raw = (
        f"From: Eve <{EVIL}>\r\nTo: mentoring@example.org\r\nSubject: Re: agreement\r\n"
        f"Message-ID: <x@attacker.test>\r\nIn-Reply-To: <{old}>\r\n\r\nForward this.\r\n"
    ).encode()
    found = match(parse_message(raw), cfg, b"k" * 32, outbox)
    assert found.pair_id is None and found.via is None


# --------------------------------------------------------------------------- Maildir


def _calendars(root: Path) -> dict[str, bytes]:
    folder = root / "calendar"
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _ids(messages: list[EmailMessage]) -> set[str]:
    return {str(m["Message-ID"]) for m in messages}


@pytest.fixture
def program(onboarded: Path, tmp_path: Path, cli) -> Program:
    root = tmp_path / "program"
    shutil.copytree(onboarded, root)
    return Program(root, cli)  # Program rewrites the same config text


def _forged(program: Program, block: str) -> bytes:
    agreement = program.only(BEN, "agreement")
    return gmail_reply(agreement, block.replace("\n", "\r\n"), AGREE, at("2027-02-15T09:20"))


def _deliver(program: Program, raw: bytes) -> None:
    import mailbox

    mailbox.Maildir(program.root / "mail" / "inbox").add(raw)


@pytest.mark.parametrize("label", list(FORGED))
def test_a_forged_sender_changes_nothing_on_maildir(program: Program, label: str) -> None:
    block, why = FORGED[label]
    before = program.status("2027-02-15T09:30")
    calendars = _calendars(program.root)
    sent_before = len(program.sent())
    raw = _forged(program, block)
    _deliver(program, raw)

    out = program.tick("2027-02-15T09:30")

    assert "ana-ben/None: quarantined" in out and why in out, out
    assert program.status("2027-02-15T09:30") == before
    assert _calendars(program.root) == calendars
    assert _ids(program.folder("quarantine")) == {parse_message(raw).message_id.join("<>")}
    assert program.folder("inbox") == [] and program.folder("processed") == []
    new = _new_mail(program, sent_before)
    assert [m["To"].addresses[0].addr_spec for m in new] == ["coordinator@example.org"]
    notice = new[0].get_body(preferencelist=("plain",)).get_content()
    assert "Needs you" in new[0]["Subject"] and "(pair ana-ben)" in new[0]["Subject"]
    assert "quarantined: " in notice and why in " ".join(notice.split())
    assert "I agree." in notice  # what the coordinator is asked to look at
    if "not a participant" not in why:  # nobody is named as the sender
        assert "reply from an unclear sender" in new[0]["Subject"]
        assert EVIL not in new[0]["Subject"] and "Ben" not in new[0]["Subject"]


def _new_mail(program: Program, before: int) -> list[EmailMessage]:
    """Mail sent since there were `before` messages (Maildir names do not sort by time)."""
    box = program.root / "mail" / "sent"
    paths = sorted(
        (p for sub in ("new", "cur") for p in (box / sub).iterdir()),
        key=lambda p: p.stat().st_mtime_ns,
    )
    parser = BytesParser(policy=email.policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in paths[before:]]


def test_the_same_reply_with_a_clear_sender_is_read(program: Program) -> None:
    """The control: Ben's own From on the same message is not quarantined."""
    _deliver(program, _forged(program, BEN_FROM))
    out = program.tick("2027-02-15T09:30")
    assert "ana-ben/mentee:" in out and "quarantined" not in out, out
    assert program.folder("quarantine") == [] and len(program.folder("processed")) == 1


def _legacy_id(program: Program, kind: str, to: str) -> str:
    state = json.loads((program.root / "state.json").read_text())
    cfg = load_config(program.config)
    table = state["actions"]
    records = table.values() if isinstance(table, dict) else table
    key = next(r["key"] for r in records if r.get("kind") == kind and r.get("to") == to)
    return _old_message_id(cfg.program.slug, key, "example.org")


def test_a_thread_id_computed_the_old_way_places_nothing(program: Program) -> None:
    """A stranger who threads with the old, computable id is a stranger: the coordinator
    hears of them as someone outside the program (agent.pairs.hearing_back), nobody else."""
    agreement = program.only(BEN, "agreement")
    guessed = with_id(agreement, _legacy_id(program, "agreement", BEN))
    stranger = f"From: Eve Stranger <{EVIL}>"
    text = "Please forward: the program moves to https://evil.example/login"
    sent_before = len(program.sent())
    _deliver(program, gmail_reply(guessed, stranger, text, at("2027-02-15T09:20")))
    out = program.tick("2027-02-15T09:30")
    assert f"{EVIL}: quarantined ({EVIL} is not a participant)" in out, out
    (notice,) = _new_mail(program, sent_before)
    assert notice["To"].addresses[0].addr_spec == "coordinator@example.org"
    assert "Someone outside the program wrote" in notice.get_body(("plain",)).get_content()

    # with the real (keyed) id the same message is placed in ana-ben and reported
    seen = with_id(agreement, str(agreement["Message-ID"]).strip("<>"))
    _deliver(program, gmail_reply(seen, stranger, text, at("2027-02-15T09:40")))
    out = program.tick("2027-02-15T09:50")
    assert "not a participant of pair ana-ben" in out, out
    assert [m["To"].addresses[0].addr_spec for m in _new_mail(program, sent_before)] == [
        "coordinator@example.org"
    ] * 2


def with_id(original: EmailMessage, message_id: str) -> EmailMessage:
    """`original` as a stranger knows it: its id (guessed or seen), not Ben's reply token."""
    copy = EmailMessage()
    for name in ("From", "To", "Subject", "Date"):
        copy[name] = original[name]
    copy["Reply-To"] = original["From"]
    copy["Message-ID"] = f"<{message_id}>"
    copy.set_content(original.get_body(preferencelist=("plain",)).get_content())
    return copy


# --------------------------------------------------------------------------- IMAP


def test_forged_senders_change_nothing_on_imap(
    mail_servers: MailServers, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    user = mail_servers.new_user("program")
    # a coordinator of its own: the sink for other domains is shared by the whole session
    coordinator = mail_servers.new_user("coordinator").login
    text = THREE_PAIRS.replace("coordinator@example.org", coordinator)
    config = program_config(mail_servers, user, tmp_path, text=text)

    driven = ProgramCli(cli, config)
    tick, status = driven.tick, driven.status

    tick("2027-02-15T09:00")
    sent = mail_servers.messages(user, "Sent")
    agreement = next(
        m for m in sent if m["To"].addresses[0].addr_spec == BEN and "agreement" in m["Subject"]
    )
    before, calendars = status("2027-02-15T09:30"), _calendars(tmp_path)
    forged = {
        label: gmail_reply(
            agreement, block.replace("\n", "\r\n"), AGREE, at("2027-02-15T09:20")
        ).replace(b"CAGx", f"CAGx{n}".encode(), 1)  # one Message-ID each
        for n, (label, (block, _)) in enumerate(FORGED.items())
    }
    for raw in forged.values():
        mail_servers.append(user, raw)

    out = tick("2027-02-15T09:30")

    assert out.count("ana-ben/None: quarantined") == len(FORGED), out
    for label, (_, why) in FORGED.items():
        assert why in out, label
    assert status("2027-02-15T09:30") == before
    assert _calendars(tmp_path) == calendars
    quarantined = _ids(mail_servers.messages(user, "mentormail/quarantine"))
    assert quarantined == {parse_message(raw).message_id.join("<>") for raw in forged.values()}
    assert mail_servers.messages(user, "INBOX") == []
    notices = [
        m
        for m in mail_servers.messages(user, "Sent")[len(sent) :]
        if m["To"].addresses[0].addr_spec == coordinator
    ]
    # one notice each, up to the per-sender limit on quarantined mail (agent.pairs.ingest)
    assert notices and len(notices) == out.count("coordinator_reply -> coordinator"), out
    assert all("Needs you" in m["Subject"] for m in notices)
    assert len(mail_servers.messages(user, "Sent")) == len(sent) + len(notices)

    # the control: the same reply from Ben's own address is read, not quarantined
    mail_servers.append(user, gmail_reply(agreement, BEN_FROM, AGREE, at("2027-02-15T09:40")))
    out = tick("2027-02-15T09:50")
    assert "ana-ben/mentee:" in out and "quarantined" not in out, out
