"""agent.mail_in.replies: reply text -> intents."""

from __future__ import annotations

import pytest

from agent.mail_in.message import IntentKind
from agent.mail_in.replies import interpret

K = IntentKind


def kinds(text: str, context: str | None = None) -> set[IntentKind]:
    return {i.kind for i in interpret(text, context=context).intents}


# --------------------------------------------------------------------------- agreement


@pytest.mark.parametrize(
    "text",
    [
        "I agree",
        "Agreed!",
        "I accept.",
        "Yes, I agree to the agreement.",
        "Count me in",
        "I’m in!",
        "Ich stimme zu.",
        "Ich stimme der Vereinbarung zu",
        "Einverstanden",
        "D’accord !",
        "J'accepte",
        "Estoy de acuerdo",
        "Acepto",
        "Concordo",
    ],
)
def test_agree(text: str) -> None:
    result = interpret(text)
    assert kinds(text) == {K.AGREE}
    assert result.unsure is None


@pytest.mark.parametrize(
    "text",
    [
        "I don't agree",
        "I do not agree yet",
        "I can't agree to weekly meetings",
        "Not agreed.",
        "I can't commit to this right now.",
        "I'm not able to take part this term.",
        "I have to decline, sorry.",
        "Ich stimme nicht zu",
        "Nicht einverstanden.",
        "Je ne suis pas d'accord",
        "No estoy de acuerdo",
        "Não concordo",
    ],
)
def test_decline(text: str) -> None:
    assert kinds(text, "agreement") == {K.DECLINE}


def test_quoted_instruction_is_not_agreement() -> None:
    text = 'You asked me to reply "I agree", but I can\'t commit to weekly meetings right now.'
    result = interpret(text, context="agreement")
    assert not result.has(K.AGREE)
    decline = result.first(K.DECLINE)
    assert decline is not None and decline.text == text  # original text, not the masked one


@pytest.mark.parametrize(
    "text",
    [
        'You asked me to reply "I agree".',
        "Should I answer “Agreed” or just 'I accept'?",
        "Sie baten mich, „Ich stimme zu“ zu schreiben.",
    ],
)
def test_only_quoted_instructions_agree_to_nothing(text: str) -> None:
    result = interpret(text, context="agreement")
    assert not result.has(K.AGREE)
    assert result.unsure is not None or result.has(K.QUESTION)


def test_quoted_agreement_without_instruction_counts() -> None:
    assert kinds('"I agree"', "agreement") == {K.AGREE}


@pytest.mark.parametrize(
    ("text", "context", "agrees"),
    [
        ("Yes", "agreement", True),
        ("Yes!", "agreement_reminder", True),
        ("Sounds good", "agreement", True),
        ("Yes, absolutely. Looking forward to it.", "agreement", True),
        ("Yes", None, False),
        ("Yes!", "welcome", False),
        ("Sounds good", "check_in", False),
        ("Yes, but only every other week.", "agreement", False),
        ("Yes, but I can't commit to weekly meetings.", "agreement", False),
    ],
)
def test_bare_yes_depends_on_context(text: str, context: str | None, agrees: bool) -> None:
    assert interpret(text, context=context).has(K.AGREE) is agrees


def test_agree_and_decline_together_is_unsure() -> None:
    result = interpret("I agree with the goals but I can't commit to weekly calls.")
    assert {K.AGREE, K.DECLINE} <= {i.kind for i in result.intents}
    assert result.unsure == "both agreement and refusal"


# --------------------------------------------------------------------------- goals


@pytest.mark.parametrize(
    ("text", "context", "items"),
    [
        (
            "I agree. My goals:\n- Learn Rust\n* Speak at a meetup\n• Get promoted",
            None,
            ("Learn Rust", "Speak at a meetup", "Get promoted"),
        ),
        (
            "Objectives for this term\n1. Finish the course\n2) Ship the side project",
            "welcome",
            ("Finish the course", "Ship the side project"),
        ),
        ("Here is what I want:\n1. Learn Rust\n2. Public speaking", "agreement", None),
        (
            "Meine Ziele:\n• Rust lernen\n• Vorträge halten",
            None,
            ("Rust lernen", "Vorträge halten"),
        ),
        (
            "Goals:\n- Become confident presenting technical topics to large audiences at\n"
            "  conferences\n- Learn Rust",
            None,
            ("Become confident presenting technical topics to large audiences at conferences",),
        ),
    ],
)
def test_goals(text: str, context: str | None, items: tuple[str, ...] | None) -> None:
    goals = interpret(text, context=context).first(K.GOALS)
    assert goals is not None
    if items is None:
        assert goals.items == ("Learn Rust", "Public speaking")
    else:
        assert goals.items[: len(items)] == items


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("Shopping list:\n- milk\n- eggs", None),  # a list, but no goal words
        ("Progress so far:\n- finished chapter 1", "follow_up"),
        ("My goals are still the same.", "agreement"),  # goal word, no list
    ],
)
def test_no_goals(text: str, context: str | None) -> None:
    assert not interpret(text, context=context).has(K.GOALS)


# --------------------------------------------------------------------------- progress


def test_progress_in_follow_up_excludes_commands_and_ratings() -> None:
    text = "We met on Tuesday and worked on my CV. 4/5. Can we move Thursday to Friday 3pm?"
    result = interpret(text, context="follow_up")
    progress = result.first(K.PROGRESS)
    assert progress is not None and progress.text == "We met on Tuesday and worked on my CV."
    rating = result.first(K.RATING)
    assert rating is not None and rating.value == 4
    assert result.has(K.RESCHEDULE)
    assert not result.has(K.QUESTION)


@pytest.mark.parametrize("context", ["follow_up", "check_in", "nudge"])
def test_progress_contexts(context: str) -> None:
    progress = interpret("Finished the first module, rating: 5", context=context).first(K.PROGRESS)
    assert progress is not None and progress.text == "Finished the first module"


def test_progress_is_capped() -> None:
    text = " ".join(f"Sentence number {n} about my progress." for n in range(60))
    progress = interpret(text, context="check_in").first(K.PROGRESS)
    assert progress is not None
    assert 400 < len(progress.text) <= 500 and progress.text.endswith(".")


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("Goal 2: done", None, True),
        ("Progress: finished the Rust book", "welcome", True),
        ("We finished the Rust book", None, False),  # no progress context, no marker
        ("Yes", "follow_up", False),  # not substantive
        ("Please stop the mentoring", "follow_up", False),  # only a command
    ],
)
def test_progress_detection(text: str, context: str | None, expected: bool) -> None:
    assert interpret(text, context=context).has(K.PROGRESS) is expected


# --------------------------------------------------------------------------- rating


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4/5", 4),
        ("Great session, 5 / 5!", 5),
        ("I'd say 3 out of 5", 3),
        ("Rating: 4", 4),
        ("rating 2", 2),
        ("★★★★☆", 4),
        ("⭐⭐⭐", 3),
        ("I'd give it a 4", 4),
        ("4 stars", 4),
        ("Bewertung: 5", 5),
        ("4 sur 5", 4),
    ],
)
def test_rating(text: str, value: int) -> None:
    rating = interpret(text).first(K.RATING)
    assert rating is not None and rating.value == value


@pytest.mark.parametrize("text", ["6/5", "0/5", "rating: 9", "I'd give it a 10"])
def test_rating_out_of_range_is_unsure(text: str) -> None:
    result = interpret(text)
    assert not result.has(K.RATING)
    assert result.unsure is not None and "rating out of range" in result.unsure


@pytest.mark.parametrize("text", ["Can we meet on 3/5?", "See you 3/5/2027.", "Room 4/5B"])
def test_dates_are_not_ratings(text: str) -> None:
    assert not interpret(text).has(K.RATING)


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Can we move Thursday to Friday 3pm?", K.RESCHEDULE),
        ("I need to reschedule our call.", K.RESCHEDULE),
        ("Could we postpone by a week?", K.RESCHEDULE),
        ("Can we find another time?", K.RESCHEDULE),
        ("Können wir den Termin verschieben?", K.RESCHEDULE),
        ("On peut déplacer la réunion ?", K.RESCHEDULE),
        ("Please skip the next meeting.", K.SKIP),
        ("I can't make it this week.", K.SKIP),
        ("Cancel next session, sorry.", K.SKIP),
        ("I need to pause the mentoring.", K.PAUSE),
        ("I'd like to take a break until June.", K.PAUSE),
        ("I'll be on leave for a month.", K.PAUSE),
        ("Ich möchte pausieren.", K.PAUSE),
        ("Let's resume the meetings.", K.RESUME),
        ("I'm back again!", K.RESUME),
        ("Let's restart.", K.RESUME),
        ("Please stop the mentoring.", K.STOP),
        ("stop", K.STOP),
        ("I want to leave the program.", K.STOP),
        ("unsubscribe", K.STOP),
        ("I withdraw.", K.STOP),
        ("I want to quit the programme.", K.STOP),
        ("Ich möchte mich abmelden.", K.STOP),
    ],
)
def test_commands(text: str, kind: IntentKind) -> None:
    result = interpret(text)
    intent = result.first(kind)
    assert intent is not None and intent.text == text
    assert not result.has(K.QUESTION)
    assert result.unsure is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Don't stop!", K.STOP),
        ("I won't stop the mentoring, it is great.", K.STOP),
        ("The bus stop is near the office.", K.STOP),
        ("I updated my resume.", K.RESUME),
        ("No need to pause anything.", K.PAUSE),
        ("I would never skip the next meeting.", K.SKIP),
        ("A reporter asked about our program.", K.RESCHEDULE),
        ("I'm in Berlin next week.", K.AGREE),
    ],
)
def test_not_a_command(text: str, kind: IntentKind) -> None:
    assert not interpret(text).has(kind)


def test_reschedule_and_clause_level_negation() -> None:
    result = interpret("No problem, let's pause for now.")
    assert result.has(K.PAUSE)


# --------------------------------------------------------------------------- questions, unsure


def test_question() -> None:
    result = interpret("Thanks for the intro. How do I prepare for the first session?")
    question = result.first(K.QUESTION)
    assert question is not None and question.text == "How do I prepare for the first session?"
    assert result.unsure is None


@pytest.mark.parametrize(
    ("text", "context", "unsure"),
    [
        ("", None, "empty reply"),
        ("  \n ", "agreement", "empty reply"),
        ("Lovely weather today.", None, "reply not understood"),
        ("Yes", "welcome", "reply not understood"),
    ],
)
def test_unsure(text: str, context: str | None, unsure: str) -> None:
    result = interpret(text, context=context)
    assert result.unsure == unsure
    assert result.intents == ()


def test_combined_reply() -> None:
    text = (
        "Ich stimme zu.\nMeine Ziele:\n- Rust lernen\n- Vorträge halten\n\n"
        "Können wir Donnerstag verschieben?"
    )
    result = interpret(text, context="agreement")
    assert [i.kind for i in result.intents] == [K.AGREE, K.GOALS, K.RESCHEDULE]
    assert result.unsure is None


def test_a_rating_phrase_is_removed_whole_from_progress() -> None:
    result = interpret("Goal 1: about half way.\nI'd rate it 4 out of 5.", context="follow_up")
    assert result.first(K.RATING).value == 4
    assert result.first(K.PROGRESS).text == "Goal 1: about half way."


def test_goal_progress_counts_even_without_knowing_the_email_answered() -> None:
    assert interpret("Goal 2: done, the CV is finished.").has(K.PROGRESS)


def test_the_explanation_of_a_request_is_not_progress() -> None:
    text = "Can we move next Tuesday's session to Thursday 3pm? I have a workshop that day."
    result = interpret(text, context="follow_up")
    assert result.has(K.RESCHEDULE) and not result.has(K.PROGRESS)


# --------------------------------------------------------------------------- progress per goal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Goal 1: done\nGoal 2: about half way", [(1, 100), (2, 50)]),
        ("goal 3 - not started yet", [(3, 0)]),
        ("Goal #2: 40%", [(2, 40)]),
        ("2nd goal: almost done", [(2, 90)]),
        ("Ziel 1: erledigt\nZiel 2: zur Hälfte", [(1, 100), (2, 50)]),
        ("Objectif 1 : terminé", [(1, 100)]),
        ("Objetivo 2: a la mitad", [(2, 50)]),
        ("目標1：完了", [(1, 100)]),
        ("Goal 1: we talked about it", [(1, None)]),
    ],
)
def test_progress_per_goal(text: str, expected: list[tuple[int, int | None]]) -> None:
    per_goal = [i for i in interpret(text).intents if i.kind == K.PROGRESS and i.goal]
    assert [(i.goal, i.value) for i in per_goal] == expected


def test_goal_lines_and_other_progress_are_kept_apart() -> None:
    result = interpret("Goal 1: done.\nThe session was great, 4/5.", context="follow_up")
    progress = [i for i in result.intents if i.kind == K.PROGRESS]
    assert [(i.goal, i.text) for i in progress] == [
        (1, "Goal 1: done."),
        (None, "The session was great."),
    ]
    assert result.first(K.RATING).value == 4


def test_progress_estimate_from_words_or_percent() -> None:
    def value(text: str) -> int | None:
        return interpret(text, context="check_in").first(K.PROGRESS).value

    assert value("I am about half way through the course.") == 50
    assert value("We are 75% through the reading list.") == 75
    assert value("We talked about networking and my CV.") is None


# --------------------------------------------------------------------------- dates in requests


def test_reschedule_carries_the_new_time_in_the_writers_zone() -> None:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    written = datetime(2027, 3, 10, 18, 0, tzinfo=tokyo)  # a Wednesday evening in Tokyo
    result = interpret("Hi! Can we move Thursday's session to Friday 8am?", now=written, tz=tokyo)
    when = result.first(K.RESCHEDULE).when
    assert when is not None and (when.day.isoformat(), when.at) == ("2027-03-12", time(8, 0))
    assert when.resolve(tokyo, None) == datetime(2027, 3, 12, 8, 0, tzinfo=tokyo)
    skip = interpret("I can't make it on Friday, let's skip this week.", now=written, tz=tokyo)
    assert skip.first(K.SKIP).when.day.isoformat() == "2027-03-12"


def test_without_a_clock_no_date_is_read() -> None:
    assert interpret("Can we move it to Friday 3pm?").first(K.RESCHEDULE).when is None


def test_a_huge_reply_goes_to_a_person_unread() -> None:
    result = interpret("I agree. " + "lorem ipsum dolor " * 5000)
    assert result.intents == () and "too long" in (result.unsure or "")


# --------------------------------------------------------------------------- picking a time


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2),
        ("2 please!", 2),
        ("Option 3 works for me.", 3),
        ("#1", 1),
        ("Let's go with the second one.", 2),
        ("Die zweite, bitte.", 2),
        ("Je préfère la troisième.", 3),
        ("Me viene mejor la primera.", 1),
    ],
)
def test_choice_of_an_offered_time(text: str, value: int) -> None:
    result = interpret(text, context="slot_options")
    assert result.first(K.CHOICE).value == value and result.unsure is None


def test_a_choice_counts_only_in_answer_to_the_offer() -> None:
    assert not interpret("2", context="follow_up").has(K.CHOICE)
    assert not interpret("I'd rate it 4/5", context="slot_options").has(K.CHOICE)
    assert interpret("Either works, you choose.", context="slot_options").unsure
