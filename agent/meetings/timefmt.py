"""Parsing and wording of durations, times of day and weekly working hours.

These are the small languages of the config file (`45m`, `2w`, `09:00-17:00`,
`Mon-Thu 09:00-17:00; Fri 09:00-13:00`), kept apart from the config models so
the planner and templates can word things the same way the config reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WeeklyHours = dict[int, tuple[time, time]]  # weekday (0=Mon) -> local window

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_TITLES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*((?:\d+\s*[smhdw]\s*)+)$")
_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_DAY_ALIASES = {name: i for i, name in enumerate(DAY_NAMES)} | {
    title.lower(): i for i, title in enumerate(DAY_TITLES)
}


def parse_duration(value: object) -> timedelta:
    """`45m`, `2h`, `3d`, `2w` or combinations like `1h30m` -> timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a duration; write it like 45m, 2h, 3d or 2w")
    total = timedelta()
    for amount, unit in _DURATION_PART.findall(match.group(1)):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if total <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than zero")
    return total


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, in the largest whole unit."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_time(value: object) -> time:
    """`09:00` -> time. Also accepts the integer YAML 1.1 makes of an unquoted `10:00` (600)."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    text = str(value).strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise ValueError(f"{value!r} is not a time of day; write it like 09:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        if minute:
            raise ValueError(f"{value!r} is not a time of day")
        return time.max.replace(second=0, microsecond=0)  # 24:00 = end of day
    return time(hour, minute)


def parse_weekday(value: object) -> int:
    """`mon`, `Monday` -> 0."""
    key = str(value).strip().lower()
    if key not in _DAY_ALIASES:
        raise ValueError(f"{value!r} is not a weekday; use mon, tue, wed, thu, fri, sat or sun")
    return _DAY_ALIASES[key]


def _parse_days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        ends = [p for p in re.split(r"\s*[-–]\s*", part.strip()) if p]
        if len(ends) == 1:
            days.append(parse_weekday(ends[0]))
        elif len(ends) == 2:
            first, last = parse_weekday(ends[0]), parse_weekday(ends[1])
            days.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
        else:
            raise ValueError(f"{part!r} is not a day range; write it like Mon-Fri")
    return days


def _parse_window(spec: str) -> tuple[time, time]:
    ends = re.split(r"\s*[-–]\s*", spec.strip())
    if len(ends) != 2:
        raise ValueError(f"{spec!r} is not a time range; write it like 09:00-17:00")
    start, end = parse_time(ends[0]), parse_time(ends[1])
    if end <= start:
        raise ValueError(
            f"{spec!r} ends before it starts (windows across midnight are not supported)"
        )
    return start, end


def parse_hours(value: object) -> WeeklyHours:
    """Working hours -> {weekday: (start, end)}.

    Accepted forms: `09:00-17:00` (Monday to Friday), `Mon-Thu 09:00-17:00; Fri 09:00-13:00`,
    or a mapping `{mon: "09:00-17:00", tue: ...}`.
    """
    if isinstance(value, Mapping):
        return {parse_weekday(day): _parse_window(str(window)) for day, window in value.items()}
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} are not working hours; write them like 09:00-17:00")
    hours: WeeklyHours = {}
    for chunk in value.split(";"):
        match = re.fullmatch(r"\s*(?:([A-Za-z][A-Za-z,\s\-–]*?)\s+)?(\d.*?)\s*", chunk)
        if not match:
            raise ValueError(
                f"{chunk.strip()!r} are not working hours; write them like Mon-Fri 09:00-17:00"
            )
        days = _parse_days(match.group(1)) if match.group(1) else list(range(5))
        window = _parse_window(match.group(2))
        for day in days:
            hours[day] = window
    return hours


def format_hours(hours: Mapping[int, tuple[time, time]]) -> str:
    """{0..4: 09:00-17:00} -> 'Mon–Fri 09:00–17:00' (runs of days with the same window grouped)."""
    runs: list[tuple[int, int, tuple[time, time]]] = []
    for day in sorted(hours):
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == hours[day]:
            runs[-1] = (runs[-1][0], day, hours[day])
        else:
            runs.append((day, day, hours[day]))
    parts = []
    for first, last, (start, end) in runs:
        days = DAY_NAMES[first].title()
        if last != first:
            days += "–" + DAY_NAMES[last].title()
        parts.append(f"{days} {start:%H:%M}–{end:%H:%M}")
    return "; ".join(parts)


def every_text(interval: timedelta) -> str:
    """2w -> 'every 2 weeks', 1w -> 'every week'."""
    for unit, size in (("week", 7), ("day", 1)):
        if interval.days % size == 0 and interval.seconds == 0:
            n = interval.days // size
            return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    return f"every {format_duration(interval)}"


def offset_text(other: ZoneInfo, mine: ZoneInfo, at: datetime) -> str:
    """How far the other person's clock is from mine at `at`: '6 hours ahead of you'."""
    delta = (at.astimezone(other).utcoffset() or timedelta()) - (
        at.astimezone(mine).utcoffset() or timedelta()
    )
    minutes = int(delta.total_seconds() // 60)
    if minutes == 0:
        return "the same time as you"
    hours, rest = divmod(abs(minutes), 60)
    amount = f"{hours} hour{'s' if hours != 1 else ''}" if hours else ""
    if rest:
        amount = f"{amount} {rest} minutes".strip()
    return f"{amount} {'ahead of' if minutes > 0 else 'behind'} you"


def long_date(value: datetime) -> str:
    """'Tuesday 2 March 2027'."""
    return f"{DAY_TITLES[value.weekday()]} {value.day} {value:%B %Y}"


def at_local(moment: datetime, zone: ZoneInfo) -> str:
    """'Tuesday 2 March 2027 at 09:00' in `zone`."""
    local = moment.astimezone(zone)
    return f"{long_date(local)} at {local:%H:%M}"
