"""The pure state machine of one mentoring pair: PairState + event -> PairState.

Stages, in the order a pair normally moves through them:

    invited -> onboarding -> agreement_pending -> agreed -> scheduled -> active
                                                                  ^        |
                                                                  +- paused <-+
    any stage -> closing -> closed

`invited` is a configured pair nobody has written to; `onboarding` means the
welcome went out; `agreement_pending` the agreement went out; `agreed` both
sides agreed; `scheduled` the meeting series is booked; `active` the first
meeting has taken place. `closing` is entered at the program's end, when a
participant leaves or when the coordinator removes the pair from the config,
and becomes `closed` once the closing emails are out.

Events are facts: an email was sent, a series was booked, a participant
replied, time passed, the coordinator changed the program (see
`agent.pairs.reconcile`). Applying the same fact twice changes nothing more.

Changes to the program mid-flight, as the state records them:

- A removed pair (`Removed`) keeps its state as history, with the people it had
  (`members`, since the config no longer names them) and `removed_at`; it closes
  once its series is cancelled and both have been told.
- A replaced person (`Replaced`) starts a new *round* of the pair: the leaving
  person becomes a `Departure` (goodbye email, the old series cancelled for both),
  the new person starts at the welcome, and the one who stays keeps their
  agreement, goals and history. `round` makes the new round's idempotency keys
  differ from the old one's, and `uids` gives the next series a UID of its own.
- A new meeting cadence (`Recadenced`) splits the series at its next meeting: the
  meetings so far stay in `earlier` (shortened with a new UNTIL and SEQUENCE, as
  calendar clients do for "this and following events"), the rest continue as a
  new series. A series nothing of which has taken place yet is rewritten in
  place instead (same UID, SEQUENCE+1).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from agent.config.names import greeting_name
from agent.mail_in.message import ROLES, IntentKind, Interpretation, Role, other_role
from agent.meetings.slots import SeriesSlot
from agent.pairs.memo import per_object


class Stage(StrEnum):
    INVITED = "invited"
    ONBOARDING = "onboarding"
    AGREEMENT_PENDING = "agreement_pending"
    AGREED = "agreed"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSING = "closing"
    CLOSED = "closed"


BEFORE_AGREEMENT = (Stage.INVITED, Stage.ONBOARDING, Stage.AGREEMENT_PENDING)
MEETING_STAGES = (Stage.SCHEDULED, Stage.ACTIVE)
ENDED = (Stage.CLOSING, Stage.CLOSED)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Change(Frozen):
    """The latest change of a series, for the update email.

    `what` is "meeting" for one meeting moved (`new_start`) or skipped (`new_start` None);
    "cadence" for a series that follows a new interval or length from `original` (its
    first meeting under the new cadence); "ended" for a series shortened to end with the
    meeting at `original` because a new series takes over at `new_start`; "address" for
    an invitation sent again because a participant's address changed; "details" for a
    changed video link (`original` is then the next meeting).
    """

    original: datetime
    new_start: datetime | None = None
    by: Role | None = None  # who asked
    what: Literal["meeting", "cadence", "ended", "address", "details"] = "meeting"


class Series(Frozen):
    """A booked recurring meeting, as stored; `slot()` gives the pure occurrence maths."""

    uid: str
    sequence: int = 0
    tz: str
    first_start: datetime
    duration_minutes: int
    interval_weeks: int
    until: datetime
    status: Literal["confirmed", "cancelled"] = "confirmed"
    # Single meetings that changed, by their original start (see `original_key`):
    moved: dict[str, datetime] = {}  # -> the new start
    skipped: list[datetime] = []  # original starts of meetings that will not take place
    change: Change | None = None  # the latest change, for the update email

    @classmethod
    def from_slot(cls, uid: str, slot: SeriesSlot) -> Series:
        return cls(
            uid=uid,
            tz=str(slot.tz),
            first_start=slot.first_start,
            duration_minutes=int(slot.duration.total_seconds() // 60),
            interval_weeks=slot.interval_weeks,
            until=slot.until,
        )

    def slot(self) -> SeriesSlot:
        zone = ZoneInfo(self.tz)
        return SeriesSlot(
            tz=zone,
            first_start=self.first_start.astimezone(zone),
            duration=timedelta(minutes=self.duration_minutes),
            interval_weeks=self.interval_weeks,
            until=self.until,
        )

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    def meetings(self) -> list[tuple[datetime, datetime]]:
        """(original start, actual start) of every meeting that takes place, by actual start.
        Callers must not change the list."""
        if not self.skipped and not self.moved:  # most series: no key to compute
            return [(o, o) for o in self.starts()]
        return _meetings(self)

    def starts(self) -> list[datetime]:
        """The actual start of every meeting that takes place, in order. Computed once per
        Series object (the planner asks several times per pair and tick, and the store
        keeps the states between ticks; a changed series is a new object), and kept as
        one list of times: at 10,000 pairs pairs of times would cost ~30 MB more."""
        return _starts(self)

    def starting_from(self, earliest: datetime) -> Series | None:
        """This series begun at its first meeting on or after `earliest` (None if none)."""
        start = next((o for o in self.slot().occurrences() if o >= earliest), None)
        return None if start is None else self.model_copy(update={"first_start": start})

    def moved_meetings(self) -> list[tuple[datetime, datetime]]:
        """(original start, new start) of each moved meeting, for RECURRENCE-ID overrides."""
        return [(o, start) for o, start in self.meetings() if original_key(o) in self.moved]

    def held_before(self, now: datetime) -> list[datetime]:
        """Starts of the meetings that have ended by `now`."""
        starts = self.starts()
        return starts[: bisect_right(starts, now - self.duration)]

    def last_held(self, now: datetime) -> datetime | None:
        """Start of the latest meeting that has ended by `now`."""
        starts = self.starts()
        ended = bisect_right(starts, now - self.duration)
        return starts[ended - 1] if ended else None

    def next_after(self, now: datetime) -> datetime | None:
        starts = self.starts()
        later = bisect_left(starts, now)
        return starts[later] if later < len(starts) else None

    def upcoming(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """(original, actual) of the meetings that have not started by `now`."""
        return [(o, start) for o, start in self.meetings() if start > now]


def recadence(
    series: Series,
    *,
    interval_weeks: int,
    duration_minutes: int,
    first_start: datetime,
    new_uid: str,
    at: datetime,
    tz: str | None = None,
) -> tuple[Series | None, Series]:
    """The series after a cadence change whose new schedule begins at `first_start`.

    Returns (the earlier part, shortened to end before `first_start`, or None when none of
    its meetings comes before it; the series that continues). Calendar clients handle
    this split the way they handle their own "this and all following events" edits
    (Google Calendar sends exactly this pair of updates): the existing event gets a
    new UNTIL and a higher SEQUENCE, so every past meeting stays in everyone's calendar as
    it was, with its own length; the rest becomes a new event with its own UID and RRULE.
    Rewriting one event's DTSTART and RRULE instead would make clients drop the meetings
    that already took place. When nothing of the series comes before `first_start`,
    there is nothing to keep, and the one event is rewritten: same UID, SEQUENCE+1.

    Moved and skipped meetings after the split stay moved or skipped when they are still
    meetings of the new schedule; others lapse with the old schedule.
    """
    zone = tz or series.tz
    split = first_start.astimezone(ZoneInfo(zone))
    before = [o for o in series.slot().occurrences() if o < split]
    current = Series(
        uid=series.uid if not before else new_uid,
        sequence=series.sequence + 1 if not before else 0,
        tz=zone,
        first_start=split,
        duration_minutes=duration_minutes,
        interval_weeks=interval_weeks,
        until=series.until,
        change=Change(original=split, what="cadence"),
    )
    grid = {original_key(o) for o in current.slot().occurrences()}
    current = current.model_copy(
        update={
            "moved": {k: v for k, v in series.moved.items() if k in grid},
            "skipped": [o for o in series.skipped if original_key(o) in grid],
        }
    )
    if not before:
        return None, current
    kept = {original_key(o) for o in before}
    ended = series.model_copy(
        update={
            "sequence": series.sequence + 1,
            "until": before[-1],
            "moved": {k: v for k, v in series.moved.items() if k in kept},
            "skipped": [o for o in series.skipped if original_key(o) in kept],
            "change": Change(original=before[-1], new_start=split, what="ended"),
        }
    )
    return ended, current


@per_object
def _starts(series: Series) -> list[datetime]:
    if not series.skipped and not series.moved:
        return series.slot().occurrences()
    return [start for _, start in _meetings(series)]


@per_object
def _meetings(series: Series) -> list[tuple[datetime, datetime]]:
    """Series.meetings() of a series with a moved or skipped meeting."""
    skipped = {original_key(o) for o in series.skipped}
    return sorted(
        (
            (o, series.moved.get(key, o))
            for o in series.slot().occurrences()
            if (key := original_key(o)) not in skipped
        ),
        key=lambda pair: pair[1],
    )


def original_key(start: datetime) -> str:
    """A meeting's identity: its original start in UTC (what RECURRENCE-ID points to)."""
    u = start.astimezone(UTC)
    return f"{u.year:04d}{u.month:02d}{u.day:02d}T{u.hour:02d}{u.minute:02d}{u.second:02d}Z"


class Failure(Frozen):
    """Mail to a participant's address could not be delivered."""

    address: str
    reason: str
    at: datetime


class Member(Frozen):
    """A participant as the agent last knew them: what an email to them needs once the
    config no longer names them (a removed pair, a replaced mentor)."""

    id: str
    name: str
    email: str
    role: Role
    timezone: str
    hours: str = ""  # as shown to people, e.g. "Mon–Fri 09:00–17:00"

    @property
    def first_name(self) -> str:
        return greeting_name(self.name)  # "Rachel" for "Dr Rachel O'Neill"


class Departure(Frozen):
    """Someone who left a pair that goes on with another person in their place.

    `series` is the pair's meeting series as cancelled for both (None when none was
    booked or none of it was ahead); `partner` is who stayed, for the CANCEL's
    attendees. `done` lists the steps taken: "calendar" (the cancelled series stored),
    "farewell" (the goodbye email) and "partner" (the one who stays was told).
    """

    role: Role
    member: Member
    partner: Member | None = None
    at: datetime
    series: Series | None = None
    welcomed: bool = False  # the leaving person had heard from us: they get a goodbye
    partner_welcomed: bool = False  # the one who stays had heard from us: they are told
    bounced: bool = False  # mail to the leaving person's address bounced
    done: list[str] = []

    @property
    def ref(self) -> str:
        stamp = self.at.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%MZ")
        return f"{self.member.id}/{stamp}"


class Pause(Frozen):
    """A pause of the pair's meetings: asked by `by` (None: the coordinator) at `at`, to end
    at `until` (None: open-ended, checked on after `cadence.pause.check_after`). `skipped`
    are the original starts of the meetings it cancelled (EXDATEs in the series); a pause
    that ends early gives back those still ahead. `ended` is when it ended."""

    by: Role | None = None
    at: datetime
    until: datetime | None = None
    ended: datetime | None = None
    skipped: list[datetime] = []
    told: list[Role] = []  # who has had the pause notice
    back: list[Role] = []  # who has had the resume notice

    @property
    def ref(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


class Held(Frozen):
    """A change a participant asked for by email that waits for their confirmation: the
    request came with our token or thread but without a trusted DMARC pass, so a
    confirmation went to their configured address (see `agent.pairs.trust`). `text` is what
    they wrote, read again when they confirm; `changes` says what it asks, in words."""

    ref: str  # names the confirmation (its action kind is "confirm_change:<ref>")
    role: Role
    person: str  # the participant's id: a replaced person's request lapses
    at: datetime  # when they wrote it
    until: datetime  # when it lapses unconfirmed (the coordinator is then told)
    text: str
    replied_to: str | None = None  # the kind of our email the request answered
    changes: list[str] = []


class Condition(Frozen):
    """A participant's answer to the agreement that is not consent yet: a condition
    ("I agree, but can we make it biweekly?") or a question asked before agreeing.
    It stands until that person agrees or declines (agent.mail_in.consent)."""

    text: str  # their words
    topic: str | None = None  # cadence, length, day, question or other
    at: datetime


class PairState(Frozen):
    """What the agent knows about one pair. Which emails went out is not kept here:
    the outbox in the store remembers every action's idempotency key."""

    pair_id: str
    stage: Stage = Stage.INVITED
    welcomed: dict[Role, datetime] = {}
    agreement_sent: dict[Role, datetime] = {}
    agreed: dict[Role, datetime] = {}
    declined: dict[Role, datetime] = {}
    goals: list[str] = []
    series: Series | None = None
    invited: dict[Role, int] = {}  # the series SEQUENCE each side last received
    stored: int = 0  # the series SEQUENCE the organizer's calendar holds
    heard: dict[Role, datetime] = {}  # last reply from each side
    paused_from: Stage | None = None
    paused_until: datetime | None = None  # the day the current pause ends (None: open-ended)
    pauses: list[Pause] = []  # every pause of this round, oldest first (the last may be on)
    left: dict[Role, datetime] = {}  # who left the program early, when
    closing_reason: str | None = None
    closure_sent: dict[Role, datetime] = {}
    offered: list[Series] = []  # meeting times offered to choose from (cadence.meetings.offer)
    offered_at: datetime | None = None
    chosen: int | None = None  # 1-based: the offered time the pair picked
    away: dict[Role, datetime] = {}  # out of office until, from an auto-reply
    failing: dict[Role, Failure] = {}  # the address that bounced
    # Changes made mid-flight by editing the config (see agent.pairs.reconcile):
    round: int = 0  # bumped when a participant is replaced; part of the action keys
    uids: int = 0  # how many series UIDs the pair has used besides its first
    earlier: list[Series] = []  # parts of the series before a cadence change, oldest first
    earlier_sent: dict[str, int] = {}  # SEQUENCE of earlier[-1] each of mentor, mentee,
    # calendar has received
    departed: list[Departure] = []  # people replaced in this pair, oldest first
    members: dict[Role, Member] = {}  # the people of a removed pair
    removed_at: datetime | None = None  # when the pair was removed from the config
    held: list[Held] = []  # requested changes waiting for confirmation, oldest first
    # declines in the calendar (agent.pairs.calendar_answers): a meeting's original start
    # (`original_key`) -> who declined it, and who declined the whole series, when
    declined_meetings: dict[str, list[Role]] = {}
    declined_series: dict[Role, datetime] = {}
    refresh: dict[Role, str] = {}  # asked for the invitation again (iTIP REFRESH): its ref
    conditions: dict[Role, Condition] = {}  # agreement answered with a condition: not agreed
    # when each side's latest reply went to the coordinator, who is to answer it
    # (agent.pairs.hearing_back); no reminder goes to them meanwhile (agent.pairs.planner)
    waiting: dict[Role, datetime] = {}
    mailed: dict[Role, datetime] = {}  # the latest email to each side (cadence.spacing)
    # the keys of the latest emails to each side, newest last: a reminder already sent does
    # not hold back the next one (agent.pairs.planner.civil_hours)
    recent: dict[Role, list[str]] = {}

    def bounced(self, role: Role, address: str) -> bool:
        """Mail to this address of `role` bounced (a changed address in the config clears it)."""
        failure = self.failing.get(role)
        return failure is not None and failure.address == address.lower()

    def is_away(self, role: Role, now: datetime) -> bool:
        until = self.away.get(role)
        return until is not None and now < until

    def both(self, field: dict[Role, object]) -> bool:
        return all(role in field for role in ROLES)

    def segments(self) -> list[Series]:
        """Every part of the pair's meetings in this round, oldest first."""
        return [*self.earlier, *([self.series] if self.series else [])]

    def first_meeting(self) -> datetime | None:
        """The start of the round's first meeting (before any cadence change)."""
        firsts = [s.first_start for s in self.segments()]
        return min(firsts) if firsts else None

    def declined_meeting(self, start: datetime) -> bool:
        """Whether someone declined, in the calendar, the meeting that starts at `start`."""
        if any(at <= start for at in self.declined_series.values()):
            return True
        if not self.declined_meetings:
            return False
        for series in self.segments():
            for original, actual in series.meetings():
                if actual == start:
                    return bool(self.declined_meetings.get(original_key(original)))
        return False

    def held_before(self, now: datetime) -> list[datetime]:
        """Starts of the round's meetings that have ended by `now`, across cadence changes."""
        return sorted(start for s in self.segments() for start in s.held_before(now))

    def last_held(self, now: datetime) -> datetime | None:
        """Start of the round's latest meeting that has ended by `now`."""
        return max(filter(None, (s.last_held(now) for s in self.segments())), default=None)

    def round_started(self) -> datetime | None:
        """When the current round began: the latest replacement, None for the first round."""
        return max((d.at for d in self.departed), default=None)

    def quiet_since(self) -> datetime | None:
        """Since when nobody has written: the last reply, the first meeting or the end of the
        latest pause, whichever is latest (a pause is not silence)."""
        first = self.first_meeting()
        if first is None:
            return None
        return max([first, *self.heard.values(), *(p.ended for p in self.pauses if p.ended)])

    def paused_for(self, since: datetime, now: datetime) -> timedelta:
        """How much of the span from `since` to `now` the pair spent paused."""
        total = timedelta()
        for p in self.pauses:
            start, end = max(p.at, since), min(p.ended or now, now)
            if end > start:
                total += end - start
        return total

    @property
    def pause(self) -> Pause | None:
        """The pause going on now, if any."""
        last = self.pauses[-1] if self.pauses else None
        return last if self.stage == Stage.PAUSED and last and last.ended is None else None

    @property
    def ended_early(self) -> str | None:
        """Why the pair ended before the program did (None: it did not)."""
        if self.stage not in ENDED or self.closing_reason in (None, PROGRAM_ENDED):
            return None
        return self.closing_reason

    def last_heard(self) -> datetime | None:
        return max(self.heard.values(), default=None)


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """An email of this kind went out to `role` (None for the coordinator)."""

    kind: str
    role: Role | None
    at: datetime
    sequence: int | None = None  # for emails carrying the series: the SEQUENCE they carried
    options: tuple[Series, ...] = ()  # for the email offering meeting times: what it offered
    ref: str | None = None  # for a step of a departure: its `Departure.ref`
    key: str | None = None  # the action's idempotency key (the latest few are kept per side)


@dataclass(frozen=True)
class Booked:
    series: Series


@dataclass(frozen=True)
class Replied:
    role: Role
    at: datetime
    interpretation: Interpretation
    until: datetime | None = None  # a pause asked for: the day it ends, when the reply says


@dataclass(frozen=True)
class Away:
    """An out-of-office auto-reply says `role` is back at `until`."""

    role: Role
    until: datetime


@dataclass(frozen=True)
class Bounced:
    """Mail to `role` at `address` could not be delivered, and why."""

    role: Role
    address: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Moved:
    """One meeting moves to `new_start` (a reschedule request or a calendar COUNTER)."""

    original: datetime
    new_start: datetime
    by: Role | None = None


@dataclass(frozen=True)
class Skipped:
    """One meeting will not take place."""

    original: datetime
    by: Role | None = None


@dataclass(frozen=True)
class Hold:
    """A requested change waits for the participant's confirmation."""

    held: Held


@dataclass(frozen=True)
class Settle:
    """A held change was confirmed, refused or has lapsed: it waits no more."""

    ref: str


@dataclass(frozen=True)
class PassedOn:
    """`role`'s reply written at `at` went to the coordinator to answer; `at` None: the
    coordinator has dealt with it."""

    role: Role
    at: datetime | None


@dataclass(frozen=True)
class Answered:
    """`role` answered the invitation in the calendar, for one meeting (`original`, its
    original start) or the whole series (None); a later answer replaces an earlier one."""

    role: Role
    original: datetime | None
    declines: bool
    at: datetime


@dataclass(frozen=True)
class Refresh:
    """`role`'s calendar asked for the current invitation again (RFC 5546 3.2.6); `ref`
    names the request, so that each one is answered once."""

    role: Role
    ref: str


@dataclass(frozen=True)
class Clock:
    """Time passed: closes pairs at the program's end and marks the first meeting held."""

    now: datetime
    closing_at: datetime


@dataclass(frozen=True)
class Removed:
    """The coordinator removed the pair from the config; `members` are its people."""

    members: dict[Role, Member]
    at: datetime


@dataclass(frozen=True)
class Replaced:
    """The coordinator put another person in `role`; `old` leaves, `partner` stays."""

    role: Role
    old: Member
    partner: Member | None
    at: datetime


@dataclass(frozen=True)
class Recadenced:
    """The meetings follow a new cadence: see `recadence` for `ended` and `current`."""

    ended: Series | None
    current: Series


@dataclass(frozen=True)
class Reissued:
    """The series goes out again without a change of time: `what` is "address" (sent
    to `role`'s new address) or "details" (a new video link, to both)."""

    what: Literal["address", "details"]
    at: datetime
    role: Role | None = None


Event = (
    Sent
    | Booked
    | Replied
    | Away
    | Bounced
    | Moved
    | Skipped
    | Clock
    | Removed
    | Replaced
    | Recadenced
    | Reissued
    | Hold
    | Settle
    | PassedOn
    | Answered
    | Refresh
)


def _with(state: PairState, **changes: object) -> PairState:
    return state.model_copy(update=changes)


def _put(mapping: dict[Role, datetime], role: Role, at: datetime) -> dict[Role, datetime]:
    """Record when something first happened for `role`; a repeat keeps the first time."""
    return {**mapping, role: mapping.get(role, at)}


def apply(state: PairState, event: Event) -> PairState:
    """The state after `event`. Pure; applying a fact twice is harmless."""
    if isinstance(event, Sent):
        return _sent(state, event)
    if isinstance(event, Booked):
        stage = Stage.SCHEDULED if state.stage not in (*ENDED, Stage.PAUSED) else state.stage
        return _with(state, series=event.series, stage=stage, stored=event.series.sequence)
    if isinstance(event, Replied):
        return _replied(state, event)
    if isinstance(event, Away):
        return _with(state, away={**state.away, event.role: event.until})
    if isinstance(event, Moved | Skipped):
        return _meeting_changed(state, event)
    if isinstance(event, Bounced):
        failure = Failure(address=event.address.lower(), reason=event.reason, at=event.at)
        return _with(state, failing={**state.failing, event.role: failure})
    if isinstance(event, Removed):
        return _removed(state, event)
    if isinstance(event, Replaced):
        return _replaced(state, event)
    if isinstance(event, Recadenced):
        return _recadenced(state, event)
    if isinstance(event, Reissued):
        return _reissued(state, event)
    if isinstance(event, Hold | Settle):
        return _held(state, event)
    if isinstance(event, Answered):
        return _answered(state, event)
    if isinstance(event, Refresh):
        return _with(state, refresh={**state.refresh, event.role: event.ref})
    if isinstance(event, PassedOn):
        waiting = {r: t for r, t in state.waiting.items() if r != event.role}
        return _with(state, waiting={**waiting, event.role: event.at} if event.at else waiting)
    return _clock(state, event)


def _departure_step(state: PairState, event: Sent, step: str) -> PairState:
    """Mark one step of a departure as done (the one `event.ref` names, else the first)."""
    departed = list(state.departed)
    for i, departure in enumerate(departed):
        if step in departure.done or (event.ref and departure.ref != event.ref):
            continue
        departed[i] = departure.model_copy(update={"done": [*departure.done, step]})
        return _with(state, departed=departed)
    return state


RECENT_KEYS = 12  # more than there are kinds of reminder: each kind's latest is among them


def _sent(state: PairState, event: Sent) -> PairState:
    role, at = event.role, event.at
    if role and (role not in state.mailed or at > state.mailed[role]):
        state = _with(state, mailed={**state.mailed, role: at})
    if role and event.key and event.key not in state.recent.get(role, []):
        keys = [*state.recent.get(role, []), event.key][-RECENT_KEYS:]
        state = _with(state, recent={**state.recent, role: keys})
    step = {"retire_series": "calendar", "farewell": "farewell", "partner_changed": "partner"}
    if event.kind in step:
        return _departure_step(state, event, step[event.kind])
    if event.kind == "confirm_expired" and event.ref:  # the coordinator was told
        return _held(state, Settle(event.ref))
    if event.kind in ("end_series", "series_ended") and event.sequence is not None:
        who = role or "calendar"
        sent = {**state.earlier_sent, who: max(state.earlier_sent.get(who, -1), event.sequence)}
        return _with(state, earlier_sent=sent)
    if event.kind == "pair_removed" and role:
        sent = _put(state.closure_sent, role, at)
        if state.series and event.sequence is not None:
            state = _with(state, invited={**state.invited, role: event.sequence})
        closed = all(r in sent for r in ROLES if r in state.welcomed)
        return _with(state, closure_sent=sent, stage=Stage.CLOSED if closed else state.stage)
    if event.kind == "welcome" and role:
        stage = Stage.ONBOARDING if state.stage == Stage.INVITED else state.stage
        return _with(state, welcomed=_put(state.welcomed, role, at), stage=stage)
    if event.kind == "agreement" and role:
        stage = state.stage
        if stage in (Stage.INVITED, Stage.ONBOARDING):
            stage = Stage.AGREEMENT_PENDING
        return _with(state, agreement_sent=_put(state.agreement_sent, role, at), stage=stage)
    if event.kind == "slot_options" and event.options and not state.offered:
        return _with(state, offered=list(event.options), offered_at=at)
    if event.kind == "cancel_series" and state.series and state.series.status != "cancelled":
        cancelled = {"status": "cancelled", "sequence": state.series.sequence + 1}
        return _with(state, series=state.series.model_copy(update=cancelled))
    if event.kind == "update_series" and event.sequence is not None:
        return _with(state, stored=max(state.stored, event.sequence))
    if event.kind in ("pause", "resume") and role and event.ref:
        state = _pause_told(state, event.ref, "told" if event.kind == "pause" else "back", role)
    if event.kind == "invitation" and role in state.refresh:
        state = _with(state, refresh={r: v for r, v in state.refresh.items() if r != role})
    if role and event.sequence is not None:
        state = _with(state, invited={**state.invited, role: event.sequence})
    if event.kind in GOODBYES and role:
        sent = _put(state.closure_sent, role, at)
        closed = all(r in sent for r in ROLES)
        return _with(state, closure_sent=sent, stage=Stage.CLOSED if closed else state.stage)
    return state


def _pause_told(state: PairState, ref: str, field: str, role: Role) -> PairState:
    pauses = list(state.pauses)
    for i, p in enumerate(pauses):
        if p.ref == ref and role not in getattr(p, field):
            pauses[i] = p.model_copy(update={field: [*getattr(p, field), role]})
    return _with(state, pauses=pauses)


GOODBYES = ("closure", "goodbye", "partner_left")  # the last email of a pair to a person


def _replied(state: PairState, event: Replied) -> PairState:
    role, at, meaning = event.role, event.at, event.interpretation
    state = _with(
        state,
        heard={**state.heard, role: max(at, state.heard.get(role, at))},
        # whoever writes is back and reachable
        away={r: t for r, t in state.away.items() if r != role},
        failing={r: a for r, a in state.failing.items() if r != role},
    )
    if state.stage in ENDED:
        return state
    state = _goals_changed(state, meaning)
    others = {r: c for r, c in state.conditions.items() if r != role}
    condition = meaning.first(IntentKind.CONDITION)
    if meaning.has(IntentKind.AGREE) and not meaning.has(IntentKind.DECLINE):
        agreed = _put(state.agreed, role, at)
        declined = {r: t for r, t in state.declined.items() if r != role}
        state = _with(state, agreed=agreed, declined=declined, conditions=others)
        if state.both(agreed) and state.stage in BEFORE_AGREEMENT:
            state = _with(state, stage=Stage.AGREED)
    elif meaning.has(IntentKind.DECLINE) and role not in state.agreed:
        state = _with(state, declined=_put(state.declined, role, at), conditions=others)
    elif condition and role not in state.agreed:
        recorded = Condition(text=condition.text, topic=condition.topic, at=at)
        state = _with(state, conditions={**others, role: recorded})
    choice = meaning.first(IntentKind.CHOICE)
    if choice and choice.value and state.chosen is None and choice.value <= len(state.offered):
        state = _with(state, chosen=choice.value)  # the first answer wins
    if meaning.has(IntentKind.STOP):
        return leave(state, role, at)
    if meaning.has(IntentKind.PAUSE) and state.stage != Stage.PAUSED:
        return pause(state, at, role, event.until)
    if meaning.has(IntentKind.RESUME) and state.stage == Stage.PAUSED:
        return resume(state, at)
    return state


PROGRAM_ENDED = "the program ended"


def leave(state: PairState, role: Role, at: datetime) -> PairState:
    """`role` leaves the program early: the pair closes (their goodbye, the partner told,
    the series cancelled); a second leaver joins the first."""
    if state.stage == Stage.CLOSED or role in state.left:
        return state
    left = {**state.left, role: at}
    who = "both left the program" if len(left) == 2 else f"the {role} left the program"
    return _with(state, stage=Stage.CLOSING, closing_reason=who, left=left)


def pause(state: PairState, at: datetime, by: Role | None, until: datetime | None) -> PairState:
    """Pause the pair from `at` to `until` (None: open-ended): the meetings in that span
    are cancelled in the series (EXDATE, same UID, SEQUENCE+1). Pausing a paused pair
    again sets the new end."""
    if state.stage in ENDED:
        return state
    current = state.pause
    if current is not None:
        if current.until == until:
            return state
        state = resume(state, at)
    series, skipped = state.series, []
    if series and series.status == "confirmed":
        taken = {original_key(o) for o in series.skipped}
        skipped = [
            o
            for o, start in series.meetings()
            if start > at and (until is None or start < until) and original_key(o) not in taken
        ]
        if skipped:
            change = Change(original=skipped[0], what="meeting")
            update = {
                "skipped": [*series.skipped, *skipped],
                "sequence": series.sequence + 1,
                "change": change,
            }
            state = _with(state, series=series.model_copy(update=update))
    record = Pause(by=by, at=at, until=until, skipped=skipped)
    paused_from = state.paused_from if state.stage == Stage.PAUSED else state.stage
    return _with(
        state,
        stage=Stage.PAUSED,
        paused_from=paused_from,
        paused_until=until,
        pauses=[*state.pauses, record],
    )


def resume(state: PairState, at: datetime) -> PairState:
    """End the pause at `at`: the meetings it cancelled that are still ahead come back."""
    if state.stage != Stage.PAUSED:
        return state
    current = state.pause
    pauses = list(state.pauses)
    series = state.series
    if current is not None:
        pauses[-1] = current.model_copy(update={"ended": at})
        back = {original_key(o) for o in current.skipped if o > at}
        if series and series.status == "confirmed" and back:
            kept = [o for o in series.skipped if original_key(o) not in back]
            first = min(o for o in current.skipped if o > at)
            update = {
                "skipped": kept,
                "sequence": series.sequence + 1,
                "change": Change(original=first, what="meeting"),
            }
            series = series.model_copy(update=update)
    return _with(
        state,
        stage=state.paused_from or Stage.SCHEDULED,
        paused_from=None,
        paused_until=None,
        pauses=pauses,
        series=series,
    )


def _goals_changed(state: PairState, meaning: Interpretation) -> PairState:
    """Goals set (a list), one goal changed ("change goal 2 to ..."), or goals added."""
    goals = list(state.goals)
    for intent in meaning.intents:
        if intent.kind == IntentKind.GOALS and intent.items and intent.goal is None:
            goals = list(intent.items)
        elif intent.kind == IntentKind.GOALS and intent.items and intent.goal:
            if intent.goal <= len(goals):
                goals[intent.goal - 1] = intent.items[0]
            else:
                goals.append(intent.items[0])
        elif intent.kind == IntentKind.NEW_GOAL and intent.text and intent.text not in goals:
            goals.append(intent.text)
    return state if goals == state.goals else _with(state, goals=goals)


MAX_HELD = 5  # per pair; a sixth request pushes out the oldest


def _held(state: PairState, event: Hold | Settle) -> PairState:
    ref = event.held.ref if isinstance(event, Hold) else event.ref
    held = [h for h in state.held if h.ref != ref]
    if isinstance(event, Hold):
        held = [*held, event.held][-MAX_HELD:]
    return state if held == state.held else _with(state, held=held)


def _meeting_changed(state: PairState, event: Moved | Skipped) -> PairState:
    """A new SEQUENCE of the series with one meeting moved or skipped (RFC 5546 2.1.4)."""
    series = state.series
    if series is None or series.status != "confirmed":
        return state
    key = original_key(event.original)
    if isinstance(event, Moved):
        if series.moved.get(key) == event.new_start:
            return state
        update: dict[str, object] = {"moved": {**series.moved, key: event.new_start}}
        change = Change(original=event.original, new_start=event.new_start, by=event.by)
    else:
        if any(original_key(o) == key for o in series.skipped):
            return state
        moved = {k: v for k, v in series.moved.items() if k != key}
        update = {"skipped": [*series.skipped, event.original], "moved": moved}
        change = Change(original=event.original, by=event.by)
    update |= {"sequence": series.sequence + 1, "change": change}
    changed = series.model_copy(update=update)
    return _with(state, series=changed)


def _answered(state: PairState, event: Answered) -> PairState:
    if event.original is None:
        series = {r: t for r, t in state.declined_series.items() if r != event.role}
        if event.declines:
            series[event.role] = event.at
        return _with(state, declined_series=series)
    key = original_key(event.original)
    who = [r for r in state.declined_meetings.get(key, []) if r != event.role]
    if event.declines:
        who.append(event.role)
    meetings = {k: v for k, v in state.declined_meetings.items() if k != key}
    if who:
        meetings[key] = who
    return _with(state, declined_meetings=meetings)


def _clock(state: PairState, event: Clock) -> PairState:
    if state.stage not in ENDED and event.now >= event.closing_at:
        return _with(state, stage=Stage.CLOSING, closing_reason=PROGRAM_ENDED)
    if state.stage == Stage.PAUSED and state.paused_until and event.now >= state.paused_until:
        state = resume(state, state.paused_until)
    if state.stage == Stage.SCHEDULED and state.held_before(event.now):
        return _with(state, stage=Stage.ACTIVE)
    return state


def _removed(state: PairState, event: Removed) -> PairState:
    """Closing for good: nothing more is planned but the cancel and the goodbye emails."""
    if state.removed_at is not None:
        return state
    # changes waiting for confirmation lapse with the pair (and their text goes)
    update: dict[str, object] = {"members": event.members, "removed_at": event.at, "held": []}
    if state.stage == Stage.CLOSED:
        return _with(state, **update)
    told = any(role in state.welcomed for role in ROLES)
    return _with(
        state,
        **update,
        stage=Stage.CLOSING if told else Stage.CLOSED,
        closing_reason="removed from the program",
    )


def _replaced(state: PairState, event: Replaced) -> PairState:
    """A new round of the pair with another person in `event.role`.

    The one who stays keeps what they did (welcome, agreement, goals, replies); the new
    person starts at the welcome. The series, booked for the old pair of people, is
    cancelled for both; a new one is booked once both have agreed.
    """
    if state.stage in ENDED:
        return state
    role, other = event.role, other_role(event.role)
    series = state.series
    cancelled = None
    if series and series.status == "confirmed" and series.next_after(event.at):
        cancelled = series.model_copy(
            update={"status": "cancelled", "sequence": series.sequence + 1, "change": None}
        )
    failure = state.failing.get(role)
    departure = Departure(
        role=role,
        member=event.old,
        partner=event.partner,
        at=event.at,
        series=cancelled,
        welcomed=role in state.welcomed,
        partner_welcomed=other in state.welcomed,
        bounced=failure is not None and failure.address == event.old.email.lower(),
    )
    departed = list(state.departed)
    for i, earlier in enumerate(departed):
        # the one who was to be told of a new partner leaves too: their goodbye says it
        # all, and carries the CANCEL they were to get
        if earlier.partner and earlier.partner.id == event.old.id and "partner" not in earlier.done:
            departed[i] = earlier.model_copy(update={"partner_welcomed": False})
            if cancelled is None and earlier.series is not None:
                # (the calendar is seen to by the earlier departure)
                update = {"series": earlier.series, "done": ["calendar"]}
                departure = departure.model_copy(update=update)
    if departure.welcomed or departure.partner_welcomed or departure.series:
        departed.append(departure)

    def stays(mapping: dict[Role, object]) -> dict[Role, object]:
        return {r: v for r, v in mapping.items() if r == other}

    return _with(
        state,
        stage=Stage.ONBOARDING if other in state.welcomed else Stage.INVITED,
        round=state.round + 1,
        uids=state.uids + 1,
        welcomed=stays(state.welcomed),  # type: ignore[arg-type]
        agreement_sent=stays(state.agreement_sent),  # type: ignore[arg-type]
        agreed=stays(state.agreed),  # type: ignore[arg-type]
        declined=stays(state.declined),  # type: ignore[arg-type]
        heard=stays(state.heard),  # type: ignore[arg-type]
        away=stays(state.away),  # type: ignore[arg-type]
        failing=stays(state.failing),  # type: ignore[arg-type]
        conditions=stays(state.conditions),  # type: ignore[arg-type]
        waiting=stays(state.waiting),  # type: ignore[arg-type]
        series=None,
        invited={},
        stored=0,
        earlier=[],
        earlier_sent={},
        offered=[],
        offered_at=None,
        chosen=None,
        paused_from=None,
        paused_until=None,
        pauses=[],
        left={},
        closing_reason=None,
        closure_sent={},
        departed=departed,
    )


def _recadenced(state: PairState, event: Recadenced) -> PairState:
    if event.ended is None:  # rewritten in place: same UID, higher SEQUENCE
        return _with(state, series=event.current)
    return _with(
        state,
        series=event.current,
        earlier=[*state.earlier, event.ended],
        earlier_sent={},
        invited={},
        stored=-1,  # the new series' UID is not in the calendar yet
        uids=state.uids + 1,
    )


def _reissued(state: PairState, event: Reissued) -> PairState:
    series = state.series
    if series is None or series.status != "confirmed":
        return state
    upcoming = series.next_after(event.at) or series.first_start
    sequence = series.sequence + 1
    change = Change(original=upcoming, what=event.what)
    invited = dict(state.invited)
    if event.what == "address" and event.role:
        # only the person at the new address needs it; the other's copy is unchanged
        invited = {
            r: sequence if s == series.sequence else s
            for r, s in invited.items()
            if r != event.role
        }
    return _with(
        state,
        series=series.model_copy(update={"sequence": sequence, "change": change}),
        invited=invited,
    )
