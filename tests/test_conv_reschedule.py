"""Reschedule requests as people phrase them (issue 17, item 6), end to end on Maildir.

Five pairs across Dublin/Copenhagen, Berlin/New York, Bogotá/Madrid, Paris/Brussels and
Tokyo/Rome (tests/conv_meetings.py) have weekly Monday meetings. People answer the
agent's invitation from Gmail, Outlook, Apple Mail and their phones, in English, German,
French, Spanish, Italian and Japanese, the way they write: the meeting they mean is the
one they name ("I can't make it on Monday, ... instead"), "instead" means move, "same
time" keeps the time, "from now on" and "all our future meetings" change the series from
the next meeting. Each test checks which meeting moved (or that none did), what both
people's calendars got, and what the coordinator saw.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.pairs.program import original_key
from tests.conv_meetings import (
    PAIR_OF,
    PEOPLE,
    RACHEL,
    Conversation,
    apple_mail,
    body,
    booked_program,
    calendar_of,
    copy_of,
    gmail,
    gmail_android,
    local,
    outlook,
)
from tests.mta import stamp

PEOPLE_ZONE = {person: ZoneInfo(zone) for person, (_, _, zone) in PEOPLE.items()}
CLIENTS = {
    "gmail": gmail,
    "android": lambda o, p, t, w, lang="en": gmail_android(o, p, t, w),
    "outlook": lambda o, p, t, w, lang="en": outlook(o, p, t, w),
    "outlook-phone": lambda o, p, t, w, lang="en": outlook(o, p, t, w, thread=False),
    "apple": lambda o, p, t, w, lang="en": apple_mail(o, p, t, w),
    "iphone": lambda o, p, t, w, lang="en": apple_mail(o, p, t, w, phone=True),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return booked_program(tmp_path_factory.mktemp("conv-reschedule") / "program")


@pytest.fixture
def program(template: Path, tmp_path: Path, cli) -> Conversation:
    return copy_of(template, tmp_path / "program", cli)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def partner_of(person: str) -> str:
    pair = PAIR_OF[person]
    return next(p for p, q in PAIR_OF.items() if q == pair and p != person)


def first_name(person: str) -> str:
    return PEOPLE[person][0].split()[0]


def answer_invitation(
    program: Conversation, person: str, client: str, text: str, written: str, lang: str = "en"
) -> None:
    invitation = program.latest(person, "nvitation")
    program.deliver(CLIENTS[client](invitation, person, text, local(person, written), lang))


def needs_you(program: Conversation) -> list[str]:
    """The bodies of the notices the coordinator got about replies."""
    return [body(m) for m in program.sent(RACHEL) if "Needs you" in str(m["Subject"])]


def updates(program: Conversation, person: str) -> list:
    return [m for m in program.sent(PEOPLE[person][1]) if "Updated invitation" in str(m["Subject"])]


# --- one meeting moves -----------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    person: str
    client: str
    text: str
    written: str  # the writer's wall clock
    tick: str  # the program's (London)
    original: str  # the meeting that moves (its start, with offset)
    new: str  # where it moves
    lang: str = "en"


MOVES = {
    "cant-make-monday-wednesday-3pm-instead": Move(
        "tom",
        "gmail",
        "Hi both,\n\nI can't make it on Monday, can we do Wednesday at 3pm instead?\n\n"
        "Thanks,\nTom",
        "2027-03-04T10:00",
        "2027-03-04T11:00",
        "2027-03-08T14:30+00:00",
        "2027-03-10T15:00+00:00",
    ),
    "thursday-instead-same-time": Move(
        "zoe",
        "iphone",
        "Can we do Thursday instead, same time?",
        "2027-03-04T18:40",
        "2027-03-04T19:00",
        "2027-03-08T14:30+00:00",
        "2027-03-11T14:30+00:00",
    ),
    "stattdessen-dienstag-15-uhr": Move(
        "lukas",
        "outlook",
        "Hallo Mia, hallo zusammen,\n\nam Montag kann ich leider nicht. Können wir "
        "stattdessen Dienstag um 15 Uhr machen?\n\nViele Grüße\nLukas",
        "2027-03-04T08:15",
        "2027-03-04T09:00",
        "2027-03-08T09:30-05:00",
        "2027-03-09T15:00+01:00",
        "de",
    ),
    "next-monday-wednesday-10am": Move(
        "mia",
        "gmail",
        "Hi Lukas,\n\nSo sorry, I can't make it next Monday. Could we do Wednesday 10am "
        "instead?\n\nBest,\nMia",
        "2027-03-04T07:30",
        "2027-03-04T13:00",
        "2027-03-08T09:30-05:00",
        "2027-03-10T10:00-05:00",
    ),
    "podemos-pasarla-al-miercoles": Move(
        "diego",
        "gmail",
        "Hola Lucía,\n\nel lunes no puedo. ¿Podemos pasarla al miércoles a las 17:00 en su "
        "lugar?\n\nUn saludo,\nDiego",
        "2027-03-04T09:00",
        "2027-03-04T09:00",
        "2027-03-08T14:30+00:00",
        "2027-03-10T17:00+01:00",
        "es",
    ),
    "pourrait-on-plutot-jeudi-14h": Move(
        "camille",
        "apple",
        "Bonjour Inès,\n\nJe ne suis pas disponible lundi prochain, pourrait-on plutôt se voir "
        "jeudi à 14h ?\n\nBien à vous,\nCamille",
        "2027-03-04T09:00",
        "2027-03-04T09:00",
        "2027-03-08T12:00+00:00",
        "2027-03-11T14:00+01:00",
        "fr",
    ),
    "japanese-wednesday-17": Move(
        "haruki",
        "gmail",
        "ソフィアさん\n\n月曜日は都合が悪いので、代わりに水曜日の17時に変更できますか？\n\n佐藤",
        "2027-03-04T20:00",
        "2027-03-04T12:00",
        "2027-03-08T08:00+00:00",
        "2027-03-10T17:00+09:00",
        "ja",
    ),
    "dutch-in-plaats-daarvan": Move(
        "ines",
        "gmail",
        "Dag Camille,\n\nmaandag lukt me helaas niet. Kunnen we in plaats daarvan dinsdag om "
        "14:00 afspreken?\n\nGroetjes,\nInès",
        "2027-03-04T17:00",
        "2027-03-04T17:00",
        "2027-03-08T12:00+00:00",
        "2027-03-09T14:00+01:00",
        "nl",
    ),
    "italian-phone-martedi": Move(
        "sofia",
        "iphone",
        "Ciao Haruki, lunedì non riesco, possiamo spostare la riunione a martedì alle 9:00?",
        "2027-03-04T13:00",
        "2027-03-04T13:00",
        "2027-03-08T08:00+00:00",
        "2027-03-09T09:00+01:00",
        "it",
    ),
    "next-weeks-session-to-thursday": Move(
        "tom",
        "outlook",
        "Hi Zoë,\n\nCan we move next week's session to Thursday? Monday is a bank holiday "
        "here.\n\nTom",
        "2027-03-03T16:00",
        "2027-03-03T17:00",
        "2027-03-08T14:30+00:00",
        "2027-03-11T14:30+00:00",
    ),
    "the-named-date-not-the-next-one": Move(
        "zoe",
        "gmail",
        "Hej Tom,\n\ncould we move the 15 March session to the 17th, same time? I'm at a "
        "conference on the 15th.\n\nZoë",
        "2027-03-04T09:00",
        "2027-03-04T09:00",
        "2027-03-15T14:30+00:00",
        "2027-03-17T14:30+00:00",
    ),
    "two-sentences-cant-make-then-instead": Move(
        "ines",
        "android",
        "I can't make it on Monday. Can we do Tuesday instead?",
        "2027-03-05T08:00",
        "2027-03-05T08:00",
        "2027-03-08T12:00+00:00",
        "2027-03-09T12:00+00:00",
    ),
    "wednesday-instead-of-monday": Move(
        "camille",
        "outlook-phone",
        "Can we do Wednesday instead of Monday this week? Same time is fine.",
        "2027-03-08T07:30",
        "2027-03-08T07:00",
        "2027-03-08T12:00+00:00",
        "2027-03-10T12:00+00:00",
    ),
    "same-time-in-the-dst-gap": Move(
        "lukas",
        "gmail",
        "Hi Mia, could we do Tuesday instead, same time? Monday is packed for me.",
        "2027-03-12T10:00",
        "2027-03-12T10:00",
        "2027-03-15T09:30-04:00",
        "2027-03-16T09:30-04:00",
    ),
}


@pytest.mark.parametrize("case", MOVES.values(), ids=MOVES.keys())
def test_the_named_meeting_moves_for_both(program: Conversation, case: Move) -> None:
    pair, partner = PAIR_OF[case.person], partner_of(case.person)
    before = program.meetings(pair)
    answer_invitation(program, case.person, case.client, case.text, case.written, case.lang)
    program.tick(case.tick)

    original, new = utc(case.original), utc(case.new)
    assert original in before, "the case names a meeting the pair has"
    series = program.state(pair)["series"]
    assert {key: utc(start) for key, start in series["moved"].items()} == {
        original_key(original): new
    }
    after = program.meetings(pair)
    assert [m for m in before if m != original] == [m for m in after if m != new]
    assert needs_you(program) == []  # nobody had to step in
    for person, by in ((case.person, "As you asked"), (partner, f"At {first_name(case.person)}'s")):
        (update,) = updates(program, person)
        assert "moved" in str(update["Subject"])
        assert by in body(update)
        calendar = calendar_of(update)
        assert calendar is not None
        override = next(e for e in calendar.walk("VEVENT") if e.get("RECURRENCE-ID"))
        assert override["RECURRENCE-ID"].dt == original
        assert override["DTSTART"].dt == new
    program.tick(case.tick)  # nothing twice
    assert len(updates(program, partner)) == 1


# --- requests that cannot be carried out reach the coordinator, with the reason -------------


def test_a_named_day_without_a_meeting_moves_nothing(program: Conversation) -> None:
    before = program.meetings("tom-zoe")
    answer_invitation(
        program,
        "tom",
        "gmail",
        "I can't make it on Tuesday, can we do Wednesday at 3pm instead?",
        "2027-03-04T10:00",
    )
    program.tick("2027-03-04T11:00")
    assert program.meetings("tom-zoe") == before
    (notice,) = needs_you(program)
    assert "there is no meeting on Tuesday 09 March" in notice
    assert "can we do Wednesday at 3pm instead?" in notice  # the words, not lost
    assert updates(program, "zoe") == []


# --- the whole series ------------------------------------------------------------------------


def test_all_future_meetings_move_to_8pm_from_the_next_one(program: Conversation) -> None:
    answer_invitation(
        program,
        "zoe",
        "gmail",
        "Hi Tom,\n\nevenings are so much easier for me now. Could you move all our future "
        "meetings to 8pm?\n\nThanks!\nZoë",
        "2027-03-03T21:10",
    )
    program.tick("2027-03-04T08:00")
    state = program.state("tom-zoe")
    assert state["series"]["tz"] == "Europe/Copenhagen"
    assert utc(state["series"]["first_start"]) == utc("2027-03-08T20:00+01:00")
    # the first meeting stays as it was; every later one is at 20:00 in Copenhagen,
    # across the clock change of 28 March (19:00 in Dublin before and after it)
    starts = program.meetings("tom-zoe")
    assert starts[0] == utc("2027-03-01T14:30+00:00")
    assert {s.astimezone(PEOPLE_ZONE["zoe"]).time().isoformat() for s in starts[1:]} == {"20:00:00"}
    assert len(starts) == 13
    assert needs_you(program) == []
    for person, by in (("zoe", "As you asked"), ("tom", "At Zoë's request")):
        mails = updates(program, person)
        subjects = " | ".join(str(m["Subject"]) for m in mails)
        assert "new schedule from" in subjects and "series ends after" in subjects
        assert any(by in body(m) for m in mails)
    log = [e["text"] for e in program.log("tom-zoe") if e["kind"] == "meeting_change"]
    assert log and "moved to Mondays at 20:00" in log[0]


def test_from_now_on_thursdays_same_time_replaces_the_next_monday(program: Conversation) -> None:
    answer_invitation(
        program,
        "tom",
        "outlook",
        "Zoë, from now on could we meet on Thursdays instead of Mondays, same time?",
        "2027-03-04T12:00",
    )
    program.tick("2027-03-04T13:00")
    starts = program.meetings("tom-zoe")
    assert starts[:3] == [
        utc("2027-03-01T14:30+00:00"),
        utc("2027-03-11T14:30+00:00"),  # Monday 8 March is the first to move
        utc("2027-03-18T14:30+00:00"),
    ]
    assert all(s.weekday() == 3 for s in starts[1:])
    assert needs_you(program) == []


def test_ab_jetzt_dienstags_in_german(program: Conversation) -> None:
    answer_invitation(
        program,
        "lukas",
        "outlook",
        "Liebe Mia,\n\nkönnten wir ab jetzt immer dienstags um 15 Uhr? Montags passt es mir "
        "nicht mehr.\n\nGruß, Lukas",
        "2027-03-04T09:00",
        "de",
    )
    program.tick("2027-03-04T09:00")
    starts = program.meetings("lukas-mia")
    berlin = PEOPLE_ZONE["lukas"]
    assert starts[1] == utc("2027-03-09T15:00+01:00")
    assert {(s.astimezone(berlin).weekday(), s.astimezone(berlin).hour) for s in starts[1:]} == {
        (1, 15)
    }
    # for Mia it is 09:00, and 10:00 while only the US has changed its clocks
    new_york = {s.astimezone(PEOPLE_ZONE["mia"]).hour for s in starts[1:]}
    assert new_york == {9, 10}
    assert len(updates(program, "mia")) == 2  # the old series shortened, the new one


def test_japanese_series_time_only(program: Conversation) -> None:
    answer_invitation(
        program,
        "haruki",
        "gmail",
        "ソフィアさん\n\n今後のミーティングは全部18時に変更できますか？\n\n佐藤",
        "2027-03-04T20:00",
        "ja",
    )
    program.tick("2027-03-04T12:00")
    starts = program.meetings("haruki-sofia")
    tokyo = PEOPLE_ZONE["haruki"]
    assert {(s.astimezone(tokyo).weekday(), s.astimezone(tokyo).hour) for s in starts[1:]} == {
        (0, 18)
    }
    assert needs_you(program) == []


def test_a_series_time_that_breaks_after_the_clock_change_is_refused(
    program: Conversation,
) -> None:
    """13:00 in Berlin is 08:00 in New York while only the US is on summer time, and 07:00,
    before Mia's hours, once Europe changes its clocks on 28 March."""
    before = program.meetings("lukas-mia")
    answer_invitation(
        program,
        "lukas",
        "gmail",
        "Hi Mia, from now on could we meet at 1pm my time? Late afternoons are hard for me.",
        "2027-03-16T10:00",
    )
    program.tick("2027-03-16T10:00")
    assert program.meetings("lukas-mia") == before
    (notice,) = needs_you(program)
    assert "Monday 29 March" in notice and "07:00 for Mia" in notice
    assert "from now on could we meet at 1pm my time?" in notice
    assert updates(program, "mia") == []


def test_all_future_sessions_outside_someones_hours_are_refused(program: Conversation) -> None:
    before = program.meetings("camille-ines")
    answer_invitation(
        program,
        "ines",
        "iphone",
        "Could we move all our future sessions to 8pm? Evenings work better for me.",
        "2027-03-04T12:00",
    )
    program.tick("2027-03-04T12:00")
    assert program.meetings("camille-ines") == before
    (notice,) = needs_you(program)
    assert "outside their hours" in notice and "Camille" in notice
    assert updates(program, "camille") == []


def test_a_partir_de_ahora_jueves_in_spanish(program: Conversation) -> None:
    answer_invitation(
        program,
        "diego",
        "gmail",
        "Hola Lucía,\n\na partir de ahora, ¿podemos vernos los jueves a las 18:00?\n\nDiego",
        "2027-03-04T09:00",
        "es",
    )
    program.tick("2027-03-04T09:00")
    starts = program.meetings("lucia-diego")
    madrid = PEOPLE_ZONE["diego"]
    assert starts[1] == utc("2027-03-11T18:00+01:00")
    assert {(s.astimezone(madrid).weekday(), s.astimezone(madrid).hour) for s in starts[1:]} == {
        (3, 18)
    }


# --- relative dates and inspect --------------------------------------------------------------


def test_tomorrow_is_read_from_the_date_in_the_writers_zone(
    program: Conversation, tmp_path: Path
) -> None:
    """Sunday 21:30 in New York is already Monday in London: Mia's "tomorrow" is Monday."""
    invitation = program.latest("mia", "nvitation")
    reply = gmail(
        invitation,
        "mia",
        "Something came up in the morning - can we do tomorrow at 11am instead?",
        local("mia", "2027-03-07T21:30"),
    )
    eml = tmp_path / "reply.eml"
    eml.write_bytes(stamp(reply.as_bytes(policy=email.policy.SMTP)))  # as delivered
    at_tick = program.inspect(eml, "2027-03-08T06:00")
    as_written = program.inspect(eml)  # no --now: as of its Date
    for report in (at_tick, as_written):
        assert report["outcome"] == "applied", report
        assert report["changes"] == [
            "meeting of 2027-03-08 09:30 EST moved to 2027-03-08 11:00 EST"
        ]
    program.deliver(reply)
    program.tick("2027-03-08T06:00")
    assert utc("2027-03-08T11:00-05:00") in program.meetings("lukas-mia")
    assert utc("2027-03-08T09:30-05:00") not in program.meetings("lukas-mia")
    log = [e["text"] for e in program.log("lukas-mia") if e["kind"] == "meeting_change"]
    assert log == at_tick["changes"]


# --- what the words say, read in the writer's zone -----------------------------------------

THURSDAY = datetime(2027, 3, 4, 10, 0, tzinfo=ZoneInfo("Europe/Dublin"))  # a bare
# weekday is the next one after today (the caller places it in the meeting's week)


@pytest.mark.parametrize(
    ("sentence", "day", "at", "named", "series"),
    [
        ("I can't make it on Monday, can we do Wednesday at 3pm instead?", 10, "15:00", 8, False),
        ("Can't do Monday - how about Wednesday 3pm instead?", 10, "15:00", 8, False),
        ("Can we do Wednesday instead of Monday?", 10, None, 8, False),
        ("could we move the 15 March session to the 17th, same time?", 17, None, 15, False),
        ("Could you move all our future meetings to 8pm?", None, "20:00", None, True),
        (
            "From now on, could we meet on Thursdays at 10am instead of Mondays?",
            11,
            "10:00",
            8,
            True,
        ),
        (
            "Können wir den Termin am Montag stattdessen auf Mittwoch 15 Uhr legen?",
            10,
            "15:00",
            8,
            False,
        ),
        ("könnten wir ab jetzt immer dienstags um 15 Uhr?", 9, "15:00", None, True),
        ("pourrait-on plutôt se voir jeudi à 14h ?", 11, "14:00", None, False),
        ("Mondays are hard for me this month, can we do Tuesday instead?", 9, None, 8, False),
        ("Can we switch to Thursdays at 10am?", 11, "10:00", None, True),
        ("Können wir immer noch Dienstag um 15 Uhr machen?", 9, "15:00", None, False),
        ("a partir de ahora, ¿podemos vernos los jueves a las 18:00?", 11, "18:00", None, True),
    ],
)
def test_the_new_time_the_meeting_named_and_the_scope(
    sentence: str, day: int | None, at: str | None, named: int | None, series: bool
) -> None:
    from agent.meetings.when import proposed_time

    proposal = proposed_time(sentence, THURSDAY, THURSDAY.tzinfo)  # type: ignore[arg-type]
    assert proposal is not None
    assert (proposal.day.day if proposal.day else None) == day
    assert (proposal.at.isoformat("minutes") if proposal.at else None) == at
    assert (proposal.original.day if proposal.original else None) == named
    assert proposal.series is series
