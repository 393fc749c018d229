"""Replies as mail clients write them, to the agent's real emails, and what they lead to.

`Conversation` opens a ticked program read-only: the emails the agent sent (its Maildir
`sent` folder), its store and its config. `Conversation.answer` reads one reply the
way `tick` does (parse, match by token/thread, route with the pair's stored state)
and applies the events to that state in memory, so many replies can be tried
against the same moment of the program without one changing the next.

The client styles (`CLIENTS`) reproduce how each quotes the original: Gmail's
attribution line and `>` quoting (in the writer's language), Outlook's header block
above the unquoted original, Apple Mail and iPhone's "On ..., at ..., X wrote:",
Android (Samsung) "-------- Original message --------", and inline answers written
between the quoted questions.
"""

from __future__ import annotations

import email.policy
import mailbox
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from agent.commands.runtime import state_path, token_key
from agent.config.loading import load_config
from agent.config.model import Config
from agent.mail_in.inbound import parse_message
from agent.pairs import program
from agent.pairs.ingest import Routed, match, route, sender_zone
from agent.pairs.program import PairState
from agent.state.opening import reading
from agent.state.store import Store
from tests.mta import stamp

# Gmail's attribution line per language, with {date} and {sender} filled in.
ATTRIBUTION = {
    "en": "On {date:%a, %b %d, %Y at %H:%M}, {sender} wrote:",
    "de": "Am {date:%d.%m.%Y} um {date:%H:%M} schrieb {sender}:",
    "fr": "Le {date:%d/%m/%Y à %H:%M}, {sender} a écrit :",
    "es": "El {date:%d/%m/%Y}, a las {date:%H:%M}, {sender} escribió:",
    "pt": "Em {date:%d/%m/%Y} às {date:%H:%M}, {sender} escreveu:",
    "it": "Il giorno {date:%d/%m/%Y} alle ore {date:%H:%M} {sender} ha scritto:",
    "nl": "Op {date:%d-%m-%Y} om {date:%H:%M} schreef {sender}:",
    "pl": "{date:%d.%m.%Y} o {date:%H:%M} {sender} napisał(a):",
    "sv": "Den {date:%d %b %Y} kl {date:%H:%M} skrev {sender}:",
    "da": "Den {date:%d.%m.%Y} kl. {date:%H.%M} skrev {sender}:",
    "ja": "{date:%Y年%m月%d日} {date:%H:%M} {sender}:",
    "zh": "{sender} 于{date:%Y年%m月%d日} {date:%H:%M}写道：",
    "ru": "{date:%d.%m.%Y}, {date:%H:%M}, {sender}:",
}


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def _quoted(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def gmail(original: EmailMessage, text: str, when: datetime, lang: str = "en") -> str:
    """Top-posted, Gmail's attribution in `lang`, the original `>`-quoted."""
    header = ATTRIBUTION[lang].format(date=when, sender=original["From"])
    return f"{text}\n\n{header}\n{_quoted(body_of(original))}\n"


def outlook(original: EmailMessage, text: str, when: datetime, lang: str = "en") -> str:
    """Outlook desktop: the reply above a header block and the original, unquoted."""
    block = (
        "________________________________\n"
        f"From: {original['From']}\nSent: {when:%A, %B %d, %Y %I:%M %p}\n"
        f"To: {original['To']}\nSubject: {original['Subject']}\n\n"
    )
    return f"{text}\n\n{block}{body_of(original)}"


def apple(original: EmailMessage, text: str, when: datetime, lang: str = "en") -> str:
    """Apple Mail on a Mac: "On 6 Apr 2027, at 20:15, X wrote:" and `>` quoting."""
    header = f"On {when:%d %b %Y}, at {when:%H:%M}, {original['From']} wrote:"
    return f"{text}\n\n{header}\n\n{_quoted(body_of(original))}\n"


def iphone(original: EmailMessage, text: str, when: datetime, lang: str = "en") -> str:
    """iPhone Mail: the reply, "Sent from my iPhone", then the quote."""
    header = f"On {when:%d %b %Y}, at {when:%H:%M}, {original['From']} wrote:"
    return f"{text}\n\nSent from my iPhone\n\n{header}\n\n{_quoted(body_of(original))}\n"


def android(original: EmailMessage, text: str, when: datetime, lang: str = "en") -> str:
    """Samsung Email on Android: "Sent from my Galaxy" and an "Original message" block."""
    block = (
        "-------- Original message --------\n"
        f"From: {original['From']}\nDate: {when:%d/%m/%Y %H:%M} (GMT+01:00)\n"
        f"To: {original['To']}\nSubject: {original['Subject']}\n\n"
    )
    return f"{text}\n\n\n\nSent from my Galaxy\n\n\n{block}{body_of(original)}"


def inline(
    original: EmailMessage,
    answers: dict[int, str],
    when: datetime,
    lang: str = "en",
    *,
    greeting: str = "",
    closing: str = "",
) -> str:
    """Gmail, answers written under each quoted numbered question ("> 2. What ...?")."""
    header = ATTRIBUTION[lang].format(date=when, sender=original["From"])
    out = [greeting, "", header] if greeting else [header]
    for line in body_of(original).splitlines():
        out.append("> " + line if line else ">")
        stripped = line.strip()
        number = stripped.split(".", 1)[0]
        if number.isdigit() and stripped.endswith("?") and int(number) in answers:
            out += ["", answers[int(number)], ""]
    if closing:
        out += ["", closing]
    return "\n".join(out) + "\n"


CLIENTS: dict[str, Callable[..., str]] = {
    "gmail": gmail,
    "outlook": outlook,
    "apple": apple,
    "iphone": iphone,
    "android": android,
}


def reply(
    original: EmailMessage,
    sender: str,
    body: str,
    when: datetime,
    *,
    thread: bool = True,
    html: bool = False,
) -> bytes:
    """The reply as the receiving MTA delivers it (Authentication-Results stamped)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = original["Reply-To"]
    message["Subject"] = "Re: " + original["Subject"]
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain="mail.example")
    if thread:
        message["In-Reply-To"] = original["Message-ID"]
        message["References"] = original["Message-ID"]
    message.set_content(body)
    if html:  # Outlook sends both; the plain part is what is read
        paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        message.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
    return stamp(message.as_bytes(policy=email.policy.SMTP))


@dataclass
class Answered:
    """What one reply led to."""

    routed: Routed
    before: PairState
    after: PairState
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def notice(self) -> str | None:
        """What the coordinator is told (None: nothing)."""
        if self.routed.notice is None:
            return None
        return str(self.routed.notice.extra.get("reason", ""))

    def logged(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.routed.log if e.get("kind") == kind]

    @property
    def progress(self) -> list[str]:
        return [str(e["text"]) for e in self.logged("progress")]

    @property
    def ratings(self) -> list[int]:
        return [int(e["value"]) for e in self.logged("rating")]


@dataclass
class Conversation:
    """A ticked program, read-only."""

    root: Path
    cfg: Config
    key: bytes
    store: Store

    def sent(self, pair: str, role: str, kind: str) -> EmailMessage:
        """The latest email of `kind` the agent sent to `role` of `pair`."""
        records = [
            a
            for a in self.store.actions()
            if a.get("kind") == kind
            and a.get("pair") == pair
            and a.get("role") == role
            and a.get("status") == "done"
            and a.get("message_id")
        ]
        assert records, f"no {kind} to {pair}/{role}"
        wanted = "<" + max(records, key=lambda a: str(a["done_at"]))["message_id"] + ">"
        box = mailbox.Maildir(self.root / "mail" / "sent", factory=None, create=False)
        parser = BytesParser(policy=email.policy.default)
        for key in box.iterkeys():
            message = parser.parsebytes(box.get_bytes(key))
            if message["Message-ID"] == wanted:
                return message  # type: ignore[return-value]
        raise AssertionError(f"{wanted} not in the sent folder")

    def answer(self, raw: bytes, now: datetime) -> Answered:
        msg = parse_message(raw)
        found = match(msg, self.cfg, self.key, self.store)
        assert found.pair_id and found.role, found.problem
        before = self.store.pair_state(found.pair_id)
        routed = route(msg, found, now, sender_zone(self.cfg, found), self.cfg, before)
        after = before
        for event in routed.events:
            after = program.apply(after, event)
        return Answered(routed, before, after)


@contextmanager
def conversation(root: Path, config: str) -> Iterator[Conversation]:
    cfg = load_config(root / config)
    with reading(state_path(cfg)) as store:
        yield Conversation(root, cfg, token_key(cfg, create=False), store)
