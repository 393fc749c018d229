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

At-risk pairs (see `agent.pairs.risk`) are acted on here, once per rule and
occurrence: the pair gets a kind nudge where one fits and the coordinator an
escalation. The agreement rule's nudges are the agreement reminders and the
quiet rule's is `nudge` (the coordinator hears of a quiet pair at twice
`quiet_after`, so the pair has a chance to answer the nudge first).

After a change of people (`PairState.round`), every key of the pair carries
the round (`ana-ben~1/welcome/mentor`), so the new round's emails are not
mistaken for the old round's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.config.booking import program_times, search_meetings
from agent.config.model import Config, Pair, Participant
from agent.mail_in.message import ROLES, Role, other_role
from agent.meetings.slots import Availability, SlotSearch
from agent.pairs import civil
from agent.pairs.members import member_of
from agent.pairs.memo import per_object
from agent.pairs.program import (
    BEFORE_AGREEMENT,
    MEETING_STAGES,
    Departure,
    Member,
    PairState,
    Series,
    Stage,
)
from agent.pairs.risk import Risk, risks
from agent.pairs.trust import CONFIRM_KIND

Busy = Sequence[tuple[datetime, datetime]]
LogEntries = Iterable[Mapping[str, Any]]
# Emails that only remind: postponed while the person is out of office.
REMINDERS = frozenset(
    {
        "agreement_reminder",
        "follow_up",
        "check_in",
        "nudge",
        "progress_check",
        "meeting_time_check",
        "rating_follow_up",
    }
)
# Reminders held while the person's reply waits for the coordinator: they asked something
# or set a condition, and are owed an answer, not a reminder. (A follow-up or check-in asks
# about a new meeting or period, so it still goes.)
HELD_FOR_AN_ANSWER = REMINDERS - {"follow_up", "check_in"}
# How long a reply passed to the coordinator holds those reminders at most: the coordinator
# may answer the person directly, which the agent does not see.
WAIT_FOR_COORDINATOR = timedelta(days=7)
# A follow-up later than this after its meeting asks about something long past: dropped.
FOLLOW_UP_FRESH = timedelta(days=4)
# The at-risk rules that nudge the pair, with the email each sends.
RISK_NUDGES = {
    "no_progress": "progress_check",
    "declined_in_a_row": "meeting_time_check",
    "low_rating": "rating_follow_up",
}


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
        member = self.extra.get("member")
        if isinstance(member, Member) and self.template == CONFIRM_KIND:
            who = member.role  # a confirmation, sent to the configured address
        elif isinstance(member, Member):  # someone who left the pair
            who = f"{member.first_name} (former {member.role})"
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
        return _timeline(cfg)


@per_object
def _timeline(cfg: Config) -> Timeline:
    times = program_times(cfg)  # agent.config.booking: the moments validate checks with
    return Timeline(times.opens, times.starts, times.closing)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _stamp(moment: datetime) -> str:
    u = moment.astimezone(UTC)
    return f"{u.year:04d}{u.month:02d}{u.day:02d}T{u.hour:02d}{u.minute:02d}Z"


def series_uid(cfg: Config, pair: Pair | str, number: int = 0) -> str:
    """Stable per pair and program, so every update of the series reaches the same event.

    `number` (`PairState.uids`) counts the series the pair had before: a new person or a
    new cadence gets a series of its own (`...-ana-ben-2@...`), because a calendar does
    not take a cancelled or shortened event back as a new one.
    """
    domain = cfg.program.sender.email.rsplit("@", 1)[1]
    pair_id = pair if isinstance(pair, str) else pair.id
    suffix = f"-{number + 1}" if number else ""
    return f"mentormail-{cfg.program.slug}-{pair_id}{suffix}@{domain}"


def availability(person: Participant) -> Availability:
    return Availability(
        name=f"{person.first_name} ({person.timezone})", tz=person.timezone, hours=person.hours
    )


def fits(cfg: Config, pair: Pair, series: Series) -> bool:
    """Every meeting of `series` lies inside both people's hours, on their own clocks."""
    people = [cfg.participant(pair.mentor), cfg.participant(pair.mentee)]
    for _, start in series.meetings():
        end = start + series.duration
        for person in people:
            local, local_end = start.astimezone(person.timezone), end.astimezone(person.timezone)
            window = person.hours.get(local.weekday())
            if window is None or local_end.date() != local.date():
                return False
            opens, closes = window
            close = time(23, 59, 59) if closes == time(23, 59) else closes
            if not opens <= local.time() or not local_end.time() <= close:
                return False
    return True


class _Plan:
    """Collects a pair's actions with keys built the same way everywhere.

    Emails to a person whose address bounced are held until the address
    changes or the person writes; reminders to a person who is out of office
    wait until they are back, and so do reminders and nudges to a person whose
    reply waits for the coordinator (`PairState.waiting`, at most
    `WAIT_FOR_COORDINATOR`). Reminder keys count from the first email, so
    the one that is due on their return goes out then, not a backlog.

    `pair` is the configured pair (not set for a pair removed from the config);
    `emails` are the addresses mail goes to, for the bounce check.
    """

    pair: Pair

    def __init__(
        self,
        pair_id: str,
        state: PairState,
        now: datetime,
        emails: Mapping[Role, str],
        pair: Pair | None = None,
    ) -> None:
        if pair is not None:
            self.pair = pair
        self.pair_id = pair_id
        self.prefix = pair_id if state.round == 0 else f"{pair_id}~{state.round}"
        self.actions: list[Action] = []
        self.bounced = {r for r in ROLES if r in emails and state.bounced(r, emails[r])}
        self._away = {r for r in ROLES if state.is_away(r, now)}
        self._answer_owed = {
            r for r, at in state.waiting.items() if now < at + WAIT_FOR_COORDINATOR
        }

    @classmethod
    def of(cls, cfg: Config, pair: Pair, state: PairState, now: datetime) -> _Plan:
        emails = {r: cfg.participant(getattr(pair, r)).email for r in ROLES}
        return cls(pair.id, state, now, emails, pair)

    def email(self, kind: str, role: Role | None, *parts: object, **kw: Any) -> None:
        if role in self.bounced or (role in self._away and kind in REMINDERS):
            return
        if role in self._answer_owed and kind in HELD_FOR_AN_ANSWER:
            return
        key = "/".join([self.prefix, kind, *(str(p) for p in parts), role or "coordinator"])
        template = kw.pop("template", kind)
        self.actions.append(Action(key, kind, self.pair_id, role, template, **kw))

    def calendar(self, kind: str, series: Series, **kw: Any) -> None:
        key = f"{self.prefix}/{kind}/{series.uid}/{series.sequence}"
        self.actions.append(Action(key, kind, self.pair_id, series=series, **kw))


@dataclass(frozen=True)
class Held:
    """An email that is due but waits for its recipient's civil hours, until `opens`."""

    action: Action
    opens: datetime | None  # None: the recipient's window has no day at all

    def describe(self) -> str:
        when = "no day in their send window"
        if self.opens is not None:
            when = f"until {self.opens:%a %Y-%m-%d %H:%M} {self.opens.tzinfo}"
        return f"{self.action.describe()} ({when})"


@dataclass(frozen=True)
class PairPlan:
    due: list[Action]
    held: list[Held]  # due, but outside the recipient's send window or spacing


def plan_pair(
    cfg: Config,
    pair: Pair,
    state: PairState,
    now: datetime,
    busy: Busy = (),
    log: LogEntries = (),
) -> list[Action]:
    """What is due for one pair at `now`. Pure.

    `log` is the pair's progress log (for the at-risk rules that read it: progress,
    ratings, declined meetings); without it those rules see nothing logged.
    """
    return plan_pair_in_hours(cfg, pair, state, now, busy, log).due


def plan_pair_in_hours(
    cfg: Config,
    pair: Pair,
    state: PairState,
    now: datetime,
    busy: Busy = (),
    log: LogEntries = (),
) -> PairPlan:
    """`plan_pair`, and what it holds back for the recipients' civil hours."""
    timeline = Timeline.of(cfg)
    if now < timeline.opens or state.stage == Stage.CLOSED:
        return PairPlan([], [])
    plan = _Plan.of(cfg, pair, state, now)
    _undeliverable(plan, state)
    _departures(plan, state, tell_partner=True)
    if state.stage == Stage.CLOSING:
        _closing(plan, state, now)
        return civil_hours(cfg, pair, state, now, plan.actions)
    _held_changes(plan, cfg, state, now)
    for role in ROLES:
        if role not in state.welcomed:
            plan.email("welcome", role)
        elif role not in state.agreement_sent:
            plan.email("agreement", role)
    found = risks(cfg, state, log, now)
    if state.stage in BEFORE_AGREEMENT:
        _agreement(plan, cfg, state, now, found)
    elif state.stage == Stage.AGREED and state.series is None:
        if cfg.cadence.meetings.offer > 1:
            _offer(plan, cfg, state, now, busy)
        else:
            _book(plan, cfg, state, now, busy)
    if state.stage != Stage.PAUSED:
        _earlier(plan, state)
    if state.series and state.series.status == "confirmed" and state.stored < state.series.sequence:
        plan.calendar("update_series", state.series)  # a meeting moved or skipped, a pause
    told = _pause_notices(plan, cfg, state, now)
    if state.series and state.series.status == "confirmed" and state.stage != Stage.PAUSED:
        for role in ROLES:
            if role in told:
                continue  # the resume notice carries the updated series
            due = state.invited.get(role, -1) < state.series.sequence
            # the same invitation once more when their calendar asked for it (REFRESH)
            again = ("again", state.refresh[role]) if role in state.refresh else None
            if due or again:
                plan.email(
                    "invitation",
                    role,
                    state.series.uid,
                    state.series.sequence,
                    *(again if again and not due else ()),
                    series=state.series,
                    method="REQUEST",
                )
    if state.stage in MEETING_STAGES and state.series:
        _meetings(plan, cfg, state, now, found)
    if state.stage != Stage.PAUSED:
        _at_risk(plan, found)
    return civil_hours(cfg, pair, state, now, plan.actions)


def civil_hours(
    cfg: Config, pair: Pair, state: PairState, now: datetime, actions: list[Action]
) -> PairPlan:
    """The actions that may go at `now` (agent.pairs.civil): each email inside its
    recipient's send window; at most one reminder to a person, and none within
    `cadence.spacing` of their latest email. What waits is planned again later under
    the same key. Calendar changes and confirmations of a person's request never wait."""
    windows = {r: civil.send_window(cfg, cfg.participant(getattr(pair, r))) for r in ROLES}
    coordinator = civil.send_window(cfg, None)
    # what was sent already is skipped by the executor, so it holds nothing back
    unsent = [a for a in actions if not a.role or a.key not in state.recent.get(a.role, [])]
    mailing = {a.role for a in unsent if a.role and a.kind not in REMINDERS}
    first: dict[Role, Action] = {}
    for action in unsent:
        if action.role and action.kind in REMINDERS and action.role not in mailing:
            best = first.get(action.role)
            if best is None or _reminder_rank(action) < _reminder_rank(best):
                first[action.role] = action
    due: list[Action] = []
    held: list[Held] = []
    for action in actions:
        if action.template is None or action.template == CONFIRM_KIND:
            due.append(action)
            continue
        member = action.extra.get("member")
        if action.role:
            window = windows[action.role]
        elif isinstance(member, Member):  # a former member's farewell
            window = civil.window_for_zone(cfg, member.timezone)
        else:
            window = coordinator
        if not civil.inside(window, now):
            held.append(Held(action, civil.next_opening(window, now)))
            continue
        if (
            action.role
            and action.kind in REMINDERS
            and cfg.cadence.spacing
            and (
                first.get(action.role) is not action
                or not civil.spaced(cfg, state.mailed.get(action.role), now)
            )
        ):
            last = state.mailed.get(action.role)
            if first.get(action.role) is not action:
                last = now  # another email to them goes first
            after = max(now, last + cfg.cadence.spacing) if last else now
            held.append(Held(action, civil.next_opening(window, after)))
            continue
        due.append(action)
    return PairPlan(due, held)


def _reminder_rank(action: Action) -> int:
    order = civil.REMINDER_ORDER
    return order.index(action.kind) if action.kind in order else len(order)


def plan_removed(state: PairState, now: datetime) -> list[Action]:
    """What is still due for a pair the coordinator removed from the config. Pure.

    Its series is cancelled (the calendar first, then a CANCEL to both with the
    `pair_removed` email), and each person who had heard from the program is told.
    Names and addresses come from `state.members`, since the config no longer has them.
    """
    if state.removed_at is None or state.stage != Stage.CLOSING:
        return []
    plan = _Plan(state.pair_id, state, now, {r: m.email for r, m in state.members.items()})
    _departures(plan, state, tell_partner=False)
    series = state.series
    cancelled = bool(series and series.status == "cancelled")
    roles = [r for r in ROLES if r in state.welcomed]  # nobody else ever heard from us
    _goodbye(plan, state, now, "pair_removed", roles, {"meetings_cancelled": cancelled})
    return plan.actions


def _departures(plan: _Plan, state: PairState, *, tell_partner: bool) -> None:
    """For each person replaced: the old series cancelled, a goodbye, the partner told."""
    for departure in state.departed:
        extra = {
            "ref": departure.ref,
            "attendees": _attendees(departure),
            "meetings_cancelled": departure.series is not None,
        }
        cancel = {"series": departure.series, "method": "CANCEL"} if departure.series else {}
        if departure.series and "calendar" not in departure.done:
            plan.calendar("retire_series", departure.series, extra=extra)
        stamp = _stamp(departure.at)
        if departure.welcomed and not departure.bounced and "farewell" not in departure.done:
            key = f"{plan.prefix}/farewell/{departure.member.id}/{stamp}"
            farewell = {**extra, "member": departure.member, "partner": departure.partner}
            plan.actions.append(
                Action(key, "farewell", plan.pair_id, None, "farewell", extra=farewell, **cancel)
            )
        partner = other_role(departure.role)
        if tell_partner and departure.partner_welcomed and "partner" not in departure.done:
            previous = {**extra, "previous": departure.member}
            plan.email(
                "partner_changed", partner, departure.member.id, stamp, extra=previous, **cancel
            )


def _held_changes(plan: _Plan, cfg: Config, state: PairState, now: datetime) -> None:
    """Each change held for confirmation (agent.pairs.trust): while it waits, the confirmation
    to the participant's configured address (never the address the request came from);
    once it lapses, or the person is no longer in the pair, the coordinator is told.

    The confirmation goes to no role (`role` None, the person in `extra["member"]`):
    a reply's thread then names it, while a reply that only carries the person's token
    cannot pass for an answer to it (agent.pairs.ingest reads "the latest email to that role"
    only for emails to a role). Its replies come to the program's own address.
    """
    for held in state.held:
        person = member_of(cfg.participant(getattr(plan.pair, held.role)))
        if held.until <= now or person.id != held.person:
            asker = next((d.member for d in state.departed if d.member.id == held.person), person)
            until = held.until.astimezone(cfg.program.timezone)
            why = (
                f"the confirmation sent to {asker.email} was not answered by "
                f"{until:%Y-%m-%d %H:%M %Z}"
                if asker is person
                else f"{asker.name} left the pair before confirming it"
            )
            plan.actions.append(
                Action(
                    f"{plan.prefix}/confirm_expired/{held.ref}",
                    "confirm_expired",
                    plan.pair_id,
                    template="coordinator_reply",
                    extra={
                        "ref": held.ref,
                        "reason": f"asks to {'; '.join(held.changes)}: not applied: asked "
                        f"by email without a trusted DMARC pass, and {why}",
                        "message": {
                            "from_name": asker.name,
                            "from_addr": asker.email,
                            "subject": "",
                            "date": held.at.isoformat(),
                            "text": held.text,
                        },
                    },
                )
            )
        elif held.role not in plan.bounced:
            plan.actions.append(
                Action(
                    f"{plan.prefix}/{CONFIRM_KIND}/{held.ref}/{held.role}",
                    f"{CONFIRM_KIND}:{held.ref}",
                    plan.pair_id,
                    template=CONFIRM_KIND,
                    extra={
                        "member": person,
                        "ref": held.ref,
                        "changes": list(held.changes),
                        "asked_at": held.at.astimezone(ZoneInfo(person.timezone)),
                        "until": held.until.astimezone(ZoneInfo(person.timezone)),
                    },
                )
            )


def _attendees(departure: Departure) -> dict[Role, Member]:
    people = {departure.role: departure.member}
    if departure.partner:
        people[other_role(departure.role)] = departure.partner
    return people


def _earlier(plan: _Plan, state: PairState) -> None:
    """After a cadence change: the shortened earlier series to the calendar and to both."""
    if not state.earlier:
        return
    ended = state.earlier[-1]
    if state.earlier_sent.get("calendar", -1) < ended.sequence:
        plan.calendar("end_series", ended)
    for role in ROLES:
        if state.earlier_sent.get(role, -1) < ended.sequence:
            plan.email(
                "series_ended",
                role,
                ended.uid,
                ended.sequence,
                template="invitation",
                series=ended,
                method="REQUEST",
            )


def _at_risk(plan: _Plan, found: list[Risk]) -> None:
    """The rules that read the log: a kind nudge and the coordinator, once per occurrence.

    No progress is not chased while the pair is quiet: the quiet nudge covers it. A low
    rating is followed up with its author only: the other person need not know of it.
    """
    codes = {r.code for r in found}
    for risk in found:
        nudge = RISK_NUDGES.get(risk.code)
        if nudge is None or (risk.code == "no_progress" and "quiet" in codes):
            continue
        stamp = _stamp(risk.since) if risk.since else "-"
        detail = {"days": risk.value} if risk.code == "no_progress" else {}
        if risk.code == "declined_in_a_row":
            detail = {"declined": risk.value}
        if risk.code == "low_rating":
            detail = {"rating": risk.value}
        recipients = [risk.role] if risk.code == "low_rating" and risk.role else list(ROLES)
        if risk.code != "low_rating" or risk.role:
            for role in recipients:
                plan.email(nudge, role, stamp, extra=dict(detail))
        plan.email(
            f"escalation_{risk.code}",
            None,
            stamp,
            template="coordinator_escalation",
            extra={"reason": risk.code, "text": risk.reason, "role": risk.role, **detail},
        )


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


def _agreement(
    plan: _Plan, cfg: Config, state: PairState, now: datetime, found: list[Risk]
) -> None:
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
    late = next((r for r in found if r.code == "no_agreement"), None)
    if late is not None:  # the at-risk rule `at_risk.no_agreement_after`
        missing = [r for r in ROLES if r not in state.agreed]
        plan.email(
            "escalation_agreement",
            None,
            template="coordinator_escalation",
            extra={"reason": "agreement", "waiting_days": late.value, "missing": missing},
        )


def search_series(
    cfg: Config, pair: Pair, now: datetime, busy: Busy = (), *, count: int = 1
) -> SlotSearch:
    """The meeting series the slot finder proposes for a pair if it were booked at `now`
    (the same search `validate` runs: agent.config.booking)."""
    mentor, mentee = cfg.participant(pair.mentor), cfg.participant(pair.mentee)
    people = [availability(mentor), availability(mentee)]
    return search_meetings(cfg, people, now, busy=busy, count=count)


def _book(plan: _Plan, cfg: Config, state: PairState, now: datetime, busy: Busy) -> None:
    search = search_series(cfg, plan.pair, now, busy)
    if search.slots:
        uid = series_uid(cfg, plan.pair, state.uids)
        plan.calendar("book", Series.from_slot(uid, search.slots[0]))
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
    now starts at its next meeting instead. When the cadence changed after the offer,
    the picked time is booked with the new cadence if it still fits both people's hours,
    else the slot finder picks a time afresh.
    """
    if not state.offered:
        search = search_series(cfg, plan.pair, now, busy, count=cfg.cadence.meetings.offer)
        if not search.slots:
            _book(plan, cfg, state, now, busy)  # the same escalation as when booking directly
            return
        uid = series_uid(cfg, plan.pair, state.uids)
        options = tuple(Series.from_slot(uid, slot) for slot in search.slots)
        for role in ROLES:
            plan.email("slot_options", role, options=options)
        return
    waited = now - (state.offered_at or now)
    if state.chosen is None and waited < cfg.cadence.agreement.reminder_after:
        return
    picked = state.offered[(state.chosen or 1) - 1]
    meetings = cfg.cadence.meetings
    cadence = {
        "interval_weeks": meetings.every.days // 7,
        "duration_minutes": int(meetings.duration.total_seconds() // 60),
    }
    changed = any(getattr(picked, k) != v for k, v in cadence.items())
    if changed:
        picked = picked.model_copy(update=cadence)
    series = picked.starting_from(now + meetings.min_notice)
    if series is None or (changed and not fits(cfg, plan.pair, series)):
        _book(plan, cfg, state, now, busy)
    else:
        plan.calendar("book", series)


def _meetings(plan: _Plan, cfg: Config, state: PairState, now: datetime, found: list[Risk]) -> None:
    series = state.series
    assert series is not None
    if state.stage == Stage.PAUSED or series.status != "confirmed":
        return
    cadence = cfg.cadence
    if cadence.follow_up.enabled:
        held = state.last_held(now - cadence.follow_up.after)
        if held and _follow_up_fresh(state, held, now) and not state.declined_meeting(held):
            for role in ROLES:
                plan.email("follow_up", role, _stamp(held), extra={"occurrence": held})
    first = state.first_meeting() or series.first_start
    if cadence.check_in.enabled and now > first:
        # a paused span does not count: the check-ins go on where they stopped
        number = int((now - first - state.paused_for(first, now)) / cadence.check_in.every)
        if number >= 1:
            for role in ROLES:
                plan.email("check_in", role, number, extra={"check_in_number": number})
    quiet = next((r for r in found if r.code == "quiet"), None)
    if quiet is None or quiet.since is None:
        return
    for role in ROLES:
        plan.email("nudge", role, _stamp(quiet.since), extra={"quiet_days": quiet.value})
    if now - quiet.since >= 2 * cadence.nudge.quiet_after:
        plan.email(
            "escalation_quiet",
            None,
            _stamp(quiet.since),
            template="coordinator_escalation",
            extra={"reason": "quiet", "quiet_days": quiet.value},
        )


def _follow_up_fresh(state: PairState, held: datetime, now: datetime) -> bool:
    """A follow-up still makes sense: the next meeting has not begun and the meeting is
    less than `FOLLOW_UP_FRESH` old (after a hold, a pause or an outage, a stale one is
    dropped rather than sent late)."""
    later = held + timedelta(seconds=1)
    upcoming = [s for segment in state.segments() if (s := segment.next_after(later))]
    if upcoming and min(upcoming) <= now:
        return False
    return now - held < FOLLOW_UP_FRESH


def _pause_notices(plan: _Plan, cfg: Config, state: PairState, now: datetime) -> set[Role]:
    """The pause told to both (the meetings it cancels attached), an open-ended pause
    checked on after `cadence.pause.check_after`, and both told when it is over. Returns
    who gets a resume notice now (it carries the series, so no separate invitation)."""
    if not state.pauses:
        return set()
    last = state.pauses[-1]
    series = state.series if state.series and state.series.status == "confirmed" else None

    def carrying(role: Role) -> dict[str, Any]:
        if series and state.invited.get(role, -1) < series.sequence:
            return {"series": series, "method": "REQUEST"}
        return {}

    extra = {
        "ref": last.ref,
        "paused_by": last.by,
        "since": last.at,
        "until": last.until,
        "cancelled": [start for start in last.skipped if start > now],
    }
    if state.pause is last:
        for role in ROLES:
            if role not in last.told and role in state.welcomed:
                plan.email("pause", role, last.ref, extra=extra, **carrying(role))
        checked = [last.by] if last.by else list(ROLES)
        if last.until is None and now >= last.at + cfg.cadence.pause.check_after:
            for role in checked:
                plan.email("pause_check", role, last.ref, extra=extra)
        return set()
    if last.ended is None or state.stage not in MEETING_STAGES:
        return set()
    told = set()
    after = series.next_after(now) if series else None
    for role in ROLES:
        if role in last.told and role not in last.back:
            back = {**extra, "occurrence": after} if after else extra
            plan.email("resume", role, last.ref, extra=back, **carrying(role))
            told.add(role)
    return told


# Who gets which last email when a pair ends early: a leaver their goodbye, the one who
# stays a kind notice; when the coordinator closes the pair, both a goodbye.
def _closing(plan: _Plan, state: PairState, now: datetime) -> None:
    if not state.ended_early:
        _goodbye(plan, state, now, "closure", list(ROLES))
        return
    kinds = {r: "partner_left" if state.left and r not in state.left else "goodbye" for r in ROLES}
    extra = {
        "left": sorted(state.left),
        "reason": state.ended_early,
        "by_coordinator": not state.left,
        "meetings_cancelled": state.series is not None,
    }
    _goodbye(plan, state, now, "goodbye", list(ROLES), extra, kinds=kinds)


def _goodbye(
    plan: _Plan,
    state: PairState,
    now: datetime,
    kind: str,
    roles: list[Role],
    extra: dict[str, Any] | None = None,
    *,
    kinds: Mapping[Role, str] | None = None,
) -> None:
    """Cancel the series in the calendar first; then one last email of `kind` to each of
    `roles`, carrying the CANCEL to whoever has not had it yet."""
    series = state.series
    if series and series.status == "confirmed" and series.next_after(now):
        plan.calendar("cancel_series", series)  # the emails follow once it is cancelled
        return
    for role in roles:
        if role in state.closure_sent:
            continue
        carries_cancel = (
            series is not None
            and series.status == "cancelled"
            and state.invited.get(role, -1) < series.sequence
        )
        plan.email(
            (kinds or {}).get(role, kind),
            role,
            series=series if carries_cancel else None,
            method="CANCEL" if carries_cancel else None,
            **({"extra": extra} if extra else {}),
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
    window = civil.send_window(cfg, None)  # a digest on a day outside it keeps its day
    if now < due or (digest.day in window[1] and not civil.inside(window, now)):
        return []  # before its time, or before the coordinator's window opens that day
    year, week, _ = monday.isocalendar()
    return [Action(f"digest/{year}-W{week:02d}", "digest", None, None, "digest")]
