"""At-risk pairs: each rule at its threshold, the config that moves it, what the planner
does about it (once), and the digest that lists at-risk pairs first."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from agent.config.loading import load_config
from agent.config.model import Config, ConfigError
from agent.pairs.planner import plan_pair
from agent.pairs.program import Failure, PairState, Series, Stage
from agent.pairs.risk import risks
from agent.reports.digest import digest_context
from tests.conftest import THREE_PAIRS
from tests.test_lifecycle_e2e import BERLIN, Program, at, gmail_reply
from tests.test_reconcile import run_cli
from tests.test_reschedule_e2e import meeting_after

MINUTE = timedelta(minutes=1)
UTC = ZoneInfo("UTC")
FIRST = datetime(2027, 3, 1, 14, 30, tzinfo=BERLIN)  # a Monday
SERIES = Series(
    uid="mentormail-spring-2027-mentoring-ana-ben@example.org",
    tz="Europe/Berlin",
    first_start=FIRST,
    duration_minutes=45,
    interval_weeks=1,
    until=datetime(2027, 5, 31, 9, tzinfo=BERLIN),
)


def config(write_config, at_risk: str = "", name: str = "program.yaml") -> Config:
    return load_config(write_config(THREE_PAIRS + at_risk, name))


@pytest.fixture
def cfg(write_config) -> Config:
    return config(write_config)


def active(**update: Any) -> PairState:
    """ana-ben meeting weekly from 1 March, both agreed; `heard` keeps it from being quiet."""
    state = PairState(
        pair_id="ana-ben",
        stage=Stage.ACTIVE,
        welcomed={"mentor": FIRST - timedelta(days=14), "mentee": FIRST - timedelta(days=14)},
        agreement_sent={"mentor": FIRST - timedelta(days=14), "mentee": FIRST - timedelta(days=14)},
        agreed={"mentor": FIRST - timedelta(days=13), "mentee": FIRST - timedelta(days=13)},
        series=SERIES,
        invited={"mentor": 0, "mentee": 0},
    )
    return state.model_copy(update=update)


def entry(kind: str, text: str, when: datetime, by: str = "mentee") -> dict[str, Any]:
    return {"pair": "ana-ben", "kind": kind, "text": text, "by": by, "at": when.isoformat()}


def codes(cfg: Config, state: PairState, log: list[dict[str, Any]], now: datetime) -> set[str]:
    return {r.code for r in risks(cfg, state, log, now)}


# -- each rule at its threshold -----------------------------------------------------------------


def test_no_agreement_fires_at_its_threshold_and_the_config_moves_it(write_config) -> None:
    sent = datetime(2027, 2, 15, 9, tzinfo=BERLIN)
    state = PairState(
        pair_id="ana-ben",
        stage=Stage.AGREEMENT_PENDING,
        agreement_sent={"mentor": sent, "mentee": sent},
        agreed={"mentor": sent + timedelta(hours=3)},
    )
    cfg = config(write_config)  # escalate_after: 7d in the test program
    assert "no_agreement" not in codes(cfg, state, [], sent + timedelta(days=7) - MINUTE)
    found = risks(cfg, state, [], sent + timedelta(days=7))
    assert [(r.code, r.reason, r.since) for r in found] == [
        ("no_agreement", "no agreement after 7 days", sent)
    ]
    # the older key (cadence.agreement.escalate_after) and the new one are one rule
    with pytest.raises(ConfigError) as caught:
        config(write_config, "at_risk: {no_agreement_after: 10d}\n", "conflict.yaml")
    assert "contradicts at_risk.no_agreement_after" in caught.value.problems[0]
    text = THREE_PAIRS.replace("reminder_after: 3d, escalate_after: 7d", "reminder_after: 3d")
    cfg10 = load_config(write_config(text + "at_risk: {no_agreement_after: 10d}\n", "ten.yaml"))
    assert "no_agreement" not in codes(cfg10, state, [], sent + timedelta(days=10) - MINUTE)
    assert "no_agreement" in codes(cfg10, state, [], sent + timedelta(days=10))
    cfg5 = load_config(
        write_config(THREE_PAIRS.replace("escalate_after: 7d", "escalate_after: 5d"), "old.yaml")
    )
    assert cfg5.at_risk.no_agreement_after == timedelta(days=5)  # the older key still works
    assert "no_agreement" in codes(cfg5, state, [], sent + timedelta(days=5))
    agreed = state.model_copy(update={"agreed": {"mentor": sent, "mentee": sent}})
    assert (
        codes(cfg, agreed.model_copy(update={"stage": Stage.AGREED}), [], sent + timedelta(days=9))
        == set()
    )


def test_declined_in_a_row(cfg: Config, write_config) -> None:
    state = active(heard={"mentee": FIRST + timedelta(days=20)})
    one = [entry("meeting_reply", "REPLY declined for 2027-03-15", FIRST + timedelta(days=12))]
    two = [
        *one,
        entry("meeting_reply", "REPLY declined for 2027-03-22", FIRST + timedelta(days=19)),
    ]
    now = FIRST + timedelta(days=20)
    assert "declined_in_a_row" not in codes(cfg, state, one, now)  # one is not a row
    found = {r.code: r for r in risks(cfg, state, two, now)}
    assert found["declined_in_a_row"].reason == "2 meetings in a row declined"
    assert found["declined_in_a_row"].since == FIRST + timedelta(days=14)
    # just before the second decline was logged: not yet
    assert "declined_in_a_row" not in codes(cfg, state, two, FIRST + timedelta(days=19) - MINUTE)
    # a meeting that took place between them breaks the row
    apart = [
        entry("meeting_reply", "REPLY declined for 2027-03-08", FIRST + timedelta(days=5)),
        entry("meeting_reply", "REPLY declined for 2027-03-22", FIRST + timedelta(days=19)),
    ]
    assert "declined_in_a_row" not in codes(cfg, state, apart, now)
    # accepting again replaces the decline
    undone = [
        *two,
        entry("meeting_reply", "REPLY accepted for 2027-03-22", FIRST + timedelta(days=20)),
    ]
    assert "declined_in_a_row" not in codes(cfg, state, undone, now + MINUTE)
    # declining the whole series declines every meeting after the answer
    whole = [entry("meeting_reply", "REPLY declined", FIRST + timedelta(days=16), "mentor")]
    assert "declined_in_a_row" in codes(cfg, state, whole, now)
    three = config(write_config, "at_risk: {declined_in_a_row: 3}\n", "three.yaml")
    assert "declined_in_a_row" not in codes(three, state, two, now)


def test_no_progress_while_meeting(cfg: Config, write_config) -> None:
    state = active(heard={"mentor": FIRST + timedelta(days=25)})
    assert "no_progress" not in codes(cfg, state, [], FIRST + timedelta(weeks=4) - MINUTE)
    found = {r.code: r for r in risks(cfg, state, [], FIRST + timedelta(weeks=4))}
    assert found["no_progress"].reason == "no progress logged for 28 days"
    assert found["no_progress"].since == FIRST
    progress = (FIRST + timedelta(days=10)).astimezone(UTC)  # thresholds are real time: DST
    log = [entry("progress", "drafted the plan", progress)]
    assert "no_progress" not in codes(cfg, state, log, progress + timedelta(weeks=4) - MINUTE)
    assert "no_progress" in codes(cfg, state, log, progress + timedelta(weeks=4))
    # an agreement or a question is not progress
    chatter = [entry("agree", "", progress), entry("question", "when?", progress)]
    assert "no_progress" in codes(cfg, state, chatter, FIRST + timedelta(weeks=4))
    two = config(write_config, "at_risk: {no_progress_after: 2w}\n", "two.yaml")
    assert "no_progress" in codes(two, state, [], FIRST + timedelta(weeks=2))
    # not before the meetings start, not while paused
    booked = state.model_copy(update={"stage": Stage.SCHEDULED})
    assert "no_progress" not in codes(cfg, booked, [], FIRST - timedelta(days=1))
    paused = state.model_copy(update={"stage": Stage.PAUSED})
    assert codes(cfg, paused, [], FIRST + timedelta(weeks=6)) == {"paused"}


def test_low_rating(cfg: Config, write_config) -> None:
    state = active(heard={"mentee": FIRST + timedelta(days=3)})
    now = FIRST + timedelta(days=3)
    rated = FIRST + timedelta(hours=5)
    assert "low_rating" not in codes(cfg, state, [entry("rating", "3/5", rated)], now)
    found = {r.code: r for r in risks(cfg, state, [entry("rating", "2/5", rated)], now)}
    assert (found["low_rating"].reason, found["low_rating"].role) == ("last rating 2/5", "mentee")
    assert "low_rating" not in codes(cfg, state, [entry("rating", "2/5", rated)], rated - MINUTE)
    better = [entry("rating", "2/5", rated), entry("rating", "4/5", rated + timedelta(days=1))]
    assert "low_rating" not in codes(cfg, state, better, now)
    three = config(write_config, "at_risk: {low_rating: 3}\n", "three.yaml")
    assert "low_rating" in codes(three, state, [entry("rating", "3/5", rated)], now)


def test_quiet_and_the_other_reasons_from_the_state(cfg: Config) -> None:
    quiet = active()
    assert "quiet" not in codes(cfg, quiet, [], FIRST + timedelta(days=14) - MINUTE)
    found = {r.code: r for r in risks(cfg, quiet, [], FIRST + timedelta(days=14))}
    assert found["quiet"].reason == "quiet for 14 days"
    declined = PairState(
        pair_id="ana-ben",
        stage=Stage.AGREEMENT_PENDING,
        declined={"mentee": FIRST - timedelta(days=10)},
    )
    assert [r.reason for r in risks(cfg, declined, [], FIRST)] == ["Ben declined the agreement"]
    bounced = active(
        heard={"mentee": FIRST},
        failing={"mentor": Failure(address="ana@example.org", reason="550", at=FIRST)},
    )
    assert "mail to Ana bounces" in [r.reason for r in risks(cfg, bounced, [], FIRST)]
    agreed = PairState(pair_id="ana-ben", stage=Stage.AGREED)
    assert [r.reason for r in risks(cfg, agreed, [], FIRST, no_slot=True)] == [
        "no meeting time fits both"
    ]
    closed = active(stage=Stage.CLOSED)
    assert risks(cfg, closed, [entry("rating", "1/5", FIRST)], FIRST + timedelta(weeks=9)) == []


def test_rules_can_be_switched_off(write_config) -> None:
    text = THREE_PAIRS.replace("reminder_after: 3d, escalate_after: 7d", "reminder_after: 3d")
    off = load_config(
        write_config(
            text + "at_risk: {no_agreement_after: null, declined_in_a_row: null, "
            "no_progress_after: null, low_rating: null}\n"
        )
    )
    state = active(heard={"mentee": FIRST + timedelta(days=50)})
    log = [
        entry("rating", "1/5", FIRST + timedelta(days=1)),
        entry("meeting_reply", "REPLY declined", FIRST + timedelta(days=1)),
    ]
    assert codes(off, state, log, FIRST + timedelta(days=50)) == set()
    pending = PairState(
        pair_id="ana-ben",
        stage=Stage.AGREEMENT_PENDING,
        agreement_sent={"mentee": FIRST - timedelta(days=30)},
    )
    assert codes(off, pending, [], FIRST) == set()
    assert not [a for a in plan_pair(off, off.pairs[0], pending, FIRST) if "escalation" in a.key]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("at_risk: {low_rating: 5}", "at_risk.low_rating: 5 is not a rating from 1 to 4"),
        ("at_risk: {declined_in_a_row: 0}", "at_risk.declined_in_a_row: 0 is not a number"),
        ("at_risk: {no_progress_after: 3h}", "at_risk.no_progress_after: must be at least 1d"),
        (
            "at_risk: {no_progress_after: soon}",
            "at_risk.no_progress_after: 'soon' is not a duration",
        ),
        ("at_risk: {quiet_after: 2w}", "at_risk.quiet_after: unknown key"),
    ],
)
def test_bad_at_risk_config_is_a_clear_error(write_config, text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(THREE_PAIRS + text + "\n"))
    placed = problem.replace(": ", f", line {THREE_PAIRS.count(chr(10)) + 1}: ", 1)  # at_risk:
    assert any(p.startswith(placed) for p in caught.value.problems), caught.value.problems


# -- what the planner does, once ------------------------------------------------------------------


def run(
    cfg: Config, state: PairState, now: datetime, log: list[dict[str, Any]], done: set[str]
) -> list[str]:
    """Plan like a tick and pretend every action succeeded; returns the new keys."""
    new = [a for a in plan_pair(cfg, cfg.pairs[0], state, now, log=log) if a.key not in done]
    done.update(a.key for a in new)
    return [a.key for a in new]


def test_each_rule_nudges_the_pair_and_tells_the_coordinator_once(cfg: Config) -> None:
    done: set[str] = set()
    rated = FIRST + timedelta(hours=5)
    state = active(heard={"mentee": rated, "mentor": rated})
    log = [entry("rating", "2/5", rated)]
    keys = run(cfg, state, rated + MINUTE, log, done)
    assert "ana-ben/rating_follow_up/20270301T1830Z/mentee" in keys
    assert not any(
        "rating_follow_up" in k and k.endswith("/mentor") for k in keys
    )  # only the rater
    assert "ana-ben/escalation_low_rating/20270301T1830Z/coordinator" in keys
    assert not any("rating" in k for k in run(cfg, state, rated + timedelta(days=2), log, done))
    # a later low rating is a new occurrence
    again = [*log, entry("rating", "1/5", rated + timedelta(days=7))]
    keys = run(cfg, state, rated + timedelta(days=7, minutes=1), again, done)
    assert sum("rating_follow_up" in k for k in keys) == 1
    assert sum("escalation_low_rating" in k for k in keys) == 1

    # no progress: both asked how it's going, the coordinator told, once
    talking = active(heard={"mentee": FIRST + timedelta(days=27)})
    done = set()
    assert not any(
        "progress" in k for k in run(cfg, talking, FIRST + timedelta(weeks=4) - MINUTE, [], done)
    )
    keys = run(cfg, talking, FIRST + timedelta(weeks=4), [], done)
    assert sorted(k for k in keys if "progress" in k) == [
        "ana-ben/escalation_no_progress/20270301T1330Z/coordinator",
        "ana-ben/progress_check/20270301T1330Z/mentee",
        "ana-ben/progress_check/20270301T1330Z/mentor",
    ]
    assert not any("progress" in k for k in run(cfg, talking, FIRST + timedelta(weeks=5), [], done))
    # while the pair is quiet, the quiet nudge covers it
    silent = active()
    keys = run(cfg, silent, FIRST + timedelta(weeks=4), [], set())
    assert not any("progress" in k for k in keys) and any("/nudge/" in k for k in keys)

    # meetings declined in a row
    declines = [
        entry("meeting_reply", "REPLY declined for 2027-03-08", FIRST + timedelta(days=2)),
        entry("meeting_reply", "REPLY declined for 2027-03-15", FIRST + timedelta(days=3)),
    ]
    busy = active(heard={"mentee": FIRST + timedelta(days=3)})
    done = set()
    keys = run(cfg, busy, FIRST + timedelta(days=3, minutes=1), declines, done)
    assert sorted(k for k in keys if "declined" in k or "time_check" in k) == [
        "ana-ben/escalation_declined_in_a_row/20270308T1330Z/coordinator",
        "ana-ben/meeting_time_check/20270308T1330Z/mentee",
        "ana-ben/meeting_time_check/20270308T1330Z/mentor",
    ]
    assert run(cfg, busy, FIRST + timedelta(days=4), declines, done) == []


def test_nudges_respect_bounces_and_away(cfg: Config) -> None:
    rated = FIRST + timedelta(hours=5)
    log = [entry("rating", "2/5", rated)]
    away = active(
        heard={"mentee": rated - timedelta(hours=1)},
        away={"mentee": rated + timedelta(days=5)},
    )
    keys = run(cfg, away, rated + MINUTE, log, set())
    assert not any("rating_follow_up" in k for k in keys)
    assert any("escalation_low_rating" in k for k in keys)  # the coordinator hears anyway
    back = run(cfg, away, rated + timedelta(days=5, minutes=1), log, set())
    assert any("rating_follow_up" in k for k in back)
    bounced = active(
        heard={"mentee": rated},
        failing={"mentee": Failure(address="ben.becker@example.net", reason="550", at=FIRST)},
    )
    assert not any("rating_follow_up" in k for k in run(cfg, bounced, rated + MINUTE, log, set()))


# -- the digest -----------------------------------------------------------------------------------


def test_digest_lists_at_risk_pairs_first_with_the_reasons(cfg: Config) -> None:
    now = datetime(2027, 3, 30, 8, tzinfo=BERLIN)
    states = {
        "ana-ben": active(heard={"mentee": now - timedelta(days=1)}),
        "chen-dina": active(pair_id="chen-dina", heard={"mentee": now - timedelta(days=1)}),
        "eli-fay": active(pair_id="eli-fay", heard={"mentor": now - timedelta(days=2)}),
    }
    log = [
        {**entry("rating", "2/5", now - timedelta(days=1)), "pair": "eli-fay"},
        {
            **entry("meeting_reply", "REPLY declined for 2027-03-22", now - timedelta(days=9)),
            "pair": "eli-fay",
        },
        {
            **entry("meeting_reply", "REPLY declined for 2027-03-29", now - timedelta(days=8)),
            "pair": "eli-fay",
        },
        {**entry("progress", "on track", now - timedelta(days=3)), "pair": "chen-dina"},
    ]
    digest = digest_context(cfg, states, log, [], set(), now)
    rows = digest["pairs"]
    assert [r["id"] for r in rows] == ["eli-fay", "ana-ben", "chen-dina"]
    assert rows[0]["reasons"] == [
        "2 meetings in a row declined",
        "last rating 2/5",
    ]
    assert rows[1]["reasons"] == ["no progress logged for 28 days"]
    assert rows[2] == {**rows[2], "at_risk": False, "reasons": []}


# -- end to end through the CLI -------------------------------------------------------------------


@pytest.fixture(scope="module")
def booked_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ana-ben agreed on 15 February and was booked on 16 February; the others did not."""
    root = tmp_path_factory.mktemp("booked")
    program = Program(root, run_cli)
    program.tick("2027-02-15T09:00")
    noon = at("2027-02-15T15:00")
    for address, name in (
        ("ana@example.org", "Ana Alvarez"),
        ("ben.becker@example.net", "Ben Becker"),
    ):
        agreement = program.only(address, "agreement")
        program.deliver(gmail_reply(agreement, f"{name} <{address}>", "I agree.", noon))
    program.tick("2027-02-16T09:00")
    return root


@pytest.fixture
def booked(booked_folder: Path, tmp_path: Path, cli) -> Program:
    shutil.copytree(booked_folder, tmp_path, dirs_exist_ok=True)
    return Program(tmp_path, cli)


def _decline(program: Program, meeting: datetime, when: datetime) -> None:
    invitation = program.only("ben.becker@example.net", "Invitation:")
    part = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
    master = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]
    reply = icalendar.Calendar()
    reply.add("prodid", "-//Google Inc//Google Calendar 70.9054//EN")
    reply.add("version", "2.0")
    reply.add("method", "REPLY")
    event = icalendar.Event()
    event.add("uid", str(master["UID"]))
    event.add("sequence", 0)
    event.add("recurrence-id", meeting.astimezone(BERLIN))
    event.add("dtstart", meeting.astimezone(BERLIN))
    event.add("dtstamp", when)
    attendee = icalendar.vCalAddress("mailto:ben.becker@example.net")
    attendee.params["PARTSTAT"] = "DECLINED"
    event.add("attendee", attendee)
    reply.add_component(event)
    message = EmailMessage()
    message["From"] = "Ben Becker <ben.becker@example.net>"
    message["To"] = invitation["Reply-To"]
    message["Subject"] = "Declined: " + invitation["Subject"].strip()
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain="example.net")
    message.set_content("Ben Becker has declined this invitation.")
    message.add_alternative(
        reply.to_ical(), maintype="text", subtype="calendar", params={"method": "REPLY"}
    )
    program.deliver(message)


def test_declined_meetings_nudge_the_pair_and_tell_the_coordinator_once(booked: Program) -> None:
    program = booked
    first = datetime.fromisoformat(
        program.status("2027-02-16T09:00")["ana-ben"]["meetings"]["next"]
    )
    second = meeting_after(program, first)
    third = meeting_after(program, second)  # a week later on the series' clock: DST between
    _decline(program, second, first + timedelta(days=2))
    out = program.tick((first + timedelta(days=2, hours=1)).isoformat())
    assert "meeting_time_check" not in out  # one decline is not a row
    _decline(program, third, first + timedelta(days=3))
    out = program.tick((first + timedelta(days=3, hours=1)).isoformat())
    assert "ana-ben: meeting_time_check -> mentor" in out
    assert "ana-ben: meeting_time_check -> mentee" in out
    assert "ana-ben: escalation_declined_in_a_row -> coordinator" in out
    check = program.only("ana@example.org", "still work?")
    assert "the last 2 meetings with Ben were declined" in " ".join(
        check.get_body(preferencelist=("plain",)).get_content().split()
    )
    notice = program.only("coordinator@example.org", "2 meetings in a row declined")
    assert "Pair ana-ben needs attention" in notice["Subject"]
    out = program.tick((first + timedelta(days=4)).isoformat())
    assert "meeting_time_check" not in out and "escalation_declined" not in out


def test_a_low_rating_is_followed_up_with_its_author_only(booked: Program) -> None:
    program = booked
    first = datetime.fromisoformat(
        program.status("2027-02-16T09:00")["ana-ben"]["meetings"]["next"]
    )
    program.tick((first + timedelta(hours=3)).isoformat())
    follow_up = program.only("ben.becker@example.net", "How did your meeting")
    program.deliver(
        gmail_reply(
            follow_up,
            "Ben Becker <ben.becker@example.net>",
            "Honestly it wasn't great, I'd rate it 2 out of 5.",
            first + timedelta(hours=4),
        )
    )
    ana = len(program.sent("ana@example.org"))
    out = program.tick((first + timedelta(hours=5)).isoformat())
    assert "ana-ben: rating_follow_up -> mentee" in out
    assert "ana-ben: escalation_low_rating -> coordinator" in out
    assert len(program.sent("ana@example.org")) == ana  # Ana does not hear of it
    thanks = program.only("ben.becker@example.net", "honest rating")
    assert "2 out of 5" in thanks.get_body(preferencelist=("plain",)).get_content()
    notice = program.only("coordinator@example.org", "A low rating: 2/5")
    assert "Ben rated the mentoring 2 out of 5" in " ".join(
        notice.get_body(preferencelist=("plain",)).get_content().split()
    )
    assert "rating" not in program.tick((first + timedelta(hours=6)).isoformat())


def test_the_digest_email_puts_the_at_risk_pair_first(booked: Program) -> None:
    program = booked
    first = datetime.fromisoformat(
        program.status("2027-02-16T09:00")["ana-ben"]["meetings"]["next"]
    )
    program.tick((first + timedelta(hours=3)).isoformat())
    follow_up = program.only("ana@example.org", "How did your meeting")
    program.deliver(
        gmail_reply(
            follow_up,
            "Ana Alvarez <ana@example.org>",
            "I'd rate it 1/5.",
            first + timedelta(hours=4),
        )
    )
    program.tick((first + timedelta(hours=5)).isoformat())
    out = program.tick("2027-03-08T08:00")  # Monday: the digest
    assert "digest -> coordinator" in out
    digest = next(
        m
        for m in program.sent("coordinator@example.org")
        if "8 March" in m["Subject"] or "1–7 March" in m["Subject"]
    )
    text = digest.get_body(preferencelist=("plain",)).get_content()
    # the other two pairs never agreed: at risk too, for that reason
    assert "3 pairs at risk" in digest["Subject"]
    assert "ana-ben, Ana Alvarez with Ben Becker (active): last rating 1/5." in text
    assert "chen-dina, Chen Wei with Dina Doyle (agreement_pending): no agreement after" in text
    assert text.index("At risk") < text.index("ana-ben, Ana") < text.index("All pairs")
