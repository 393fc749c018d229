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

from agent.config import Config
from agent.context import coordinator_context, participant_context, video_link
from agent.digest import digest_context
from agent.ics import series_ics
from agent.outbound import compose, message_id
from agent.planner import Action
from agent.program import Booked, Event, PairState, Sent, Series
from agent.render import Renderer
from agent.store import Store
from agent.tokens import reply_address
from connectors.base import Calendar, Mailbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


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

    def is_settled(self, action: Action) -> bool:
        """Done, or failed too often to try again without a person looking at it."""
        record = self.store.action(action.key)
        if record is None:
            return False
        return record["status"] == "done" or record.get("attempts", 0) >= MAX_ATTEMPTS

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
        return message_id(self.cfg.program.slug, action.key, self.domain)

    # -- building ---------------------------------------------------------------------------

    def _recipient(self, action: Action) -> tuple[str, str]:
        if action.role is None:
            coordinator = self.cfg.program.coordinator
            return coordinator.name, coordinator.email
        pair = self.cfg.pair(action.pair_id or "")
        person = self.cfg.participant(getattr(pair, action.role))
        return person.name, person.email

    def _context(
        self, action: Action, states: dict[str, PairState], now: datetime
    ) -> dict[str, Any]:
        pair = self.cfg.pair(action.pair_id) if action.pair_id else None
        state = states.get(action.pair_id) if action.pair_id else None
        extra = dict(action.extra)
        extra["invitation_attached"] = not self.calendar.invites_attendees
        if action.options:
            extra["options"] = action.options
        if action.kind == "closure" and pair:
            extra["progress"] = self._progress(pair.id)
            extra["meetings_held"] = (
                len(state.series.held_before(now)) if state and state.series else 0
            )
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
        if action.role and pair and state:
            return participant_context(self.cfg, pair, state, action.role, now, extra)
        return coordinator_context(self.cfg, now, pair, state, action.template or "", extra)

    def _progress(self, pair_id: str) -> list[dict[str, str]]:
        names = {
            r: self.cfg.participant(getattr(self.cfg.pair(pair_id), r)).name
            for r in ("mentor", "mentee")
        }
        shown = {"agree", "goals", "progress", "rating", "pause", "resume"}
        return [
            {
                "at": e["at"][:10],
                "by": names.get(e.get("by") or "", ""),
                "kind": e["kind"],
                "text": e.get("text", ""),
            }
            for e in self.store.log(pair_id)
            if e.get("kind") in shown
        ]

    def _calendar_bytes(self, series: Series, method: str, now: datetime, pair_id: str) -> bytes:
        pair = self.cfg.pair(pair_id)
        people = [self.cfg.participant(pair.mentor), self.cfg.participant(pair.mentee)]
        return series_ics(
            method=method,  # type: ignore[arg-type]
            uid=series.uid,
            sequence=series.sequence,
            slot=series.slot(),
            summary=f"Mentoring: {people[0].first_name} & {people[1].first_name}",
            description=(
                "Your regular mentoring meeting.\n"
                "Agenda: one update from each of you, one topic, one next step.\n"
                f"If video fails: {self.cfg.cadence.meetings.backup_channel}."
            ),
            video_link=video_link(self.cfg, pair),
            organizer=(self.cfg.program.sender.name, self.cfg.program.sender.email),
            attendees=[(p.name, p.email) for p in people],
            dtstamp=now,
            skipped=series.skipped,
            moved=series.moved_meetings(),
        )

    def build(self, action: Action, states: dict[str, PairState], now: datetime) -> Outgoing:
        """The email an action sends (rendered, composed, not yet sent)."""
        assert action.template
        rendered = self.renderer.render(action.template, self._context(action, states, now))
        to = self._recipient(action)
        reply_to = (
            reply_address(
                self.cfg.program.sender.email, self.token_key, action.pair_id, action.role
            )
            if action.pair_id and action.role
            else None
        )
        # A calendar that invites by itself (Google, Exchange, Microsoft 365) has sent the
        # invitation already: the email then only explains it, so nobody gets two.
        attach = action.method and not self.calendar.invites_attendees
        calendar = (
            self._calendar_bytes(action.series, action.method, now, action.pair_id)
            if action.series and attach and action.pair_id
            else None
        )
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
        )
        return Outgoing(to, message)

    # -- performing -------------------------------------------------------------------------

    def perform(
        self, action: Action, states: dict[str, PairState], now: datetime, *, dry_run: bool = False
    ) -> Event | None:
        """Carry out one action (or only build it, in a dry run) and return the resulting fact."""
        if action.template is None:
            return self._calendar_action(action, now, dry_run)
        outgoing = self.build(action, states, now)
        if not dry_run:
            record = self.store.action(action.key) or {}
            already = record.get("status") == "pending" and self.mailbox.was_sent(
                self._message_id(action)
            )
            if already:
                log.info("%s: already sent before an interruption; not sending again", action.key)
            else:
                self.mailbox.send(outgoing.message)
            self.store.record_action(action.key, status="done", done_at=now, to=outgoing.to[1])
        sequence = action.series.sequence if action.series else None
        return Sent(action.kind, action.role, now, sequence=sequence, options=action.options)

    def _calendar_action(self, action: Action, now: datetime, dry_run: bool) -> Event | None:
        """Book, update or cancel the series in the organizer's calendar.

        A calendar that invites the attendees itself gets the series with them (REQUEST);
        any other stores the organizer's copy only (PUBLISH allows no ATTENDEE).
        """
        series = action.series
        assert series is not None and action.pair_id
        if action.kind in ("book", "update_series"):
            if not dry_run:
                method = "REQUEST" if self.calendar.invites_attendees else "PUBLISH"
                ics = self._calendar_bytes(series, method, now, action.pair_id)
                self.calendar.put_event(series.uid, ics)
                self.store.record_action(action.key, status="done", done_at=now)
            if action.kind == "book":
                return Booked(series)
            return Sent("update_series", None, now, sequence=series.sequence)
        cancelled = series.model_copy(
            update={"status": "cancelled", "sequence": series.sequence + 1}
        )
        if not dry_run:
            ics = self._calendar_bytes(cancelled, "CANCEL", now, action.pair_id)
            self.calendar.cancel_event(series.uid, ics)
            self.store.record_action(action.key, status="done", done_at=now)
        return Sent("cancel_series", None, now)

    def record_failure(
        self, action: Action, error: Exception, now: datetime, *, permanent: bool = False
    ) -> None:
        """Count a failed attempt; a permanent failure is not tried again."""
        record = self.store.action(action.key) or {}
        attempts = MAX_ATTEMPTS if permanent else record.get("attempts", 0) + 1
        self.store.record_action(
            action.key, status="failed", attempts=attempts, error=str(error)[:500], failed_at=now
        )
