"""VTIMEZONE components as Outlook, Google and Apple write them: yearly RRULE observances.

A VTIMEZONE (RFC 5545 3.6.5) says when a zone changes offset. Clients write the rule in
force as one STANDARD and one DAYLIGHT observance, each with a yearly RRULE
(`BYMONTH=3;BYDAY=-1SU`) and a DTSTART at the rule's first onset; a zone without DST gets
one STANDARD. That is what this module derives from the zone's zoneinfo transitions:

- consecutive years whose onsets follow one yearly pattern (same offsets, name, month and
  wall-clock time, and an nth/last weekday, "weekday on or after day k", or a fixed day)
  become one RRULE observance, starting where that pattern began (1970 at the earliest);
  a pattern that stopped gets an UNTIL, so a zone whose rules changed within the series
  (or before it) is described exactly;
- an onset that fits no pattern (Morocco's Ramadan changes, one-off base offset changes)
  becomes an observance of its own with only a DTSTART.

Why not icalendar's `Timezone.from_tzinfo` (what `Calendar.add_missing_timezones` uses, as
of icalendar 7.3): it writes every onset as DTSTART + RDATE from `first_date` on, never an
RRULE, and writes a DAYLIGHT onset in the new offset's wall-clock time where RFC 5545
wants the time before the change. vobject (Radicale's parser) compares a VTIMEZONE's
changes in 2000-2020 with UTC's; Europe/London written that way has none there, so it is
taken for UTC, dropped, and replaced by an unlocalized pytz zone: every summer meeting of
a London-anchored series an hour late. With observances that start where the rule began,
vobject, ical.js and icalendar read the same instants.

Pure: the zone's transitions are found by sampling its UTC offset (`_SAMPLE`) and
bisecting to the second, once per zone and scan end (cached).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

__all__ = ["vtimezone"]

_FLOOR = datetime(1970, 1, 1, tzinfo=UTC)  # observances start no earlier (as Google's)
# The offset is sampled this often, and bisected to the second where it changed: two
# changes closer than this would be missed. The closest since 1970 in tzdata 2026 are
# 6.9 days apart (America/Cambridge_Bay and Brazil, October 2000).
_SAMPLE = 2 * 86_400
# the years vobject compares a VTIMEZONE with UTC over (vobject.icalendar.tzinfo_eq)
_VOBJECT_CHECK_START = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
_VOBJECT_CHECK_END = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class _State:
    offset: int  # seconds east of UTC
    dst: int
    name: str


@dataclass(frozen=True)
class _Onset:
    """One change of offset (or of name), as an observance's DTSTART describes it."""

    at: int  # UTC seconds since the epoch
    local: datetime  # naive wall-clock time just before the change (RFC 5545 3.6.5)
    daylight: bool
    offset_from: int
    offset_to: int
    name: str

    @property
    def signature(self) -> tuple[object, ...]:
        """What every onset of one RRULE observance shares."""
        return (
            self.daylight,
            self.offset_from,
            self.offset_to,
            self.name,
            self.local.month,
            self.local.time(),
        )


@dataclass(frozen=True)
class _Observance:
    onsets: tuple[_Onset, ...]
    rule: str | None  # "BYMONTH=3;BYDAY=-1SU"; None for a single onset
    ongoing: bool  # the rule still holds at the end of the scan: no UNTIL


def vtimezone(zone: ZoneInfo, first: date, last: date) -> Timezone:
    """The VTIMEZONE of `zone` for every time from `first` to `last` (dates in `zone`).

    Holds every observance in force at some time between 1 January of `first`'s year and
    1 January of the year after `last`, so that clients looking a little before the
    first meeting or after the last still find one (a `last` before `first`, as of a
    series without meetings, counts as `first`). TZID is the zone's IANA name.
    """
    last = max(first, last)
    start = int(datetime(first.year, 1, 1, tzinfo=UTC).timestamp()) - 86_400
    end = int(datetime(last.year + 1, 1, 1, tzinfo=UTC).timestamp()) + 86_400
    observances = _needed(zone.key, last.year + 3, start, end)
    if _reads_as_utc(observances):
        # vobject (Radicale) takes a VTIMEZONE that is at +00:00 on 1 January 2000 and
        # shows no change of DST from 2000 to 2019 for UTC, drops it and reads the series
        # on one fixed offset. Reaching back to the last year with such a change then
        # prevents that (Morocco's Ramadan changes; zones at +00:00 all year read right).
        earlier = [
            o.at
            for ob in _observances(zone.key, last.year + 3)
            for o in ob.onsets
            if o.daylight and o.at < _VOBJECT_CHECK_END
        ]
        if earlier:
            year = datetime.fromtimestamp(max(earlier), UTC).year
            since = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
            observances = _needed(zone.key, last.year + 3, min(start, since), end)
    component = Timezone()
    component.add("tzid", zone.key)
    for observance in observances:
        component.add_component(_component(observance))
    return component


def _reads_as_utc(observances: list[_Observance]) -> bool:
    """Whether vobject's test (`tzinfo_eq` with UTC, over 2000-2019) holds for these."""
    onsets = sorted((o for ob in observances for o in ob.onsets), key=lambda o: o.at)
    before = [o for o in onsets if o.at <= _VOBJECT_CHECK_START]
    # before the first onset, dateutil's reader takes the first STANDARD observance
    standard = next((ob.onsets[0] for ob in observances if not ob.onsets[0].daylight), None)
    in_force = before[-1] if before else standard or onsets[0]
    window = range(_VOBJECT_CHECK_START, _VOBJECT_CHECK_END)
    return in_force.offset_to == 0 and not any(o.daylight and o.at in window for o in onsets)


def _needed(key: str, scan_end_year: int, start: int, end: int) -> list[_Observance]:
    """The observances in force at some time in [start, end), by first onset."""
    observances = _observances(key, scan_end_year)
    onsets = sorted((o.at, i) for i, ob in enumerate(observances) for o in ob.onsets)
    kept: set[int] = set()
    for n, (at, index) in enumerate(onsets):
        until = onsets[n + 1][0] if n + 1 < len(onsets) else None
        if at < end and (until is None or until > start):
            kept.add(index)
    return [observances[i] for i in sorted(kept)]


@lru_cache(maxsize=1024)  # a few kB per zone
def _observances(key: str, scan_end_year: int) -> tuple[_Observance, ...]:
    """The zone's history from 1970 to 1 January of `scan_end_year` as observances."""
    zone = ZoneInfo(key)
    scan_end = datetime(scan_end_year, 1, 1, tzinfo=UTC)
    onsets = [_first_onset(zone), *_onsets(zone, int(scan_end.timestamp()))]
    last_year = scan_end_year - 1
    observances: list[_Observance] = []
    # per signature, the run of onsets in consecutive years with each one's patterns
    open_runs: dict[tuple[object, ...], list[tuple[_Onset, set[str]]]] = {}

    def close(run: list[tuple[_Onset, set[str]]]) -> None:
        if len(run) == 1:
            observances.append(_Observance((run[0][0],), None, False))
            return
        rules = set.intersection(*(candidates for _, candidates in run))
        ongoing = run[-1][0].local.year >= last_year
        observances.append(
            _Observance(tuple(o for o, _ in run), min(rules, key=_preference), ongoing)
        )

    for onset in onsets[1:]:
        candidates = _rules(onset.local)
        run = open_runs.get(onset.signature, [])
        if run and run[-1][0].local.year != onset.local.year - 1:
            close(run)
            run = []
        # the longest tail of the run that shares a pattern with this onset goes on with
        # it: the pattern now in force is traced back as far as it held
        shared, keep = set(candidates), len(run)
        while keep and shared & run[keep - 1][1]:
            shared &= run[keep - 1][1]
            keep -= 1
        if keep:
            close(run[:keep])
        open_runs[onset.signature] = [*run[keep:], (onset, candidates)]
    for run in open_runs.values():
        close(run)
    observances.append(_Observance((onsets[0],), None, False))
    return tuple(sorted(observances, key=lambda ob: ob.onsets[0].at))


def _state(zone: ZoneInfo, at: int) -> _State:
    moment = datetime.fromtimestamp(at, zone)
    offset, dst = moment.utcoffset(), moment.dst()
    assert offset is not None and dst is not None  # a ZoneInfo always answers
    return _State(int(offset.total_seconds()), int(dst.total_seconds()), moment.tzname() or "")


def _first_onset(zone: ZoneInfo) -> _Onset:
    """The state at the floor, as an observance that changes nothing (its DTSTART)."""
    state = _state(zone, int(_FLOOR.timestamp()))
    local = _FLOOR.replace(tzinfo=None) + timedelta(seconds=state.offset)
    return _Onset(
        int(_FLOOR.timestamp()), local, state.dst > 0, state.offset, state.offset, state.name
    )


def _onsets(zone: ZoneInfo, end: int) -> list[_Onset]:
    """Every change of the zone's offset, DST or name from the floor to `end`."""
    found: list[_Onset] = []
    at = int(_FLOOR.timestamp())
    before = _state(zone, at)
    while at < end:
        step = min(_SAMPLE, end - at)
        after = _state(zone, at + step)
        if after != before:
            low, high = at, at + step  # before at low, after at high: bisect to the second
            while high - low > 1:
                middle = (low + high) // 2
                if _state(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            local = datetime(1970, 1, 1) + timedelta(seconds=high + before.offset)
            daylight = after.dst > 0 or (after.dst == 0 and before.dst < 0)  # Dublin: -1h
            found.append(_Onset(high, local, daylight, before.offset, after.offset, after.name))
            before = after
        at += step
    return found


def _rules(local: datetime) -> set[str]:
    """Every yearly RRULE pattern (less FREQ) that puts an onset on `local`'s date."""
    month, day, weekday = local.month, local.day, _DAYS[local.weekday()]
    shortest = 28 if month == 2 else calendar.monthrange(2001, month)[1]
    rules = {f"BYMONTH={month};BYMONTHDAY={day}"}
    if day <= 28:
        rules.add(f"BYMONTH={month};BYDAY={(day - 1) // 7 + 1}{weekday}")
    if day > calendar.monthrange(local.year, month)[1] - 7:
        rules.add(f"BYMONTH={month};BYDAY=-1{weekday}")
    for first in range(max(1, day - 6), min(day, shortest - 6) + 1):
        days = ",".join(str(d) for d in range(first, first + 7))
        rules.add(f"BYMONTH={month};BYMONTHDAY={days};BYDAY={weekday}")
    return rules


def _preference(rule: str) -> tuple[int, str]:
    """Prefer what every client reads: nth or last weekday, then weekday windows, dates."""
    if "BYMONTHDAY" not in rule:
        return (0, rule)
    return (1, rule) if "BYDAY" in rule else (2, rule)


def _component(observance: _Observance) -> TimezoneStandard | TimezoneDaylight:
    first = observance.onsets[0]
    part = TimezoneDaylight() if first.daylight else TimezoneStandard()
    part.add("dtstart", first.local)
    part.add("tzoffsetfrom", timedelta(seconds=first.offset_from))
    part.add("tzoffsetto", timedelta(seconds=first.offset_to))
    part.add("tzname", first.name)
    if observance.rule:
        rule = f"FREQ=YEARLY;{observance.rule}"
        if not observance.ongoing:
            # UTC as RFC 5545 3.8.5.3 requires; a day after the last onset, because
            # dateutil (vobject's reader) compares UNTIL's digits with the local DTSTART
            last = datetime.fromtimestamp(observance.onsets[-1].at + 86_400, UTC)
            rule += f";UNTIL={last:%Y%m%dT%H%M%SZ}"
        part.add("rrule", vRecur.from_ical(rule))
    return part
