"""Everyone who writes hears back: what a routed reply sends besides its own effects. Pure.

`agent.pairs.ingest.route` decides what a message does; this module decides who is told,
as a thoughtful coordinator would by hand:

- the writer of a reply the agent acted on gets one short confirmation of what it
  understood and did (`confirm_reply`); a pause or a return is told to both by the
  planner's own `pause` and `resume` emails, which carry the updated calendar;
- the writer of a reply passed to the coordinator gets an acknowledgement that names
  the coordinator (`acknowledge`), and, until the coordinator has dealt with it, no
  reminders (`PassedOn`, read by agent.pairs.planner);
- the coordinator's notice says what the agent did and what is left to them;
- a person outside the program who writes (not bulk mail or an auto-reply) reaches the
  coordinator as a notice with their text, at most `cadence.replies.strangers_per_day`
  a day, within the quarantine's own caps (agent.mail_in.kept). Nothing changes for them,
  and they get no answer from the agent (docs/trust.md).

Nothing goes to an auto-reply, a bounce or a calendar answer. The trust rules hold
(docs/trust.md): the writer's emails go to their address in the config, never to the From
of the reply; a reply matched by its From alone without a DMARC pass gets none, and only a
placed and authenticated reply holds the writer's reminders. What another email already
says is not said twice: a moved or skipped meeting is confirmed by the updated invitation,
a picked meeting time by the booking, leaving by the goodbye, a request waiting for
confirmation by the confirmation request. Each email's key names the inbound message, and
the actions are queued with the coordinator's notices (agent.commands.tick), so a crash
and a rerun send each once. `cadence.replies.acknowledge: false` sends none of the
participants' emails (the coordinator's notices still go).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from agent.config.model import Config, Pair
from agent.mail_in.kept import QuarantineAllowance
from agent.mail_in.message import ROLES, InboundMessage, IntentKind, Role
from agent.pairs.ingest import _FOR_A_HUMAN, Routed, received_at
from agent.pairs.planner import Action
from agent.pairs.program import ENDED, Event, Hold, Moved, PairState, PassedOn, Skipped, Stage
from agent.pairs.trust import Standing

_PAUSE_REASON = _FOR_A_HUMAN[IntentKind.PAUSE]
_STAMP = "%a %d %b %Y %H:%M %Z"
# Reply prefixes mail clients put before a subject (Outlook's localised ones included).
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|aw|sv|vs|antw|odp|rif|res|réf|ref|ynt|回复|答复|回覆)\s*(?:\[\d+\])?\s*[:：]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Heard:
    """What a message sends besides its effects: `actions` (the coordinator's notice, the
    writer's and the partner's emails) and `events` for the pair's state."""

    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def hear(
    cfg: Config,
    msg: InboundMessage,
    routed: Routed,
    before: PairState | None,
    after: PairState | None,
    now: datetime,
    kept: QuarantineAllowance,
) -> Heard:
    """Who hears of `msg`, routed as `routed`; `before`/`after` are its pair's state around
    the routed events (None when it matched no pair). Counts a stranger's notice in `kept`.
    The answers routing made itself (a DECLINECOUNTER to a calendar's proposal) go too."""
    heard = _hear(cfg, msg, routed, before, after, now, kept)
    return Heard([*heard.actions, *routed.answers], heard.events)


def _hear(
    cfg: Config,
    msg: InboundMessage,
    routed: Routed,
    before: PairState | None,
    after: PairState | None,
    now: datetime,
    kept: QuarantineAllowance,
) -> Heard:
    found = routed.match
    if routed.outcome == "quarantined":
        outside = routed.notice is None and _a_person_outside(cfg, msg, routed)
        if outside and kept.tell(msg.from_addr, cfg.cadence.replies.strangers_per_day):
            return Heard([_stranger_notice(msg, routed)])
        return Heard([routed.notice] if routed.notice else [])
    human = routed.outcome in ("applied", "needs_human") and not (
        msg.auto_reply or msg.bounce or msg.calendar
    )
    if not (human and found.pair_id and found.role and before and after):
        return Heard([routed.notice] if routed.notice else [])
    pair = cfg.find_pair(found.pair_id)
    if pair is None:
        return Heard([routed.notice] if routed.notice else [])
    return _answer(cfg, msg, routed, pair, found.role, before, after, now)


def _answer(
    cfg: Config,
    msg: InboundMessage,
    routed: Routed,
    pair: Pair,
    role: Role,
    before: PairState,
    after: PairState,
    now: datetime,
) -> Heard:
    people = {r: cfg.participant(getattr(pair, r)) for r in ROLES}
    writer = people[role]
    told, changes = _what_changed(cfg, routed, role, before, after)
    paused = before.stage != Stage.PAUSED and after.stage == Stage.PAUSED
    left = _left(routed, paused)
    standing = Standing.of(msg, routed.match.via, cfg)
    # an email to the participant's configured address is no change of state, but a reply
    # matched by its From alone, without a DMARC pass, gets none: anyone can write that
    acknowledge = cfg.cadence.replies.acknowledge and (standing.placed or standing.authenticated)
    actions: list[Action] = []
    events: list[Event] = []
    did = list(changes)
    base = f"answer/{msg.message_id}"
    about = {"subject": _reply_subject(msg.subject)}
    if left:
        if standing.trusted:  # holding their reminders is a change like any other
            events.append(PassedOn(role, received_at(msg, now)))
        if acknowledge and role not in after.left:  # a leaver's goodbye answers them
            extra = {**about, "done": told}
            actions.append(Action(base, "acknowledge", pair.id, role, "acknowledge", extra))
            did.append(f"told {writer.first_name} that you will answer them")
    elif told and acknowledge:
        extra = {**about, "done": told}
        actions.append(Action(base, "confirm_reply", pair.id, role, "confirm_reply", extra))
        did.append(f"confirmed to {writer.first_name} what I understood and did")
    notice = routed.notice
    if notice is not None:
        extra = {**notice.extra, "done": did, "left": "; ".join(left)}
        actions.insert(0, replace(notice, extra=extra))
    return Heard(actions, events)


def _what_changed(
    cfg: Config, routed: Routed, role: Role, before: PairState, after: PairState
) -> tuple[list[dict[str, Any]], list[str]]:
    """What the reply did: (items for the writer's email, sentences for the coordinator).

    The writer's items are what no other email tells them; each is a dict with `what`
    (agreed, declined, goals, progress, rating, paused, resumed) for the templates to word.
    """
    writer = cfg.participant(getattr(cfg.pair(after.pair_id), role))
    name = writer.first_name
    told: list[dict[str, Any]] = []
    done: list[str] = []
    if role in after.agreed and role not in before.agreed:
        both = after.both(after.agreed)
        told.append({"what": "agreed", "both": both})
        done.append(f"recorded {name}'s agreement" + ("; both have agreed" if both else ""))
    if role in after.declined and role not in before.declined:
        told.append({"what": "declined"})
        done.append(f"recorded that {name} has not agreed: nothing is booked")
    if after.goals != before.goals and after.goals:
        told.append({"what": "goals", "goals": list(after.goals)})
        done.append(f"noted the goals: {'; '.join(after.goals)}")
    for entry in routed.log:
        if entry.get("by") != role or entry.get("kind") not in ("progress", "rating"):
            continue
        text = str(entry.get("text") or "")
        told.append({"what": entry["kind"], "text": text})
        done.append(f"logged {name}'s {entry['kind']}: {text}")
    zone = cfg.program.timezone
    for event in routed.events:
        if isinstance(event, Moved):
            done.append(
                f"moved the meeting of {event.original.astimezone(zone):{_STAMP}} to "
                f"{event.new_start.astimezone(zone):{_STAMP}}; both get the updated invitation"
            )
        elif isinstance(event, Skipped):
            done.append(
                f"cancelled the meeting of {event.original.astimezone(zone):{_STAMP}}; "
                "both get the updated invitation"
            )
        elif isinstance(event, Hold):
            changes = "; ".join(event.held.changes)
            done.append(f"asked {name}, at their address in the config, to confirm: {changes}")
    if after.chosen is not None and before.chosen is None:
        done.append(f"booked the meeting time {name} picked (option {after.chosen})")
    # a pause and its end are told to both by their own notices, which carry the updated
    # calendar (agent.pairs.planner): no confirmation besides
    if before.stage != Stage.PAUSED and after.stage == Stage.PAUSED:
        until = f" until {after.paused_until:%d %B %Y}" if after.paused_until else ""
        done.append(
            f"paused the pair{until}: its meetings in the pause are cancelled in both "
            "calendars, both are told, and no follow-ups, check-ins or reminders go out"
        )
    if before.stage == Stage.PAUSED and after.stage != Stage.PAUSED:
        done.append("resumed the pair: both are told, follow-ups and reminders start again")
    if after.stage == Stage.CLOSING and before.stage not in ENDED:
        done.append("closed the pair: the meetings are cancelled and both get a goodbye")
    return told, done


def _left(routed: Routed, paused: bool) -> list[str]:
    """What of the reply is left to the coordinator: the reasons it went to them, but for a
    pause the agent carried out."""
    if routed.outcome != "needs_human" or not routed.reason:
        return []
    parts = routed.reason.split("; ")
    return [p for p in parts if not (paused and p.startswith(_PAUSE_REASON))]


def _reply_subject(subject: str) -> str:
    """The subject of an answer to an email with `subject`, as a mail client makes it."""
    subject = " ".join(subject.split())
    if not subject or _REPLY_PREFIX.match(subject):
        return subject
    return f"Re: {subject}"


def _a_person_outside(cfg: Config, msg: InboundMessage, routed: Routed) -> bool:
    """A message someone outside the program wrote: a clear, unforged sender who is not a
    participant, not the program or its coordinator, and no machine or list."""
    found = routed.match
    program = {cfg.program.sender.email.lower(), cfg.program.coordinator.email.lower()}
    return bool(
        found.pair_id is None
        and msg.from_addr
        and msg.from_addr not in program
        and not (msg.sender_problem or msg.dmarc_fail or msg.auto_reply or msg.bounce)
        and not msg.calendar
        and (msg.reply_text or msg.text).strip()
    )


def _stranger_notice(msg: InboundMessage, routed: Routed) -> Action:
    return Action(
        key=f"notice/{msg.message_id}",
        kind="coordinator_reply",
        pair_id=None,
        template="coordinator_reply",
        extra={
            "reason": routed.reason or "the sender is not a participant",
            "stranger": True,
            "done": [],
            "left": "answer them if they should hear from the program",
            # the coordinator's Reply reaches them (agent.commands.executor)
            "reply_to": {"name": msg.from_name, "address": msg.from_addr},
            "message": {
                "from_name": msg.from_name,
                "from_addr": msg.from_addr,
                "subject": msg.subject,
                "date": msg.date.isoformat() if msg.date else "",
                "text": msg.reply_text or msg.text,
            },
        },
    )
