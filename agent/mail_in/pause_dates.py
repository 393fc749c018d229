"""The day a pause asked for by email ends: "for three weeks", "until 19 March", "after my
exams on 19 March", "bis zum 19.03.", or None when the reply names no end (an open-ended
pause, checked on later by email).

"Until 19 March" is read as the writer does: 19 March is still inside the pause, the
mentoring resumes on the 20th (as `agent.meetings.when.return_date` reads an
out-of-office notice). A span ("for three weeks") runs from the day of the reply.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent.meetings.when import return_date

__all__ = ["pause_end"]

_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "a couple of": 2,
    "a few": 3,
    "einen": 1,
    "eine": 1,
    "einem": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fünf": 5,
    "sechs": 6,
    "ein paar": 3,
}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "tag": 1, "woche": 7, "monat": 30}
_COUNT = r"(?P<n>\d{1,2}|" + "|".join(sorted(map(re.escape, _NUMBERS), key=len, reverse=True))
_SPAN = re.compile(
    rf"\b(?:for|für|fuer)\s+(?:the\s+next\s+|die\s+nächsten\s+)?{_COUNT})\s+"
    r"(?P<unit>day|week|month|tag|woche|monat)(?:s|e|en|n)?\b",
    re.IGNORECASE,
)
# "after my exams on 19 March", "nach meinen Prüfungen am 19.03.": back the day after
_AFTER = re.compile(r"\b(?:after|nach)\b[^.?!\n]{0,40}?\b(?:on|am)\s+", re.IGNORECASE)
_BIS = re.compile(r"\bbis\s+(?:zum|zur|einschließlich)\s+", re.IGNORECASE)
_LONGEST = timedelta(days=183)  # a longer "pause" is a matter for the coordinator


def pause_end(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Midnight (in `tz`) of the day the pause asked for in `text` ends, or None."""
    day = _span_end(text, now, tz) or return_date(_normalised(text), now, tz)
    if day is None:
        return None
    end = datetime.combine(day, time(0), tz)
    return end if now < end <= now + _LONGEST else None


def _span_end(text: str, now: datetime, tz: ZoneInfo) -> date | None:
    m = _SPAN.search(text)
    if not m:
        return None
    count = m["n"].lower()
    n = int(count) if count.isdigit() else _NUMBERS[count]
    return now.astimezone(tz).date() + timedelta(days=n * _UNIT_DAYS[m["unit"].lower()])


def _normalised(text: str) -> str:
    return _BIS.sub("bis ", _AFTER.sub("until ", text))
