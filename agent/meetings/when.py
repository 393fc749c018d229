"""Dates and times written in words: "Friday 3pm", "next Tuesday same time", "back on 15 March".

Pure. Two questions are answered, both in the writer's own time zone:

- `proposed_time(sentence, now, tz)`: the new time a reschedule request asks
  for ("can we move Thursday to Friday 3pm?" -> Friday 15:00), the meeting it
  is about when the sentence names one ("I can't make it on Monday, can we do
  Wednesday instead?" -> Monday's), and whether it is about every meeting from
  the next one on ("move all our future meetings to 8pm", "from now on").
- `return_date(text, now, tz)`: when an out-of-office auto-reply says its
  writer is back ("I am out of the office until 15 March" -> 16 March).

The day is parsed by `dateparser`, which knows weekday and month names,
"tomorrow" and numeric dates in the languages below; it is imported on first
use so that the command line starts fast. The time of day ("3pm", "15:00",
"15 Uhr", "15h") and the phrases around the date ("to", "until", "same time")
are found here, because dateparser reads "move Thursday to Friday" as
several dates and converts times between zones in surprising ways.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["LANGUAGES", "Proposal", "proposed_time", "return_date"]

LANGUAGES = ["en", "de", "fr", "es", "pt", "it", "nl", "pl", "sv", "ja", "zh"]
MAX_AWAY = timedelta(days=120)  # a longer absence in an auto-reply is more likely a misreading

_TIME = re.compile(
    r"""(?ix)
      (?<![\d:.])(?P<h1>\d{1,2})(?:[:.](?P<m1>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)(?!\w)
    | (?<![\d:.])(?P<h2>\d{1,2})[:h](?P<m2>\d{2})(?!\d)
    | (?<![\d:.])(?P<h3>\d{1,2})\s*(?:h|uhr|hrs|horas|heures|uur|godz\.?)(?!\w)
    | (?:時|点|點)?(?<![\d])(?P<h4>\d{1,2})\s*(?:時|点|點)(?:(?P<m4>\d{1,2})\s*分)?
    | \b(?P<noon>noon|midday|mittag)\b
    """
)
_SAME_TIME = re.compile(
    r"(?i)\b(?:same\s+time|usual\s+time|gleiche[nr]?\s+(?:zeit|uhrzeit)|même\s+heure"
    r"|misma\s+hora|mesmo\s+horário|stessa\s+ora|zelfde\s+tijd|samma\s+tid|tej\s+samej\s+godzinie)\b"
    r"|同じ時間|同一时间|同一時間"
)
# Words before the new time in a request: "move Thursday *to* Friday", "*auf* Freitag".
_TARGET = re.compile(
    r"(?i)\b(?:to|till|until|for|on|instead|rather|about|auf|nach|zu[mr]?|am|à|au|pour|le|a|al"
    r"|para|el|naar|op|till|på|na|w|do|lieber|stattdessen|plutôt|mejor|invece|liever)\b"
    r"|に|へ|到|改为|改到"
)
# Words that carry no date: dropped before parsing what follows a target word.
_FILLER = re.compile(
    r"(?i)\b(?:please|instead|maybe|perhaps|possibly|if\s+possible|if\s+that\s+works"
    r"|works?|would|could|be|at|um|à|a\s+las|às|alle|om|kl\.?|o|the|same\s+time|this"
    r"|always|every|each|immer|jeden|toujours|siempre|sempre|altijd|alltid"
    r"|now|ahora|jetzt|maintenant|agora|adesso|ora|nu"
    r"|nächste[nr]?|kommende[nr]?|prochain|prochaine|próximo|próxima|prossimo|prossima"
    r"|volgende|nästa|przyszły|przyszłą)\b"
)
# Phrases in out-of-office replies, by language: what follows is the return day ("back")
# or the last day away ("until").
_BACK = re.compile(
    r"""(?ix)\b(?:
        back(?:\s+in\s+the\s+office)?(?:\s+on)? | return(?:ing)?(?:\s+to\s+the\s+office)?(?:\s+on)?
      | wieder\s+(?:im\s+büro\s+)?(?:ab|am) | ab\s+(?:dem\s+)?(?=\d) | zurück\s+(?:ab|am)
      | de\s+retour\s+(?:le|à\s+partir\s+du) | à\s+partir\s+du
      | de\s+vuelta\s+el | a\s+partir\s+del | regreso\s+el | volveré\s+el
      | retorno\s+(?:em|no\s+dia|a)? | de\s+volta\s+(?:em|a)
      | rientro\s+(?:il|in\s+ufficio\s+il)? | di\s+ritorno\s+il
      | terug\s+op | weer\s+aanwezig\s+op
      | wracam | powrót | tillbaka(?:\s+den)?
    )\b"""
)
_UNTIL = re.compile(
    r"""(?ix)\b(?:
        until | till | through | thru | up\s+to\s+and\s+including
      | bis(?:\s+(?:einschließlich|einschl\.|zum|am))?
      | jusqu'(?:au|à)(?:\s+(?:mardi|lundi|mercredi|jeudi|vendredi|samedi|dimanche))?
      | hasta\s+el | hasta | até(?:\s+(?:dia|ao))? | fino\s+al | fino\s+a
      | tot\s+en\s+met | tot | do(?:\s+dnia)? | till\s+och\s+med | t\.o\.m\.
    )\b"""
)
# Japanese and Chinese put the marker after the date: "3月15日まで", "3月15日前".
_UNTIL_AFTER = re.compile(r"(?P<date>[0-9０-９年月日/.\s]{3,16})\s{0,4}(?:まで|前|为止|為止)")
_DATE_HINT = re.compile(
    r"[^\W\d_]{3,}|\d{1,4}[./-]\d{1,2}|\d{1,2}(?:st|nd|rd|th|\.)|[年月日]", re.I
)
# The meeting a request is about: "instead of Monday", "rather than Tuesday".
_INSTEAD_OF = re.compile(
    r"(?i)\b(?:instead\s+of|rather\s+than|statt|anstatt|anstelle\s+von|au\s+lieu\s+d[ue']"
    r"|plutôt\s+que|en\s+(?:lugar|vez)\s+del?|em\s+vez\s+d[eo]|em\s+lugar\s+d[eo]"
    r"|invece\s+d[ie]l?|in\s+plaats\s+van|istället\s+för|zamiast)\b"
)
# Every meeting from the next one on, not one meeting.
_SERIES = re.compile(
    r"""(?ix)
      \b(?:from\s+now\s+on|going\s+forward|from\s+then\s+on|permanently|for\s+good
      | (?:all|each|every)\s+(?:of\s+)?(?:our|the|my)?\s*
        (?:future|remaining|upcoming|next|other|later)\s+(?:meetings|sessions|calls|catch[- ]?ups)
      | (?:future|remaining|upcoming)\s+(?:meetings|sessions|calls)
      | (?:on|to|meet|switch\s+to|be\s+on)\s+(?:mon|tues|wednes|thurs|fri|satur|sun)days
      | (?:immer|jeden)\s+(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)s?
      | (?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)s\s+um
      | ab\s+(?:jetzt|sofort|nun)|künftig|zukünftig|in\s+zukunft
      | alle\s+(?:weiteren|künftigen|kommenden)
      | désormais|dorénavant|à\s+partir\s+de\s+maintenant
      | toutes\s+nos\s+(?:prochaines\s+)?(?:réunions|séances)
      | de\s+ahora\s+en\s+adelante|a\s+partir\s+de\s+ahora
      | todas\s+(?:las|nuestras)\s+(?:próximas\s+)?(?:reuniones|sesiones)
      | daqui\s+(?:para|pra)\s+(?:frente|diante)|a\s+partir\s+de\s+agora
      | todas\s+as\s+(?:próximas\s+)?reuniões
      | d'ora\s+in\s+poi|da\s+ora\s+in\s+poi|tutti\s+i\s+(?:prossimi\s+)?incontri
      | voortaan|vanaf\s+nu|alle\s+(?:volgende|toekomstige)\s+(?:afspraken|sessies)
      | från\s+och\s+med\s+nu|framöver
      )\b
    | 今後|これから|以后|今后|以後"""
)
# Words that may begin a day ("Monday", "15 March", "next week", "the 15th"), to look for
# the meeting a request is about without reading every word with dateparser.
_DAY_WORD = re.compile(
    r"""(?ix)
      \b(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?s?\b
    | \b(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi
      |jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo
      |segunda|terça|quarta|quinta|sexta|lunedì|martedì|mercoledì|giovedì|venerdì|sabato
      |maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|måndag|tisdag|onsdag
      |torsdag|fredag|lördag|söndag|poniedziałek|wtorek|środa|środę|czwartek|piątek|sobota|sobotę
      |niedziela|niedzielę)\b
    | \b(?:today|tomorrow|heute|morgen|demain|mañana|amanhã|domani|morgen)\b
    | \b(?:next|this|nächste[nr]?|diese[nr]?)\s+(?:week|woche)
    | \b\d{1,2}(?:st|nd|rd|th|\.)?\s+(?:of\s+)?[^\W\d_]{3,}
    | \b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b
    | \bthe\s+\d{1,2}(?:st|nd|rd|th)\b | \b\d{1,2}[./]\d{1,2}\b
    | [月火水木金土日]曜日? | 星期[一二三四五六日天] | 周[一二三四五六日]"""
)
_WEEK_WORD = re.compile(r"(?i)week|woche|semaine|semana|settimana|vecka|tydzie|週|周")
# "Thursdays", "donnerstags": the weekday, every week
_PLURAL_DAY = re.compile(
    r"(?i)\b((?:mon|tues|wednes|thurs|fri|satur|sun)day|montag|dienstag|mittwoch|donnerstag"
    r"|freitag|samstag|sonntag|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag)s\b"
)
_MAX_DAY_WORDS = 4  # day words tried when looking for the meeting a request is about
_WORDS = 5
# Bounds on the work for one text, whatever its length: dateparser costs milliseconds a call.
_MAX_WORD = 30  # characters: a longer word is no day, and the words after it are not read
_MAX_CLAUSE = 300  # characters read after a target word or marker
_MAX_TARGETS = 6  # target words tried, the last ones first
_MAX_MARKERS = 12  # "back"/"until" phrases tried, in text order
_MAX_AWAY_TEXT = 4_000  # characters of an auto-reply searched for its return date
_DAY_MONTH = re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.?")


@dataclass(frozen=True)
class Proposal:
    """A new meeting time asked for: a day, a time of day, or both."""

    day: date | None
    at: time | None
    same_time: bool  # "same time": keep the meeting's time of day
    text: str  # the words understood, for the coordinator
    weekday_only: bool = False  # the day was a bare weekday ("Friday"), not a date or "tomorrow"
    # The meeting the request is about, when the sentence names it ("can't make it on Monday"):
    original: date | None = None
    original_weekday_only: bool = False  # "Monday": the next meeting on a Monday
    original_week: bool = False  # "next week's session": the meeting in that week
    series: bool = False  # every meeting from the next one on ("from now on")

    def resolve(self, tz: ZoneInfo, meeting_time: time | None) -> datetime | None:
        """The proposed start, when both a day and a time are known."""
        at = self.at or (meeting_time if self.same_time or self.at is None else None)
        if self.day is None or at is None:
            return None
        return datetime.combine(self.day, at, tz)

    def describe(self) -> str:
        day = f"{self.day:%A %d %B %Y}" if self.day else "the same day"
        if self.series:
            day = f"{self.day:%A}s" if self.day else "the same days"
        at = f"{self.at:%H:%M}" if self.at else "the same time"
        text = f"{day}, {at}"
        if self.original:
            text += f", instead of the meeting of {self.original:%A %d %B}"
        return text + (", every meeting from the next one" if self.series else "")


def proposed_time(sentence: str, now: datetime, tz: ZoneInfo) -> Proposal | None:
    """The new time a reschedule request asks for, or None when it names none.

    The new day follows the last word that introduces one ("to", "do", "how about");
    a day named before it, or after "instead of", is the meeting being moved.
    """
    sentence = sentence[: _MAX_CLAUSE * 2]
    series = bool(_SERIES.search(sentence))
    sentence = _PLURAL_DAY.sub(r"\1", sentence)  # "Thursdays" is read as "Thursday"
    local_now = now.astimezone(tz).replace(tzinfo=None)
    instead_of = _INSTEAD_OF.search(sentence)
    named = ""
    if instead_of:  # "Wednesday instead of Monday": Monday is the meeting being moved
        named = sentence[instead_of.end() :]
        sentence = sentence[: instead_of.start()]
    at, rest = _time_of_day(sentence)
    same = bool(_SAME_TIME.search(sentence))
    found = _named_day(named, local_now) if named else None
    for start in _candidate_starts(rest):
        day, words = _first_day(rest[start:], local_now, scan=bool(start))
        if day:
            if found is None and start:
                found = _named_day(_before_target(rest, start), local_now)
            return Proposal(
                day,
                at,
                same,
                _phrase(words, at, same),
                _names_a_weekday(words, day, local_now),
                *(found.about() if found else (None, False, False)),
                series=series,
            )
    if not (at or same):
        return None
    if found is None and (alone := _named_day(rest, local_now)):
        # no word introduces the new day: the day named is the new one ("los jueves a las 18:00")
        text = _phrase(alone.words, at, same)
        return Proposal(alone.day, at, same, text, alone.weekday_only, series=series)
    about = found.about() if found else (None, False, False)
    return Proposal(None, at, same, _phrase("", at, same), False, *about, series=series)


@dataclass(frozen=True)
class _Named:
    """A day named in a request, and the words that name it."""

    day: date
    weekday_only: bool  # "Monday"
    week: bool  # "next week"
    words: str

    def about(self) -> tuple[date, bool, bool]:
        """As the meeting a request is about (`Proposal.original` and its flags)."""
        return self.day, self.weekday_only, self.week


def _before_target(text: str, start: int) -> str:
    """The text before the target word that ends at `start`."""
    word = re.search(r"(?:\w+|\W)$", text[:start])
    return text[: word.start()] if word else text[:start]


def _named_day(text: str, local_now: datetime) -> _Named | None:
    """The first day named in `text` (of its first few day words)."""
    for m in itertools.islice(_DAY_WORD.finditer(text), _MAX_DAY_WORDS):
        day, words = _first_day(text[m.start() :], local_now)
        if day:
            week = bool(_WEEK_WORD.search(words))
            return _Named(day, not week and _names_a_weekday(words, day, local_now), week, words)
    return None


def return_date(text: str, now: datetime, tz: ZoneInfo) -> date | None:
    """The day an out-of-office writer is back, or None when the text does not say.

    The first phrase in the text that names a day in the next `MAX_AWAY` wins.
    Only the start of the text is read, and only its first few phrases: the
    notice says when its writer is back before any quoted message below it.
    """
    text = text[:_MAX_AWAY_TEXT]
    local_now = now.astimezone(tz).replace(tzinfo=None)
    markers = [(m.start(), m.end(), 0, False) for m in _BACK.finditer(text)]
    markers += [(m.start(), m.end(), 1, False) for m in _UNTIL.finditer(text)]
    markers += [(m.start("date"), m.end("date"), 1, True) for m in _UNTIL_AFTER.finditer(text)]
    for start, end, extra_day, before in sorted(markers)[:_MAX_MARKERS]:
        if before:  # the date is the marker's own text ("3月15日まで")
            day = _parse_day(text[start:end].strip(), local_now)
        else:
            day = _first_day(text[end:], local_now)[0]
        if day:
            day += timedelta(days=extra_day)
            if local_now.date() < day <= local_now.date() + MAX_AWAY:
                return day
    return None


# ---- helpers


def _time_of_day(text: str) -> tuple[time | None, str]:
    """The first time of day in the text, and the text without it."""
    m = _TIME.search(text)
    if not m:
        return None, text
    g = m.groupdict()
    if g["noon"]:
        at = time(12, 0)
    else:
        hour = int(g["h1"] or g["h2"] or g["h3"] or g["h4"])
        minute = int(g["m1"] or g["m2"] or g["m4"] or 0)
        ampm = (g["ampm"] or "").lower().replace(".", "")
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        if hour > 23 or minute > 59:
            return None, text
        at = time(hour, minute)
    return at, text[: m.start()] + " " + text[m.end() :]


def _candidate_starts(text: str) -> list[int]:
    """Where the new day may start: after each of the last target words, the last first,
    then anywhere."""
    return [m.end() for m in list(_TARGET.finditer(text))[::-1][:_MAX_TARGETS]] + [0]


def _first_day(text: str, local_now: datetime, *, scan: bool = False) -> tuple[date | None, str]:
    """The longest run of up to five leading words that reads as a day; with `scan`, else
    the first day word a few words on ("plutôt se voir jeudi")."""
    clause = re.split(r"[.?!;](?:\s|$)|\n", text[:_MAX_CLAUSE], maxsplit=1)[0]
    words = []
    for word in _FILLER.sub(" ", clause).split()[:_WORDS]:
        if len(word) > _MAX_WORD:
            break
        words.append(re.sub(r"'s$", "", word.strip(",:()")))
    for n in range(len(words), 0, -1):
        phrase = " ".join(words[:n])
        day = _parse_day(phrase, local_now)
        if day:
            return day, phrase
    later = _DAY_WORD.search(" ".join(words[1:])) if scan else None
    if later:
        rest = " ".join(words[1:])[later.start() :].split()
        for n in range(len(rest), 0, -1):
            phrase = " ".join(rest[:n])
            day = _parse_day(phrase, local_now)
            if day:
                return day, phrase
    return None, ""


def _parse_day(phrase: str, local_now: datetime) -> date | None:
    if not phrase or not _DATE_HINT.search(phrase):
        return None
    day_month = _DAY_MONTH.fullmatch(phrase)
    if day_month:  # "22.03." is a date in every language that writes it; dateparser reads 22:03
        return _next_day_month(int(day_month["d"]), int(day_month["m"]), local_now.date())
    import dateparser  # heavy: loaded only when a date has to be read

    settings: dict[str, Any] = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": local_now,
        "PREFER_DAY_OF_MONTH": "first",
        "STRICT_PARSING": False,
    }
    try:
        parsed = dateparser.parse(phrase, languages=LANGUAGES, settings=settings)
    except (ValueError, OverflowError, TypeError):  # dateparser's own bugs on odd input
        return None
    if parsed is None or parsed.date() < local_now.date():
        return None
    return parsed.date()


def _names_a_weekday(phrase: str, day: date, local_now: datetime) -> bool:
    """Whether `phrase` is a bare weekday: read three days later, it still gives that weekday.

    "Friday" passes; "tomorrow", "next week" and dates do not. Which week a bare
    weekday means is then up to the caller (the week of the meeting being moved).
    """
    if any(ch.isdigit() for ch in phrase):
        return False
    later = _parse_day(phrase, local_now + timedelta(days=3))
    return later is not None and later.weekday() == day.weekday()


def _next_day_month(day: int, month: int, today: date) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if found >= today:
            return found
    return None


def _phrase(day_words: str, at: time | None, same: bool) -> str:
    parts = [" ".join(day_words.split())] if day_words.strip() else []
    if at:
        parts.append(f"{at:%H:%M}")
    elif same:
        parts.append("same time")
    return " ".join(parts)
