"""Nothing a person writes is lost to an encoding (agent.mail_in.kept.visible), on the Maildir default.

A question in `charset=unicode_escape` holding a lone surrogate, or in bytes that are not
the UTF-8 they claim to be, reaches the coordinator in the notice, with what cannot be
shown replaced visibly (U+FFFD), in the first tick.
"""

from __future__ import annotations

import email.policy
import json
from email.parser import BytesParser
from pathlib import Path

import pytest

from agent.state.opening import reading
from tests.test_lifecycle_e2e import Program

PARSER = BytesParser(policy=email.policy.default)


@pytest.fixture
def program(tmp_path: Path, cli) -> Program:
    p = Program(tmp_path, cli)
    p.tick("2027-02-15T09:00")
    return p


def _deliver(program: Program, raw: bytes) -> None:
    (program.root / "mail" / "inbox" / "new" / "1796000000.M1P1.mail.example").write_bytes(raw)


def _reply_headers(program: Program, subject: bytes, content_type: bytes) -> bytes:
    """Ana answering the agreement email from Thunderbird, threaded by its Message-ID."""
    agreement = program.only("ana@example.org", "agreement")
    return (
        b"Message-ID: <5c3e9a41-7f2b-4d0e-9c11-2b8e3f6a9d70@example.org>\r\n"
        b"Date: Mon, 15 Feb 2027 12:04:11 -0500\r\n"
        b"MIME-Version: 1.0\r\n"
        b"User-Agent: Mozilla Thunderbird\r\n"
        b"From: Ana Alvarez <ana@example.org>\r\n"
        + b"To: " + str(agreement["Reply-To"]).encode() + b"\r\n"
        + b"In-Reply-To: " + str(agreement["Message-ID"]).encode() + b"\r\n"
        + b"Subject: " + subject + b"\r\n"
        + b"Content-Type: " + content_type + b"\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    )  # fmt: skip


def _notice(program: Program, out: str) -> str:
    assert "error" not in out, out
    notices = [m for m in program.sent("coordinator@example.org") if "Needs you" in m["Subject"]]
    assert len(notices) == 1, out
    again = PARSER.parsebytes(notices[0].as_bytes())  # as the coordinator's client reads it
    return again.get_body(preferencelist=("plain",)).get_content()


def test_a_lone_surrogate_in_unicode_escape_reaches_the_coordinator_replaced(
    program: Program,
) -> None:
    raw = _reply_headers(
        program,
        b"=?unicode_escape?q?Frage_=5Cud83d=5Cude00_zum_Budget_=5Cud800?=",
        b"text/plain; charset=unicode_escape; format=flowed",
    ) + (
        b"Hi,\r\n\r\nI have a question: does the program pay for travel to the \\ud800 "
        b"kick-off in Berlin?\r\n\r\nThanks,\r\nAna\r\n"
    )
    _deliver(program, raw)
    text = _notice(program, program.tick("2027-02-15T19:00"))
    assert "does the program pay for travel to the \ufffd kick-off in Berlin?" in text
    assert "Subject: Frage 😀 zum Budget \ufffd" in text
    with reading(program.root / "state.json") as store:
        (record,) = [r for r in store.inbound_records() if r["from"] == "ana@example.org"]
    assert "\ufffd kick-off" in record["text"] and record["outcome"] == "needs_human"


def test_bytes_that_are_not_the_utf8_they_claim_reach_the_coordinator(program: Program) -> None:
    raw = _reply_headers(
        program,
        b"Re: question about the caf\xe9 meeting \xff",
        b'text/plain; charset="utf-8"',
    ) + (
        b"Hi,\r\n\r\nI have a question: can we meet at the caf\xe9 near the office "
        b"instead? \xc3\x28 \xed\xa0\x80 Thanks!\r\n\r\nAna\r\n"
    )
    _deliver(program, raw)
    text = _notice(program, program.tick("2027-02-15T19:00"))
    assert "can we meet at the café near the office instead?" in text
    assert "Thanks!" in text and "Subject: Re: question about the café meeting" in text


def test_inspect_shows_the_same_question_replaced(program: Program, cli) -> None:
    """`parse_message` itself cleans the text, so `inspect` shows what the notice quotes."""
    raw = (
        _reply_headers(program, b"Frage zum Budget", b"text/plain; charset=unicode_escape")
        + b"Hi,\r\n\r\ndoes the program pay for travel to the \\ud800 kick-off?\r\n\r\nAna\r\n"
    )
    (program.root / "reply.eml").write_bytes(raw)
    code, out, err = cli("inspect", program.root / "reply.eml", "--json")
    assert code == 0, err
    assert "travel to the \ufffd kick-off" in json.loads(out.splitlines()[0])["reply_text"]
