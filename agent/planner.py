"""The pure planner: pair state + cadence + `now` -> the actions that are due.

The planner is deliberately forgetful: it says what *should* have happened by
`now` (the welcome, reminder number 2, the follow-up of the meeting that ended
two hours ago) and gives each action an idempotency key. The executor skips
keys that are already done, so planning the same tick twice, or after a
crash, sends nothing twice, and a long outage yields only the latest reminder
or follow-up instead of a burst of stale ones.

The executor applies each done action back to the state and plans again
(a few rounds per tick), so a welcome and the agreement, or a booking and
its invitations, go out in the same tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.config import Config, Pair, Participant
from agent.model import ROLES, Role, other_role
from agent.program import BEFORE_AGREEMENT, MEETING_STAGES, PairState, Series, Stage
from agent.slots import Availability, SlotSearch, find_series

Busy = Sequence[tuple[datetime, datetime]]
# Emails that only remind: postponed while the person is out of office.
REMINDERS = frozenset({"agreement_reminder", "follow_up", "check_in", "nudge"})
CLOSURE_TIME = time(9, 0)  # closing emails go out on the end day's morning, program time


@dataclass(frozen=True)
class Action:
    """One thing to do, identified by an idempotency key that is stable across ticks."""

    key: str
    kind: str
    pair_id: str | None
    role: Role | None = None  # recipient; None: the coordinator, or no email at all
    template: str | None = None  # None: no email (book or cancel a series)
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    series: Series | None = None  # book: the series to book; emails: the series to attach
    method: str | None = None  # "REQUEST" or "CANCEL" when the email carries the series
    options: tuple[Series, ...] = ()  # the meeting times an email offers to choose from

    def describe(self) -> str:
        who = self.role or ("coordinator" if self.template else "calendar")
        pair = f"{self.pair_id}: " if self.pair_id else ""
        return f"{pair}{self.kind} -> {who}"


@dataclass(frozen=True)
class Timeline:
    """The program's key moments, as aware datetimes in the program's zone."""

    opens: datetime  # onboarding starts: welcomes go out from here
    starts: datetime  # no meeting before this
    closing: datetime  # 09:00 on the end day: pairs close from here; the series ends before it

    @classmethod
    def of(cls, cfg: Config) -> Timeline:
        zone = cfg.program.timezone
        starts = _midnight(cfg.program.start, zone)
        closing = datetime.combine(cfg.program.end, CLOSURE_TIME, zone) - (
            cfg.cadence.closure.before_end or timedelta()
        )
        return cls(starts - cfg.cadence.onboarding.before_start, starts, closing)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%MZ")


def series_uid(cfg: Config, pair: Pair) -> str:
    """Stable per pair and program, so every update of the series reaches the same event."""
    domain = cfg.program.sender.email.rsplit("@", 1)[1]
    return f"mentormail-{cfg.program.slug}-{pair.id}@{domain}"


def availability(person: Participant) -> Availability:
    return Availability(
        name=f"{person.first_name} ({person.timezone})", tz=person.timezone, hours=person.hours
    )


class _Plan:
    """Collects a pair's actions with keys built the same way everywhere.

    Emails to a person whose address bounced are held until the address
    changes or the person writes; reminders to a person who is out of office
    wait until they are back. Reminder keys count from the first email, so
    the one that is due on their return goes out then, not a backlog.
    """

    def __init__(self, cfg: Config, pair: Pair, state: PairState, now: datetime) -> None:
        self.pair = pair
        self.actions: list[Action] = []
        self.bounced = {
            r for r in ROLES if state.bounced(r, cfg.participant(getattr(pair, r)).email)
        }
        self._away = {r for r in ROLES if state.is_away(r, now)}

    def email(self, kind: str, role: Role | None, *parts: object, **kw: Any) -> None:
        if role in self.bounced or (role in self._away and kind in REMINDERS):
            return
        key = "/".join([self.pair.id, kind, *(str(p) for p in parts), role or "coordinator"])
        template = kw.pop("template", kind)
        self.actions.append(Action(key, kind, self.pair.id, role, template, **kw))

    def calendar(self, kind: str, series: Series) -> None:
        key = f"{self.pair.id}/{kind}/{series.uid}/{series.sequence}"
        self.actions.append(Action(key, kind, self.pair.id, series=series))


def plan_pair(
    cfg: Config, pair: Pair, state: PairState, now: datetime, busy: Busy = ()
) -> list[Action]:
    """What is due for one pair at `now`. Pure."""
    timeline = Timeline.of(cfg)
    if now < timeline.opens or state.stage == Stage.CLOSED:
        return []
    plan = _Plan(cfg, pair, state, now)
    _undeliverable(plan, state)
    if state.stage == Stage.CLOSING:
        _closing(plan, state, now)
        return plan.actions
    for role in ROLES:
        if role not in state.welcomed:
            plan.email("welcome", role)
        elif role not in state.agreement_sent:
            plan.email("agreement", role)
    if state.stage in BEFORE_AGREEMENT:
        _agreement(plan, cfg, state, now)
    elif state.stage == Stage.AGREED and state.series is None:
        if cfg.cadence.meetings.offer > 1:
            _offer(plan, cfg, state, now, busy)
        else:
            _book(plan, cfg, now, busy)
    if state.series and state.series.status == "confirmed" and state.stage != Stage.PAUSED:
        if state.stored < state.series.sequence:  # a meeting moved or was skipped
            plan.calendar("update_series", state.series)
        for role in ROLES:
            if state.invited.get(role, -1) < state.series.sequence:
                plan.email(
                    "invitation",
                    role,
                    state.series.uid,
                    state.series.sequence,
                    series=state.series,
                    method="REQUEST",
                )
    if state.stage in MEETING_STAGES and state.series:
        _meetings(plan, cfg, state, now)
    return plan.actions


def _undeliverable(plan: _Plan, state: PairState) -> None:
    """Tell the coordinator, once per address, that a participant's mail bounces."""
    for role in (r for r in ROLES if r in plan.bounced):
        failure = state.failing[role]
        plan.email(
            "escalation_undeliverable",
            None,
            role,
            failure.address,
            template="coordinator_escalation",
            extra={
                "reason": "undeliverable",
                "role": role,
                "address": failure.address,
                "error": failure.reason,
            },
        )


def _agreement(plan: _Plan, cfg: Config, state: PairState, now: datetime) -> None:
    rules = cfg.cadence.agreement
    for role in ROLES:
        sent = state.agreement_sent.get(role)
        if sent is None or role in state.agreed or role in state.declined:
            continue
        number = min(rules.max_reminders, int((now - sent) / rules.reminder_after))
        if number >= 1:
            plan.email(
                "agreement_reminder",
                role,
                number,
                extra={"reminder_number": number, "other_agreed": other_role(role) in state.agreed},
            )
    if state.agreement_sent and not state.both(state.agreed):
        waiting = now - min(state.agreement_sent.values())
        if waiting >= rules.escalate_after:
            missing = [r for r in ROLES if r not in state.agreed]
            plan.email(
                "escalation_agreement",
                None,
                template="coordinator_escalation",
                extra={"reason": "agreement", "waiting_days": waiting.days, "missing": missing},
            )


def search_series(
    cfg: Config, pair: Pair, now: datetime, busy: Busy = (), *, count: int = 1
) -> SlotSearch:
    """The meeting series the slot finder proposes for a pair if it were booked at `now`."""
    meetings = cfg.cadence.meetings
    timeline = Timeline.of(cfg)
    mentor, mentee = cfg.participant(pair.mentor), cfg.participant(pair.mentee)
    anchors = list(dict.fromkeys([cfg.program.timezone, mentor.timezone, mentee.timezone]))
    return find_series(
        [availability(mentor), availability(mentee)],
        earliest=max(timeline.starts, now + meetings.min_notice),
        until=timeline.closing,
        every_weeks=meetings.every.days // 7,
        duration=meetings.duration,
        preferred_days=meetings.preferred_days,
        busy=busy,
        anchors=anchors,
        count=count,
    )


def _book(plan: _Plan, cfg: Config, now: datetime, busy: Busy) -> None:
    search = search_series(cfg, plan.pair, now, busy)
    if search.slots:
        plan.calendar("book", Series.from_slot(series_uid(cfg, plan.pair), search.slots[0]))
    else:
        plan.email(
            "escalation_no_slot",
            None,
            template="coordinator_escalation",
            extra={"reason": "no_slot", "explanation": search.explanation or "no common time"},
        )


def _offer(plan: _Plan, cfg: Config, state: PairState, now: datetime, busy: Busy) -> None:
    """Offer a few meeting times by email, then book the one picked.

    Without an answer within `agreement.reminder_after`, the first (best) option is
    booked, as the email says. A picked option whose first meeting is too close by
    now starts at its next meeting instead.
    """
    if not state.offered:
        search = search_series(cfg, plan.pair, now, busy, count=cfg.cadence.meetings.offer)
        if not search.slots:
            _book(plan, cfg, now, busy)  # the same escalation as when booking directly
            return
        uid = series_uid(cfg, plan.pair)
        options = tuple(Series.from_slot(uid, slot) for slot in search.slots)
        for role in ROLES:
            plan.email("slot_options", role, options=options)
        return
    waited = now - (state.offered_at or now)
    if state.chosen is None and waited < cfg.cadence.agreement.reminder_after:
        return
    picked = state.offered[(state.chosen or 1) - 1]
    series = picked.starting_from(now + cfg.cadence.meetings.min_notice)
    if series is None:
        _book(plan, cfg, now, busy)
    else:
        plan.calendar("book", series)


def _meetings(plan: _Plan, cfg: Config, state: PairState, now: datetime) -> None:
    series = state.series
    assert series is not None
    if state.stage == Stage.PAUSED or series.status != "confirmed":
        return
    cadence = cfg.cadence
    if cadence.follow_up.enabled:
        held = series.held_before(now - cadence.follow_up.after)
        if held:
            for role in ROLES:
                plan.email("follow_up", role, _stamp(held[-1]), extra={"occurrence": held[-1]})
    first = series.first_start
    if cadence.check_in.enabled and now > first:
        number = int((now - first) / cadence.check_in.every)
        if number >= 1:
            for role in ROLES:
                plan.email("check_in", role, number, extra={"check_in_number": number})
    quiet_since = state.quiet_since() or first
    quiet = now - quiet_since
    if quiet >= cadence.nudge.quiet_after:
        for role in ROLES:
            plan.email("nudge", role, _stamp(quiet_since), extra={"quiet_days": quiet.days})
    if quiet >= 2 * cadence.nudge.quiet_after:
        plan.email(
            "escalation_quiet",
            None,
            _stamp(quiet_since),
            template="coordinator_escalation",
            extra={"reason": "quiet", "quiet_days": quiet.days},
        )


def _closing(plan: _Plan, state: PairState, now: datetime) -> None:
    series = state.series
    if series and series.status == "confirmed" and series.next_after(now):
        plan.calendar("cancel_series", series)  # the closure emails follow once it is cancelled
        return
    for role in ROLES:
        if role in state.closure_sent:
            continue
        carries_cancel = (
            series is not None
            and series.status == "cancelled"
            and state.invited.get(role, -1) < series.sequence
        )
        plan.email(
            "closure",
            role,
            series=series if carries_cancel else None,
            method="CANCEL" if carries_cancel else None,
        )


def plan_program(cfg: Config, now: datetime) -> list[Action]:
    """Program-wide actions due at `now`: the coordinator's weekly digest."""
    digest = cfg.cadence.digest
    timeline = Timeline.of(cfg)
    zone = cfg.program.timezone
    local = now.astimezone(zone)
    last = _midnight(cfg.program.end, zone) + timedelta(days=7)
    if not digest.enabled or not timeline.opens <= now <= last:
        return []
    monday = local.date() - timedelta(days=local.weekday())
    due = datetime.combine(monday + timedelta(days=digest.day), digest.time, zone)
    if now < due:
        return []
    year, week, _ = monday.isocalendar()
    return [Action(f"digest/{year}-W{week:02d}", "digest", None, None, "digest")]
