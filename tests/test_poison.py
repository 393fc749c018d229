"""A poison message cannot block the inbox (agent.state.attempts), on the Maildir default.

A message that makes the parser raise, run past its time budget, or kill the agent
outright is quarantined as it arrived, the coordinator is told once, and the messages
after it are processed. A tick killed for other reasons (a crash while sending) never
quarantines the replies it was reading.
"""

from __future__ import annotations

import email.policy
import os
import subprocess
import sys
import time
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

import agent.commands.tick
import agent.state.attempts
from agent.state.opening import reading
from tests.test_lifecycle_e2e import Program, at, gmail_reply, outlook_reply

ROOT = Path(__file__).resolve().parents[1]
# Runs `mentormail ARGS...`, SIGKILLing itself whenever it is about to parse the message
# whose Message-ID is argv[1]: what a parser that hangs until a watchdog kills it does.
KILLER = """
import os, signal, sys
import agent.commands.tick
from agent.commands.cli import main

poison, real = sys.argv[1].encode(), agent.commands.tick.parse_message

def parse(raw, **kw):
    if poison in raw:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(raw, **kw)

agent.commands.tick.parse_message = parse
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture
def program(tmp_path: Path, cli) -> Program:
    p = Program(tmp_path, cli)
    p.tick("2027-02-15T09:00")  # welcomes and agreements out
    return p


def _id(message: EmailMessage) -> str:
    return str(message["Message-ID"]).strip("<>")


def _ids(messages: list[EmailMessage]) -> set[str]:
    return {_id(m) for m in messages}


def _notices(program: Program, about: str = "") -> list[EmailMessage]:
    return [
        m
        for m in program.sent("coordinator@example.org")
        if "Needs you" in m["Subject"] and about in _body(m)
    ]


def _poison_notices(program: Program) -> list[EmailMessage]:
    return _notices(program, "could not be processed")


def _body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _three_replies(program: Program) -> tuple[EmailMessage, EmailMessage, EmailMessage]:
    """Eli agrees (Gmail), Ana's reply is the poison (Outlook), Chen agrees (Gmail),
    delivered in that order."""
    noon = at("2027-02-15T12:00")
    eli = gmail_reply(program.only("eli@example.es", "agreement"), "Eli Ortega <eli@example.es>",
                      "I agree, thanks!", noon)  # fmt: skip
    ana = outlook_reply(program.only("ana@example.org", "agreement"),
                        "Ana Alvarez <ana@example.org>", "Agreed. Ana", noon)  # fmt: skip
    ana.replace_header("Subject", "RE: our mentoring agreement (see my notes)")
    chen = gmail_reply(program.only("chen@example.com", "agreement"),
                       "Chen Wei <chen@example.com>", "I agree.", noon)  # fmt: skip
    inbox = program.root / "mail" / "inbox" / "new"
    for n, message in enumerate((eli, ana, chen)):
        path = inbox / f"{1796000000 + n}.M{n}P1.mail.example"
        path.write_bytes(message.as_bytes(policy=email.policy.SMTP))
        os.utime(path, (1796000000 + n, 1796000000 + n))  # the order Maildir fetches in
    return eli, ana, chen


def _assert_quarantined_once(program: Program, poison: EmailMessage, *others: EmailMessage) -> None:
    """The poison is in quarantine as it arrived, the others were processed, and the
    coordinator got one notice of it."""
    assert _ids(program.folder("quarantine")) == {_id(poison)}
    assert _ids(program.folder("processed")) == _ids(list(others))
    assert program.folder("inbox") == []
    raw = next((program.root / "mail" / "quarantine" / "cur").iterdir()).read_bytes()
    assert raw == poison.as_bytes(policy=email.policy.SMTP)  # as it arrived
    with reading(program.root / "state.json") as store:
        assert store.inbound(_id(poison))["outcome"] == "quarantined"
        assert all(store.inbound(_id(m))["outcome"] != "quarantined" for m in others)
    notices = _poison_notices(program)
    assert len(notices) == 1
    text = _body(notices[0])
    assert "ana@example.org" in text and "RE: our mentoring agreement (see my notes)" in text
    assert "quarantine folder" in text


def test_a_message_that_crashes_the_parser_is_quarantined_and_told_once(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    eli, poison, chen = _three_replies(program)
    real = agent.commands.tick.parse_message

    def fragile(raw: bytes, **kw):
        if _id(poison).encode() in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real(raw, **kw)

    monkeypatch.setattr(agent.commands.tick, "parse_message", fragile)
    out = program.tick("2027-02-15T13:00")
    assert "could not be processed: maximum recursion depth exceeded" in out
    _assert_quarantined_once(program, poison, eli, chen)
    program.tick("2027-02-15T14:00")
    assert len(_poison_notices(program)) == 1


def test_a_message_that_runs_past_its_budget_is_stopped_and_quarantined(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    eli, poison, chen = _three_replies(program)
    real = agent.commands.tick.parse_message

    def slow(raw: bytes, **kw):
        if _id(poison).encode() in raw:
            time.sleep(600)  # a super-linear regex, as far as the agent can tell
        return real(raw, **kw)

    monkeypatch.setattr(agent.commands.tick, "parse_message", slow)
    monkeypatch.setattr(agent.state.attempts, "MESSAGE_SECONDS", 1.0)
    started = time.monotonic()
    out = program.tick("2027-02-15T13:00")
    assert time.monotonic() - started < 300  # stopped, not waited out
    assert "took longer than 1 s" in out
    _assert_quarantined_once(program, poison, eli, chen)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_message_that_kills_the_agent_is_quarantined_after_two_attempts(
    program: Program,
) -> None:
    eli, poison, chen = _three_replies(program)
    tick = ["tick", "--config", str(program.config), "--now", "2027-02-15T13:00"]
    for attempt in (1, 2):
        run = _run("-c", KILLER, _id(poison), *tick)
        assert run.returncode == -9, f"attempt {attempt}: {run.stdout}{run.stderr}"
        assert len(program.folder("inbox")) == 3 and _poison_notices(program) == []
    run = _run("-c", KILLER, _id(poison), *tick)  # the third time it is not parsed
    assert run.returncode == 0, run.stdout + run.stderr
    assert "could not be processed in 2 attempts" in run.stdout
    _assert_quarantined_once(program, poison, eli, chen)
    program.tick("2027-02-15T14:00")
    assert len(_poison_notices(program)) == 1
    assert not list(program.root.glob("*.attempts"))  # nothing left to count


def test_ticks_killed_while_sending_do_not_quarantine_the_replies_they_read(
    program: Program,
) -> None:
    """Two kills in a row after the replies were read (a notice being sent) are not
    the replies' fault: they are processed, and the notice goes out once."""
    noon = at("2027-02-15T12:00")
    ana = program.only("ana@example.org", "agreement")
    program.deliver(gmail_reply(ana, "Ana Alvarez <ana@example.org>",
                                "Quick question: can my manager join the first meeting?",
                                noon))  # fmt: skip
    eli = program.only("eli@example.es", "agreement")
    program.deliver(gmail_reply(eli, "Eli Ortega <eli@example.es>", "I agree.", noon))
    tick = ["--", "tick", "--config", str(program.config), "--now", "2027-02-15T13:00"]
    for _ in range(2):
        run = _run("-m", "tests.killprogram", "--kill-at", "send:before:1", *tick)
        assert "KILLED AT send:before#1" in run.stdout + run.stderr, run.stdout + run.stderr
    run = _run("-m", "tests.killprogram", *tick)
    assert run.returncode == 0, run.stdout + run.stderr
    assert program.folder("quarantine") == [] and len(program.folder("processed")) == 2
    assert len(_notices(program, "can my manager join")) == 1


def test_a_message_the_parser_cannot_read_at_all_is_reported_from_its_header_lines(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen only by its raw header lines: a stranger's encoded-word name and subject."""
    raw = (
        b"From: =?utf-8?q?Jos=C3=A9_Garc=C3=ADa?= <jose@example.com>\r\n"
        b"To: mentoring@example.org\r\n"
        b"Subject: =?utf-8?b?V8O2cnRlcmJ1Y2ggZsO8ciBNZW50b3Jlbg==?=\r\n"
        b"Date: Mon, 15 Feb 2027 12:00:00 +0100\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Hallo!\r\n"
    )
    (program.root / "mail" / "inbox" / "new" / "1796000000.M1P1.mail.example").write_bytes(raw)

    def broken(data: bytes, **kw):
        raise MemoryError

    monkeypatch.setattr(agent.commands.tick, "parse_message", broken)
    program.tick("2027-02-15T13:00")
    assert len(program.folder("quarantine")) == 1
    (notice,) = _poison_notices(program)
    parsed = BytesParser(policy=email.policy.default).parsebytes(notice.as_bytes())
    text = _body(parsed)
    assert "José García <jose@example.com>" in text and "Wörterbuch für Mentoren" in text
    assert "could not be processed: MemoryError" in text, text
