"""Dates, times, weekdays, durations and lists in a recipient's language, on their clock.

Babel (the CLDR data) does the wording: "Dienstag, 16. März, 15:00 (Berlin)",
"terça-feira, 16 de março, 11:00 (São Paulo)", "3月16日火曜日 23:00（東京）". The few
phrases CLDR has no pattern for (how often a meeting repeats, how far a partner's
clock is ahead) are the small tables below, one row per shipped language.

English keeps the wording of `agent.meetings.timefmt` ("Tuesday 2 March 2027 at
09:00"), which the English templates and their readers already know; every other
language gets CLDR's. Pure: every function takes the moment and the zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_interval, get_timezone_location, match_skeleton
from babel.dates import format_time as babel_time
from babel.dates import format_timedelta as babel_timedelta
from babel.lists import format_list
from markupsafe import escape

from agent.meetings import timefmt
from agent.meetings.slots import SeriesSlot

__all__ = [
    "Worded",
    "at_local",
    "describe",
    "every_text",
    "format_hours",
    "join",
    "language_chain",
    "local_time",
    "locale_for",
    "long_date",
    "minutes",
    "offset_text",
    "weekday",
    "wording_in",
    "zone_label",
]

_DASH = "–"

# How often: (every week, every n weeks, every n days) with {n}.
_EVERY: dict[str, tuple[str, str, str]] = {
    "de": ("jede Woche", "alle {n} Wochen", "alle {n} Tage"),
    "fr": ("chaque semaine", "toutes les {n} semaines", "tous les {n} jours"),
    "es": ("cada semana", "cada {n} semanas", "cada {n} días"),
    "pt": ("toda semana", "a cada {n} semanas", "a cada {n} dias"),
    "it": ("ogni settimana", "ogni {n} settimane", "ogni {n} giorni"),
    "nl": ("elke week", "elke {n} weken", "elke {n} dagen"),
    "pl": ("co tydzień", "co {n} tygodnie", "co {n} dni"),
    "ja": ("毎週", "{n}週間ごと", "{n}日ごと"),
    "zh": ("每周", "每{n}周", "每{n}天"),
    "ar": ("كل أسبوع", "كل {n} أسابيع", "كل {n} أيام"),
}
# A partner's clock: (ahead of you, behind you, the same as yours) with {d} a duration.
_OFFSET: dict[str, tuple[str, str, str]] = {
    "de": (
        "{d} weiter als bei Ihnen",
        "{d} früher als bei Ihnen",
        "dieselbe Uhrzeit wie bei Ihnen",
    ),
    "fr": ("{d} d’avance sur vous", "{d} de retard sur vous", "la même heure que vous"),
    "es": ("{d} por delante de usted", "{d} por detrás de usted", "la misma hora que usted"),
    "pt": ("{d} à sua frente", "{d} atrás de você", "o mesmo horário que você"),
    "it": ("{d} avanti rispetto a Lei", "{d} indietro rispetto a Lei", "la stessa ora Sua"),
    "nl": ("{d} later dan bij u", "{d} vroeger dan bij u", "dezelfde tijd als bij u"),
    "pl": ("{d} później niż u Pana/Pani", "{d} wcześniej niż u Pana/Pani", "ta sama godzina"),
    "ja": ("ご自身の時刻より{d}進んでいます", "ご自身の時刻より{d}遅れています", "同じ時刻です"),
    "zh": ("比您早{d}", "比您晚{d}", "与您时间相同"),
    "ar": ("متقدم عنك بـ{d}", "متأخر عنك بـ{d}", "نفس توقيتك"),
}
# A meeting series: {every} {weekday} {span} ({zone}) — the weekday in CLDR's wide form.
_SERIES: dict[str, str] = {
    "de": "{every} {weekday}s, {span} ({zone})",  # "jede Woche dienstags"
    "fr": "{every}, le {weekday}, {span} ({zone})",
    "es": "{every}, los {weekday}, {span} ({zone})",
    "pt": "{weekday}, {every}, {span} ({zone})",
    "it": "{every}, il {weekday}, {span} ({zone})",
    "nl": "{every} op {weekday}, {span} ({zone})",
    "pl": "{every}, {weekday}, {span} ({zone})",
    "ja": "{every}{weekday} {span}（{zone}）",
    "zh": "{every}{weekday} {span}（{zone}）",
    "ar": "{every}، يوم {weekday}، {span} ({zone})",
}


def language_chain(tag: str | None, default: str) -> list[str]:
    """The languages to try for a person, best first: their tag, its shorter forms
    (`pt-BR` -> `pt`; `zh` -> `zh-Hans`, the script CLDR expects), then the program's
    default and its shorter forms, then `en`. No duplicates."""
    chain: list[str] = []
    for one in (tag, default, "en"):
        if not one:
            continue
        parts = one.split("-")
        for n in range(len(parts), 0, -1):
            candidate = "-".join(parts[:n])
            if candidate not in chain:
                chain.append(candidate)
        if parts[0] == "zh" and not any(len(p) == 4 for p in parts[1:]):
            script = "zh-Hant" if len(parts) > 1 and parts[1] in ("TW", "HK", "MO") else "zh-Hans"
            if script not in chain:
                chain.insert(chain.index("zh"), script)
    return chain


@lru_cache(maxsize=64)
def locale_for(tag: str) -> Locale:
    """The Babel locale of a BCP 47 tag; `en` for a tag CLDR does not know."""
    try:
        return Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def _english(tag: str) -> bool:
    return tag.split("-")[0] == "en"


def _table(tag: str) -> str:
    return tag.split("-")[0]


@lru_cache(maxsize=256)
def _wide_pattern(tag: str, skeleton: str) -> str:
    """CLDR's pattern for a skeleton, with the weekday in its wide form ("Dienstag")."""
    loc = locale_for(tag)
    best = match_skeleton(skeleton, loc.datetime_skeletons) or "yMMMd"
    pattern = str(loc.datetime_skeletons[best].pattern)
    return re.sub(r"(?<!E)E{1,3}(?!E)", "EEEE", pattern)


def long_date(value: date | datetime, tag: str, *, year: bool = True) -> str:
    """'Dienstag, 16. März 2027' (value shown as it is: convert to the zone first)."""
    if _english(tag):
        if not isinstance(value, datetime):
            value = datetime.combine(value, time(12))
        return timefmt.long_date(value)
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(12))
    pattern = _wide_pattern(tag, "yMMMMEEEEd" if year else "MMMMEEEEd")
    return format_datetime(value, pattern, locale=locale_for(tag))


def local_time(value: datetime | time, tag: str) -> str:
    """'15:00' ('3:00 م' in Arabic): the locale's short time."""
    if _english(tag):
        return f"{value.hour:02d}:{value.minute:02d}"
    return babel_time(value, "short", locale=locale_for(tag))


def weekday(value: date, tag: str) -> str:
    """'Dienstag', '火曜日'."""
    if _english(tag):
        return timefmt.DAY_TITLES[value.weekday()]
    return locale_for(tag).days["format"]["wide"][value.weekday()]


def zone_label(zone: ZoneInfo, tag: str) -> str:
    """The zone's city in the language: 'Berlin', 'São Paulo', '東京'."""
    if _english(tag):
        return str(zone)
    return str(get_timezone_location(zone, locale=locale_for(tag), return_city=True))


def at_local(moment: datetime, zone: ZoneInfo, tag: str) -> str:
    """'Dienstag, 16. März 2027, 15:00 (Berlin)': `moment` on the clock of `zone`."""
    local = moment.astimezone(zone)
    if _english(tag):
        return timefmt.at_local(moment, zone)
    pattern = str(locale_for(tag).datetime_formats["medium"])
    if pattern == "{1} {0}" and _table(tag) not in ("ja", "zh"):
        pattern = "{1}, {0}"  # pt: "terça-feira, 16 de março de 2027, 11:00"
    joined = pattern.format(local_time(local, tag), long_date(local, tag))
    wide = "（{}）" if _table(tag) in ("ja", "zh") else " ({})"
    return joined + wide.format(zone_label(zone, tag))


def minutes(duration: timedelta, tag: str) -> str:
    """'45 Minuten', '1 Stunde'."""
    if _english(tag):
        return f"{int(duration.total_seconds() // 60)} minutes"
    return babel_timedelta(duration, threshold=10, format="long", locale=locale_for(tag))


def every_text(interval: timedelta, tag: str) -> str:
    """'alle 2 Wochen', '毎週'."""
    row = _EVERY.get(_table(tag))
    if row is None or _english(tag):
        return timefmt.every_text(interval)
    if interval.seconds == 0 and interval.days % 7 == 0:
        n = interval.days // 7
        return row[0] if n == 1 else row[1].format(n=n)
    return row[2].format(n=max(1, interval.days))


def offset_text(other: ZoneInfo, mine: ZoneInfo, at: datetime, tag: str) -> str:
    """How far the other person's clock is from mine: '6 Stunden weiter als bei Ihnen'."""
    row = _OFFSET.get(_table(tag))
    if row is None or _english(tag):
        return timefmt.offset_text(other, mine, at)
    delta = (at.astimezone(other).utcoffset() or timedelta()) - (
        at.astimezone(mine).utcoffset() or timedelta()
    )
    if not delta:
        return row[2]
    hours, rest = divmod(int(abs(delta).total_seconds() // 60), 60)
    loc = locale_for(tag)
    amount = " ".join(
        babel_timedelta(timedelta(minutes=m), threshold=1, format="long", locale=loc)
        for m in (hours * 60, rest)
        if m
    )
    return (row[0] if delta > timedelta() else row[1]).format(d=amount)


def format_hours(hours: Mapping[int, tuple[time, time]], tag: str) -> str:
    """Working hours with the language's short weekday names: 'Mo.–Do. 09:00–17:00'."""
    if _english(tag):
        return timefmt.format_hours(hours)
    names = locale_for(tag).days["format"]["abbreviated"]
    runs: list[tuple[int, int, tuple[time, time]]] = []
    for day in sorted(hours):
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == hours[day]:
            runs[-1] = (runs[-1][0], day, hours[day])
        else:
            runs.append((day, day, hours[day]))
    parts = []
    for first, last, (start, end) in runs:
        days = names[first] if last == first else f"{names[first]}{_DASH}{names[last]}"
        parts.append(f"{days} {local_time(start, tag)}{_DASH}{local_time(end, tag)}")
    return "; ".join(parts)


def join(items: Iterable[str], tag: str) -> str:
    """A list in the language: 'Ana, Daniel und Priya'."""
    values = [str(i) for i in items]
    if not values:
        return ""
    if _english(tag):
        return format_list(values, style="standard", locale="en")
    return format_list(values, style="standard", locale=locale_for(tag))


def describe(slot: SeriesSlot, zone: ZoneInfo, tag: str) -> str:
    """A meeting series on the clock of `zone`: 'jede Woche Dienstag, 15:00–15:45 (Berlin)'.

    The usual weekday and time; meetings a clock change moves come after a ';' with
    their dates ('14:00–14:45: 15.–22. März').
    """
    if _english(tag) or _table(tag) not in _SERIES:
        return slot.describe(zone)
    starts = slot.occurrences()
    if not starts:
        return slot.describe(zone)
    keys: list[tuple[int, str]] = []
    days: list[datetime] = []
    for start in starts:
        local = start.astimezone(zone)
        end = (start.astimezone(UTC) + slot.duration).astimezone(zone)
        keys.append((local.weekday(), f"{local_time(local, tag)}{_DASH}{local_time(end, tag)}"))
        days.append(local)
    counts = {k: keys.count(k) for k in keys}
    usual = max(counts, key=lambda k: (counts[k], -keys.index(k)))
    every = every_text(timedelta(weeks=slot.interval_weeks), tag)
    loc = locale_for(tag)
    exceptions: list[str] = []
    i = 0
    while i < len(keys):
        if keys[i] == usual:
            i += 1
            continue
        j = i
        while j + 1 < len(keys) and keys[j + 1] == keys[i]:
            j += 1
        when = (
            format_datetime(days[i], "d MMM", locale=loc)
            if i == j
            else format_interval(days[i], days[j], "MMMd", locale=loc)
        )
        exceptions.append(f"{keys[i][1]}: {when}")
        i = j + 1
    label = zone_label(zone, tag)
    day = weekday(days[keys.index(usual)], tag)
    if exceptions:
        label = ("；" if _table(tag) in ("ja", "zh") else "; ").join([label, *exceptions])
    return _SERIES[_table(tag)].format(
        every=every,
        weekday=day.lower() if _table(tag) == "de" else day,
        span=usual[1],
        zone=label,
    )


# ---------------------------------------------------------------------------
# Values worded at render time

_rendering: ContextVar[str] = ContextVar("rendering_language", default="en")


class Worded:
    """A context value worded in the language the email is being rendered in.

    The context is built before the renderer knows which language's template it will
    use (the recipient's, or the program's default when that email is not translated);
    `Renderer.render` sets the language with `wording_in`, and every `Worded` in the
    context reads it when the template prints it. So an email never mixes a German
    date into an English sentence.
    """

    __slots__ = ("_word",)

    def __init__(self, word: Callable[[str], str]) -> None:
        self._word = word

    def __str__(self) -> str:
        return self._word(_rendering.get())

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __bool__(self) -> bool:
        return bool(str(self))

    def __eq__(self, other: object) -> bool:
        return str(self) == (str(other) if isinstance(other, Worded) else other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return f"Worded({str(self)!r})"


@contextmanager
def wording_in(tag: str) -> Iterator[None]:
    """Word every `Worded` value in `tag` while the block runs."""
    token = _rendering.set(tag)
    try:
        yield
    finally:
        _rendering.reset(token)


def rendering_language() -> str:
    """The language the email being rendered is written in (`wording_in`)."""
    return _rendering.get()


def is_english(tag: str) -> bool:
    return _english(tag)
