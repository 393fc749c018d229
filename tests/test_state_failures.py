"""A state file that cannot be used stops the agent with one line, exit 2, and nothing lost.

Every case runs the real CLI on a program whose first tick already welcomed the three
pairs (so a backup exists and mail went out), then damages the state or the disk it is
on, and checks: exit code 2, one line on stderr naming the file (no traceback), the
state byte for byte as it was, and no email sent twice once the disk is fine again.

A silent fresh start on an emptied file would welcome every pair again, so an existing
file that holds no state (0 bytes, blanks, `null`, `{}`, `[]`, the wrong shape, random
bytes, another program's SQLite file) is refused like a corrupt one; only a missing
file is a new program. Disk full and read-only folders are real: a small tmpfs mounted
for the test (root only; skipped otherwise, with the reason), remounted read-only.
"""

from __future__ import annotations

import errno
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.commands.cli import main
from agent.commands.runtime import Runtime
from agent.commands.tick import run_tick
from agent.config.loading import load_config
from agent.state.store import StoreError
from agent.state.store_json import AtomicJSONStorage
from agent.state.store_sqlite import SqliteStore
from connectors.maildir import message_id_of
from tests.conftest import ROOT, THREE_PAIRS

FIRST, SECOND = "2027-02-15T09:00", "2027-02-19T09:00"  # welcomes; agreement reminders
WELCOMES = 13  # six welcomes, six agreements and the coordinator's digest
REMINDERS = 6

HOSTILE_JSON = {
    "empty": b"",
    "blanks": b"  \n\n",
    "null": b"null",
    "an empty object": b"{}",
    "a list": b"[]",
    "the wrong shape": b'{"pairs": 3}',
    "a pair that is not a state": b'{"meta": {"1": {"schema": 1}}, "pairs": {"1": '
    b'{"pair_id": "ana-ben", "state": "welcomed"}}}',
    "random bytes": random.Random(15).randbytes(4096),
}


def _foreign_sqlite(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT, email TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Ana Alvarez', 'ana@example.org')")
    conn.commit()
    conn.close()
    return path.read_bytes()


HOSTILE_SQLITE: dict[str, bytes | Callable[[Path], bytes]] = {
    "empty": b"",
    "null": b"null",
    "random bytes": random.Random(15).randbytes(8192),
    "another program's database": _foreign_sqlite,
}


class Program:
    """A three-pair program in a folder, its state at `state` (maybe on another disk)."""

    def __init__(self, root: Path, state: Path) -> None:
        self.root, self.state = root, state
        self.config = root / "program.yaml"
        text = THREE_PAIRS.replace("storage: {path: state.json}", f"storage: {{path: {state}}}")
        self.config.write_text(text, encoding="utf-8")

    def cli(self, *args: str) -> tuple[int, str, str]:
        """`python -m agent.commands.cli ...` in its own process, as a coordinator or cron runs it."""
        done = subprocess.run(
            [sys.executable, "-m", "agent.commands.cli", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout, done.stderr

    def tick(self, now: str) -> tuple[int, str, str]:
        return self.cli("tick", "--config", str(self.config), "--now", now)

    def main(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        """The same in this process (quicker, for the many cases)."""
        code = main([args[0], "--config", str(self.config), *args[1:]])
        out, err = capsys.readouterr()
        return code, out, err

    def sent(self) -> list[str]:
        folder = self.root / "mail" / "sent"
        return sorted(
            message_id_of(p.read_bytes())
            for sub in ("new", "cur")
            for p in (folder / sub).iterdir()
        )


def _one_line_refusal(code: int, err: str, path: Path, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mentormail: ") and str(path) in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(params=["state.json", "state.db"])
def program(request: pytest.FixtureRequest, tmp_path: Path) -> Program:
    return Program(tmp_path, tmp_path / request.param)


def _hostile(program: Program) -> Iterator[tuple[str, bytes | Callable[[Path], bytes]]]:
    table = HOSTILE_JSON if program.state.suffix == ".json" else HOSTILE_SQLITE
    yield from table.items()


def test_a_state_that_holds_nothing_is_refused_untouched_and_sends_nothing(
    program: Program, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = program.tick(FIRST)
    assert code == 0, err
    before_sent = program.sent()
    assert len(before_sent) == WELCOMES
    backup = f"{program.state.name}.backup-"
    for name, content in _hostile(program):
        program.state.unlink()
        data = content(program.state) if callable(content) else content
        program.state.write_bytes(data)
        commands = ["tick", "status", "report", "plan", "health"]
        if name == "a pair that is not a state":
            commands.remove("health")  # it reads no pair record: "unhealthy", exit 1
        for command in commands:
            code, _, err = program.main(capsys, command, "--now", SECOND)
            _one_line_refusal(code, err, program.state, "untouched", backup)
            assert program.state.read_bytes() == data, (name, command)
        assert program.sent() == before_sent, name  # nobody was welcomed again
    code, _, err = program.tick(SECOND)  # the last one again, from a shell
    _one_line_refusal(code, err, program.state, "untouched", backup)


def test_a_missing_state_file_is_a_new_program(program: Program) -> None:
    code, out, err = program.tick(FIRST)
    assert (code, err) == (0, "")
    assert "welcome -> mentor" in out and len(program.sent()) == WELCOMES


def test_an_unreadable_state_file_is_explained(program: Program) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    assert program.tick(FIRST)[0] == 0
    program.state.chmod(0)
    try:
        code, _, err = program.tick(SECOND)
    finally:
        program.state.chmod(0o600)
    _one_line_refusal(code, err, program.state, "Permission denied")


# -- a full disk and a read-only folder, for real -------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs for the state (the mail folders stay on the ordinary disk)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("name", ["state.json", "state.db"])
def test_a_full_disk_stops_the_tick_and_the_next_one_sends_each_email_once(
    small_disk: Path, tmp_path: Path, name: str
) -> None:
    program = Program(tmp_path, small_disk / name)
    assert program.tick(FIRST)[0] == 0
    before = program.state.read_bytes()
    filler = _fill(small_disk)
    code, _, err = program.tick(SECOND)
    reason = "No space left on device" if name.endswith(".json") else "disk I/O error"
    _one_line_refusal(code, err, program.state, reason)
    assert program.state.read_bytes() == before
    assert len(program.sent()) == WELCOMES  # the reminders' intents were not written: none left
    filler.unlink()
    code, out, err = program.tick(SECOND)
    assert code == 0, err
    assert out.count("agreement_reminder") == REMINDERS
    sent = program.sent()
    assert len(sent) == len(set(sent)) == WELCOMES + REMINDERS


@pytest.mark.parametrize("name", ["state.json", "state.db"])
def test_a_read_only_folder_stops_the_tick_and_still_shows_the_status(
    small_disk: Path, tmp_path: Path, name: str
) -> None:
    program = Program(tmp_path, small_disk / name)
    assert program.tick(FIRST)[0] == 0
    before = program.state.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code, _, err = program.tick(SECOND)
    _one_line_refusal(code, err, program.state.with_name(f"{name}.lock"), "Read-only file system")
    assert program.state.read_bytes() == before and len(program.sent()) == WELCOMES
    code, out, err = program.cli("status", "--config", str(program.config), "--now", SECOND)
    assert (code, err) == (0, "") and "ana-ben" in out


# -- a write that fails after the emails left ------------------------------------------------


def _fail_second_flush(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """The tick's first flush (the intents) works, the one after the sends does not, as
    when the disk fills up meanwhile: at the store's boundary with the disk."""
    calls = 0
    if kind == "tinydb":
        real = AtomicJSONStorage.write

        def write(self: AtomicJSONStorage, data: dict) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(self, data)

        monkeypatch.setattr(AtomicJSONStorage, "write", write)
        return
    real_commit = SqliteStore._commit

    def commit(self: SqliteStore) -> None:
        nonlocal calls
        if self._writing:
            calls += 1
            if calls == 2:
                raise sqlite3.OperationalError("database or disk is full")
        real_commit(self)

    monkeypatch.setattr(SqliteStore, "_commit", commit)


def test_a_write_lost_after_sending_is_redone_without_sending_twice(
    program: Program, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tick", "--config", str(program.config), "--now", FIRST]) == 0
    capsys.readouterr()
    kind = "tinydb" if program.state.suffix == ".json" else "sqlite"
    _fail_second_flush(monkeypatch, kind)
    code = main(["tick", "--config", str(program.config), "--now", SECOND])
    err = capsys.readouterr().err
    reason = "No space left on device" if kind == "tinydb" else "database or disk is full"
    _one_line_refusal(code, err, program.state, reason, "without sending anything twice")
    assert len(program.sent()) == WELCOMES + REMINDERS  # they left before the failed write
    monkeypatch.undo()
    code = main(["tick", "--config", str(program.config), "--now", SECOND])
    assert code == 0, capsys.readouterr().err
    sent = program.sent()
    assert len(sent) == len(set(sent)) == WELCOMES + REMINDERS
    code = main(["status", "--config", str(program.config), "--json", "--now", SECOND])
    assert code == 0 and '"errors": []' in capsys.readouterr().out


def test_a_service_goes_on_after_a_failed_write_with_the_state_as_on_disk(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same store object lives on in `mentormail run`: after the failure it must read
    as the file does, not as the lost tick left it in memory."""
    from datetime import datetime

    cfg = load_config(program.config)
    zone = cfg.program.timezone
    rt = Runtime.open(cfg)
    try:
        run_tick(rt, datetime.fromisoformat(FIRST).replace(tzinfo=zone))
        _fail_second_flush(monkeypatch, rt.store.kind)
        with pytest.raises(StoreError, match="cannot write state file"):
            run_tick(rt, datetime.fromisoformat(SECOND).replace(tzinfo=zone))
        reminders = [a for a in rt.store.actions() if "agreement_reminder" in a["key"]]
        assert {a["status"] for a in reminders} == {"pending"}  # as the intents flush left them
        monkeypatch.undo()
        report = run_tick(rt, datetime.fromisoformat(SECOND).replace(tzinfo=zone))
        assert not report.errors
        reminders = [a for a in rt.store.actions() if "agreement_reminder" in a["key"]]
        assert len(reminders) == REMINDERS and {a["status"] for a in reminders} == {"done"}
    finally:
        rt.close()
    sent = program.sent()
    assert len(sent) == len(set(sent)) == WELCOMES + REMINDERS
