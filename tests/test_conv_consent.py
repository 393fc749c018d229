"""Issue 17 item 2: agreement means consent, nothing less, in every language we read.

Each reply answers the real agreement email of a program after its first tick
(tests/conftest.py `onboarded`: three pairs, the agreement sent to all six people).
A reply is read as `tick` reads it (tests/conversation_mail.py); the test asserts
whether that person has agreed, the condition recorded in the pair's state (and
what it is about) and what the coordinator is told. The last tests run the real
`tick`: a conditional agreement books nothing until the person agrees.
"""

from __future__ import annotations

import email.policy
import mailbox
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conversation_mail import CLIENTS, Answered, Conversation, conversation, reply

PEOPLE = {
    ("ana-ben", "mentor"): "Ana Alvarez <ana@example.org>",
    ("ana-ben", "mentee"): "Ben Becker <Ben.Becker@example.net>",
    ("chen-dina", "mentor"): "Chen Wei <chen@example.com>",
    ("chen-dina", "mentee"): "Dina Doyle <dina@example.co.uk>",
    ("eli-fay", "mentor"): "Eli Ortega <eli@example.es>",
    ("eli-fay", "mentee"): "Fay Njeri <fay@example.ke>",
}


@pytest.fixture(scope="module")
def talk(onboarded: Path) -> Iterator[Conversation]:
    with conversation(onboarded, "program.yaml") as opened:
        yield opened


def answer(
    talk: Conversation, pair: str, role: str, text: str, client: str = "gmail", lang: str = "en"
) -> Answered:
    original = talk.sent(pair, role, "agreement")
    when = parsedate_to_datetime(original["Date"]) + timedelta(hours=5)
    body = CLIENTS[client](original, text, when, lang)
    raw = reply(original, PEOPLE[pair, role], body, when, html=client == "outlook")
    return talk.answer(raw, when + timedelta(minutes=1))


AGREEMENTS = [
    pytest.param("ana-ben", "mentor", "gmail", "en", "I agree.\n\nAna", id="en"),
    pytest.param("ana-ben", "mentee", "gmail", "de", "Ich stimme zu.\n\nViele Grüße\nBen", id="de"),
    pytest.param("chen-dina", "mentee", "apple", "fr", "J’accepte !\n\nDina", id="fr"),
    pytest.param(
        "eli-fay", "mentor", "gmail", "es", "Estoy de acuerdo.\n\nUn saludo,\nEli", id="es"
    ),
    pytest.param("eli-fay", "mentee", "gmail", "pt", "Concordo. Obrigada!", id="pt"),
    pytest.param("chen-dina", "mentee", "gmail", "it", "Sono d'accordo, grazie.", id="it"),
    pytest.param("ana-ben", "mentee", "iphone", "nl", "Ik ga akkoord.", id="nl"),
    pytest.param("eli-fay", "mentee", "gmail", "pl", "Zgadzam się.\n\nPozdrawiam\nFay", id="pl"),
    pytest.param("ana-ben", "mentor", "gmail", "sv", "Jag godkänner.\n\nHälsningar\nAna", id="sv"),
    pytest.param("chen-dina", "mentee", "gmail", "da", "Jeg accepterer. Tak!", id="da"),
    pytest.param(
        "chen-dina",
        "mentor",
        "gmail",
        "ja",
        "同意します。\n\nよろしくお願いします。\nチェン",
        id="ja",
    ),
    pytest.param("chen-dina", "mentor", "gmail", "zh", "我同意。谢谢！", id="zh"),
    pytest.param("chen-dina", "mentee", "gmail", "ru", "Согласна.\n\nДина", id="ru"),
    pytest.param(
        "eli-fay", "mentor", "outlook", "en", "Agreed – see you on the 1st!", id="outlook"
    ),
    pytest.param(
        "ana-ben", "mentor", "android", "en", "Yes, I agree to the agreement.", id="android"
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "en",
        "I agree, but I'll be travelling the first week of March, just so you know.",
        id="consent-with-a-remark",
    ),
]


@pytest.mark.parametrize(("pair", "role", "client", "lang", "text"), AGREEMENTS)
def test_agreement_in_each_language(
    talk: Conversation, pair: str, role: str, client: str, lang: str, text: str
) -> None:
    result = answer(talk, pair, role, text, client, lang)
    assert role in result.after.agreed
    assert role not in result.after.conditions
    assert result.notice is None
    assert result.routed.outcome == "applied"


NOT_YET = [
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "en",
        "Before I agree: how much time per week is expected outside the meetings?",
        "question",
        id="before-i-agree-question",
    ),
    pytest.param(
        "ana-ben",
        "mentor",
        "gmail",
        "en",
        "I agree, but can we make it biweekly?",
        "cadence",
        id="agree-but-biweekly",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "iphone",
        "en",
        "I agree if we can meet in the evenings, my days are packed.",
        "day",
        id="agree-if-evenings",
    ),
    pytest.param(
        "eli-fay",
        "mentee",
        "gmail",
        "en",
        "I agree with Tom that weekly is too often.",
        "cadence",
        id="agree-with-tom",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "de",
        "Ich stimme zu, wenn wir uns alle zwei Wochen treffen können.",
        "cadence",
        id="de-wenn",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "gmail",
        "fr",
        "Je suis d'accord, mais pourrait-on se voir plutôt le soir ?",
        "day",
        id="fr-mais-le-soir",
    ),
    pytest.param(
        "eli-fay",
        "mentor",
        "gmail",
        "es",
        "Estoy de acuerdo, pero ¿podríamos hacerlo cada dos semanas?",
        "cadence",
        id="es-pero-cada-dos-semanas",
    ),
    pytest.param(
        "chen-dina",
        "mentor",
        "gmail",
        "ja",
        "同意します。ただし、隔週にできますか？",
        "cadence",
        id="ja-tadashi-kakushuu",
    ),
    pytest.param(
        "chen-dina",
        "mentor",
        "gmail",
        "zh",
        "我同意，但是可以改成两周一次吗？",
        "cadence",
        id="zh-danshi",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "gmail",
        "ru",
        "Согласна, но можно ли встречаться раз в две недели?",
        "cadence",
        id="ru-no",
    ),
    pytest.param(
        "eli-fay",
        "mentee",
        "gmail",
        "pl",
        "Zgadzam się, ale czy możemy spotykać się co dwa tygodnie?",
        "cadence",
        id="pl-ale",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "nl",
        "Ik ga akkoord, maar kunnen we om de week afspreken?",
        "cadence",
        id="nl-maar",
    ),
    pytest.param(
        "ana-ben",
        "mentor",
        "outlook",
        "en",
        "I'd be happy to agree if the sessions could be 30 minutes instead of 45.",
        "length",
        id="would-agree-if-shorter",
    ),
    pytest.param(
        "eli-fay",
        "mentee",
        "android",
        "en",
        "Yes, but only every other week please.",
        "cadence",
        id="yes-but-every-other-week",
    ),
    pytest.param(
        "eli-fay",
        "mentor",
        "apple",
        "en",
        "Happy to take part. I agree. But could we meet on Thursdays instead?",
        "day",
        id="reservation-in-the-next-sentence",
    ),
]


@pytest.mark.parametrize(("pair", "role", "client", "lang", "text", "topic"), NOT_YET)
def test_a_condition_or_question_is_not_consent(
    talk: Conversation, pair: str, role: str, client: str, lang: str, text: str, topic: str
) -> None:
    result = answer(talk, pair, role, text, client, lang)
    assert role not in result.after.agreed
    condition = result.after.conditions.get(role)  # type: ignore[call-overload]
    assert condition is not None and condition.topic == topic
    assert condition.text and condition.text in text.replace("’", "'")
    assert result.notice is not None and "condition" in result.notice
    assert result.routed.outcome == "needs_human"
    assert [e["text"] for e in result.logged("condition")] == [condition.text]


def test_question_after_consent_is_consent_and_goes_to_the_coordinator(
    talk: Conversation,
) -> None:
    result = answer(
        talk,
        "chen-dina",
        "mentee",
        "Yes! I agree, looking forward to it. One question: is the video link the same every week?",
    )
    assert "mentee" in result.after.agreed
    assert result.notice is not None and "question" in result.notice


def test_goals_in_answer_to_the_agreement_are_set(talk: Conversation) -> None:
    result = answer(
        talk,
        "eli-fay",
        "mentee",
        "I agree. My goals:\n1. Speak up more in meetings\n2. Learn SQL\n"
        "3. Build a network in the industry",
        "iphone",
    )
    assert result.after.goals == [
        "Speak up more in meetings",
        "Learn SQL",
        "Build a network in the industry",
    ]
    assert "mentee" in result.after.agreed


def test_point_by_point_answer_to_the_agreement_keeps_its_questions_out_of_the_goals(
    talk: Conversation,
) -> None:
    result = answer(
        talk,
        "ana-ben",
        "mentee",
        "Goals:\n1. Get promoted to senior engineer\n2. Could the goals change later on?\n"
        "3. Present at a meetup\n\nI agree.",
    )
    assert result.after.goals == ["Get promoted to senior engineer", "Present at a meetup"]
    assert result.notice is not None and "question" in result.notice


def test_decline_is_recorded_and_told(talk: Conversation) -> None:
    result = answer(talk, "eli-fay", "mentee", "I'm sorry, I can't commit to this right now.")
    assert "mentee" in result.after.declined and "mentee" not in result.after.agreed
    assert result.notice is not None and "declined" in result.notice


def test_agreeing_later_settles_the_condition(talk: Conversation) -> None:
    first = answer(talk, "ana-ben", "mentor", "I agree, but can we make it biweekly?")
    assert "mentor" in first.after.conditions
    original = talk.sent("ana-ben", "mentor", "agreement")
    when = parsedate_to_datetime(original["Date"]) + timedelta(days=1)
    raw = reply(
        original,
        PEOPLE["ana-ben", "mentor"],
        CLIENTS["gmail"](original, "Thinking about it, weekly is fine. I agree!", when),
        when,
    )
    msg_after = talk.answer(raw, when)
    second = first.after
    from agent.pairs import program

    for event in msg_after.routed.events:
        second = program.apply(second, event)
    assert "mentor" in second.agreed
    assert "mentor" not in second.conditions


# --------------------------------------------------------------------------- the real tick

BERLIN = ZoneInfo("Europe/Berlin")


class Folder:
    """A copy of the onboarded program, ticked by the CLI."""

    def __init__(self, root: Path, cli) -> None:  # type: ignore[no-untyped-def]
        self.root, self.cli = root, cli
        self.config = root / "program.yaml"

    def tick(self, now: str) -> str:
        code, out, err = self.cli("tick", "--config", str(self.config), "--now", now)
        assert code == 0, err
        return out

    def sent(self) -> list:  # type: ignore[type-arg]
        box = self.root / "mail" / "sent"
        parser = BytesParser(policy=email.policy.default)
        return [
            parser.parsebytes(p.read_bytes())
            for sub in ("new", "cur")
            for p in sorted((box / sub).iterdir())
        ]

    def agreement_to(self, address: str):  # type: ignore[no-untyped-def]
        return next(
            m
            for m in self.sent()
            if m["To"].addresses[0].addr_spec.lower() == address.lower()
            and "mentoring agreement" in m["Subject"]
        )

    def deliver(self, pair: str, role: str, address: str, text: str, when: datetime) -> None:
        original = self.agreement_to(address)
        raw = reply(original, PEOPLE[pair, role], CLIENTS["gmail"](original, text, when), when)
        mailbox.Maildir(self.root / "mail" / "inbox").add(raw)


@pytest.fixture
def folder(onboarded: Path, tmp_path: Path, cli) -> Folder:  # type: ignore[no-untyped-def]
    root = tmp_path / "program"
    shutil.copytree(onboarded, root)
    return Folder(root, cli)


def test_conditional_agreement_books_nothing_until_settled(folder: Folder) -> None:
    when = datetime(2027, 2, 15, 15, 0, tzinfo=BERLIN)
    folder.deliver("ana-ben", "mentor", "ana@example.org", "I agree.", when)
    folder.deliver(
        "ana-ben",
        "mentee",
        "Ben.Becker@example.net",
        "I agree, but can we make it biweekly? Weekly is a lot with my job.",
        when + timedelta(minutes=10),
    )
    out = folder.tick("2027-02-15T16:00")
    assert "ana-ben: book" not in out
    notices = [
        m
        for m in folder.sent()
        if m["To"].addresses[0].addr_spec == "coordinator@example.org"
        and "biweekly" in m.get_body(preferencelist=("plain",)).get_content()
    ]
    assert notices, "the coordinator is told the condition"
    status = folder.cli("status", "--config", str(folder.config), "--now", "2027-02-15T16:00")
    assert status[0] == 0

    # Ben settles it: weekly is fine after all
    folder.deliver(
        "ana-ben",
        "mentee",
        "Ben.Becker@example.net",
        "Talked to my manager, weekly works. I agree.",
        datetime(2027, 2, 16, 9, 0, tzinfo=BERLIN),
    )
    out = folder.tick("2027-02-16T10:00")
    assert "ana-ben: book" in out


def test_japanese_agreement_is_not_sent_to_the_coordinator(folder: Folder) -> None:
    """The issue: "同意します" went to the coordinator and the writer got a reminder."""
    when = datetime(2027, 2, 15, 18, 0, tzinfo=BERLIN)
    folder.deliver("chen-dina", "mentor", "chen@example.com", "同意します。", when)
    out = folder.tick("2027-02-15T19:00")
    assert "chen-dina: coordinator_reply" not in out
    later = folder.tick("2027-02-19T09:00")  # past reminder_after: 3d
    assert "chen-dina: agreement_reminder -> mentor" not in later
