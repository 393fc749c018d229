"""The coordinator acts: by answering the agent's emails, and by command.

An answer to one of the agent's emails to the coordinator (matched `via` "coordinator"
by agent.pairs.ingest: From is the coordinator's address and it is threaded to an email
of ours to them) is read as an instruction (agent.pairs.instructions) about what that
email was about: the message a notice quoted, or its pair. The same trust rules as for
participants apply (docs/trust.md): with a trusted DMARC pass the instruction is applied
at once; without one, a confirmation goes to the coordinator's configured address and
only a reply in its thread applies it; a From header alone (no thread) changes nothing.
Every coordinator email gets one answer: what was done, what is left, or what the
agent understands; what they wrote is kept (the inbound record, and a note in the
pair's log), and shown by `inbox list`.

The same actions run from the command line (`mentormail pair ID agree|pause|resume|
close`, `mentormail inbox list|release|discard`), `--dry-run` changing nothing on disk.

Aliases the coordinator adds by email are kept in the state (`meta.aliases`), since the
config is the coordinator's own file; matching reads them with the config's. A
quarantined message whose sender became known (an alias added by email or in the
config) is offered again at the next tick: applied when it came placed and
authenticated, else the coordinator is told it can be released.

Every applied instruction is a log entry of its pair (`kind: coordinator`) carrying the
instruction's key, written in the same flush as the change it made: a crash and a rerun
apply it once (an email instruction is also known by its Message-ID).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from agent.config.addresses import mailbox_key
from agent.config.model import Config, Pair
from agent.mail_in.authresults import dmarc_pass
from agent.mail_in.kept import capped, short
from agent.mail_in.message import ROLES, InboundMessage, Role
from agent.pairs import instructions
from agent.pairs.ingest import Match, Routed, released
from agent.pairs.instructions import Instruction, Verb
from agent.pairs.planner import Action
from agent.pairs.program import PairState, PassedOn, Settle, apply
from agent.pairs.trust import ref_of, refuses
from agent.state.store import Store

ALIASES = "aliases"  # meta: mailbox key -> {"participant", "address", "at", "pair"}
HELD = "coordinator_held"  # meta: ref -> an instruction waiting for the coordinator's confirmation
MAX_HELD = 20  # instructions waiting for the coordinator's confirmation, at most
KNOWN = "known_addresses"  # meta: a digest of every address known when `reoffer` last looked
CONFIRM_KIND = "coordinator_confirm"  # the confirmation email's kind is "coordinator_confirm:<ref>"
TEMPLATE = "coordinator_answer"
OPEN = ("quarantined", "needs_human", "held")  # what `inbox list` shows until settled
KEPT = ("note", "unplaced")  # what the coordinator wrote that `inbox list` shows
_MAX_HOPS = 4  # an answer to our answer to ... a notice: how far back `about` is followed


def aliases(store: Store) -> dict[str, str]:
    """The aliases added by the coordinator: mailbox key -> participant id."""
    return {key: str(v["participant"]) for key, v in (store.meta(ALIASES) or {}).items()}


def recorded(cfg: Config, msg: InboundMessage, routed: Routed) -> dict[str, Any]:
    """What an inbound record keeps besides what agent.commands.tick records: for a
    quarantined message, what a later release needs (the role its token or thread named,
    the email it answered, whether it was authenticated); for the coordinator's own, the
    email they answered and whether `inbox list` shows it."""
    found = routed.match
    if routed.outcome == "coordinator":
        mode = routed.notice.extra["answer"]["mode"] if routed.notice else "note"
        return {"about": found.about, "kept": mode in KEPT}
    if routed.outcome != "quarantined":
        return {}
    return {
        "claimed": found.claimed,
        "replied_to": found.replied_to,
        "authenticated": dmarc_pass(msg.headers, cfg.security.authserv_id, msg.from_addr),
    }


def item_id(message_id: str) -> str:
    """The short id `inbox list` shows for a message."""
    return hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()[:8]


# --- what an instruction does -----------------------------------------------------------


@dataclass
class Outcome:
    """What one instruction did: `done` and `left` complete "I ..." / "Left to you: ...";
    `states`, log `entries` and inbound `records` are what to write."""

    done: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    states: dict[str, PairState] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: bool = False


@dataclass(frozen=True)
class Target:
    """What an instruction is about: a pair, and the message a notice quoted (if any)."""

    pair_id: str | None
    message_id: str | None = None
    record: dict[str, Any] | None = None


class Acting:
    """Applies instructions to the states (in memory) and the store's records."""

    def __init__(self, cfg: Config, store: Store, states: dict[str, PairState], now: datetime):
        self.cfg, self.store, self.states, self.now = cfg, store, states, now

    def state(self, pair_id: str) -> PairState:
        if pair_id not in self.states:
            self.states[pair_id] = self.store.pair_state(pair_id)
        return self.states[pair_id]

    def perform(
        self, verb: Verb, target: Target, key: str, source: str, instruction: Instruction
    ) -> Outcome:
        """Apply one instruction (in memory, for the caller's flush) and log it in the
        pair's log under `key`; `source` says how it came ("by email", "by command")."""
        out = Outcome()
        if verb in (Verb.RELEASE, Verb.DISCARD, Verb.RESOLVED, Verb.ALIAS) and target.record:
            self._message(verb, target, out, instruction)
        elif verb in (Verb.RELEASE, Verb.DISCARD, Verb.ALIAS):
            out.left.append(f"{verb}: there is no message to {verb} in what you answered")
        elif target.pair_id is None or self.cfg.find_pair(target.pair_id) is None:
            out.left.append(f"{verb}: the email you answered is about no pair of the program")
        else:
            self._pair(verb, target, out, instruction)
        if target.pair_id and out.changed:
            for line in out.done:
                out.entries.append(self._entry(target.pair_id, line, key, source))
        self._commit(out)
        return out

    def _entry(self, pair_id: str, text: str, key: str, source: str) -> dict[str, Any]:
        return {
            "at": self.now,
            "pair": pair_id,
            "by": "coordinator",
            "kind": "coordinator",
            "text": f"{text} ({source})",
            "key": key,
        }

    def _commit(self, out: Outcome) -> None:
        self.states.update(out.states)
        for entry in out.entries:
            self.store.append_log(**entry)
        for message_id, record in out.records.items():
            self.store.record_inbound(message_id, **record)

    def _pair(self, verb: Verb, target: Target, out: Outcome, instruction: Instruction) -> None:
        assert target.pair_id is not None
        state = out.states.get(target.pair_id) or self.state(target.pair_id)
        tz = self.cfg.program.timezone
        roles: tuple[Role, ...] | None = ()
        if verb == Verb.AGREE:
            roles = self._roles(target, instruction.rest)
            if roles is None:
                out.left.append(f"agreed: I could not tell who {instruction.rest!r} is")
                return
        if verb == Verb.RESOLVED:
            self._settle(target, out, "resolved")
            return
        if instruction.problem:
            out.left.append(f"{verb}: {instruction.problem}")
            return
        result = instructions.applied(
            state, verb, self.now, tz, roles=roles, until=instruction.until
        )
        if result.outcome == "refused":
            out.left.append(f"{verb}: not done: {result.said}")
            return
        if result.outcome == "changed":
            out.states[target.pair_id] = result.state
            out.changed = True
            if verb == Verb.AGREE:  # their answer is settled: reminders may go again
                for role in roles or ROLES:
                    out.states[target.pair_id] = apply(
                        out.states[target.pair_id], PassedOn(role, None)
                    )
        out.done.append(f"{result.said} (pair {target.pair_id})")

    def _named(self, pair: Pair, rest: str) -> Role | None:
        """The role of the person `rest` begins with: "mentee", "ben", "Ben's"."""
        words = rest.lower().split()
        first = words[0].removesuffix("'s").removesuffix("’s") if words else ""
        for role in ROLES:
            person = self.cfg.participant(getattr(pair, role))
            if first and first in (role, person.id.lower(), person.first_name.lower()):
                return role
        return None

    def _roles(self, target: Target, rest: str) -> tuple[Role, ...] | None:
        """Whom "agreed" means: a role or first name written after it, else the writer of
        the quoted message, else everyone who has not agreed yet."""
        pair = self.cfg.pair(target.pair_id or "")
        words = rest.lower().split()
        if words and words[0] in ("both", "beide", "ambos", "les"):
            return ROLES
        if words:
            named = self._named(pair, rest)
            return (named,) if named else None
        record = target.record or {}
        role = record.get("role") or record.get("claimed")
        return (role,) if role in ROLES else ()

    # -- a message: release, discard, resolved, alias -------------------------------------

    def _message(self, verb: Verb, target: Target, out: Outcome, instruction: Instruction) -> None:
        record, message_id = target.record, target.message_id
        assert record is not None and message_id is not None
        if record.get("settled") and verb != Verb.ALIAS:
            out.done.append(f"had {record['settled']} that message already (nothing more to do)")
            return
        if verb == Verb.ALIAS:
            self._alias(target, out, instruction.rest)
            return
        if verb in (Verb.DISCARD, Verb.RESOLVED):
            self._settle(target, out, "discarded" if verb == Verb.DISCARD else "resolved")
            return
        self._release(target, out)

    def _settle(self, target: Target, out: Outcome, how: str) -> None:
        record, message_id = target.record, target.message_id
        pair_id = (record or {}).get("pair") or target.pair_id
        role = (record or {}).get("role")
        if pair_id and self.cfg.find_pair(pair_id):
            state = out.states.get(pair_id) or self.state(pair_id)
            if role in ROLES:
                state = apply(state, PassedOn(role, None))
            if message_id:
                state = apply(state, Settle(ref_of(message_id)))
            if state != self.state(pair_id):
                out.states[pair_id] = state
        if record and message_id:
            out.records[message_id] = self._settled(record, how)
            sender = record.get("from") or "an unclear sender"
            out.done.append(f"marked the message from {sender} {how}")
        else:
            out.done.append(f"marked it {how} (pair {pair_id})")
        out.changed = True

    def _settled(self, record: dict[str, Any], how: str) -> dict[str, Any]:
        fields = {k: v for k, v in record.items() if k != "message_id"}
        return {**fields, "settled": how, "settled_at": self.now}

    def _known_role(self, pair_id: str | None, address: str) -> tuple[str, Role] | None:
        """(pair, role) of the participant writing from `address` (config or aliases)."""
        key = mailbox_key(address) if address else ""
        added = aliases(self.store)
        pairs = [self.cfg.find_pair(pair_id)] if pair_id else list(self.cfg.pairs)
        found = []
        for pair in pairs:
            if pair is None:
                continue
            for role in ROLES:
                person = self.cfg.participant(getattr(pair, role))
                if key and (key in person.mailboxes or added.get(key) == person.id):
                    found.append((pair.id, role))
        return found[0] if len(found) == 1 else None

    def _release(self, target: Target, out: Outcome) -> None:
        record, message_id = target.record, target.message_id
        assert record is not None and message_id is not None
        outcome = record.get("outcome")
        if outcome not in OPEN:
            out.left.append(f"release: that message was {outcome}: there is nothing to release")
            return
        if outcome == "quarantined":
            known = self._known_role(record.get("pair"), str(record.get("from") or ""))
            if known is None:
                sender = record.get("from") or "its sender"
                out.left.append(
                    f"release: {sender} is not an address of a participant"
                    + (f" of pair {record['pair']}" if record.get("pair") else "")
                    + '; answer "alias" to add it (or add it to the config), then "release"'
                )
                return
            pair_id, role = known
        else:
            pair_id, role = record.get("pair"), record.get("role")
        if not pair_id or role not in ROLES or self.cfg.find_pair(pair_id) is None:
            out.left.append("release: the message belongs to no pair of the program")
            return
        text = str(record.get("text") or "")
        if not text.strip():
            out.left.append("release: its text was not kept (the quarantine's daily cap)")
            return
        person = self.cfg.participant(getattr(self.cfg.pair(pair_id), role))
        found = Match(pair_id, role, "coordinator", record.get("replied_to"))
        at = _moment(record.get("at")) or self.now
        state = out.states.get(pair_id) or self.state(pair_id)
        routed = released(text, found, at, self.now, person.timezone, self.cfg, state, message_id)
        for event in [Settle(ref_of(message_id)), *routed.events, PassedOn(role, None)]:
            state = apply(state, event)
        out.states[pair_id] = state
        out.entries += routed.log
        out.records[message_id] = self._settled(record, "released")
        out.changed = True
        said = (
            ", ".join(dict.fromkeys(str(e.get("kind")) for e in routed.log)) or "nothing to apply"
        )
        out.done.append(f"applied {person.name}'s message as theirs ({said}; pair {pair_id})")
        if routed.reason:
            out.left.append(f"in that message: {routed.reason}")

    def _alias(self, target: Target, out: Outcome, rest: str) -> None:
        record = target.record or {}
        address = str(record.get("from") or "")
        if not address or "@" not in address:
            out.left.append("alias: the message has no clear sender address to add")
            return
        pair = self.cfg.find_pair(record.get("pair"))
        role = self._named(pair, rest) if pair else None
        role = role or record.get("claimed")
        if pair is None or role not in ROLES:
            out.left.append(
                f'alias: I could not tell whose address {address} is; answer "alias mentor"'
                ' or "alias mentee"'
            )
            return
        person = self.cfg.participant(getattr(pair, role))
        key = mailbox_key(address)
        if key in person.mailboxes or aliases(self.store).get(key) == person.id:
            out.done.append(f"had {address} as an address of {person.name} already")
        else:
            added = dict(self.store.meta(ALIASES) or {})
            added[key] = {"participant": person.id, "address": address, "at": self.now.isoformat()}
            self.store.set_meta(ALIASES, added)
            out.done.append(f"added {address} as an address of {person.name} (pair {pair.id})")
            out.changed = True
        if record.get("outcome") == "quarantined" and not record.get("settled"):
            if record.get("authenticated") and record.get("via") in ("token", "thread"):
                self._release(target, out)
            else:
                out.left.append(
                    'their message came without a trusted DMARC pass: answer "release" to '
                    "apply it as theirs"
                )


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# --- email: the coordinator's answers ---------------------------------------------------


def route(
    cfg: Config,
    store: Store,
    msg: InboundMessage,
    found: Match,
    states: dict[str, PairState],
    now: datetime,
) -> Routed:
    """The coordinator's email (`found.via` "coordinator"): applied, held for their
    confirmation, or kept; always answered once (`Routed.notice`), never an auto-reply."""
    if msg.auto_reply or msg.bounce:
        return Routed("auto_reply", found, reason=msg.auto_reply or "a bounce")
    tz = cfg.program.timezone
    written = msg.date or now
    instruction = instructions.read(msg.reply_text, written, tz)
    answer = _Answer(msg, found, instruction)
    if found.about is None:
        answer.mode = "unplaced"
        return answer.routed("kept: not an answer to one of the agent's emails")
    kind, _, ref = (found.replied_to or "").partition(":")
    acting = Acting(cfg, store, states, now)
    if kind == CONFIRM_KIND and ref:
        return _confirmed(acting, answer, ref)
    target = _target(store, found)
    writer = str((target.record or {}).get("from") or "")
    answered = bool(writer) and writer.lower() in msg.to_addrs  # "Reply all" to the person
    if instruction.verb is None:
        if target.pair_id and (answered or not instruction.unknown):
            store.append_log(**_note(target.pair_id, msg, now))
        if answered:
            acting.perform(Verb.RESOLVED, target, f"mail:{msg.message_id}", "answered", _NONE)
            return Routed("coordinator", found, reason=f"the coordinator answered {writer}")
        answer.mode = "unknown" if instruction.unknown else "note"
        return answer.routed("not an instruction" if instruction.unknown else "a note, kept")
    if not dmarc_pass(msg.headers, cfg.security.authserv_id, msg.from_addr):
        held = {  # those that lapsed go; the newest MAX_HELD stay
            r: h
            for r, h in (store.meta(HELD) or {}).items()
            if (_moment(h.get("until")) or now) > now
        }
        held = dict(list(held.items())[-MAX_HELD + 1 :])
        ref = ref_of(msg.message_id)
        held[ref] = {
            "message_id": msg.message_id,
            "text": msg.reply_text[:2000],
            "about": found.about,
            "pair": found.pair_id,
            "written": written.isoformat(),
            "until": (now + cfg.security.confirm_within).isoformat(),
        }
        store.set_meta(HELD, held)
        answer.mode, answer.ref = "confirm", ref
        answer.until = now + cfg.security.confirm_within
        return answer.routed("held: no trusted DMARC pass; a confirmation went to the coordinator")
    done = acting.perform(
        instruction.verb, target, f"mail:{msg.message_id}", "by email", instruction
    )
    answer.outcome = done
    answer.mode = "done" if done.done else "failed"
    return answer.routed("; ".join(done.done + done.left) or str(instruction.verb))


def reading(cfg: Config, msg: InboundMessage, found: Match, now: datetime) -> str:
    """What `route` would make of the coordinator's email, in words, for `inspect`."""
    read = instructions.read(msg.reply_text, msg.date or now, cfg.program.timezone)
    if read.verb is None:
        if read.unknown:
            near = f" (did you mean {read.suggestion!r}?)" if read.suggestion else ""
            return f"an unknown instruction {read.line!r}{near}: answered with the list"
        return "not an instruction: kept as the coordinator's note"
    if found.about is None:
        return f"instruction {read.verb}: not applied, it answers none of the agent's emails"
    if not dmarc_pass(msg.headers, cfg.security.authserv_id, msg.from_addr):
        return f"instruction {read.verb}: held for confirmation (no trusted DMARC pass)"
    return f"instruction {read.verb}: applied"


def _confirmed(acting: Acting, answer: _Answer, ref: str) -> Routed:
    """A reply in the thread of a confirmation: the held instruction is applied, once."""
    held = dict(acting.store.meta(HELD) or {})
    pending = held.pop(ref, None)
    if pending is None or (_moment(pending.get("until")) or acting.now) <= acting.now:
        answer.mode = "lapsed"
        return answer.routed("answers a confirmation that is no longer pending")
    acting.store.set_meta(HELD, held)
    if refuses(answer.msg.reply_text):
        answer.mode = "refused"
        return answer.routed("the coordinator says they did not send it: nothing applied")
    written = _moment(pending.get("written")) or acting.now
    instruction = instructions.read(str(pending["text"]), written, acting.cfg.program.timezone)
    about = Match(pending.get("pair"), via="coordinator", about=str(pending["about"]))
    target = _target(acting.store, about)
    assert instruction.verb is not None
    key = f"mail:{pending['message_id']}"
    answer.instruction = instruction
    answer.outcome = acting.perform(
        instruction.verb, target, key, "by email, confirmed", instruction
    )
    answer.mode = "done" if answer.outcome.done else "failed"
    return answer.routed("confirmed: " + "; ".join(answer.outcome.done + answer.outcome.left))


def _target(store: Store, found: Match) -> Target:
    """What the email the coordinator answered was about: follows our answers back to the
    notice, and the notice to the message it quoted."""
    key, pair_id = found.about, found.pair_id
    for _ in range(_MAX_HOPS):
        prefix, _, rest = (key or "").partition("/")
        record = store.inbound(rest) if rest and prefix in ("notice", "reoffer") else None
        if record is not None:
            return Target(record.get("pair") or pair_id, rest, record)
        answered = store.inbound(rest) if rest and prefix == "coordinator" else None
        if answered is None or not answered.get("about"):
            break
        key, pair_id = answered["about"], answered.get("pair") or pair_id
    return Target(pair_id)


def _note(pair_id: str, msg: InboundMessage, now: datetime) -> dict[str, Any]:
    return {
        "at": now,
        "pair": pair_id,
        "by": "coordinator",
        "kind": "coordinator_note",
        "text": capped(msg.reply_text, "processed"),
        "message_id": msg.message_id,
    }


@dataclass
class _Answer:
    """The one email the coordinator gets back for one of theirs."""

    msg: InboundMessage
    found: Match
    instruction: Instruction
    mode: str = "done"  # done, confirm, unknown, note, unplaced, lapsed, refused
    outcome: Outcome | None = None
    ref: str | None = None
    until: datetime | None = None

    def routed(self, reason: str) -> Routed:
        found = self.found
        outcome = self.outcome or Outcome()
        answer = {
            "mode": self.mode,
            "instruction": self.instruction.line,
            "suggestion": self.instruction.suggestion,
            "done": outcome.done,
            "left": outcome.left,
            "understood": instructions.understood(),
            "until": self.until.isoformat() if self.until else "",
            "subject": self.msg.subject,
        }
        kind = f"{CONFIRM_KIND}:{self.ref}" if self.ref else "coordinator_answer"
        notice = Action(
            key=f"coordinator/{self.msg.message_id}",
            kind=kind,
            pair_id=found.pair_id,
            template=TEMPLATE,
            extra={"answer": answer},
        )
        return Routed("coordinator", found, notice=notice, reason=reason)


# --- a known sender: quarantined messages offered again ----------------------------------


def reoffer(cfg: Config, store: Store, states: dict[str, PairState], now: datetime) -> list[Action]:
    """Quarantined messages whose sender is now a participant's address (an alias added to
    the config or by email): applied when they came placed and authenticated, else offered
    to the coordinator for release. Each message once. The quarantine is looked through
    only when the known addresses changed since the last time."""
    known = {m for p in cfg.participants for m in p.mailboxes} | set(aliases(store))
    stamp = hashlib.sha256("\n".join(sorted(known)).encode()).hexdigest()[:16]
    if store.meta(KNOWN) == stamp:
        return []
    store.set_meta(KNOWN, stamp)
    acting = Acting(cfg, store, states, now)
    notices = []
    for record in list(store.inbound_records()):
        if record.get("outcome") != "quarantined" or record.get("settled"):
            continue
        if record.get("reoffered") or not record.get("from") or not record.get("text"):
            continue
        known = acting._known_role(record.get("pair"), str(record["from"]))
        if known is None:
            continue
        message_id = str(record["message_id"])
        mark = {k: v for k, v in record.items() if k != "message_id"}
        store.record_inbound(message_id, **{**mark, "reoffered": now})
        target = Target(known[0], message_id, store.inbound(message_id))
        person = cfg.participant(getattr(cfg.pair(known[0]), known[1]))
        trusted = record.get("authenticated") and record.get("via") in ("token", "thread")
        if trusted:
            out = acting.perform(Verb.RELEASE, target, f"reoffer:{message_id}", "alias", _NONE)
            done, left, mode = out.done, out.left, "reoffered"
        else:
            done, left, mode = [], [], "releasable"
        answer = {
            "mode": mode,
            "instruction": "",
            "suggestion": None,
            "done": done,
            "left": left,
            "understood": instructions.understood(),
            "until": "",
            "subject": str(record.get("subject") or ""),
            "sender": str(record["from"]),
            "person": person.name,
            "text": str(record.get("text") or ""),
        }
        notices.append(
            Action(
                key=f"reoffer/{message_id}",
                kind="coordinator_answer",
                pair_id=known[0],
                template=TEMPLATE,
                extra={"answer": answer},
            )
        )
    return notices


_NONE = Instruction(None)


# --- the command line -------------------------------------------------------------------


def inbox_items(store: Store) -> Iterator[dict[str, Any]]:
    """What waits for the coordinator (agent.reports.status.for_the_coordinator)."""
    from agent.reports.status import for_the_coordinator

    return (r for r in store.inbound_records() if for_the_coordinator(r, store))


def inbox_lines(store: Store) -> list[str]:
    lines = []
    for record in inbox_items(store):
        message_id = str(record["message_id"])
        pair = record.get("pair") or "-"
        sender = record.get("from") or "(unclear sender)"
        lines.append(
            f"{item_id(message_id)}  {str(record.get('at', ''))[:16]:<16}  {record['outcome']:<11}"
            f"  {pair:<16} {sender}: {short(str(record.get('subject') or ''), 60)!r}"
        )
        if record.get("reason"):
            lines.append(f"          {short(str(record['reason']), 160)}")
    return lines or ["nothing waits for you"]


def find_item(store: Store, wanted: str) -> dict[str, Any] | None:
    wanted = wanted.strip().strip("<>")
    for record in store.inbound_records():
        message_id = str(record["message_id"])
        if wanted in (message_id, item_id(message_id)):
            return record
    return None


def run(args: argparse.Namespace, cfg: Config, now: datetime) -> list[str]:
    """`pair ID VERB` and `inbox list|release|discard`: worked out on the state as read,
    then, unless `--dry-run` or nothing would change, applied and written under the
    state's lock. A command that cannot be done (LookupError, ValueError) touches
    nothing."""
    from agent.commands.runtime import state_path
    from agent.state.opening import open_store, reading

    path = state_path(cfg)
    if not path.exists():
        if args.command == "inbox" and args.inbox_command == "list":
            return ["nothing waits for you"]
        raise LookupError("the agent has not run yet: there is no state to act on")
    with reading(path) as store:
        lines, changed = _act(args, cfg, store, now)
    if args.dry_run or not changed:
        told = args.dry_run and changed
        return [f"would have {x}" if told and not x.startswith("left") else x for x in lines]
    store = open_store(path, cfg.storage.type, backups=cfg.storage.backups)
    try:
        lines, _ = _act(args, cfg, store, now)
    except BaseException:
        store.close(flush=False)
        raise
    store.close()
    return lines


def _act(
    args: argparse.Namespace, cfg: Config, store: Store, now: datetime
) -> tuple[list[str], bool]:
    """(what was done and what is left, in lines; whether anything changed)."""
    if args.command == "inbox" and args.inbox_command == "list":
        return inbox_lines(store), False
    states: dict[str, PairState] = {}
    acting = Acting(cfg, store, states, now)
    if args.command == "pair":
        if cfg.find_pair(args.pair) is None:
            known = ", ".join(p.id for p in cfg.pairs)
            raise LookupError(f"unknown pair {args.pair!r}; known: {known}")
        verb = Verb(args.pair_command)
        until = getattr(args, "until", None)
        if (until and verb != Verb.PAUSE) or (getattr(args, "role", None) and verb != Verb.AGREE):
            raise ValueError("--until goes with pause, --role with agree")
        day = _until(until, now.astimezone(cfg.program.timezone)) if until else None
        instruction = Instruction(verb, rest=getattr(args, "role", None) or "", until=day)
        target = Target(args.pair)
        key = f"cli:{args.pair}/{verb}/{day or ''}/{now.isoformat()}"
    else:
        record = find_item(store, args.id)
        if record is None:
            raise LookupError(f"no message {args.id!r}; `mentormail inbox list` shows them")
        verb = Verb(args.inbox_command)
        instruction = Instruction(verb)
        message_id = str(record["message_id"])
        target = Target(record.get("pair"), message_id, record)
        key = f"cli:{verb}/{message_id}"
    out = acting.perform(verb, target, key, "by command", instruction)
    for state in states.values():
        store.save_pair_state(state)
    lines = out.done + [f"left to you: {line}" for line in out.left]
    return lines or ["nothing to do"], out.changed


def _until(text: str, local_now: datetime) -> date:
    day = instructions.read_date(text, local_now)
    if day is None:
        raise ValueError(f"--until: {text!r} is not a day from today on (e.g. 2027-03-19)")
    return day
