"""Contract harnesses (tests/contract.py) for the back ends with files or real servers.

maildir / ics : the files under a temp folder.
imap          : Dovecot and the scripted aiosmtpd relay on 127.0.0.1 (tests/mailservers.py).
caldav        : Radicale on 127.0.0.1 (tests/davserver.py); the organizer's calendar, and
                the mentor's own calendar for busy time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import icalendar
import pytest
import recurring_ical_events

from agent.config.loading import load_config
from connectors.base import Calendar, Mailbox, Outcome
from connectors.registry import open_calendar, open_mailbox
from tests.contract import SentMail, Span, StoredSeries, message_id_of
from tests.davserver import DavServer, DavUser
from tests.mailservers import MailServers, MailUser, program_config

MINIMAL = Path(__file__).resolve().parents[1] / "config" / "minimal.yaml"
WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))


def _config(directory: Path, **sections: dict[str, Any]) -> Any:
    lines = []
    for line in MINIMAL.read_text(encoding="utf-8").splitlines():
        key = line.split(":", 1)[0]
        if key in sections:
            line = f"{key}: {json.dumps(sections[key])}"
        lines.append(line)
    path = directory / "program.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


def stored_from_ics(data: bytes) -> StoredSeries:
    """A stored VCALENDAR expanded the way calendar apps do (recurring-ical-events)."""
    calendar = icalendar.Calendar.from_ical(data)
    master = next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e)
    attendees = master.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    meetings = tuple(
        sorted(
            (e.decoded("DTSTART").astimezone(UTC), e.decoded("DTEND").astimezone(UTC))
            for e in recurring_ical_events.of(calendar).between(*WINDOW)
            if str(e.get("STATUS", "")).upper() != "CANCELLED"
        )
    )
    return StoredSeries(
        cancelled=str(master.get("STATUS", "")).upper() == "CANCELLED",
        attendees=frozenset(str(a).lower().removeprefix("mailto:") for a in attendees),
        meetings=meetings,
    )


def _ids(paths: Iterator[Path]) -> list[str]:
    found = sorted((p.stat().st_mtime_ns, p.name, p) for p in paths if p.is_file())
    return [message_id_of(p.read_bytes()) for _, _, p in found]


# --- maildir + ics ------------------------------------------------------------------------


@dataclass
class MaildirHarness:
    mailbox: Mailbox
    root: Path
    delivered: int = 0

    def deliver(self, raw: bytes) -> None:
        self.delivered += 1
        (self.root / "inbox" / "new" / f"{self.delivered:04d}.test").write_bytes(raw)

    def _folder(self, name: str) -> list[str]:
        return _ids(p for sub in ("new", "cur") for p in (self.root / name / sub).iterdir())

    def inbox(self) -> list[str]:
        return self._folder("inbox")

    def handled(self, outcome: Outcome) -> list[str]:
        return self._folder(outcome)

    def sent(self) -> list[SentMail]:
        out = []
        for path in sorted((self.root / "sent" / "new").iterdir()):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            to = {a.addr_spec.lower() for a in message["To"].addresses}
            out.append(SentMail(message_id_of(path.read_bytes()), frozenset(to)))
        return out


@dataclass
class IcsHarness:
    calendar: Calendar
    root: Path

    def stored(self, uid: str) -> StoredSeries | None:
        path = self.root / "events" / f"{uid}.ics"
        return stored_from_ics(path.read_bytes()) if path.exists() else None

    def make_busy(self, email: str, spans: Sequence[Span]) -> bool:
        return False  # files hold only the program's own meetings


@pytest.fixture
def maildir_mail_harness(tmp_path: Path) -> Iterator[MaildirHarness]:
    cfg = _config(tmp_path, mail={"type": "maildir", "path": "mail"})
    mailbox = open_mailbox(cfg)
    yield MaildirHarness(mailbox, tmp_path / "mail")
    mailbox.close()


@pytest.fixture
def ics_calendar_harness(tmp_path: Path) -> Iterator[IcsHarness]:
    cfg = _config(tmp_path, calendar={"type": "ics", "path": "calendar"})
    calendar = open_calendar(cfg)
    yield IcsHarness(calendar, tmp_path / "calendar")
    calendar.close()


# --- imap + smtp --------------------------------------------------------------------------


@dataclass
class ProgramCli:
    """One program driven through the in-process CLI (the `cli` fixture of conftest)."""

    cli: Callable[..., tuple[int, str, str]]
    config: Path | str

    def tick(self, now: str, *extra: str) -> str:
        """`tick --now NOW [EXTRA...]`, which must succeed; what it printed."""
        code, out, err = self.cli("tick", "--config", self.config, "--now", now, *extra)
        assert code == 0, out + err
        return out

    def status(self, now: str) -> dict[str, Any]:
        """`status --json --now NOW`, per pair id."""
        code, out, err = self.cli("status", "--config", self.config, "--json", "--now", now)
        assert code == 0, err
        return {p["id"]: p for p in json.loads(out)["pairs"]}


@dataclass
class ImapHarness:
    mailbox: Any
    servers: MailServers
    user: MailUser
    sent_before: int = field(default=0)

    def _folder(self, folder: str) -> list[str]:
        client = self.servers.imap(self.user)
        try:
            delimiter = client.list_folders("", "")[0][1].decode()
            folder = folder.replace("/", delimiter)
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["NOT", "DELETED"]))
            bodies = client.fetch(uids, ["BODY.PEEK[HEADER]"]) if uids else {}
            return [message_id_of(bodies[uid][b"BODY[HEADER]"]) for uid in uids]
        finally:
            client.logout()

    def deliver(self, raw: bytes) -> None:
        self.servers.append(self.user, raw)

    def inbox(self) -> list[str]:
        return self._folder("INBOX")

    def handled(self, outcome: Outcome) -> list[str]:
        options = self.mailbox.options
        return self._folder(
            options.processed_folder if outcome == "processed" else options.quarantine_folder
        )

    def sent(self) -> list[SentMail]:
        assert self.servers.smtp is not None
        return [
            SentMail(message_id_of(d.data), frozenset(r.lower() for r in d.rcpt_tos))
            for d in self.servers.smtp.handler.delivered[self.sent_before :]
        ]


@pytest.fixture
def imap_mail_harness(mail_servers: MailServers, tmp_path: Path) -> Iterator[ImapHarness]:
    assert mail_servers.smtp is not None
    user = mail_servers.new_user("program")
    # `since`: the contract's messages are appended now, before the program's onboarding
    cfg = load_config(program_config(mail_servers, user, tmp_path, since="2020-01-01"))
    mailbox = open_mailbox(cfg)
    yield ImapHarness(mailbox, mail_servers, user, len(mail_servers.smtp.handler.delivered))
    mailbox.close()


# --- caldav -------------------------------------------------------------------------------


@dataclass
class CalDavHarness:
    calendar: Any
    dav: DavServer
    organizer: DavUser
    mentor: DavUser
    mentor_email: str

    def stored(self, uid: str) -> StoredSeries | None:
        calendar = self.dav.client(self.organizer).principal().calendar(name="Mentoring")
        try:
            event = calendar.event_by_uid(uid)
        except Exception:  # caldav raises its NotFoundError (or a subclass) when absent
            return None
        return stored_from_ics(event.data.encode())

    def make_busy(self, email: str, spans: Sequence[Span]) -> bool:
        if email.lower() != self.mentor_email:
            return False
        own = self.dav.client(self.mentor).principal().calendar(cal_id="own")
        for n, (start, end) in enumerate(spans):
            event = icalendar.Event()
            event.add("uid", f"appointment-{n}@elsewhere.test")
            event.add("dtstamp", WINDOW[0])
            event.add("dtstart", start)
            event.add("dtend", end)
            event.add("summary", "Busy")
            holder = icalendar.Calendar()
            holder.add("prodid", "-//test//test//EN")
            holder.add("version", "2.0")
            holder.add_component(event)
            own.save_event(holder.to_ical().decode())
        return True


@pytest.fixture
def caldav_calendar_harness(dav_server: DavServer, tmp_path: Path) -> Iterator[CalDavHarness]:
    organizer, mentor = dav_server.new_user("organizer"), dav_server.new_user("ana")
    dav_server.make_calendar(mentor, "own")
    secrets = {}
    for user in (organizer, mentor):
        secrets[user.login] = tmp_path / f"{user.login}.password"
        secrets[user.login].write_text(user.password, encoding="utf-8")
    source = MINIMAL.read_text(encoding="utf-8")
    access = {
        "url": dav_server.calendar_url(mentor, "own"),
        "username": mentor.login,
        "password_file": str(secrets[mentor.login]),
    }
    source = source.replace(
        'hours: "09:00-17:00"}', f'hours: "09:00-17:00", calendar: {json.dumps(access)}}}'
    )
    section = {
        "type": "caldav",
        "url": dav_server.url,
        "username": organizer.login,
        "password_file": str(secrets[organizer.login]),
        "calendar": "Mentoring",
        "timeout": 5,
    }
    lines = [
        f"calendar: {json.dumps(section)}" if line.startswith("calendar:") else line
        for line in source.splitlines()
    ]
    (tmp_path / "program.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    calendar = open_calendar(load_config(tmp_path / "program.yaml"))
    yield CalDavHarness(calendar, dav_server, organizer, mentor, "ana@example.org")
    calendar.close()
