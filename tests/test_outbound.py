"""Outgoing mail: stable ids, signed reply tokens, no header injection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.mail_in.tokens import read_token, reply_address
from agent.mail_out.outbound import compose, message_id
from agent.mail_out.render import RenderedEmail

KEY = b"k" * 32


def test_reply_token_round_trip_and_forgery() -> None:
    address = reply_address("Mentoring@Example.org", KEY, "Ana-Ben", "mentee")
    assert address.startswith("Mentoring+ana-ben.e")
    assert read_token(["x@y.z", address.upper()], "mentoring@example.org", KEY) == (
        "ana-ben",
        "mentee",
    )
    forged = address.replace(".e", ".m", 1)
    assert read_token([forged], "mentoring@example.org", KEY) is None
    assert read_token([address], "mentoring@example.org", b"another key") is None


def test_message_id_is_stable_per_action_and_distinct_across_actions() -> None:
    a = message_id(KEY, "prog", "p/welcome/mentor", "example.org")
    assert a == message_id(KEY, "prog", "p/welcome/mentor", "example.org")
    assert a != message_id(KEY, "prog", "p/welcome/mentee", "example.org")
    assert a != message_id(b"another key", "prog", "p/welcome/mentor", "example.org")
    assert a.endswith("@example.org")


def _compose(subject: str = "Hello", name: str = "Ana", calendar: bytes | None = None):
    return compose(
        rendered=RenderedEmail(subject, "text body", "<p>html body</p>"),
        sender=("Program", "mentoring@example.org"),
        to=(name, "ana@example.org"),
        reply_to="mentoring+p.m0123456789@example.org",
        msg_id="mm.1@example.org",
        date=datetime(2027, 3, 1, tzinfo=UTC),
        pair_id="p",
        calendar=calendar,
        method="REQUEST" if calendar else None,
    )


def test_header_injection_through_a_name_or_subject_is_impossible() -> None:
    with pytest.raises(ValueError):
        _compose(subject="Hi\r\nBcc: victim@example.com")
    with pytest.raises(ValueError):
        _compose(name="Ana\nBcc: victim@example.com")


def test_invitation_structure_follows_rfc6047() -> None:
    message = _compose(calendar=b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n")
    alternative = next(p for p in message.walk() if p.get_content_type() == "multipart/alternative")
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    calendar = next(p for p in alternative.iter_parts() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST"
    attachment = next(p for p in message.walk() if p.get_filename() == "invite.ics")
    assert attachment.get_content_type() == "application/ics"
    assert message["Auto-Submitted"] == "auto-generated"
