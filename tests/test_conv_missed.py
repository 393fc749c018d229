"""Did they meet? (issue 17, item 7), end to end on Maildir.

The five pairs of tests/conv_meetings.py had their first meeting on Monday 1 March and
got the follow-up that evening ("If you didn't get to meet this time, tell me that too").
People answer it the way they write, in six languages, from Gmail, Outlook, Apple Mail
and their phones. A reply saying the meeting did not take place marks that meeting as
missed (the one the follow-up asked about), and the coordinator is asked to offer another
time, with the pair's next meeting; the digest, the report and the status then count the
meeting as not held, all three the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.conv_meetings import (
    LONDON,
    PAIR_OF,
    RACHEL,
    Conversation,
    apple_mail,
    body,
    booked_program,
    copy_of,
    gmail,
    gmail_android,
    local,
    outlook,
)


def first_meeting(program: Conversation, pair: str) -> datetime:
    """The pair's first meeting as booked: on Monday 1 March, the program's first day."""
    first = program.meetings(pair)[0]
    assert first.astimezone(LONDON).date() == date(2027, 3, 1)
    return first


def next_meeting(program: Conversation, pair: str) -> str:
    """The pair's second meeting (Monday 8 March) as the coordinator reads it, in London."""
    second = program.meetings(pair)[1].astimezone(LONDON)
    return f"Monday 8 March 2027 at {second:%H:%M}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = booked_program(tmp_path_factory.mktemp("conv-missed") / "program")
    Conversation(root, _quiet_cli).tick("2027-03-01T20:00")  # the follow-ups go out
    return root


def _quiet_cli(*args: object) -> tuple[int, str, str]:
    from agent.commands.cli import main

    return main([str(a) for a in args]), "", ""


@pytest.fixture
def program(template: Path, tmp_path: Path, cli) -> Conversation:
    return copy_of(template, tmp_path / "program", cli)


def answer_follow_up(
    program: Conversation, person: str, client: str, text: str, written: str, lang: str = "en"
) -> None:
    follow_up = program.latest(person, "How did your meeting")
    when = local(person, written)
    reply = {
        "gmail": lambda: gmail(follow_up, person, text, when, lang),
        "android": lambda: gmail_android(follow_up, person, text, when),
        "outlook": lambda: outlook(follow_up, person, text, when),
        "outlook-phone": lambda: outlook(follow_up, person, text, when, thread=False),
        "apple": lambda: apple_mail(follow_up, person, text, when),
        "iphone": lambda: apple_mail(follow_up, person, text, when, phone=True),
    }[client]()
    program.deliver(reply)


def needs_you(program: Conversation) -> list[str]:
    return [body(m) for m in program.sent(RACHEL) if "Needs you" in str(m["Subject"])]


def missed(program: Conversation, pair: str) -> list[datetime]:
    return [
        datetime.fromisoformat(e["occurrence"])
        for e in program.log(pair)
        if e["kind"] == "meeting_missed"
    ]


@dataclass(frozen=True)
class Report:
    person: str
    client: str
    text: str
    lang: str = "en"


REPORTS = {
    "didnt-manage-to-meet": Report(
        "tom",
        "gmail",
        "Hi,\n\nWe didn't manage to meet this week - Zoë's flight was delayed and I had a "
        "clash in the evening. Hopefully next Monday is fine.\n\nTom",
    ),
    "numbered-answers-had-to-cancel": Report(
        "zoe",
        "iphone",
        "1. Nothing, unfortunately - we had to cancel this week.\n2. Not much to report yet\n"
        "3. Meet on Monday as planned\n4. -",
    ),
    "didnt-show-up": Report(
        "zoe",
        "outlook",
        "Tom didn't show up. I waited on the call for 20 minutes, I hope everything is OK "
        "with him.",
    ),
    "werent-able-to-meet": Report(
        "mia",
        "android",
        "Hi! We weren't able to meet on Monday, Lukas was sick. Everything else is fine.",
    ),
    "german-nicht-getroffen": Report(
        "lukas",
        "outlook",
        "Hallo,\n\nwir haben uns diese Woche leider nicht getroffen – Mia war krank.\n\n"
        "Grüße\nLukas",
        "de",
    ),
    "french-pas-pu-nous-voir": Report(
        "camille",
        "apple",
        "Bonjour,\n\nnous n'avons pas pu nous voir cette semaine, Inès était en "
        "déplacement.\n\nCamille",
        "fr",
    ),
    "spanish-no-pudimos-reunirnos": Report(
        "diego",
        "gmail",
        "Hola,\n\nno pudimos reunirnos esta semana porque Lucía tuvo un imprevisto.\n\n"
        "Saludos,\nDiego",
        "es",
    ),
    "spanish-no-se-realizo": Report(
        "lucia", "gmail", "Hola, la reunión no se realizó: Diego no se conectó.", "es"
    ),
    "italian-phone": Report(
        "sofia", "iphone", "Ciao, purtroppo non siamo riusciti a vederci questa settimana.", "it"
    ),
    "japanese": Report(
        "haruki", "gmail", "今週は残念ながら会えませんでした。来週はよろしくお願いします。", "ja"
    ),
    "session-didnt-happen": Report(
        "ines", "gmail", "Sadly the session didn't happen - Camille had a family emergency."
    ),
    "dutch-from-brussels": Report(
        "ines",
        "outlook-phone",
        "Hallo,\n\nwe hebben elkaar deze week niet kunnen spreken, Camille was ziek.\n\n"
        "Groetjes,\nInès",
    ),
    "outlook-phone-without-thread-headers": Report(
        "lucia",
        "outlook-phone",
        "Sorry, I couldn't make it on Monday - my daughter was ill. Diego, I'm so sorry!",
    ),
}


@pytest.mark.parametrize("case", REPORTS.values(), ids=REPORTS.keys())
def test_a_meeting_reported_missed_is_marked_and_the_coordinator_asked(
    program: Conversation, case: Report
) -> None:
    pair = PAIR_OF[case.person]
    meetings = program.meetings(pair)
    answer_follow_up(program, case.person, case.client, case.text, "2027-03-02T10:00", case.lang)
    program.tick("2027-03-02T12:00")
    assert missed(program, pair) == [first_meeting(program, pair)]
    assert program.meetings(pair) == meetings  # nothing ahead is skipped or moved
    (notice,) = needs_you(program)
    assert "did not take place: marked as missed" in notice
    assert "please offer them another time" in notice
    assert f"their next meeting is on {next_meeting(program, pair)}" in notice
    assert case.text.splitlines()[0][:30] in notice  # their own words
    # counted as not held, the same way by the report and the status
    row = next(p for p in program.report("2027-03-02T12:00")["pairs"] if p["id"] == pair)
    assert (row["meetings_held"], row["meetings_missed"]) == (0, 1)
    code, out, _ = program.cli(
        "status", "--config", program.config, "--json", "--now", "2027-03-02T12:00"
    )
    assert code == 0
    status = {p["id"]: p for p in json.loads(out)["pairs"]}
    assert status[pair]["meetings"]["held"] == 0


def test_a_meeting_that_took_place_is_not_missed(program: Conversation) -> None:
    answer_follow_up(
        program,
        "mia",
        "gmail",
        "1. We went through my CV and the two job ads.\n2. We didn't meet our goal of five "
        "applications yet, but I'm at three.\n3. Send two more.\n4. 4/5",
        "2027-03-02T10:00",
    )
    program.tick("2027-03-02T12:00")
    assert missed(program, "lukas-mia") == []
    assert needs_you(program) == []
    row = next(p for p in program.report("2027-03-02T12:00")["pairs"] if p["id"] == "lukas-mia")
    assert (row["meetings_held"], row["meetings_missed"]) == (1, 0)


def test_cancelled_our_meeting_is_missed_not_a_skip_of_the_next(program: Conversation) -> None:
    meetings = program.meetings("tom-zoe")
    answer_follow_up(
        program,
        "tom",
        "outlook",
        "We had to cancel our meeting on Monday, my daughter was sick. Sorry!",
        "2027-03-02T09:00",
    )
    program.tick("2027-03-02T12:00")
    assert missed(program, "tom-zoe") == [first_meeting(program, "tom-zoe")]
    assert program.meetings("tom-zoe") == meetings  # 8 March still takes place
    assert not [m for m in program.sent("zoe@example.dk") if "cancelled" in str(m["Subject"])]


def test_a_late_answer_marks_the_meeting_its_follow_up_asked_about(
    program: Conversation,
) -> None:
    """Lucía answers the follow-up of 1 March after the meeting of 8 March took place."""
    follow_up = program.latest("lucia", "How did your meeting")
    program.tick("2027-03-08T20:00")  # the second meeting, and its follow-up
    program.deliver(
        gmail(
            follow_up,
            "lucia",
            "Perdón por la demora. We didn't manage to meet that week, but this Monday went well.",
            local("lucia", "2027-03-09T08:00"),
        )
    )
    program.tick("2027-03-09T14:00")
    assert missed(program, "lucia-diego") == [first_meeting(program, "lucia-diego")]
    row = next(p for p in program.report("2027-03-09T14:00")["pairs"] if p["id"] == "lucia-diego")
    assert (row["meetings_held"], row["meetings_missed"]) == (1, 1)


def test_before_any_meeting_nothing_is_marked(program: Conversation) -> None:
    invitation = program.latest("camille", "nvitation")
    program.deliver(
        gmail(
            invitation,
            "camille",
            "We didn't manage to meet yet, but we are looking forward to Monday!",
            local("camille", "2027-02-20T10:00"),
        )
    )
    program.tick("2027-02-20T10:00")
    assert missed(program, "camille-ines") == []
    (notice,) = needs_you(program)
    assert "none of their meetings has taken place yet" in notice


def test_the_digest_and_the_report_count_the_same_meetings(program: Conversation) -> None:
    answer_follow_up(
        program, "zoe", "iphone", "We didn't get to meet this week, sadly.", "2027-03-02T10:00"
    )
    program.tick("2027-03-02T12:00")
    program.tick("2027-03-08T09:00")  # Monday: the week's digest
    (digest,) = [m for m in program.sent(RACHEL) if "digest" in str(m["Subject"]).lower()][-1:]
    # 1-7 March: four first meetings and haruki-sofia's of 8 March, 08:00 (the one of
    # 1 March, 08:00, was before the week began at 09:00)
    assert "Meetings held: 4 of 5 planned (1 did not take place)" in body(digest)
    report = program.report("2027-03-08T09:00")
    rows = {p["id"]: p for p in report["pairs"]}
    assert (rows["tom-zoe"]["meetings_held"], rows["tom-zoe"]["meetings_missed"]) == (0, 1)
    week = next(w for w in report["weeks"] if w["week"] == "2027-W09")
    assert (week["held"], week["missed"]) == (4, 1)


def test_the_html_report_shows_a_missed_meeting(program: Conversation) -> None:
    answer_follow_up(
        program, "diego", "gmail", "No pudimos reunirnos esta semana.", "2027-03-02T10:00", "es"
    )
    program.tick("2027-03-02T12:00")
    page = program.root / "report.html"
    code, _, err = program.cli(
        "report", "--config", program.config, "--now", "2027-03-02T12:00", "-o", page
    )
    assert code == 0, err
    assert "meeting did not take place" in page.read_text(encoding="utf-8")
