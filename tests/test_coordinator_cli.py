"""The coordinator's commands: `mentormail pair ID agree|pause|resume|close` and
`mentormail inbox list|release|discard`, each with `--dry-run` leaving the program's
folder exactly as it was (every file's size, mtime and mode; tests/test_dry_run_disk.py).

And the reading of short instructions (agent.pairs.instructions), from the words
coordinators write: "Agreed - spoke to her", "Erledigt!", "pause till March 19th".
"""

from __future__ import annotations

import email.policy
import mailbox
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.commands.coordinator import item_id
from agent.pairs.instructions import Verb, read
from tests.mta import stamp
from tests.test_dry_run_disk import cli as subprocess_cli
from tests.test_dry_run_disk import listing
from tests.test_lifecycle_e2e import Program, at, gmail_reply

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2027, 2, 15, 12, 0, tzinfo=BERLIN)
BEN_HOME = "ben.becker.home@gmail.com"


@pytest.fixture
def program(onboarded: Path, tmp_path: Path, cli) -> Program:
    root = tmp_path / "program"
    shutil.copytree(onboarded, root)
    return Program(root, cli)


def _run(program: Program, *args: str) -> tuple[int, str, str]:
    return program.cli(*args, "--config", program.config, "--now", "2027-02-15T12:00")


def _quarantined(program: Program, dmarc: str | None = "pass") -> str:
    """Ben agrees from an address the config does not know; its `inbox list` id."""
    agreement = next(
        m
        for m in program.sent("Ben.Becker@example.net")
        if m["Subject"].startswith("Your mentoring agreement")
    )
    reply = gmail_reply(
        agreement,
        f"Ben Becker <{BEN_HOME}>",
        "I agree, see you soon!\n\nBen",
        at("2027-02-15T10:00"),
    )
    raw = reply.as_bytes(policy=email.policy.SMTP)
    mailbox.Maildir(program.root / "mail" / "inbox").add(stamp(raw, dmarc=dmarc) if dmarc else raw)
    program.tick("2027-02-15T11:00")
    return item_id(str(reply["Message-ID"]).strip("<>"))


# --------------------------------------------------------------------------- pair


def test_pair_verbs_change_the_pair_and_dry_runs_change_nothing(program: Program) -> None:
    for verb, extra, stage in (
        ("pause", ["--until", "2027-03-19"], "paused"),
        ("resume", [], "agreement_pending"),
        ("agree", ["--role", "mentee"], "agreement_pending"),
        ("close", [], "closing"),
    ):
        before = listing(program.root)
        code, out, err = _run(program, "pair", "ana-ben", verb, *extra, "--dry-run")
        assert code == 0, err
        assert out.startswith("would have "), out
        assert listing(program.root) == before, verb

        code, out, err = _run(program, "pair", "ana-ben", verb, *extra)
        assert code == 0, err
        assert "(pair ana-ben)" in out and not out.startswith("would"), out
        assert program.status("2027-02-15T12:00")["ana-ben"]["stage"] == stage, verb

    status = program.status("2027-02-15T12:00")["ana-ben"]
    assert status["agreed"] == {"mentor": False, "mentee": True}
    texts = [e["text"] for e in status["progress"] if e["kind"] == "coordinator"]
    assert texts == [
        "paused the pair until Fri 19 Mar 2027 (pair ana-ben) (by command)",
        "resumed the pair (agreement_pending) (pair ana-ben) (by command)",
        "marked the mentee agreed (pair ana-ben) (by command)",
        "closed the pair: both get the closing email, the meetings are cancelled "
        "(pair ana-ben) (by command)",
    ]
    # the closing emails go out with the next tick
    out = program.tick("2027-02-15T12:30")
    assert "ana-ben: goodbye -> mentor" in out and "ana-ben: goodbye -> mentee" in out, out


def test_a_repeated_command_applies_once(program: Program) -> None:
    assert _run(program, "pair", "ana-ben", "agree")[1].strip() == (
        "marked the mentor and the mentee agreed (pair ana-ben)"
    )
    assert _run(program, "pair", "ana-ben", "agree")[1].strip() == (
        "the mentor and mentee had agreed already (pair ana-ben)"
    )
    progress = program.status("2027-02-15T12:00")["ana-ben"]["progress"]
    assert len([e for e in progress if e["kind"] == "coordinator"]) == 1
    assert program.status("2027-02-15T12:00")["ana-ben"]["stage"] == "agreed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pair", "nobody", "close"], "unknown pair 'nobody'; known: ana-ben, chen-dina, eli-fay"),
        (["pair", "ana-ben", "resume", "--until", "2027-03-19"], "--until goes with pause"),
        (["pair", "ana-ben", "pause", "--until", "someday"], "--until: 'someday' is not a day"),
        (["inbox", "release", "abc12345"], "no message 'abc12345'; `mentormail inbox list`"),
    ],
)
def test_what_cannot_be_done_is_one_line_and_exit_2(
    program: Program, args: list[str], message: str
) -> None:
    before = listing(program.root)
    code, _, err = _run(program, *args)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert listing(program.root) == before


# --------------------------------------------------------------------------- inbox


def test_inbox_release_after_the_alias_is_in_the_config(program: Program) -> None:
    item = _quarantined(program, dmarc=None)
    code, out, _ = program.cli("inbox", "list", "--config", program.config)
    assert code == 0 and out.startswith(f"{item}  2027-02-15T11:00  quarantined  ana-ben"), out
    assert f"{BEN_HOME} is not a participant of pair ana-ben" in out

    code, out, _ = _run(program, "inbox", "release", item)
    assert code == 0 and f"left to you: release: {BEN_HOME} is not an address" in out, out
    assert program.status("2027-02-15T12:00")["ana-ben"]["agreed"]["mentee"] is False

    text = program.config.read_text(encoding="utf-8")
    program.config.write_text(
        text.replace("[ben@phone.example.net]", f"[ben@phone.example.net, {BEN_HOME}]"),
        encoding="utf-8",
    )
    before = listing(program.root)
    code, out, _ = _run(program, "inbox", "release", item, "--dry-run")
    assert code == 0 and out.startswith("would have applied Ben Becker's message"), out
    assert listing(program.root) == before

    code, out, _ = _run(program, "inbox", "release", item)
    assert out.strip() == "applied Ben Becker's message as theirs (agree; pair ana-ben)", out
    assert program.status("2027-02-15T12:00")["ana-ben"]["agreed"]["mentee"] is True
    assert _run(program, "inbox", "release", item)[1].strip() == (
        "had released that message already (nothing more to do)"
    )
    assert program.cli("inbox", "list", "--config", program.config)[1].strip() == (
        "nothing waits for you"
    )


def test_inbox_discard_in_its_own_process(program: Program) -> None:
    """As a coordinator types it: `python -m agent.commands.cli ...` in a new process."""
    item = _quarantined(program)
    at_ = ["--config", program.config, "--now", "2027-02-15T12:00"]
    before = listing(program.root)
    code, out, err = subprocess_cli("inbox", "discard", item, *at_, "--dry-run")
    assert code == 0, err
    assert out.strip() == f"would have marked the message from {BEN_HOME} discarded"
    assert listing(program.root) == before

    code, out, err = subprocess_cli("inbox", "discard", item, *at_)
    assert code == 0 and out.strip() == f"marked the message from {BEN_HOME} discarded", err
    code, out, _ = subprocess_cli("status", *at_)
    assert "inbox:" not in out
    code, out, _ = subprocess_cli("inbox", "list", "--config", program.config)
    assert out.strip() == "nothing waits for you"


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("text", "verb", "rest"),
    [
        ("Agreed \u2013 I spoke to her this morning.\n\nRachel", Verb.AGREE, ""),
        ("agreed mentee", Verb.AGREE, "mentee"),
        ("Hi,\nagreed both. Thanks!", Verb.AGREE, "both"),
        ("Release\n\nSent from my iPhone", Verb.RELEASE, ""),
        ("Please release it, thanks", Verb.RELEASE, ""),
        ("Alias please - that's her work address", Verb.ALIAS, ""),
        ("alias mentor", Verb.ALIAS, "mentor"),
        ("Erledigt, danke!", Verb.RESOLVED, ""),
        ("Done.", Verb.RESOLVED, ""),
        ("Résolu", Verb.RESOLVED, ""),
        ("Resume the pair please", Verb.RESUME, ""),
        ("Close.", Verb.CLOSE, ""),
        ("Spam", Verb.DISCARD, ""),
    ],
)
def test_instructions_as_coordinators_write_them(text: str, verb: Verb, rest: str) -> None:
    found = read(text, NOW, BERLIN)
    assert (found.verb, found.rest) == (verb, rest)


@pytest.mark.parametrize(
    ("text", "until"),
    [
        ("Pause until 19 March, please.", date(2027, 3, 19)),
        ("pause till March 19th", date(2027, 3, 19)),
        ("Pausieren bis 19.3.", date(2027, 3, 19)),
        ("pause until 2027-04-02", date(2027, 4, 2)),
        ("pause", None),
    ],
)
def test_a_pause_until_a_day(text: str, until: date | None) -> None:
    found = read(text, NOW, BERLIN)
    assert found.verb == Verb.PAUSE and found.until == until and found.problem is None


@pytest.mark.parametrize(
    ("text", "unknown", "suggestion"),
    [
        ("relase", True, "release"),
        ("agred", True, "agreed"),
        ("erldigt", True, "erledigt"),
        ("Close call, but I think Ben is fine for now.", False, None),
        ("I agree with Tom that weekly is too often for them", False, None),
        ("Thanks - I will ring him tomorrow and let you know how it goes.", False, None),
    ],
)
def test_what_is_no_instruction(text: str, unknown: bool, suggestion: str | None) -> None:
    found = read(text, NOW, BERLIN)
    assert found.verb is None
    assert (found.unknown, found.suggestion) == (unknown, suggestion)


def test_a_pause_until_a_day_that_is_not_one_is_a_problem() -> None:
    found = read("pause until the cows come home", NOW, BERLIN)
    assert found.verb == Verb.PAUSE and found.until is None
    assert found.problem == "no date I can read in 'the cows come home'"
