"""Performs planned actions through the connectors, each exactly once.

For every action the outbox in the store holds a record by idempotency key:
`pending` is written (and flushed by the caller) before the side effect,
`done` or `failed` after it. An action found `pending` lost its outcome to a
crash: its email has a Message-ID derived from the key, so the mailbox is
asked whether that message already left before anything is sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from agent.config.model import Config
from agent.mail_in.message import ROLES, Role
from agent.mail_in.tokens import bounce_address, reply_address
from agent.mail_out.context import (
    coordinator_context,
    member_context,
    participant_context,
    video_link,
)
from agent.mail_out.outbound import compose, message_id
from agent.mail_out.render import Renderer
from agent.meetings.ics import DECLINE_COUNTER, declinecounter_ics, series_ics
from agent.pairs.members import member_of
from agent.pairs.planner import Action
from agent.pairs.program import Booked, Event, Member, PairState, Sent, Series
from agent.reports.digest import digest_context
from agent.reports.report import pair_meetings
from agent.state.store import Store
from connectors.base import Calendar, Mailbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Emails to people who are no longer in the pair: replies go to the coordinator.
LEAVING = frozenset({"farewell", "pair_removed"})


@dataclass(frozen=True)
class Outgoing:
    """An action turned into what would leave: recipient and message."""

    to: tuple[str, str]
    message: EmailMessage


class Executor:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        mailbox: Mailbox,
        calendar: Calendar,
        renderer: Renderer,
        token_key: bytes,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.mailbox = mailbox
        self.calendar = calendar
        self.renderer = renderer
        self.token_key = token_key
        self.domain = cfg.program.sender.email.rsplit("@", 1)[1]

    # -- what is left to do ----------------------------------------------------------------

    def unsettled(self, actions: list[Action]) -> list[Action]:
        """Those of `actions` not yet settled: settled is done, or failed too often to try
        again without a person looking at it."""
        known = self.store.progress([a.key for a in actions])
        return [
            a
            for a in actions
            if a.key not in known
            or not (known[a.key][0] == "done" or known[a.key][1] >= MAX_ATTEMPTS)
        ]

    def record_intent(self, action: Action, now: datetime) -> None:
        record = self.store.action(action.key)
        if record is None or record["status"] != "pending":
            self.store.record_action(
                action.key,
                status="pending",
                kind=action.kind,
                pair=action.pair_id,
                role=action.role,
                planned_at=now,
                message_id=self._message_id(action) if action.template else None,
            )

    def _message_id(self, action: Action) -> str:
        return message_id(self.token_key, self.cfg.program.slug, action.key, self.domain)

    # -- building ---------------------------------------------------------------------------

    def _in_config(self, pair_id: str | None) -> bool:
        return self.cfg.find_pair(pair_id) is not None

    def _people(self, pair_id: str, states: dict[str, PairState]) -> dict[Role, Member]:
        """The pair's people: from the config, or as remembered for a removed pair."""
        if self._in_config(pair_id):
            pair = self.cfg.pair(pair_id)
            return {r: member_of(self.cfg.participant(getattr(pair, r))) for r in ROLES}
        state = states.get(pair_id)
        return dict(state.members) if state else {}

    def _recipient(self, action: Action, states: dict[str, PairState]) -> tuple[str, str]:
        member = action.extra.get("member")
        if isinstance(member, Member):  # a person who left the pair
            return member.name, member.email
        if action.role is None:
            coordinator = self.cfg.program.coordinator
            return coordinator.name, coordinator.email
        person = self._people(action.pair_id or "", states)[action.role]
        return person.name, person.email

    def _context(
        self, action: Action, states: dict[str, PairState], now: datetime
    ) -> dict[str, Any]:
        known = self._in_config(action.pair_id)
        pair = self.cfg.pair(action.pair_id) if action.pair_id and known else None
        state = states.get(action.pair_id) if action.pair_id else None
        extra = {k: v for k, v in action.extra.items() if k not in ("ref", "attendees")}
        extra["invitation_attached"] = not self.calendar.invites_attendees
        if action.options:
            extra["options"] = action.options
        if action.kind == "series_ended" and action.series:
            extra["series"] = action.series
        if action.kind == "farewell" and action.pair_id:
            member: Member = extra.pop("member")
            partner: Member | None = extra.pop("partner", None)
            people = {member.role: member}
            if partner:
                people[partner.role] = partner
            goals = list(state.goals) if state else []
            return member_context(self.cfg, action.pair_id, goals, people, member.role, now, extra)
        if action.kind == "pair_removed" and action.pair_id and action.role and not pair:
            people = self._people(action.pair_id, states)
            goals = list(state.goals) if state else []
            return member_context(self.cfg, action.pair_id, goals, people, action.role, now, extra)
        if action.kind == "closure" and pair:
            extra["progress"] = self._progress(pair.id, states)
            held = pair_meetings(state, self.store.log(pair.id), now) if state else []
            extra["meetings_held"] = sum(1 for m in held if m["status"] == "held")  # as reported
        if action.kind == "digest":
            extra["digest"] = digest_context(
                self.cfg,
                states,
                self.store.log(),
                self.store.inbound_records(),
                {
                    a["pair"]
                    for a in self.store.actions()
                    if a.get("kind") == "escalation_no_slot" and a["status"] == "done"
                },
                now,
            )
        if action.template == "confirm_change" and pair and state:  # agent.pairs.trust
            member = extra.pop("member")
            return participant_context(self.cfg, pair, state, member.role, now, extra)
        if action.role and pair and state:
            return participant_context(self.cfg, pair, state, action.role, now, extra)
        return coordinator_context(self.cfg, now, pair, state, action.template or "", extra)

    def _progress(self, pair_id: str, states: dict[str, PairState]) -> list[dict[str, str]]:
        names = {r: m.name for r, m in self._people(pair_id, states).items()}
        state = states.get(pair_id)
        departed = list(state.departed) if state else []

        def author(entry: dict[str, Any]) -> str:
            role = entry.get("by") or ""
            at = datetime.fromisoformat(str(entry["at"]))
            # written by someone who later left the pair: their own name
            for departure in departed:
                if departure.role == role and at < departure.at:
                    return departure.member.name
            return names.get(role, "")  # type: ignore[call-overload]

        shown = {"agree", "goals", "progress", "rating", "pause", "resume"}
        return [
            {
                "at": e["at"][:10],
                "by": author(e),
                "kind": e["kind"],
                "text": e.get("text", ""),
            }
            for e in self.store.log(pair_id)
            if e.get("kind") in shown
        ]

    def _calendar_bytes(
        self,
        series: Series,
        method: str,
        now: datetime,
        pair_id: str,
        states: dict[str, PairState],
        attendees: dict[Role, Member] | None = None,
    ) -> bytes:
        """The series as iCalendar, with the pair's people (or `attendees`, for the
        people a cancelled series was booked for) as ATTENDEEs."""
        found = attendees or self._people(pair_id, states)
        people = [found[r] for r in ROLES if r in found]
        names = " & ".join(p.first_name for p in people)
        return series_ics(
            method=method,  # type: ignore[arg-type]
            uid=series.uid,
            sequence=series.sequence,
            slot=series.slot(),
            summary=f"Mentoring: {names}",
            description=(
                "Your regular mentoring meeting.\n"
                "Agenda: one update from each of you, one topic, one next step.\n"
                f"If video fails: {self.cfg.cadence.meetings.backup_channel}."
            ),
            video_link=video_link(self.cfg, pair_id),
            organizer=(self.cfg.program.sender.name, self.cfg.program.sender.email),
            attendees=[(p.name, p.email) for p in people],
            dtstamp=now,
            skipped=series.skipped,
            moved=series.moved_meetings(),
        )

    def _declined_counter(self, action: Action, to: tuple[str, str], now: datetime) -> bytes:
        """The DECLINECOUNTER an answer to a COUNTER that was not taken carries: whatever
        calendar the program uses, the proposal came by email, so the answer goes so too."""
        assert action.series is not None
        original = action.extra.get("original")
        return declinecounter_ics(
            uid=action.series.uid,
            sequence=action.series.sequence,
            recurrence_id=datetime.fromisoformat(original) if original else None,
            organizer=(self.cfg.program.sender.name, self.cfg.program.sender.email),
            attendee=to,
            comment=str(action.extra.get("reason", "")),
            dtstamp=now,
        )

    def build(self, action: Action, states: dict[str, PairState], now: datetime) -> Outgoing:
        """The email an action sends (rendered, composed, not yet sent)."""
        assert action.template
        rendered = self.renderer.render(action.template, self._context(action, states, now))
        to = self._recipient(action, states)
        if action.kind in LEAVING:  # they are no longer in the pair: answers go to a person
            reply_to: str | None = self.cfg.program.coordinator.email
        elif action.pair_id and action.role:
            reply_to = reply_address(
                self.cfg.program.sender.email, self.token_key, action.pair_id, action.role
            )
        else:
            reply_to = None
        # A calendar that invites by itself (Google, Exchange, Microsoft 365) has sent the
        # invitation already: the email then only explains it, so nobody gets two.
        attach = action.method and not self.calendar.invites_attendees
        calendar = (
            self._calendar_bytes(
                action.series,
                action.method,
                now,
                action.pair_id,
                states,
                action.extra.get("attendees"),
            )
            if action.series and attach and action.pair_id and action.method != DECLINE_COUNTER
            else None
        )
        if action.method == DECLINE_COUNTER and action.series is not None:
            calendar = self._declined_counter(action, to, now)
        message = compose(
            rendered=rendered,
            sender=(self.cfg.program.sender.name, self.cfg.program.sender.email),
            to=to,
            reply_to=reply_to,
            msg_id=self._message_id(action),
            date=now,
            pair_id=action.pair_id,
            calendar=calendar,
            method=action.method if calendar else None,
            answer_to=_answer_to(action),
        )
        verp = getattr(self.mailbox, "envelope_sender", False)  # SMTP; not Maildir or APIs
        if verp and action.pair_id and action.role and action.kind not in LEAVING:
            # the SMTP envelope sender (VERP): bounces come back signed (agent.mail_in.tokens)
            sender = self.cfg.program.sender.email
            bounces = bounce_address(sender, self.token_key, action.pair_id, action.role)
            message["Return-Path"] = f"<{bounces}>"
        return Outgoing(to, message)

    # -- performing -------------------------------------------------------------------------

    def perform(
        self, action: Action, states: dict[str, PairState], now: datetime, *, dry_run: bool = False
    ) -> Event | None:
        """Carry out one action (or only build it, in a dry run) and return the resulting fact."""
        if action.template is None:
            return self._calendar_action(action, states, now, dry_run)
        outgoing = self.build(action, states, now)
        if not dry_run:
            record = self.store.action(action.key) or {}
            # an intent recorded before an upgrade holds the Message-ID made the old way
            sent_id = record.get("message_id") or self._message_id(action)
            already = record.get("status") == "pending" and self.mailbox.was_sent(sent_id)
            if already:
                log.info("%s: already sent before an interruption; not sending again", action.key)
            else:
                self.mailbox.send(outgoing.message)
                sent_id = self._message_id(action)
            self.store.record_action(
                action.key, status="done", done_at=now, to=outgoing.to[1], message_id=sent_id
            )
        sequence = action.series.sequence if action.series else None
        return Sent(
            action.kind,
            action.role,
            now,
            sequence=sequence,
            options=action.options,
            ref=action.extra.get("ref"),
            key=action.key,
        )

    def _calendar_action(
        self, action: Action, states: dict[str, PairState], now: datetime, dry_run: bool
    ) -> Event | None:
        """Book, update or cancel the series in the organizer's calendar.

        A calendar that invites the attendees itself gets the series with them (REQUEST);
        any other stores the organizer's copy only (PUBLISH allows no ATTENDEE).
        `end_series` stores a series shortened by a cadence change, `retire_series` the
        cancelled series of people who are no longer paired (it comes cancelled already).
        """
        series = action.series
        assert series is not None and action.pair_id
        attendees = action.extra.get("attendees")
        if action.kind in ("book", "update_series", "end_series"):
            if not dry_run:
                method = "REQUEST" if self.calendar.invites_attendees else "PUBLISH"
                ics = self._calendar_bytes(series, method, now, action.pair_id, states)
                self.calendar.put_event(series.uid, ics)
                self.store.record_action(action.key, status="done", done_at=now)
            if action.kind == "book":
                return Booked(series)
            return Sent(action.kind, None, now, sequence=series.sequence)
        cancelled = series
        if series.status != "cancelled":
            cancelled = series.model_copy(
                update={"status": "cancelled", "sequence": series.sequence + 1}
            )
        if not dry_run:
            ics = self._calendar_bytes(cancelled, "CANCEL", now, action.pair_id, states, attendees)
            self.calendar.cancel_event(series.uid, ics)
            self.store.record_action(action.key, status="done", done_at=now)
        return Sent(action.kind, None, now, ref=action.extra.get("ref"))

    def record_failure(
        self, action: Action, error: Exception, now: datetime, *, permanent: bool = False
    ) -> None:
        """Count a failed attempt; a permanent failure is not tried again."""
        record = self.store.action(action.key) or {}
        attempts = MAX_ATTEMPTS if permanent else record.get("attempts", 0) + 1
        self.store.record_action(
            action.key, status="failed", attempts=attempts, error=str(error)[:500], failed_at=now
        )


def _answer_to(action: Action) -> tuple[str, str] | None:
    """The person a coordinator's notice asks to answer (agent.pairs.ingest `_notice`)."""
    person = action.extra.get("reply_to") if action.role is None else None
    if not isinstance(person, dict) or "@" not in str(person.get("address", "")):
        return None
    return str(person.get("name") or ""), str(person["address"])
