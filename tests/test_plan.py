"""`mentormail plan`: the forecast is what the agent then really does when nobody replies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from tests.test_lifecycle_e2e import BERLIN, Program
from tests.test_reschedule_e2e import both_agree


def planned(program: Program, when: str, days: int, *extra: str) -> list[dict]:
    code, out, err = program.cli(
        "plan", "--config", program.config, "--now", when, "--days", days, "--json", *extra
    )
    assert code == 0, err
    return json.loads(out)


def done(program: Program, when: str) -> list[tuple[str, str, str]]:
    """(pair, kind, to) of every action the tick at `when` performed."""
    out = program.tick(when)
    rows = []
    for line in out.splitlines():
        if line.startswith("  did: "):
            what, _, to = line.removeprefix("  did: ").rpartition(" -> ")
            pair, _, kind = what.rpartition(": ")
            rows.append((pair or None, kind, to))
    return rows


def test_the_plan_is_what_hourly_ticks_then_do_without_replies(tmp_path: Path, cli) -> None:
    program = both_agree(Program(tmp_path, cli))  # ana-ben booked; the others wait for answers
    start = datetime(2027, 2, 16, 10, tzinfo=BERLIN)
    state = (tmp_path / "state.json").read_bytes()
    forecast = planned(program, start.isoformat(), 10)
    assert (tmp_path / "state.json").read_bytes() == state  # plan changes nothing

    expected = {
        (row["at"], row["pair"], row["kind"], row["to"])
        for row in forecast
        if row["at"] < (start + timedelta(days=10)).isoformat()
    }
    kinds = {kind for _, _, kind, _ in expected}
    # what a silent program brings in these ten days
    assert {"agreement_reminder", "escalation_agreement", "digest"} <= kinds
    actual = set()
    at = start
    while at < start + timedelta(days=10):
        actual |= {
            (at.isoformat(), pair, kind, to) for pair, kind, to in done(program, at.isoformat())
        }
        at += timedelta(hours=1)
    assert actual == expected


def test_plan_for_one_pair_in_text(tmp_path: Path, cli) -> None:
    program = both_agree(Program(tmp_path, cli))
    code, out, err = cli(
        "plan", "--config", program.config, "--now", "2027-02-28T09:00", "--pair", "ana-ben"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("plan from Sun 28 Feb 2027 09:00 to Tue 30 Mar 2027 09:00")
    assert lines[1] == "ana-ben" and "chen-dina" not in out and "program" not in lines
    assert any("follow_up -> mentee" in line for line in lines)  # after the first meeting
    assert any("check_in -> mentor" in line for line in lines)


def test_plan_rejects_an_unknown_pair_and_bad_days(tmp_path: Path, cli) -> None:
    program = Program(tmp_path, cli)
    code, _, err = cli("plan", "--config", program.config, "--pair", "nobody")
    assert code == 2 and "nobody" in err
    code, _, err = cli("plan", "--config", program.config, "--days", "0")
    assert code == 2 and "--days" in err
