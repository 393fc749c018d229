"""Dates in words, read in the writer's time zone: reschedule requests and out-of-office replies."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from agent.meetings.when import proposed_time, return_date

BERLIN = ZoneInfo("Europe/Berlin")
# Wednesday 10 March 2027, 10:00 in Berlin
NOW = datetime(2027, 3, 10, 10, 0, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("sentence", "day", "at"),
    [
        ("can we move Thursday to Friday 3pm?", date(2027, 3, 12), time(15, 0)),
        ("Could we reschedule to Monday 15 March at 10:30?", date(2027, 3, 15), time(10, 30)),
        ("can we move our call to tomorrow at 9am", date(2027, 3, 11), time(9, 0)),
        ("Let's postpone to next week", date(2027, 3, 17), None),
        ("move it to the 15th", date(2027, 3, 15), None),
        ("can we do 3pm instead?", None, time(15, 0)),
        ("Can we push it to 12:30 pm on Friday?", date(2027, 3, 12), time(12, 30)),
        ("Können wir auf Freitag 15 Uhr verschieben?", date(2027, 3, 12), time(15, 0)),
        ("On peut déplacer la réunion à vendredi 15h ?", date(2027, 3, 12), time(15, 0)),
        ("¿Podemos cambiar la reunión al viernes a las 3pm?", date(2027, 3, 12), time(15, 0)),
        ("Kunnen we verzetten naar vrijdag 14:00?", date(2027, 3, 12), time(14, 0)),
        ("Podemos remarcar para 16/03 às 9h?", date(2027, 3, 16), time(9, 0)),
        ("金曜日の15時に変更できますか", date(2027, 3, 12), time(15, 0)),
    ],
)
def test_proposed_time_in_words(sentence: str, day: date | None, at: time | None) -> None:
    proposal = proposed_time(sentence, NOW, BERLIN)
    assert proposal is not None
    assert (proposal.day, proposal.at) == (day, at)


def test_same_time_keeps_the_meetings_time_of_day() -> None:
    proposal = proposed_time("next Tuesday same time?", NOW, BERLIN)
    assert proposal is not None and proposal.same_time and proposal.at is None
    assert proposal.resolve(BERLIN, time(17, 0)) == datetime(2027, 3, 16, 17, 0, tzinfo=BERLIN)


def test_a_request_without_a_time_names_none() -> None:
    assert proposed_time("I need to reschedule, sorry", NOW, BERLIN) is None
    assert proposed_time("Something came up at work", NOW, BERLIN) is None


def test_tomorrow_is_read_in_the_writers_zone() -> None:
    """23:30 UTC on Wednesday is already Thursday morning in Tokyo, still Wednesday in New York."""
    late = datetime(2027, 3, 10, 23, 30, tzinfo=ZoneInfo("UTC"))
    tokyo = proposed_time("move it to tomorrow 10am", late, ZoneInfo("Asia/Tokyo"))
    new_york = proposed_time("move it to tomorrow 10am", late, ZoneInfo("America/New_York"))
    assert tokyo is not None and tokyo.day == date(2027, 3, 12)
    assert new_york is not None and new_york.day == date(2027, 3, 11)
    # the same words are different instants: 10:00 JST vs 10:00 EDT (after the US DST change)
    a = tokyo.resolve(ZoneInfo("Asia/Tokyo"), None)
    b = new_york.resolve(ZoneInfo("America/New_York"), None)
    assert a and b and a.utcoffset() != b.utcoffset()


@pytest.mark.parametrize(
    ("text", "back"),
    [
        (
            "I am out of the office until Monday 15 March and will reply when I am back.",
            "2027-03-16",
        ),
        ("I will be back on 22/03/2027.", "2027-03-22"),
        ("I'm on leave, returning on March 18.", "2027-03-18"),
        ("Ich bin bis einschließlich 19.03.2027 nicht im Büro.", "2027-03-20"),
        ("Ab dem 22.03. bin ich wieder erreichbar.", "2027-03-22"),
        ("Je serai de retour le 18 mars.", "2027-03-18"),
        ("Estaré fuera hasta el 17 de marzo.", "2027-03-18"),
        ("Estou ausente até 17 de março.", "2027-03-18"),
        ("Sarò fuori ufficio fino al 17 marzo.", "2027-03-18"),
        ("Ik ben afwezig tot en met 17 maart.", "2027-03-18"),
        ("Jag är tillbaka den 18 mars.", "2027-03-18"),
        ("Jestem na urlopie do 17 marca.", "2027-03-18"),
        ("3月15日まで不在です。", "2027-03-16"),
    ],
)
def test_return_date_of_an_out_of_office(text: str, back: str) -> None:
    assert return_date(text, NOW, BERLIN) == date.fromisoformat(back)


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for your email. I have limited access to email.",
        "I was out until 2 March.",  # in the past: no postponement
        "I am travelling until 2029-01-01.",  # implausibly far: not trusted
    ],
)
def test_no_usable_return_date(text: str) -> None:
    assert return_date(text, NOW, BERLIN) is None
