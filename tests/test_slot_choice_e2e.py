"""`meetings.offer: 3`: the pair gets three times by email and the one they pick is booked."""

from __future__ import annotations

import re
from pathlib import Path

import icalendar
import pytest

from tests.test_lifecycle_e2e import Program, at, gmail_reply
from tests.test_reschedule_e2e import ANA, BEN, both_agree


@pytest.fixture
def offered(tmp_path: Path, cli) -> Program:
    program = Program(tmp_path, cli)
    program.config.write_text(
        program.config.read_text().replace(
            "meetings: {every: 1w, duration: 45m}", "meetings: {every: 1w, duration: 45m, offer: 3}"
        ),
        encoding="utf-8",
    )
    return both_agree(program)


def _options(program: Program, who: str) -> list[str]:
    email = program.only(who, "Pick a time")
    text = email.get_body(preferencelist=("plain",)).get_content()
    return re.findall(r"^\d\. (every .+)$", text, flags=re.MULTILINE)


def _booked(program: Program, who: str) -> str:
    """The invitation's "For you:" line: the same words the offer used for that time."""
    invitation = program.only(who, "Invitation")
    part = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
    assert icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]["RRULE"]
    text = invitation.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"^- For you: (.+)$", text, flags=re.MULTILINE).group(1)


def test_three_times_are_offered_and_the_picked_one_is_booked(offered: Program) -> None:
    program = offered
    status = program.status("2027-02-16T09:00")["ana-ben"]
    assert status["stage"] == "agreed" and status["meetings"]["rrule"] is None  # not booked yet
    ana_options, ben_options = _options(program, ANA), _options(program, BEN)
    assert len(ana_options) == len(ben_options) == 3
    assert len(set(ana_options)) == 3
    assert "New_York" in ana_options[0] and "Berlin" in ben_options[0]  # each on their own clock

    pick = program.only(BEN, "Pick a time")
    program.deliver(
        gmail_reply(pick, f"Ben Becker <{BEN}>", "2 works best for me.", at("2027-02-16T10:00"))
    )
    program.tick("2027-02-16T11:00")
    status = program.status("2027-02-16T11:00")["ana-ben"]
    assert status["stage"] == "scheduled"
    assert _booked(program, BEN) == ben_options[1] and _booked(program, ANA) == ana_options[1]
    assert not [m for m in program.sent("coordinator@example.org") if "Needs you" in m["Subject"]]


def test_without_an_answer_the_first_time_is_booked_after_the_wait(offered: Program) -> None:
    program = offered
    first = _options(program, BEN)[0]
    program.tick("2027-02-18T09:00")  # under three days: still waiting
    assert program.status("2027-02-18T09:00")["ana-ben"]["stage"] == "agreed"
    program.tick("2027-02-19T10:00")
    assert program.status("2027-02-19T10:00")["ana-ben"]["stage"] == "scheduled"
    assert _booked(program, BEN) == first
