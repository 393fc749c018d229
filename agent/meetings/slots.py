"""Finding one weekly meeting series that fits everyone's working hours, for the whole program.

Terms:

- An `Availability` is one person's weekly working hours on the wall clock of their own zone.
- A `SeriesSlot` is one recurring series: the same wall-clock time in an *anchor* zone every
  `interval_weeks` weeks, as RFC 5545 expands `DTSTART;TZID=...` with `RRULE:FREQ=WEEKLY`.
  Because the anchor's clock is the one that stays put, the other participants see the
  meeting move by an hour whenever their DST changes on a different date than the anchor's.
- `find_series` tries every (anchor zone, weekday, start time on a grid) and keeps those
  whose *every* occurrence lies inside every person's window in that person's zone.

How it stays fast (programs can have 10,000 pairs): all arithmetic is on integer seconds.
Each zone's UTC offset is a step function, sampled once per zone and year (`_zone_offsets`,
cached across calls). For a candidate weekday, the valid start times on one occurrence date
form a bit mask over the start-time grid; on dates far from any DST change the mask depends
only on the weekday and the zones' offsets, so it is computed once by interval arithmetic
and reused. The series' start times are the AND of its dates' masks; only the few dates near
a DST change are checked time by time, and only for the start times still alive.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["Availability", "SeriesSlot", "SlotSearch", "find_series"]

DAY = 86_400
WEEK = 7 * DAY
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_TITLES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DASH = "\u2013"  # en dash, as between the times of a range
_RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Transitions are found by sampling each zone's offset this often; two changes closer
# together than this (none in tzdata since the 1940s) would be missed.
_SAMPLE = 12 * 3600


@dataclass(frozen=True)
class Availability:
    """One person's weekly working hours, on the wall clock of their own zone.

    `hours` maps weekday (0=Mon..6=Sun) to a (start, end) window; an absent weekday means not
    available. An end of 23:59 (how `agent.meetings.timefmt` spells "24:00") means end of day.
    """

    name: str
    tz: ZoneInfo
    hours: Mapping[int, tuple[time, time]]


@dataclass(frozen=True)
class SeriesSlot:
    """A weekly series: the wall-clock time of `first_start` in `tz`, every `interval_weeks`.

    This is what RFC 5545 3.8.5.3 expands from `DTSTART;TZID=<tz>` plus
    `RRULE:FREQ=WEEKLY;INTERVAL=n;BYDAY=..;UNTIL=..`: the local time stays fixed in `tz`
    and moves in UTC when `tz` changes offset.
    """

    tz: ZoneInfo
    first_start: datetime
    duration: timedelta
    interval_weeks: int
    until: datetime

    def __post_init__(self) -> None:
        if self.first_start.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("SeriesSlot needs aware datetimes")
        if self.interval_weeks < 1:
            raise ValueError("interval_weeks must be at least 1")

    def occurrences(self) -> list[datetime]:
        """Start of every meeting, aware in `tz`, first_start first, none after `until`.

        Each is the first start's wall-clock time on a date 7*interval_weeks days later.
        A wall-clock time inside a DST gap gets the offset from before the gap (zoneinfo's
        fold=0), which is also how RFC 5545 3.3.5 resolves it; `find_series` never
        produces such a series.
        """
        first = self.first_start.astimezone(self.tz)
        wall, day = first.time(), first.date()
        step = timedelta(weeks=self.interval_weeks)
        result: list[datetime] = []
        while True:
            start = datetime.combine(day, wall, tzinfo=self.tz)
            if start > self.until:
                return result
            result.append(start)
            day += step

    @property
    def rrule(self) -> str:
        """The RRULE value, e.g. `FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;UNTIL=20270630T215959Z`.

        UNTIL is in UTC: RFC 5545 3.3.10 requires it when DTSTART carries a TZID. Seconds
        are truncated, which excludes no occurrence because occurrences start on whole minutes.
        """
        weekday = _RRULE_DAYS[self.first_start.astimezone(self.tz).weekday()]
        until = self.until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return f"FREQ=WEEKLY;INTERVAL={self.interval_weeks};BYDAY={weekday};UNTIL={until}"

    def describe(self, tz: ZoneInfo) -> str:
        """Human text on the clock of `tz`, e.g. `every Tuesday at 15:00-15:45 (Europe/Berlin)`.

        When `tz` changes offset on other dates than the anchor zone, the meeting moves on the
        clock of `tz`; the usual time is given first and the exceptions in the parentheses:
        `every Monday at 14:15-15:00 (Europe/Berlin; 13:15-14:00 from 15 Mar to 22 Mar)`
        (with en dashes in the ranges).
        """
        starts = self.occurrences()
        zone = getattr(tz, "key", str(tz))
        if not starts:
            return f"no meetings (the first would start after {self.until:%Y-%m-%d})"
        keys: list[tuple[int, str]] = []
        days: list[date] = []
        for start in starts:
            local = start.astimezone(tz)
            end = (start.astimezone(UTC) + self.duration).astimezone(tz)
            keys.append((local.weekday(), f"{local:%H:%M}{_DASH}{end:%H:%M}"))
            days.append(local.date())
        counts = Counter(keys)
        usual = max(counts, key=lambda k: (counts[k], -keys.index(k)))
        every = (
            f"every {_DAY_TITLES[usual[0]]}"
            if self.interval_weeks == 1
            else f"every {self.interval_weeks} weeks on {_DAY_TITLES[usual[0]]}"
        )
        with_year = days[0].year != days[-1].year
        exceptions: list[str] = []
        i = 0
        while i < len(keys):
            if keys[i] == usual:
                i += 1
                continue
            j = i
            while j + 1 < len(keys) and keys[j + 1] == keys[i]:
                j += 1
            weekday, span = keys[i]
            what = span if weekday == usual[0] else f"{_DAY_TITLES[weekday]} {span}"
            first, last = _short_date(days[i], with_year), _short_date(days[j], with_year)
            exceptions.append(f"{what} on {first}" if i == j else f"{what} from {first} to {last}")
            i = j + 1
        extra = "".join(f"; {text}" for text in exceptions)
        return f"{every} at {usual[1]} ({zone}{extra})"


@dataclass(frozen=True)
class SlotSearch:
    """Result of `find_series`: the options best first, and why there are none (or too few)."""

    slots: tuple[SeriesSlot, ...]
    explanation: str | None


def _short_date(day: date, with_year: bool) -> str:
    return f"{day.day} {day:%b %Y}" if with_year else f"{day.day} {day:%b}"


# --- integer time arithmetic ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Offsets:
    """A zone's UTC offset (seconds) as a step function of UTC epoch seconds."""

    changes: tuple[int, ...]  # UTC instants where the offset changes (first second of the new)
    offsets: tuple[int, ...]  # len(changes) + 1 offsets, before the first change first

    def at(self, utc: int) -> int:
        return self.offsets[bisect_right(self.changes, utc)]

    def changes_between(self, lo: int, hi: int) -> bool:
        return bisect_left(self.changes, lo) != bisect_left(self.changes, hi)

    def to_utc(self, local: int) -> int | None:
        """UTC of a wall-clock time (local epoch seconds); None if it is in a DST gap or fold."""
        found = {
            local - off
            for off in (self.at(local - 2 * DAY), self.at(local + 2 * DAY))
            if self.at(local - off) == off
        }
        return found.pop() if len(found) == 1 else None


@lru_cache(maxsize=512)
def _zone_offsets(tz: tzinfo, first_year: int, last_year: int) -> _Offsets:
    """Sample `tz` from before `first_year` to after `last_year` and bisect each change."""

    def offset(utc: int) -> int:
        delta = datetime.fromtimestamp(utc, tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    t = int(datetime(first_year, 1, 1, tzinfo=UTC).timestamp()) - 30 * DAY
    end = int(datetime(last_year + 1, 1, 1, tzinfo=UTC).timestamp()) + 30 * DAY
    changes: list[int] = []
    offsets = [offset(t)]
    while t < end:
        nxt = t + _SAMPLE
        new = offset(nxt)
        if new != offsets[-1]:
            lo, hi = t, nxt  # offset(lo) is the old offset, offset(hi) the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == offsets[-1]:
                    lo = mid
                else:
                    hi = mid
            changes.append(hi)
            offsets.append(new)
        t = nxt
    return _Offsets(tuple(changes), tuple(offsets))


def _local_seconds(value: datetime) -> int:
    """Wall-clock time of an aware datetime as seconds since 1970-01-01 00:00 on that clock."""
    return (
        (value.toordinal() - _EPOCH_ORDINAL) * DAY
        + value.hour * 3600
        + value.minute * 60
        + (value.second)
    )


def _day_seconds(value: time, *, end: bool) -> int:
    if end and (value.hour, value.minute) >= (23, 59):
        return DAY
    return value.hour * 3600 + value.minute * 60 + value.second


@dataclass(frozen=True, slots=True)
class _Person:
    name: str
    tz: ZoneInfo
    offsets: _Offsets
    windows: tuple[tuple[int, int] | None, ...]  # per weekday, seconds of the local day


@dataclass(slots=True)
class _Candidate:
    anchor: int
    weekday: int
    start: int  # seconds of the anchor's local day
    first_day: date
    first_utc: int
    comfort: int
    preferred: bool
    steady: bool  # every person's clock shows the same time at every meeting

    def rank(self) -> tuple[bool, bool, int, int, int, int]:
        return (
            not self.preferred,
            not self.steady,
            self.weekday,
            -self.comfort,
            self.anchor,
            self.start,
        )


@dataclass(slots=True)
class _Failure:
    anchor: int
    weekday: int
    day: date  # the occurrence date whose window no longer overlaps the earlier ones
    at_first: bool  # failed on the series' very first occurrence


class _Finder:
    """One `find_series` call: precomputed windows, offsets and the start-time grid."""

    def __init__(
        self,
        people: Sequence[Availability],
        earliest: datetime,
        until: datetime,
        duration: timedelta,
        step: timedelta,
        busy: Sequence[tuple[datetime, datetime]],
    ) -> None:
        years = (earliest.astimezone(UTC).year, until.astimezone(UTC).year)
        self.people = [
            _Person(
                p.name,
                p.tz,
                _zone_offsets(p.tz, *years),
                tuple(
                    (_day_seconds(p.hours[d][0], end=False), _day_seconds(p.hours[d][1], end=True))
                    if d in p.hours
                    else None
                    for d in range(7)
                ),
            )
            for p in people
        ]
        self.years = years
        self.duration = int(duration.total_seconds())
        self.step = int(step.total_seconds())
        self.n = -(-DAY // self.step)
        self.full = (1 << self.n) - 1
        self.busy = _merge(busy)
        self.busy_starts = [b[0] for b in self.busy]

    # -- masks ------------------------------------------------------------------------------

    def bits(self, lo: int, hi: int) -> int:
        """Grid bits j with lo <= j*step <= hi."""
        first = max(0, -(-lo // self.step))
        last = min(self.n - 1, hi // self.step)
        if last < first:
            return 0
        return ((1 << (last + 1)) - 1) ^ ((1 << first) - 1)

    def steady_mask(self, weekday: int, anchor_offset: int, offsets: tuple[int, ...]) -> int:
        """Valid starts on a date with weekday `weekday` when no zone changes offset nearby.

        A start at anchor-local second m is at m + (person offset - anchor offset) on the
        person's clock, counted from the anchor date's midnight, so it may fall on the
        person's previous or next day (k below); offsets differ by at most 26 hours.
        """
        mask = self.full
        for person, offset in zip(self.people, offsets, strict=True):
            delta = offset - anchor_offset
            allowed = 0
            for k in (-2, -1, 0, 1, 2):
                window = person.windows[(weekday + k) % 7]
                if window is not None:
                    base = k * DAY - delta
                    allowed |= self.bits(base + window[0], base + window[1] - self.duration)
            mask &= allowed
            if not mask:
                break
        return mask

    def steady_comfort(self, key: tuple[int, int, tuple[int, ...]], start: int) -> int:
        """`comfort` for a start that `steady_mask(*key)` accepted, by the same arithmetic."""
        weekday, anchor_offset, offsets = key
        best = DAY
        for person, offset in zip(self.people, offsets, strict=True):
            local = start + offset - anchor_offset
            k = local // DAY
            window = person.windows[(weekday + k) % 7]
            if window is not None:
                local -= k * DAY
                best = min(best, local - window[0], window[1] - local - self.duration)
        return best

    def comfort(self, anchor: _Offsets, local: int) -> int | None:
        """Smallest distance (s) of the meeting to any window edge, None if outside a window."""
        utc = anchor.to_utc(local)
        if utc is None:
            return None
        end = utc + self.duration
        best = DAY
        for person in self.people:
            start_local = utc + person.offsets.at(utc)
            day = start_local // DAY
            window = person.windows[(day + 3) % 7]  # 1970-01-01 was a Thursday
            if window is None:
                return None
            midnight = day * DAY
            margin = min(
                start_local - midnight - window[0],
                midnight + window[1] - (end + person.offsets.at(end)),
            )
            if margin < 0:
                return None
            best = min(best, margin)
        return best

    def exact_mask(self, anchor: _Offsets, midnight: int, alive: int) -> int:
        """Valid starts among `alive` on a date near a DST change, one start at a time."""
        mask = 0
        while alive:
            low = alive & -alive
            alive ^= low
            if self.comfort(anchor, midnight + (low.bit_length() - 1) * self.step) is not None:
                mask |= low
        return mask

    def is_busy(self, utc: int) -> bool:
        i = bisect_right(self.busy_starts, utc) - 1
        if i >= 0 and self.busy[i][1] > utc:
            return True
        return i + 1 < len(self.busy) and self.busy[i + 1][0] < utc + self.duration

    # -- search -----------------------------------------------------------------------------

    def search(
        self,
        anchors: Sequence[ZoneInfo],
        earliest: datetime,
        until: datetime,
        every_weeks: int,
        preferred: set[int],
    ) -> tuple[list[_Candidate], list[_Failure], int]:
        """All valid candidates, the failures (for explanations), and how many fit hours only."""
        candidates: list[_Candidate] = []
        failures: list[_Failure] = []
        fit_hours = 0
        for index, tz in enumerate(anchors):
            anchor = _zone_offsets(tz, *self.years)
            zones = [anchor, *(p.offsets for p in self.people)]
            earliest_local = _local_seconds(earliest.astimezone(tz))
            until_local = _local_seconds(until.astimezone(tz))
            first_day = earliest.astimezone(tz).date()
            last_day = until.astimezone(tz).date()
            steady: dict[tuple[int, int, tuple[int, ...]], int] = {}
            for weekday in range(7):
                d0 = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
                midnight0 = (d0.toordinal() - _EPOCH_ORDINAL) * DAY
                # Starts before `earliest` on d0 begin a week later (sequence B). Every n
                # weeks, a series that would move someone's clock is also tried starting a
                # week or more later: it may miss the weeks when two zones' DST differs.
                on_time = self.bits(earliest_local - midnight0, DAY)
                unsteady = 0  # valid starts of the d0 sequence that move someone's clock
                sequences = [(d0, on_time), (d0 + timedelta(7), self.full ^ on_time)]
                sequences += [(d0 + timedelta(7 * k), -1) for k in range(1, every_weeks)]
                for start_day, eligible in sequences:
                    if eligible == -1:
                        eligible = unsteady
                    if not eligible or start_day > last_day:
                        continue
                    found = self.series(
                        anchor,
                        zones,
                        steady,
                        weekday,
                        start_day,
                        last_day,
                        until_local,
                        every_weeks,
                        eligible,
                    )
                    if isinstance(found, _Failure):
                        found.anchor = index
                        failures.append(found)
                        continue
                    starts, dates = found
                    steady_clocks = self.steady_clocks(anchor, [m for m, _ in dates])
                    for start, comfort in starts:
                        fit_hours += 1
                        utcs = [
                            midnight + start - offset
                            if offset is not None
                            else anchor.to_utc(midnight + start)
                            for midnight, offset in (dates if self.busy else dates[:1])
                            if midnight + start <= until_local
                        ]
                        if self.busy and any(u is None or self.is_busy(u) for u in utcs):
                            continue
                        if start_day == d0 and not steady_clocks:
                            unsteady |= 1 << (start // self.step)
                        candidates.append(
                            _Candidate(
                                index,
                                weekday,
                                start,
                                start_day,
                                utcs[0] or 0,
                                comfort,
                                weekday in preferred,
                                steady_clocks,
                            )
                        )
        return candidates, failures, fit_hours

    def steady_clocks(self, anchor: _Offsets, midnights: list[int]) -> bool:
        """Whether each person's offset from the anchor is the same on every date, so their
        clock, like the anchor's, shows the meeting at the same time all through.

        The difference only changes at a zone's offset change, so it is read once per span
        between changes that holds a date, at the anchor's noon (offsets change at night).
        """
        noons = [m + DAY // 2 - anchor.at(m + DAY // 2) for m in midnights]
        if len(noons) < 2:
            return True
        zones = [anchor, *(p.offsets for p in self.people)]
        cuts = sorted({c for z in zones for c in z.changes if noons[0] < c <= noons[-1]})
        seen: tuple[int, ...] | None = None
        for lo, hi in zip([noons[0], *cuts], [*cuts, noons[-1] + 1], strict=True):
            i = bisect_left(noons, lo)
            if i == len(noons) or noons[i] >= hi:
                continue  # no meeting between these two changes
            differences = tuple(p.offsets.at(noons[i]) - anchor.at(noons[i]) for p in self.people)
            if seen is not None and differences != seen:
                return False
            seen = differences
        return True

    def series(
        self,
        anchor: _Offsets,
        zones: list[_Offsets],
        steady: dict[tuple[int, int, tuple[int, ...]], int],
        weekday: int,
        start_day: date,
        last_day: date,
        until_local: int,
        every_weeks: int,
        alive: int,
    ) -> _Failure | tuple[list[tuple[int, int]], list[tuple[int, int | None]]]:
        """Check one (anchor, weekday, first date) for all start times in `alive` at once.

        Returns the valid (start second, comfort) pairs and, per occurrence date, its local
        midnight and the anchor's offset that day (None near a DST change); or the failure.
        """
        dates: list[tuple[int, int | None]] = []
        keys: set[tuple[int, int, tuple[int, ...]]] = set()
        exact_dates: list[int] = []
        day = start_day
        while day <= last_day:
            midnight = (day.toordinal() - _EPOCH_ORDINAL) * DAY
            if midnight + DAY > until_local:
                # Last date: starts after `until` are simply not occurrences.
                alive_here = alive & self.bits(0, until_local - midnight)
            else:
                alive_here = alive
            if day == start_day:
                alive = alive_here  # a start with no meeting at all is no series
            if any(z.changes_between(midnight - 3 * DAY, midnight + 4 * DAY) for z in zones):
                valid = self.exact_mask(anchor, midnight, alive_here)
                exact_dates.append(midnight)
                dates.append((midnight, None))
            else:
                noon = midnight + DAY // 2
                key = (weekday, anchor.at(noon), tuple(p.offsets.at(noon) for p in self.people))
                if key not in steady:
                    steady[key] = self.steady_mask(*key)
                if midnight + DAY > until_local:
                    exact_dates.append(midnight)  # partial last date: check it per start
                else:
                    keys.add(key)
                valid = steady[key] & alive_here
                dates.append((midnight, key[1]))
            alive = valid | (alive & ~alive_here)
            if not alive:
                return _Failure(-1, weekday, day, at_first=day == start_day)
            day += timedelta(days=7 * every_weeks)
        # Dates with the same weekday and offsets have the same margins: check one of each.
        result: list[tuple[int, int]] = []
        bits = alive
        while bits:
            low = bits & -bits
            bits ^= low
            start = (low.bit_length() - 1) * self.step
            comfort = min((self.steady_comfort(key, start) for key in keys), default=DAY)
            for midnight in exact_dates:
                if midnight + start <= until_local:
                    margin = self.comfort(anchor, midnight + start)
                    comfort = min(comfort, DAY if margin is None else margin)
            result.append((start, comfort))
        return result, dates


def _merge(busy: Sequence[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
    """Busy intervals as sorted, disjoint (start, end) UTC seconds."""
    spans = sorted((int(a.timestamp()), int(b.timestamp())) for a, b in busy if b > a)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _pick(candidates: list[_Candidate], count: int, duration: int) -> list[_Candidate]:
    """The best `count` options that are really different.

    Options within one meeting length of each other in the week (e.g. 09:00, 09:15, 09:30,
    or the same time anchored in another zone) count as one. Preferred days come first;
    within each group the best option of each weekday is taken before a second one of a day.
    """
    ranked = sorted(candidates, key=_Candidate.rank)
    chosen: list[_Candidate] = []

    def distinct(c: _Candidate) -> bool:
        for other in chosen:
            gap = (c.first_utc - other.first_utc) % WEEK
            if min(gap, WEEK - gap) < duration:
                return False
        return True

    for group in ([c for c in ranked if c.preferred], [c for c in ranked if not c.preferred]):
        for one_per_day in (True, False):
            for c in group:
                if len(chosen) == count:
                    return chosen
                days = {o.weekday for o in chosen}
                if (not one_per_day or c.weekday not in days) and c not in chosen and distinct(c):
                    chosen.append(c)
    return chosen


# --- explanations --------------------------------------------------------------------------


def _names(people: Sequence[Availability]) -> str:
    names = [p.name for p in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _day_runs(days: set[int]) -> str:
    runs: list[tuple[int, int]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day - 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return ", ".join(
        _DAY_ABBR[a] if a == b else f"{_DAY_ABBR[a]}{_DASH}{_DAY_ABBR[b]}" for a, b in runs
    )


def _end_text(end: time) -> str:
    return "24:00" if (end.hour, end.minute) >= (23, 59) else f"{end:%H:%M}"


def _hours_text(person: Availability) -> str:
    by_window: dict[tuple[time, time], set[int]] = {}
    for day, window in person.hours.items():
        by_window.setdefault(window, set()).add(day)
    parts = [
        f"{_day_runs(days)} {a:%H:%M}{_DASH}{_end_text(b)}"
        for (a, b), days in sorted(by_window.items(), key=lambda item: min(item[1]))
    ]
    zone = getattr(person.tz, "key", str(person.tz))
    return f"{person.name} works {'; '.join(parts) or 'no days'} {zone}"


def _minutes(seconds: int) -> str:
    hours, minutes = divmod(seconds // 60, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} minutes"


def _overlap_text(people: Sequence[Availability], earliest: datetime, duration: timedelta) -> str:
    """Where the windows overlap in the program's first week, in the first person's zone."""
    spans: list[list[tuple[datetime, datetime]]] = []
    for person in people:
        start_day = earliest.astimezone(person.tz).date() - timedelta(days=1)
        mine = []
        for i in range(9):
            day = start_day + timedelta(days=i)
            if day.weekday() in person.hours:
                a, b = person.hours[day.weekday()]
                begin = datetime.combine(day, a, tzinfo=person.tz).astimezone(UTC)
                finish = (
                    datetime.combine(day + timedelta(days=1), time(), tzinfo=person.tz)
                    if (b.hour, b.minute) >= (23, 59)
                    else datetime.combine(day, b, tzinfo=person.tz)
                ).astimezone(UTC)
                mine.append((begin, finish))
        spans.append(mine)
    common = spans[0]
    for other in spans[1:]:
        common = [
            (max(a, c), min(b, d)) for a, b in common for c, d in other if max(a, c) < min(b, d)
        ]
    if not common:
        tz = people[0].tz
        seen = [
            f"{p.name} {_DAY_ABBR[a.astimezone(tz).weekday()]} {a.astimezone(tz):%H:%M}{_DASH}"
            f"{b.astimezone(tz):%H:%M}"
            for p, windows in zip(people[1:], spans[1:], strict=True)
            for a, b in windows[1:2]
        ]
        on_clock = f" (on {getattr(tz, 'key', tz)} clocks: {', '.join(seen)})" if seen else ""
        return f"their working hours never overlap{on_clock}"
    a, b = max(common, key=lambda span: span[1] - span[0])
    tz = people[0].tz
    la, lb = a.astimezone(tz), b.astimezone(tz)
    where = f"{_DAY_ABBR[la.weekday()]} {la:%H:%M}{_DASH}{lb:%H:%M} {getattr(tz, 'key', tz)}"
    length = int((b - a).total_seconds())
    return (
        f"they overlap at most {_minutes(length)} ({where}), "
        f"less than the {_minutes(int(duration.total_seconds()))} meeting"
    )


def _dst_words(tz: ZoneInfo, before: datetime, after: datetime) -> str:
    dst_before = before.astimezone(tz).dst() or timedelta()
    dst_after = after.astimezone(tz).dst() or timedelta()
    if not dst_before and dst_after:
        return "starts daylight saving time"
    if dst_before and not dst_after:
        return "ends daylight saving time"
    return "changes its UTC offset"


def _explain_failure(
    people: Sequence[Availability],
    anchors: Sequence[ZoneInfo],
    failures: list[_Failure],
    earliest: datetime,
    duration: timedelta,
    years: tuple[int, int],
) -> str:
    late = [f for f in failures if not f.at_first]
    if not late:
        hours = ", ".join(_hours_text(p) for p in people)
        return f"no common working hours: {hours}; {_overlap_text(people, earliest, duration)}"
    # The window is gone for good when the last weekday that had one loses it.
    last = max(late, key=lambda f: f.day)
    tz = anchors[last.anchor]
    fail_at = datetime.combine(last.day, time(23, 59), tzinfo=tz)
    days = _day_runs({f.weekday for f in late if f.anchor == last.anchor})
    begin, end = int(earliest.timestamp()), int(fail_at.timestamp())
    zones: dict[str, ZoneInfo] = {}
    for zone in [*(p.tz for p in people), *anchors]:
        zones.setdefault(getattr(zone, "key", str(zone)), zone)
    latest: int | None = None
    culprits: list[ZoneInfo] = []
    for zone in zones.values():
        changes = _zone_offsets(zone, *years).changes
        i = bisect_right(changes, end) - 1
        if i < 0 or changes[i] <= begin:
            continue
        if latest is None or changes[i] > latest:
            latest, culprits = changes[i], [zone]
        elif changes[i] == latest:
            culprits.append(zone)
    head = f"no common window for {_names(people)} on {days} ({getattr(tz, 'key', tz)} days)"
    if latest is None:
        return f"{head} that lasts the whole program: it closes on {last.day:%Y-%m-%d}"
    change = datetime.fromtimestamp(latest, UTC)
    parts = [f"{getattr(z, 'key', z)} {_dst_words(z, earliest, change)}" for z in culprits]
    when = change.astimezone(culprits[0]).date()
    return f"{head} after {when:%Y-%m-%d}, when {' and '.join(parts)}"


# --- public entry point --------------------------------------------------------------------


def find_series(
    people: Sequence[Availability],
    *,
    earliest: datetime,
    until: datetime,
    every_weeks: int,
    duration: timedelta,
    preferred_days: Sequence[int] = (),
    busy: Sequence[tuple[datetime, datetime]] = (),
    anchors: Sequence[ZoneInfo] = (),
    step: timedelta = timedelta(minutes=15),
    count: int = 1,
) -> SlotSearch:
    """Find up to `count` weekly series whose every occurrence fits everyone, best first.

    A candidate is (anchor zone, weekday, start time on a `step` grid from local midnight).
    Its first meeting is on the first such weekday on/after `earliest` (a date in the anchor
    zone) that starts no earlier than `earliest` (with `every_weeks` > 1, a series that moves
    someone's clock is also tried from up to `every_weeks` - 1 weeks later, which may keep
    every clock steady); then one every `every_weeks` weeks until
    `until`. It is valid when every meeting lies fully inside every person's window for the
    weekday it falls on in that person's zone, overlaps no `busy` interval, and starts at a
    wall-clock time that exists exactly once (not in a DST gap or fold).

    `anchors` are tried in order (caller: mentor zone, mentee zone; default: the people's
    zones). The same wall-clock time anchored in another zone moves
    differently across DST, so each is a different series.

    Ranking: weekdays in `preferred_days` (anchor zone) first, then series that keep every
    person's clock steady through the DST changes (their offsets from the anchor never change
    between meetings), then earlier weekday, then the largest smallest distance to any window
    edge over all meetings, then anchor order, then earlier time.
    With `count` > 1 the options differ by weekday or by at least one meeting
    length (see `_pick`). `explanation` says why when fewer than `count` fit.
    """
    for value in (earliest, until, *(t for span in busy for t in span)):
        if value.tzinfo is None:
            raise ValueError(f"find_series needs aware datetimes, got {value!r}")
    if every_weeks < 1 or count < 1:
        raise ValueError("every_weeks and count must be at least 1")
    if not timedelta(0) < duration < timedelta(days=1):
        raise ValueError("duration must be between zero and one day")
    if step < timedelta(minutes=1) or step.total_seconds() % 60:
        raise ValueError("step must be a whole number of minutes")
    if not people:
        raise ValueError("find_series needs at least one person")
    if until < earliest:
        return SlotSearch((), f"the program ends ({until:%Y-%m-%d}) before it starts")

    zones: list[ZoneInfo] = []
    for zone in [*anchors] or [p.tz for p in people]:
        if all(getattr(z, "key", z) != getattr(zone, "key", zone) for z in zones):
            zones.append(zone)
    finder = _Finder(people, earliest, until, duration, step, busy)
    candidates, failures, fit_hours = finder.search(
        zones, earliest, until, every_weeks, set(preferred_days)
    )
    chosen = _pick(candidates, count, finder.duration)
    slots = tuple(
        SeriesSlot(
            tz=zones[c.anchor],
            first_start=datetime.combine(
                c.first_day, time(c.start // 3600, c.start // 60 % 60), tzinfo=zones[c.anchor]
            ),
            duration=duration,
            interval_weeks=every_weeks,
            until=until,
        )
        for c in chosen
    )
    explanation: str | None = None
    if not slots and fit_hours:
        explanation = (
            f"{fit_hours} series fit the working hours of {_names(people)}, "
            "but every one of them collides with a busy time"
        )
    elif not slots:
        explanation = _explain_failure(people, zones, failures, earliest, duration, finder.years)
    elif len(slots) < count:
        explanation = (
            f"only {len(slots)} distinct option{'s' if len(slots) != 1 else ''} fit every "
            f"meeting for {_names(people)} (asked for {count})"
        )
    return SlotSearch(slots, explanation)
