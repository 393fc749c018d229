"""Reply text -> `Interpretation`: what a participant means by an answer.

Pure and table-driven: every intent has a tuple of regular expressions per
language in `PATTERNS`; supporting a new language means adding its phrases
there (and, if needed, its negation words to `_NEGATIONS`). The input is the
already stripped new text of a reply (`agent.mail_in.inbound.strip_reply`), and the
`context` names the email being answered, because "Yes" means "I agree" only
in answer to the agreement.

Rules that keep the agent from acting on a misunderstanding:

- Phrases in quotation marks after "reply"/"answer"/"write" are quoted
  instructions, not statements: `You asked me to reply "I agree"` agrees to
  nothing.
- A negated phrase does not count ("I don't agree", "don't stop").
- When nothing is understood, or agreement and refusal both appear, or a
  rating is out of range, `Interpretation.unsure` says why, so the reply
  goes to the coordinator instead of being acted on.
- Agreement is consent and nothing less (`agent.mail_in.consent`): a consent
  that is put off, conditional or an opinion ("I agree with Tom that ...") is
  a CONDITION, or nothing, never AGREE.
- Answers to our numbered questions are read per question
  (`agent.mail_in.answers`), and goals change only when someone sets them in
  answer to the agreement or says "new goal: ..." / "change goal 2 to ...".
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.mail_in import consent
from agent.mail_in.answers import QUESTIONS, Answers, number_inline, split_answers
from agent.mail_in.meeting_phrases import MEETING_MOVES as _MEETING_MOVES
from agent.mail_in.meeting_phrases import MISSED_MEETING
from agent.mail_in.message import Intent, IntentKind, Interpretation
from agent.meetings.when import proposed_time

__all__ = ["PATTERNS", "interpret"]

AGREEMENT_CONTEXTS = frozenset({"agreement", "agreement_reminder"})
PROGRESS_CONTEXTS = frozenset({"follow_up", "check_in", "nudge"})
MAX_PROGRESS_CHARS = 500
# Longer new text is not a reply to a mentoring email but a pasted document: reading it
# costs seconds (the phrase tables scan all of it), so it goes to the coordinator unread.
MAX_REPLY_CHARS = 20_000

_DAYS = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|today|next\s+week"
    r"|mon|tue|wed|thu|fri|sat|sun)"
)
_MEETING = r"(?:meeting|session|call|catch[- ]?up|appointment|chat)"

# Phrases per intent and language (matched case-insensitively).
PATTERNS: Mapping[IntentKind, Mapping[str, tuple[str, ...]]] = {
    IntentKind.DECLINE: {
        "en": (
            r"\bI\s+(?:do\s+not|don'?t|cannot|can'?t|can\s+not|won'?t|will\s+not)\s+"
            r"(?:yet\s+|fully\s+)?(?:agree|accept|commit|sign|take\s+part|participate|join)",
            r"\bnot\s+(?:yet\s+)?agreed\b",
            r"\bI\s+disagree\b",
            r"\bI(?:'m|\s+am)\s+(?:not\s+able|unable)\s+to\s+(?:take\s+part|participate|commit|join)",
            r"\bI\s+(?:have\s+to|must|will|need\s+to)\s+decline\b",
            r"\bI\s+decline\b",
            r"\bcount\s+me\s+out\b",
        ),
        "de": (
            r"\bich\s+stimme\s+nicht\s+zu\b",
            r"\bnicht\s+einverstanden\b",
            r"\bich\s+(?:muss\s+)?(?:lehne|sage)\s+ab\b",
            r"\bich\s+kann\s+(?:nicht|leider\s+nicht)\s+teilnehmen\b",
        ),
        "fr": (
            r"\bpas\s+d'accord\b",
            r"\bje\s+(?:refuse|décline)\b",
            r"\bje\s+n'accepte\s+pas\b",
            r"\bje\s+ne\s+peux\s+pas\s+(?:participer|m'engager)\b",
        ),
        "es": (
            r"\bno\s+estoy\s+de\s+acuerdo\b",
            r"\bno\s+acepto\b",
            r"\bno\s+puedo\s+(?:participar|comprometerme)\b",
        ),
        "pt": (r"\bnão\s+concordo\b", r"\bnão\s+aceito\b", r"\bnão\s+posso\s+participar\b"),
        "it": (r"\bnon\s+sono\s+d'accordo\b", r"\bnon\s+accetto\b"),
        "nl": (r"\bniet\s+akkoord\b", r"\bik\s+ga\s+niet\s+akkoord\b"),
        "pl": (r"\bnie\s+zgadzam\s+się\b", r"\bnie\s+akceptuję\b"),
        "sv": (r"\bjag\s+(?:godkänner|accepterar)\s+inte\b",),
        "da": (r"\bjeg\s+(?:accepterer|godkender)\s+ikke\b",),
        "ja": (r"同意(?:しません|できません|いたしかねます|しかねます)",),
        "zh": (r"不同意", r"不接受"),
        "ru": (r"\bне\s+соглас(?:ен|на|ны)\b", r"\bне\s+принимаю\b"),
    },
    IntentKind.AGREE: {
        "en": (
            r"\bI\s+(?:fully\s+|hereby\s+|do\s+|also\s+)?agree\b",
            r"\b(?:fully\s+)?agreed\b",
            r"\bI\s+(?:hereby\s+)?accept\b",
            r"\bcount\s+me\s+in\b",
            r"\bI(?:'m|\s+am)\s+in[^\S\n]*+!*+[^\S\n]*+$",  # "I'm in!" alone, not "I'm in Berlin"
        ),
        "de": (
            r"\bich\s+stimme\s+(?:\w+\s+){0,3}zu\b",
            r"\beinverstanden\b",
            r"\bich\s+akzeptiere\b",
        ),
        "fr": (r"\bd'accord\b", r"\bj'accepte\b"),
        "es": (r"\bestoy\s+de\s+acuerdo\b", r"\bacepto\b"),
        "pt": (r"\bconcordo\b", r"\baceito\b"),
        "it": (r"\bsono\s+d'accordo\b", r"\baccetto\b"),
        "nl": (r"\bakkoord\b", r"\bik\s+ga\s+akkoord\b", r"\bik\s+accepteer\b"),
        "pl": (r"\bzgadzam\s+się\b", r"\bakceptuję\b"),
        "sv": (r"\bjag\s+(?:godkänner|accepterar|samtycker)\b",),
        "da": (r"\bjeg\s+(?:accepterer|godkender)\b", r"\bjeg\s+siger\s+ja\b"),
        "ja": (r"同意(?:します|いたします|致します|です|しました)", r"承諾(?:します|いたします)"),
        "zh": (r"我(?:完全)?(?:同意|接受)",),
        "ru": (r"\bсоглас(?:ен|на|ны)\b", r"\bя\s+принимаю\b"),
    },
    IntentKind.RESCHEDULE: {
        "en": (
            r"\breschedul\w*",
            r"\bpostpon\w*",
            r"\banother\s+(?:time|day|date|slot)\b",
            rf"\b(?:move|shift|push|bump)\b[^.?!\n]{{0,40}}?\b(?:to|till|until)\s+(?:{_DAYS}|\d)",
            rf"\b(?:move|shift|push|bump)\b[^.?!\n]{{0,20}}?\b{_MEETING}",
            r"\bchange\s+(?:the|our)\s+(?:time|day|date)\b",
            r"\bdifferent\s+(?:time|day|date)\b",
            *_MEETING_MOVES["en"],
        ),
        "de": (r"\bverschieben\b", r"\banderen\s+termin\b", *_MEETING_MOVES["de"]),
        "fr": (
            r"\b(?:déplacer|reporter|décaler)\s+(?:la|le|notre|nos|les)\b",
            r"\bun\s+autre\s+moment\b",
            *_MEETING_MOVES["fr"],
        ),
        "es": (
            r"\b(?:aplazar|reprogramar)\b",
            r"\b(?:cambiar|mover)\s+(?:la|nuestra)\s+(?:reunión|sesión|cita)\b",
            r"\botro\s+(?:día|momento)\b",
            *_MEETING_MOVES["es"],
        ),
        "pt": (r"\b(?:remarcar|adiar)\b", *_MEETING_MOVES["pt"]),
        "it": (r"\b(?:spostare|rinviare)\b", *_MEETING_MOVES["it"]),
        "nl": (r"\b(?:verzetten|verplaatsen)\b", *_MEETING_MOVES["nl"]),
        "ja": _MEETING_MOVES["ja"],
        "zh": _MEETING_MOVES["zh"],
    },
    IntentKind.MISSED: MISSED_MEETING,
    IntentKind.SKIP: {
        "en": (
            rf"\bskip\b[^.?!\n]{{0,30}}\b(?:{_MEETING}|week|{_DAYS})",
            r"\b(?:can'?t|cannot|can\s+not|won'?t\s+be\s+able\s+to|(?:not\s+|un)able\s+to)"
            r"\s+make\s+it\b",
            rf"\bcancel\b[^.?!\n]{{0,30}}\b{_MEETING}",
        ),
        "de": (r"\bausfallen\s+lassen\b", r"\b(?:termin|treffen)\s+absagen\b"),
        "fr": (r"\bannuler\b[^.?!\n]{0,30}\b(?:réunion|séance|rendez-vous)\b",),
        "es": (r"\b(?:cancelar|saltar)\b[^.?!\n]{0,30}\b(?:reunión|sesión)\b",),
    },
    IntentKind.PAUSE: {
        "en": (
            r"\bpause\b",
            r"\btake\s+a\s+(?:short\s+|little\s+)?break\b",
            r"\bon\s+(?:parental\s+|sick\s+|medical\s+)?leave\b",
            r"\bon\s+hold\b",
        ),
        "de": (r"\bpausieren\b", r"\bpause\s+machen\b", r"\bauszeit\b"),
        "fr": (r"\b(?:faire|prendre)\s+une\s+pause\b",),
        "es": (r"\bpausa\b",),
    },
    IntentKind.RESUME: {
        "en": (
            r"\b(?:let'?s|let\s+us|can\s+we|we\s+can|ready\s+to|want\s+to|like\s+to|please)\s+"
            r"(?:re-?start|resume|continue|pick\s+(?:it|things)\s+up)\b",
            r"\bresume\s+(?:the|our|my|mentoring|meetings|sessions)\b",
            r"\b(?:I'?m|I\s+am|we'?re|we\s+are)\s+back\b",
            r"\bback\s+again\b",
        ),
        "de": (r"\bweitermachen\b", r"\bwieder\s+(?:da|zurück)\b"),
        "fr": (r"\breprendre\b", r"\bde\s+retour\b"),
        "es": (r"\b(?:retomar|reanudar)\b", r"\bde\s+vuelta\b"),
    },
    IntentKind.STOP: {
        "en": (
            r"\bunsubscribe\b",
            r"\bwithdraw\b",
            r"\bopt[- ]?out\b",
            r"\b(?:leave|quit|exit)\s+(?:the\s+|this\s+)?(?:mentoring\s+)?program(?:me)?\b",
            r"\bstop\s+(?:the\s+|my\s+|our\s+|this\s+)?"
            r"(?:mentoring|program(?:me)?|participating|sessions|meetings|emails)\b",
            r"\b(?:I\s+want\s+to|I'?d\s+like\s+to|please|I\s+will|I'?ll)\s+stop\b",
            r"^[^\w\n]*+stop[^\w\n]*+$",
        ),
        "de": (r"\baussteigen\b", r"\babmelden\b", r"\bprogramm\s+(?:verlassen|beenden)\b"),
        "fr": (r"\bquitter\s+le\s+programme\b", r"\bme\s+désinscrire\b", r"\bme\s+retirer\b"),
        "es": (r"\bdarme\s+de\s+baja\b", r"\b(?:abandonar|dejar)\s+el\s+programa\b"),
    },
}

# Words that, shortly before a phrase in the same sentence, negate it.
_NEGATIONS = re.compile(
    r"\b(?:not|don'?t|doesn'?t|won'?t|never|no\s+need\s+to|no|nicht|kein\w*|nie|pas|jamais"
    r"|nunca|não|niet|non|не)\b",
    re.IGNORECASE,
)
_NEGATION_WINDOW = 3  # words
_NEGATION_LOOKBACK = 200  # characters: the window's words are in them

# Quoted instructions: a phrase in quotation marks in a sentence that also has a verb
# of replying, e.g. `reply "I agree"`, `„Ich stimme zu“ zu schreiben`.
_QUOTED = re.compile(r"(?:[\"“”„«‘]|(?<!\w)')(?P<quoted>[^\"“”„«»‘’\n]{1,80}?)(?:[\"”“»’]|'(?!\w))")
_BOUNDARY = re.compile(r"[.!?\n]")  # ends a sentence (`_sentence_start`, `_sentence_end`)
_INSTRUCTION_VERB = re.compile(
    r"\b(?:repl(?:y|ied|ying)|answer\w*|writ(?:e|ing)|wrote|respond\w*|say|said|type|typed"
    r"|antwort\w*|schreib\w*|répond\w*|écri\w*|escrib\w*|rispond\w*|scriv\w*)\b",
    re.IGNORECASE,
)
_BARE_YES = re.compile(
    r"(?:yes|yep|yeah|yup|sure|absolutely|definitely|of\s+course|sounds\s+good|ok(?:ay)?"
    r"|happy\s+to|ja|gerne|oui|bien\s+sûr|sí|si|claro|sim)"
    r"(?:[\s,!.]++(?:yes|sure|absolutely|definitely|of\s+course|sounds\s+good|happy\s+to"
    r"|ok(?:ay)?|gerne|bien\s+sûr|claro))*+[\s!.]*+",
    re.IGNORECASE,
)
_GOAL_WORDS = re.compile(
    r"\b(?:goals?|objectives?|aims?|ziele?|objectifs?|objetivos?|obiettivi|doelen)\b", re.IGNORECASE
)
_LIST_ITEM = re.compile(r"\s*+(?:[-*•–]|\d{1,2}[.)])\s++(?P<item>\S.*)")  # item: rstrip()
_EXPLICIT_PROGRESS = re.compile(
    r"\b(?:progress|update|fortschritt|progrès|progreso|progresso)\s*+:"
    r"|\b(?:goal|ziel|objectif|objetivo|obiettivo|doel)\s*+\d++\s*+[:-]\s*+\w",
    re.IGNORECASE,
)
_RATINGS = (
    # "4/5", but not the dates "3/5/2027" or "on 3/5".
    re.compile(r"(?<![\d/.])(?<!on )(?<!by )(?<!am )(?P<n>\d{1,2})\s*+/\s*+5(?![\w/])"),
    re.compile(r"\b(?P<n>\d{1,2})\s++(?:out\s++of|von|sur|de|su|van)\s++5\b", re.IGNORECASE),
    re.compile(
        r"\b(?:rating|score|bewertung|note|nota|valutazione|puntuación|calificación)"
        r"\s*+(?:is|of|:|=)?\s*+(?P<n>\d{1,2})\b(?!\s*+/\s*+\d)",
        re.IGNORECASE,
    ),
    re.compile(
        r"\bI'?d\s++(?:give|rate)\s++(?:it|this|that|the\s++\w++|him|her|them)\s++(?:an?\s++)?"
        r"(?P<n>\d{1,2})\b(?:\s*+/\s*+5\b|\s++out\s++of\s++5\b)?",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?P<n>\d{1,2})\s+stars?\b", re.IGNORECASE),
)
_STARS = re.compile(r"[★⭐]+[☆]*")
# Progress on one goal: "Goal 2: done", "2nd goal - about half way", "Ziel 1: erledigt".
_GOAL_PROGRESS = re.compile(
    r"(?im)(?:^[^\w\n]*+|(?<=[.!?;] )[^\w\n]{0,3}+)"
    r"(?:(?:goal|ziel|objectif|objetivo|obiettivo|doel|mål|cel)\s*+(?:no\.?\s*+|#)?(?P<n>\d{1,2})|(?P<n2>\d{1,2})(?:st|nd|rd|th)?\s++goal"
    r"|目[標标]\s*+(?P<n3>\d{1,2}))(?:\s*+[:：\-–—)]|[ \t]++(?:is[ \t]++)?(?=[^\W\d]))"
    r"\s*+(?P<status>[^\s.!?;][^\n.!?;]*+)[.!;]?"
)
# How far along, in words, per language: (percentage, phrases). First match wins.
_ESTIMATES: tuple[tuple[int, str], ...] = (
    (
        0,
        r"not\s+(?:yet\s+)?started|haven'?t\s+started|noch\s+nicht\s+(?:angefangen|begonnen)"
        r"|pas\s+encore\s+commencé|sin\s+empezar|no\s+he\s+empezado|não\s+comecei"
        r"|non\s+ancora\s+iniziato|nog\s+niet\s+begonnen|inte\s+påbörjat|nie\s+rozpocz[ęe]t",
    ),
    (
        90,
        r"(?:almost|nearly|mostly|practically)\s+(?:done|there|finished|complete)|fast\s+fertig"
        r"|presque\s+(?:fini|terminé)|casi\s+(?:terminado|listo)|quase\s+(?:pronto|concluído)"
        r"|quasi\s+(?:finito|fatto)|bijna\s+klaar|nästan\s+klar|prawie\s+gotowe|ほぼ完了|差不多",
    ),
    (
        100,
        r"\b(?:done|finished|completed?|achieved|accomplished|erledigt|fertig|erreicht|terminé"
        r"|fait|atteint|hecho|terminado|logrado|concluído|feito|fatto|completato|raggiunto"
        r"|klaar|gedaan|bereikt|klart|uppnått|gotowe|zrobione)\b|完了|完成|達成|达成",
    ),
    (
        50,
        r"half[\s-]?way|half\s+(?:done|there)|about\s+half|50\s*/\s*50|zur\s+hälfte|halb\s+fertig"
        r"|à\s+moitié|a\s+mitad|la\s+mitad|na\s+metade|a\s+metà|halverwege|halvvägs|w\s+połowie"
        r"|半分|一半",
    ),
    (
        20,
        r"\b(?:started|begun|begin|making\s+progress|in\s+progress|under\s+way|angefangen"
        r"|begonnen|commencé|empezado|comenzado|começado|iniziato|påbörjat|rozpocz[ęe]te)\b",
    ),
)
_ESTIMATE_RES = tuple((pct, re.compile(rx, re.IGNORECASE)) for pct, rx in _ESTIMATES)
# Picking one of the offered meeting times: "2", "Option 2", "the second one", "die zweite".
_CHOICE_NUMBER = re.compile(
    r"\b(?:option|choice|number|no\.|nr\.?|nummer|numéro|número|opción|opção|opzione|optie"
    r"|alternativ[e]?|wariant|slot)\s*+#?\s*+(?P<n>[1-9])\b|#(?P<n2>[1-9])\b"
    r"|^\W{0,3}(?P<n3>[1-9])(?![\d/:.,]\d)(?:\W|$)",
    re.IGNORECASE | re.MULTILINE,
)
_ORDINALS = {
    1: r"first|1st|erste|premier|première|primera|primero|primeira|prima|eerste|första|pierwsz\w*",
    2: r"second|2nd|zweite|deuxième|segunda|segundo|seconda|tweede|andra|drug\w*",
    3: r"third|3rd|dritte|troisième|tercera|tercero|terceira|terza|derde|tredje|trzeci\w*",
}
_CHOICE_WORDS = tuple(
    (n, re.compile(rf"\b(?:the|die|den|das|la|le|el|a|o|de)\s+(?:{words})\b", re.IGNORECASE))
    for n, words in _ORDINALS.items()
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]{4}")  # words without spaces between
_NUMBERED_ITEM = re.compile(r"^[ \t]*+\d{1,2}\.(?=[ \t])", re.MULTILINE)
_PERCENT = re.compile(r"(?<![\d.])(?P<n>\d{1,3})\s*+%")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_COMMAND_KINDS = (
    IntentKind.RESCHEDULE,
    IntentKind.MISSED,
    IntentKind.SKIP,
    IntentKind.PAUSE,
    IntentKind.RESUME,
    IntentKind.STOP,
)


def _compile(
    table: Mapping[IntentKind, Mapping[str, tuple[str, ...]]],
) -> dict[IntentKind, tuple[re.Pattern[str], ...]]:
    return {
        kind: tuple(
            re.compile(p, re.IGNORECASE | re.MULTILINE) for ps in langs.values() for p in ps
        )
        for kind, langs in table.items()
    }


_COMPILED = _compile(PATTERNS)
# Each kind's phrases as one expression: a text none of them is in is passed over in one
# search instead of one per phrase (most texts have none of most kinds).
_ANY = {
    kind: re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE | re.MULTILINE)
    for kind, patterns in _COMPILED.items()
}
_ANY_KIND = re.compile("|".join(f"(?:{p.pattern})" for p in _ANY.values()), re.I | re.M)


def interpret(
    text: str,
    *,
    context: str | None = None,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
    body: str | None = None,
) -> Interpretation:
    """Find the intents in the new text of a reply to the email named `context`.

    `context` is one of "welcome", "agreement", "agreement_reminder",
    "invitation", "follow_up", "check_in", "nudge", "closure" or None.
    With `now` (when it was written) and `tz` (the writer's zone), a
    reschedule or skip request also gets the day and time it names, read in
    that zone. With `body` (the whole email, quotes included), answers written
    under the quoted questions of a follow-up or check-in count as numbered.

    In answer to an email with numbered questions (`agent.mail_in.answers`),
    answer N is read as an answer to question N: "3" under a rating question is
    a rating, under the others progress; goals change only by "new goal: ..." or
    "change goal 2 to ...", never by a list in such an answer.
    """
    text = text.replace("\r\n", "\n").replace("’", "'").strip()
    if body and len(body) <= 4 * MAX_REPLY_CHARS:
        text = number_inline(body.replace("\r\n", "\n").replace("’", "'"), text, context)
    if not text:
        return Interpretation(unsure="empty reply")
    if len(text) > MAX_REPLY_CHARS:
        return Interpretation(unsure=f"reply too long to read ({len(text):,} characters)")
    masked = _mask_instructions(text)
    intents: list[Intent] = []
    reasons: list[str] = []

    intents.extend(_agreement(text, masked, context))
    changes, text, masked = _goal_changes(text, masked)
    intents.extend(changes)
    goals = _goals(text, context)
    if goals:
        intents.append(Intent(IntentKind.GOALS, items=goals))
    answers = split_answers(text, context)
    rating, rating_problem = _rating(masked)
    if answers:
        answered, problems = _answered(answers, context)
        intents.extend(answered)
        reasons.extend(problems)
        if any(i.kind == IntentKind.RATING for i in answered):
            rating, rating_problem = None, None
    elif rating is None and rating_problem is None:
        rating = _leading_rating(masked, context)
        if rating:  # "4, going well": the rest is what they say about it
            span = [(0, len(rating.text) + masked.find(rating.text))]
            text, masked = _blank_spans(text, span), _blank_spans(masked, span)
    if rating:
        intents.append(rating)
    if rating_problem:
        reasons.append(rating_problem)
    if context == "slot_options":
        choice = _choice(masked)
        if choice:
            intents.append(Intent(IntentKind.CHOICE, text=f"option {choice}", value=choice))
    intents.extend(_commands(text, masked, now, tz))
    if answers:
        general = answers.general
        general_masked = _mask_instructions(general)
        intents.extend(_goal_progress(general_masked, general))
        intents.extend(_questions(general_masked, general))
    else:
        per_goal = list(_goal_progress(masked, text))
        intents.extend(per_goal)
        rest, rest_masked = _without_goal_lines(text, masked)
        progress = _progress(rest, rest_masked, context, explicit=bool(per_goal))
        if progress:
            intents.append(Intent(IntentKind.PROGRESS, text=progress, value=_estimate(progress)))
        intents.extend(_questions(masked, text))

    condition = next((i for i in intents if i.kind == IntentKind.CONDITION), None)
    if condition:  # the question a condition asks is told with the condition
        intents = [
            i
            for i in intents
            if i.kind != IntentKind.QUESTION
            or not (condition.text in i.text or i.text in condition.text)
        ]
    kinds = {i.kind for i in intents}
    if {IntentKind.AGREE, IntentKind.DECLINE} <= kinds:
        reasons.append("both agreement and refusal")
    if not intents and not reasons:
        reasons.append("reply not understood")
    return Interpretation(tuple(intents), "; ".join(reasons) or None)


# ---- helpers


def _mask_instructions(text: str) -> str:
    """Blank out quoted instructions, keeping offsets, so their phrases match nothing.

    A quotation is an instruction when one of the sentences it touches has a
    verb of replying. The verbs are found in one pass and counted per sentence
    (runs between ".!?" and newlines, which no verb contains), so each
    quotation costs a lookup, not a search of its sentence.
    """
    if not _QUOTED.search(text):
        return text
    boundaries = [m.start() for m in _BOUNDARY.finditer(text)]
    verbs_before = [0] * (len(boundaries) + 2)  # verbs_before[k]: verbs in sentences < k
    for m in _INSTRUCTION_VERB.finditer(text):
        verbs_before[bisect.bisect_left(boundaries, m.start()) + 1] += 1
    verbs_before = list(itertools.accumulate(verbs_before))

    def blank(m: re.Match[str]) -> str:
        first = bisect.bisect_left(boundaries, m.start())  # the sentence of the opening mark
        last = bisect.bisect_left(boundaries, m.end())  # the sentence the closing mark ends
        if verbs_before[last + 1] == verbs_before[first]:
            return m.group(0)
        inner_start, inner_end = m.span("quoted")
        return (
            text[m.start() : inner_start]
            + " " * (inner_end - inner_start)
            + text[inner_end : m.end()]
        )

    return _QUOTED.sub(blank, text)


def _sentence_start(text: str, pos: int, boundaries: str = ".!?\n", *, within: int = 0) -> int:
    """Where the sentence around `pos` starts; with `within`, at most that far back."""
    lowest = max(0, pos - within) if within else 0
    return max(lowest - 1, *(text.rfind(c, lowest, pos) for c in boundaries)) + 1


def _negated(text: str, match: re.Match[str]) -> bool:
    """A negation word within the few words before the match, in the same clause."""
    start = _sentence_start(text, match.start(), ".!?\n,;", within=_NEGATION_LOOKBACK)
    before = text[start : match.start()]
    words = before.split()[-_NEGATION_WINDOW:]
    return bool(_NEGATIONS.search(" ".join(words)))


def _matches(kind: IntentKind, text: str) -> Iterator[re.Match[str]]:
    """Matches of `kind`'s phrases that are not negated, in text order."""
    return iter(_found(kind, text))


@functools.lru_cache(maxsize=16)
def _has_phrases(text: str) -> bool:
    """Any phrase of any kind in `text`: most texts have none, found in one search."""
    return _ANY_KIND.search(text) is not None


@functools.lru_cache(maxsize=64)
def _found(kind: IntentKind, text: str) -> tuple[re.Match[str], ...]:
    """`_matches`, kept for the few texts of the reply being read: agreement, commands,
    progress and questions all look for the same kinds in the same text."""
    if not _has_phrases(text) or not _ANY[kind].search(text):
        return ()
    found = [m for p in _COMPILED[kind] for m in p.finditer(text) if not _negated(text, m)]
    return tuple(sorted(found, key=lambda m: m.start()))


def _overlaps(m: re.Match[str], others: list[re.Match[str]]) -> bool:
    return any(m.start() < o.end() and o.start() < m.end() for o in others)


def _agreement(text: str, masked: str, context: str | None) -> list[Intent]:
    """AGREE, CONDITION and DECLINE (agent.mail_in.consent).

    A refusal phrase ("not agreed") overrides the agreement inside it; a consent
    that is put off, qualified by a condition or an opinion about something else
    is no agreement. In answer to the agreement, a wish about the meetings
    without consent ("Yes, but only every other week") is a condition too.
    """
    declines = list(_matches(IntentKind.DECLINE, masked))
    agrees = [m for m in _matches(IntentKind.AGREE, masked) if not _overlaps(m, declines)]
    judged = consent.Consent()
    if agrees or context in AGREEMENT_CONTEXTS:
        judged = consent.judge(masked, agrees)
    intents = []
    bare = context in AGREEMENT_CONTEXTS and not declines and _is_bare_yes(masked)
    if judged.condition is not None:
        condition = _original(text, masked, judged.condition)
        intents.append(Intent(IntentKind.CONDITION, text=condition, topic=judged.topic))
    elif judged.agreed or bare:
        intents.append(Intent(IntentKind.AGREE, text=judged.agreed or "yes"))
    elif context in AGREEMENT_CONTEXTS and not declines and (topic := consent.wish(masked)):
        first = next(s for s in _sentences(masked) if consent.wish(s.group(0)))
        condition = text[first.start() : first.end()].strip()
        intents.append(Intent(IntentKind.CONDITION, text=condition, topic=topic))
    if declines:
        intents.append(Intent(IntentKind.DECLINE, text=_sentence_of(text, declines[0])))
    return intents


def _original(text: str, masked: str, part: str) -> str:
    """The writer's own words for `part` of the masked text (offsets are the same)."""
    start = masked.find(part)
    return text[start : start + len(part)] if start >= 0 else part


def _is_bare_yes(text: str) -> bool:
    """The first sentence is just "Yes!", "Sounds good", "Sure, happy to", ..."""
    first = _SENTENCE.search(text)
    return bool(first and _BARE_YES.fullmatch(first.group(0).strip()))


def _goals(text: str, context: str | None) -> tuple[str, ...]:
    """List items after a goals keyword, or any list in reply to the agreement.

    Never in answer to a follow-up, check-in or nudge: what people list there is
    what they did, and goals change there only by `_goal_changes`. Items that ask
    something or only say yes are not goals.
    """
    if context in PROGRESS_CONTEXTS or context in QUESTIONS:
        return ()
    lines = text.split("\n")
    start = 0
    if context not in AGREEMENT_CONTEXTS:
        keyword_line = next((i for i, line in enumerate(lines) if _GOAL_WORDS.search(line)), None)
        if keyword_line is None:
            return ()
        start = keyword_line
    return tuple(
        item
        for item in _list_items(lines[start:])
        if not item.rstrip().endswith("?") and not _BARE_YES.fullmatch(item)
    )


def _list_items(lines: list[str]) -> Iterator[str]:
    """Bulleted or numbered items; wrapped or indented continuation lines are joined."""
    item: str | None = None
    for line in lines:
        bullet = _LIST_ITEM.match(line)
        continues = item is not None and line.strip() and (line[:1].isspace() or len(item) >= 60)
        if bullet:
            if item:
                yield item
            item = bullet.group("item").rstrip()
        elif continues and item is not None:
            item = f"{item} {line.strip()}"
        else:
            if item:
                yield item
            item = None
    if item:
        yield item


def _rating_values(text: str) -> list[tuple[int, re.Match[str]]]:
    found = [(int(m.group("n")), m) for rx in _RATINGS for m in rx.finditer(text)]
    found += [(m.group(0).count("★") + m.group(0).count("⭐"), m) for m in _STARS.finditer(text)]
    return sorted(found, key=lambda vm: vm[1].start())


def _rating(text: str) -> tuple[Intent | None, str | None]:
    """The first rating 1..5, or a note when the only ratings are out of range."""
    found = _rating_values(text)
    valid = [(v, m) for v, m in found if 1 <= v <= 5]
    if valid:
        value, match = valid[0]
        return Intent(IntentKind.RATING, text=match.group(0).strip(), value=value), None
    if found:
        return None, f"rating out of range ({found[0][0]})"
    return None, None


def _sentence_end(text: str, pos: int) -> int:
    ends = [text.find(c, pos) + (c != "\n") for c in ".!?\n" if text.find(c, pos) != -1]
    return min(ends, default=len(text))


def _sentence_of(text: str, match: re.Match[str]) -> str:
    return text[_sentence_start(text, match.start()) : _sentence_end(text, match.end())].strip()


def _commands(text: str, masked: str, now: datetime | None, tz: ZoneInfo | None) -> list[Intent]:
    """RESCHEDULE, SKIP, PAUSE, RESUME, STOP: one intent each, with the sentence as text.

    A reschedule or skip carries the day/time its sentence names, when known.
    """
    intents: list[Intent] = []
    for kind in _COMMAND_KINDS:
        match = next(_matches(kind, masked), None)
        if match:
            sentence = _sentence_of(text, match)
            if kind == IntentKind.SKIP and any(
                i.kind == IntentKind.MISSED and i.text == sentence for i in intents
            ):
                continue  # "we had to cancel our meeting": missed, not a skip of the next one
            when = None
            if kind in (IntentKind.RESCHEDULE, IntentKind.SKIP) and now and tz:
                when = proposed_time(sentence, now, tz)
            intents.append(Intent(kind, text=sentence, when=when))
    return intents


def _choice(text: str) -> int | None:
    """The number of the offered meeting time picked, from the first one the text names."""
    found = [
        (m.start(), int(next(g for g in m.group("n", "n2", "n3") if g)))
        for m in _CHOICE_NUMBER.finditer(text)
    ]
    found += [(m.start(), n) for n, rx in _CHOICE_WORDS for m in rx.finditer(text)]
    return min(found)[1] if found else None


def _estimate(text: str) -> int | None:
    """A percentage from "40%" or from words like "done", "about half way"."""
    percent = _PERCENT.search(text)
    if percent and int(percent.group("n")) <= 100:
        return int(percent.group("n"))
    return next((pct for pct, rx in _ESTIMATE_RES if rx.search(text)), None)


def _goal_progress(masked: str, text: str) -> Iterator[Intent]:
    """One PROGRESS intent per "Goal N: status" line, with the estimate when there is one."""
    for m in _GOAL_PROGRESS.finditer(masked):
        number = int(m.group("n") or m.group("n2") or m.group("n3"))
        line = text[m.start() : m.end()].strip()
        yield Intent(
            IntentKind.PROGRESS, text=line, goal=number, value=_estimate(m.group("status"))
        )


def _without_goal_lines(text: str, masked: str) -> tuple[str, str]:
    """Both texts with the "Goal N: status" lines blanked out (offsets kept)."""
    spans = [m.span() for m in _GOAL_PROGRESS.finditer(masked)]
    return _blank_spans(text, spans), _blank_spans(masked, spans)


def _blank_spans(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, pos = [], 0
    for start, end in spans:
        pieces += [text[pos:start], " " * (end - start)]
        pos = end
    return "".join([*pieces, text[pos:]])


def _sentences(text: str) -> Iterator[re.Match[str]]:
    return (m for m in _SENTENCE.finditer(text) if m.group(0).strip())


def _spans(text: str, kinds: tuple[IntentKind, ...]) -> list[tuple[int, int]]:
    """Where the phrases of `kinds` that are not negated are in `text`, in order. Found
    once per text: looking in each sentence again would read every table per sentence."""
    return sorted(m.span() for kind in kinds for m in _matches(kind, text))


def _within(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """One of `spans` starts between `start` and `end`."""
    i = bisect.bisect_left(spans, (start, -1))
    return i < len(spans) and spans[i][0] < end


_CONSENT_KINDS = (IntentKind.AGREE, IntentKind.DECLINE)


def _consents(sentence: str) -> bool:
    """The sentence agrees to the agreement, qualifies or refuses it ("I agree."): not
    progress. "I agree with Ana that goal 1 is nearly done" is."""
    if next(_matches(IntentKind.DECLINE, sentence), None):
        return True
    judged = consent.judge(sentence, list(_matches(IntentKind.AGREE, sentence)))
    return judged.agreed is not None or judged.condition is not None


def _questions(masked: str, text: str) -> list[Intent]:
    """Sentences ending in "?" that are not requests handled as commands."""
    questions = [m for m in _sentences(masked) if m.group(0).rstrip().endswith("?")]
    if not questions:
        return []
    commands = _spans(masked, _COMMAND_KINDS)
    return [
        Intent(IntentKind.QUESTION, text=text[m.start() : m.end()].strip())
        for m in questions
        if not _within(commands, m.start(), m.end())
    ]


def _progress(text: str, masked: str, context: str | None, *, explicit: bool = False) -> str:
    """The substantive text of a progress report, or "".

    In reply to a follow-up, check-in or nudge, or when the text says
    "progress:" / "Goal 2: done", the progress is the reply minus sentences
    that are commands or questions (or explain a command: the sentences after
    it, unless they are explicit progress) and minus rating tokens, capped at
    MAX_PROGRESS_CHARS at a sentence boundary.
    """
    if context not in PROGRESS_CONTEXTS and not explicit and not _EXPLICIT_PROGRESS.search(masked):
        return ""
    kept: list[str] = []
    after_request = False
    commands = _spans(masked, _COMMAND_KINDS)
    consents = _spans(masked, _CONSENT_KINDS)
    # "1. CV" is one list item, not the sentences "1." and "CV" (same length: offsets kept)
    items = _NUMBERED_ITEM.sub(lambda m: m.group(0).replace(".", ")"), masked)
    for m in _sentences(items):
        sentence = m.group(0)
        if _within(commands, m.start(), m.end()):
            # what follows a request explains it ("I have a workshop that day"): not progress
            after_request = True
            continue
        if (
            sentence.rstrip().endswith("?")
            or (after_request and not _EXPLICIT_PROGRESS.search(sentence))
            or _PLEASANTRY.match(sentence)
            or (_within(consents, m.start(), m.end()) and _consents(sentence))
        ):
            continue
        original = text[m.start() : m.end()]
        for _, rating in _rating_values(sentence):
            original = original.replace(rating.group(0), " ")
        original = re.sub(r"\s+", " ", original)
        original = re.sub(r"\s*[,;:]\s*([.!?]|$)", r"\1", original).strip(" ,;:-")
        words = len(re.findall(r"[^\W\d_]{2,}", original))
        if words >= 2 or (words and _LIST_ITEM.match(sentence)) or _CJK.search(original):
            kept.append(original)
    return _cap_sentences(kept, MAX_PROGRESS_CHARS)


def _cap_sentences(sentences: list[str], limit: int) -> str:
    out = ""
    for sentence in sentences:
        candidate = f"{out} {sentence}".strip()
        if len(candidate) > limit:
            return out or candidate[:limit].rstrip()
        out = candidate
    return out


# ---- goals set or changed by name ("new goal: ...", "change goal 2 to ...")

_NEW_GOAL = re.compile(
    r"\b(?:(?:a\s+|one\s+)?(?:new|another|additional|extra|one\s+more)\s+goal"
    r"|add(?:ing)?\s+(?:a\s+|another\s+|one\s+more\s+)?(?:new\s+)?goal|neues\s+ziel"
    r"|weiteres\s+ziel|nouvel\s+objectif|nuevo\s+objetivo|novo\s+objetivo|nuovo\s+obiettivo"
    r"|nieuw\s+doel|nowy\s+cel|nytt\s+mål|nyt\s+mål|новая\s+цель)\s*+[:：]\s*+(?P<goal>\S[^\n]*)"
    r"|(?:新しい目標|新目标|新的目标)\s*+[:：]\s*+(?P<goal2>\S[^\n]*)",
    re.IGNORECASE,
)
_GOAL_NUMBER = (
    r"(?:goal|ziel|objectif|objetivo|obiettivo|doel|cel|mål)\s*+(?:no\.?\s*+|#\s*+)?(?P<n>[1-9])"
    r"|(?P<o>first|second|third|fourth|1st|2nd|3rd|4th)\s+goal"
)
_CHANGE_GOAL = re.compile(
    rf"\b(?:change|update|replace|reword|rephrase|rename|swap|make|ändere|ändern|changer"
    rf"|remplacer|cambiar|reemplazar|mudar|alterar|cambiare|sostituire|wijzig)\s+"
    rf"(?:my\s+|our\s+|the\s+|l'|el\s+|o\s+|il\s+|mein\s+|unser\s+)?(?:{_GOAL_NUMBER})\s*+"
    rf"(?:to|with|into|in|zu|en|par|a|por|para|con|naar|:|->|→|=)\s*+:?\s*+(?P<goal>\S[^\n]*)"
    rf"|\b(?:{_GOAL_NUMBER.replace('?P<n>', '?P<n2>').replace('?P<o>', '?P<o2>')})\s+"
    rf"(?:should\s+(?:now\s+)?be|becomes|changes\s+to|is\s+changed\s+to)\s*+:?\s*+(?P<goal2>\S[^\n]*)",
    re.IGNORECASE,
)
# A text without one of these words changes no goal (checked before the expressions).
_GOAL_HINTS = ("goal", "ziel", "objecti", "obiettiv", "doel", "cel", "mål", "цель", "目標", "目标")
_ORDINAL_GOALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3}
_ORDINAL_GOALS |= {"fourth": 4, "4th": 4}


def _goal_text(raw: str) -> str:
    return raw.strip().strip("\"“”„'").rstrip(" .!;").strip("\"“”„'").strip()


def _goal_changes(text: str, masked: str) -> tuple[list[Intent], str, str]:
    """NEW_GOAL and one-goal GOALS intents, and both texts with those phrases blanked out
    (they are not progress)."""
    intents: list[Intent] = []
    spans: list[tuple[int, int]] = []
    folded = masked.casefold()
    if not any(word in folded for word in _GOAL_HINTS):
        return intents, text, masked
    for m in _NEW_GOAL.finditer(masked):
        start, end = m.span("goal") if m.group("goal") else m.span("goal2")
        goal = _goal_text(text[start:end])
        if goal:
            intents.append(Intent(IntentKind.NEW_GOAL, text=goal))
            spans.append(m.span())
    for m in _CHANGE_GOAL.finditer(masked):
        number = m.group("n") or m.group("n2")
        ordinal = m.group("o") or m.group("o2")
        start, end = m.span("goal") if m.group("goal") else m.span("goal2")
        goal = _goal_text(text[start:end])
        n = int(number) if number else _ORDINAL_GOALS.get((ordinal or "").lower())
        if goal and n:
            intents.append(Intent(IntentKind.GOALS, text=m.group(0).strip(), items=(goal,), goal=n))
            spans.append(m.span())
    if not spans:
        return intents, text, masked
    spans.sort()
    return intents, _blank_spans(text, spans), _blank_spans(masked, spans)


# ---- answers to numbered questions (agent.mail_in.answers)

_NUMBER_WORDS = {
    1: r"one|eins|un|une|uno|um|uma|een|jeden|jedna|ett|en|один",
    2: r"two|zwei|deux|dos|dois|duas|due|twee|dwa|två|to|два",
    3: r"three|drei|trois|tres|três|tre|drie|trzy|tři|три",
    4: r"four|vier|quatre|cuatro|quatro|quattro|cztery|fyra|fire|четыре",
    5: r"five|fünf|cinq|cinco|cinque|vijf|pięć|fem|пять",
}
_WORD_RATING = re.compile(
    "|".join(rf"(?P<w{n}>\b(?:{words})\b)" for n, words in _NUMBER_WORDS.items()), re.IGNORECASE
)
# A rating given as a bare number at the start of an answer: "4", "a solid 4 -", "4.5", "10".
_BARE_RATING = re.compile(
    r"^[^\w\n]{0,3}(?:(?:a|an|solid|strong|easy|maybe|probably|about|around)\s+){0,2}"
    r"(?P<n>\d{1,2}(?:[.,]5)?)(?![\d:/]|[.,]\d|\s*(?:%|am|pm|h\b|min|weeks?|days?|times?))"
    r"(?:\s*(?:/|out\s+of|von|sur|de|su|van|из)\s*(?:5|five)\b)?",
    re.IGNORECASE,
)
# "No", "nothing for now", "all good": nothing for the program office to do.
_NOTHING_NEEDED = re.compile(
    r"^[^\w\n]*+(?:no|nope|nothing|none|not\s+(?:really|now|right\s+now|at\s+the\s+moment|yet)"
    r"|all\s+good|(?:we'?re|I'?m)\s+(?:good|fine)|n/?a|nein|nichts|derzeit\s+nicht|non|rien"
    r"|pas\s+pour\s+l'instant|nada|no\s+por\s+ahora|não|nenhum|niente|nulla|nee|niets|nie|nic"
    r"|nej|inget|ingenting|intet|нет|ничего|いいえ|特に(?:ない|ありません|なし)|大丈夫|没有|不用|暂时没有)"
    r"(?![\w-])",
    re.IGNORECASE,
)
_CADENCE_OK = re.compile(
    r"\b(?:about|just|feels|is)\s+right\b|\b(?:fine|good|perfect|works|suits|great|ok(?:ay)?)\b"
    r"|\bpasst\b|\bgut\b|\bparfait\b|\bbien\b|\bperfect[oa]\b|\bbene\b|\bgoed\b|\bprima\b"
    r"|\bdobrze\b|\bbra\b|\bfint\b|\bgodt\b|ちょうど|合适|刚好|\bнормально\b|\bподходит\b",
    re.IGNORECASE,
)


def _answered(answers: Answers, context: str | None) -> tuple[list[Intent], list[str]]:
    """The intents of each numbered answer, read as an answer to its question.

    A rating question's answer gives the rating (a bare "3" too) and, in the rest of
    its words, a remark; the cadence question a CADENCE wish when it asks for a
    change; the help question a QUESTION unless it says no; the others progress,
    per goal where they name one ("Goal 2: 30%").
    """
    questions = QUESTIONS[context or ""]
    intents: list[Intent] = []
    problems: list[str] = []
    for number, answer in sorted(answers.answers.items()):
        topic = questions[number - 1].topic
        masked = _mask_instructions(answer)
        found: list[Intent] = []
        if topic == "rating":
            rating, problem, answer = _answer_rating(answer, masked)
            found += [rating] if rating else []
            problems += [problem] if problem else []
            masked = _mask_instructions(answer)
        elif topic == "cadence":
            wished = consent.wish(masked)
            if wished and (not _CADENCE_OK.search(masked) or consent.has_reservation(masked)):
                intents.append(Intent(IntentKind.CADENCE, answer, question=number, topic=wished))
                continue
        elif topic == "help":
            if answer and not (_NOTHING_NEEDED.match(masked) and "?" not in masked):
                intents.append(Intent(IntentKind.QUESTION, answer, question=number, topic=topic))
            continue
        else:
            found += _goal_progress(masked, answer)
            answer, masked = _without_goal_lines(answer, masked)
        found += _questions(masked, answer)
        text = _progress(answer, masked, context, explicit=True)
        if text:
            value = _estimate(text) if topic == "progress" else None
            found.append(Intent(IntentKind.PROGRESS, text=text, value=value))
        intents += [dataclasses.replace(i, question=number, topic=topic) for i in found]
    return intents, problems


def _answer_rating(answer: str, masked: str) -> tuple[Intent | None, str | None, str]:
    """(the rating, or why there is none, the rest of the answer)."""
    found = _rating_values(masked)
    if found:
        value, match = found[0]
        span = match.span()
    else:
        bare = _BARE_RATING.match(masked)
        words = _WORD_RATING.search(masked[:40])
        if bare:
            raw = bare.group("n").replace(",", ".")
            if "." in raw:
                return None, f"rating not a whole number ({raw})", answer
            value, span = int(raw), bare.span()
        elif words and words.lastgroup:
            value, span = int(words.lastgroup[1:]), words.span()
        else:
            return None, None, answer
    remark = (answer[: span[0]] + " " + answer[span[1] :]).strip(" \t\n-–—,.;:!()")
    if not 1 <= value <= 5:
        return None, f"rating out of range ({value})", remark
    token = answer[span[0] : span[1]].strip()
    return Intent(IntentKind.RATING, text=token, value=value), None, remark


def _leading_rating(masked: str, context: str | None) -> Intent | None:
    """A free-text answer to a check-in that starts with its rating: "4, going well"."""
    questions = QUESTIONS.get(context or "")
    if not questions or questions[0].topic != "rating":
        return None
    bare = _BARE_RATING.match(masked)
    if bare is None or "." in bare.group("n").replace(",", "."):
        return None
    after = masked[bare.end() : bare.end() + 2]
    value = int(bare.group("n"))
    if not 1 <= value <= 5 or (after[:1].isspace() and after[1:2].isalpha()):
        return None  # "4 meetings so far" counts meetings
    return Intent(IntentKind.RATING, text=bare.group(0).strip(), value=value, question=1)


# ---- what is never progress

_PLEASANTRY = re.compile(
    r"^\W*+(?:hi|hello|hey|dear|thanks?|thank\s+you|many\s+thanks|cheers|best|regards|hallo"
    r"|liebe[rs]?|danke|bonjour|merci|hola|gracias|olá|obrigad[oa]|ciao|grazie|hoi|bedankt"
    r"|cześć|dzięki|hej|tack|tak|привет|спасибо|こんにちは|ありがとう|你好|谢谢)"
    r"(?:\b|(?<=\W))[^.!?\n]{0,30}[.!?]*+\s*+$",
    re.IGNORECASE,
)
