"""Who may change what by email: the trust rules for a participant's reply. Pure.

Anyone can write any From address, so a reply changes a pair's state only when
two things hold (issue 15; README "Trust model"):

- *placed*: it came to the participant's signed reply address (agent.mail_in.tokens) or
  answers an email we sent (In-Reply-To/References with one of our keyed
  Message-IDs). A message matched by its From address alone never changes
  anything: the coordinator gets its text.
- *authenticated*: the receiving mail server's own Authentication-Results says
  DMARC passed for the From domain (agent.mail_in.authresults, `security.authserv_id`).
  A placed reply without that is held: the participant is asked, at their
  configured address, to confirm it by replying to the confirmation (or, with
  `security.unauthenticated: coordinator`, the coordinator gets it). Only a
  reply in the confirmation's own thread, from that participant, applies it.

What counts as a change is `CHANGES`: agreeing or declining, goals, a rating,
moving or skipping a meeting, picking a meeting time, pausing, resuming and
leaving. Progress notes and questions are handled as before (logged, or passed
to the coordinator, who sees the sender). A calendar REPLY (accepted/declined)
is logged from any matched sender; a calendar COUNTER moves a meeting only when
placed and authenticated (see agent.pairs.ingest).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from agent.config.model import Config
from agent.mail_in.authresults import dmarc_pass
from agent.mail_in.message import InboundMessage, Intent, IntentKind, Interpretation, Role
from agent.mail_in.replies import MAX_REPLY_CHARS
from agent.pairs.program import Held

# The action kind of a confirmation email is "confirm_change:<ref>": the kind is what a
# reply's thread tells about the email it answers, so the reply names the held change.
CONFIRM_KIND = "confirm_change"

# What counts as a change, in words, the weightiest first (the order they are told in).
CHANGES: dict[IntentKind, str] = {
    IntentKind.RESCHEDULE: "reschedule a meeting",
    IntentKind.SKIP: "skip a meeting",
    IntentKind.CHOICE: "pick meeting time",
    IntentKind.STOP: "leave the program",
    IntentKind.PAUSE: "pause the mentoring",
    IntentKind.RESUME: "resume the mentoring",
    IntentKind.AGREE: "agree to the mentoring agreement",
    IntentKind.DECLINE: "decline the mentoring agreement",
    IntentKind.GOALS: "set the goals",
    IntentKind.NEW_GOAL: "add a goal",
    IntentKind.RATING: "rate the mentoring",
}
_ORDER = {kind: n for n, kind in enumerate(CHANGES)}


@dataclass(frozen=True)
class Standing:
    """How far a matched message can be trusted."""

    placed: bool  # our token or our thread
    authenticated: bool  # a trusted DMARC pass for its From domain

    @classmethod
    def of(cls, msg: InboundMessage, via: str | None, cfg: Config | None) -> Standing:
        ids = cfg.security.authserv_id if cfg else ()
        return cls(via in ("token", "thread"), dmarc_pass(msg.headers, ids, msg.from_addr))

    @property
    def trusted(self) -> bool:
        return self.placed and self.authenticated

    def why_not(self, address: str) -> str:
        if not self.placed:
            return f"sent from {address}'s address but without our thread or token"
        return "the message carries no trusted DMARC pass (security.authserv_id)"


def split(meaning: Interpretation) -> tuple[Interpretation, tuple[Intent, ...]]:
    """(the meaning without its changes, the changes it asks for)."""
    changes = tuple(
        sorted((i for i in meaning.intents if i.kind in CHANGES), key=lambda i: _ORDER[i.kind])
    )
    kept = tuple(i for i in meaning.intents if i.kind not in CHANGES)
    return Interpretation(kept, meaning.unsure), changes


def only_changes(meaning: Interpretation) -> Interpretation:
    """What a confirmed request applies: its changes (its other parts were handled when
    it came in)."""
    return Interpretation(split(meaning)[1], meaning.unsure)


def describe(intent: Intent) -> str:
    """One asked-for change in words, to complete "asks to ..." and "... asking to:"."""
    words = CHANGES[intent.kind]
    if intent.kind == IntentKind.NEW_GOAL and intent.text:
        return f"{words}: {intent.text}"
    if intent.kind == IntentKind.GOALS and intent.items and intent.goal:
        return f"change goal {intent.goal} to: {intent.items[0]}"
    if intent.kind == IntentKind.GOALS and intent.items:
        return f"{words}: " + "; ".join(intent.items)
    if intent.kind == IntentKind.RATING and intent.value is not None:
        return f"{words} {intent.value}/5"
    if intent.kind == IntentKind.CHOICE and intent.value is not None:
        return f"{words} {intent.value}"
    if intent.when is not None:
        return f"{words} ({intent.when.describe()})"
    return words


def ref_of(message_id: str) -> str:
    """The held change's name, from the Message-ID of the request."""
    return hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()[:16]


def held(
    msg: InboundMessage,
    changes: tuple[Intent, ...],
    role: Role,
    person: str,
    at: datetime,
    now: datetime,
    cfg: Config,
    replied_to: str | None,
) -> Held:
    return Held(
        ref=ref_of(msg.message_id),
        role=role,
        person=person,
        at=at,
        until=now + cfg.security.confirm_within,
        text=msg.reply_text[:MAX_REPLY_CHARS],
        replied_to=replied_to,
        changes=[describe(i) for i in changes],
    )


def confirmation_ref(replied_to: str | None) -> str | None:
    """The held change a reply confirms, when it answers a confirmation email."""
    kind, sep, ref = (replied_to or "").partition(":")
    return ref if sep and kind == CONFIRM_KIND and ref else None


# A confirmation is a reply, so nearly any answer confirms; one that says no does not.
# Plain alternations over a bounded prefix: linear time.
_REFUSAL = re.compile(
    r"^\W{0,5}(?:no|nope|nein|non)\b"
    r"|\b(?:not me|wasn'?t me|was not me|not from me"
    r"|(?:did not|didn'?t|never) (?:send|sent|ask|write|wrote)"
    r"|(?:do not|don'?t) (?:do|change|apply))\b",
    re.IGNORECASE,
)


def refuses(text: str) -> bool:
    """The answer to a confirmation says no ("No, that wasn't me")."""
    return bool(_REFUSAL.search(text[:300]))
