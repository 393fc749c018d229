"""Which question of our email each part of a reply answers.

The follow-up and the check-in ask numbered questions (templates/follow_up.txt.j2,
templates/check_in.txt.j2, whose numbering `QUESTIONS` mirrors). People answer
them three ways, all read here:

- by number, top-posted: "1. We talked about my CV" ... "4. 4/5" ("1)", "Q1:",
  "1 -" too), an answer running on until the next number;
- by label: "Rating: 4", "Next step: send the draft";
- inline, under each quoted question: the reply's new text holds only the answers,
  so `number_inline` puts the quoted question's number in front of each one,
  using the whole body (where "> 1. What did you discuss?" still stands).

A numbered list that is not answers ("We covered:\\n1. CV\\n2. LinkedIn", or more
items than questions) is left to be read as free text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["QUESTIONS", "Answers", "Question", "number_inline", "split_answers"]


@dataclass(frozen=True)
class Question:
    """One numbered question: what it asks about, and labels people answer it with."""

    topic: str  # discussed, progress, next_step, rating, cadence, help
    labels: str  # regular expression alternatives, any language


_RATING_LABELS = r"rating|rate|score|bewertung|note|nota|valutazione|puntuación|cijfer|ocena|betyg"
QUESTIONS: Mapping[str, tuple[Question, ...]] = {
    "follow_up": (
        Question("discussed", r"discussed|discussion|topics?|besprochen|themen?|discuté|sujets?"),
        Question("progress", r"progress|fortschritte?|progrès|progreso|progresso|voortgang"),
        Question("next_step", r"next\s+steps?|nächster?\s+schritte?|prochaine\s+étape"),
        Question("rating", _RATING_LABELS),
    ),
    "check_in": (
        Question("rating", _RATING_LABELS),
        Question("cadence", r"cadence|frequency|how\s+often|rhythmus|häufigkeit|fréquence"),
        Question("help", r"help|support|hilfe|aide|ayuda|ajuda|aiuto"),
    ),
}

# "1. ...", "1) ...", "(1) ...", "Q1: ...", "#1 - ...", "１．..."; not "1.5 hours", "1:30".
_NUMBERED = re.compile(
    r"^(?P<indent>[ \t]*+)(?:(?:q|question|frage|pregunta|pergunta|domanda|vraag|pytanie"
    r"|fråga|spørgsmål|вопрос)\s*+)?[#(]?(?P<n>[1-9１-９])"
    r"(?:[ \t]*+[.)）:：](?![\d/])|[ \t]++[-–—])[ \t]*+(?P<rest>.*)$",
    re.IGNORECASE,
)
_DASHED = re.compile(r"^[ \t]*+[1-9][ \t]++[-–—]")
# "4.3": answer 4 is 3, typed without the space (taken only right after answer 3).
_NO_SPACE = re.compile(r"^(?P<indent>[ \t]*+)(?P<n>[1-9])\.(?P<rest>[1-9])[ \t]*+$")
_FULLWIDTH = str.maketrans("１２３４５６７８９", "123456789")
# A line introducing a list ("We covered:"), unless it introduces the answers.
_LIST_INTRO = re.compile(r"[:：]\s*$")
_ANSWERS_INTRO = re.compile(
    r"answers?|questions?|here\s+(?:you\s+go|goes|it\s+is)|in\s+order|as\s+asked|antworten"
    r"|fragen|réponses|questions|respuestas|preguntas|respostas|perguntas|risposte|domande"
    r"|antwoorden|vragen|odpowiedzi|pytania|svar|frågor|spørgsmål|回答|答复|回答します|ответы",
    re.IGNORECASE,
)
MAX_BODY_CHARS = 200_000  # a longer body is read as it is: no reply to our questions is that long
_LOOK_AHEAD = 200  # lines of the body searched for each line of the reply
# A quoted numbered question: "> 2. What progress did you make on your goals?"
_QUOTED_NUMBERED = re.compile(r"^[ \t]*+(?:>[ \t]*+)++(?P<n>[1-9])[.)][ \t]++(?P<q>\S.*)$")
_QUOTED = re.compile(r"^[ \t]*+>")


@dataclass(frozen=True)
class Answers:
    """A reply split by question: `answers` maps the question's number to its answer;
    `general` is the text around them (a greeting, a P.S.), line breaks kept."""

    answers: Mapping[int, str]
    general: str


@functools.cache
def _labels(context: str) -> re.Pattern[str]:
    """One expression for the labels of `context`'s questions: group qN is question N."""
    labels = "|".join(f"(?P<q{n}>{q.labels})" for n, q in enumerate(QUESTIONS[context], 1))
    return re.compile(rf"^\s*(?:{labels})\s*[:：=\-–]\s*(?P<rest>\S.*)$", re.IGNORECASE)


def _labelled(line: str, context: str) -> tuple[int, str] | None:
    m = _labels(context).match(line) if (":" in line or "=" in line or "-" in line) else None
    if m is None or not m.lastgroup:
        return None
    number = next(n for n in range(1, len(QUESTIONS[context]) + 1) if m.group(f"q{n}"))
    return number, m.group("rest")


def split_answers(text: str, context: str | None) -> Answers | None:
    """The reply split into answers to the numbered questions of `context`, or None
    when it is not written as answers (free text, a list of something else)."""
    questions = QUESTIONS.get(context or "")
    if not questions:
        return None
    lines = text.split("\n")
    starts: list[tuple[int, int, str, int]] = []  # (line, number, first line, indent)
    for i, line in enumerate(lines):
        m = _NUMBERED.match(line) or _NO_SPACE.match(line)
        found: tuple[int, str] | None = None
        indent = 0
        if m and m.re is _NO_SPACE and int(m.group("n")) != (starts[-1][1] + 1 if starts else 0):
            m = None  # "4.3" is answer 4 only right after answer 3
        if m:
            found = int(m.group("n").translate(_FULLWIDTH)), m.group("rest")
            indent = len(m.group("indent").expandtabs())
        elif not starts or line[:1] not in " \t":
            found = _labelled(line, context or "")
        if found is None:
            continue
        number, rest = found
        if number > len(questions) and m:
            return None  # more items than questions: a list of something else
        if starts and (number <= starts[-1][1] or indent > starts[-1][3]):
            continue  # a sub-list inside an answer
        starts.append((i, number, rest, indent))
    if not starts:
        return None
    if len(starts) == 1 and _DASHED.match(lines[starts[0][0]]):
        return None  # "2 - honestly, it's been hard": a number, not answer 2
    intro = next((lines[j] for j in range(starts[0][0] - 1, -1, -1) if lines[j].strip()), "")
    if _LIST_INTRO.search(intro) and not _ANSWERS_INTRO.search(intro):
        return None
    answers: dict[int, str] = {}
    general = lines[: starts[0][0]]
    for k, (i, number, rest, _) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        body = [rest, *lines[i + 1 : end]]
        if k + 1 == len(starts):  # after the last answer, a blank line ends it
            blank = next((j for j, b in enumerate(body) if j and not b.strip()), None)
            if blank is not None:
                general += ["", *body[blank:]]
                body = body[:blank]
        answers[number] = "\n".join(b.strip() for b in body).strip()
    return Answers(answers, "\n".join(general).strip())


def number_inline(body: str, reply: str, context: str | None) -> str:
    """`reply` with each inline answer numbered after the quoted question above it.

    `body` is the whole text of the email (quotes included), `reply` its new text
    (agent.mail_in.inbound). Unchanged when `body` quotes no numbered question of
    ours, or the reply is numbered already.
    """
    if (
        context not in QUESTIONS
        or len(body) > MAX_BODY_CHARS
        or ">" not in body
        or split_answers(reply, context)
    ):
        return reply
    owner: list[tuple[str, int | None]] = []  # each unquoted line of the body, and its question
    current: int | None = None  # the question the lines below answer
    pending: int | None = None  # a quoted numbered line, a question once its "?" comes
    for line in body.split("\n"):
        if _QUOTED.match(line):
            text = line.strip(" \t>")
            m = _QUOTED_NUMBERED.match(line)
            if m:
                current, pending = (
                    (int(m.group("n")), None) if "?" in text else (None, int(m.group("n")))
                )
            elif pending is not None and text:
                if "?" in text:  # a question wrapped onto the next quoted line
                    current, pending = pending, None
            elif text:
                current = None  # other quoted text (our goals list): what follows answers nothing
            else:
                pending = None
            continue
        pending = None
        if line.strip():
            owner.append((line.strip(), current))
    if not any(n for _, n in owner):
        return reply
    out: list[str] = []
    pos, last = 0, None
    for line in reply.split("\n"):
        stripped = line.strip()
        number = None
        for j in range(pos, min(pos + _LOOK_AHEAD, len(owner)) if stripped else pos):
            if owner[j][0] == stripped:
                number, pos = owner[j][1], j + 1
                break
        if stripped and number is not None and number != last:
            out.append(f"{number}. {stripped}")
            last = number
        else:
            out.append(line)
            if stripped and number is None:
                last = None
    return "\n".join(out)
