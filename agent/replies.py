"""Reply text -> `Interpretation`: what a participant means by an answer.

Pure and table-driven: every intent has a tuple of regular expressions per
language in `PATTERNS`; supporting a new language means adding its phrases
there (and, if needed, its negation words to `_NEGATIONS`). The input is the
already stripped new text of a reply (`agent.inbound.strip_reply`), and the
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
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.model import Intent, IntentKind, Interpretation
from agent.when import proposed_time

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
        "nl": (r"\bakkoord\b", r"\bik\s+ga\s+akkoord\b"),
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
        ),
        "de": (r"\bverschieben\b", r"\banderen\s+termin\b"),
        "fr": (
            r"\b(?:déplacer|reporter|décaler)\s+(?:la|le|notre|nos|les)\b",
            r"\bun\s+autre\s+moment\b",
        ),
        "es": (
            r"\b(?:aplazar|reprogramar)\b",
            r"\b(?:cambiar|mover)\s+(?:la|nuestra)\s+(?:reunión|sesión|cita)\b",
            r"\botro\s+(?:día|momento)\b",
        ),
        "pt": (r"\b(?:remarcar|adiar)\b",),
        "it": (r"\b(?:spostare|rinviare)\b",),
        "nl": (r"\b(?:verzetten|verplaatsen)\b",),
    },
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
    r"|nunca|não|niet|non)\b",
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
    r"(?im)^[^\w\n]*+(?:(?:goal|ziel|objectif|objetivo|obiettivo|doel|mål|cel)\s*+"
    r"(?:no\.?\s*+|#)?(?P<n>\d{1,2})|(?P<n2>\d{1,2})(?:st|nd|rd|th)?\s++goal"
    r"|目[標标]\s*+(?P<n3>\d{1,2}))\s*+[:：\-–—)]\s*+(?P<status>[^\s.!?;][^\n.!?;]*+)[.!;]?"
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
_PERCENT = re.compile(r"(?<![\d.])(?P<n>\d{1,3})\s*+%")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_COMMAND_KINDS = (
    IntentKind.RESCHEDULE,
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


def interpret(
    text: str,
    *,
    context: str | None = None,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
) -> Interpretation:
    """Find the intents in the new text of a reply to the email named `context`.

    `context` is one of "welcome", "agreement", "agreement_reminder",
    "invitation", "follow_up", "check_in", "nudge", "closure" or None.
    With `now` (when it was written) and `tz` (the writer's zone), a
    reschedule or skip request also gets the day and time it names, read in
    that zone.
    """
    text = text.replace("\r\n", "\n").replace("’", "'").strip()
    if not text:
        return Interpretation(unsure="empty reply")
    if len(text) > MAX_REPLY_CHARS:
        return Interpretation(unsure=f"reply too long to read ({len(text):,} characters)")
    masked = _mask_instructions(text)
    intents: list[Intent] = []
    reasons: list[str] = []

    intents.extend(_agreement(text, masked, context))
    goals = _goals(text, context)
    if goals:
        intents.append(Intent(IntentKind.GOALS, items=goals))
    rating, rating_problem = _rating(masked)
    if rating:
        intents.append(rating)
    if rating_problem:
        reasons.append(rating_problem)
    if context == "slot_options":
        choice = _choice(masked)
        if choice:
            intents.append(Intent(IntentKind.CHOICE, text=f"option {choice}", value=choice))
    intents.extend(_commands(text, masked, now, tz))
    per_goal = list(_goal_progress(masked, text))
    intents.extend(per_goal)
    rest, rest_masked = _without_goal_lines(text, masked)
    progress = _progress(rest, rest_masked, context, explicit=bool(per_goal))
    if progress:
        intents.append(Intent(IntentKind.PROGRESS, text=progress, value=_estimate(progress)))
    intents.extend(_questions(masked, text))

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
    found = [m for p in _COMPILED[kind] for m in p.finditer(text) if not _negated(text, m)]
    return iter(sorted(found, key=lambda m: m.start()))


def _overlaps(m: re.Match[str], others: list[re.Match[str]]) -> bool:
    return any(m.start() < o.end() and o.start() < m.end() for o in others)


def _agreement(text: str, masked: str, context: str | None) -> list[Intent]:
    """AGREE/DECLINE; a refusal phrase ("not agreed") overrides the agreement inside it."""
    declines = list(_matches(IntentKind.DECLINE, masked))
    agrees = [m for m in _matches(IntentKind.AGREE, masked) if not _overlaps(m, declines)]
    intents = []
    if agrees or (context in AGREEMENT_CONTEXTS and not declines and _is_bare_yes(masked)):
        intents.append(Intent(IntentKind.AGREE, text=agrees[0].group(0) if agrees else "yes"))
    if declines:
        intents.append(Intent(IntentKind.DECLINE, text=_sentence_of(text, declines[0])))
    return intents


def _is_bare_yes(text: str) -> bool:
    """The first sentence is just "Yes!", "Sounds good", "Sure, happy to", ..."""
    first = _SENTENCE.search(text)
    return bool(first and _BARE_YES.fullmatch(first.group(0).strip()))


def _goals(text: str, context: str | None) -> tuple[str, ...]:
    """List items after a goals keyword, or any list in reply to the agreement."""
    lines = text.split("\n")
    start = 0
    if context not in AGREEMENT_CONTEXTS:
        keyword_line = next((i for i, line in enumerate(lines) if _GOAL_WORDS.search(line)), None)
        if keyword_line is None:
            return ()
        start = keyword_line
    return tuple(_list_items(lines[start:]))


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
    intents = []
    for kind in _COMMAND_KINDS:
        match = next(_matches(kind, masked), None)
        if match:
            sentence = _sentence_of(text, match)
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


def _is_command(sentence: str) -> bool:
    return any(next(_matches(kind, sentence), None) for kind in _COMMAND_KINDS)


def _questions(masked: str, text: str) -> list[Intent]:
    """Sentences ending in "?" that are not requests handled as commands."""
    return [
        Intent(IntentKind.QUESTION, text=text[m.start() : m.end()].strip())
        for m in _sentences(masked)
        if m.group(0).rstrip().endswith("?") and not _is_command(m.group(0))
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
    for m in _sentences(masked):
        sentence = m.group(0)
        if _is_command(sentence):
            # what follows a request explains it ("I have a workshop that day"): not progress
            after_request = True
            continue
        if sentence.rstrip().endswith("?") or (
            after_request and not _EXPLICIT_PROGRESS.search(sentence)
        ):
            continue
        original = text[m.start() : m.end()]
        for _, rating in _rating_values(sentence):
            original = original.replace(rating.group(0), " ")
        original = re.sub(r"\s+", " ", original)
        original = re.sub(r"\s*[,;:]\s*([.!?]|$)", r"\1", original).strip(" ,;:-")
        if len(re.findall(r"[^\W\d_]{2,}", original)) >= 2:
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
