"""Program changes made mid-flight by editing the config. Pure.

The coordinator changes the program by editing the config file. Each tick compares
the config with a snapshot of what the agent last acted on (the store's meta
`program_snapshot`: per pair the mentor's and mentee's id, name, address, time zone
and hours; the meetings' interval, length and video link), turns the differences
into `Change`s and applies them to the pairs' states as events before planning.
The planner then does the rest from the state, as for anything else: emails,
CANCELs, updated invitations, bookings, each once and retried until done.
`tick --dry-run` prints the changes and changes nothing.

What each change does:

- `PairAdded`: nothing here: the planner onboards a new pair (welcome, agreement). A
  pair id that was removed before and comes back starts afresh (a new round).
- `PairRemoved`: the pair's state is kept as history, marked removed, with its people
  (the config no longer has their names and addresses). Its series is cancelled
  (CANCEL, SEQUENCE+1, in the calendar and to both) and both are told kindly in the
  `pair_removed` email, whose replies go to the coordinator. Nothing else is planned.
- `PartnerReplaced` (same pair id, another mentor or mentee): the leaving person gets
  a `farewell` with the CANCEL of the series; the one who stays gets `partner_changed`
  (who the new person is) with the same CANCEL; the new person gets the welcome and
  the agreement. The one who stays keeps their agreement, goals and history. Once the
  new person agrees, a new series (a new UID) is booked for the two of them.
- `DetailsChanged` (same person, new address, name, time zone or hours): the next
  emails use the new details. A new address gets the booked series' invitation
  again (and a bounce hold on the old address ends, as it always did).
- `CadenceChanged` (`cadence.meetings.every` or `duration`): every booked series
  follows the new cadence from its next meeting on (see `program.recadence`);
  meetings that took place stay as they were. When the same weekday and time with
  the new length no longer fit both people's hours, the slot finder picks a new time
  from the next meeting on (without busy times: those are asked of the calendar only
  when booking); when nothing fits, the series stays as it is and the coordinator is
  told. Pairs are compared with the config on every tick, so such a pair follows
  the cadence once the config makes room for it.
- `LinkChanged` (`cadence.meetings.video_link`): updated invitations with the new link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.config.model import Config, Pair
from agent.mail_in.message import ROLES, Role, other_role
from agent.meetings.timefmt import at_local
from agent.pairs.members import member_of
from agent.pairs.memo import per_object
from agent.pairs.planner import Action, fits, search_series, series_uid
from agent.pairs.program import (
    ENDED,
    Event,
    Member,
    PairState,
    Recadenced,
    Reissued,
    Removed,
    Replaced,
    Stage,
    apply,
    recadence,
)

__all__ = [
    "CadenceChanged",
    "Change",
    "DetailsChanged",
    "LinkChanged",
    "PairAdded",
    "PairRemoved",
    "PartnerReplaced",
    "Reconciled",
    "changes",
    "reconcile",
    "snapshot",
]

SNAPSHOT_VERSION = 1


def _names(people: Mapping[Role, Member]) -> str:
    return " and ".join(people[r].first_name for r in ROLES if r in people)


def _told(state: PairState | None, roles: tuple[Role, ...] = ROLES) -> list[Role]:
    return [r for r in roles if state is not None and r in state.welcomed]


def _booked(state: PairState | None, now: datetime | None = None) -> bool:
    series = state.series if state else None
    if series is None or series.status != "confirmed" or state is None:
        return False
    return state.stage not in ENDED and (now is None or series.next_after(now) is not None)


def _every(weeks: int, minutes: int) -> str:
    every = "every week" if weeks == 1 else f"every {weeks} weeks"
    return f"{every} for {minutes} minutes"


@dataclass(frozen=True)
class PairAdded:
    pair_id: str
    people: dict[Role, Member]

    def describe(self, state: PairState | None, now: datetime) -> str:
        again = " again, afresh" if state is not None and state.removed_at else ""
        return (
            f"add pair {self.pair_id}{again} ({_names(self.people)}): "
            "welcome and agreement to both when onboarding is open"
        )


@dataclass(frozen=True)
class PairRemoved:
    pair_id: str
    people: dict[Role, Member]

    def describe(self, state: PairState | None, now: datetime) -> str:
        if state is None or state.removed_at or state.stage == Stage.CLOSED:
            return f"remove pair {self.pair_id}: it had ended; nothing to do"
        told = _told(state)
        steps = ["cancel the series"] if _booked(state, now) else []
        if told:
            steps.append(f"tell {_names({r: self.people[r] for r in told if r in self.people})}")
        else:
            steps.append("nothing had been sent, so nobody is told")
        return f"remove pair {self.pair_id}: {', '.join(steps)}"


@dataclass(frozen=True)
class PartnerReplaced:
    pair_id: str
    role: Role
    old: Member
    new: Member
    partner: Member | None  # who stays (as the snapshot knew them)

    def describe(self, state: PairState | None, now: datetime) -> str:
        head = (
            f"replace the {self.role} of {self.pair_id}: {self.new.name} instead of {self.old.name}"
        )
        if state is not None and state.stage in ENDED:
            return f"{head}: the pair has ended; nothing to do"
        steps = []
        if state is not None and self.role in state.welcomed:
            steps.append(f"goodbye to {self.old.first_name}")
        if _booked(state, now):
            steps.append("cancel the series")
        stays = other_role(self.role)
        if self.partner and state is not None and stays in state.welcomed:
            steps.append(f"tell {self.partner.first_name} who the new {self.role} is")
        steps.append(f"welcome and agreement to {self.new.first_name}")
        if state is not None and state.series is not None:
            steps.append(f"a new series is booked once {self.new.first_name} agrees")
        return f"{head}: {', '.join(steps)}"


@dataclass(frozen=True)
class DetailsChanged:
    pair_id: str
    role: Role
    old: Member
    new: Member

    @property
    def fields(self) -> list[str]:
        names = {"email": "address", "name": "name", "timezone": "time zone", "hours": "hours"}
        return [
            label
            for key, label in names.items()
            if getattr(self.old, key) != getattr(self.new, key)
        ]

    def describe(self, state: PairState | None, now: datetime) -> str:
        what = ", ".join(self.fields)
        head = f"{self.new.name} ({self.role} of {self.pair_id}): new {what}"
        steps = ["the next emails use it"]
        if "address" in self.fields and _booked(state, now):
            steps.append(f"the invitation goes again to {self.new.email}")
        if {"time zone", "hours"} & set(self.fields) and _booked(state, now):
            steps.append("the booked meetings stay as they are")
        return f"{head}: {', '.join(steps)}"


@dataclass(frozen=True)
class CadenceChanged:
    old: tuple[int, int]  # (interval in weeks, minutes)
    new: tuple[int, int]
    pair_id: str | None = None

    def describe(self, state: PairState | None, now: datetime) -> str:
        return (
            f"meetings {_every(*self.old)} -> {_every(*self.new)}: booked series follow it "
            "from their next meeting, with updated invitations to both"
        )


@dataclass(frozen=True)
class LinkChanged:
    old: str
    new: str
    pair_id: str | None = None

    def describe(self, state: PairState | None, now: datetime) -> str:
        return f"new video link {self.new}: updated invitations for the booked series"


Change = PairAdded | PairRemoved | PartnerReplaced | DetailsChanged | CadenceChanged | LinkChanged


# -- the snapshot ---------------------------------------------------------------------------


def _people(cfg: Config, pair: Pair) -> dict[Role, Member]:
    return {r: member_of(cfg.participant(getattr(pair, r))) for r in ROLES}


@per_object
def snapshot(cfg: Config) -> dict[str, Any]:
    """What the agent acts on, as plain data for the store's meta `program_snapshot`.
    Once per loaded config (read-only: do not change it)."""
    meetings = cfg.cadence.meetings
    return {
        "version": SNAPSHOT_VERSION,
        "meetings": {
            "every_weeks": meetings.every.days // 7,
            "duration_minutes": int(meetings.duration.total_seconds() // 60),
            "video_link": meetings.video_link,
        },
        "pairs": {
            pair.id: {r: m.model_dump(mode="json") for r, m in _people(cfg, pair).items()}
            for pair in cfg.pairs
        },
    }


def _read_people(data: Any) -> dict[Role, Member] | None:
    try:
        return {r: Member.model_validate(data[r]) for r in ROLES}
    except (KeyError, TypeError, ValueError):
        return None


def changes(previous: Mapping[str, Any] | None, cfg: Config) -> list[Change]:
    """What changed in `cfg` since `previous` (a `snapshot`), in the order to apply it:
    removals, replacements, new details, additions, then the meetings. None (no
    snapshot yet: the first tick, or a state from before snapshots) means no changes."""
    if not isinstance(previous, Mapping) or previous.get("version") != SNAPSHOT_VERSION:
        return []
    current = snapshot(cfg)
    if previous == current:
        return []  # most ticks
    before_pairs: dict[str, Any] = previous.get("pairs") or {}
    now_pairs: dict[str, Any] = current["pairs"]
    removed: list[Change] = []
    replaced: list[Change] = []
    details: list[Change] = []
    added: list[Change] = []
    for pair_id, data in before_pairs.items():
        people = _read_people(data)
        if pair_id not in now_pairs and people is not None:
            removed.append(PairRemoved(pair_id, people))
    for pair_id, data in now_pairs.items():
        people = _read_people(data)
        assert people is not None
        old = _read_people(before_pairs.get(pair_id))
        if old is None:
            added.append(PairAdded(pair_id, people))
            continue
        for role in ROLES:
            if old[role].id != people[role].id:
                partner = old[other_role(role)]
                replaced.append(PartnerReplaced(pair_id, role, old[role], people[role], partner))
            elif old[role] != people[role]:
                details.append(DetailsChanged(pair_id, role, old[role], people[role]))
    out: list[Change] = [*removed, *replaced, *details, *added]
    before, after = previous.get("meetings") or {}, current["meetings"]
    old_cadence = (before.get("every_weeks"), before.get("duration_minutes"))
    new_cadence = (after["every_weeks"], after["duration_minutes"])
    if None not in old_cadence and old_cadence != new_cadence:
        out.append(CadenceChanged(old_cadence, new_cadence))  # type: ignore[arg-type]
    if before.get("video_link") not in (None, after["video_link"]):
        out.append(LinkChanged(before["video_link"], after["video_link"]))
    return out


# -- applying the changes -------------------------------------------------------------------


@dataclass
class Reconciled:
    """The states after the changes, a line per thing done (or, in a dry run, to be
    done), and coordinator emails to send."""

    states: dict[str, PairState]
    notes: list[str] = field(default_factory=list)
    notices: list[Action] = field(default_factory=list)


def reconcile(
    cfg: Config, states: Mapping[str, PairState], found: list[Change], now: datetime
) -> Reconciled:
    """Apply `found` (from `changes`) to `states`, then bring every booked series to the
    configured cadence. `states` must hold the states of removed pairs too."""
    out = Reconciled(dict(states))
    for change in found:
        pair_id = change.pair_id
        out.notes.append(change.describe(out.states.get(pair_id) if pair_id else None, now))
        for target, event in _events(cfg, change, out.states, now):
            out.states[target] = apply(out.states[target], event)
        if isinstance(change, PairAdded):
            old = out.states.get(change.pair_id)
            if old is not None and old.removed_at is not None:  # back again: a new start
                fresh = PairState(pair_id=old.pair_id, round=old.round + 1, uids=old.uids + 1)
                out.states[change.pair_id] = fresh
    for pair in cfg.pairs:
        state = out.states.get(pair.id)
        if state is None:
            continue
        event, note, notice = _cadence(cfg, pair, state, now)
        if event is not None:
            out.states[pair.id] = apply(state, event)
        if note:
            out.notes.append(note)
        if notice is not None:
            out.notices.append(notice)
    return out


def _events(
    cfg: Config, change: Change, states: Mapping[str, PairState], now: datetime
) -> list[tuple[str, Event]]:
    if isinstance(change, PairRemoved):
        return [(change.pair_id, Removed(change.people, now))] if change.pair_id in states else []
    if isinstance(change, PartnerReplaced):
        return [(change.pair_id, Replaced(change.role, change.old, change.partner, now))]
    if isinstance(change, DetailsChanged):
        state = states.get(change.pair_id)
        if change.old.email.lower() != change.new.email.lower() and _booked(state, now):
            return [(change.pair_id, Reissued("address", now, change.role))]
        return []
    if isinstance(change, LinkChanged):
        return [
            (p.id, Reissued("details", now)) for p in cfg.pairs if _booked(states.get(p.id), now)
        ]
    return []  # added pairs are onboarded by the planner; cadence: see `_cadence`


def _cadence(
    cfg: Config, pair: Pair, state: PairState, now: datetime
) -> tuple[Event | None, str | None, Action | None]:
    """A booked series whose interval or length is not the configured one follows the
    configured one from its next meeting on: (the event, a line for the report, an email
    to the coordinator when it cannot)."""
    series = state.series
    if series is None or series.status != "confirmed" or state.stage in ENDED:
        return None, None, None
    meetings = cfg.cadence.meetings
    weeks, minutes = meetings.every.days // 7, int(meetings.duration.total_seconds() // 60)
    if (series.interval_weeks, series.duration_minutes) == (weeks, minutes):
        return None, None, None
    ahead = [o for o in series.slot().occurrences() if o > now]
    if not ahead:
        return None, None, None
    new_uid = series_uid(cfg, pair, state.uids + 1)
    cadence = {"interval_weeks": weeks, "duration_minutes": minutes, "new_uid": new_uid, "at": now}
    ended, current = recadence(series, first_start=ahead[0], **cadence)  # type: ignore[arg-type]
    if not fits(cfg, pair, current):
        search = search_series(cfg, pair, now)
        if not search.slots:
            stamp = f"{weeks}w{minutes}m"
            prefix = pair.id if state.round == 0 else f"{pair.id}~{state.round}"
            explanation = search.explanation or "no common time"
            notice = Action(
                f"{prefix}/escalation_cadence/{stamp}/coordinator",
                "escalation_cadence",
                pair.id,
                None,
                "coordinator_escalation",
                extra={"reason": "cadence", "explanation": explanation},
            )
            names = _names(_people(cfg, pair))
            note = (
                f"{pair.id}: {_every(weeks, minutes)} does not fit {names}: {explanation}; "
                "the series stays as it is"
            )
            return None, note, notice
        slot = search.slots[0]
        ended, current = recadence(
            series,
            first_start=slot.first_start,
            tz=str(slot.tz),
            **cadence,  # type: ignore[arg-type]
        )
    first = at_local(current.first_start, cfg.program.timezone)
    note = f"{pair.id}: meetings {_every(weeks, minutes)} from {first}"
    return Recadenced(ended, current), note, None
