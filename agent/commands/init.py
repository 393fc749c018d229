"""`mentormail init DIR`: a starter program a coordinator edits into theirs.

Writes DIR/program.yaml (every section, each key commented with what it does and its
default, on the embedded default back ends: a Maildir in DIR/mail, .ics files in
DIR/calendar, the state in DIR/state.json, all relative to the config file),
DIR/participants.csv (four sample people in four zones whose hours overlap) and
DIR/pairs.csv (two pairs), then prints the commands to run next and the paths the
systemd units in config/ expect.

The files are package data (agent/commands/starter/), so an installed wheel has them.
The program's dates are filled in from `today`: it starts on the Monday at least a week
away, so onboarding (two weeks before the start) is already open and the first dry run
shows the welcomes it would send. An existing file is never overwritten without
`--force`: the three are checked before any is written.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from string import Template

FILES = ("program.yaml", "participants.csv", "pairs.csv")
WEEKS = 12  # the sample program's length


class Refused(Exception):
    """A file init would overwrite, or a DIR it cannot write in; one line."""


@dataclass(frozen=True)
class Written:
    directory: Path
    paths: list[Path]
    start: date
    end: date


def program_dates(today: date) -> tuple[date, date]:
    """The Monday at least a week after `today`, and the Friday `WEEKS` weeks later."""
    start = today + timedelta(days=7 + (7 - today.weekday()) % 7)
    return start, start + timedelta(weeks=WEEKS, days=-3)


def starter_text(name: str, today: date) -> str:
    text = (files("agent.commands") / "starter" / name).read_text(encoding="utf-8")
    if name != "program.yaml":
        return text
    start, end = program_dates(today)
    return Template(text).substitute(start=start.isoformat(), end=end.isoformat())


def write_starter(directory: Path, today: date, *, force: bool = False) -> Written:
    """Write the three files into `directory` (created if missing), or raise Refused
    before writing any of them."""
    if directory.exists() and not directory.is_dir():
        raise Refused(f"{directory} is a file, not a folder; give a folder for the program")
    targets = [directory / name for name in FILES]
    for target in targets:
        if target.is_dir():
            raise Refused(f"{target} is a folder; move it away or pick another DIR")
        if target.exists() and not force:
            raise Refused(f"{target} exists; not overwritten (use --force to replace it)")
    texts = [starter_text(name, today) for name in FILES]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for target, text in zip(targets, texts, strict=True):
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Refused(f"cannot write in {directory}: {exc.strerror}") from None
    start, end = program_dates(today)
    return Written(directory, targets, start, end)


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def next_steps(written: Written, command: str) -> list[str]:
    """What to run next, one command a line (to copy), with the service's layout."""
    directory = written.directory
    config = shlex.quote(str(directory / "program.yaml"))
    inbox = directory / "mail" / "inbox"
    copied = " ".join(shlex.quote(str(p)) for p in written.paths)
    return [
        f"wrote {', '.join(str(p) for p in written.paths)}",
        f"a sample program: 4 people in 2 pairs, {_day(written.start)} to "
        f"{_day(written.end)}; edit the three files for yours.",
        "",
        "Next:",
        "  # check the config, and that every pair has a weekly time both can meet",
        f"  {command} validate {config}",
        "  # what the first tick would send and book; changes nothing",
        f"  {command} tick --config {config} --dry-run",
        f"  # replies are read from the inbox, {inbox}/new/ (a Maildir: one file a message;",
        "  # deliver there with your mail server, getmail or fetchmail, or set mail: imap)",
        f"  # one real tick: sends into {directory / 'mail' / 'sent'}, books into "
        f"{directory / 'calendar'}",
        f"  {command} tick --config {config}",
        "  # where every pair stands",
        f"  {command} status --config {config}",
        "",
        "As a service (config/mentormail.service, or config/mentormail-tick.timer):",
        "  the units read /etc/mentormail/program.yaml (read-only for the service) and",
        "  write under /var/lib/mentormail; secrets such as MENTORMAIL_TOKEN_KEY go in",
        "  /etc/mentormail/env.",
        "  sudo useradd --system --home-dir /var/lib/mentormail --shell /usr/sbin/nologin "
        "mentormail",
        "  sudo install -d -m 0750 -g mentormail /etc/mentormail",
        f"  sudo install -m 0640 -g mentormail {copied} /etc/mentormail/",
        "  # then, in /etc/mentormail/program.yaml:",
        "  #   mail: {type: maildir, path: /var/lib/mentormail/mail}",
        "  #   calendar: {type: ics, path: /var/lib/mentormail/calendar}",
        "  #   storage: {path: /var/lib/mentormail/state.json}",
        f"  sudo {command} validate /etc/mentormail/program.yaml",
        "  # the unit from config/ in the source tree (adjust its ExecStart to this install)",
        "  sudo cp config/mentormail.service /etc/systemd/system/",
        "  sudo systemctl daemon-reload",
        "  sudo systemctl enable --now mentormail",
    ]
