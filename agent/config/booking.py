"""The slot search a booking runs: one function for the planner and for `validate`.

A pair booked at `booked_at` gets a weekly series whose first meeting is no sooner than
`cadence.meetings.min_notice` after the booking and not before the program starts, and
whose last meeting ends before the program closes (09:00 on the end day, less
`cadence.closure.before_end`), inside both people's hours through every DST change.
The planner books with `search_meetings`; `validate` (`agent.config.preflight`) asks it
the same question for the earliest booking there can be, so the two cannot disagree
about a pair's hours, cadence, notice or program dates.

Here rather than in `agent.pairs` so that `validate` runs it without loading the planner
(tests/test_lazy_imports.py). Pure: the config and the booking moment in, a search out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from agent.config.model import Config
from agent.meetings.slots import Availability, SlotSearch, find_series

CLOSURE_TIME = time(9, 0)  # pairs close at this hour of the end day, in the program's zone


@dataclass(frozen=True)
class ProgramTimes:
    """The program's key moments, as aware datetimes in the program's zone."""

    opens: datetime  # onboarding starts: welcomes (and so the first agreements) go out
    starts: datetime  # no meeting before this
    closing: datetime  # pairs close from here; every series ends before it


def program_times(cfg: Config) -> ProgramTimes:
    zone = cfg.program.timezone
    starts = datetime.combine(cfg.program.start, time(0), zone)
    closing = datetime.combine(cfg.program.end, CLOSURE_TIME, zone) - (
        cfg.cadence.closure.before_end or timedelta()
    )
    return ProgramTimes(starts - cfg.cadence.onboarding.before_start, starts, closing)


def first_meeting_from(cfg: Config, booked_at: datetime) -> datetime:
    """The earliest a first meeting may start when the pair is booked at `booked_at`."""
    return max(program_times(cfg).starts, booked_at + cfg.cadence.meetings.min_notice)


def search_meetings(
    cfg: Config,
    people: Sequence[Availability],
    booked_at: datetime,
    *,
    busy: Sequence[tuple[datetime, datetime]] = (),
    count: int = 1,
) -> SlotSearch:
    """The series the slot finder proposes for `people` (mentor, mentee) booked at
    `booked_at`, best first.

    A series is anchored in one person's zone (the mentor's, then the mentee's), never in
    the program's zone when neither lives there: then both clocks would move at the DST
    changes. A time that keeps both clocks steady, where there is one, ranks first
    (agent.meetings.slots)."""
    meetings = cfg.cadence.meetings
    return find_series(
        people,
        earliest=first_meeting_from(cfg, booked_at),
        until=program_times(cfg).closing,
        every_weeks=meetings.every.days // 7,
        duration=meetings.duration,
        preferred_days=meetings.preferred_days,
        busy=busy,
        anchors=list(dict.fromkeys(p.tz for p in people)),
        count=count,
    )
