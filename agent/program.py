"""The pure state machine of one mentoring pair: PairState + event -> PairState.

Stages, in the order a pair normally moves through them:

    invited -> onboarding -> agreement_pending -> agreed -> scheduled -> active
                                                                  ^        |
                                                                  +- paused <-+
    any stage -> closing -> closed

`invited` is a configured pair nobody has written to; `onboarding` means the
welcome went out; `agreement_pending` the agreement went out; `agreed` both
sides agreed; `scheduled` the meeting series is booked; `active` the first
meeting has taken place. `closing` is entered at the program's end or when a
participant leaves, and becomes `closed` once the closing emails are out.

Events are facts: an email was sent, a series was booked, a participant
replied, time passed. Applying the same fact twice changes nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from agent.model import ROLES, IntentKind, Interpretation, Role
from agent.slots import SeriesSlot


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
    """One meeting of a series moved or skipped; `new_start` is None for a skip."""

    original: datetime
    new_start: datetime | None = None
    by: Role | None = None  # who asked


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
        """(original start, actual start) of every meeting that takes place, by actual start."""
        skipped = {original_key(o) for o in self.skipped}
        out = [
            (o, self.moved.get(original_key(o), o))
            for o in self.slot().occurrences()
            if original_key(o) not in skipped
        ]
        return sorted(out, key=lambda pair: pair[1])

    def starting_from(self, earliest: datetime) -> Series | None:
        """This series begun at its first meeting on or after `earliest` (None if none)."""
        start = next((o for o in self.slot().occurrences() if o >= earliest), None)
        return None if start is None else self.model_copy(update={"first_start": start})

    def moved_meetings(self) -> list[tuple[datetime, datetime]]:
        """(original start, new start) of each moved meeting, for RECURRENCE-ID overrides."""
        return [(o, start) for o, start in self.meetings() if original_key(o) in self.moved]

    def held_before(self, now: datetime) -> list[datetime]:
        """Starts of the meetings that have ended by `now`."""
        return [start for _, start in self.meetings() if start + self.duration <= now]

    def next_after(self, now: datetime) -> datetime | None:
        return next((start for _, start in self.meetings() if start >= now), None)

    def upcoming(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """(original, actual) of the meetings that have not started by `now`."""
        return [(o, start) for o, start in self.meetings() if start > now]


def original_key(start: datetime) -> str:
    """A meeting's identity: its original start in UTC (what RECURRENCE-ID points to)."""
    return start.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")


class Failure(Frozen):
    """Mail to a participant's address could not be delivered."""

    address: str
    reason: str
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
    closing_reason: str | None = None
    closure_sent: dict[Role, datetime] = {}
    offered: list[Series] = []  # meeting times offered to choose from (cadence.meetings.offer)
    offered_at: datetime | None = None
    chosen: int | None = None  # 1-based: the offered time the pair picked
    away: dict[Role, datetime] = {}  # out of office until, from an auto-reply
    failing: dict[Role, Failure] = {}  # the address that bounced

    def bounced(self, role: Role, address: str) -> bool:
        """Mail to this address of `role` bounced (a changed address in the config clears it)."""
        failure = self.failing.get(role)
        return failure is not None and failure.address == address.lower()

    def is_away(self, role: Role, now: datetime) -> bool:
        until = self.away.get(role)
        return until is not None and now < until

    def both(self, field: dict[Role, object]) -> bool:
        return all(role in field for role in ROLES)

    def quiet_since(self) -> datetime | None:
        """Since when nobody has written: the last reply, or the first meeting if later."""
        if self.series is None:
            return None
        return max([self.series.first_start, *self.heard.values()])

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


@dataclass(frozen=True)
class Booked:
    series: Series


@dataclass(frozen=True)
class Replied:
    role: Role
    at: datetime
    interpretation: Interpretation


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
class Clock:
    """Time passed: closes pairs at the program's end and marks the first meeting held."""

    now: datetime
    closing_at: datetime


Event = Sent | Booked | Replied | Away | Bounced | Moved | Skipped | Clock


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
    return _clock(state, event)


def _sent(state: PairState, event: Sent) -> PairState:
    role, at = event.role, event.at
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
    if role and event.sequence is not None:
        state = _with(state, invited={**state.invited, role: event.sequence})
    if event.kind == "closure" and role:
        sent = _put(state.closure_sent, role, at)
        closed = all(r in sent for r in ROLES)
        return _with(state, closure_sent=sent, stage=Stage.CLOSED if closed else state.stage)
    return state


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
    goals = meaning.first(IntentKind.GOALS)
    if goals and goals.items:
        state = _with(state, goals=list(goals.items))
    if meaning.has(IntentKind.AGREE) and not meaning.has(IntentKind.DECLINE):
        agreed = _put(state.agreed, role, at)
        declined = {r: t for r, t in state.declined.items() if r != role}
        state = _with(state, agreed=agreed, declined=declined)
        if state.both(agreed) and state.stage in BEFORE_AGREEMENT:
            state = _with(state, stage=Stage.AGREED)
    elif meaning.has(IntentKind.DECLINE) and role not in state.agreed:
        state = _with(state, declined=_put(state.declined, role, at))
    choice = meaning.first(IntentKind.CHOICE)
    if choice and choice.value and state.chosen is None and choice.value <= len(state.offered):
        state = _with(state, chosen=choice.value)  # the first answer wins
    if meaning.has(IntentKind.STOP):
        return _with(state, stage=Stage.CLOSING, closing_reason=f"{role} left the program")
    if meaning.has(IntentKind.PAUSE) and state.stage != Stage.PAUSED:
        return _with(state, stage=Stage.PAUSED, paused_from=state.stage)
    if meaning.has(IntentKind.RESUME) and state.stage == Stage.PAUSED:
        return _with(state, stage=state.paused_from or Stage.SCHEDULED, paused_from=None)
    return state


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


def _clock(state: PairState, event: Clock) -> PairState:
    if state.stage not in ENDED and event.now >= event.closing_at:
        return _with(state, stage=Stage.CLOSING, closing_reason="the program ended")
    if state.stage == Stage.SCHEDULED and state.series and state.series.held_before(event.now):
        return _with(state, stage=Stage.ACTIVE)
    return state
