"""From a parsed inbound message to what the agent does about it. Pure.

`match` ties a message to a pair and a role: by the signed token in the
address it was sent to, then by In-Reply-To/References to a message we sent,
then by the sender's address. A message is accepted only from that pair's
own participants; anything else is quarantined with the reason.

`route` decides the outcome: a machine's message (auto-reply, bounce) is
logged and never answered; a calendar reply is logged per attendee; a human
reply becomes a `Replied` event, progress-log entries and, when a person
should look at it, a notice to the coordinator with the text. What a reply
may change depends on how it was matched and authenticated (agent.trust).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from agent import reschedule, trust
from agent.config import Config, Pair
from agent.ics import IcsError, parse_itip
from agent.model import InboundMessage, Intent, IntentKind, Interpretation, Role
from agent.planner import Action, Timeline
from agent.program import (
    Away,
    Bounced,
    Event,
    Hold,
    Moved,
    PairState,
    Replied,
    Settle,
    Skipped,
)
from agent.replies import interpret
from agent.reschedule import Decision
from agent.tokens import keyed_message_id, read_bounce_address, read_token
from agent.trust import Standing
from agent.when import return_date

Outcome = Literal[
    "applied", "needs_human", "held", "auto_reply", "bounce", "calendar", "quarantined"
]

# Intents a person has to act on, with how the coordinator is told. A reschedule or skip
# that fits is carried out by the agent instead (see `_meeting_request`).
_FOR_A_HUMAN = {
    IntentKind.DECLINE: "declined the mentoring agreement",
    IntentKind.RESCHEDULE: "asks to reschedule a meeting",
    IntentKind.SKIP: "wants to skip a meeting",
    IntentKind.QUESTION: "has a question",
    IntentKind.STOP: "wants to leave the program",
    IntentKind.PAUSE: "wants to pause",
}


@dataclass(frozen=True)
class Match:
    pair_id: str | None = None
    role: Role | None = None
    via: str | None = None  # "token", "thread", "sender" or "bounce"
    replied_to: str | None = None  # the kind of our email this answers (agreement, follow_up ...)
    problem: str | None = None  # why the message cannot be trusted or placed
    address: str | None = None  # for a bounce: the participant's address that failed


@dataclass(frozen=True)
class Routed:
    outcome: Outcome
    match: Match
    events: list[Event] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    notice: Action | None = None
    reason: str | None = None


def _role_in(pair: Pair, cfg: Config, address: str) -> Role | None:
    for role in ("mentor", "mentee"):
        if address in cfg.participant(getattr(pair, role)).addresses:
            return role  # type: ignore[return-value]
    return None


class SentMail(Protocol):
    """What the agent sent, as far as matching a reply needs it (agent.store.Store)."""

    def sent(self, message_id: str) -> Mapping[str, Any] | None: ...

    def latest_sent(self, pair_id: str, role: str) -> Mapping[str, Any] | None: ...


_MAX_THREAD_IDS = 20  # of our ids in In-Reply-To and References, the latest looked up


def match(msg: InboundMessage, cfg: Config, token_key: bytes, sent: SentMail) -> Match:
    """Which pair and role a message belongs to, or why it belongs to none.

    Only the one clear From mailbox names the sender (never Sender or Reply-To);
    a message without one is quarantined, reported when it claims a pair. Only a
    Message-ID made with the program's secret places a message in a thread: an
    id made the old, guessable way proves nothing.
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
    for via, pair in candidates:
        role = _role_in(pair, cfg, msg.from_addr)
        if role is None:
            sender = msg.from_addr or "an unknown sender"
            problem = f"{sender} is not a participant of pair {pair.id}"
            return Match(pair_id=pair.id, via=via, problem=problem)
        return Match(pair.id, role, via, replied_to or _latest_kind(sent, pair.id, role))
    own = [(p, r) for p in cfg.pairs if (r := _role_in(p, cfg, msg.from_addr))]
    if len(own) == 1:
        pair, role = own[0]
        return Match(pair.id, role, "sender", replied_to or _latest_kind(sent, pair.id, role))
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
    recipient, or (b) when it came to the bounce address (VERP, agent.tokens)
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


def _latest_kind(sent: SentMail, pair_id: str, role: Role) -> str | None:
    """Without thread headers, a reply most likely answers the latest email that person got."""
    latest = sent.latest_sent(pair_id, role)
    return latest.get("kind") if latest else None


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
    and authenticated (a trusted DMARC pass) is not applied (agent.trust): a
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
    meaning = interpret(msg.reply_text, context=found.replied_to, now=at, tz=tz)
    asked: tuple[Intent, ...] = ()
    if not standing.trusted:
        meaning, asked = trust.split(meaning)
    events, log, human = _apply(meaning, found.role, base, tz, context)
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
) -> tuple[list[Event], list[dict[str, Any]], list[str]]:
    """What a reply's meaning does: (events, progress-log entries, what a person must see)."""
    events: list[Event] = [Replied(role, base["at"], meaning)]
    log = _log_entries(meaning, base)
    human = []
    for kind, reason in _FOR_A_HUMAN.items():
        if not meaning.has(kind):
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
    events, log, human = _apply(trust.only_changes(meaning), found.role, request, tz, context)
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
    move, never also a skip.
    """
    if context is None or kind not in (IntentKind.RESCHEDULE, IntentKind.SKIP):
        return None
    intent = meaning.first(kind)
    assert intent is not None
    series = context.state.series
    if kind == IntentKind.RESCHEDULE:
        return reschedule.move(
            context.cfg,
            context.pair,
            series,
            intent.when,
            by=role,
            tz=tz,
            now=context.now,
            closing=context.closing,
        )
    if meaning.has(IntentKind.RESCHEDULE):
        return Decision(reason="it comes with a reschedule request")
    return reschedule.skip(series, intent.when, by=role, tz=tz, now=context.now)


def _change_entry(base: dict[str, Any], event: Moved | Skipped) -> dict[str, Any]:
    """The progress-log entry for a meeting the agent moved or skipped."""
    stamp = "%Y-%m-%d %H:%M %Z"
    text = f"meeting of {event.original:{stamp}} " + (
        f"moved to {event.new_start:{stamp}}" if isinstance(event, Moved) else "skipped"
    )
    return {**base, "kind": "meeting_change", "text": text}


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
    """iTIP answers are logged per meeting; a COUNTER is a request to move one, carried
    out only when the message is placed and authenticated (agent.trust)."""
    entries: list[dict[str, Any]] = []
    events: list[Event] = []
    human: list[str] = []
    for part in msg.calendar:
        try:
            responses = parse_itip(part)
        except IcsError as exc:
            entries.append({**base, "kind": "calendar", "text": f"unreadable calendar part: {exc}"})
            continue
        for response in responses:
            when = f" for {response.recurrence_id:%Y-%m-%d}" if response.recurrence_id else ""
            text = f"{response.method} {response.partstat.lower()}{when}"
            entries.append({**base, "kind": "meeting_reply", "text": text})
            if response.method != "COUNTER" or found.role is None:
                continue
            if not standing.trusted:
                why = standing.why_not(msg.from_addr)
                human.append(f"proposes another time in the calendar: not applied: {why}")
                continue
            if context is None:
                human.append("proposes another time in the calendar")
                continue
            decision = reschedule.counter(
                context.cfg,
                context.pair,
                context.state.series,
                response.recurrence_id,
                response.start,
                by=found.role,
                now=context.now,
                closing=context.closing,
            )
            if decision.event:
                events.append(decision.event)
                entries.append(_change_entry(base, decision.event))
            else:
                human.append(f"proposes another time in the calendar: {decision.reason}")
    if human:
        reason = "; ".join(human)
        return Routed("needs_human", found, events, entries, _notice(msg, found, reason), reason)
    return Routed("calendar", found, events, entries)


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
        },
    )
