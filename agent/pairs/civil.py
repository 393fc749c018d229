"""Civil hours: when an email may go out to a person, and which reminder goes first.

Every email to a person waits for their send window on their own clock: their own
`send_window` (days and times), else `cadence.send_window` on the days of their working
`hours`. The coordinator's notices wait for `cadence.send_window` in the program's zone,
Monday to Friday (the coordinator has no zone of their own in the config). Answers to
someone's email (confirmations, acknowledgements, the coordinator's answers) are not
planned here and do not wait.

Reminders to one person are spaced by `cadence.spacing`: when several are due together,
the one first in `REMINDER_ORDER` goes and the others wait, so a check-in, a follow-up
and a nudge never land on the same day. Pure: `now` is a parameter.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent.config.model import Config, Participant
from agent.meetings.timefmt import WeeklyHours

WORKING_WEEK = range(5)  # the coordinator's days, and a person's whose hours name no day
# Which reminder goes first when several are due to one person within the spacing: the
# one about what just happened first, the general ones later, the nudge last.
REMINDER_ORDER = (
    "agreement_reminder",
    "follow_up",
    "check_in",
    "meeting_time_check",
    "rating_follow_up",
    "progress_check",
    "nudge",
)


def send_window(cfg: Config, person: Participant | None) -> tuple[ZoneInfo, WeeklyHours]:
    """The zone and the weekly hours in which email to `person` (None: the coordinator) goes."""
    if cfg.cadence.send_window is None:
        return ZoneInfo("UTC"), dict.fromkeys(range(7), (time(0), time(23, 59)))
    opens, closes = cfg.cadence.send_window
    if person is None:
        return cfg.program.timezone, {d: (opens, closes) for d in WORKING_WEEK}
    if person.send_window:
        return person.timezone, dict(person.send_window)
    days = person.hours or dict.fromkeys(WORKING_WEEK)
    return person.timezone, {d: (opens, closes) for d in days}


def window_for_zone(cfg: Config, zone: str) -> tuple[ZoneInfo, WeeklyHours]:
    """The window of someone the config no longer names (a former member): their zone,
    `cadence.send_window`, Monday to Friday."""
    opens, closes = cfg.cadence.send_window or (time(0), time(23, 59))
    return ZoneInfo(zone), {d: (opens, closes) for d in WORKING_WEEK}


def inside(window: tuple[ZoneInfo, WeeklyHours], at: datetime) -> bool:
    """Whether `at` falls inside the window: from its opening time to before its closing."""
    zone, hours = window
    local = at.astimezone(zone)
    span = hours.get(local.weekday())
    if span is None:
        return False
    opens, closes = span
    close = time(23, 59, 59) if closes >= time(23, 59) else closes
    return opens <= local.time() < close


def next_opening(window: tuple[ZoneInfo, WeeklyHours], at: datetime) -> datetime | None:
    """The first moment at or after `at` inside the window; None when it has no day."""
    zone, hours = window
    if not hours:
        return None
    if inside(window, at):
        return at
    local = at.astimezone(zone)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        span = hours.get(day.weekday())
        if span is None:
            continue
        opening = datetime.combine(day, span[0], zone)
        if opening >= at:
            return opening
    return None


def spaced(cfg: Config, last: datetime | None, now: datetime) -> bool:
    """Whether a reminder may go at `now` when the person's latest email went at `last`."""
    spacing = cfg.cadence.spacing
    return last is None or spacing is None or now - last >= spacing
