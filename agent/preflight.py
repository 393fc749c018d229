"""What `validate` checks beyond the config's schema: what would only fail later.

- `unmeetable_pairs`: pairs for whom the slot finder (`agent.slots.find_series`, with the
  inputs the planner books with) finds no weekly series inside both people's hours for
  the whole program, through every DST change. Found at booking time, that is an
  escalation after both people agreed; found here, it is a config error to fix first.
  At 10,000 pairs the search runs once per distinct (zones, hours) signature.
- `zone_warnings`: zone names that work but are not what people usually mean
  (`agent.zone_names`), with the IANA name to use.

Pure: the config in, sentences out.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from agent.config import Config, Participant
from agent.slots import Availability, find_series
from agent.timefmt import format_hours
from agent.zone_names import zone_advice

# The planner's closing moment (agent.planner.CLOSURE_TIME): the series ends before it.
# Not imported from there: `validate` must not load the planner (tests/test_lazy_imports.py).
_CLOSURE_TIME = time(9, 0)


def zone_warnings(cfg: Config) -> list[str]:
    """One line per configured zone name that `zone_advice` has something to say about."""
    places = [("program.timezone", cfg.program.timezone)] + [
        (f"participants[{i}] (id: {p.id}) .timezone", p.timezone)
        for i, p in enumerate(cfg.participants)
    ]
    warnings = []
    for where, zone in places:
        advice = zone_advice(str(zone.key))
        if advice:
            warnings.append(f"{where}: {advice}")
    return warnings


def _who(person: Participant, name: str) -> str:
    return f"{name} ({person.timezone.key}, {format_hours(person.hours)})"


def _long_date(moment: datetime, with_year: bool) -> str:
    return f"{moment.day} {moment:%B}" + (f" {moment.year}" if with_year else "")


def unmeetable_pairs(cfg: Config) -> list[str]:
    """One sentence per pair for whom no weekly series fits the whole program."""
    program, meetings = cfg.program, cfg.cadence.meetings
    starts = datetime.combine(program.start, time(0), program.timezone)
    closing = datetime.combine(program.end, _CLOSURE_TIME, program.timezone) - (
        cfg.cadence.closure.before_end or timedelta()
    )
    weeks = meetings.every.days // 7
    minutes = int(meetings.duration.total_seconds() // 60)
    cadence = "weekly" if weeks == 1 else f"every-{weeks}-weeks"
    span = f"from {_long_date(starts, starts.year != closing.year)} to {_long_date(closing, True)}"
    # The explanation names the people; it is found once per signature with these
    # placeholders in their place, then filled in for each pair.
    mentor_mark, mentee_mark = "\x00mentor\x00", "\x00mentee\x00"
    found: dict[tuple[object, ...], str | None] = {}
    problems = []
    for pair in cfg.pairs:
        mentor, mentee = cfg.participant(pair.mentor), cfg.participant(pair.mentee)
        key = (
            mentor.timezone.key,
            tuple(sorted(mentor.hours.items())),
            mentee.timezone.key,
            tuple(sorted(mentee.hours.items())),
        )
        if key not in found:
            search = find_series(
                [
                    Availability(mentor_mark, mentor.timezone, mentor.hours),
                    Availability(mentee_mark, mentee.timezone, mentee.hours),
                ],
                earliest=starts,
                until=closing,
                every_weeks=weeks,
                duration=meetings.duration,
                preferred_days=meetings.preferred_days,
                anchors=list(dict.fromkeys([program.timezone, mentor.timezone, mentee.timezone])),
            )
            found[key] = None if search.slots else (search.explanation or "no common time")
        why = found[key]
        if why is None:
            continue
        names = {
            mentor_mark: f"{mentor.first_name} ({mentor.timezone.key})",
            mentee_mark: f"{mentee.first_name} ({mentee.timezone.key})",
        }
        for mark, name in names.items():
            why = why.replace(mark, name)
        problems.append(
            f"pair {pair.id}: no {cadence} {minutes}-minute meeting fits both "
            f"{_who(mentor, mentor.first_name)} and {_who(mentee, mentee.first_name)} "
            f"{span}: {why}"
        )
    return problems
