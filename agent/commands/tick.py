"""One pass of the agent: ingest replies, let time pass, plan, act, remember.

Order matters for crash safety:
0. Changes the coordinator made to the config since the last tick (see
   `agent.pairs.reconcile`) are applied to the states, and the new snapshot of the
   config is put into the store in memory: it reaches the disk in the same
   write as the states it changed, so a change is applied exactly once.
1. Inbound mail is parsed and applied to the pairs' states in memory; each
   message's Message-ID is recorded so it is never applied twice. Each attempt at a
   message is counted before it starts (agent.state.attempts): one that crashed or stopped
   the agent twice is quarantined unread, one that runs past its time budget at once.
   What a record keeps of a message's text is capped (agent.mail_in.kept).
2. Time-driven changes (program end, first meeting held) are applied.
3. Planning rounds (pairs removed from the config still get their cancel and
   goodbye emails): plan every pair and the program, drop actions already
   done, write the intents and flush, perform, apply the results, plan again
   the pairs whose state changed (so a welcome and the agreement, or a booking
   and its invitations, go out in one tick; a pair nothing happened to would
   plan the same actions again). Rounds stop when nothing new is due.
4. The state is flushed, and only then are the handled messages moved out of
   the inbox: a crash before the move re-delivers them, and step 1 sees their
   recorded Message-ID and only moves them.
"""

from __future__ import annotations

import logging
import time as clock
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from agent.commands import coordinator
from agent.commands.executor import Executor
from agent.commands.runtime import Runtime
from agent.config.model import Pair
from agent.mail_in.inbound import parse_message
from agent.mail_in.kept import PER_DAY, PER_SENDER, TEXT_KEPT, QuarantineAllowance, capped, short
from agent.mail_in.message import ROLES, InboundMessage
from agent.pairs import reconcile
from agent.pairs.hearing_back import hear
from agent.pairs.ingest import Match, Routed, match, route, sender_zone
from agent.pairs.limits import SendLimits, admit, budget, recent
from agent.pairs.planner import (
    Action,
    Held,
    Timeline,
    plan_pair_in_hours,
    plan_program,
    plan_removed,
)
from agent.pairs.program import Bounced, Clock, PairState, Stage, apply
from agent.pairs.risk import EVERY_KINDS, LATEST_KINDS
from agent.state import attempts
from agent.state.attempts import Ledger, OverBudget, peek, stable_key, time_budget
from agent.state.store import Store
from connectors.base import ConnectorError, DeliveryRefused, Outcome, RawMessage

log = logging.getLogger(__name__)

MAX_ROUNDS = 8


@dataclass
class TickReport:
    now: datetime
    dry_run: bool
    changes: list[str] = field(default_factory=list)  # what the config change(s) mean
    received: list[str] = field(default_factory=list)
    performed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    waiting: int = 0  # emails held back by a sending limit, for a later tick
    held: list[str] = field(default_factory=list)  # due, waiting for civil hours
    seconds: float = 0.0

    def lines(self) -> list[str]:
        verb = "would do" if self.dry_run else "did"
        out = [
            f"tick at {self.now.isoformat(timespec='seconds')}"
            + (" (dry run: nothing is changed)" if self.dry_run else "")
        ]
        out += [f"  {'would' if self.dry_run else 'config change'}: {c}" for c in self.changes]
        out += [f"  received: {line}" for line in self.received]
        out += [f"  {verb}: {line}" for line in self.performed]
        out += [f"  error: {line}" for line in self.errors]
        if self.waiting:
            out.append(f"  waiting: {self.waiting} email(s) held back by a sending limit")
        out += [f"  waits for their hours: {line}" for line in self.held]
        if not (self.changes or self.received or self.performed or self.errors or self.held):
            out.append("  nothing due")
        return out


def _outcome(routed_outcome: str) -> Outcome:
    return "quarantine" if routed_outcome == "quarantined" else "processed"


def _ingest(
    rt: Runtime, states: dict[str, PairState], now: datetime, report: TickReport, *, dry_run: bool
) -> tuple[list[tuple[RawMessage, Outcome]], list[Action]]:
    """Apply new replies to `states`; return what to move where, and coordinator notices.

    Each new message's attempt is counted before it is processed (agent.state.attempts): one
    that failed to finish `MAX_ATTEMPTS` times is quarantined unread.
    """
    cursor = rt.store.meta("mail_cursor")
    try:
        raws, new_cursor = rt.mailbox.fetch(cursor)
    except (ConnectorError, OSError) as exc:
        report.errors.append(f"mailbox: cannot fetch new mail: {exc}")
        return [], []
    handled: list[tuple[RawMessage, Outcome]] = []
    notices: list[Action] = []
    pending: list[tuple[RawMessage, str]] = []
    for raw in raws:
        key = stable_key(raw.data)
        seen = rt.store.inbound(key)
        if seen and seen.get("ref") == raw.ref:  # handled before a crash: finish moving it
            handled.append((raw, _outcome(seen["outcome"])))
        else:
            pending.append((raw, key))
    ledger = Ledger(rt.store.path.with_name(rt.store.path.name + ".attempts"), write=not dry_run)
    ledger.keep_only(key for _, key in pending)
    one_by_one = ledger.suspect(key for _, key in pending)  # a tick died among these
    batch = [key for _, key in pending if not ledger.exhausted(key)]
    if not one_by_one:
        ledger.start(batch)
    kept = QuarantineAllowance.of(rt.store.meta("quarantine_kept"), now.date())
    for raw, key in pending:
        if ledger.exhausted(key):
            outcome, notice = _poison(rt, raw, key, now, report, kept)
            notices += [notice] if notice else []
        else:
            if one_by_one:
                ledger.start([key])
            outcome, answers = _handle(rt, raw, states, now, report, kept)
            notices += answers
            if one_by_one:
                ledger.finish([key])
        handled.append((raw, outcome))
    if not one_by_one:
        ledger.finish(batch)
    rt.store.set_meta("quarantine_kept", kept.record())
    rt.store.set_meta("mail_cursor", new_cursor)
    return handled, notices


def _handle(
    rt: Runtime,
    raw: RawMessage,
    states: dict[str, PairState],
    now: datetime,
    report: TickReport,
    kept: QuarantineAllowance,
) -> tuple[Outcome, list[Action]]:
    """Parse, match and route one message within its time budget, and record it; return
    the emails it owes (the coordinator's notice, the writer's answer: agent.pairs.hearing_back).
    A message that crashes or runs out of time is quarantined and the coordinator told."""
    msg = None
    try:
        with time_budget(attempts.MESSAGE_SECONDS):
            msg = parse_message(raw.data)
            seen = rt.store.inbound(msg.message_id)
            if seen:  # the same message twice in the inbox
                return _outcome(seen["outcome"]), []
            found = match(msg, rt.cfg, rt.token_key, rt.store, coordinator.aliases(rt.store))
            state = states.get(found.pair_id or "")
            tz = sender_zone(rt.cfg, found)
            if found.via == "coordinator":  # their answer to our email (agent.commands.coordinator)
                routed = coordinator.route(rt.cfg, rt.store, msg, found, states, now)
            else:
                routed = route(msg, found, now, tz, rt.cfg, state)
    except (Exception, OverBudget) as exc:  # a message we cannot handle must not block others
        log.exception("cannot handle message %s", msg.message_id if msg else raw.ref)
        reason = f"could not be processed: {str(exc) or type(exc).__name__}"
        if msg is None:
            outcome, notice = _poison(rt, raw, stable_key(raw.data), now, report, kept, reason)
            return outcome, [notice] if notice else []
        routed = Routed("quarantined", Match(), notice=_crash_notice(msg, reason), reason=reason)
    before = states.get(routed.match.pair_id or "")
    for event in routed.events if routed.match.pair_id else []:
        states[routed.match.pair_id] = apply(states[routed.match.pair_id], event)
    for entry in routed.log:
        rt.store.append_log(**entry)
    folder = "quarantine" if routed.outcome == "quarantined" else "processed"
    with_text = routed.outcome != "quarantined" or kept.take(msg.from_addr)
    reason = routed.reason if with_text else _not_kept(routed.reason)
    rt.store.record_inbound(
        msg.message_id,
        at=routed.log[0]["at"] if routed.log else now,
        outcome=routed.outcome,
        pair=routed.match.pair_id,
        role=routed.match.role,
        via=routed.match.via,
        reason=reason,
        subject=short(msg.subject) if with_text else "",
        text=capped(msg.reply_text, folder) if with_text else "",
        problems=list(msg.problems),
        ref=raw.ref,
        **{"from": short(msg.from_addr)},
        **coordinator.recorded(rt.cfg, msg, routed),
    )
    who = f"{routed.match.pair_id}/{routed.match.role}" if routed.match.pair_id else msg.from_addr
    because = f" ({reason})" if reason else ""
    report.received.append(f"{who}: {routed.outcome}{because}: {short(msg.subject, 200)!r}")
    if not with_text:
        return _outcome(routed.outcome), []
    after = states.get(routed.match.pair_id or "")
    heard = hear(rt.cfg, msg, routed, before, after, now, kept)
    for event in heard.events if routed.match.pair_id else []:
        states[routed.match.pair_id] = apply(states[routed.match.pair_id], event)
    return _outcome(routed.outcome), [_capped_notice(a, folder) for a in heard.actions]


def _poison(
    rt: Runtime,
    raw: RawMessage,
    key: str,
    now: datetime,
    report: TickReport,
    kept: QuarantineAllowance,
    reason: str | None = None,
) -> tuple[Outcome, Action | None]:
    """Quarantine a message unread (it could not be parsed, or stopped the agent each
    time it was tried); the coordinator hears of it from what its header lines say."""
    seen = peek(raw.data)
    reason = reason or (
        f"could not be processed in {attempts.MAX_ATTEMPTS} attempts "
        "(the agent stopped while reading it each time)"
    )
    reason += "; it is in the quarantine folder as it arrived"
    with_text = kept.take(seen.address)
    rt.store.record_inbound(
        key,
        at=now,
        outcome="quarantined",
        pair=None,
        role=None,
        via=None,
        reason=reason if with_text else _not_kept(reason),
        subject=short(seen.subject) if with_text else "",
        text="",
        problems=[],
        ref=raw.ref,
        **{"from": seen.address or short(seen.name)},
    )
    report.received.append(
        f"{seen.address or 'an unknown sender'}: quarantined ({reason}): {seen.subject!r}"
    )
    message = {
        "from_name": seen.name,
        "from_addr": seen.address,
        "subject": seen.subject,
        "date": seen.date,
        "text": "",
        "unread": True,
    }
    notice = Action(
        key=f"notice/{key}",
        kind="coordinator_reply",
        pair_id=None,
        template="coordinator_reply",
        extra={"reason": reason, "message": message},
    )
    return "quarantine", notice if with_text else None


def _crash_notice(msg: InboundMessage, reason: str) -> Action:
    message = {
        "from_name": msg.from_name,
        "from_addr": msg.from_addr,
        "subject": msg.subject,
        "date": msg.date.isoformat() if msg.date else "",
        "text": msg.reply_text or msg.text,
    }
    return Action(
        key=f"notice/{msg.message_id}",
        kind="coordinator_reply",
        pair_id=None,
        template="coordinator_reply",
        extra={"reason": f"{reason}; it is in the quarantine folder", "message": message},
    )


def _capped_notice(notice: Action, folder: str) -> Action:
    """The notice with the quoted text capped like the record's (agent.mail_in.kept)."""
    message = notice.extra.get("message")
    if not isinstance(message, dict) or len(message.get("text", "")) <= TEXT_KEPT:
        return notice
    message = {**message, "text": capped(message["text"], folder)}
    return replace(notice, extra={**notice.extra, "message": message})


def _not_kept(reason: str | None) -> str:
    because = f"{reason}; " if reason else ""
    return (
        f"{because}subject and text not kept (more than {PER_SENDER} quarantined messages "
        f"from this sender, or {PER_DAY} in all, today)"
    )


def run_tick(rt: Runtime, now: datetime, *, dry_run: bool = False) -> TickReport:
    """One pass; returns what happened (or, in a dry run, what would)."""
    started = clock.monotonic()
    cfg, store = rt.cfg, rt.store
    report = TickReport(now, dry_run)
    states = {p.id: store.pair_state(p.id) for p in cfg.pairs}
    previous = store.meta("program_snapshot")
    found = reconcile.changes(previous, cfg)
    removed_now = {c.pair_id for c in found if isinstance(c, reconcile.PairRemoved)}
    for pair_id in store.pair_ids():  # pairs no longer in the config
        if pair_id in states:
            continue
        state = store.pair_state(pair_id)
        if pair_id in removed_now or (state.removed_at and state.stage != Stage.CLOSED):
            states[pair_id] = state
    saved = dict(states)
    changed = reconcile.reconcile(cfg, states, found, now)
    states, report.changes = changed.states, changed.notes
    if previous != reconcile.snapshot(cfg):
        store.set_meta("program_snapshot", reconcile.snapshot(cfg))  # written with the states
    handled, notices = _ingest(rt, states, now, report, dry_run=dry_run)
    notices += coordinator.reoffer(cfg, store, states, now)  # senders that became known
    notices = _owed_notices(store, changed.notices + notices)
    closing = Timeline.of(cfg).closing
    states = {pid: apply(state, Clock(now, closing)) for pid, state in states.items()}
    notices_owed = list(notices)
    executor = Executor(cfg, store, rt.mailbox, rt.calendar, rt.renderer, rt.token_key)
    attempted: set[str] = set()
    sending = _Sending(rt, now)
    busy = _BusyTimes(report)
    logs = store.log_view(latest=LATEST_KINDS, every=EVERY_KINDS)
    configured = {p.id for p in cfg.pairs}
    replan = set(states)  # a later round plans only the pairs the round before changed
    held: dict[str, list[Held]] = {}  # each pair's latest plan's emails waiting for hours
    for _ in range(MAX_ROUNDS):
        planned = list(notices)
        for p in cfg.pairs:
            if p.id in replan:
                busy_times = busy.get(rt, p, states[p.id], now)
                plan = plan_pair_in_hours(cfg, p, states[p.id], now, busy_times, logs.get(p.id, []))
                planned += plan.due
                held[p.id] = plan.held
        planned += [
            a
            for pid, st in states.items()
            if pid not in configured and pid in replan
            for a in plan_removed(st, now)
        ]
        replan = set()
        planned += plan_program(cfg, now)
        notices = []
        todo = executor.unsettled([a for a in planned if a.key not in attempted])
        if not todo:
            break
        attempted.update(a.key for a in todo)
        todo = sending.admit(todo)
        if not dry_run:
            for action in todo:
                executor.record_intent(action, now)
            _save(rt, states, saved)
            store.flush()
        for action in todo:
            try:
                event = executor.perform(action, states, now, dry_run=dry_run)
            except DeliveryRefused as exc:  # permanent: retrying will not help
                report.errors.append(f"{action.describe()}: {exc}")
                executor.record_failure(action, exc, now, permanent=True)
                if action.pair_id and action.role:
                    refused = Bounced(action.role, exc.recipients[0], exc.reply, now)
                    states[action.pair_id] = apply(states[action.pair_id], refused)
                    replan.add(action.pair_id)
                continue
            except Exception as exc:  # one failing action must not stop the others
                log.exception("%s failed", action.key)
                report.errors.append(f"{action.describe()}: {exc}")
                if not dry_run:
                    executor.record_failure(action, exc, now)
                continue
            report.performed.append(action.describe())
            sending.went(action)
            if event is not None and action.pair_id:
                states[action.pair_id] = apply(states[action.pair_id], event)
                replan.add(action.pair_id)
    report.waiting = len(sending.held)
    waits = [h for pair_held in held.values() for h in pair_held]
    unsent = {a.key for a in executor.unsettled([h.action for h in waits])}
    report.held = [h.describe() for h in waits if h.action.key in unsent]
    report.seconds = clock.monotonic() - started
    if dry_run:
        return report
    _save(rt, states, saved)
    sending.save(store)
    store.set_meta("notices", _records(executor.unsettled(notices_owed)))
    _retention(rt, now, report)
    store.set_meta(
        "last_tick",
        {
            "at": now,
            "seconds": round(report.seconds, 3),
            "errors": report.errors,
            "performed": len(report.performed),
            "received": len(report.received),
        },
    )
    if not report.errors:
        store.set_meta("last_ok_tick", now)
    store.flush()
    for raw, outcome in handled:
        try:
            rt.mailbox.mark_handled(raw.ref, outcome)
        except (ConnectorError, OSError) as exc:
            report.errors.append(f"mailbox: cannot move handled message {raw.ref}: {exc}")
    return report


class _Sending:
    """This tick's send budget (agent.pairs.limits): the recent send times and the emails
    waiting since when, kept in the store's meta between ticks."""

    def __init__(self, rt: Runtime, now: datetime) -> None:
        self.now = now
        self.limits = SendLimits.of(rt.cfg.limits, rt.mailbox.send_limits)
        self.sent = [datetime.fromisoformat(t) for t in rt.store.meta("sent_times", [])]
        stored = rt.store.meta("waiting", {})
        self.waiting = {key: datetime.fromisoformat(at) for key, at in stored.items()}
        self.held: dict[str, datetime] = {}  # waiting after this tick, since when

    def admit(self, todo: list[Action]) -> list[Action]:
        go, held = admit(todo, budget(self.limits, self.sent, self.now), self.waiting, self.now)
        for action in held:
            self.held[action.key] = self.waiting.get(action.key, self.now)
        return go

    def went(self, action: Action) -> None:
        if action.template:
            self.sent.append(self.now)

    def save(self, store: Store) -> None:
        store.set_meta("sent_times", [t.isoformat() for t in recent(self.sent, self.now)])
        store.set_meta("waiting", {key: at.isoformat() for key, at in self.held.items()})


class _BusyTimes:
    """Both participants' busy times, asked of the calendar once per tick, only for pairs
    about to get a meeting time. A calendar that cannot answer is reported, and the
    pair is planned as if both were free (the invitation can still be declined)."""

    def __init__(self, report: TickReport) -> None:
        self.report = report
        self.known: dict[str, list[tuple[datetime, datetime]]] = {}

    def get(
        self, rt: Runtime, pair: Pair, state: PairState, now: datetime
    ) -> list[tuple[datetime, datetime]]:
        if state.stage != Stage.AGREED or state.series is not None:
            return []
        if pair.id not in self.known:
            emails = [rt.cfg.participant(getattr(pair, r)).email for r in ROLES]
            try:
                found = rt.calendar.busy(emails, now, Timeline.of(rt.cfg).closing)
            except (ConnectorError, OSError) as exc:
                self.report.errors.append(f"calendar: cannot read busy times for {pair.id}: {exc}")
                found = {}
            self.known[pair.id] = sorted(i for intervals in found.values() for i in intervals)
        return self.known[pair.id]


def _retention(rt: Runtime, now: datetime, report: TickReport) -> None:
    """`storage.keep_messages`: old raw copies and reply texts go (agent.commands.privacy), at most
    once a day; written with the rest of the tick's state."""
    if rt.cfg.storage.keep_messages is None:
        return
    from agent.commands.privacy import apply_retention
    from agent.meetings.timefmt import format_duration

    try:
        done = apply_retention(rt.cfg, rt.store, now)
    except OSError as exc:
        report.errors.append(f"retention: cannot delete old messages: {exc}")
        return
    if done and any(done):
        report.performed.append(
            f"retention: deleted {done[0]} raw message(s), cleared {done[1]} reply text(s) "
            f"received more than {format_duration(rt.cfg.storage.keep_messages)} ago"
        )


def _owed_notices(store: Store, new: list[Action]) -> list[Action]:
    """The coordinator notices of this tick plus those owed from an interrupted one.

    A notice comes from an event that happens once: a reply read, a config change seen.
    The facts behind it (the inbound record, the config snapshot) reach the disk with the
    first flush, after which no later tick would raise the notice again. So the notices
    are kept in the store too, written by that same flush, until they are done.
    """
    owed = {a.key: a for a in (_action(r) for r in store.meta("notices") or [])}
    owed.update((a.key, a) for a in new)
    store.set_meta("notices", _records(list(owed.values())))
    return list(owed.values())


def _records(actions: list[Action]) -> list[dict[str, object]]:
    fields = ("key", "kind", "pair_id", "role", "template", "extra")
    return [{name: getattr(a, name) for name in fields} for a in actions]


def _action(record: dict[str, Any]) -> Action:
    return Action(**record)


def _save(rt: Runtime, states: dict[str, PairState], saved: dict[str, PairState]) -> None:
    """Write the states that changed since they were last saved (`saved` is updated)."""
    for pair_id, state in states.items():
        if saved.get(pair_id) != state or not rt.store.has_pair_state(pair_id):
            rt.store.save_pair_state(state)
            saved[pair_id] = state
