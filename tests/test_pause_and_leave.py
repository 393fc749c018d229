"""A pause with an end, an open-ended pause and leaving early, end to end on the Maildir
default through the CLI with `--now` (issue 18, items 1 and 2).

ana-ben (Ana in New York, mentor; Ben in Berlin, mentee) meet weekly from early March.
The calendar is read the way calendar apps read it: program.ics and the emailed
invitations expanded with recurring-ical-events.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from agent.mail_in.pause_dates import pause_end
from tests.test_lifecycle_e2e import Program, at, gmail_reply, outlook_reply
from tests.test_reschedule_e2e import both_agree

ANA, BEN, COORDINATOR = "ana@example.org", "Ben.Becker@example.net", "coordinator@example.org"


@pytest.fixture
def booked(tmp_path: Path, cli) -> Program:
    program = both_agree(Program(tmp_path, cli))
    assert program.status("2027-02-16T09:00")["ana-ben"]["stage"] == "scheduled"
    return program


def meetings(ics: bytes) -> list[datetime]:
    """The meetings that take place, as a calendar app expands the event."""
    calendar = icalendar.Calendar.from_ical(ics)
    return sorted(
        e.decoded("DTSTART")
        for e in recurring_ical_events.of(calendar).between(date(2027, 1, 1), date(2027, 7, 1))
        if str(e.get("STATUS", "")).upper() != "CANCELLED"
    )


def organizer_calendar(program: Program) -> bytes:
    return next((program.root / "calendar").glob("*.ics")).read_bytes()


def attached(message: EmailMessage) -> bytes | None:
    part = next((p for p in message.walk() if p.get_content_type() == "text/calendar"), None)
    return part.get_payload(decode=True) if part else None


def body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def subjects(program: Program, to: str) -> list[str]:
    return [m["Subject"] for m in program.sent(to)]


def _after(program: Program, before: dict[str, int], to: str) -> list[EmailMessage]:
    seen = before.get(to, 0)
    mails = sorted(program.sent(to), key=lambda m: m["Date"].datetime)
    return mails[seen:]


def one(program: Program, before: dict[str, int], to: str) -> EmailMessage:
    """The one new email to `to` since `before`."""
    mails = _after(program, before, to)
    assert len(mails) == 1, [m["Subject"] for m in mails]
    return mails[0]


def counts(program: Program) -> dict[str, int]:
    return {who: len(program.sent(who)) for who in (ANA, BEN, COORDINATOR)}


def ticks(program: Program, first: str, days: int, hour: str = "09:00") -> None:
    day = date.fromisoformat(first)
    for n in range(days):
        program.tick(f"{day + timedelta(days=n)}T{hour}")


def iphone_reply(original: EmailMessage, sender: str, text: str, when: datetime) -> EmailMessage:
    """Mail on an iPhone: the reply on top, "Sent from my iPhone", the quote below."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["Reply-To"]
    reply["Subject"] = "Re: " + original["Subject"]
    reply["Date"] = format_datetime(when)
    reply["Message-ID"] = make_msgid(domain="icloud.example")
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = original["Message-ID"]
    quoted = "\n".join("> " + line for line in body(original).splitlines())
    header = f"Am {when:%d.%m.%Y} um {when:%H:%M} schrieb {original['From']}:"
    reply.set_content(f"{text}\n\nSent from my iPhone\n\n{header}\n\n{quoted}\n")
    return reply


def test_a_pause_until_a_day_cancels_those_meetings_and_resumes_on_that_day(
    booked: Program,
) -> None:
    program = booked
    before_pause = meetings(organizer_calendar(program))
    invitation = next(m for m in program.sent(BEN) if "nvitation" in m["Subject"])
    program.deliver(
        gmail_reply(
            invitation,
            f"Ben Becker <{BEN}>",
            "Hi Ana, hi all,\n\nCould we pause the mentoring for a bit? I have exams until "
            "19 March and can't think about anything else.\n\nThanks for understanding,\nBen",
            at("2027-03-03T20:15"),
        )
    )
    seen = counts(program)
    program.tick("2027-03-03T21:00")
    assert program.status("2027-03-03T21:00")["ana-ben"]["stage"] == "paused"

    # the partner is told kindly, the one who asked gets a confirmation; both carry the
    # updated series: same UID, SEQUENCE+1, the meetings of the pause as EXDATEs
    to_ana = one(program, seen, ANA)
    to_ben = one(program, seen, BEN)
    assert "paused" in to_ana["Subject"] and "Ben has asked to pause" in body(to_ana)
    assert "As you asked" in body(to_ben)
    gone = [m for m in before_pause if at("2027-03-03T21:00") < m < at("2027-03-20T00:00")]
    assert len(gone) == 2  # the weekly meetings in the pause
    for mail in (to_ana, to_ben):
        event = icalendar.Calendar.from_ical(attached(mail)).walk("VEVENT")[0]
        assert int(event["SEQUENCE"]) == 1
        assert str(event["UID"]) == str(
            icalendar.Calendar.from_ical(attached(invitation)).walk("VEVENT")[0]["UID"]
        )
        assert meetings(attached(mail)) == [m for m in before_pause if m not in gone]
    assert meetings(organizer_calendar(program)) == [m for m in before_pause if m not in gone]
    assert any("pause" in body(m) for m in _after(program, seen, COORDINATOR))  # told

    # nothing during the pause: no follow-up, check-in or nudge
    seen = counts(program)
    ticks(program, "2027-03-04", 15)  # to 18 March
    assert _after(program, seen, ANA) == [] and _after(program, seen, BEN) == []
    assert program.status("2027-03-18T09:00")["ana-ben"]["stage"] == "paused"

    # 20 March: back, both told, the next meeting confirmed
    program.tick("2027-03-20T09:00")
    status = program.status("2027-03-20T09:00")["ana-ben"]
    assert status["stage"] in ("scheduled", "active")
    nxt = datetime.fromisoformat(status["meetings"]["next"])
    assert nxt == min(m for m in before_pause if m > at("2027-03-20T00:00"))
    for who in (ANA, BEN):
        back = one(program, seen, who)
        assert "start again" in back["Subject"] and "Your next meeting:" in body(back)

    # the first days back: no burst (no follow-up for a meeting "held" in the pause, no
    # check-in counting the pause, no nudge); the coordinator hears of no lost progress
    seen = counts(program)
    ticks(program, "2027-03-21", 3)
    for who in (ANA, BEN):
        assert not [m for m in _after(program, seen, who) if "check" in m["Subject"].lower()]
        assert not [m for m in _after(program, seen, who) if "nudge" in m["Subject"].lower()]
    coordinator = " ".join(body(m) for m in program.sent(COORDINATOR))
    assert "No progress logged" not in coordinator and "no progress logged" not in coordinator
    program.tick("2027-03-23T09:00")  # nothing twice
    for who in (ANA, BEN):
        assert len([m for m in program.sent(who) if "start again" in m["Subject"]]) == 1
        assert len([m for m in program.sent(who) if "paused" in m["Subject"]]) == 1


def test_an_open_ended_pause_is_checked_on_and_ends_when_they_write_back(
    booked: Program,
) -> None:
    program = booked
    before_pause = meetings(organizer_calendar(program))
    invitation = next(m for m in program.sent(BEN) if "nvitation" in m["Subject"])
    program.deliver(
        outlook_reply(
            invitation,
            f"Ben Becker <{BEN}>",
            "Hallo zusammen,\n\nich muss leider eine Pause machen – bei mir ist gerade zu viel "
            "los. Ich melde mich, sobald es wieder geht.\n\nViele Grüße\nBen",
            at("2027-03-08T18:30"),
        )
    )
    program.tick("2027-03-08T19:00")
    status = program.status("2027-03-08T19:00")["ana-ben"]
    assert status["stage"] == "paused"
    # open-ended: every meeting ahead is cancelled until they are back
    kept = [m for m in before_pause if m < at("2027-03-08T19:00")]
    assert meetings(organizer_calendar(program)) == kept
    notice = next(m for m in program.sent(ANA) if "paused" in m["Subject"])
    assert "Ben has asked to pause" in body(notice) and "I'm back" in body(notice)

    seen = counts(program)
    ticks(program, "2027-03-09", 20)  # to 28 March: under three weeks
    assert _after(program, seen, BEN) == [] and _after(program, seen, ANA) == []
    program.tick("2027-03-29T21:00")  # three weeks on: are you back?
    check = one(program, seen, BEN)
    assert "ready to pick up" in check["Subject"]
    assert _after(program, seen, ANA) == []  # only the one who asked
    program.tick("2027-03-30T21:00")
    assert len(_after(program, seen, BEN)) == 1  # once

    program.deliver(
        iphone_reply(
            check,
            f"Ben Becker <{BEN}>",
            "Ich bin wieder da! Gerne ab nächster Woche.",
            at("2027-04-01T08:05"),
        )
    )
    seen = counts(program)
    program.tick("2027-04-01T09:00")
    status = program.status("2027-04-01T09:00")["ana-ben"]
    assert status["stage"] in ("scheduled", "active")
    back = [m for m in before_pause if m > at("2027-04-01T09:00")]
    assert meetings(organizer_calendar(program)) == kept + back
    for who in (ANA, BEN):
        (mail,) = [m for m in _after(program, seen, who) if "start again" in m["Subject"]]
        assert meetings(attached(mail)) == kept + back  # the meetings are back for both


def test_leaving_early_says_goodbye_tells_the_partner_and_cancels_the_series(
    booked: Program, cli
) -> None:
    program = booked
    ticks(program, "2027-03-02", 8)
    invitation = next(m for m in program.sent(ANA) if "nvitation" in m["Subject"])
    program.deliver(
        outlook_reply(
            invitation,
            f"Ana Alvarez <{ANA}>",
            "Dear all,\n\nI'm very sorry, but I'd like to leave the programme: my new role "
            "takes all my time.\n\nBest regards,\nAna",
            at("2027-03-10T16:40"),
        )
    )
    seen = counts(program)
    program.tick("2027-03-10T17:00")
    program.tick("2027-03-10T17:05")

    to_ana, to_ben = _after(program, seen, ANA), _after(program, seen, BEN)
    assert [m["Subject"] for m in to_ana] == ["Spring 2027 Mentoring: thank you, and goodbye"]
    assert "As you asked, you've left" in body(to_ana[0])
    assert [m["Subject"] for m in to_ben] == ["Spring 2027 Mentoring: Ana has left the program"]
    assert "new mentor for you" in body(to_ben[0])
    for mail in (*to_ana, *to_ben):
        assert "coming to a close" not in mail["Subject"]
        cancel = icalendar.Calendar.from_ical(attached(mail))
        assert str(cancel["METHOD"]) == "CANCEL"
    assert meetings(organizer_calendar(program)) == []
    assert any("leave" in body(m) for m in _after(program, seen, COORDINATOR))

    status = program.status("2027-03-11T09:00")["ana-ben"]
    assert status["stage"] == "closed" and status["ended_early"] == "the mentor left the program"
    _, out, _ = cli("status", "--config", program.config, "--now", "2027-03-11T09:00")
    assert "ended early: the mentor left the program" in out
    _, out, _ = cli(
        "report", "--config", program.config, "--format", "json", "--now", "2027-03-11T09:00"
    )
    row = next(p for p in json.loads(out)["pairs"] if p["id"] == "ana-ben")
    assert row["ended_early"] == "the mentor left the program"
    assert row["reached"] != "meeting regularly"
    program.tick("2027-03-15T09:00")  # Monday: the digest
    digests = [m for m in program.sent(COORDINATOR) if "igest" in m["Subject"]]
    digest = max(digests, key=lambda m: m["Date"].datetime)
    assert "ended early: the mentor left the program" in body(digest)
    program.tick("2027-05-31T10:00")  # the program's end: nothing more for them
    assert len(_after(program, seen, ANA)) == 1 and len(_after(program, seen, BEN)) == 1


def test_the_coordinator_closing_a_pair_says_goodbye_to_both(booked: Program, cli) -> None:
    program = booked
    code, _, err = cli(
        "pair", "ana-ben", "close", "--config", program.config, "--now", "2027-03-05T10:00"
    )
    assert code == 0, err
    seen = counts(program)
    program.tick("2027-03-05T10:05")
    program.tick("2027-03-05T10:10")
    for who in (ANA, BEN):
        mail = one(program, seen, who)
        assert mail["Subject"] == "Spring 2027 Mentoring: thank you, and goodbye"
        assert "has closed the pairing" in body(mail)
    assert meetings(organizer_calendar(program)) == []
    status = program.status("2027-03-05T11:00")["ana-ben"]
    assert status["ended_early"] == "closed by the coordinator"


def test_the_coordinator_pauses_and_resumes_a_pair(booked: Program, cli) -> None:
    program = booked
    before = meetings(organizer_calendar(program))
    code, _, err = cli(
        "pair",
        "ana-ben",
        "pause",
        "--until",
        "2027-03-22",
        "--config",
        program.config,
        "--now",
        "2027-03-04T10:00",
    )
    assert code == 0, err
    program.tick("2027-03-04T10:05")
    for who in (ANA, BEN):
        notice = next(m for m in program.sent(who) if "paused" in m["Subject"])
        assert "has paused your mentoring" in body(notice)
    kept = [m for m in before if not at("2027-03-04T10:00") < m < at("2027-03-22T00:00")]
    assert meetings(organizer_calendar(program)) == kept
    code, _, err = cli(
        "pair", "ana-ben", "resume", "--config", program.config, "--now", "2027-03-10T10:00"
    )
    assert code == 0, err
    program.tick("2027-03-10T10:05")
    assert meetings(organizer_calendar(program)) == [
        m for m in before if not at("2027-03-04T10:00") < m < at("2027-03-10T10:00")
    ]
    assert all(any("start again" in s for s in subjects(program, w)) for w in (ANA, BEN))


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("Could we pause? I have exams until 19 March.", date(2027, 3, 20)),
        ("I'd like to pause until after my exams on 19 March.", date(2027, 3, 20)),
        ("Can we pause for three weeks? Work is crazy.", date(2027, 3, 13)),
        ("Ich muss pausieren, ich habe bis zum 19.03. Prüfungen.", date(2027, 3, 20)),
        ("Können wir für zwei Wochen pausieren?", date(2027, 3, 6)),
        ("I need to take a break, I'll let you know when I'm free again.", None),
    ],
)
def test_the_day_a_pause_ends_as_a_reply_says_it(text: str, back: date | None) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    end = pause_end(text, datetime(2027, 2, 20, 10, tzinfo=berlin), berlin)
    assert (end.date() if end else None) == back
