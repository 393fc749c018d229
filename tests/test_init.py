"""`mentormail init DIR`: a starter program a newcomer can run at once, and edit.

Everything goes through the CLI in its own process, as a coordinator types it: init,
then the commands it printed, copied as they are (validate, the dry run, a real tick,
status), on today's clock. The starter must validate without a word of warning, its dry
run must leave the folder as it was and say which welcomes go now and which wait for
the person's daytime, and the real tick must send those into the Maildir it named. An existing file is refused in one line (exit 2) and
nothing else is written; --force replaces the three files. The service hint names the
paths the systemd units in config/ use.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from datetime import datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT
from tests.test_dry_run_disk import cli, listing

FILES = ("program.yaml", "participants.csv", "pairs.csv")
WELCOMES = (("ana-ben", "ana"), ("ana-ben", "ben"), ("chen-dina", "chen"), ("chen-dina", "dina"))
ADDRESSES = {
    "ana": "Ana Alvarez <ana@example.org>",
    "ben": "Ben Becker <ben@example.net>",
    "chen": "Chen Wei <chen@example.com>",
    "dina": "Dina Doyle <dina@example.co.uk>",
}
SECONDS_AND_ZONE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


def printed_commands(out: str) -> dict[str, list[str]]:
    """The command lines init printed, by verb (the first of each), split as a shell would."""
    commands: dict[str, list[str]] = {}
    for line in out.splitlines():
        words = shlex.split(line.strip()) if line.startswith("  ") else []
        if len(words) >= 2 and words[0].endswith("mentormail") and "sudo" not in words:
            key = " ".join(w for w in words[1:] if w.startswith("-") or w == words[1])
            commands.setdefault(key, words)
    return commands


def run(words: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def started(tmp_path: Path) -> tuple[Path, str]:
    """`mentormail init` into a folder that does not exist yet."""
    program = tmp_path / "spring-program"
    code, out, err = cli("init", program)
    assert (code, err) == (0, ""), err
    return program, out


def test_init_writes_the_three_files_and_what_to_run_next(started: tuple[Path, str]) -> None:
    program, out = started
    assert sorted(p.name for p in program.iterdir()) == sorted(FILES)
    assert out.splitlines()[0] == "wrote " + ", ".join(str(program / f) for f in FILES)
    config = (program / "program.yaml").read_text(encoding="utf-8")
    for line in (
        "participants: participants.csv",
        "pairs: pairs.csv",
        "mail: {type: maildir, path: mail}",
        "calendar: {type: ics, path: calendar}",
        "  path: state.json ",
    ):
        assert line in config, line
    for section in (
        "program",
        "cadence",
        "at_risk",
        "mail",
        "calendar",
        "limits",
        "storage",
        "security",
        "service",
        "reports",
    ):
        assert re.search(rf"^{section}:", config, flags=re.MULTILINE), section
    # every key set in the starter says what it does and its default
    keys = [line for line in config.splitlines() if re.match(r"^\s+[a-z_]+: \S", line)]
    assert len(keys) > 40
    undocumented = [k for k in keys if "#" not in k]
    assert undocumented == [], undocumented
    people = (program / "participants.csv").read_text(encoding="utf-8").splitlines()
    assert people[0] == "id,name,email,role,timezone,hours,aliases" and len(people) == 5
    zones = {row.split(",")[4] for row in people[1:]}
    assert len(zones) == 4
    pairs = (program / "pairs.csv").read_text(encoding="utf-8").splitlines()
    assert pairs[0] == "id,mentor,mentee,goals" and len(pairs) == 3

    commands = printed_commands(out)
    assert set(commands) == {
        "validate",
        "tick --config --dry-run",
        "tick --config",
        "status --config",
    }
    assert f"{program / 'mail' / 'inbox'}/new/" in out


def test_the_printed_commands_run_as_printed(started: tuple[Path, str]) -> None:
    program, out = started
    commands = printed_commands(out)

    code, said, err = run(commands["validate"])
    assert (code, err) == (0, ""), err  # not even a warning
    assert "OK - 'Mentoring Program', 4 participants, 2 pairs" in said

    before = listing(program)
    code, said, err = run(commands["tick --config --dry-run"])
    assert code == 0, err
    first = said.splitlines()[0]
    assert re.fullmatch(rf"tick at {SECONDS_AND_ZONE} \(dry run: nothing is changed\)", first)
    # onboarding is open: the dry run shows the welcomes it would send now, and those
    # waiting for a person's own daytime (on today's clock: either, depending on the hour)
    now = datetime.fromisoformat(first.split()[2])
    going: set[str] = set()
    for pair, person in WELCOMES:
        role = "mentor" if person in ("ana", "chen") else "mentee"
        action = f"{pair}: welcome -> {role}"
        waits = re.search(
            rf"waits for their hours: {action} \(until \w{{3}} (\S+ \S+) (\S+)\)", said
        )
        if waits:
            opens = datetime.fromisoformat(waits[1]).replace(tzinfo=ZoneInfo(waits[2]))
            assert now < opens <= now + timedelta(days=3), said  # the next working morning
        else:
            assert f"would do: {action}" in said, said
            going.add(person)
    assert listing(program) == before

    code, said, err = run(commands["tick --config"])
    assert code == 0, err
    assert re.fullmatch(rf"tick at {SECONDS_AND_ZONE}", said.splitlines()[0])
    sent = program / "mail" / "sent" / "new"
    received = [
        BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in sent.iterdir()
    ]
    welcomed = {str(m["To"]) for m in received if "Welcome" in str(m["Subject"])}
    assert welcomed == {ADDRESSES[p] for p in going}  # what the dry run said, no more
    assert (program / "mail" / "inbox" / "new").is_dir()

    code, said, err = run(commands["status --config"])
    assert code == 0, err
    lines = said.splitlines()
    assert re.fullmatch(r"last tick: \w{3} \d{4}-\d\d-\d\d \d\d:\d\d \w+ \(.* 0 errors\)", lines[1])
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", said)  # no microseconds anywhere
    assert [line.split()[0] for line in lines[2:4]] == ["ana-ben", "chen-dina"]


def test_an_existing_file_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    program = tmp_path / "autumn"
    program.mkdir()
    mine = "program:\n  name: Autumn Mentoring  # the coordinator's own config\n"
    (program / "program.yaml").write_text(mine, encoding="utf-8")
    code, out, err = cli("init", program)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"mentormail: {program / 'program.yaml'} exists; not overwritten "
        "(use --force to replace it)"
    ]
    assert (program / "program.yaml").read_text(encoding="utf-8") == mine
    assert sorted(p.name for p in program.iterdir()) == ["program.yaml"]

    (program / "program.yaml").unlink()
    (program / "pairs.csv").write_text("id,mentor,mentee\n", encoding="utf-8")
    code, _, err = cli("init", program)
    assert code == 2 and str(program / "pairs.csv") in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in program.iterdir()) == ["pairs.csv"]

    code, out, err = cli("init", "--force", program)
    assert (code, err) == (0, "")
    assert sorted(p.name for p in program.iterdir()) == sorted(FILES)
    assert "ana-ben" in (program / "pairs.csv").read_text(encoding="utf-8")
    assert cli("validate", program / "program.yaml")[0] == 0


def test_a_file_where_the_folder_should_be_is_one_line(tmp_path: Path) -> None:
    where = tmp_path / "program"
    where.write_text("notes\n", encoding="utf-8")
    code, out, err = cli("init", where)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.splitlines() == [
        f"mentormail: {where} is a file, not a folder; give a folder for the program"
    ]


def test_the_service_hint_matches_the_units(started: tuple[Path, str], tmp_path: Path) -> None:
    """The paths init prints for a service are the ones the units in config/ use, and the
    starter with those paths swapped in (as the hint says) still validates."""
    _, out = started
    service = out[out.index("As a service") :]
    units = [ROOT / "config" / n for n in ("mentormail.service", "mentormail-tick.service")]
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        assert "--config /etc/mentormail/program.yaml" in text
        assert "StateDirectory=mentormail" in text and "/etc/mentormail/env" in text
    assert "/etc/mentormail/program.yaml" in service and "/etc/mentormail/env" in service
    hinted = re.findall(r"^  #   ((?:mail|calendar|storage): .+)$", service, flags=re.MULTILINE)
    unit_comment = units[0].read_text(encoding="utf-8")
    assert len(hinted) == 3 and all(f"#   {line}" in unit_comment for line in hinted)

    # the copy the hint makes, in a stand-in for /etc/mentormail
    etc = tmp_path / "etc-mentormail"
    etc.mkdir()
    for step in (  # the unit's own install steps
        "useradd --system --home-dir /var/lib/mentormail --shell /usr/sbin/nologin mentormail",
        "mentormail.service /etc/systemd/system/",
        "systemctl daemon-reload",
        "systemctl enable --now mentormail",
    ):
        assert step in service and step in unit_comment, step
    (copy,) = [
        shlex.split(line.strip()) for line in service.splitlines() if "install -m 0640" in line
    ]
    for source in copy[6:-1]:
        (etc / Path(source).name).write_bytes(Path(source).read_bytes())
    config = (etc / "program.yaml").read_text(encoding="utf-8")
    for line in hinted:
        section = line.split(":")[0]
        config, n = re.subn(
            rf"^{section}: .+$|^{section}:\n(  .+\n)+", line + "\n", config, count=1, flags=re.M
        )
        assert n == 1, section
    (etc / "program.yaml").write_text(config, encoding="utf-8")
    code, _, err = cli("validate", etc / "program.yaml")
    assert (code, err) == (0, ""), err


def test_init_is_listed_in_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent.commands.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and re.search(
        r"^\s+init\s+write a starter program", done.stdout, re.M
    )
