"""Running mentormail as operators and coordinators do: the systemd layout (config in
/etc/mentormail, everything written under /var/lib/mentormail), the service's log levels
and reload, the text `status`, and the demo's hints, each through the real command."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT, THREE_PAIRS

ENTRY = Path(sys.executable).with_name("mentormail")  # what README's install puts in .venv/bin
SERVICE_PATHS = re.compile(r"^#   ((?:mail|calendar|storage): \{.*/var/lib/mentormail/.*\})$", re.M)
GINA = (
    "  - {id: gina, name: Gina Gold, email: gina@example.org, role: mentor, timezone: "
    'Europe/Berlin, hours: "09:00-17:00"}\n'
    "  - {id: hal, name: Hal Hu, email: hal@example.org, role: mentee, timezone: "
    'Europe/Berlin, hours: "09:00-17:00"}\n'
)


def without_venv_on_path() -> dict[str, str]:
    """The environment of a shell where README's install did not put mentormail on PATH."""
    bin_dir = str(ENTRY.parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != bin_dir)
    return {**os.environ, "PATH": path}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=without_venv_on_path(), capture_output=True, text=True, timeout=300
    )


# --- the systemd layout ---------------------------------------------------------------


def test_the_config_paths_the_unit_documents_keep_etc_read_only(tmp_path: Path) -> None:
    """example.yaml with the three lines mentormail.service's comment gives: every file a
    tick writes lands in the state directory, none beside the config in /etc."""
    documented = SERVICE_PATHS.findall((ROOT / "config" / "mentormail.service").read_text())
    assert [line.partition(":")[0] for line in documented] == ["mail", "calendar", "storage"]
    example = (ROOT / "config" / "example.yaml").read_text(encoding="utf-8")
    assert all(f"#   {line}\n" in example for line in documented)  # the two docs agree
    etc, var = tmp_path / "etc" / "mentormail", tmp_path / "var" / "lib" / "mentormail"
    etc.mkdir(parents=True)
    var.mkdir(parents=True)
    for line in documented:
        key = line.partition(":")[0]
        example, count = re.subn(
            rf"^{key}: .*$",
            line.replace("/var/lib/mentormail", str(var)),
            example,
            count=1,
            flags=re.M,
        )
        assert count == 1
    (etc / "program.yaml").write_text(example, encoding="utf-8")
    done = run(
        [str(ENTRY), "tick", "--config", str(etc / "program.yaml"), "--now", "2027-02-15T09:00"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert [p.name for p in etc.iterdir()] == ["program.yaml"]
    assert {"state.json", "state.key", "mail", "calendar"} <= {p.name for p in var.iterdir()}
    assert any((var / "mail" / "sent" / "new").iterdir())  # the welcomes went out


def test_the_service_unit_reloads_with_sighup_and_keeps_its_state_in_statedirectory() -> None:
    unit = (ROOT / "config" / "mentormail.service").read_text(encoding="utf-8")
    assert "\nExecReload=/bin/kill -HUP $MAINPID\n" in unit
    for name in ("mentormail.service", "mentormail-tick.service"):
        text = (ROOT / "config" / name).read_text(encoding="utf-8")
        assert "\nStateDirectory=mentormail\n" in text and "\nProtectSystem=strict\n" in text


# --- the service's log ----------------------------------------------------------------


def wait_for(log: Path, text: str, after: int = 0) -> str:
    """The log's contents from `after` once `text` is in them (generous: a loaded machine)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = log.read_text(encoding="utf-8")[after:]
        if text in found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never logged; the log: {log.read_text(encoding='utf-8')}")


def levels(log_text: str, message: str) -> set[str]:
    """The levels of the text-format lines (`<date> <time> LEVEL logger: message`)."""
    return {line.split()[2] for line in log_text.splitlines() if message in line}


def test_normal_service_events_are_info_and_problems_warnings(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """Start, reload (SIGHUP, as `systemctl reload` sends), a tick and the stop are INFO; a
    broken edit is a WARNING. The poll interval is an hour: the ticks after each SIGHUP
    show that a reload does not wait for the next poll."""
    config = write_config(THREE_PAIRS + "service: {poll_interval: 1h}\n")
    log = tmp_path / "service.log"
    with log.open("w", encoding="utf-8") as err:
        service = subprocess.Popen(
            [str(ENTRY), "run", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=err
        )
    try:
        wait_for(log, "nothing due")  # the first tick
        config.write_text(THREE_PAIRS.replace("mentee: fay", "mentee: nobody"), encoding="utf-8")
        service.send_signal(signal.SIGHUP)
        mark = len(wait_for(log, "has errors"))
        last = "  - {id: eli-fay, mentor: eli, mentee: fay}\n"
        added = THREE_PAIRS.replace("pairs:\n", GINA + "pairs:\n").replace(
            last, last + "  - {id: gina-hal, mentor: gina, mentee: hal}\n"
        )
        config.write_text(added + "service: {poll_interval: 1h}\n", encoding="utf-8")
        service.send_signal(signal.SIGHUP)
        after_reload = wait_for(log, "config reloaded", mark)
        wait_for(log, "tick at", mark + after_reload.index("config reloaded"))
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=60) == 0
    text = log.read_text(encoding="utf-8")
    assert levels(text, "mentormail serving Spring 2027 Mentoring") == {"INFO"}
    assert levels(text, "config reloaded") == {"INFO"}
    assert levels(text, "nothing due") == {"INFO"}
    assert levels(text, "received SIGTERM") == {"INFO"}
    assert levels(text, "mentormail stopped") == {"INFO"}
    assert levels(text, "unknown participant 'nobody'") == {"WARNING"}
    assert [line for line in text.splitlines() if " WARNING " in line or " ERROR " in line] == [
        line for line in text.splitlines() if "has errors" in line
    ]


# --- the demo, its hints and the text status ------------------------------------------


@pytest.fixture(scope="module")
def full_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """README's `mentormail demo` run by the installed script, in a fresh folder; (the
    folder it ran in, its output)."""
    cwd = tmp_path_factory.mktemp("newcomer")
    done = run([str(ENTRY), "demo", "demo"], cwd)
    assert done.returncode == 0, done.stderr
    return cwd, done.stdout


def hint(output: str, label: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.strip().startswith(label))
    return shlex.split(line.partition(label)[2])


def test_the_demos_hints_run_as_printed_without_mentormail_on_path(
    full_demo: tuple[Path, str],
) -> None:
    cwd, output = full_demo
    status = hint(output, "status:")
    assert status[0] == str(ENTRY) and status[1] == "status"
    done = run(status, cwd)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Demo Mentoring Spring 2027 - status at Mon 2027-05-24 12:00")
    assert "as of the last tick" not in done.stdout  # the hint's --now is the demo's end
    config = (cwd / "demo" / "config.yaml").read_text(encoding="utf-8")
    dry_run = shlex.split(config.splitlines()[1].removeprefix("#"))
    assert dry_run[:2] == [str(ENTRY), "tick"] and dry_run[-1] == "--dry-run"
    done = run(dry_run, cwd)
    assert done.returncode == 0, done.stderr


def test_status_of_closed_pairs_shows_no_next_meeting(full_demo: tuple[Path, str]) -> None:
    """README's `status --now 2027-04-01T12:00` after the whole demo: every pair is closed
    (the state is as of the last tick), so none has a next meeting, and the text says why
    the stages are later than the time asked for."""
    cwd, _ = full_demo
    args = [str(ENTRY), "status", "--config", "demo/config.yaml", "--now", "2027-04-01T12:00"]
    text = run(args, cwd).stdout
    pairs = [line for line in text.splitlines() if line.startswith("  ") and "agreed:" in line]
    assert len(pairs) == 3
    assert all(" closed " in line and line.endswith("next meeting: -") for line in pairs)
    assert "the stages are as of the last tick" in text
    data = json.loads(run([*args, "--json"], cwd).stdout)
    assert [p["meetings"]["next"] for p in data["pairs"]] == [None, None, None]


def test_status_shows_each_next_meeting_in_both_peoples_local_time(tmp_path: Path) -> None:
    """Five weeks in, every pair meets: the text gives the meeting in the mentor's and the
    mentee's own zone, to the minute, as the JSON's instant."""
    done = run([str(ENTRY), "demo", "demo", "--weeks", "5"], tmp_path)
    assert done.returncode == 0, done.stderr
    args = [str(ENTRY), "status", "--config", "demo/config.yaml", "--now", "2027-03-15T12:00"]
    text = run(args, tmp_path).stdout
    data = json.loads(run([*args, "--json"], tmp_path).stdout)
    assert text.splitlines()[0].endswith("status at Mon 2027-03-15 12:00 CET")
    assert not re.search(r"\d:\d\d:\d\d|\.\d{6}", text)  # minutes, never seconds or micros
    zones = {p["id"]: p["timezones"] for p in data["pairs"]}
    assert zones["ana-ben"] == {"mentor": "America/New_York", "mentee": "Europe/Berlin"}
    for pair in data["pairs"]:
        start = datetime.fromisoformat(pair["meetings"]["next"])
        mentor = start.astimezone(ZoneInfo(pair["timezones"]["mentor"]))
        mentee = start.astimezone(ZoneInfo(pair["timezones"]["mentee"]))
        line = next(line for line in text.splitlines() if line.startswith(f"  {pair['id']} "))
        assert line.endswith(
            f"next meeting: {mentor:%a %Y-%m-%d %H:%M %Z} ({pair['mentor']}), "
            f"{mentee:%H:%M %Z} ({pair['mentee']})"
        ), line
    # New York is on summer time from 14 March, Berlin from 28 March: 5 hours apart, not 6
    ana_ben = next(line for line in text.splitlines() if line.startswith("  ana-ben "))
    ana, ben = re.findall(r"(\d\d):00 (\w+) \((?:ana|ben)\)", ana_ben)
    assert (ana[1], ben[1]) == ("EDT", "CET") and int(ben[0]) - int(ana[0]) == 5
