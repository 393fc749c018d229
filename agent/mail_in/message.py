"""Plain value types shared by the pure core (inbound, replies, program, planner).

Nothing here does I/O. Everything is immutable so that a tick can be replayed
from the same inputs and give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from agent.meetings.when import Proposal

Role = Literal["mentor", "mentee"]
ROLES: tuple[Role, Role] = ("mentor", "mentee")


def other_role(role: Role) -> Role:
    """The counterpart's role in a pair."""
    return "mentee" if role == "mentor" else "mentor"


class IntentKind(StrEnum):
    """What a participant means by a reply (see `agent.mail_in.replies`)."""

    AGREE = "agree"  # accepts the mentoring agreement
    DECLINE = "decline"  # does not accept the agreement (yet)
    GOALS = "goals"  # states goals; Intent.items holds them (with Intent.goal: changes that one)
    NEW_GOAL = "new_goal"  # adds a goal ("new goal: ..."); Intent.text holds it
    CONDITION = "condition"  # agrees only on a condition, or asks before agreeing; Intent.text
    CADENCE = "cadence"  # would like to meet more or less often, or longer; Intent.text
    PROGRESS = "progress"  # reports progress; Intent.text holds it
    RATING = "rating"  # rates a meeting/the pairing 1..5; Intent.value
    RESCHEDULE = "reschedule"  # asks to move a meeting; Intent.text
    SKIP = "skip"  # skips the next meeting
    MISSED = "missed"  # a meeting that was due did not take place ("we didn't manage to meet")
    PAUSE = "pause"  # pauses the mentoring for a while
    RESUME = "resume"  # resumes after a pause
    STOP = "stop"  # leaves the program
    QUESTION = "question"  # asks the program office something; Intent.text
    CHOICE = "choice"  # picks one of the offered meeting times; Intent.value (1-based)


@dataclass(frozen=True)
class Intent:
    """One meaning found in a reply.

    `value` is the rating (1..5) for RATING and an estimated percentage for
    PROGRESS; `goal` is the goal's number for progress on one goal ("Goal 2:
    done") and for GOALS that change one goal ("change goal 2 to ..."); `when`
    is the new time a RESCHEDULE or the day a SKIP names.
    """

    kind: IntentKind
    text: str = ""
    value: int | None = None
    items: tuple[str, ...] = ()
    goal: int | None = None
    when: Proposal | None = None
    question: int | None = None  # the number of the question of our email it answers
    topic: str | None = None  # what it is about: that question's topic, or a condition's

    def fields(self) -> dict[str, object]:
        """The intent as plain data (for the progress log and `inspect`), unset parts left out."""
        out: dict[str, object] = {"kind": str(self.kind), "text": self.text}
        if self.value is not None:
            out["value"] = self.value
        if self.items:
            out["items"] = list(self.items)
        if self.goal is not None:
            out["goal"] = self.goal
        if self.when:
            out["when"] = self.when.describe()
        if self.question is not None:
            out["question"] = self.question
        if self.topic:
            out["topic"] = self.topic
        return out


@dataclass(frozen=True)
class Interpretation:
    """Everything `agent.mail_in.replies.interpret` understood in one reply.

    `unsure` is set (with a human-readable reason) when the text could not be
    understood with confidence; such a reply goes to the coordinator instead of
    being acted on. Intents that *were* understood may still be present.
    """

    intents: tuple[Intent, ...] = ()
    unsure: str | None = None

    def has(self, kind: IntentKind) -> bool:
        return any(i.kind == kind for i in self.intents)

    def first(self, kind: IntentKind) -> Intent | None:
        return next((i for i in self.intents if i.kind == kind), None)


@dataclass(frozen=True)
class InboundMessage:
    """A received email, decoded and classified, ready for matching.

    Built by `agent.mail_in.inbound.parse_message`, which never raises: a malformed
    message still yields an InboundMessage with `problems` describing what was
    wrong, so nothing is ever dropped.
    """

    message_id: str  # without angle brackets; "sha256:<hex>" of the raw bytes when missing
    from_addr: str  # lower-cased addr-spec; "" unless From is exactly one clear mailbox
    from_name: str
    to_addrs: tuple[str, ...]  # lower-cased: To, Cc, Delivered-To, X-Original-To
    subject: str
    date: datetime | None  # aware, None when missing/unparseable
    in_reply_to: tuple[str, ...]  # message ids without angle brackets
    references: tuple[str, ...]
    text: str  # whole decoded body as text (HTML converted to text)
    reply_text: str  # only what the sender newly wrote: quotes and signature removed
    auto_reply: str | None = None  # why it is machine-generated (auto-reply), else None
    bounce: bool = False  # a delivery status notification (RFC 3464)
    failed_recipients: tuple[str, ...] = ()  # for bounces, when known
    # for bounces: Message-IDs of the returned message (its copy or headers in the report)
    returned_ids: tuple[str, ...] = ()
    bounce_reason: str = ""  # for bounces: the server's Diagnostic-Code, when given
    calendar: tuple[str, ...] = ()  # text/calendar parts (iTIP), decoded
    attachments: tuple[str, ...] = ()  # file names of attachments kept aside
    dmarc_fail: bool = False  # Authentication-Results says dmarc=fail
    # why From is not exactly one clear mailbox (agent.mail_in.mailbox_parse), "" when it is
    sender_problem: str = ""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # decoded, in order
    problems: tuple[str, ...] = ()  # what was wrong with the message, if anything
