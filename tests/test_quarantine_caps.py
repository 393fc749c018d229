"""Strangers cannot bloat the state (agent.mail_in.kept), on the Maildir default.

A quarantined message keeps at most `TEXT_KEPT` characters of text in the state (the raw
message stays in the quarantine folder, byte for byte); after `PER_SENDER` quarantined
messages from one address in a day, the next ones keep a record without subject or text.
The digest still counts every one of them.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from agent.mail_in.kept import PER_SENDER, TEXT_KEPT
from agent.state.opening import reading
from tests.test_lifecycle_e2e import Program, at

PITCH = (
    "Dear Sir or Madam,\n\nWe are a leading SEO agency and noticed your mentoring "
    "program's website could rank much higher. Our packages start at $99/month.\n\n"
)


@pytest.fixture
def program(tmp_path: Path, cli) -> Program:
    p = Program(tmp_path, cli)
    p.tick("2027-02-15T09:00")
    return p


def _outlook_mail(sender: str, subject: str, text: str, when: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Mentoring Program <mentoring@example.org>"
    message["Subject"] = subject
    message["Date"] = format_datetime(at(when))
    message["Message-ID"] = make_msgid(domain="EUR03.prod.outlook.example")
    message["X-MS-Has-Attach"] = ""
    message["Content-Language"] = "en-US"
    message.set_content(text)
    message.add_alternative(f"<html><body><p>{text[:2000]}</p></body></html>", subtype="html")
    return message


def _folder(program: Program, name: str) -> list[bytes]:
    folder = program.root / "mail" / name
    return sorted(p.read_bytes() for sub in ("new", "cur") for p in (folder / sub).iterdir())


def _records(program: Program) -> list[dict]:
    with reading(program.root / "state.json") as store:
        return list(store.inbound_records())


def _digest(program: Program) -> str:
    """The digest of the week the messages came in, 15-21 February."""
    subject = "weekly digest, 15–21 February 2027"
    (digest,) = [m for m in program.sent("coordinator@example.org") if subject in m["Subject"]]
    return digest.get_body(preferencelist=("plain",)).get_content()


def test_quarantined_text_is_capped_and_one_sender_keeps_only_a_count(program: Program) -> None:
    sender = "Alex Growth <alex@seo-growth.example>"
    spam = [  # 1500 pitches: about 230,000 characters each
        _outlook_mail(sender, f"Rank #1 on Google, offer {n}", PITCH * 1500, "2027-02-16T08:00")
        for n in range(PER_SENDER + 2)
    ]
    other = _outlook_mail("Sam Lee <sam@university.example>", "Can I still join?",
                          "Hello, is it too late to sign up as a mentee?", "2027-02-16T08:30")  # fmt: skip
    for message in [*spam, other]:
        program.deliver(message)
    delivered = _folder(program, "inbox")
    out = program.tick("2027-02-16T09:00")
    assert "error" not in out, out
    raws = _folder(program, "quarantine")
    assert raws == delivered  # as they arrived
    records = {r["message_id"]: r for r in _records(program) if r["outcome"] == "quarantined"}
    kept = [records[str(m["Message-ID"]).strip("<>")] for m in spam]
    with_text = [r for r in kept if r["text"]]
    assert len(with_text) == PER_SENDER
    for record in with_text:
        assert record["text"].startswith("Dear Sir or Madam")
        assert len(record["text"]) < TEXT_KEPT + 200
        assert record["text"].endswith("not kept; the raw message is in the quarantine folder]")
    for record in kept[PER_SENDER:]:
        assert record["subject"] == "" and record["text"] == "" and record["from"]
        assert "not kept" in record["reason"]
    assert records[str(other["Message-ID"]).strip("<>")]["text"].startswith("Hello, is it")
    state = (program.root / "state.json").stat().st_size
    assert state < sum(len(r) for r in raws) / 3

    program.tick("2027-02-22T09:00")
    assert f"- Quarantined messages: {PER_SENDER + 3}" in _digest(program)


def test_a_new_day_gives_a_sender_text_again(program: Program) -> None:
    for n in range(PER_SENDER + 1):
        program.deliver(_outlook_mail("Alex <alex@seo-growth.example>", f"Offer {n}", PITCH,
                                      "2027-02-16T08:00"))  # fmt: skip
    program.tick("2027-02-16T09:00")
    program.deliver(_outlook_mail("Alex <alex@seo-growth.example>", "New offer", PITCH,
                                  "2027-02-17T08:00"))  # fmt: skip
    program.tick("2027-02-17T09:00")
    subjects = [r["subject"] for r in _records(program) if r["outcome"] == "quarantined"]
    assert sorted(subjects) == sorted([*(f"Offer {n}" for n in range(PER_SENDER)), "", "New offer"])


def test_a_participants_long_reply_is_capped_in_the_state_not_in_the_folder(
    program: Program,
) -> None:
    agreement = program.only("ana@example.org", "agreement")
    question = "I have a question about the log I kept:\n" + "Week 1: read chapter 3.\n" * 4000
    reply = _outlook_mail("Ana Alvarez <ana@example.org>", "RE: " + agreement["Subject"],
                          question, "2027-02-16T08:00")  # fmt: skip
    reply.replace_header("To", agreement["Reply-To"])
    program.deliver(reply)
    delivered = _folder(program, "inbox")
    program.tick("2027-02-16T09:00")
    (record,) = [r for r in _records(program) if r["from"] == "ana@example.org"]
    assert record["outcome"] == "needs_human"
    assert record["text"].startswith("I have a question about the log I kept:")
    assert record["text"].endswith("the raw message is in the processed folder]")
    assert _folder(program, "processed") == delivered
    (notice,) = [m for m in program.sent("coordinator@example.org") if "Needs you" in m["Subject"]]
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert "> Week 1: read chapter 3." in body and "in the processed folder]" in body
    assert json.dumps(record)  # the record is plain JSON
