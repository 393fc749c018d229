"""A whole program on the embedded default, driven through the CLI with `--now`.

Three pairs across time zones; people answer the way they really do (Gmail and
Outlook quoting, an alias address, an out-of-office, a stranger, a decline that
quotes the instructions); ticks are repeated to prove nothing goes out twice.
"""

from __future__ import annotations

import email.policy
import mailbox
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.conftest import THREE_PAIRS
from tests.local_harness import ProgramCli
from tests.mta import stamp

BERLIN = ZoneInfo("Europe/Berlin")


class Program(ProgramCli):
    """The program folder as a participant's mail client and a test see it."""

    def __init__(self, root: Path, cli) -> None:
        self.root, self.config = root, root / "program.yaml"
        super().__init__(cli, self.config)
        self.config.write_text(THREE_PAIRS, encoding="utf-8")

    def folder(self, name: str) -> list[EmailMessage]:
        box = self.root / "mail" / name
        parser = BytesParser(policy=email.policy.default)
        return [
            parser.parsebytes(p.read_bytes())
            for sub in ("new", "cur")
            for p in sorted((box / sub).iterdir())
        ]

    def sent(self, to: str | None = None) -> list[EmailMessage]:
        return [
            m
            for m in self.folder("sent")
            if to is None or m["To"].addresses[0].addr_spec.lower() == to.lower()
        ]

    def only(self, to: str, subject_part: str) -> EmailMessage:
        """The one email to `to` with `subject_part` in its subject (Maildir has no order)."""
        matches = [m for m in self.sent(to) if subject_part.lower() in m["Subject"].lower()]
        assert len(matches) == 1, f"{len(matches)} emails to {to} with {subject_part!r}"
        return matches[0]

    def deliver(self, message: EmailMessage) -> None:
        """Into the inbox as the receiving MTA delivers it (tests/mta.py)."""
        mailbox.Maildir(self.root / "mail" / "inbox").add(
            stamp(message.as_bytes(policy=email.policy.SMTP))
        )


def _body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def gmail_reply(original: EmailMessage, sender: str, text: str, when: datetime) -> EmailMessage:
    quoted = "\n".join("> " + line if line else ">" for line in _body(original).splitlines())
    header = f"On {when:%a, %b %d, %Y at %H:%M}, {original['From']} wrote:"
    return _message(original, sender, f"{text}\n\n{header}\n{quoted}\n", when)


def outlook_reply(original: EmailMessage, sender: str, text: str, when: datetime) -> EmailMessage:
    block = (
        "________________________________\n"
        f"From: {original['From']}\nSent: {when:%A, %B %d, %Y %I:%M %p}\n"
        f"To: {original['To']}\nSubject: {original['Subject']}\n\n"
    )
    return _message(original, sender, f"{text}\n\n{block}{_body(original)}", when, thread=False)


def _message(
    original: EmailMessage, sender: str, body: str, when: datetime, *, thread: bool = True
) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["Reply-To"]
    reply["Subject"] = "Re: " + original["Subject"]
    reply["Date"] = format_datetime(when)
    reply["Message-ID"] = make_msgid(domain="mail.example")
    if thread:  # Outlook on a phone sometimes drops these; the Reply-To token still works
        reply["In-Reply-To"] = original["Message-ID"]
        reply["References"] = original["Message-ID"]
    reply.set_content(body)
    return reply


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.fixture
def program(tmp_path: Path, cli) -> Program:
    return Program(tmp_path, cli)


def test_whole_program(program: Program) -> None:
    # --- onboarding: a welcome and the agreement to all six people, once -------------------
    out = program.tick("2027-02-15T09:00")
    assert "ana-ben: welcome -> mentor" in out
    assert len(program.sent()) == 13  # and, it being Monday morning, the coordinator's digest
    assert len(program.sent("coordinator@example.org")) == 1
    assert program.tick("2027-02-15T09:00").strip().endswith("nothing due")
    assert program.tick("2027-02-15T11:00").strip().endswith("nothing due")
    assert len(program.sent()) == 13

    agreement = program.only("ana@example.org", "agreement")
    assert agreement["Reply-To"].addresses[0].addr_spec.startswith("mentoring+ana-ben.m")
    assert agreement["Auto-Submitted"] == "auto-generated"
    assert agreement.get_body(preferencelist=("html",)) is not None
    assert "I agree" in _body(agreement)

    # --- replies as people write them --------------------------------------------------------
    noon = at("2027-02-15T15:00")
    program.deliver(
        gmail_reply(
            agreement,
            "Ana Alvarez <ANA@example.org>",
            "I agree! Looking forward to it.\n\nAna",
            noon,
        )
    )
    ben_agreement = program.only("ben.becker@example.net", "agreement")
    program.deliver(
        outlook_reply(
            ben_agreement,
            "Ben Becker <ben@phone.example.net>",  # an alias, from his phone
            "I agree.\n\nMy goals:\n1. Lead a small project\n2. Give better feedback\n\n"
            "Sent from my iPhone",
            noon,
        )
    )
    chen_welcome = program.only("chen@example.com", "welcome")
    ooo = EmailMessage()
    ooo["From"] = "Chen Wei <chen@example.com>"
    ooo["To"] = chen_welcome["Reply-To"]
    ooo["Subject"] = "Automatic reply: " + chen_welcome["Subject"]
    ooo["Auto-Submitted"] = "auto-replied"
    ooo["Date"] = format_datetime(noon)
    ooo["Message-ID"] = make_msgid(domain="example.com")
    ooo.set_content("I am out of the office until 22 February.")
    program.deliver(ooo)
    dina_agreement = program.only("dina@example.co.uk", "agreement")
    program.deliver(
        outlook_reply(
            dina_agreement,
            "Dina Doyle <dina@example.co.uk>",
            'You asked me to reply "I agree", but I can\'t commit to weekly meetings right now.\n\nDina',
            noon,
        )
    )
    for who, name in (("eli@example.es", "Eli Ortega"), ("fay@example.ke", "Fay Njeri")):
        original = program.only(who, "agreement")
        program.deliver(gmail_reply(original, f"{name} <{who}>", "Yes, I agree.", noon))
    stranger = EmailMessage()
    stranger["From"] = "Sam Seller <offers@example.biz>"
    stranger["To"] = "mentoring@example.org"
    stranger["Subject"] = "Boost your productivity"
    stranger["Date"] = format_datetime(noon)
    stranger["Message-ID"] = make_msgid(domain="example.biz")
    stranger.set_content("Hi! Great offer inside.")
    program.deliver(stranger)

    out = program.tick("2027-02-16T09:00")
    assert "quarantined" in out and "auto_reply" in out
    status = program.status("2027-02-16T09:00")
    assert status["ana-ben"]["agreed"] == {"mentor": True, "mentee": True}
    assert status["ana-ben"]["stage"] == "scheduled"
    assert status["ana-ben"]["goals"] == ["Lead a small project", "Give better feedback"]
    assert status["chen-dina"]["agreed"] == {"mentor": False, "mentee": False}
    assert status["eli-fay"]["stage"] == "scheduled"

    # the decline went to the coordinator with Dina's words; nobody answered the machine
    notices = program.sent("coordinator@example.org")
    assert any("can't commit to weekly meetings" in _body(m) for m in notices)
    # a stranger's words reach the coordinator (agent.pairs.hearing_back), never an answer
    assert sum("Great offer inside" in _body(m) for m in notices) == 1
    assert program.sent("offers@example.biz") == []
    assert len(program.sent("chen@example.com")) == 2
    assert len(program.folder("quarantine")) == 1
    assert len(program.folder("processed")) == 6
    assert program.folder("inbox") == []

    # --- the booked series: one RRULE event inside both windows across both DST changes -----
    invitation = program.only("ana@example.org", "Invitation:")
    calendar_part = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    assert any(p.get_filename() == "invite.ics" for p in invitation.walk())
    event = icalendar.Calendar.from_ical(calendar_part.get_content()).walk("VEVENT")[0]
    assert "RRULE" in event and event["DTSTART"].params["TZID"]
    meetings = status["ana-ben"]["meetings"]
    assert meetings["rrule"].startswith("FREQ=WEEKLY;INTERVAL=1")
    files = list((program.root / "calendar" / "events").glob("*.ics"))
    assert len(files) == 2 and (program.root / "calendar" / "program.ics").exists()
    first = datetime.fromisoformat(meetings["next"])
    ny = ZoneInfo("America/New_York")
    for week in range(13):  # 1 March to 31 May, across 14 March (US) and 28 March (EU)
        start = first + timedelta(weeks=week)
        start = start.astimezone(BERLIN).replace(hour=first.astimezone(BERLIN).hour)
        end = start + timedelta(minutes=45)
        assert start.astimezone(ny).hour >= 8 and end.astimezone(ny).hour <= 11
        assert start.astimezone(BERLIN).hour >= 13 and end.astimezone(BERLIN).hour < 16

    # --- a dry run shows the follow-ups but changes nothing ----------------------------------
    after_first = (first + timedelta(hours=3)).isoformat()
    state_before = (program.root / "state.json").read_bytes()
    dry = program.tick(after_first, "--dry-run")
    assert "would do: ana-ben: follow_up -> mentor" in dry
    assert (program.root / "state.json").read_bytes() == state_before

    # --- follow-up after the first meeting, progress logged from an Outlook reply ------------
    out = program.tick(after_first)
    assert "ana-ben: follow_up -> mentee" in out
    follow_up = program.only("ben.becker@example.net", "How did your meeting")
    program.deliver(
        outlook_reply(
            follow_up,
            "Ben Becker <ben.becker@example.net>",
            "Goal 1: about half way, I drafted the project plan.\nI'd rate it 4 out of 5.\n\n"
            "Best regards,\nBen Becker\nACME GmbH",
            first + timedelta(hours=5),
        )
    )
    program.tick((first + timedelta(hours=6)).isoformat())
    progress = program.status((first + timedelta(hours=6)).isoformat())["ana-ben"]["progress"]
    kinds = Counter(entry["kind"] for entry in progress if entry["by"] == "mentee")
    assert kinds["progress"] == 1 and kinds["rating"] == 1
    assert any(e["kind"] == "rating" and e["text"] == "4/5" for e in progress)
    assert not any("ACME" in e["text"] for e in progress)  # the signature is not progress

    # --- eli-fay goes quiet and is nudged; the coordinator hears about it later ---------------
    eli_first = datetime.fromisoformat(
        program.status("2027-02-16T09:00")["eli-fay"]["meetings"]["next"]
    )
    out = program.tick((eli_first + timedelta(days=15)).isoformat())
    assert "eli-fay: nudge -> mentor" in out and "eli-fay: nudge -> mentee" in out
    out = program.tick((eli_first + timedelta(days=16)).isoformat())
    assert "nudge" not in out

    # --- program end: every pair is closed, once ---------------------------------------------
    out = program.tick("2027-05-31T09:00")
    assert out.count("closure ->") == 6
    assert program.tick("2027-05-31T13:00").count("closure") == 0
    assert {p["stage"] for p in program.status("2027-06-01T09:00").values()} == {"closed"}

    # nothing was ever sent twice, and every message has a stable unique id
    ids = [m["Message-ID"] for m in program.sent()]
    assert len(ids) == len(set(ids))


def test_crash_between_send_and_flush_does_not_send_twice(program: Program, monkeypatch) -> None:
    """The outbox says `pending`, the message is in the sent folder: the re-run notices."""
    from agent.state.store import Store

    real_flush = Store.flush
    calls = {"n": 0}

    def crash_on_second_flush(self: Store) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # round 1 flushed the welcomes' intents, round 2 dies here
            raise SystemExit("simulated crash")
        if calls["n"] < 2:  # after the "crash" nothing reaches the disk any more
            real_flush(self)

    monkeypatch.setattr(Store, "flush", crash_on_second_flush)
    with pytest.raises(SystemExit):
        program.tick("2027-02-15T09:00")
    monkeypatch.setattr(Store, "flush", real_flush)
    sent_before = len(program.sent())
    assert sent_before == 7  # the welcomes and the digest left before the crash
    program.tick("2027-02-15T09:00")
    ids = [m["Message-ID"] for m in program.sent()]
    assert len(ids) == 13 and len(set(ids)) == 13


def test_a_second_agent_on_the_same_state_is_refused(program: Program, cli) -> None:
    from agent.commands.runtime import Runtime
    from agent.config.loading import load_config

    rt = Runtime.open(load_config(program.config))
    try:
        code, _, err = cli("tick", "--config", program.config, "--now", "2027-02-15T09:00")
    finally:
        rt.close()
    assert code == 1 and "another mentormail" in err


def test_a_message_that_breaks_the_parser_is_quarantined_not_blocking(
    program: Program, monkeypatch
) -> None:
    import agent.pairs.ingest

    program.tick("2027-02-15T09:00")
    noon = at("2027-02-15T12:00")
    ana = program.only("ana@example.org", "agreement")
    program.deliver(gmail_reply(ana, "Ana Alvarez <ana@example.org>", "POISON", noon))
    eli = program.only("eli@example.es", "agreement")
    program.deliver(gmail_reply(eli, "Eli Ortega <eli@example.es>", "I agree.", noon))
    real = agent.pairs.ingest.interpret

    def fragile(text: str, **kw):
        if "POISON" in text:
            raise RuntimeError("parser bug")
        return real(text, **kw)

    monkeypatch.setattr(agent.pairs.ingest, "interpret", fragile)
    out = program.tick("2027-02-15T13:00")
    assert "could not be processed: parser bug" in out
    assert program.status("2027-02-15T13:00")["eli-fay"]["agreed"]["mentor"] is True
    assert len(program.folder("quarantine")) == 1 and len(program.folder("processed")) == 1
    assert program.folder("inbox") == []
