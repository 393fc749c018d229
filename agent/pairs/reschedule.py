"""Moving or skipping meetings of a series when a participant asks. Pure.

A request comes as words ("can we move Thursday to Friday 3pm?", read into a
`Proposal` in the writer's zone) or as a calendar COUNTER with a proposed
start. The meeting moved is the one the request names ("I can't make it on
Monday, ... instead": Monday's), else the next one; a request about every
meeting ("from now on", "all our future meetings") changes the series from
its next meeting on (`change_series`). The agent acts on it only when the new
time is unambiguous and fits: inside both people's working hours on their own
clocks (for a series: every meeting of it, across both sides' DST changes),
after `now`, before the program closes, and not on top of another meeting of
the pair. Anything else goes to the coordinator with the reason, so nobody
gets an invitation for a time that does not work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent.config.model import Config, Pair, Participant
from agent.mail_in.message import ROLES, Intent, Role
from agent.meetings.timefmt import format_hours
from agent.meetings.when import Proposal
from agent.pairs.planner import series_uid
from agent.pairs.program import (
    Change,
    Moved,
    PairState,
    Recadenced,
    Series,
    Skipped,
    original_key,
    recadence,
)

MIN_NOTICE = timedelta(hours=1)  # a meeting is not moved to a time this close
_WEEK = re.compile(r"(?i)week|woche|semaine|semana|settimana|vecka|tydzie|週|周")


@dataclass(frozen=True)
class Decision:
    """What to do with a request: an event to apply, or the reason a person must decide."""

    event: Moved | Skipped | Recadenced | None = None
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
    """A reschedule request in words: the meeting it names (else the next one) moves to the
    proposed time. A bare weekday ("Thursday instead") is that weekday of the meeting's week;
    without a time ("same time", or only a day) the meeting keeps its time of day."""
    upcoming = _upcoming(series, now)
    if isinstance(upcoming, str):
        return Decision(reason=upcoming)
    if proposal is None:
        return Decision(reason="no new time was named")
    named = _named(upcoming, proposal, tz)
    if isinstance(named, str):
        return Decision(reason=named)
    original, current = named
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


def change_series(
    cfg: Config,
    pair: Pair,
    state: PairState,
    proposal: Proposal,
    *,
    by: Role,
    tz: ZoneInfo,
    now: datetime,
    closing: datetime,
) -> Decision:
    """Every meeting from the next one on moves to the proposed weekday and/or time.

    A time named is on the writer's clock, so the new series keeps that wall-clock time
    in the writer's zone; "same time" keeps the series' own zone and time. The new series
    is checked meeting by meeting against both people's hours (as the slot finder does),
    so a time that fits today but not after one side's clocks change is refused, with the
    first meeting that would not fit. The change is a `Recadenced` split (the meetings so
    far stay as they were), and both get the updated invitations.
    """
    series = state.series
    upcoming = _upcoming(series, now + MIN_NOTICE)
    if isinstance(upcoming, str):
        return Decision(reason=upcoming)
    assert series is not None
    if proposal.day is None and proposal.at is None:
        return Decision(reason=f"no new day or time could be read from {proposal.text!r}")
    zone = tz if proposal.at else ZoneInfo(series.tz)
    nxt = upcoming[0][0].astimezone(zone)
    day = nxt.date()
    if proposal.day and proposal.weekday_only:
        day += timedelta(days=proposal.day.weekday() - nxt.weekday())
    elif proposal.day:
        day = proposal.day
    first = datetime.combine(day, proposal.at or nxt.time(), zone)
    while first < now + MIN_NOTICE:
        first += timedelta(weeks=series.interval_weeks)
    when = f"{first:%A}s at {first:%H:%M} ({zone})"
    if first + series.duration > closing:
        return Decision(reason=f"{when} from {first:%d %B} is after the program closes")
    # split at the next meeting, so that it is the first to follow the new schedule
    ended, current = recadence(
        series,
        interval_weeks=series.interval_weeks,
        duration_minutes=series.duration_minutes,
        first_start=min(first, upcoming[0][0]),
        new_uid=series_uid(cfg, pair, state.uids + 1),
        at=now,
        tz=str(zone),
    )
    # the old schedule's moved and skipped meetings lapse with it
    current = current.model_copy(update={"first_start": first, "moved": {}, "skipped": []})
    if not current.meetings():
        return Decision(reason=f"{when}: no meeting of the new series is before the end")
    starts = [start for _, start in current.meetings()]
    if starts == [start for _, start in series.meetings() if start >= starts[0]]:
        return Decision(reason=f"{when} is the meetings' current time")
    for _, start in current.meetings():
        for role in ROLES:
            person = cfg.participant(getattr(pair, role))
            if not _within_hours(person, start, start + current.duration):
                hours = f"{format_hours(person.hours)}, {person.timezone}"
                local = start.astimezone(person.timezone)
                return Decision(
                    reason=f"{when}: the meeting of {start.astimezone(zone):%A %d %B} would be "
                    f"at {local:%H:%M} for {person.first_name}, outside their hours ({hours})"
                )
    current = current.model_copy(
        update={"change": Change(original=current.first_start, what="cadence", by=by)}
    )
    if ended is not None and ended.change is not None:
        ended = ended.model_copy(update={"change": ended.change.model_copy(update={"by": by})})
    return Decision(Recadenced(ended, current))


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


def about_skipped(proposal: Proposal | None, skip: Intent | None) -> Proposal | None:
    """A request with the day it cannot make in a sentence of its own ("I can't make it on
    Monday. Can we do Wednesday instead?"): the skipped day names the meeting that moves."""
    if proposal is None or proposal.original or skip is None or skip.when is None:
        return proposal
    day = skip.when
    if day.day is None:
        return proposal
    week = bool(_WEEK.search(day.text))
    return replace(
        proposal,
        original=day.day,
        original_weekday_only=day.weekday_only and not week,
        original_week=week,
    )


def _named(
    upcoming: list[tuple[datetime, datetime]], proposal: Proposal, tz: ZoneInfo
) -> tuple[datetime, datetime] | str:
    """The meeting a request is about: the one on the day it names, else the next one."""
    day = proposal.original
    if day is None:
        return upcoming[0]
    local = [(o, s, s.astimezone(tz).date()) for o, s in upcoming]
    if proposal.original_week:
        week = [(o, s) for o, s, d in local if _week(d) == _week(day)]
        if len(week) == 1:
            return week[0]
        return f"there is no single meeting in the week of {day:%d %B} to move"
    if proposal.original_weekday_only:
        same = [(o, s) for o, s, d in local if d.weekday() == day.weekday()]
        if same:
            return same[0]
    else:
        on_day = [(o, s) for o, s, d in local if d == day]
        if on_day:
            return on_day[0]
    return f"there is no meeting on {day:%A %d %B} to move"


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
    # on the asker's clock, with their zone's name (a calendar's own VTIMEZONE has none)
    zone = cfg.participant(getattr(pair, by)).timezone
    local = new_start.astimezone(zone)
    when = f"{local:%A} {local.day} {local:%B %H:%M} ({zone.key})"
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
