"""A participant's calendar answers (iTIP, RFC 5546) read onto the pair's meetings. Pure.

Calendar clients answer an invitation in their own ways, and each way is read here into
`Answer`s that count only for the person who sent the email and only for a meeting the
pair really has:

- **Whose answer.** A REPLY should list only the replying attendee (RFC 5546 3.2.3), but
  Exchange and Google list the partner too, with the partner's PARTSTAT. Only the
  ATTENDEE that is the sender counts (the From address or any address of the
  participant, compared as `same_mailbox` does). An answer that names nobody who sent
  it is not applied: the coordinator is told.
- **Which meeting.** The UID must be one of the pair's series; anything else (a
  participant's own event, another organizer's invitation) is never applied. A
  RECURRENCE-ID names the meeting by its original start in whatever zone the client
  writes (IANA, Windows names, a custom VTIMEZONE, UTC, floating, or a DATE): it is
  resolved to the series' occurrence at that instant, or, for a date, on that day in the
  series' zone.
- **Once.** Outlook sends the answer twice (the inline text/calendar part and an
  invite.ics attachment); a COUNTER lists every attendee. Each answer counts once.
- **Every method.** REPLY (ACCEPTED, TENTATIVE, DECLINED, DELEGATED, NEEDS-ACTION),
  COUNTER (a proposed new time), CANCEL from an attendee (that person will not attend:
  a decline), REFRESH (send the invitation again), REQUEST or PUBLISH (the sender's own
  event: kept, never applied, shown to the coordinator only when it names the program).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.meetings.ics import IcsError, ItipResponse, parse_itip
from agent.pairs.program import Series, original_key

ANSWERING = frozenset({"REPLY", "COUNTER", "CANCEL", "REFRESH"})
OWN_EVENT = frozenset({"REQUEST", "PUBLISH", "ADD", "DECLINECOUNTER"})


@dataclass(frozen=True)
class Answer:
    """One answer of the sender, for one meeting (`original`) or the whole series (None)."""

    method: str  # REPLY, COUNTER, CANCEL or REFRESH
    partstat: str  # for REPLY: ACCEPTED, TENTATIVE, DECLINED, DELEGATED, NEEDS-ACTION
    original: datetime | None = None  # the original start of the meeting answered
    day: str = ""  # that meeting's date in the series' zone (YYYY-MM-DD)
    proposed: datetime | None = None  # COUNTER: the new start
    delegated_to: str = ""
    comment: str = ""

    @property
    def declines(self) -> bool:
        return self.partstat == "DECLINED" or self.method == "CANCEL"


@dataclass
class Reading:
    """What the calendar parts of one email say, and what of it cannot be applied."""

    answers: list[Answer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the pair's log
    for_coordinator: list[str] = field(default_factory=list)  # what a person must look at


def read_answers(
    parts: Iterable[str],
    *,
    is_sender: Callable[[str], bool],
    segments: list[Series],
    program_name: str,
) -> Reading:
    """The sender's answers in `parts` (the text/calendar parts of one email).

    `is_sender(address)` tells whether an ATTENDEE address is the person who sent the
    email; `segments` are the pair's series in this round (`PairState.segments()`).
    """
    reading = Reading()
    seen: set[tuple[object, ...]] = set()
    for part in parts:
        try:
            responses = parse_itip(part)
        except IcsError as exc:
            reading.notes.append(f"unreadable calendar part: {exc}")
            continue
        for event in _by_event(responses):
            _read_event(event, reading, seen, is_sender, segments, program_name)
    return reading


def _by_event(responses: list[ItipResponse]) -> list[list[ItipResponse]]:
    """The responses grouped per VEVENT (one entry per ATTENDEE of the same component)."""
    groups: dict[tuple[object, ...], list[ItipResponse]] = {}
    for r in responses:
        key = (r.method, r.uid, r.recurrence_id, r.start, r.sequence, r.comment)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _read_event(
    event: list[ItipResponse],
    reading: Reading,
    seen: set[tuple[object, ...]],
    is_sender: Callable[[str], bool],
    segments: list[Series],
    program_name: str,
) -> None:
    first = event[0]
    method = first.method or "REPLY"  # RFC 6047 answers always carry one; Apple's old iCal did not
    series = next((s for s in segments if s.uid == first.uid), None)
    if series is None:
        _not_ours(first, method, reading, program_name)
        return
    if method in OWN_EVENT:
        reading.notes.append(f"{method} of the program's own meeting from a participant: ignored")
        return
    if method not in ANSWERING:
        reading.notes.append(f"calendar {method or 'message'} without a defined meaning: ignored")
        return
    mine = [r for r in event if r.attendee and is_sender(r.attendee)]
    if method in ("REPLY",) and not mine:
        named = ", ".join(sorted({r.attendee for r in event if r.attendee})) or "nobody"
        reading.notes.append(f"calendar answer for {named}, not from them: not applied")
        reading.for_coordinator.append(
            f"sent a calendar answer that names {named} instead of themselves; nothing changed"
        )
        return
    original, day = (None, "")
    if first.recurrence_id is not None:
        found = _occurrence(series, first)
        if found is None:
            when = _local(first.recurrence_id, ZoneInfo(series.tz))
            reading.notes.append(
                f"calendar answer for a meeting at {when} the series does not have"
            )
            reading.for_coordinator.append(
                f"answered a meeting at {when} in the calendar that the series does not have;"
                " nothing changed"
            )
            return
        original = found
        day = found.astimezone(ZoneInfo(series.tz)).date().isoformat()
    attendee = mine[0] if mine else first
    partstat = "DECLINED" if method == "CANCEL" else attendee.partstat
    answer = Answer(
        method=method,
        partstat=partstat if method in ("REPLY", "CANCEL") else "",
        original=original,
        day=day,
        proposed=first.start.astimezone(UTC) if method == "COUNTER" and first.start else None,
        delegated_to=attendee.delegated_to if partstat == "DELEGATED" else "",
        comment=first.comment,
    )
    key = (answer.method, answer.partstat, answer.original, answer.proposed)
    if key not in seen:
        seen.add(key)
        reading.answers.append(answer)


def _not_ours(first: ItipResponse, method: str, reading: Reading, program_name: str) -> None:
    """A calendar object for an event that is not one of the pair's series."""
    names_program = bool(program_name) and program_name.lower() in first.summary.lower()
    if method in OWN_EVENT:
        reading.notes.append(f"calendar {method} of an event that is not the program's: kept")
        if names_program:
            reading.for_coordinator.append(
                f"sent a calendar invitation of their own that names the program "
                f"({_short(first.summary)}); nothing changed"
            )
        return
    reading.notes.append(f"calendar {method} for an event that is not the program's: not applied")
    if names_program or method in ANSWERING:
        reading.for_coordinator.append(
            f"answered a calendar event that is not one of the program's meetings "
            f"({_short(first.summary) or 'no title'}); nothing changed"
        )


def _occurrence(series: Series, response: ItipResponse) -> datetime | None:
    """The original start of the meeting a RECURRENCE-ID names, None if there is none."""
    rid = response.recurrence_id
    assert rid is not None
    zone = ZoneInfo(series.tz)
    originals = series.slot().occurrences()
    if response.by_date:
        day = rid.date()
        return next((o for o in originals if o.astimezone(zone).date() == day), None)
    wanted = {original_key(rid)}
    if rid.tzinfo is UTC or rid.utcoffset() == timedelta(0):
        # a floating value was read as UTC: the wall time in the series' zone is meant too
        wanted.add(original_key(rid.replace(tzinfo=zone)))
    found = next((o for o in originals if original_key(o) in wanted), None)
    if found is None:  # some clients name a moved meeting by its new start
        found = next((o for o, new in series.moved_meetings() if original_key(new) in wanted), None)
    return found


def _local(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%A %d %B %Y %H:%M} ({zone.key})"


_SPACE = re.compile(r"\s+")


def _short(text: str, limit: int = 80) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
