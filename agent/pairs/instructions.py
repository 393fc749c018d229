"""The coordinator's short answers to the agent's notices, read and applied. Pure.

A coordinator answers a notice the way people answer a colleague: "Agreed - Ben
confirmed by phone", "release", "Erledigt, danke!", "pause until 19 March". The first
line of what they newly wrote is the instruction: it must begin with one of the
phrases in `PHRASES` (in English, German, French, Spanish, Dutch or Italian) and the
phrase must end there, at punctuation, or before its argument ("until <date>", a role
or a first name): "Close call, but ..." closes nothing. A short first line that is
none of them is an unknown instruction (answered with what the agent understands, and
the nearest phrase when one is close: "relase" -> "release"); anything longer is a
note, kept in the pair's log. Nothing here decides whether the writer may instruct the
agent: that is agent.commands.coordinator, with the trust rules of agent.pairs.trust.

`applied` turns one instruction into the pair's next state; applying it again changes
nothing more.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from agent.mail_in.message import ROLES, Role
from agent.meetings.when import LANGUAGES
from agent.pairs.program import BEFORE_AGREEMENT, ENDED, PairState, Stage, pause, resume


class Verb(StrEnum):
    AGREE = "agree"  # mark a person (or both) agreed to the mentoring agreement
    RELEASE = "release"  # apply a quarantined or held message as if from the participant
    ALIAS = "alias"  # the sender's address is one of the participant's addresses
    DISCARD = "discard"  # a quarantined or held message is not to be applied
    PAUSE = "pause"  # pause the pair, until a date when one is given
    RESUME = "resume"
    CLOSE = "close"  # close the pair: the closing emails go out, the series is cancelled
    RESOLVED = "resolved"  # the coordinator has dealt with it (answered the person)


# What each verb may be written as, lower-case, "|" between phrases; the longest match wins.
_WRITTEN: dict[Verb, str] = {
    Verb.AGREE: "agreed|agree|mark agreed|mark as agreed|they agreed|he agreed|she agreed"
    "|both agreed|zugestimmt|einverstanden|hat zugestimmt|d'accord|accord|de acuerdo"
    "|aceptado|akkoord|d'accordo",
    Verb.RELEASE: "release|release it|release this|apply|apply it|freigeben|freigabe"
    "|libérer|liberar|vrijgeven|rilascia",
    Verb.ALIAS: "alias|add alias|add as alias|add the alias|add as an alias|alias hinzufügen"
    "|als alias|ajouter l'alias|añadir alias",
    Verb.DISCARD: "discard|discard it|ignore|ignore it|spam|verwerfen|ignorieren|ignorer"
    "|ignorar|negeren",
    Verb.PAUSE: "pause|pause the pair|pause them|pausieren|pausiert|mettre en pause|pausar"
    "|pauzeren|pausa",
    Verb.RESUME: "resume|resume the pair|unpause|fortsetzen|weiter|reprendre|reanudar"
    "|hervatten|riprendere",
    Verb.CLOSE: "close|close the pair|close pair|close it|end the pair|schließen|beenden"
    "|fermer|cerrar|sluiten|chiudere",
    Verb.RESOLVED: "resolved|done|handled|dealt with|sorted|erledigt|gelöst|résolu|réglé"
    "|resuelto|opgelost|risolto|fatto",
}
PHRASES: dict[Verb, tuple[str, ...]] = {v: tuple(w.split("|")) for v, w in _WRITTEN.items()}
_UNTIL = re.compile(
    r"(?i)^(?:until|till|til|to|through|bis(?:\s+zum|\s+am)?|jusqu'(?:au|à)|hasta(?:\s+el)?"
    r"|tot|fino\s+al?)\s+"
)
# A phrase ends the instruction at punctuation (or a dash) or at the end of the line.
_END = re.compile(r"^\s*(?:$|[.,;:!?\-–—(])")
_POLITE = re.compile(r"(?i)^(?:please|pls|bitte|ok(?:ay)?|yes|ja|oui|sí|si)[\s,.!]+")
_GREETING = re.compile(
    r"(?i)^(?:hi|hello|hey|dear|hallo|liebe[rs]?|moin|bonjour|salut|hola|ciao|hej|beste|olá)"
    r"\b[^.!?]{0,40}[,!]?$"
)
_AFTER = re.compile(r"(?i)^\s+(?:please|pls|bitte|por favor|s'il vous plaît|svp)(?=\W|$)")
_THANKS = re.compile(
    r"(?i)[\s,.!]+(?:please|pls|bitte|thanks|thank you|thx|ta|danke|merci|gracias|grazie"
    r"|dank je)[\s.!]*$"
)
MAX_UNKNOWN_WORDS = 6  # a longer first line that is no instruction is a note


@dataclass(frozen=True)
class Instruction:
    """What a coordinator's answer asks. `verb` None: not an instruction (`unknown` set
    for a short line that looks like one, with `suggestion` when a phrase is close)."""

    verb: Verb | None
    line: str = ""  # the first line, as written
    rest: str = ""  # the phrase's argument on that line ("mentee", "Ben", "until ...")
    until: date | None = None  # PAUSE: the day the mentoring resumes
    unknown: bool = False
    suggestion: str | None = None
    problem: str | None = None  # the verb was read but its argument was not


def read(text: str, now: datetime, tz: ZoneInfo) -> Instruction:
    """The instruction in a reply's new text (quotes and signature already removed)."""
    lines = [s.strip() for s in text.splitlines() if s.strip()][:2]
    if len(lines) == 2 and _GREETING.match(lines[0]):  # "Hi Ben," / "Hallo,"
        lines.pop(0)
    line = (lines or [""])[0][:300]
    spoken = _THANKS.sub("", _POLITE.sub("", line.lower())).strip()
    found = _phrase(spoken)
    if found is None:
        words = re.findall(r"[^\W\d_][\w'’-]*", spoken)
        if not words or len(words) > MAX_UNKNOWN_WORDS:
            return Instruction(None, line)
        return Instruction(None, line, unknown=True, suggestion=_nearest(" ".join(words)))
    verb, phrase = found
    after = _AFTER.sub("", spoken[len(phrase) :], count=1)
    # what follows at once is the argument ("agreed mentee"); after punctuation, a comment
    rest = "" if _END.match(after) else after.strip(" \t.,;:!?-–—")
    if verb != Verb.PAUSE:
        return Instruction(verb, line, rest)
    until_text = _UNTIL.sub("", rest, count=1) if _UNTIL.match(rest) else ""
    if not until_text:
        return Instruction(verb, line, rest)
    day = read_date(until_text, now.astimezone(tz))
    if day is None:
        return Instruction(verb, line, rest, problem=f"no date I can read in {until_text!r}")
    return Instruction(verb, line, rest, until=day)


def _phrase(spoken: str) -> tuple[Verb, str] | None:
    """The longest phrase `spoken` begins with that ends where an instruction may end."""
    best: tuple[Verb, str] | None = None
    for verb, phrases in PHRASES.items():
        for phrase in phrases:
            if not spoken.startswith(phrase) or (best and len(best[1]) >= len(phrase)):
                continue
            after = _AFTER.sub("", spoken[len(phrase) :], count=1)
            if _END.match(after) or _argument(verb, after):
                best = (verb, phrase)
    return best


def _argument(verb: Verb, after: str) -> bool:
    """What may follow a phrase without punctuation: a date for a pause, a role or a
    name (one word) for agreeing."""
    if not after.startswith(" "):
        return False
    after = after.strip()
    if verb == Verb.PAUSE:
        return bool(_UNTIL.match(after + " "))
    if verb in (Verb.AGREE, Verb.ALIAS):  # a role or a first name, "both"
        return len(after.split()) == 1 or after in ("both", "beide", "les deux", "ambos")
    return False


def _nearest(words: str) -> str | None:
    every = [p for phrases in PHRASES.values() for p in phrases]
    close = difflib.get_close_matches(words, every, n=1, cutoff=0.75)
    if not close:
        close = difflib.get_close_matches(words.split()[0], every, n=1, cutoff=0.75)
    return close[0] if close else None


def read_date(text: str, local_now: datetime) -> date | None:
    """A day on or after today: "19 March", "March 19th", "19.3.", "2027-03-19", "19. März"."""
    text = text.strip().rstrip(".!")[:60]
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    numeric = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.?(\d{4})?", text)
    if numeric:
        day, month = int(numeric[1]), int(numeric[2])
        for year in [int(numeric[3])] if numeric[3] else [local_now.year, local_now.year + 1]:
            try:
                found = date(year, month, day)
            except ValueError:
                return None
            if found >= local_now.date():
                return found
        return None
    import dateparser  # heavy: loaded only when a date has to be read

    settings: dict[str, Any] = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": local_now.replace(tzinfo=None),
        "PREFER_DAY_OF_MONTH": "first",
    }
    try:
        parsed = dateparser.parse(text, languages=LANGUAGES, settings=settings)
    except (ValueError, OverflowError, TypeError):
        return None
    if parsed is None or parsed.date() < local_now.date():
        return None
    return parsed.date()


def understood() -> list[str]:
    """What the agent understands, one line each, for the reply to an unknown instruction."""
    return [
        "agreed - mark the person agreed (or: agreed mentor / agreed mentee / agreed both)",
        "release - apply their message as if it had come from the participant",
        "alias - add the sender's address to the participant's addresses",
        "discard - leave their message unapplied",
        "pause until 19 March - pause the pair (without a date: until you write resume)",
        "resume - end a pause",
        "close - close the pair (closing emails, the meetings cancelled)",
        "resolved - you have dealt with it",
    ]


# --- applying ---------------------------------------------------------------------------

Outcome = Literal["changed", "unchanged", "refused"]


@dataclass(frozen=True)
class Result:
    state: PairState
    outcome: Outcome
    said: str  # what was done (or why not), completing "I ..." / "Not done: ..."


def applied(
    state: PairState,
    verb: Verb,
    now: datetime,
    tz: ZoneInfo,
    *,
    roles: tuple[Role, ...] = (),
    until: date | None = None,
) -> Result:
    """The pair after one state instruction (agree, pause, resume, close). Idempotent: an
    instruction the state already reflects is "unchanged"."""
    if state.stage in ENDED and verb != Verb.CLOSE:
        return Result(state, "refused", f"the pair has ended ({state.stage})")
    if verb == Verb.AGREE:
        return _agreed(state, roles, now)
    if verb == Verb.PAUSE:
        resume_at = datetime.combine(until, time(0), tz) if until else None
        if resume_at is not None and resume_at <= now:
            return Result(state, "refused", f"{until:%d %B %Y} has passed")
        words = f"until {until:%a %d %b %Y}" if until else "until you write resume"
        if state.stage == Stage.PAUSED and state.paused_until == resume_at:
            return Result(state, "unchanged", f"the pair was paused {words} already")
        return Result(pause(state, now, None, resume_at), "changed", f"paused the pair {words}")
    if verb == Verb.RESUME:
        if state.stage != Stage.PAUSED:
            return Result(state, "unchanged", f"the pair was not paused ({state.stage})")
        new = resume(state, now)
        return Result(new, "changed", f"resumed the pair ({new.stage})")
    if verb == Verb.CLOSE:
        if state.stage in ENDED:
            return Result(state, "unchanged", f"the pair was {state.stage} already")
        update = {"stage": Stage.CLOSING, "closing_reason": "closed by the coordinator"}
        said = "closed the pair: both get the closing email, the meetings are cancelled"
        return Result(state.model_copy(update=update), "changed", said)
    raise ValueError(f"{verb} is not a change of a pair's state")


def _agreed(state: PairState, roles: tuple[Role, ...], now: datetime) -> Result:
    todo = [r for r in roles or ROLES if r not in state.agreed]
    if not todo:
        who = " and ".join(roles or ROLES)
        return Result(state, "unchanged", f"the {who} had agreed already")
    agreed = {**state.agreed, **{r: now for r in todo}}
    declined = {r: t for r, t in state.declined.items() if r not in todo}
    update: dict[str, object] = {"agreed": agreed, "declined": declined}
    if all(r in agreed for r in ROLES) and state.stage in BEFORE_AGREEMENT:
        update["stage"] = Stage.AGREED
    said = f"marked the {' and the '.join(todo)} agreed"
    return Result(state.model_copy(update=update), "changed", said)
