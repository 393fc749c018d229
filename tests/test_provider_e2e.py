"""A program run through the CLI on Google Workspace: Gmail for mail, Google Calendar for
the series, the Google APIs emulated at the HTTP layer (tests/google_api.py).

What this proves beyond the connector tests: the agent and a calendar that invites by
itself fit together. Google gets the series with both attendees and sends the invitation;
the agent's own invitation email explains the meeting on both clocks and carries no
calendar part (nobody gets two invitations); a reschedule request by email moves the one
meeting in Google Calendar; busy times come from Google's free/busy; replies are read
through the Gmail history and labelled as handled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httplib2
import pytest

from tests.conftest import MINIMAL
from tests.google_api import GoogleApiEmulator, write_token_file
from tests.mta import stamp
from tests.test_lifecycle_e2e import BERLIN, gmail_reply

SENDER = "mentoring@example.org"
ANA, BEN = "ana@example.org", "ben@example.net"


class GoogleProgram:
    def __init__(self, root: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
        self.api = GoogleApiEmulator(owner=SENDER)
        self.cli = cli
        token = write_token_file(root, access_token="ya29.emulated-access-token")
        google = {"type": "google", "token_file": str(token)}
        lines = []
        for line in MINIMAL.read_text(encoding="utf-8").splitlines():
            if line.startswith("mail:"):
                line = f"mail: {json.dumps(google)}"
            elif line.startswith("calendar:"):
                line = f"calendar: {json.dumps(google)}"
            lines.append(line)
        lines.append("security: {authserv_id: mx.google.com}")  # Gmail's own stamp
        self.config = root / "program.yaml"
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def tick(self, when: str) -> str:
        code, out, err = self.cli("tick", "--config", self.config, "--now", when)
        assert code == 0 and "error" not in out, out + err
        return out

    def sent(self, to: str) -> list[EmailMessage]:
        out = []
        for message in sorted(self.api.messages.values(), key=lambda m: m.internal_date):
            if "SENT" in message.labels:
                parsed = message_from_bytes(message.raw, policy=policy.default)
                if to in str(parsed["To"]):
                    out.append(parsed)
        return out

    def reply(self, to_subject: str, sender: str, text: str, when: datetime) -> None:
        who = sender.split("<")[-1].rstrip(">")
        original = next(m for m in self.sent(who) if to_subject in m["Subject"])
        raw = bytes(gmail_reply(original, sender, text, when))
        self.api.deliver(stamp(raw, authserv_id="mx.google.com"))  # as Gmail receives it


@pytest.fixture
def program(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> GoogleProgram:
    program = GoogleProgram(tmp_path, cli)
    # every connection the Google client library opens goes to the emulator
    monkeypatch.setattr(httplib2, "Http", lambda *args, **kwargs: program.api)
    return program


def subject(message: EmailMessage) -> str:
    return str(message["Subject"]).strip()  # a long one is folded right after "Subject:"


def parts(message: EmailMessage) -> set[str]:
    return {part.get_content_type() for part in message.walk()}


def test_a_program_on_google_workspace(program: GoogleProgram) -> None:
    # ticks at 15:00-20:00 in Berlin: inside Ana's (New York) and Ben's send windows
    program.tick("2027-02-15T15:00")
    for who in (ANA, BEN):  # welcome and agreement went out through Gmail
        subjects = [m["Subject"].lower() for m in program.sent(who)]
        assert len(subjects) == 2 and any("agreement" in s for s in subjects)

    # Ben is busy on Tuesday mornings (his calendar is in the same Workspace)
    first_week = datetime(2027, 3, 2, 8, tzinfo=UTC)
    program.api.appointments[BEN] = [
        (first_week + timedelta(weeks=w), first_week + timedelta(weeks=w, hours=4))
        for w in range(20)
    ]
    at = datetime(2027, 2, 15, 12, tzinfo=UTC)
    program.reply("agreement", f"Ana Alvarez <{ANA}>", "I agree.", at)
    program.reply("agreement", f"Ben Becker <{BEN}>", "I agree!", at)
    program.tick("2027-02-16T15:00")

    # Google holds the series with both people invited, and sent the invitations
    (event,) = program.api.events.values()
    attendees = {a["email"].lower() for a in event.resource["attendees"]}
    assert attendees == {ANA, BEN}
    assert event.resource["recurrence"][0].startswith("RRULE:FREQ=WEEKLY")
    assert any(call == "insert" and send == "all" for call, _, send in program.api.notifications)
    meetings = program.api.meetings(event)
    busy = program.api.appointments[BEN]
    assert meetings and not any(
        s < b_end and e > b_start for s, e in meetings for b_start, b_end in busy
    )

    # the agent's invitation explains it, on both clocks, without a second calendar invitation
    for who in (ANA, BEN):
        (invitation,) = [m for m in program.sent(who) if subject(m).startswith("Invitation")]
        assert "text/calendar" not in parts(invitation)
        assert "application/ics" not in parts(invitation)
        text = " ".join(invitation.get_body(("plain",)).get_content().split())
        assert f"comes separately from {SENDER}" in text and "attached" not in text

    # a reschedule by email moves that one meeting in Google Calendar
    first = meetings[0][0]
    program.reply(
        "Invitation",
        f"Ben Becker <{BEN}>",
        "Hi! Can we move our next meeting to Tuesday, same time? Thanks, Ben",
        datetime(2027, 2, 16, 16, tzinfo=UTC),
    )
    program.tick("2027-02-16T18:00")
    moved = program.api.meetings(event)
    assert first not in {s for s, _ in moved}
    assert first + timedelta(days=1) in {s for s, _ in moved}
    assert len(moved) == len(meetings)
    update = [m for m in program.sent(ANA) if subject(m).startswith("Updated invitation")]
    assert len(update) == 1 and "text/calendar" not in parts(update[0])

    # every reply was read once and labelled as handled; nothing is left in the inbox
    inbox = [m for m in program.api.messages.values() if "INBOX" in m.labels]
    assert inbox == []
    sent_before = len(program.api.sent)
    program.tick("2027-02-16T18:05")
    assert len(program.api.sent) == sent_before  # nothing twice


def test_first_meeting_time_is_in_both_zones(program: GoogleProgram) -> None:
    """The Google event is anchored in a real IANA zone and starts inside both people's hours."""
    program.tick("2027-02-15T15:00")
    at = datetime(2027, 2, 15, 12, tzinfo=UTC)
    program.reply("agreement", f"Ana Alvarez <{ANA}>", "I agree.", at)
    program.reply("agreement", f"Ben Becker <{BEN}>", "I agree.", at)
    program.tick("2027-02-16T15:00")
    (event,) = program.api.events.values()
    zone = event.resource["start"]["timeZone"]
    assert zone in {"Europe/Berlin", "America/New_York"}
    for start, _ in program.api.meetings(event):
        assert 9 <= start.astimezone(BERLIN).hour < 18  # Ben: 08:00-18:00 Berlin
