"""Moving or skipping one meeting of a series when a participant asks. Pure.

A request comes as words ("can we move Thursday to Friday 3pm?", read into a
`Proposal` in the writer's zone) or as a calendar COUNTER with a proposed
start. The agent acts on it only when the new time is unambiguous and fits:
inside both people's working hours on their own clocks, after `now`, before
the program closes, and not on top of another meeting of the pair. Anything
else goes to the coordinator with the reason, so nobody gets an invitation
for a time that does not work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent.config import Config, Pair, Participant
from agent.model import ROLES, Role
from agent.program import Moved, Series, Skipped, original_key
from agent.timefmt import format_hours
from agent.when import Proposal

MIN_NOTICE = timedelta(hours=1)  # a meeting is not moved to a time this close
_WEEK = re.compile(r"(?i)week|woche|semaine|semana|settimana|vecka|tydzie|週|周")


@dataclass(frozen=True)
class Decision:
    """What to do with a request: an event to apply, or the reason a person must decide."""

    event: Moved | Skipped | None = None
    reason: str | None = None


def move(
    cfg: Config,
    pair: Pair,
    series: Series | None,
    proposal: Proposal | None,
    *,
    by: Role,
    tz: ZoneInfo,
    now: datetime,
    closing: datetime,
) -> Decision:
    """A reschedule request in words: the next meeting moves to the proposed time."""
    upcoming = _upcoming(series, now)
    if isinstance(upcoming, str):
        return Decision(reason=upcoming)
    if proposal is None:
        return Decision(reason="no new time was named")
    original, current = upcoming[0]
    local = current.astimezone(tz)
    day = proposal.day or local.date()
    if proposal.weekday_only and proposal.day:
        # "move Tuesday's meeting to Thursday": the Thursday of that meeting's week
        same_week = local.date() + timedelta(days=proposal.day.weekday() - local.weekday())
        day = same_week if same_week >= now.astimezone(tz).date() else proposal.day
    at = proposal.at or (local.time() if proposal.same_time or proposal.day else None)
    if at is None:
        return Decision(reason=f"no day or time could be read from {proposal.text!r}")
    new_start = datetime.combine(day, at, tz)
    return _checked(cfg, pair, series, original, new_start, by, now, closing)


def counter(
    cfg: Config,
    pair: Pair,
    series: Series | None,
    recurrence_id: datetime | None,
    proposed: datetime | None,
    *,
    by: Role,
    now: datetime,
    closing: datetime,
) -> Decision:
    """A calendar COUNTER (RFC 5546 3.2.7): the meeting it names (or the next one) moves."""
    upcoming = _upcoming(series, now)
    if isinstance(upcoming, str):
        return Decision(reason=upcoming)
    if proposed is None:
        return Decision(reason="the counter-proposal carries no start time")
    original = upcoming[0][0]
    if recurrence_id is not None:
        named = [o for o, _ in upcoming if original_key(o) == original_key(recurrence_id)]
        if not named:
            return Decision(reason="the counter-proposal is for a meeting that is not ahead")
        original = named[0]
    return _checked(cfg, pair, series, original, proposed, by, now, closing)


def skip(
    series: Series | None, proposal: Proposal | None, *, by: Role, tz: ZoneInfo, now: datetime
) -> Decision:
    """A skip request: the meeting on the named day, else the next one, is cancelled."""
    upcoming = _upcoming(series, now)
    if isinstance(upcoming, str):
        return Decision(reason=upcoming)
    if proposal is not None and proposal.day is not None:
        day = proposal.day
        on_day = [o for o, start in upcoming if start.astimezone(tz).date() == day]
        # "skip next week": the one meeting in that week
        week = [o for o, start in upcoming if _week(start.astimezone(tz).date()) == _week(day)]
        names_week = bool(_WEEK.search(proposal.text))
        chosen = on_day or (week if names_week and len(week) == 1 else [])
        if not chosen:
            return Decision(reason=f"there is no meeting on {day:%A %d %B}")
        return Decision(Skipped(chosen[0], by))
    return Decision(Skipped(upcoming[0][0], by))


def _week(day: date) -> tuple[int, int]:
    year, week, _ = day.isocalendar()
    return year, week


def _upcoming(series: Series | None, now: datetime) -> list[tuple[datetime, datetime]] | str:
    if series is None or series.status != "confirmed":
        return "the pair has no meeting series yet"
    upcoming = series.upcoming(now)
    return upcoming or "no meeting of the series is ahead"


def _checked(
    cfg: Config,
    pair: Pair,
    series: Series | None,
    original: datetime,
    new_start: datetime,
    by: Role,
    now: datetime,
    closing: datetime,
) -> Decision:
    assert series is not None
    end = new_start + series.duration
    when = f"{new_start:%A %d %B %H:%M} ({new_start.tzinfo})"
    if new_start < now + MIN_NOTICE:
        return Decision(reason=f"{when} is in the past or too soon")
    if end > closing:
        return Decision(reason=f"{when} is after the program closes")
    for role in ROLES:
        person = cfg.participant(getattr(pair, role))
        if not _within_hours(person, new_start, end):
            hours = f"{format_hours(person.hours)}, {person.timezone}"
            return Decision(reason=f"{when} is outside {person.first_name}'s hours ({hours})")
    for other_original, start in series.meetings():
        if original_key(other_original) == original_key(original):
            continue
        if start < end and new_start < start + series.duration:
            return Decision(reason=f"{when} overlaps the meeting on {start:%A %d %B}")
    if new_start == original:
        return Decision(reason=f"{when} is the meeting's current time")
    return Decision(Moved(original, new_start, by))


def _within_hours(person: Participant, start: datetime, end: datetime) -> bool:
    """The whole meeting inside the person's window of that weekday, on their own clock."""
    local_start, local_end = start.astimezone(person.timezone), end.astimezone(person.timezone)
    window = person.hours.get(local_start.weekday())
    if window is None or local_end.date() != local_start.date():
        return False
    opens, closes = window
    close_time = time(23, 59, 59) if closes == time(23, 59) else closes
    return opens <= local_start.time() and local_end.time() <= close_time
