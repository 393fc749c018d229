"""`mentormail check` on the local Maildir and .ics folders changes nothing on disk.

Like `tick --dry-run`, it opens them without creating them: on a folder holding only
its config, it says the first tick will create the mail and calendar folders, and the
folder is exactly as it was (every entry's size, mtime and mode, as
tests/test_dry_run_disk.py compares). A folder the first tick could not create or
write in (a read-only calendar folder, a mail folder to be made inside it) is a FAIL
line and exit 1, still creating nothing. Through the CLI in its own process.
"""

from __future__ import annotations

from pathlib import Path

from tests import test_dry_run_disk
from tests.test_dry_run_disk import FIRST, cli, listing

# the program folder holding only its config, and its calendar folder made read-only
folders = test_dry_run_disk.folders
read_only_calendar = test_dry_run_disk.read_only_calendar


def test_check_on_a_fresh_folder_says_what_the_first_tick_creates(
    folders: tuple[Path, Path],
) -> None:
    program, _ = folders
    config = program / "program.yaml"
    before = listing(program)
    code, out, err = cli("check", "--config", config)
    assert (code, err) == (0, ""), err
    assert out.splitlines() == [
        f"ok   mail (maildir): folders  Maildir {program / 'mail'} does not exist yet: "
        "the first tick creates it",
        f"ok   calendar (ics): folders  calendar {program / 'calendar'} does not exist yet: "
        "the first tick creates it",
    ]
    assert listing(program) == before
    assert sorted(p.name for p in program.iterdir()) == ["program.yaml"]


def test_check_after_a_tick_reports_the_folders_and_touches_nothing(
    folders: tuple[Path, Path],
) -> None:
    program, _ = folders
    config = program / "program.yaml"
    assert cli("tick", "--config", config, "--now", FIRST)[0] == 0
    before = listing(program)
    code, out, err = cli("check", "--config", config)
    assert (code, err) == (0, ""), err
    assert out.splitlines() == [
        f"ok   mail (maildir): folders  Maildir {program / 'mail'}",
        f"ok   calendar (ics): folders  calendar {program / 'calendar'}",
    ]
    assert listing(program) == before


def test_check_fails_a_read_only_folder_and_creates_nothing(
    folders: tuple[Path, Path], read_only_calendar: Path
) -> None:
    program, _ = folders
    config = program / "program.yaml"
    # the Maildir is to be made inside the read-only calendar folder: it cannot be
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "mail: {type: maildir, path: mail}", "mail: {type: maildir, path: calendar/mail}"
        ),
        encoding="utf-8",
    )
    before = listing(program)
    code, out, err = cli("check", "--config", config)
    assert code == 1 and "Traceback" not in err, err
    assert out.splitlines() == [
        f"FAIL mail (maildir): folders  Maildir {read_only_calendar / 'mail'} does not exist "
        f"and cannot be created in {read_only_calendar}",
        f"FAIL calendar (ics): folders  {read_only_calendar} is read-only; make it writable "
        "for the agent's user",
    ]
    assert listing(program) == before
