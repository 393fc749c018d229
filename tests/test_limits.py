"""Sending limits: the budget per minute and day, a backlog that drains oldest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config.model import Limits
from agent.pairs.limits import SendLimits, admit, budget
from agent.pairs.planner import Action
from tests.test_lifecycle_e2e import Program

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)


def email(key: str) -> Action:
    return Action(key, "welcome", "p", "mentor", "welcome")


def test_the_config_overrides_the_provider_and_the_daily_cap_applies_on_top() -> None:
    assert SendLimits.of(Limits(), (30, 10000)) == SendLimits(30, 10000)
    assert SendLimits.of(Limits(per_minute=5), (30, None)) == SendLimits(5, None)
    assert SendLimits.of(Limits(daily_cap=500), (30, 10000)) == SendLimits(30, 500)
    assert SendLimits.of(Limits(), (None, None)) == SendLimits(None, None)


def test_budget_counts_the_last_minute_and_the_last_day() -> None:
    sent = [NOW - timedelta(seconds=30)] * 2 + [NOW - timedelta(hours=5)] * 7
    assert budget(SendLimits(3, None), sent, NOW) == 1
    assert budget(SendLimits(None, 10), sent, NOW) == 1
    assert budget(SendLimits(3, 9), sent, NOW) == 0
    assert budget(SendLimits(None, None), sent, NOW) is None
    later = NOW + timedelta(days=1)
    assert budget(SendLimits(3, 9), sent, later) == 3  # yesterday's sends no longer count


def test_emails_waiting_longest_go_first_and_calendar_actions_never_wait() -> None:
    book = Action("p/book/uid/0", "book", "p")
    todo = [email("a"), book, email("b"), email("c")]
    waiting = {"c": NOW - timedelta(minutes=5), "b": NOW - timedelta(minutes=1)}
    go, held = admit(todo, 2, waiting, NOW)
    assert [a.key for a in go] == [book.key, "b", "c"]  # the planner's order is kept
    assert [a.key for a in held] == ["a"]
    go, held = admit(todo, None, {}, NOW)
    assert go == todo and held == []


def test_a_limited_program_sends_everything_once_in_order_over_ticks(tmp_path: Path, cli) -> None:
    program = Program(tmp_path, cli)
    text = program.config.read_text() + "limits: {per_minute: 4, daily_cap: 10}\n"
    program.config.write_text(text)

    def sent_to() -> list[str]:
        return [m["To"].addresses[0].addr_spec.lower() for m in program.sent()]

    out = program.tick("2027-02-15T09:00")
    assert len(sent_to()) == 4 and "held back by a sending limit" in out
    program.tick("2027-02-15T09:00:30")  # the same minute: nothing more
    assert len(sent_to()) == 4
    _, out, _ = cli("status", "--config", program.config, "--json")
    waiting = [b for b in json.loads(out)["backlog"] if b["status"] == "waiting"]
    assert len(waiting) == 7 and "sending limit" in waiting[0]["error"]
    program.tick("2027-02-15T09:01")
    assert len(sent_to()) == 8  # four a minute
    for minute in range(2, 6):
        program.tick(f"2027-02-15T09:0{minute}")
    assert len(sent_to()) == 10  # the daily cap holds for the rest of the day
    program.tick("2027-02-16T09:00")  # a day after the first sends
    program.tick("2027-02-16T09:01")
    ids = [m["Message-ID"] for m in program.sent()]
    assert len(ids) == len(set(ids)) == 13  # 6 welcomes, 6 agreements, 1 digest
    people = [a for a in sent_to() if a != "coordinator@example.org"]
    assert all(people.count(a) == 2 for a in people)
