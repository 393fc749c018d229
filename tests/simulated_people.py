"""A simulated mentoring program: a config with many pairs, and people who answer.

Used by the kill test (tests/test_kill.py) and the scale benchmark (bench/scale.py).
The people read what the agent sent, look up which kind of email it was in the agent's
outbox, and queue the scripted answer (agreements with goals, a decline, an
out-of-office, progress and ratings, check-ins, answers to nudges) for a later,
seeded-random time.
"""

from __future__ import annotations

import csv
import email.policy
import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from connectors.maildir import message_id_of
from tests.mta import SECURITY_YAML, stamp

PARSER = BytesParser(policy=email.policy.default)

# (time zone, working hours): neighbours in this list share working hours; New York and
# Nairobi share none, so the pair that gets both has no meeting time (a coordinator alert).
ZONES = [
    ("Europe/Berlin", "08:00-18:00"),
    ("Europe/London", "08:00-17:30"),
    ("Europe/Madrid", "09:00-18:00"),
    ("America/New_York", "08:00-17:00"),
    ("Africa/Nairobi", "08:00-17:00"),
]


def roster(n: int, width: int | None = None) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The participants and pairs of a program of `n` pairs across time zones, numbered
    with `width` digits (default: as many as `n` needs, at least 2)."""
    people, pairs = [], []
    width = width or max(2, len(str(n - 1)))
    for i in range(n):
        number = f"{i:0{width}d}"
        for role, domain, (zone, hours) in (
            ("mentor", "example.org", ZONES[i % len(ZONES)]),
            ("mentee", "example.net", ZONES[(i + 1) % len(ZONES)]),
        ):
            people.append(
                {
                    "id": f"{role}{number}",
                    "name": f"{role.title()} {number}",
                    "email": f"{role}{number}@{domain}",
                    "role": role,
                    "timezone": zone,
                    "hours": hours,
                }
            )
        pairs.append(
            {"id": f"pair{number}", "mentor": f"mentor{number}", "mentee": f"mentee{number}"}
        )
    return people, pairs


def many_pairs(
    n: int,
    *,
    end: str = "2027-03-19",
    storage: str = "state.json",
    files: Path | None = None,
    width: int | None = None,
) -> str:
    """A program config (the tests' YAML format) with `n` pairs across time zones, from
    2027-03-01 to `end`; `storage` is the `storage:` mapping's `path` (or a whole
    mapping in flow style, starting with "{"). With `files`, the participants and pairs
    are written there as people.csv and pairs.csv, the way a large program keeps them."""
    people_rows, pair_rows = roster(n, width)
    if files is not None:
        for name, rows in (("people.csv", people_rows), ("pairs.csv", pair_rows)):
            with (files / name).open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        people_yaml, pairs_yaml = "participants: people.csv\n", "pairs: pairs.csv\n"
    else:
        people_yaml = "participants:\n" + "".join(
            "  - {" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in row.items()) + "}\n"
            for row in people_rows
        )
        pairs_yaml = "pairs:\n" + "".join(
            "  - {" + ", ".join(f"{k}: {v}" for k, v in row.items()) + "}\n" for row in pair_rows
        )
    return (
        "program:\n"
        "  name: Kill Test Mentoring\n"
        "  timezone: Europe/Berlin\n"
        "  start: 2027-03-01\n"
        f"  end: {end}\n"
        "  sender: {name: Mentoring Program, email: mentoring@example.org}\n"
        "  coordinator: {name: Chris Coordinator, email: coordinator@example.org}\n"
        "cadence:\n"
        "  onboarding: {before_start: 4d}\n"
        "  agreement: {reminder_after: 3d, escalate_after: 6d}\n"
        "  meetings: {every: 1w, duration: 45m}\n"
        "  follow_up: {after: 2h}\n"
        "  check_in: {every: 2w}\n"
        "  nudge: {quiet_after: 9d}\n"
        "  send_window: null\n"  # these tests tick at any hour (tests/test_civil_hours.py)
        "  spacing: null\n" + people_yaml + pairs_yaml + "mail: {type: maildir, path: mail}\n"
        "calendar: {type: ics, path: calendar}\n"
        + SECURITY_YAML
        + (
            f"storage: {storage}\n"
            if storage.startswith("{")
            else f"storage: {{path: {storage}}}\n"
        )
    )


# --------------------------------------------------------------------------- the people


@dataclass(frozen=True)
class Scripted:
    text: str
    hours: float
    auto: bool = False
    logged: bool = True  # the agent should write at least one progress-log entry for it


def answer(kind: str, role: str, pair: int, n: int) -> Scripted | None:
    """What pair `pair`'s `role` answers to the `n`-th email of `kind` they receive."""
    if kind == "welcome" and role == "mentee" and pair % 6 == 2:
        return Scripted("I am out of the office until Friday.", 0.1, auto=True, logged=False)
    if kind == "agreement":
        if role == "mentor" and pair % 6 == 4:
            return None  # answers the reminder instead
        if role == "mentee" and pair % 6 == 5:
            return Scripted("Sorry, I cannot commit to weekly meetings.", 5, logged=False)
        if role == "mentee":
            return Scripted(
                "I agree.\n\nMy goals:\n1. Lead a small project\n2. Give better feedback", 20
            )
        return Scripted("I agree! Looking forward to it.", 3)
    if kind == "agreement_reminder":
        return Scripted("Sorry for the delay. I agree.", 9)
    if kind == "follow_up" and (pair + n + (role == "mentee")) % 2 == 0:
        return Scripted(f"Goal {n}: about half way.\nI'd rate it {3 + n % 3} out of 5.", 6)
    if kind == "check_in" and role == "mentee" and pair % 3 == 1:  # for the coordinator
        return Scripted("Quick question: could someone send me the slides from the kickoff?", 8)
    if kind == "check_in":
        return Scripted("It's going well, 4/5. The weekly rhythm works.", 24)
    if kind == "nudge":
        return Scripted("Sorry, busy weeks. We will meet again next week.", 12, logged=False)
    return None


@dataclass
class Reply:
    when: datetime
    data: bytes
    message_id: str
    logged: bool


class People:
    """Reads what the agent sent and queues the scripted answers."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.seen: set[str] = set()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.queue: list[Reply] = []
        self.numbered = 0

    def read(
        self, sent: Iterable[bytes], actions: Mapping[str, Mapping[str, Any]], now: datetime
    ) -> None:
        for data in sent:
            mid = message_id_of(data)
            record = actions.get(mid)
            if mid in self.seen or record is None or not record.get("role"):
                continue
            self.seen.add(mid)
            original = PARSER.parsebytes(data)
            pair, role = str(record["pair"]), str(record["role"])
            kind = str(record["kind"])
            n = self.counts[(pair + role, kind)] = self.counts[(pair + role, kind)] + 1
            scripted = answer(kind, role, int(pair.removeprefix("pair")), n)
            if scripted is None:
                continue
            jitter = random.Random(f"{self.seed}/{mid}").uniform(0.5, 1.5)
            when = now + timedelta(hours=scripted.hours * jitter)
            self.queue.append(self._reply(original, scripted, when))

    def stranger(self, when: datetime) -> None:
        message = EmailMessage()
        message["From"] = "Sam Seller <offers@example.biz>"
        message["To"] = "mentoring@example.org"
        message["Subject"] = "Boost your productivity"
        self.queue.append(self._finish(message, "Hi! Great offer inside.", when, False))

    def _reply(self, original: EmailMessage, scripted: Scripted, when: datetime) -> Reply:
        message = EmailMessage()
        message["From"] = str(original["To"])
        message["To"] = str(original["Reply-To"] or original["From"])
        if scripted.auto:
            message["Subject"] = "Automatic reply: " + str(original["Subject"])
            message["Auto-Submitted"] = "auto-replied"
            return self._finish(message, scripted.text, when, scripted.logged)
        message["Subject"] = "Re: " + str(original["Subject"])
        message["In-Reply-To"] = original["Message-ID"]
        message["References"] = original["Message-ID"]
        body = original.get_body(preferencelist=("plain",))
        old = body.get_content() if body else ""
        quoted = "\n".join("> " + line if line else ">" for line in old.splitlines())
        text = f"{scripted.text}\n\nOn {format_datetime(when)}, {original['From']} wrote:\n{quoted}"
        return self._finish(message, text, when, scripted.logged)

    def _finish(self, message: EmailMessage, text: str, when: datetime, logged: bool) -> Reply:
        self.numbered += 1
        mid = f"reply-{self.seed}-{self.numbered}@people.example"
        message["Date"] = format_datetime(when)
        message["Message-ID"] = f"<{mid}>"
        message.set_content(text)
        data = stamp(message.as_bytes(policy=email.policy.SMTP))  # as the receiving MTA would
        return Reply(when, data, mid, logged)

    def due(self, now: datetime) -> list[Reply]:
        ready = sorted((r for r in self.queue if r.when <= now), key=lambda r: r.when)
        self.queue = [r for r in self.queue if r.when > now]
        return ready
