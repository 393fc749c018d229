"""Whatever bytes arrive in the inbox, the agent does not crash and keeps the message.

Every message ends up in `processed` or `quarantine` (never deleted, never
stuck in the inbox) and has an inbound record explaining what was done.
"""

from __future__ import annotations

import mailbox
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.commands.runtime import Runtime
from agent.commands.tick import run_tick
from agent.config.loading import load_config
from agent.mail_in.inbound import parse_message
from tests.conftest import THREE_PAIRS

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
VALID = (
    b"From: Ana Alvarez <ana@example.org>\r\nTo: mentoring@example.org\r\n"
    b"Subject: Re: agreement\r\nMessage-ID: <x@mail.example>\r\n"
    b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"I agree =E2=9C=94\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>I agree</p>\r\n--b--\r\n"
)


def _mutated(data: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    for position, insert in cuts:
        at = position % (len(data) + 1)
        data = data[:at] + insert + data[at + len(insert) :]
    return data


messages = st.one_of(
    st.binary(max_size=2000),
    st.builds(
        _mutated,
        st.just(VALID),
        st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=8)), max_size=6),
    ),
)


class _Program:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mentormail-fuzz-"))
        (self.dir / "program.yaml").write_text(THREE_PAIRS, encoding="utf-8")
        self.rt = Runtime.open(load_config(self.dir / "program.yaml"))
        run_tick(self.rt, NOW)  # onboarding done: later ticks only ingest
        self.inbox = mailbox.Maildir(self.dir / "mail" / "inbox")

    def kept(self) -> int:
        return sum(
            1
            for folder in ("processed", "quarantine")
            for sub in ("new", "cur")
            for _ in (self.dir / "mail" / folder / sub).iterdir()
        )


@pytest.fixture(scope="module")
def program() -> Iterator[_Program]:
    p = _Program()
    yield p
    p.rt.close()
    shutil.rmtree(p.dir)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=messages)
def test_any_bytes_are_handled_and_kept(program: _Program, data: bytes) -> None:
    p = program
    before = p.kept()
    p.inbox.add(data)
    report = run_tick(p.rt, NOW)
    assert not [e for e in report.errors if "mailbox" in e]
    assert p.kept() == before + 1
    assert list(p.inbox.keys()) == []
    record = p.rt.store.inbound(parse_message(data).message_id)
    assert record is not None and record["outcome"]
