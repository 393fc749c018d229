"""From a parsed inbound message to what the agent does about it. Pure.

`match` ties a message to a pair and a role: by the signed token in the
address it was sent to, then by In-Reply-To/References to a message we sent,
then by the sender's address. A message is accepted only from that pair's
own participants; anything else is quarantined with the reason.

`route` decides the outcome: a machine's message (auto-reply, bounce) is
logged and never answered; a calendar reply is logged per attendee; a human
reply becomes a `Replied` event, progress-log entries and, when a person
should look at it, a notice to the coordinator with the text. What a reply
may change depends on how it was matched and authenticated (agent.pairs.trust).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from agent.config.addresses import mailbox_key
from agent.config.model import Config, Pair, Participant
from agent.mail_in.answers import number_inline
from agent.mail_in.message import InboundMessage, Intent, IntentKind, Interpretation, Role
from agent.mail_in.pause_dates import pause_end
from agent.mail_in.replies import interpret
from agent.mail_in.tokens import keyed_message_id, read_bounce_address, read_token
from agent.meetings.ics import DECLINE_COUNTER
from agent.meetings.timefmt import at_local
from agent.meetings.when import return_date
from agent.pairs import reschedule, trust
from agent.pairs.calendar_answers import Answer, read_answers
from agent.pairs.planner import Action, Timeline
from agent.pairs.program import (
    Answered,
    Away,
    Bounced,
    Event,
    Hold,
    Moved,
    PairState,
    Recadenced,
    Refresh,
    Replied,
    Settle,
    Skipped,
)
from agent.pairs.reschedule import Decision
from agent.pairs.trust import Standing

Outcome = Literal[
    "applied",
    "needs_human",
    "held",
    "auto_reply",
    "bounce",
    "calendar",
    "quarantined",
    "coordinator",  # the coordinator's own answer (agent.commands.coordinator)
]

# Intents a person has to act on, with how the coordinator is told. A reschedule or skip
# that fits is carried out by the agent instead (see `_meeting_request`).
_FOR_A_HUMAN = {
    IntentKind.DECLINE: "declined the mentoring agreement",
    IntentKind.RESCHEDULE: "asks to reschedule a meeting",
    IntentKind.SKIP: "wants to skip a meeting",
    IntentKind.MISSED: "says a meeting did not take place",
    IntentKind.QUESTION: "has a question",
    IntentKind.STOP: "wants to leave the program",
    IntentKind.PAUSE: "wants to pause",
    IntentKind.CONDITION: "answered the agreement with a condition or a question, so has not "
    "agreed yet and nothing is booked",
    IntentKind.CADENCE: "would like to meet more or less often, or for longer or shorter",
}


@dataclass(frozen=True)
class Match:
    pair_id: str | None = None
    role: Role | None = None
    via: str | None = None  # "token", "thread", "sender" or "bounce"
    replied_to: str | None = None  # the kind of our email this answers (agreement, follow_up ...)
    problem: str | None = None  # why the message cannot be trusted or placed
    address: str | None = None  # for a bounce: the participant's address that failed
    claimed: Role | None = None  # a stranger's message: the role its token or thread names
    about: str | None = None  # the coordinator's answer: the action key of our email
    answered: str | None = None  # a participant's reply: the action key of our email


@dataclass(frozen=True)
class Routed:
    outcome: Outcome
    match: Match
    events: list[Event] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    notice: Action | None = None
    reason: str | None = None
    answers: list[Action] = field(default_factory=list)  # emails that answer the writer


def _role_in(
    pair: Pair, cfg: Config, mailbox: str, aliases: Mapping[str, str] | None = None
) -> Role | None:
    """The role in `pair` of the person whose mailbox key (agent.config.addresses) that is,
    in the config or among the aliases the coordinator added by email (`aliases`: mailbox
    key -> participant id; agent.commands.coordinator)."""
    for role in ("mentor", "mentee"):
        person = getattr(pair, role)
        if mailbox and mailbox in cfg.participant(person).mailboxes:
            return role  # type: ignore[return-value]
        if mailbox and aliases and aliases.get(mailbox) == person:
            return role  # type: ignore[return-value]
    return None


class SentMail(Protocol):
    """What the agent sent, as far as matching a reply needs it (agent.state.store.Store)."""

    def sent(self, message_id: str) -> Mapping[str, Any] | None: ...

    def latest_sent(self, pair_id: str, role: str) -> Mapping[str, Any] | None: ...


_MAX_THREAD_IDS = 20  # of our ids in In-Reply-To and References, the latest looked up


def match(
    msg: InboundMessage,
    cfg: Config,
    token_key: bytes,
    sent: SentMail,
    aliases: Mapping[str, str] | None = None,
) -> Match:
    """Which pair and role a message belongs to, or why it belongs to none.

    Only the one clear From mailbox names the sender (never Sender or Reply-To);
    a message without one is quarantined, reported when it claims a pair. Only a
    Message-ID made with the program's secret places a message in a thread: an
    id made the old, guessable way proves nothing.

    The coordinator's own answer to an email the agent sent them is matched `via`
    "coordinator" (`about` names that email), for agent.commands.coordinator to read.
    """
    if msg.bounce:
        return _bounced_participant(msg, cfg, token_key, sent)
    ours = [i for i in (*msg.in_reply_to, *reversed(msg.references)) if keyed_message_id(i)]
    thread = next((r for i in ours[:_MAX_THREAD_IDS] if (r := sent.sent(i)) is not None), None)
    replied_to = thread.get("kind") if thread else None
    token = read_token(msg.to_addrs, cfg.program.sender.email, token_key)
    candidates: list[tuple[str, Pair]] = []
    if token and (pair := cfg.pair_named(token[0])):
        candidates.append(("token", pair))
    if thread and (pair := cfg.pair_named(thread.get("pair"))):
        candidates.append(("thread", pair))
    if msg.sender_problem:
        via, pair = candidates[0] if candidates else (None, None)
        return Match(pair_id=pair.id if pair else None, via=via, problem=msg.sender_problem)
    if msg.from_addr == cfg.program.sender.email.lower():
        return Match(problem="sent from the program's own address (mail loop)")
    if msg.dmarc_fail:
        return Match(problem="the sender's domain failed DMARC: the From address may be forged")
    mailbox = mailbox_key(msg.from_addr) if msg.from_addr else ""
    if mailbox and mailbox == mailbox_key(cfg.program.coordinator.email):
        to_them = thread is not None and thread.get("role") is None
        if to_them or not candidates:
            about = thread if to_them else None
            pair = cfg.pair_named(about.get("pair")) if about else None
            return Match(
                pair_id=pair.id if pair else None,
                via="coordinator",
                replied_to=replied_to if about else None,
                about=str(about.get("key")) if about else None,
            )
    for via, pair in candidates:
        role = _role_in(pair, cfg, mailbox, aliases)
        if role is None:
            sender = msg.from_addr or "an unknown sender"
            problem = f"{sender} is not a participant of pair {pair.id}"
            claimed = token[1] if via == "token" and token else (thread or {}).get("role")
            return Match(pair_id=pair.id, via=via, problem=problem, claimed=claimed)
        kind, key = _answered(thread, sent, pair.id, role)
        return Match(pair.id, role, via, kind, answered=key)
    own = [(p, r) for p in cfg.pairs if (r := _role_in(p, cfg, mailbox, aliases))]
    if len(own) == 1:
        pair, role = own[0]
        kind, key = _answered(thread, sent, pair.id, role)
        return Match(pair.id, role, "sender", kind, answered=key)
    if len(own) > 1:
        ids = ", ".join(p.id for p, _ in own)
        return Match(problem=f"{msg.from_addr} is in several pairs ({ids}); cannot tell which")
    return Match(problem=f"{msg.from_addr or 'an unknown sender'} is not a participant")


NOT_OURS = "a bounce that names no message of ours"


def _bounced_participant(
    msg: InboundMessage, cfg: Config, token_key: bytes, sent: SentMail
) -> Match:
    """The participant whose address bounced, when the bounce ties to an email we sent them.

    Anyone can send a delivery status notification naming any address, so a
    bounce counts only (a) when the returned message (RFC 3464/6522) carries the
    Message-ID of an email we sent and the failed address is that email's
    recipient, or (b) when it came to the bounce address (VERP, agent.mail_in.tokens)
    signed for a pair's role and the failed address is that participant's. A
    bounce about an email of ours that names another address is the
    coordinator's to read; any other is quarantined, nothing changes.
    """
    failed = [a.lower() for a in msg.failed_recipients]
    verp = read_bounce_address(msg.to_addrs, cfg.program.sender.email, token_key)
    ours: Match | None = None
    if verp and (pair := cfg.pair_named(verp[0])):
        role = verp[1]
        hit = _first_in(failed, cfg.participant(getattr(pair, role)).addresses)
        if hit:
            return Match(pair.id, role, "bounce", address=hit)
        ours = Match(pair.id, via="bounce")
    for message_id in msg.returned_ids:
        record = sent.sent(message_id) if keyed_message_id(message_id) else None
        if record is None:
            continue
        pair = cfg.pair_named(record.get("pair"))
        role = record.get("role")
        if pair is None or role not in ("mentor", "mentee"):
            ours = ours or Match(pair.id if pair else None, via="bounce")
            continue
        recipients = cfg.participant(getattr(pair, role)).addresses
        if record.get("to"):
            recipients = (str(record["to"]).lower(),)
        hit = _first_in(failed, recipients)
        if hit:
            return Match(pair.id, role, "bounce", address=hit)
        ours = ours or Match(pair.id, via="bounce")
    return ours or Match(via="bounce", problem=NOT_OURS)


def _first_in(found: list[str], addresses: Iterable[str]) -> str | None:
    """The first of `found` that is one of `addresses`."""
    known = set(addresses)
    return next((a for a in found if a in known), None)


def sender_zone(cfg: Config, found: Match) -> ZoneInfo:
    """The time zone the matched participant writes in (the program's when unknown)."""
    if found.pair_id and found.role:
        person = cfg.participant(getattr(cfg.pair(found.pair_id), found.role))
        return person.timezone
    return cfg.program.timezone


def _answered(
    thread: Mapping[str, Any] | None, sent: SentMail, pair_id: str, role: Role
) -> tuple[str | None, str | None]:
    """(kind, action key) of our email a reply answers: the thread's, else the latest email
    that person got (without thread headers, the one a reply most likely answers)."""
    record = thread if thread and thread.get("kind") else sent.latest_sent(pair_id, role)
    return (record.get("kind"), record.get("key")) if record else (None, None)


def received_at(msg: InboundMessage, now: datetime) -> datetime:
    """When the reply was written: its Date header, unless missing or in the future."""
    if msg.date is None or msg.date > now + timedelta(minutes=5):
        return now
    return msg.date


def route(
    msg: InboundMessage,
    found: Match,
    now: datetime,
    tz: ZoneInfo,
    cfg: Config | None = None,
    state: PairState | None = None,
) -> Routed:
    """The outcome for one message and everything it produces.

    `tz` is the sender's time zone: dates in the text ("back on Monday",
    "Friday 3pm") are read in it. With the config and the pair's state, a
    request to move or skip one meeting (or a calendar COUNTER) that fits is
    carried out instead of being passed to the coordinator.

    A change asked for by a reply that is not both placed (our token or thread)
    and authenticated (a trusted DMARC pass) is not applied (agent.pairs.trust): a
    placed one is held for the participant's confirmation (`security.unauthenticated:
    confirm`, outcome "held"), any other goes to the coordinator. A reply in a
    confirmation's thread applies the change it holds.
    """
    at = received_at(msg, now)
    base = {"at": at, "pair": found.pair_id, "by": found.role, "message_id": msg.message_id}
    if msg.bounce:
        return _bounce(msg, found, base)
    if msg.auto_reply:
        return _auto_reply(msg, found, base, at, tz)
    if found.problem or found.pair_id is None or found.role is None:
        # a stranger is only counted in the digest; a message that claims a pair is reported
        suspicious = found.pair_id is not None or msg.dmarc_fail
        notice = _notice(msg, found, f"quarantined: {found.problem}") if suspicious else None
        return Routed("quarantined", found, notice=notice, reason=found.problem)
    context = _MeetingContext.of(cfg, found, state, now)
    standing = Standing.of(msg, found.via, cfg)
    if msg.calendar:
        return _calendar_reply(msg, found, base, context, standing)
    ref = trust.confirmation_ref(found.replied_to)
    if ref is not None:
        return _confirmation(msg, found, base, ref, tz, context)
    # answers typed under our quoted questions keep their numbers (in a held change too)
    msg = replace(msg, reply_text=number_inline(msg.text, msg.reply_text, found.replied_to))
    meaning = interpret(msg.reply_text, context=found.replied_to, now=at, tz=tz)
    asked: tuple[Intent, ...] = ()
    if not standing.trusted:
        meaning, asked = trust.split(meaning)
    events, log, human = _apply(
        meaning, found.role, base, tz, context, found.answered, text=msg.reply_text
    )
    held = None
    if asked:
        wanted = "; ".join(trust.describe(i) for i in asked)
        if standing.placed and context and not meaning.unsure and _confirms(context):
            person = context.cfg.participant(getattr(context.pair, found.role))
            held = trust.held(
                msg, asked, found.role, person.id, at, now, context.cfg, found.replied_to
            )
            events.append(Hold(held))
        else:
            human.append(f"asks to {wanted}: not applied: {standing.why_not(msg.from_addr)}")
    waiting = f"waiting for confirmation: {'; '.join(held.changes)}" if held else None
    if human:
        reason = "; ".join([*human, *([waiting] if waiting else [])])
        return Routed("needs_human", found, events, log, _notice(msg, found, reason), reason)
    if waiting:
        return Routed("held", found, events, log, reason=waiting)
    return Routed("applied", found, events, log)


def _confirms(context: _MeetingContext) -> bool:
    return context.cfg.security.unauthenticated == "confirm"


def _apply(
    meaning: Interpretation,
    role: Role,
    base: dict[str, Any],
    tz: ZoneInfo,
    context: _MeetingContext | None,
    answered: str | None = None,
    *,
    text: str = "",
) -> tuple[list[Event], list[dict[str, Any]], list[str]]:
    """What a reply's meaning does: (events, progress-log entries, what a person must see).

    `answered` is the action key of our email the reply answers: a meeting reported
    missed in answer to a follow-up is the one that follow-up asked about.
    """
    # a pause: the day it ends, when the reply says (agent.mail_in.pause_dates)
    until = pause_end(text, base["at"], tz) if meaning.has(IntentKind.PAUSE) else None
    events: list[Event] = [Replied(role, base["at"], meaning, until)]
    log = _log_entries(meaning, base)
    human = []
    for kind, reason in _FOR_A_HUMAN.items():
        if not meaning.has(kind):
            continue
        if kind == IntentKind.SKIP and meaning.has(IntentKind.RESCHEDULE):
            continue  # "I can't make it on Monday, can we do Wednesday?": one request, the move
        if kind == IntentKind.MISSED:
            entries, why = _missed(base, context, answered)
            log += entries
            human.append(why)
            continue
        decision = _meeting_request(meaning, kind, role, tz, context)
        if decision and decision.event:
            events.append(decision.event)
            log.append(_change_entry(base, decision.event))
            continue
        why = _why(meaning, kind, reason)
        human.append(f"{why}: {decision.reason}" if decision and decision.reason else why)
    if meaning.unsure:
        human.append(f"reply not understood ({meaning.unsure})")
    return events, log, human


def _confirmation(
    msg: InboundMessage,
    found: Match,
    base: dict[str, Any],
    ref: str,
    tz: ZoneInfo,
    context: _MeetingContext | None,
) -> Routed:
    """A reply in a confirmation's thread: the held change it names is applied, once.

    Only the participant it was held for can confirm it, before it lapses; an answer
    that says no settles it unapplied, and the coordinator is told.
    """
    assert found.role is not None
    pending = next((h for h in context.state.held if h.ref == ref), None) if context else None
    if pending and context:
        person = context.cfg.participant(getattr(context.pair, found.role))
        if (
            pending.role != found.role
            or pending.person != person.id
            or pending.until <= context.now
        ):
            pending = None
    if pending is None:
        reason = "answers a confirmation that is no longer pending (confirmed already, or lapsed)"
        reason += ": nothing applied"
        events: list[Event] = [Replied(found.role, base["at"], Interpretation())]
        return Routed(
            "needs_human", found, events, notice=_notice(msg, found, reason), reason=reason
        )
    wanted = "; ".join(pending.changes)
    if trust.refuses(msg.reply_text):
        reason = f"says they did not ask to {wanted} (asked by email and not confirmed)"
        events = [Settle(ref), Replied(found.role, base["at"], Interpretation())]
        notice = _notice(msg, found, reason, text=pending.text)
        return Routed("needs_human", found, events, notice=notice, reason=reason)
    meaning = interpret(pending.text, context=pending.replied_to, now=pending.at, tz=tz)
    request = {**base, "at": pending.at}
    events, log, human = _apply(
        trust.only_changes(meaning), found.role, request, tz, context, text=pending.text
    )
    events.insert(0, Settle(ref))
    if human:
        reason = f"confirmed by reply: {'; '.join(human)}"
        notice = _notice(msg, found, reason, text=pending.text)
        return Routed("needs_human", found, events, log, notice, reason)
    return Routed("applied", found, events, log, reason=f"confirmed: {wanted}")


@dataclass(frozen=True)
class _MeetingContext:
    """What deciding on a meeting change needs: the rules, the pair and its series."""

    cfg: Config
    pair: Pair
    state: PairState
    now: datetime
    closing: datetime

    @classmethod
    def of(
        cls, cfg: Config | None, found: Match, state: PairState | None, now: datetime
    ) -> _MeetingContext | None:
        if cfg is None or state is None or found.pair_id is None:
            return None
        return cls(cfg, cfg.pair(found.pair_id), state, now, Timeline.of(cfg).closing)


def _meeting_request(
    meaning: Interpretation,
    kind: IntentKind,
    role: Role,
    tz: ZoneInfo,
    context: _MeetingContext | None,
) -> Decision | None:
    """Move or skip a meeting when asked; None for other intents or without a context.

    A reply that asks to reschedule and says it cannot make it is one request: the
    move, never also a skip; the day it cannot make names the meeting that moves. A
    request about every meeting ("from now on") changes the series.
    """
    if context is None or kind not in (IntentKind.RESCHEDULE, IntentKind.SKIP):
        return None
    intent = meaning.first(kind)
    assert intent is not None
    series = context.state.series
    if kind == IntentKind.RESCHEDULE:
        when = reschedule.about_skipped(intent.when, meaning.first(IntentKind.SKIP))
        if when and when.series:
            return reschedule.change_series(
                context.cfg,
                context.pair,
                context.state,
                when,
                by=role,
                tz=tz,
                now=context.now,
                closing=context.closing,
            )
        return reschedule.move(
            context.cfg,
            context.pair,
            series,
            when,
            by=role,
            tz=tz,
            now=context.now,
            closing=context.closing,
        )
    return reschedule.skip(series, intent.when, by=role, tz=tz, now=context.now)


def _change_entry(base: dict[str, Any], event: Moved | Skipped | Recadenced) -> dict[str, Any]:
    """The progress-log entry for a meeting (or the series) the agent moved or skipped."""
    stamp = "%Y-%m-%d %H:%M %Z"
    if isinstance(event, Recadenced):
        first = event.current.first_start
        text = f"meetings from {first:{stamp}} moved to {first:%A}s at {first:%H:%M %Z}"
        return {**base, "kind": "meeting_change", "text": text}
    text = f"meeting of {event.original:{stamp}} " + (
        f"moved to {event.new_start:{stamp}}" if isinstance(event, Moved) else "skipped"
    )
    return {**base, "kind": "meeting_change", "text": text}


_FOLLOW_UP_KEY = re.compile(r"/follow_up/(\d{8}T\d{4}Z)/")  # agent.pairs.planner: its meeting


def _missed(
    base: dict[str, Any], context: _MeetingContext | None, answered: str | None
) -> tuple[list[dict[str, Any]], str]:
    """A meeting reported as not having taken place: (the log entry marking it missed,
    what the coordinator is told). The meeting is the one the follow-up being answered
    asked about, else the latest that had started when the reply was written. The
    coordinator is asked to offer another time, with the pair's next meeting."""
    reason = _FOR_A_HUMAN[IntentKind.MISSED]
    if context is None:
        return [], reason
    meetings = [m for part in context.state.segments() for m in part.meetings()]
    stamp = _FOLLOW_UP_KEY.search(answered or "")
    named = []
    if stamp:
        start = datetime.strptime(stamp[1], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        named = [m for m in meetings if m[1] == start]
    started = [m for m in meetings if m[1] <= base["at"]]
    meeting = named[0] if named else max(started, key=lambda m: m[1], default=None)
    if meeting is None:
        return [], f"{reason}, but none of their meetings has taken place yet"
    original, start = meeting
    zone = context.cfg.program.timezone
    entry = {
        **base,
        "kind": "meeting_missed",
        "occurrence": original.astimezone(UTC).isoformat(),
        "text": f"meeting of {start:%Y-%m-%d %H:%M %Z} did not take place",
    }
    series = context.state.series
    upcoming = series.next_after(context.now) if series and series.status == "confirmed" else None
    then = f" (their next meeting is on {at_local(upcoming, zone)})" if upcoming else ""
    return [entry], (
        f"says the meeting of {at_local(start, zone)} did not take place: marked as missed; "
        f"please offer them another time{then}"
    )


def _bounce(msg: InboundMessage, found: Match, base: dict[str, Any]) -> Routed:
    """Logged and the address marked as failing (the planner then tells the coordinator).

    A bounce about an email of ours for an address that is not its recipient goes to
    the coordinator as is; one that names no email of ours is quarantined (counted in
    the digest) and changes nothing.
    """
    if found.problem:
        return Routed("quarantined", found, reason=found.problem)
    failed = ", ".join(msg.failed_recipients) or "an address"
    reason = f"delivery to {failed} failed"
    log = [{**base, "kind": "bounce", "text": reason}]
    if found.role and found.address:
        why = msg.bounce_reason or msg.subject or "returned as undeliverable"
        event = Bounced(found.role, found.address, why, base["at"])
        return Routed("bounce", found, [event], log, reason=reason)
    return Routed("bounce", found, log=log, notice=_notice(msg, found, reason), reason=reason)


def _auto_reply(
    msg: InboundMessage, found: Match, base: dict[str, Any], at: datetime, tz: ZoneInfo
) -> Routed:
    """Logged and never answered; a return date postpones that person's reminders."""
    if not (found.pair_id and found.role) or found.problem:
        return Routed("auto_reply", found, reason=msg.auto_reply)
    back = return_date(f"{msg.subject}\n{msg.reply_text or msg.text}", at, tz)
    text = msg.subject + (f" (back on {back:%Y-%m-%d})" if back else "")
    events: list[Event] = [Away(found.role, datetime.combine(back, time(0), tz))] if back else []
    entry = {**base, "kind": "auto_reply", "text": text}
    return Routed("auto_reply", found, events, [entry], reason=msg.auto_reply)


def _calendar_reply(
    msg: InboundMessage,
    found: Match,
    base: dict[str, Any],
    context: _MeetingContext | None,
    standing: Standing,
) -> Routed:
    """iTIP answers are logged per meeting, once each, for the sender only
    (agent.pairs.calendar_answers). A decline of the whole series, a delegation and
    anything that cannot be applied reach the coordinator; a COUNTER is a request to move
    one meeting, carried out only when the message is placed and authenticated
    (agent.pairs.trust)."""
    if context is None or found.role is None:
        entries = [{**base, "kind": "calendar", "text": "calendar message from outside a pair"}]
        return Routed("calendar", found, [], entries)
    person = context.cfg.participant(getattr(context.pair, found.role))
    reading = read_answers(
        msg.calendar,
        is_sender=lambda a: person.writes_from(a) or mailbox_key(a) == mailbox_key(msg.from_addr),
        segments=context.state.segments(),
        program_name=context.cfg.program.name,
    )
    entries = [{**base, "kind": "calendar", "text": note} for note in reading.notes]
    events: list[Event] = []
    human = list(reading.for_coordinator)
    answers: list[Action] = []
    for answer in reading.answers:
        if answer.method == "COUNTER":
            human.extend(
                _counter(
                    msg, found, base, answer, context, standing, person, events, entries, answers
                )
            )
            continue
        if answer.method == "REFRESH":  # the invitation goes again, to their configured address
            entries.append({**base, "kind": "calendar", "text": "asked for the invitation again"})
            ref = hashlib.sha256(msg.message_id.encode()).hexdigest()[:12]
            events.append(Refresh(found.role, ref))
            continue
        status = "declined" if answer.declines else answer.partstat.lower()
        when = f" for {answer.day}" if answer.day else ""
        entry = {**base, "kind": "meeting_reply", "text": f"REPLY {status}{when}"}
        if answer.method != "REPLY":
            entry["method"] = answer.method  # an attendee's CANCEL: a decline
        if answer.original is not None:
            entry["occurrence"] = answer.original.astimezone(UTC).isoformat()
        # a decline counts for the planner only from an authenticated sender (trust.md);
        # otherwise it is logged, as every answer is
        if answer.partstat != "NEEDS-ACTION" and standing.trusted:
            at = msg.date or context.now
            events.append(Answered(found.role, answer.original, answer.declines, at))
        if answer.comment:
            entry["comment"] = answer.comment[:500]
        entries.append(entry)
        if answer.declines and answer.original is None:
            human.append("declined the whole meeting series in the calendar")
        if answer.partstat == "DELEGATED":
            to = answer.delegated_to or "someone else"
            which = f"the meeting of {answer.day}" if answer.day else "the meetings"
            human.append(f"delegated {which} in the calendar to {to}, who is not in the pair")
    if human:
        reason = "; ".join(dict.fromkeys(human))
        notice = _notice(msg, found, reason)
        return Routed("needs_human", found, events, entries, notice, reason, answers)
    return Routed("calendar", found, events, entries)


def _counter(
    msg: InboundMessage,
    found: Match,
    base: dict[str, Any],
    answer: Answer,
    context: _MeetingContext,
    standing: Standing,
    person: Participant,
    events: list[Event],
    entries: list[dict[str, Any]],
    answers: list[Action],
) -> list[str]:
    """A COUNTER moves the meeting it names when it fits; otherwise the writer's calendar
    gets a DECLINECOUNTER with the reason, and the coordinator the proposal."""
    assert found.role is not None
    if not standing.trusted:
        why = standing.why_not(msg.from_addr)
        return [f"proposes another time in the calendar: not applied: {why}"]
    proposed = answer.proposed.astimezone(person.timezone) if answer.proposed else None
    decision = reschedule.counter(
        context.cfg,
        context.pair,
        context.state.series,
        answer.original,
        proposed,
        by=found.role,
        now=context.now,
        closing=context.closing,
    )
    if decision.event:
        events.append(decision.event)
        entries.append(_change_entry(base, decision.event))
        return []
    if context.state.series is not None and decision.reason:
        original = answer.original.astimezone(UTC).isoformat() if answer.original else None
        extra = {"reason": decision.reason, "original": original, "subject": msg.subject}
        answers.append(
            Action(
                f"answer/{msg.message_id}",
                "counter_declined",
                found.pair_id,
                found.role,
                "counter_declined",
                extra,
                series=context.state.series,
                method=DECLINE_COUNTER,
            )
        )
    return [f"proposes another time in the calendar: {decision.reason}"]


def _why(meaning: Interpretation, kind: IntentKind, reason: str) -> str:
    intent = meaning.first(kind)
    if intent and intent.when:
        return f"{reason} ({intent.when.describe()})"
    return reason


def _log_entries(meaning: Interpretation, base: dict[str, Any]) -> list[dict[str, Any]]:
    entries = []
    for intent in meaning.intents:
        entry = {**base, **intent.fields()}
        if not intent.text:
            entry["text"] = "; ".join(intent.items)
        if intent.kind == IntentKind.RATING:
            entry["text"] = f"{intent.value}/5"
        entries.append(entry)
    return entries


def _notice(msg: InboundMessage, found: Match, reason: str, text: str | None = None) -> Action:
    """The coordinator's notice. About a participant's reply it carries them as Reply-To
    (the coordinator's Reply reaches them; agent.commands.executor)."""
    person = found.role is not None and not found.problem and msg.from_addr
    reply_to = {"reply_to": {"name": msg.from_name, "address": msg.from_addr}} if person else {}
    return Action(
        key=f"notice/{msg.message_id}",
        kind="coordinator_reply",
        pair_id=found.pair_id,
        template="coordinator_reply",
        extra={
            "reason": reason,
            "message": {
                "from_name": msg.from_name,
                "from_addr": msg.from_addr,
                "subject": msg.subject,
                "date": msg.date.isoformat() if msg.date else "",
                "text": text if text is not None else msg.reply_text or msg.text,
            },
            **reply_to,
        },
    )


def released(
    text: str,
    found: Match,
    at: datetime,
    now: datetime,
    tz: ZoneInfo,
    cfg: Config,
    state: PairState,
    message_id: str,
) -> Routed:
    """A message the coordinator released (agent.commands.coordinator): its text applied as
    if it had come placed and authenticated from `found.role` of `found.pair_id`."""
    assert found.role is not None and found.pair_id is not None
    base = {"at": at, "pair": found.pair_id, "by": found.role, "message_id": message_id}
    context = _MeetingContext.of(cfg, found, state, now)
    meaning = interpret(text, context=found.replied_to, now=at, tz=tz)
    events, log, human = _apply(meaning, found.role, base, tz, context, text=text)
    if human:
        return Routed("needs_human", found, events, log, reason="; ".join(human))
    return Routed("applied", found, events, log)
