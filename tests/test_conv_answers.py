"""Issue 17 item 1: answers to the follow-up and the check-in are read per question.

Every reply answers a real email of a demo program ticked through six weeks
(`mentormail demo`): the follow-up after a meeting ("1. What did you discuss? 2. What
progress did you make on your goals? 3. What's the next step ...? 4. How would you
rate the meeting ...?") or the check-in ("1. How is it going, from 1 to 5? 2. Is
meeting weekly about right ...? 3. Is there anything the program office can help
with?"). A reply is read as `tick` reads it (tests/conversation_mail.py) and the test
asserts the pair's goals, what went into the progress log, the rating and what the
coordinator is told.

Demo pairs: ana-ben (Ben's goals: lead a small project, get better at giving feedback,
plan my next career step), chen-dina (Dina: build a design portfolio, learn to present
my work), eli-fay (no goals yet).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from agent.commands.demo import run_demo
from tests.conversation_mail import CLIENTS, Answered, Conversation, conversation, inline, reply

PEOPLE = {
    ("ana-ben", "mentor"): "Ana Alvarez <ana@example.org>",
    ("ana-ben", "mentee"): "Ben Becker <ben@example.net>",
    ("chen-dina", "mentor"): "Chen Wei <chen@example.com>",
    ("chen-dina", "mentee"): "Dina Doyle <dina@example.co.uk>",
    ("eli-fay", "mentor"): "Eli Ortega <eli@example.es>",
    ("eli-fay", "mentee"): "Fay Njeri <fay@example.ke>",
}
BEN_GOALS = ["Lead a small project", "Get better at giving feedback", "Plan my next career step"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conversation]:
    root = tmp_path_factory.mktemp("demo") / "program"
    with open(root.parent / "demo.out", "w", encoding="utf-8") as out:
        assert run_demo(root, weeks=6, out=out) == 0
    with conversation(root, "config.yaml") as talk:
        yield talk


def answer(
    demo: Conversation,
    pair: str,
    role: str,
    kind: str,
    text: str,
    client: str = "gmail",
    lang: str = "en",
    *,
    hours: int = 3,
) -> Answered:
    original = demo.sent(pair, role, kind)
    when = parsedate_to_datetime(original["Date"]) + timedelta(hours=hours)
    body = CLIENTS[client](original, text, when, lang)
    raw = reply(original, PEOPLE[pair, role], body, when, html=client == "outlook")
    return demo.answer(raw, when + timedelta(minutes=5))


@dataclass(frozen=True)
class Expect:
    progress: tuple[str, ...] = ()  # each is in some progress entry
    per_goal: dict[int, int | None] = field(default_factory=dict)  # goal -> estimate
    rating: int | None = None
    notice: str | None = None  # in what the coordinator is told; None: told nothing
    goals: list[str] | None = None  # None: unchanged


FOLLOW_UPS = [
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "en",
        "Hi,\n\n1. We went through the plan for the team offsite and how to split the work.\n"
        "2. Goal 1: about half way, I've drafted the plan. Goal 2: not started yet\n"
        "3. I'll send Ana the draft plan by Friday\n4. 4/5\n\nThanks!\nBen",
        Expect(("plan for the team offsite", "send Ana the draft plan"), {1: 50}, 4),
        id="gmail-numbered-goal-lines",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "iphone",
        "en",
        "1) talked about feedback conversations\n2) goal 2 - practised one with my team lead, "
        "went ok\n3) try the SBI model in my 1:1 next week\n4) 5",
        Expect(("talked about feedback conversations", "SBI model in my 1:1"), {2: None}, 5),
        id="iphone-parentheses-goal-dash",
    ),
    pytest.param(
        "ana-ben",
        "mentor",
        "outlook",
        "en",
        "1. Ben's project plan and a stakeholder map.\n"
        "2. He is roughly 60% of the way on the first goal.\n"
        "3. Ben shares the plan with his manager.\n4. 4 - very productive hour",
        Expect(("stakeholder map", "60% of the way", "very productive hour"), rating=4),
        id="outlook-mentor-rating-with-remark",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "gmail",
        "en",
        "1.we talked abt my portfolio and which projects to put first\n"
        "2. portfolio is maybe 30% done, presenting hasnt started\n"
        "3.pick 3 case studies before next call\n4.3",
        Expect(("which projects to put first", "30% done", "pick 3 case studies"), rating=3),
        id="typos-no-spaces",
    ),
    pytest.param(
        "chen-dina",
        "mentor",
        "gmail",
        "ja",
        "1. ポートフォリオの構成について話しました。\n2. 目標1：半分くらい進みました\n"
        "3. 次回までにケーススタディを2つ選ぶ\n4. 4",
        Expect(("ポートフォリオの構成", "ケーススタディ"), {1: 50}, 4),
        id="japanese",
    ),
    pytest.param(
        "eli-fay",
        "mentee",
        "android",
        "en",
        "1. We didn't get far, mostly getting to know each other\n2. Not much yet\n"
        "3. Write down my goals properly before next time\n4. 3 out of 5",
        Expect(("getting to know each other", "Write down my goals"), rating=3, goals=[]),
        id="android-no-goals-yet",
    ),
    pytest.param(
        "eli-fay",
        "mentor",
        "gmail",
        "es",
        "1. Hablamos de su plan de carrera y de cómo preparar entrevistas.\n"
        "2. Objetivo 1: a mitad de camino\n3. Fay me enviará su CV actualizado.\n4. 4",
        Expect(("plan de carrera", "CV actualizado"), {1: 50}, 4, goals=[]),
        id="spanish",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "de",
        "Hallo,\n\n1. Wir haben über Feedbackgespräche gesprochen.\n2. Ziel 2: zur Hälfte\n"
        "3. Nächster Schritt: ein Gespräch mit meinem Team führen\n4. 4 von 5\n\nViele Grüße\nBen",
        Expect(("Feedbackgespräche", "Gespräch mit meinem Team"), {2: 50}, 4),
        id="german",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "apple",
        "fr",
        "1. On a parlé de mon portfolio et de la mise en page.\n2. Objectif 1 : presque fini\n"
        "3. Préparer une courte présentation\n4. 5",
        Expect(("mise en page", "courte présentation"), {1: 90}, 5),
        id="french-apple-mail",
    ),
    pytest.param(
        "ana-ben",
        "mentor",
        "gmail",
        "en",
        "Discussed: stakeholder mapping for the offsite\nProgress: Ben has a first draft\n"
        "Next step: review the draft together\nRating: 4",
        Expect(("stakeholder mapping", "first draft", "review the draft"), rating=4),
        id="labels-instead-of-numbers",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "en",
        "Great session, we finally cracked the project timeline. Goal 3: started. I'd give it a 4.",
        Expect(("cracked the project timeline",), {3: 20}, 4),
        id="free-text-with-goal-and-rating",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "iphone",
        "en",
        "We covered:\n- the offsite agenda\n- budget\n- who to invite\nReally useful, 5/5",
        Expect(("the offsite agenda", "who to invite"), rating=5),
        id="bulleted-list-is-not-goals",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "en",
        "1. We agreed on the offsite agenda.\n2. I agree with Ana that goal 1 is nearly done\n"
        "3. Book the venue\n4. 4",
        Expect(
            ("agreed on the offsite agenda", "goal 1 is nearly done", "Book the venue"), rating=4
        ),
        id="i-agree-with-someone-is-progress",
    ),
    pytest.param(
        "chen-dina",
        "mentor",
        "outlook",
        "en",
        "1. Portfolio structure\n2. Dina finished the first case study\n3. Second case study\n"
        "4. 8 out of 10",
        Expect(("first case study",), notice="rating out of range (8)"),
        id="rating-out-of-range-goes-to-coordinator",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "gmail",
        "en",
        "1. Presenting, and how to structure a 5 minute talk\n2. Goal 2: started\n"
        "3. Record myself presenting once\n4. 4.5",
        Expect(("structure a 5 minute talk",), {2: 20}, notice="rating not a whole number"),
        id="half-point-rating",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "android",
        "en",
        "2. Goal 1 done! The plan is approved\n4. 5",
        Expect(per_goal={1: 100}, rating=5),
        id="only-some-questions-answered",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "en",
        "1. We talked about:\n   - the offsite\n   - the budget\n2. Progress on my goals:\n"
        "   - plan drafted\n   - one feedback talk done\n3. Venue shortlist\n4. four",
        Expect(("the offsite", "plan drafted", "Venue shortlist"), rating=4),
        id="sub-lists-inside-answers",
    ),
    pytest.param(
        "eli-fay",
        "mentee",
        "gmail",
        "pt",
        "1. Falamos sobre entrevistas de emprego.\n2. Objetivo 1: quase pronto\n"
        "3. Enviar o CV ao Eli\n4. 5",
        Expect(("entrevistas de emprego", "Enviar o CV"), {1: 90}, 5, goals=[]),
        id="portuguese",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "outlook",
        "en",
        "1. Stakeholders\n2. Goal 2: 30%\n3. Ask my lead for feedback on the plan\n4. 4",
        Expect(("Ask my lead",), {2: 30}, 4),
        id="goal-2-thirty-percent-is-goal-2",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "gmail",
        "nl",
        "1. We hebben mijn portfolio besproken.\n2. Doel 1: halverwege\n"
        "3. Twee projecten uitwerken\n4. 4",
        Expect(("portfolio besproken", "Twee projecten"), {1: 50}, 4),
        id="dutch",
    ),
]


@pytest.mark.parametrize(("pair", "role", "client", "lang", "text", "expect"), FOLLOW_UPS)
def test_follow_up_answers(
    demo: Conversation, pair: str, role: str, client: str, lang: str, text: str, expect: Expect
) -> None:
    result = answer(demo, pair, role, "follow_up", text, client, lang)
    assert result.after.goals == (result.before.goals if expect.goals is None else expect.goals)
    progress = result.progress
    for words in expect.progress:
        assert any(words in entry for entry in progress), (words, progress)
    for entry in progress:  # what they reported, never the rating or "I agree"
        assert "/5" not in entry and entry.strip() not in {"I agree", "4", "5"}
    per_goal = {e["goal"]: e.get("value") for e in result.logged("progress") if "goal" in e}
    for goal, value in expect.per_goal.items():
        assert goal in per_goal, per_goal
        if value is not None:
            assert per_goal[goal] == value
    assert result.ratings == ([expect.rating] if expect.rating else [])
    if expect.notice is None:
        assert result.notice is None
    else:
        assert result.notice is not None and expect.notice in result.notice


def test_numbered_answers_never_replace_the_goals(demo: Conversation) -> None:
    """The issue's reply: "1. … 2. Goal 1: about half way … 3. … 4. 4/5" kept the goals."""
    result = answer(
        demo,
        "ana-ben",
        "mentee",
        "follow_up",
        "1. The offsite plan and who owns what\n2. Goal 1: about half way\n"
        "3. Send Ana the timeline\n4. 4/5",
    )
    assert result.before.goals == BEN_GOALS
    assert result.after.goals == BEN_GOALS
    goal_entries = [e for e in result.logged("progress") if e.get("goal")]
    assert [(e["goal"], e["value"], e["question"]) for e in goal_entries] == [(1, 50, 2)]
    assert {e["topic"] for e in result.logged("progress")} == {"discussed", "progress", "next_step"}
    assert not result.logged("goals")


@pytest.mark.parametrize(
    ("text", "goals"),
    [
        (
            "1. My next role\n2. Goal 3: started\n3. New goal: get a project management "
            "certificate\n4. 4",
            [*BEN_GOALS, "get a project management certificate"],
        ),
        (
            "Quick one: change goal 2 to: give feedback to my team every sprint.\n\n"
            "1. Feedback\n2. Goal 2: half way\n3. Try it in the next retro\n4. 5",
            [BEN_GOALS[0], "give feedback to my team every sprint", BEN_GOALS[2]],
        ),
        (
            "1. Career paths\n2. Goal 3: not started\n3. Read the book Ana recommended\n"
            "4. 4\n\nAlso, Ana suggested we replace the second goal with: run two workshops",
            [BEN_GOALS[0], "run two workshops", BEN_GOALS[2]],
        ),
    ],
    ids=["new-goal-in-answer-3", "change-goal-2-above-answers", "replace-second-goal-ps"],
)
def test_goals_change_only_when_someone_changes_them(
    demo: Conversation, text: str, goals: list[str]
) -> None:
    result = answer(demo, "ana-ben", "mentee", "follow_up", text, "gmail")
    assert result.after.goals == goals
    assert result.routed.outcome == "applied"


def test_inline_answers_under_the_quoted_questions(demo: Conversation) -> None:
    """Answers typed between the quoted questions, "4" under the rating question."""
    original = demo.sent("ana-ben", "mentee", "follow_up")
    when = parsedate_to_datetime(original["Date"]) + timedelta(hours=2)
    body = inline(
        original,
        {
            1: "The offsite plan, and how to ask for budget",
            2: "Goal 1: about half way",
            3: "Send the draft to Ana on Friday",
            4: "4",
        },
        when,
        greeting="Hi! Answers below.",
        closing="Ben",
    )
    result = demo.answer(reply(original, PEOPLE["ana-ben", "mentee"], body, when), when)
    assert result.ratings == [4]
    assert result.after.goals == BEN_GOALS
    entries = {(e.get("question"), e.get("goal")): e for e in result.logged("progress")}
    assert entries[1, None]["text"] == "The offsite plan, and how to ask for budget"
    assert entries[2, 1]["value"] == 50
    assert entries[3, None]["text"] == "Send the draft to Ana on Friday"
    assert result.notice is None


def test_inline_answers_in_german_gmail(demo: Conversation) -> None:
    original = demo.sent("chen-dina", "mentee", "follow_up")
    when = parsedate_to_datetime(original["Date"]) + timedelta(hours=20)
    body = inline(
        original,
        {1: "Mein Portfolio", 2: "Ziel 1: fast fertig", 4: "5"},
        when,
        "de",
        closing="Liebe Grüße\nDina",
    )
    result = demo.answer(reply(original, PEOPLE["chen-dina", "mentee"], body, when), when)
    assert result.ratings == [5]
    assert [(e["goal"], e["value"]) for e in result.logged("progress") if e.get("goal")] == [
        (1, 90)
    ]
    assert result.after.goals == result.before.goals


CHECK_INS = [
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "en",
        "1. 4\n2. Weekly is about right\n3. No, all good, thanks!",
        Expect(rating=4),
        id="gmail-all-fine",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "iphone",
        "en",
        "1. 3\n2. I'd prefer every two weeks, it's a lot with work right now\n3. Not really",
        Expect(rating=3, notice="more or less often"),
        id="iphone-wants-biweekly",
    ),
    pytest.param(
        "chen-dina",
        "mentor",
        "gmail",
        "ja",
        "1. 5\n2. 毎週でちょうどいいです\n3. 特にありません",
        Expect(rating=5),
        id="japanese-all-fine",
    ),
    pytest.param(
        "eli-fay",
        "mentor",
        "gmail",
        "es",
        "1. 4 — va bien\n2. Está bien así\n3. ¿Podríais enviarme materiales sobre entrevistas?",
        Expect(rating=4, notice="question", goals=[]),
        id="spanish-asks-for-material",
    ),
    pytest.param(
        "eli-fay",
        "mentee",
        "android",
        "en",
        "2 - honestly it's been hard to find time with exams.\n\nCould we meet less often?",
        Expect(("hard to find time",), rating=2, notice="question", goals=[]),
        id="android-free-text-leading-rating",
    ),
    pytest.param(
        "ana-ben",
        "mentor",
        "outlook",
        "en",
        "1) 4/5\n2) fine as is\n3) Could you send me the mentor guide again?",
        Expect(rating=4, notice="question"),
        id="outlook-asks-for-guide",
    ),
    pytest.param(
        "ana-ben",
        "mentee",
        "gmail",
        "de",
        "1. 4\n2. Passt so, wöchentlich ist gut\n3. Nein, danke",
        Expect(rating=4),
        id="german-all-fine",
    ),
    pytest.param(
        "chen-dina",
        "mentee",
        "apple",
        "en",
        "1. 3 - ok but could be better\n2. Fine\n3. Nope",
        Expect(("could be better",), rating=3),
        id="one-three-on-the-rating-question",
    ),
    pytest.param(
        "eli-fay",
        "mentee",
        "gmail",
        "fr",
        "1. 4\n2. Une fois toutes les deux semaines serait mieux pour moi\n3. Non merci",
        Expect(rating=4, notice="more or less often", goals=[]),
        id="french-less-often",
    ),
]


@pytest.mark.parametrize(("pair", "role", "client", "lang", "text", "expect"), CHECK_INS)
def test_check_in_answers(
    demo: Conversation, pair: str, role: str, client: str, lang: str, text: str, expect: Expect
) -> None:
    result = answer(demo, pair, role, "check_in", text, client, lang)
    assert result.after.goals == (result.before.goals if expect.goals is None else expect.goals)
    assert result.ratings == ([expect.rating] if expect.rating else [])
    for words in expect.progress:
        assert any(words in entry for entry in result.progress), (words, result.progress)
    for entry in result.progress:
        assert "/5" not in entry and not entry.strip().isdigit()
    if expect.notice is None:
        assert result.notice is None, result.notice
    else:
        assert result.notice is not None and expect.notice in result.notice


def test_check_in_inline_answers(demo: Conversation) -> None:
    original = demo.sent("chen-dina", "mentor", "check_in")
    when = parsedate_to_datetime(original["Date"]) + timedelta(days=1)
    body = inline(
        original,
        {1: "4", 2: "Every other week would suit me better over the summer", 3: "No thanks"},
        when,
        closing="Best,\nChen",
    )
    result = demo.answer(reply(original, PEOPLE["chen-dina", "mentor"], body, when), when)
    assert result.ratings == [4]
    assert result.notice is not None and "more or less often" in result.notice
    cadence = result.logged("cadence")
    assert cadence and "Every other week" in cadence[0]["text"]


def test_the_demo_folder_is_not_changed(demo: Conversation) -> None:
    """Answers are read against the stored state, never written to it."""
    before = Path(demo.root / "state.json").read_bytes()
    answer(demo, "ana-ben", "mentee", "follow_up", "1. a\n2. Goal 1: done\n3. c\n4. 5")
    assert Path(demo.root / "state.json").read_bytes() == before
