"""A dry run and the read-only commands leave the program's folder exactly as it was.

`tick --dry-run`, `status`, `plan`, `preview`, `report`, `inspect` and `validate` run
through the real CLI on a folder holding only its config, then on one a real tick
has filled (with a reply waiting in the inbox): every file and folder below it,
with its size and modification time, is the same afterwards. No token key, no lock
file, no Maildir or calendar folders appear, and a real tick afterwards still creates
them all. Paths the agent cannot use (the state path a folder, a file where the mail
folder should be, a read-only calendar folder when a tick must write) are one line on
stderr and exit 2.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.commands.cli import main
from tests.conftest import ROOT, THREE_PAIRS

FIRST, SECOND = "2027-02-15T09:00", "2027-02-19T09:00"

# Ben answers the welcome from Gmail's web client.
BEN_REPLY = b"""\
Return-Path: <Ben.Becker@example.net>
Received: from mail-wr1-f41.google.com (mail-wr1-f41.google.com [209.85.221.41])
\tby mx.example.org with ESMTPS id 4Zx9Lq2mKpz1;
\tFri, 19 Feb 2027 08:41:12 +0000
Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.net;
 dkim=pass header.d=example.net; dmarc=pass header.from=example.net
MIME-Version: 1.0
Date: Fri, 19 Feb 2027 09:41:03 +0100
Message-ID: <CAH7xK2u9Qf3pZ0v1mRt5s8yW4bE6nL@mail.gmail.com>
Subject: Re: Welcome to Spring 2027 Mentoring
From: Ben Becker <Ben.Becker@example.net>
To: Mentoring Program <mentoring@example.org>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: text/plain; charset="UTF-8"

Hi, Tuesdays at 14:00 work for me.

Ben

--000000000000a1b2c3d4e5f60718
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Hi, Tuesdays at 14:00 work for me.<div><br></div><div>Ben</div></div>

--000000000000a1b2c3d4e5f60718--
"""

Listing = dict[str, tuple[str, int, int, int]]


def listing(root: Path) -> Listing:
    """Every entry below `root` (and `root` itself): kind, size, mtime (ns) and mode."""
    entries: Listing = {}
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        kind = "dir" if path.is_dir() else "file"
        entries[str(path.relative_to(root))] = (kind, info.st_size, info.st_mtime_ns, info.st_mode)
    return entries


def cli(*args: str | Path) -> tuple[int, str, str]:
    """`python -m agent.commands.cli ...` in its own process, as a coordinator types it."""
    done = subprocess.run(
        [sys.executable, "-m", "agent.commands.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def read_only_commands(config: Path, outside: Path) -> list[list[str | Path]]:
    saved = outside / "gmail-reply.eml"
    saved.write_bytes(BEN_REPLY)
    at = ["--config", config, "--now", SECOND]
    return [
        ["tick", "--dry-run", *at],
        ["status", *at],
        ["status", "--json", *at],
        ["plan", *at],
        ["plan", "--json", "--days", "60", *at],
        ["preview", "welcome", *at],
        ["preview", "agreement", "--html", "--role", "mentor", *at],
        ["report", "--format", "csv", *at],
        ["report", "-o", outside / "report.html", *at],
        ["inspect", "--config", config, saved],
        ["validate", config],
    ]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """A program folder holding only its config, and a folder outside it for outputs."""
    program, outside = tmp_path / "program", tmp_path / "outside"
    program.mkdir()
    outside.mkdir()
    (program / "program.yaml").write_text(THREE_PAIRS, encoding="utf-8")
    return program, outside


def _assert_unchanged_by_read_only_commands(program: Path, outside: Path) -> None:
    config = program / "program.yaml"
    before = listing(program)
    for command in read_only_commands(config, outside):
        code, _, err = cli(*command)
        assert code == 0, (command, err)
        assert "Traceback" not in err
        assert listing(program) == before, command


@pytest.mark.parametrize("state", ["state.json", "state.db"])
def test_read_only_commands_on_a_fresh_folder_create_nothing(
    folders: tuple[Path, Path], state: str
) -> None:
    program, outside = folders
    config = program / "program.yaml"
    config.write_text(THREE_PAIRS.replace("state.json", state), encoding="utf-8")
    code, out, err = cli("tick", "--dry-run", "--config", config, "--now", FIRST)
    assert code == 0, err
    assert "dry run: nothing is changed" in out and out.count("welcome ->") == 6
    _assert_unchanged_by_read_only_commands(program, outside)
    assert sorted(p.name for p in program.iterdir()) == ["program.yaml"]

    code, out, err = cli("tick", "--config", config, "--now", FIRST)
    assert code == 0, err
    assert out.count("did:") and "dry run" not in out
    made = {p.name for p in program.iterdir()}
    assert {state, f"{state}.lock", "state.key", "mail", "calendar"} <= made
    assert (program / "state.key").stat().st_mode & 0o777 == 0o600
    for folder in ("inbox", "processed", "quarantine", "sent"):
        assert all((program / "mail" / folder / sub).is_dir() for sub in ("new", "cur", "tmp"))
    assert (program / "calendar" / "events").is_dir()
    assert len(list((program / "mail" / "sent" / "new").iterdir())) == 13


def test_a_dry_run_with_a_reply_waiting_changes_nothing(folders: tuple[Path, Path]) -> None:
    program, outside = folders
    config = program / "program.yaml"
    assert cli("tick", "--config", config, "--now", FIRST)[0] == 0
    (program / "mail" / "inbox" / "new" / "1771490472.M1P2.mx").write_bytes(BEN_REPLY)
    code, out, err = cli("tick", "--dry-run", "--config", config, "--now", SECOND)
    assert code == 0, err
    assert "would" in out
    _assert_unchanged_by_read_only_commands(program, outside)
    code, out, err = cli("tick", "--config", config, "--now", SECOND)
    assert code == 0, err
    assert not list((program / "mail" / "inbox" / "new").iterdir())  # handled for real


def test_a_dry_run_is_refused_while_an_agent_holds_the_lock(folders: tuple[Path, Path]) -> None:
    program, _ = folders
    config = program / "program.yaml"
    assert cli("tick", "--config", config, "--now", FIRST)[0] == 0
    before = listing(program)
    with open(program / "state.json.lock") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _, err = cli("tick", "--dry-run", "--config", config, "--now", SECOND)
    assert code == 1 and "another mentormail" in err and "Traceback" not in err
    assert listing(program) == before


# -- paths the agent cannot use -------------------------------------------------------------


def _one_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mentormail: "), err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    "command", [["tick"], ["tick", "--dry-run"], ["status"], ["report", "--format", "json"]]
)
def test_a_folder_where_the_state_file_should_be(
    folders: tuple[Path, Path], command: list[str]
) -> None:
    program, _ = folders
    (program / "state.json").mkdir()
    config = program / "program.yaml"
    code, _, err = cli(*command, "--config", config, "--now", FIRST)
    _one_line(code, err, str(program / "state.json"), "is a folder")


@pytest.mark.parametrize("where", ["mail", "mail/inbox", "calendar", "calendar/events"])
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_file_where_a_mail_or_calendar_folder_should_be(
    folders: tuple[Path, Path], where: str, dry_run: bool
) -> None:
    program, _ = folders
    config = program / "program.yaml"
    (program / where).parent.mkdir(parents=True, exist_ok=True)
    (program / where).write_text("not a folder\n", encoding="utf-8")
    flags = ["--dry-run"] if dry_run else []
    code, _, err = cli("tick", *flags, "--config", config, "--now", FIRST)
    _one_line(code, err, str(program / where), "is a file, not a folder")
    sent = program / "mail" / "sent"
    assert not any(p.is_file() for p in sent.rglob("*"))  # nothing was sent


@pytest.fixture
def read_only_calendar(folders: tuple[Path, Path]) -> Iterator[Path]:
    """The program's calendar folder, made read-only for real: a tmpfs remounted
    read-only when root (whom modes do not stop), else mode 0555."""
    program, _ = folders
    calendar = program / "calendar"
    (calendar / "events").mkdir(parents=True)
    if os.geteuid() != 0:
        for folder in (calendar / "events", calendar):
            folder.chmod(0o555)
        try:
            yield calendar
        finally:
            for folder in (calendar, calendar / "events"):
                folder.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(calendar)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        (calendar / "events").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(calendar)], check=True)
        yield calendar
    finally:
        subprocess.run(["umount", "-l", str(calendar)], check=True)


def test_a_read_only_calendar_folder_stops_a_tick_before_anything_is_sent(
    folders: tuple[Path, Path], read_only_calendar: Path
) -> None:
    program, _ = folders
    config = program / "program.yaml"
    code, _, err = cli("tick", "--config", config, "--now", FIRST)
    _one_line(code, err, str(read_only_calendar), "read-only")
    sent = program / "mail" / "sent"
    assert not any(p.is_file() for p in sent.rglob("*")) and not (program / "state.json").exists()
    code, out, err = cli("tick", "--dry-run", "--config", config, "--now", FIRST)
    assert code == 0 and "welcome ->" in out, err  # a dry run writes nothing: it can run


def test_the_in_process_cli_agrees(
    folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """agent.commands.cli.main, as the service and tests call it, creates nothing either."""
    program, _ = folders
    config = program / "program.yaml"
    before = listing(program)
    assert main(["tick", "--dry-run", "--config", str(config), "--now", FIRST]) == 0
    assert "dry run" in capsys.readouterr().out
    assert listing(program) == before
