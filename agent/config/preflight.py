"""What `validate` checks beyond the config's schema: what would only fail later.

- `unmeetable_pairs`: pairs for whom booking finds no weekly series inside both people's
  hours for the rest of the program, through every DST change. The search is the one the
  planner books with (`agent.config.booking.search_meetings`: program dates, closure,
  cadence, `min_notice`), for the earliest booking there can be: both people agreeing as
  onboarding opens. Found at booking time, that is an escalation after both people
  agreed; found here, it is a config error to fix first. At 10,000 pairs the search runs
  once per distinct (zones, hours) signature.
- `late_booking_warnings`: once onboarding has begun, the pairs that could be booked
  then but not if they were booked from now on (a long `min_notice` near the end, say).
  Pairs already booked keep their series, so these are warnings, not errors.
- `zone_warnings`: zone names that work but are not what people usually mean
  (`agent.meetings.zone_names`), with the IANA name to use.

Pure: the config (and `now`) in, sentences out.
"""

from __future__ import annotations

from datetime import datetime

from agent.config.booking import first_meeting_from, program_times, search_meetings
from agent.config.model import Config, Participant
from agent.meetings.slots import Availability
from agent.meetings.timefmt import format_duration, format_hours
from agent.meetings.zone_names import zone_advice


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


def unmeetable_pairs(cfg: Config) -> list[str]:
    """One sentence per pair that booking could not give a series, even if both people
    agreed as soon as onboarding opens (or one sentence for all when the notice alone
    leaves no time)."""
    opens = program_times(cfg).opens
    when = f"a booking as soon as onboarding opens on {_long_date(opens, True)}"
    return [line for _, line in _unbookable(cfg, opens, when)]


def late_booking_warnings(cfg: Config, now: datetime) -> list[str]:
    """Once onboarding has begun (and until the program closes): the pairs `unmeetable_pairs`
    passes that a booking from `now` on would find no series for."""
    times = program_times(cfg)
    if not times.opens < now < times.closing:
        return []
    already = {pair for pair, _ in _unbookable(cfg, times.opens, "")}
    if None in already:
        return []  # no pair can be booked at all: that error says it
    local = now.astimezone(cfg.program.timezone)
    when = f"a booking now, on {_long_date(local, True)}"
    return [
        f"{line}; pairs already booked keep their series"
        for pair, line in _unbookable(cfg, now, when)
        if pair not in already
    ]


def _who(person: Participant, name: str) -> str:
    return f"{name} ({person.timezone.key}, {format_hours(person.hours)})"


def _long_date(moment: datetime, with_year: bool) -> str:
    return f"{moment.day} {moment:%B}" + (f" {moment.year}" if with_year else "")


def _unbookable(cfg: Config, booked_at: datetime, when: str) -> list[tuple[str | None, str]]:
    """(pair id, sentence) for each pair that booking at `booked_at` finds no series for,
    or (None, sentence) once when the notice leaves no time at all; `when` names the
    booking in words."""
    times, meetings = program_times(cfg), cfg.cadence.meetings
    earliest = first_meeting_from(cfg, booked_at).astimezone(cfg.program.timezone)
    closing = times.closing
    days = format_duration(meetings.min_notice)
    notice = f"cadence.meetings.min_notice ({days})"
    if earliest >= closing:
        earlier = booked_at <= times.opens  # an earlier onboarding books earlier
        advice = " or start onboarding earlier (cadence.onboarding.before_start)" * earlier
        return [
            (
                None,
                f"no pair can be booked: after {when}, {notice} puts the first meeting on "
                f"{_long_date(earliest, True)}, after the program closes "
                f"({_long_date(closing, True)} {closing:%H:%M}); shorten the notice{advice}",
            )
        ]
    weeks = meetings.every.days // 7
    minutes = int(meetings.duration.total_seconds() // 60)
    cadence = "weekly" if weeks == 1 else f"every-{weeks}-weeks"
    span = f"from {_long_date(earliest, earliest.year != closing.year)}"
    if earliest > times.starts:  # the notice, not the start day, sets the first meeting
        span += f" (cadence.meetings.min_notice, {days}, after {when})"
    span += f" to {_long_date(closing, True)}"
    # The explanation names the people; it is found once per signature with these
    # placeholders in their place, then filled in for each pair.
    mentor_mark, mentee_mark = "\x00mentor\x00", "\x00mentee\x00"
    found: dict[tuple[object, ...], str | None] = {}
    problems: list[tuple[str | None, str]] = []
    for pair in cfg.pairs:
        mentor, mentee = cfg.participant(pair.mentor), cfg.participant(pair.mentee)
        key = (
            mentor.timezone.key,
            tuple(sorted(mentor.hours.items())),
            mentee.timezone.key,
            tuple(sorted(mentee.hours.items())),
        )
        if key not in found:
            people = [
                Availability(mentor_mark, mentor.timezone, mentor.hours),
                Availability(mentee_mark, mentee.timezone, mentee.hours),
            ]
            search = search_meetings(cfg, people, booked_at)
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
            (
                pair.id,
                f"pair {pair.id}: no {cadence} {minutes}-minute meeting fits both "
                f"{_who(mentor, mentor.first_name)} and {_who(mentee, mentee.first_name)} "
                f"{span}: {why}",
            )
        )
    return problems
