"""The coordinator answers the agent's emails, as coordinators do: from Outlook at their
desk, Gmail, a one-line "release" from an iPhone, a German "Erledigt" from Apple Mail.

The three-pair program runs on the Maildir default, ticked through the CLI; every email
is a full RFC 5322 message in its client's shape (tests/coordinator_mail.py), delivered
the way the receiving server does (tests/mta.py stamps its Authentication-Results). Each
test checks the state change (status, or the state file), the email the coordinator
gets back, and what the participants get. A forged coordinator From without
authentication changes nothing (docs/trust.md).
"""

from __future__ import annotations

import email.policy
import mailbox
import shutil
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from agent.config.loading import load_config
from agent.pairs.program import PairState
from agent.state.opening import reading
from tests.coordinator_mail import apple_mail_de, gmail, iphone, outlook
from tests.mta import stamp
from tests.test_lifecycle_e2e import Program, at, gmail_reply

BEN = "Ben.Becker@example.net"
BEN_HOME = "ben.becker.home@gmail.com"
COORDINATOR = "coordinator@example.org"
QUESTION = "Quick question before I agree: is there a budget for books or courses?\n\nBen"


@pytest.fixture
def program(onboarded: Path, tmp_path: Path, cli) -> Program:
    root = tmp_path / "program"
    shutil.copytree(onboarded, root)
    return Program(root, cli)


def deliver(program: Program, raw: bytes, *, dmarc: str | None = "pass") -> None:
    """Into the inbox as the receiving server delivers it; `dmarc` None: a message its
    server did not vouch for (no Authentication-Results of the trusted server)."""
    data = stamp(raw, dmarc=dmarc) if dmarc else raw
    mailbox.Maildir(program.root / "mail" / "inbox").add(data)


def new_mail(program: Program, before: int) -> list[EmailMessage]:
    """Mail sent since there were `before` messages, in the order sent."""
    box = program.root / "mail" / "sent"
    paths = sorted(
        (p for sub in ("new", "cur") for p in (box / sub).iterdir()),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
    )
    parser = BytesParser(policy=email.policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in paths[before:]]  # type: ignore[misc]


def to(message: EmailMessage) -> str:
    return message["To"].addresses[0].addr_spec.lower()


def body(message: EmailMessage) -> str:
    return " ".join(message.get_body(preferencelist=("plain",)).get_content().split())


def state(program: Program, pair_id: str = "ana-ben") -> PairState:
    cfg = load_config(program.config)
    with reading(cfg.resolve(cfg.storage.path)) as store:
        return store.pair_state(pair_id)


def records(program: Program) -> list[dict[str, Any]]:
    cfg = load_config(program.config)
    with reading(cfg.resolve(cfg.storage.path)) as store:
        return list(store.inbound_records())


def log(program: Program, pair_id: str = "ana-ben") -> list[dict[str, Any]]:
    cfg = load_config(program.config)
    with reading(cfg.resolve(cfg.storage.path)) as store:
        return store.log(pair_id)


def tick(program: Program, now: str) -> tuple[str, list[EmailMessage]]:
    before = len(program.sent())
    out = program.tick(now)
    return out, new_mail(program, before)


def agreement(program: Program, who: str = BEN) -> EmailMessage:
    """The agreement email `who` got (not the agent's answers to their replies)."""
    found = [m for m in program.sent(who) if m["Subject"].startswith("Your mentoring agreement")]
    assert len(found) == 1
    return found[0]


def ben_asks(program: Program) -> EmailMessage:
    """Ben answers his agreement with a question; the coordinator's notice about it."""
    original = agreement(program)
    reply = gmail_reply(original, f"Ben Becker <{BEN}>", QUESTION, at("2027-02-15T10:02"))
    program.deliver(reply)
    _, sent = tick(program, "2027-02-15T11:00")
    return next(m for m in sent if to(m) == COORDINATOR)


def ben_writes_from_home(program: Program, *, dmarc: str | None) -> EmailMessage:
    """Ben agrees from an address the config does not know; the quarantine notice."""
    reply = gmail_reply(
        agreement(program),
        f"Ben Becker <{BEN_HOME}>",
        "I agree! Looking forward to it.\n\nBen",
        at("2027-02-15T10:05"),
    )
    deliver(program, reply.as_bytes(policy=email.policy.SMTP), dmarc=dmarc)
    out, sent = tick(program, "2027-02-15T11:00")
    assert f"quarantined ({BEN_HOME} is not a participant of pair ana-ben)" in out, out
    return next(m for m in sent if to(m) == COORDINATOR)


# --------------------------------------------------------------------- notices and Reply-To


def test_a_notice_about_a_persons_reply_carries_them_as_reply_to(program: Program) -> None:
    notice = ben_asks(program)
    assert notice["Reply-To"].addresses[0].addr_spec == BEN.lower()
    assert notice["Reply-To"].addresses[0].display_name == "Ben Becker"
    assert notice["Cc"].addresses[0].addr_spec == "mentoring@example.org"
    assert "budget for books" in body(notice)
    assert "ana-ben" in notice["Subject"]

    quarantined = ben_writes_from_home(program, dmarc="pass")
    assert quarantined["Reply-To"] is None and quarantined["Cc"] is None  # answers go to us


def test_reply_all_answering_the_person_is_kept_and_settles_the_wait(program: Program) -> None:
    notice = ben_asks(program)
    assert "mentee" in state(program).waiting
    answer = "Hi Ben,\n\nYes - up to 100 EUR for books, just send me the receipt.\n\nBest,\nChris"
    deliver(program, gmail(notice, answer, at("2027-02-15T11:30"), reply_all=True))

    out, sent = tick(program, "2027-02-15T12:00")

    assert "coordinator answered ben.becker@example.net" in out, out
    assert sent == []  # Ben got Chris's answer from Chris; the agent adds no email
    assert "mentee" not in state(program).waiting
    notes = [e for e in log(program) if e["kind"] == "coordinator_note"]
    assert len(notes) == 1 and "100 EUR for books" in notes[0]["text"]


def test_the_agents_own_copy_of_a_notice_is_not_quarantined(program: Program) -> None:
    """The notice's Cc brings it back over SMTP: it is the agent's own auto-generated mail
    (RFC 3834), logged and moved to processed, never answered."""
    notice = ben_asks(program)
    deliver(program, notice.as_bytes(policy=email.policy.SMTP), dmarc="pass")
    out, sent = tick(program, "2027-02-15T11:10")
    assert "mentoring@example.org: auto_reply (Auto-Submitted: auto-generated)" in out, out
    assert sent == [] and program.folder("quarantine") == []


# --------------------------------------------------------------------- instructions


def test_outlook_agreed_marks_the_person_agreed_once(program: Program) -> None:
    notice = ben_asks(program)
    reply = outlook(
        notice,
        "Agreed \u2013 I spoke to Ben this morning, he is in.\n\nChris\n\n"
        "Chris Coordinator | Programme Office\nexample.org",
        at("2027-02-15T11:40"),
        reply_all=True,  # Reply would go to Ben alone (the notice's Reply-To)
    )
    deliver(program, reply)

    out, sent = tick(program, "2027-02-15T12:00")

    assert program.status("2027-02-15T12:00")["ana-ben"]["agreed"] == {
        "mentor": False,
        "mentee": True,
    }, out
    done = [m for m in sent if to(m) == COORDINATOR]
    assert len(done) == 1 and done[0]["Subject"].startswith("Done: Agreed")
    assert "marked the mentee agreed (pair ana-ben)" in body(done[0])
    entries = [e for e in log(program) if e["kind"] == "coordinator"]
    assert [e["text"] for e in entries] == ["marked the mentee agreed (pair ana-ben) (by email)"]
    assert entries[0]["key"].startswith("mail:")

    out, sent = tick(program, "2027-02-15T12:30")  # nothing is applied or answered twice
    assert sent == [] and out.strip().endswith("nothing due"), out
    assert len([e for e in log(program) if e["kind"] == "coordinator"]) == 1


def test_alias_from_gmail_adds_the_address_and_applies_the_message(program: Program) -> None:
    notice = ben_writes_from_home(program, dmarc="pass")
    reply = gmail(
        notice, "Alias please - that's Ben's home address.\n\nChris", at("2027-02-15T12:10")
    )
    deliver(program, reply)

    _, sent = tick(program, "2027-02-15T12:30")

    status = program.status("2027-02-15T12:30")["ana-ben"]
    assert status["agreed"]["mentee"] is True
    assert status["aliases"] == {"mentor": [], "mentee": [BEN_HOME]}
    done = next(m for m in sent if to(m) == COORDINATOR)
    assert f"added {BEN_HOME} as an address of Ben Becker (pair ana-ben)" in body(done)
    assert "applied Ben Becker's message as theirs (agree; pair ana-ben)" in body(done)
    _, out, _ = program.cli("status", "--config", program.config, "--now", "2027-02-15T12:30")
    assert f"the mentee also writes from {BEN_HOME} (added by the coordinator)" in out

    # his next email from there is his: read, not quarantined
    again = gmail_reply(
        agreement(program, "ana@example.org"),
        f"Ben Becker <{BEN_HOME}>",
        "Looking forward to Monday!",
        at("2027-02-16T09:00"),
    )
    del again["In-Reply-To"], again["References"]
    again.replace_header("To", "mentoring@example.org")
    deliver(program, again.as_bytes(policy=email.policy.SMTP))
    out, _ = tick(program, "2027-02-16T10:00")
    assert "ana-ben/mentee:" in out and "quarantined" not in out, out


def test_iphone_release_needs_the_alias_and_the_config_offers_it_again(
    program: Program,
) -> None:
    notice = ben_writes_from_home(program, dmarc=None)  # his mail server vouched for nothing
    before = program.status("2027-02-15T12:00")
    deliver(program, iphone(notice, "Release", at("2027-02-15T11:20")))

    _, sent = tick(program, "2027-02-15T11:30")

    assert program.status("2027-02-15T12:00") == before  # not an address of Ben's yet
    answer = next(m for m in sent if to(m) == COORDINATOR)
    assert answer["Subject"].startswith("Not done: Release")
    assert f'{BEN_HOME} is not an address of a participant of pair ana-ben; answer "alias"' in (
        body(answer)
    )

    # the coordinator adds the address to the config instead
    text = program.config.read_text(encoding="utf-8")
    program.config.write_text(
        text.replace(
            "aliases: [ben@phone.example.net]", f"aliases: [ben@phone.example.net, {BEN_HOME}]"
        ),
        encoding="utf-8",
    )
    # Program writes THREE_PAIRS only when built, so the change stays
    _, sent = tick(program, "2027-02-15T12:00")
    offer = next(m for m in sent if to(m) == COORDINATOR)
    assert offer["Subject"] == (
        f"A quarantined message from {BEN_HOME} is from Ben Becker (pair ana-ben)"
    )
    assert "without a trusted DMARC pass, so I have not applied it" in body(offer)
    assert "> I agree! Looking forward to it." in offer.get_body(("plain",)).get_content()
    assert program.status("2027-02-15T12:05")["ana-ben"]["agreed"]["mentee"] is False

    deliver(
        program,
        apple_mail_de(offer, "Freigeben bitte.\n\nViele Grüße\nChris", at("2027-02-15T12:20")),
    )
    _, sent = tick(program, "2027-02-15T12:30")
    assert program.status("2027-02-15T12:30")["ana-ben"]["agreed"]["mentee"] is True
    done = next(m for m in sent if to(m) == COORDINATOR)
    assert done["Subject"].startswith("Done: Freigeben")
    _, sent = tick(program, "2027-02-15T13:00")
    assert sent == []  # offered once, released once


def test_german_erledigt_settles_the_question(program: Program) -> None:
    notice = ben_asks(program)
    item = next(r for r in records(program) if r.get("outcome") == "needs_human")
    deliver(
        program,
        apple_mail_de(notice, "Erledigt, danke!\n\nChris", at("2027-02-15T11:45"), reply_all=True),
    )

    _, sent = tick(program, "2027-02-15T12:00")

    settled = next(r for r in records(program) if r["message_id"] == item["message_id"])
    assert settled["settled"] == "resolved"
    assert "mentee" not in state(program).waiting
    done = next(m for m in sent if to(m) == COORDINATOR)
    assert "marked the message from ben.becker@example.net resolved" in body(done)
    code, out, _ = program.cli("inbox", "list", "--config", program.config)
    assert code == 0 and out.strip() == "nothing waits for you"


def test_a_misspelt_instruction_is_answered_with_what_the_agent_understands(
    program: Program,
) -> None:
    notice = ben_writes_from_home(program, dmarc="pass")
    before = program.status("2027-02-15T12:00")
    deliver(program, iphone(notice, "relase", at("2027-02-15T11:20")))

    _, sent = tick(program, "2027-02-15T11:30")

    assert program.status("2027-02-15T12:00") == before
    answer = next(m for m in sent if to(m) == COORDINATOR)
    text = body(answer)
    assert 'I didn\'t understand "relase". Did you mean "release"? Nothing has changed.' in text
    for phrase in ("agreed -", "release -", "alias -", "pause until 19 March", "resolved -"):
        assert phrase in text


def test_a_longer_reply_that_is_no_instruction_is_kept_as_a_note(program: Program) -> None:
    notice = ben_writes_from_home(program, dmarc="pass")
    text = "Thanks - I will ring Ben tomorrow to check that this address is really his.\n\nChris"
    deliver(program, outlook(notice, text, at("2027-02-15T11:45")))
    _, sent = tick(program, "2027-02-15T12:00")
    answer = next(m for m in sent if to(m) == COORDINATOR)
    assert answer["Subject"] == "Kept your note (pair ana-ben)"
    assert "it was not an instruction, so nothing has changed" in body(answer)
    notes = [e for e in log(program) if e["kind"] == "coordinator_note"]
    assert "ring Ben tomorrow" in notes[0]["text"]
    _, out, _ = program.cli("inbox", "list", "--config", program.config)
    assert "coordinator@example.org: 'RE: Needs you" in out, out
    assert f"{BEN_HOME}: 'Re: Your mentoring agreement" in out, out  # still waiting


def test_pause_until_a_date_and_the_pair_resumes_that_day(program: Program) -> None:
    notice = ben_asks(program)
    deliver(
        program,
        outlook(
            notice, "Pause until 19 March, please.\n\nChris", at("2027-02-15T11:45"), reply_all=True
        ),
    )
    _, sent = tick(program, "2027-02-15T12:00")
    assert program.status("2027-02-15T12:00")["ana-ben"]["stage"] == "paused"
    done = next(m for m in sent if to(m) == COORDINATOR)
    assert "paused the pair until Fri 19 Mar 2027 (pair ana-ben)" in body(done)

    _, sent = tick(program, "2027-02-22T09:00")
    assert not [m for m in sent if to(m) == BEN.lower()]  # no reminders while paused
    program.tick("2027-03-19T09:00")
    assert program.status("2027-03-19T09:00")["ana-ben"]["stage"] == "agreement_pending"


def test_close_by_email_sends_the_closing_emails(program: Program) -> None:
    notice = ben_asks(program)
    deliver(
        program, gmail(notice, "Close the pair.\n\nChris", at("2027-02-15T11:45"), reply_all=True)
    )
    _, sent = tick(program, "2027-02-15T12:00")
    assert program.status("2027-02-15T12:00")["ana-ben"]["stage"] in ("closing", "closed")
    assert {to(m) for m in sent} >= {"ana@example.org", BEN.lower(), COORDINATOR}


# --------------------------------------------------------------------- trust


def test_a_forged_coordinator_from_changes_nothing(program: Program) -> None:
    """Someone who saw the notice (a forwarded copy) writes "close" as the coordinator.
    Their server cannot put a DMARC pass for example.org in the trusted header: the
    coordinator is asked to confirm, at their configured address, and nothing changes."""
    notice = ben_asks(program)
    before = program.status("2027-02-15T12:00")
    deliver(program, outlook(notice, "Close", at("2027-02-15T11:45"), reply_all=True), dmarc=None)

    _, sent = tick(program, "2027-02-15T12:00")

    assert program.status("2027-02-15T12:00") == before
    assert [to(m) for m in sent] == [COORDINATOR]
    confirm = sent[0]
    assert confirm["Subject"] == "Please confirm: Close (pair ana-ben)"
    assert "nothing has changed yet" in body(confirm)

    # the coordinator did not send it
    deliver(program, gmail(confirm, "No, that wasn't me!", at("2027-02-15T12:10")), dmarc=None)
    _, sent = tick(program, "2027-02-15T12:30")
    assert program.status("2027-02-15T12:30") == before
    assert "did not send the instruction" in body(next(m for m in sent if to(m) == COORDINATOR))

    # a failed DMARC verdict is quarantined outright; a From without our thread is kept
    deliver(program, outlook(notice, "Close", at("2027-02-15T12:40")), dmarc="fail")
    fresh = (
        b"From: Chris Coordinator <coordinator@example.org>\r\nTo: mentoring@example.org\r\n"
        b"Subject: ana-ben\r\nDate: Mon, 15 Feb 2027 12:41:00 +0100\r\n"
        b"Message-ID: <fresh-1@example.org>\r\n\r\nclose\r\n"
    )
    deliver(program, fresh, dmarc=None)
    out, sent = tick(program, "2027-02-15T13:00")
    assert "quarantined (the sender's domain failed DMARC" in out, out
    assert program.status("2027-02-15T13:00") == before
    assert sorted(m["Subject"] for m in sent if to(m) == COORDINATOR) == [
        "Needs you: reply from Chris Coordinator",  # the quarantined one, as for anyone
        "Not done: close",  # the one without our thread: kept, and nothing done
    ]


def test_the_coordinator_confirms_an_unauthenticated_instruction(program: Program) -> None:
    notice = ben_asks(program)
    deliver(
        program,
        iphone(notice, "Pause until 19 March", at("2027-02-15T11:45"), reply_all=True),
        dmarc=None,
    )
    _, sent = tick(program, "2027-02-15T12:00")
    assert program.status("2027-02-15T12:00")["ana-ben"]["stage"] == "agreement_pending"
    confirm = next(m for m in sent if to(m) == COORDINATOR)

    deliver(program, iphone(confirm, "Yes, that was me.", at("2027-02-15T12:05")), dmarc=None)
    _, sent = tick(program, "2027-02-15T12:10")
    assert program.status("2027-02-15T12:10")["ana-ben"]["stage"] == "paused"
    assert "paused the pair until Fri 19 Mar 2027" in body(sent[0])

    deliver(program, iphone(confirm, "Yes", at("2027-02-15T12:15")), dmarc=None)
    tick(program, "2027-02-15T12:20")  # confirmed already: applied once
    assert [e["text"] for e in log(program) if e["kind"] == "coordinator"] == [
        "paused the pair until Fri 19 Mar 2027 (pair ana-ben) (by email, confirmed)"
    ]


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_crash_and_a_rerun_apply_an_instruction_once(
    program: Program, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    """The agent dies at the first, second or last write of the tick that reads "agreed"
    (its state change, log entry and inbound record go in one write; the answer email
    is an action of its own): the rerun applies it once and answers once."""
    from agent.state.store import Store

    notice = ben_asks(program)
    deliver(program, outlook(notice, "Agreed.", at("2027-02-15T11:40"), reply_all=True))
    real_flush = Store.flush
    calls = {"n": 0}

    def crash(self: Store) -> None:
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise SystemExit("simulated crash")
        if calls["n"] < crash_at:
            real_flush(self)

    monkeypatch.setattr(Store, "flush", crash)
    before = len(program.sent())
    with pytest.raises(SystemExit):
        program.tick("2027-02-15T12:00")
    monkeypatch.setattr(Store, "flush", real_flush)
    program.tick("2027-02-15T12:00")
    program.tick("2027-02-15T12:10")

    assert state(program).agreed.keys() == {"mentee"}
    assert len([e for e in log(program) if e["kind"] == "coordinator"]) == 1
    answers = [m for m in new_mail(program, before) if m["Subject"].startswith("Done: Agreed")]
    assert len(answers) == 1


def test_inspect_shows_what_the_coordinators_answer_would_do(
    program: Program, tmp_path: Path
) -> None:
    notice = ben_asks(program)
    for text, dmarc, said in (
        ("Agreed.", "pass", "outcome: coordinator (instruction agree: applied)"),
        ("Agreed.", None, "instruction agree: held for confirmation (no trusted DMARC pass)"),
        ("relase", "pass", "an unknown instruction 'relase' (did you mean 'release'?)"),
    ):
        saved = tmp_path / "answer.eml"
        raw = outlook(notice, text, at("2027-02-15T11:40"), reply_all=True)
        saved.write_bytes(stamp(raw, dmarc=dmarc) if dmarc else raw)
        code, out, _ = program.cli("inspect", "--config", program.config, saved)
        assert code == 0 and "matched: ana-ben/? via coordinator" in out, out
        assert said in out, out
    assert state(program).agreed == {}  # inspect changes nothing


def test_the_coordinators_out_of_office_is_not_answered(program: Program) -> None:
    notice = ben_asks(program)
    auto = (
        "From: Chris Coordinator <coordinator@example.org>\r\n"
        "To: Mentoring Program <mentoring@example.org>\r\n"
        f"Subject: Automatic reply: {notice['Subject']}\r\n"
        "Date: Mon, 15 Feb 2027 11:01:00 +0100\r\n"
        "Message-ID: <oof-7f3a@example.org>\r\n"
        f"In-Reply-To: {notice['Message-ID']}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "X-Auto-Response-Suppress: All\r\n"
        'Content-Type: text/plain; charset="us-ascii"\r\n\r\n'
        "I am out of the office until Monday 22 February. Close matters go to Sam.\r\n"
    ).encode()
    deliver(program, auto)
    out, sent = tick(program, "2027-02-15T11:30")
    assert "ana-ben/None: auto_reply (Auto-Submitted: auto-replied)" in out, out
    assert sent == [] and program.status("2027-02-15T11:30")["ana-ben"]["stage"] != "closing"
