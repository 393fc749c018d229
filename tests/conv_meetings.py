"""A booked five-pair program and the mail clients its people answer from, for the
conversation tests about meetings (tests/test_conv_reschedule.py, tests/test_conv_missed.py).

The program runs on the Maildir default from 1 March to 31 May 2027, through both sides'
clock changes (US 14 March, EU 28 March). `booked_program` ticks it once through
onboarding, has everyone agree, and books every pair's weekly series; each test gets a
copy. The replies are full RFC 5322 messages as Gmail (web and Android), Outlook
(desktop, and on a phone without thread headers), Apple Mail and the iPhone write them:
their own quote attributions, signatures, HTML alternatives and transfer encodings.
"""

from __future__ import annotations

import email.policy
import json
import mailbox
import shutil
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from agent.commands.cli import main
from tests.mta import stamp

LONDON = ZoneInfo("Europe/London")
RACHEL = "rachel@example.org"

CONFIG = """\
program:
  name: Spring 2027 Mentoring
  timezone: Europe/London
  start: 2027-03-01
  end: 2027-05-31
  sender: {name: Mentoring Program, email: mentoring@example.org}
  coordinator: {name: Rachel O'Neill, email: rachel@example.org}
cadence:
  agreement: {reminder_after: 3d, escalate_after: 7d}
  meetings: {every: 1w, duration: 45m}
  nudge: {quiet_after: 14d}
  send_window: null  # these tests are about meetings: any hour (tests/test_civil_hours.py)
  spacing: null
participants:
  - {id: tom, name: Tom Brennan, email: tom.brennan@example.ie, role: mentor,
     timezone: Europe/Dublin, hours: "09:00-21:00"}
  - {id: zoe, name: Zoë Ørsted, email: zoe@example.dk, role: mentee,
     timezone: Europe/Copenhagen, hours: "10:00-22:00"}
  - {id: lukas, name: Lukas Schäfer, email: lukas@example.de, role: mentor,
     timezone: Europe/Berlin, hours: "08:00-18:00"}
  - {id: mia, name: Mia Hoffman, email: mia.hoffman@example.com, role: mentee,
     timezone: America/New_York, hours: "08:00-12:00"}
  - {id: lucia, name: Lucía Gómez, email: lucia@example.co, role: mentor,
     timezone: America/Bogota, hours: "07:00-19:00"}
  - {id: diego, name: Diego Martín, email: diego@example.es, role: mentee,
     timezone: Europe/Madrid, hours: "09:00-20:00"}
  - {id: camille, name: Camille Dubois, email: camille@example.fr, role: mentor,
     timezone: Europe/Paris, hours: "09:00-19:00"}
  - {id: ines, name: Inès Benali, email: ines@example.be, role: mentee,
     timezone: Europe/Brussels, hours: "08:00-18:00"}
  - {id: haruki, name: Haruki Sato, email: haruki@example.jp, role: mentor,
     timezone: Asia/Tokyo, hours: "08:00-20:00"}
  - {id: sofia, name: Sofia Rossi, email: sofia@example.it, role: mentee,
     timezone: Europe/Rome, hours: "07:00-19:00"}
pairs:
  - {id: tom-zoe, mentor: tom, mentee: zoe}
  - {id: lukas-mia, mentor: lukas, mentee: mia}
  - {id: lucia-diego, mentor: lucia, mentee: diego}
  - {id: camille-ines, mentor: camille, mentee: ines}
  - {id: haruki-sofia, mentor: haruki, mentee: sofia}
mail: {type: maildir, path: mail}
calendar: {type: ics, path: calendar}
storage: {path: state.json}
security: {authserv_id: mx.example.org}
"""

PEOPLE = {
    "tom": ("Tom Brennan", "tom.brennan@example.ie", "Europe/Dublin"),
    "zoe": ("Zoë Ørsted", "zoe@example.dk", "Europe/Copenhagen"),
    "lukas": ("Lukas Schäfer", "lukas@example.de", "Europe/Berlin"),
    "mia": ("Mia Hoffman", "mia.hoffman@example.com", "America/New_York"),
    "lucia": ("Lucía Gómez", "lucia@example.co", "America/Bogota"),
    "diego": ("Diego Martín", "diego@example.es", "Europe/Madrid"),
    "camille": ("Camille Dubois", "camille@example.fr", "Europe/Paris"),
    "ines": ("Inès Benali", "ines@example.be", "Europe/Brussels"),
    "haruki": ("Haruki Sato", "haruki@example.jp", "Asia/Tokyo"),
    "sofia": ("Sofia Rossi", "sofia@example.it", "Europe/Rome"),
}
PAIR_OF = {
    "tom": "tom-zoe",
    "zoe": "tom-zoe",
    "lukas": "lukas-mia",
    "mia": "lukas-mia",
    "lucia": "lucia-diego",
    "diego": "lucia-diego",
    "camille": "camille-ines",
    "ines": "camille-ines",
    "haruki": "haruki-sofia",
    "sofia": "haruki-sofia",
}


def address(person: str) -> str:
    return PEOPLE[person][1]


def local(person: str, text: str) -> datetime:
    """A wall-clock time in `person`'s zone: when they wrote."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(PEOPLE[person][2]))


class Conversation:
    """The program folder as the participants' mail clients and a test see it."""

    def __init__(self, root: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
        self.root, self.cli = root, cli
        self.config = root / "program.yaml"

    def tick(self, now: str) -> str:
        code, out, err = self.cli("tick", "--config", self.config, "--now", now)
        assert code == 0, out + err
        return out

    def sent(self, to: str | None = None) -> list[EmailMessage]:
        parser = BytesParser(policy=email.policy.default)
        box = self.root / "mail" / "sent"
        messages = [
            parser.parsebytes(p.read_bytes())
            for sub in ("new", "cur")
            for p in sorted((box / sub).iterdir())
        ]
        return [
            m
            for m in messages
            if to is None or m["To"].addresses[0].addr_spec.lower() == to.lower()
        ]

    def latest(self, person: str, subject_part: str) -> EmailMessage:
        """The latest email to `person` with `subject_part` in its subject."""
        found = [m for m in self.sent(address(person)) if subject_part in str(m["Subject"])]
        assert found, f"no email to {person} with {subject_part!r}"
        return max(found, key=lambda m: email.utils.parsedate_to_datetime(m["Date"]))

    def deliver(self, message: EmailMessage) -> None:
        """Into the inbox as the receiving MTA delivers it (tests/mta.py)."""
        raw = message.as_bytes(policy=email.policy.SMTP)
        mailbox.Maildir(self.root / "mail" / "inbox").add(stamp(raw))

    def state(self, pair_id: str) -> dict[str, Any]:
        data = json.loads((self.root / "state.json").read_text(encoding="utf-8"))
        return next(r["state"] for r in data["pairs"].values() if r["pair_id"] == pair_id)

    def log(self, pair_id: str) -> list[dict[str, Any]]:
        data = json.loads((self.root / "state.json").read_text(encoding="utf-8"))
        return [e for e in data["log"].values() if e.get("pair") == pair_id]

    def meetings(self, pair_id: str) -> list[datetime]:
        """The actual starts of the pair's meetings from the status (UTC)."""
        state = self.state(pair_id)
        return [datetime.fromisoformat(m) for m in _starts(state)]

    def report(self, now: str) -> dict[str, Any]:
        out = self.root / "report.json"
        code, _, err = self.cli(
            "report", "--config", self.config, "--now", now, "--format", "json", "-o", out
        )
        assert code == 0, err
        return json.loads(out.read_text(encoding="utf-8"))

    def inspect(self, path: Path, now: str | None = None) -> dict[str, Any]:
        args = ["inspect", path, "--config", self.config, "--json"]
        code, out, err = self.cli(*args, *(["--now", now] if now else []))
        assert code == 0, err
        return json.loads(out.splitlines()[-1])


def _starts(state: dict[str, Any]) -> list[str]:
    from agent.pairs.program import Series

    parts = [*state.get("earlier", []), *([state["series"]] if state.get("series") else [])]
    return [s.isoformat() for part in parts for s in Series.model_validate(part).starts()]


def booked_program(root: Path) -> Path:
    """The program after onboarding (15 Feb), everyone's agreement and the booking tick."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "program.yaml").write_text(CONFIG, encoding="utf-8")
    config = str(root / "program.yaml")
    assert main(["tick", "--config", config, "--now", "2027-02-15T09:00"]) == 0
    program = Conversation(root, lambda *a: (main([str(x) for x in a]), "", ""))
    for person in PEOPLE:
        agreement = program.latest(person, "agreement")
        program.deliver(
            gmail(
                agreement,
                person,
                "I agree, looking forward to it!",
                local(person, "2027-02-16T10:00"),
            )
        )
    assert main(["tick", "--config", config, "--now", "2027-02-17T09:00"]) == 0
    return root


def copy_of(template: Path, target: Path, cli: Callable[..., tuple[int, str, str]]) -> Conversation:
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("*.lock"))
    return Conversation(target, cli)


# --- the calendar attached to the emails -----------------------------------------------------


def calendar_of(message: EmailMessage) -> icalendar.Calendar | None:
    part = next((p for p in message.walk() if p.get_content_type() == "text/calendar"), None)
    return icalendar.Calendar.from_ical(part.get_content()) if part else None


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


# --- replies as the clients write them -------------------------------------------------------


def _sender(person: str) -> str:
    name, addr, _ = PEOPLE[person]
    return f"{name} <{addr}>"


def _quoted(original: EmailMessage) -> str:
    return "\n".join("> " + line if line else ">" for line in body(original).splitlines())


def _reply(
    original: EmailMessage,
    person: str,
    text: str,
    when: datetime,
    *,
    prefix: str = "Re: ",
    thread: bool = True,
    headers: dict[str, str] | None = None,
    html: str | None = None,
    cte: str | None = None,
) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = _sender(person)
    reply["To"] = original["Reply-To"]
    reply["Subject"] = prefix + str(original["Subject"])
    reply["Date"] = format_datetime(when)
    reply["Message-ID"] = make_msgid(domain=address(person).rpartition("@")[2])
    if thread:
        reply["In-Reply-To"] = original["Message-ID"]
        reply["References"] = original["Message-ID"]
    for name, value in (headers or {}).items():
        reply[name] = value
    reply.set_content(text, cte=cte) if cte else reply.set_content(text)
    if html is not None:
        reply.add_alternative(html, subtype="html")
    return reply


GMAIL_ATTRIBUTION = {
    "en": "On {date:%a, %b %d, %Y at %H:%M}, {sender} wrote:",
    "de": "Am {date:%d.%m.%Y} um {date:%H:%M} schrieb {sender}:",
    "fr": "Le {date:%d/%m/%Y à %H:%M}, {sender} a écrit :",
    "es": "El {date:%d/%m/%Y a las %H:%M}, {sender} escribió:",
    "it": "Il giorno {date:%d/%m/%Y alle ore %H:%M} {sender} ha scritto:",
    "pt": "Em {date:%d/%m/%Y às %H:%M}, {sender} escreveu:",
    "nl": "Op {date:%d-%m-%Y om %H:%M} schreef {sender}:",
    "ja": "{date:%Y年%m月%d日} {date:%H:%M} {sender}:",
}


def gmail(
    original: EmailMessage, person: str, text: str, when: datetime, lang: str = "en"
) -> EmailMessage:
    """Gmail on the web: text and HTML alternatives, the quote under an attribution line."""
    sent = email.utils.parsedate_to_datetime(original["Date"])
    attribution = GMAIL_ATTRIBUTION[lang].format(date=sent, sender=original["From"])
    plain = f"{text}\n\n{attribution}\n\n{_quoted(original)}\n"
    html = (
        '<div dir="ltr">'
        + "<br>".join(text.splitlines())
        + '</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        + attribution
        + "</div><blockquote>...</blockquote></div>"
    )
    return _reply(original, person, plain, when, html=html)


def gmail_android(original: EmailMessage, person: str, text: str, when: datetime) -> EmailMessage:
    """Gmail on an Android phone: plain text, a short attribution, no HTML."""
    sent = email.utils.parsedate_to_datetime(original["Date"])
    attribution = f"On {sent:%a, %d %b %Y, %H:%M} {original['From']} wrote:"
    return _reply(original, person, f"{text}\n\n{attribution}\n\n{_quoted(original)}\n", when)


def outlook(
    original: EmailMessage, person: str, text: str, when: datetime, *, thread: bool = True
) -> EmailMessage:
    """Outlook desktop: the original below a rule and a From/Sent/To/Subject block, no '>'
    quoting, Thread-Index; on a phone it may leave out In-Reply-To and References."""
    sent = email.utils.parsedate_to_datetime(original["Date"])
    block = (
        "________________________________\n"
        f"From: {original['From']}\nSent: {sent:%A, %B %d, %Y %I:%M %p}\n"
        f"To: {_sender(person)}\nSubject: {original['Subject']}\n\n"
    )
    headers = {
        "Thread-Topic": str(original["Subject"]),
        "Thread-Index": "AQHZx3sL9b0m2k1Qe0ahYw==",
        "X-MS-Has-Attach": "",
        "Content-Language": "en-GB",
    }
    return _reply(
        original,
        person,
        f"{text}\n\n{block}{body(original)}",
        when,
        prefix="RE: ",
        thread=thread,
        headers=headers,
    )


def apple_mail(
    original: EmailMessage, person: str, text: str, when: datetime, *, phone: bool = False
) -> EmailMessage:
    """Apple Mail (macOS) or the iPhone: quoted-printable, "On <date>, at <time>, <name>
    wrote:", and on the phone the "Sent from my iPhone" line."""
    sent = email.utils.parsedate_to_datetime(original["Date"])
    name = original["From"].addresses[0].display_name
    attribution = f"On {sent:%-d %b %Y}, at {sent:%H:%M}, {name} <{original['From'].addresses[0].addr_spec}> wrote:"
    signature = "\n\nSent from my iPhone" if phone else ""
    plain = f"{text}{signature}\n\n{attribution}\n\n{_quoted(original)}\n"
    headers = {"X-Mailer": "iPhone Mail (20D67)" if phone else "Apple Mail (2.3731.400.51.1.1)"}
    return _reply(original, person, plain, when, headers=headers, cte="quoted-printable")
