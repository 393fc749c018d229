"""Shared fixtures: a program config written to a temp folder, and a way to run the CLI."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.commands.cli import main

# Servers on 127.0.0.1 (mail, CalDAV) and provider APIs emulated at the HTTP layer, with
# the connector contract's harnesses (tests/contract.py).
pytest_plugins = [
    "tests.mailservers",
    "tests.davserver",
    "tests.local_harness",
    "tests.google_api",
    "tests.graph_api",
    "tests.exchange_api",
]

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "config" / "minimal.yaml"

# Three pairs across time zones. ana-ben's common window moves across the 2027 US
# (14 March) and EU (28 March) DST changes: Ana 08:00-11:00 New York, Ben 13:00-16:00 Berlin.
THREE_PAIRS = """\
program:
  name: Spring 2027 Mentoring
  timezone: Europe/Berlin
  start: 2027-03-01
  end: 2027-05-31
  sender: {name: Mentoring Program, email: mentoring@example.org}
  coordinator: {name: Chris Coordinator, email: coordinator@example.org}
cadence:
  agreement: {reminder_after: 3d, escalate_after: 7d}
  meetings: {every: 1w, duration: 45m}
  nudge: {quiet_after: 14d}
  send_window: null  # these tests are about other things: any hour (tests/test_civil_hours.py)
  spacing: null
participants:
  - {id: ana, name: Ana Alvarez, email: ana@example.org, role: mentor, timezone: America/New_York, hours: "08:00-11:00"}
  - {id: ben, name: Ben Becker, email: Ben.Becker@example.net, role: mentee, timezone: Europe/Berlin, hours: "13:00-16:00", aliases: [ben@phone.example.net]}
  - {id: chen, name: Chen Wei, email: chen@example.com, role: mentor, timezone: Asia/Tokyo, hours: "09:00-19:00"}
  - {id: dina, name: Dina Doyle, email: dina@example.co.uk, role: mentee, timezone: Europe/London, hours: "08:00-17:30"}
  - {id: eli, name: Eli Ortega, email: eli@example.es, role: mentor, timezone: Europe/Madrid, hours: "09:00-18:00"}
  - {id: fay, name: Fay Njeri, email: fay@example.ke, role: mentee, timezone: Africa/Nairobi, hours: "08:00-17:00"}
pairs:
  - {id: ana-ben, mentor: ana, mentee: ben}
  - {id: chen-dina, mentor: chen, mentee: dina}
  - {id: eli-fay, mentor: eli, mentee: fay}
mail: {type: maildir, path: mail}
calendar: {type: ics, path: calendar}
storage: {path: state.json}
security: {authserv_id: mx.example.org}
"""


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """THREE_PAIRS after its first tick (welcomes and agreements sent), once per module:
    copy it before changing it."""
    root = tmp_path_factory.mktemp("onboarded")
    (root / "program.yaml").write_text(THREE_PAIRS, encoding="utf-8")
    assert main(["tick", "--config", str(root / "program.yaml"), "--now", "2027-02-15T09:00"]) == 0
    return root


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "program.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `mentormail ARGS...` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
