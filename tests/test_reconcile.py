"""Changing the program mid-flight by editing the config, end to end through the CLI.

The three-pair program of tests/test_lifecycle_e2e.py on the embedded default
(Maildir + .ics): every pair agrees and is booked, then the coordinator edits the
config and the next tick reconciles. A dry run first shows what would happen and
leaves the state file byte for byte as it was.
"""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from agent.commands.cli import main
from agent.config.loading import load_config
from agent.pairs.program import Member
from agent.pairs.reconcile import (
    CadenceChanged,
    DetailsChanged,
    LinkChanged,
    PairAdded,
    PairRemoved,
    PartnerReplaced,
    changes,
    snapshot,
)
from tests.conftest import THREE_PAIRS
from tests.test_lifecycle_e2e import BERLIN, Program, at, gmail_reply

NEW_YORK = ZoneInfo("America/New_York")
PEOPLE = {
    "ana@example.org": "Ana Alvarez",
    "ben.becker@example.net": "Ben Becker",
    "chen@example.com": "Chen Wei",
    "dina@example.co.uk": "Dina Doyle",
    "eli@example.es": "Eli Ortega",
    "fay@example.ke": "Fay Njeri",
}
ZOE = (
    "  - {id: zoe, name: Zoe Zhang, email: zoe@example.org, role: mentor, "
    'timezone: America/Chicago, hours: "07:00-10:00"}\n'
)


def run_cli(*args: object) -> tuple[int, str, str]:
    """The CLI in-process, for module-scoped fixtures (the `cli` fixture is per test)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def booked_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All three pairs agreed on 15 February and were booked on 16 February."""
    root = tmp_path_factory.mktemp("booked")
    program = Program(root, run_cli)
    program.tick("2027-02-15T09:00")
    noon = at("2027-02-15T15:00")
    for address, name in PEOPLE.items():
        agreement = program.only(address, "agreement")
        program.deliver(gmail_reply(agreement, f"{name} <{address}>", "I agree.", noon))
    program.tick("2027-02-16T09:00")
    assert {p["stage"] for p in program.status("2027-02-16T09:00").values()} == {"scheduled"}
    return root


@pytest.fixture
def program(booked_folder: Path, tmp_path: Path, cli) -> Program:
    """A copy of the booked program for one test."""
    shutil.copytree(booked_folder, tmp_path, dirs_exist_ok=True)
    return Program(tmp_path, cli)


def edit(program: Program, *replacements: tuple[str, str]) -> None:
    text = program.config.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    program.config.write_text(text, encoding="utf-8")


def state_bytes(program: Program) -> bytes:
    return (program.root / "state.json").read_bytes()


def stored_state(program: Program, pair_id: str) -> dict:
    data = json.loads(state_bytes(program))
    return next(d["state"] for d in data["pairs"].values() if d["pair_id"] == pair_id)


def body(message: EmailMessage) -> str:
    return " ".join(message.get_body(preferencelist=("plain",)).get_content().split())


def calendar_of(message: EmailMessage) -> tuple[str, list[icalendar.Event]]:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    parsed = icalendar.Calendar.from_ical(part.get_content())
    return part.get_param("method"), list(parsed.walk("VEVENT"))


def ids(messages: list[EmailMessage]) -> set[str]:
    return {m["Message-ID"] for m in messages}


# -- the pure comparison ---------------------------------------------------------------------


def test_changes_compares_the_snapshot_with_the_config(write_config) -> None:
    cfg = load_config(write_config(THREE_PAIRS))
    before = snapshot(cfg)
    assert changes(None, cfg) == []  # the first tick: nothing to compare with
    assert changes(before, cfg) == []
    edited = (
        THREE_PAIRS.replace(
            "  - {id: ana-ben, mentor: ana, mentee: ben}\n",
            "  - {id: new-pair, mentor: ana, mentee: ben}\n",
        )
        .replace("participants:\n", "participants:\n" + ZOE)
        .replace("{id: eli-fay, mentor: eli,", "{id: eli-fay, mentor: zoe,")
        .replace("email: fay@example.ke", "email: fay@new.example.ke")
        .replace("meetings: {every: 1w, duration: 45m}", "meetings: {every: 2w, duration: 60m}")
    )
    cfg2 = load_config(write_config(edited, "edited.yaml"))
    found = changes(before, cfg2)
    kinds = [type(c) for c in found]
    assert kinds == [PairRemoved, PartnerReplaced, DetailsChanged, PairAdded, CadenceChanged]
    removed, replaced, details, added, cadence = found
    assert removed.pair_id == "ana-ben" and removed.people["mentor"].name == "Ana Alvarez"
    assert (replaced.pair_id, replaced.role, replaced.old.id, replaced.new.id) == (
        "eli-fay",
        "mentor",
        "eli",
        "zoe",
    )
    assert replaced.partner == Member(
        id="fay",
        name="Fay Njeri",
        email="fay@example.ke",
        role="mentee",
        timezone="Africa/Nairobi",
        hours="Mon–Fri 08:00–17:00",
    )
    assert details.fields == ["address"] and details.new.email == "fay@new.example.ke"
    assert added.pair_id == "new-pair"
    assert (cadence.old, cadence.new) == ((1, 45), (2, 60))
    linked = load_config(
        write_config(
            THREE_PAIRS.replace(
                "meetings: {every: 1w, duration: 45m}", "meetings: {video_link: x}"
            ),
            "link.yaml",
        )
    )
    assert [type(c) for c in changes(before, linked)] == [LinkChanged]


# -- adding a pair ---------------------------------------------------------------------------


def test_adding_a_pair_onboards_it_and_leaves_the_others_alone(program: Program) -> None:
    before = program.status("2027-02-17T09:00")
    sent_before = ids(program.sent())
    yan = (
        "  - {id: yan, name: Yan Ito, email: yan@example.jp, role: mentee, "
        'timezone: Asia/Tokyo, hours: "08:00-20:00"}\n'
    )
    eli_fay = "  - {id: eli-fay, mentor: eli, mentee: fay}\n"
    edit(
        program,
        ("participants:\n", "participants:\n" + ZOE + yan),
        (eli_fay, eli_fay + "  - {id: zoe-yan, mentor: zoe, mentee: yan}\n"),
    )
    dry = program.tick("2027-02-17T09:00", "--dry-run")
    assert "would: add pair zoe-yan (Zoe and Yan)" in dry
    out = program.tick("2027-02-17T09:00")
    performed = [line for line in out.splitlines() if line.startswith("  did:")]
    assert performed == [
        "  did: zoe-yan: welcome -> mentor",
        "  did: zoe-yan: welcome -> mentee",
        "  did: zoe-yan: agreement -> mentor",
        "  did: zoe-yan: agreement -> mentee",
    ]
    new = [m for m in program.sent() if m["Message-ID"] not in sent_before]
    assert {m["To"].addresses[0].addr_spec for m in new} == {"zoe@example.org", "yan@example.jp"}
    after = program.status("2027-02-17T09:00")
    assert {k: v for k, v in after.items() if k != "zoe-yan"} == before
    assert after["zoe-yan"]["stage"] == "agreement_pending"
    assert program.tick("2027-02-17T10:00").strip().endswith("nothing due")


# -- removing a pair -------------------------------------------------------------------------


def test_removing_a_pair_cancels_its_series_and_tells_both_kindly(program: Program, cli) -> None:
    series_file = program.root / "calendar" / "events"
    uid = "mentormail-spring-2027-mentoring-ana-ben@example.org"
    program.tick("2027-03-10T08:00")  # what was due anyway (follow-ups)
    edit(
        program,
        ("  - {id: ana-ben, mentor: ana, mentee: ben}\n", ""),
        ("  - {id: ana,", "  # - {id: ana,"),
        ("  - {id: ben,", "  # - {id: ben,"),
    )
    state = state_bytes(program)
    sent = len(program.sent())
    dry = program.tick("2027-03-10T09:00", "--dry-run")
    assert "would: remove pair ana-ben: cancel the series, tell Ana and Ben" in dry
    assert "would do: ana-ben: cancel_series -> calendar" in dry
    assert "would do: ana-ben: pair_removed -> mentor" in dry
    assert state_bytes(program) == state and len(program.sent()) == sent

    out = program.tick("2027-03-10T09:00")
    assert "config change: remove pair ana-ben" in out
    assert "did: ana-ben: cancel_series -> calendar" in out
    for address in ("ana@example.org", "ben.becker@example.net"):
        email = program.only(address, "a change to your mentoring pairing")
        text = body(email)
        assert "the program coordinator has made a change to the pairings" in text
        assert "Thank you for the time and care" in text
        assert "There's nothing you need to do." in text and "will be in touch" in text
        assert email["Reply-To"].addresses[0].addr_spec == "coordinator@example.org"
        method, events = calendar_of(email)
        assert method == "CANCEL"
        assert str(events[0]["UID"]) == uid and int(events[0]["SEQUENCE"]) == 1
        assert str(events[0]["STATUS"]) == "CANCELLED"
    stored = icalendar.Calendar.from_ical((series_file / f"{uid}.ics").read_bytes())
    assert str(stored.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    # the others are untouched
    assert not [line for line in out.splitlines() if "chen-dina" in line or "eli-fay" in line]

    kept = stored_state(program, "ana-ben")  # history kept, marked removed and closed
    assert kept["stage"] == "closed" and kept["removed_at"]
    assert kept["members"]["mentor"]["email"] == "ana@example.org"
    assert program.tick("2027-03-10T10:00").strip().endswith("nothing due")
    # status and the digest (Monday 08:00) cope with a pair that is no longer configured
    assert set(program.status("2027-03-15T09:00")) == {"chen-dina", "eli-fay"}
    out = program.tick("2027-03-15T08:00")
    assert "digest -> coordinator" in out and "error" not in out
    assert program.only("ana@example.org", "a change to your")  # still exactly one


def test_removing_a_pair_nobody_has_heard_from_sends_nothing(tmp_path: Path, cli) -> None:
    program = Program(tmp_path, cli)
    program.tick("2027-02-01T09:00")  # before onboarding opens: nothing sent, snapshot taken
    edit(program, ("  - {id: ana-ben, mentor: ana, mentee: ben}\n", ""))
    out = program.tick("2027-02-15T09:00")
    assert "remove pair ana-ben: nothing had been sent, so nobody is told" in out
    assert not program.sent("ana@example.org") and "ana-ben" not in out.split("told", 1)[1]


# -- replacing a mentor ----------------------------------------------------------------------


def test_swapping_a_mentor(program: Program) -> None:
    edit(
        program,
        ("participants:\n", "participants:\n" + ZOE),
        (
            "{id: ana-ben, mentor: ana, mentee: ben}",
            "{id: ana-ben, mentor: zoe, mentee: ben, goals: [x]}",
        ),
    )
    # Ben's goals from his reply stay; the config's goals are only the starting point
    state = state_bytes(program)
    dry = program.tick("2027-03-10T09:00", "--dry-run")
    assert (
        "would: replace the mentor of ana-ben: Zoe Zhang instead of Ana Alvarez: goodbye to "
        "Ana, cancel the series, tell Ben who the new mentor is, welcome and agreement to "
        "Zoe, a new series is booked once Zoe agrees"
    ) in dry
    assert state_bytes(program) == state

    out = program.tick("2027-03-10T09:00")
    for line in (
        "ana-ben: retire_series -> calendar",
        "ana-ben: farewell -> Ana (former mentor)",
        "ana-ben: partner_changed -> mentee",
        "ana-ben: welcome -> mentor",
        "ana-ben: agreement -> mentor",
    ):
        assert f"did: {line}" in out
    assert "welcome -> mentee" not in out and "agreement -> mentee" not in out

    old_uid = "mentormail-spring-2027-mentoring-ana-ben@example.org"
    farewell = program.only("ana@example.org", "thank you, and a change to your pairing")
    assert "your pairing with Ben Becker ends here" in body(farewell)
    assert farewell["Reply-To"].addresses[0].addr_spec == "coordinator@example.org"
    method, events = calendar_of(farewell)
    assert method == "CANCEL" and str(events[0]["UID"]) == old_uid
    assert int(events[0]["SEQUENCE"]) == 1
    attendees = {str(a).lower() for a in events[0]["ATTENDEE"]}
    assert attendees == {"mailto:ana@example.org", "mailto:ben.becker@example.net"}

    told = program.only("ben.becker@example.net", "meet your new mentor, Zoe Zhang")
    text = body(told)
    assert "Ana Alvarez is no longer your mentor, and Zoe Zhang is your new mentor" in text
    assert "America/Chicago" in text
    method, events = calendar_of(told)
    assert method == "CANCEL" and str(events[0]["UID"]) == old_uid

    welcome = program.only("zoe@example.org", "Welcome")
    assert "Ben Becker" in welcome["Subject"]
    status = program.status("2027-03-10T09:00")["ana-ben"]
    assert status["mentor"] == "zoe" and status["stage"] == "agreement_pending"
    assert status["agreed"] == {"mentor": False, "mentee": True}  # Ben's agreement stands
    assert status["meetings"]["status"] is None  # a new series comes once Zoe agrees
    assert program.tick("2027-03-10T10:00").strip().endswith("nothing due")

    # Zoe agrees: a new series, with a UID of its own, for Zoe and Ben
    agreement = program.only("zoe@example.org", "agreement")
    program.deliver(
        gmail_reply(agreement, "Zoe Zhang <zoe@example.org>", "I agree.", at("2027-03-10T12:00"))
    )
    out = program.tick("2027-03-10T13:00")
    assert "ana-ben: book -> calendar" in out
    invitation = program.only("zoe@example.org", "Invitation:")
    method, events = calendar_of(invitation)
    assert method == "REQUEST"
    assert str(events[0]["UID"]) == "mentormail-spring-2027-mentoring-ana-ben-2@example.org"
    attendees = {str(a).lower() for a in events[0]["ATTENDEE"]}
    assert attendees == {"mailto:zoe@example.org", "mailto:ben.becker@example.net"}
    ben_invites = [m for m in program.sent("ben.becker@example.net") if "Zoe" in m["Subject"]]
    assert any("Invitation: mentoring with Zoe Zhang" in m["Subject"] for m in ben_invites)
    assert program.status("2027-03-10T13:00")["ana-ben"]["stage"] == "scheduled"
    # Ana never hears from the program again
    ana = len(program.sent("ana@example.org"))
    program.tick("2027-05-31T09:00")
    assert len(program.sent("ana@example.org")) == ana


# -- changing the cadence --------------------------------------------------------------------


def test_changing_the_cadence_follows_it_from_the_next_meeting(program: Program) -> None:
    first = datetime.fromisoformat(
        program.status("2027-02-16T09:00")["eli-fay"]["meetings"]["next"]
    )
    held = program.status("2027-03-10T09:00")["eli-fay"]["meetings"]["held"]
    assert held == 2  # 1 and 8 March
    program.tick("2027-03-10T09:00")
    edit(
        program,
        ("meetings: {every: 1w, duration: 45m}", "meetings: {every: 2w, duration: 60m}"),
    )
    state = state_bytes(program)
    dry = program.tick("2027-03-10T10:00", "--dry-run")
    assert "would: meetings every week for 45 minutes -> every 2 weeks for 60 minutes" in dry
    assert "would: eli-fay: meetings every 2 weeks for 60 minutes from Monday 15 March 2027" in dry
    assert state_bytes(program) == state

    out = program.tick("2027-03-10T10:00")
    for line in (
        "eli-fay: end_series -> calendar",
        "eli-fay: update_series -> calendar",
        "eli-fay: series_ended -> mentor",
        "eli-fay: series_ended -> mentee",
        "eli-fay: invitation -> mentor",
        "eli-fay: invitation -> mentee",
    ):
        assert f"did: {line}" in out

    old_uid = "mentormail-spring-2027-mentoring-eli-fay@example.org"
    new_uid = "mentormail-spring-2027-mentoring-eli-fay-2@example.org"
    ended = program.only("fay@example.ke", "this series ends after")
    assert "ends after the meeting of Monday 8 March 2027" in body(ended)
    method, events = calendar_of(ended)
    assert method == "REQUEST" and str(events[0]["UID"]) == old_uid
    assert int(events[0]["SEQUENCE"]) == 1
    rule = events[0]["RRULE"]
    assert rule["INTERVAL"] == [1] and rule["UNTIL"][0] < first + timedelta(weeks=2)
    # the meetings so far keep their own length
    assert events[0]["DTEND"].dt - events[0]["DTSTART"].dt == timedelta(minutes=45)

    updated = program.only("fay@example.ke", "new schedule from")
    assert "every 2 weeks" in body(updated)
    method, events = calendar_of(updated)
    assert str(events[0]["UID"]) == new_uid and int(events[0]["SEQUENCE"]) == 0
    assert events[0]["RRULE"]["INTERVAL"] == [2]
    start = events[0]["DTSTART"].dt
    assert start == first + timedelta(weeks=2)  # 15 March, same wall-clock time
    assert events[0]["DTEND"].dt - start == timedelta(minutes=60)
    files = {p.name for p in (program.root / "calendar" / "events").iterdir()}
    assert {f"{old_uid}.ics", f"{new_uid}.ics"} <= files

    status = program.status("2027-03-10T10:00")["eli-fay"]
    assert status["meetings"]["held"] == 2  # the past stays as it was
    assert status["meetings"]["next"] == start.isoformat()
    assert program.tick("2027-03-10T11:00").strip().endswith("nothing due")
    # after the first meeting of the new series, its follow-up, once
    out = program.tick((start + timedelta(hours=3, minutes=1)).isoformat())
    assert "eli-fay: follow_up -> mentor" in out
    assert program.status("2027-03-16T09:00")["eli-fay"]["meetings"]["held"] == 3
    out = program.tick((start + timedelta(weeks=1, hours=3)).isoformat())
    assert "eli-fay: follow_up" not in out  # no meeting that week any more


def test_a_cadence_change_before_the_first_meeting_rewrites_the_series(program: Program) -> None:
    edit(program, ("duration: 45m", "duration: 30m"))
    out = program.tick("2027-02-20T09:00")
    assert "end_series" not in out and "series_ended" not in out
    assert "did: ana-ben: update_series -> calendar" in out
    email = program.only("ana@example.org", "Updated invitation")
    assert "new schedule from" in email["Subject"]
    _method, events = calendar_of(email)
    assert str(events[0]["UID"]) == "mentormail-spring-2027-mentoring-ana-ben@example.org"
    assert int(events[0]["SEQUENCE"]) == 1
    assert events[0]["DTEND"].dt - events[0]["DTSTART"].dt == timedelta(minutes=30)


def test_a_longer_meeting_moves_to_a_time_that_fits_or_the_coordinator_is_told(
    program: Program,
) -> None:
    # Ana (08:00-11:00 New York) and Ben (13:00-16:00 Berlin) meet at 14:30 Berlin;
    # two hours fit only from 08:00 New York (14:00 Berlin, 13:00 while only New York
    # keeps summer time), four hours never; the series is anchored in Ana's (the mentor's) zone
    edit(program, ("duration: 45m", "duration: 2h"))
    out = program.tick("2027-03-10T09:00")
    assert "ana-ben: meetings every week for 120 minutes from" in out
    updated = program.only("ana@example.org", "new schedule from")
    _, events = calendar_of(updated)
    start = events[0]["DTSTART"].dt.astimezone(NEW_YORK)
    assert (start.hour, start.minute) == (8, 0)
    edit(program, ("duration: 2h", "duration: 4h"))
    out = program.tick("2027-03-20T09:00")
    assert "ana-ben: every week for 240 minutes does not fit Ana and Ben" in out
    assert "the series stays as it is" in out
    notice = program.only("coordinator@example.org", "Pair ana-ben needs attention")
    assert "The new meeting cadence does not fit this pair" in notice["Subject"]
    assert "continue on the old cadence" in body(notice)
    # told once; the pair is checked again on every tick
    out = program.tick("2027-03-20T10:00")
    assert "does not fit" in out and "coordinator" not in out


def test_a_new_address_gets_the_invitation_again(program: Program) -> None:
    edit(program, ("email: fay@example.ke", "email: fay@new.example.ke"))
    out = program.tick("2027-03-03T09:00")
    assert "config change: Fay Njeri (mentee of eli-fay): new address" in out
    assert "did: eli-fay: invitation -> mentee" in out
    assert "invitation -> mentor" not in out  # Eli's copy is unchanged
    email = program.only("fay@new.example.ke", "Invitation:")
    assert "this time to your new address, fay@new.example.ke" in body(email)
    method, events = calendar_of(email)
    assert method == "REQUEST"
    assert "mailto:fay@new.example.ke" in {str(a).lower() for a in events[0]["ATTENDEE"]}


def test_a_new_video_link_updates_the_invitations(program: Program) -> None:
    edit(
        program,
        (
            "meetings: {every: 1w, duration: 45m}",
            'meetings: {every: 1w, duration: 45m, video_link: "https://video.example.org/{pair}"}',
        ),
    )
    out = program.tick("2027-03-03T09:00")
    assert "new video link https://video.example.org/{pair}" in out
    assert out.count("invitation -> ") == 6
    email = program.only("ben.becker@example.net", "new video link")
    assert "https://video.example.org/ana-ben" in body(email)
    _, events = calendar_of(email)
    assert str(events[0]["LOCATION"]) == "https://video.example.org/ana-ben"


def test_a_removed_pair_that_comes_back_starts_afresh(program: Program) -> None:
    pair = "  - {id: ana-ben, mentor: ana, mentee: ben}\n"
    edit(program, (pair, ""))
    program.tick("2027-03-10T09:00")
    edit(program, ("pairs:\n", "pairs:\n" + pair))
    out = program.tick("2027-03-11T09:00")
    assert "add pair ana-ben again, afresh" in out
    assert "ana-ben: welcome -> mentor" in out
    welcomes = [m for m in program.sent("ana@example.org") if "Welcome" in m["Subject"]]
    assert len(welcomes) == 2


# -- pure details ----------------------------------------------------------------------------


def test_offered_times_are_booked_with_a_changed_cadence(write_config) -> None:
    from agent.pairs.planner import plan_pair, search_series, series_uid
    from agent.pairs.program import PairState, Series, Stage

    cfg = load_config(write_config(THREE_PAIRS))
    pair = cfg.pairs[2]  # eli-fay: wide common hours
    now = datetime(2027, 2, 16, 9, tzinfo=BERLIN)
    found = search_series(cfg, pair, now, count=2)
    options = [Series.from_slot(series_uid(cfg, pair), s) for s in found.slots]
    state = PairState(
        pair_id=pair.id,
        stage=Stage.AGREED,
        welcomed={"mentor": now, "mentee": now},
        agreement_sent={"mentor": now, "mentee": now},
        agreed={"mentor": now, "mentee": now},
        offered=options,
        offered_at=now,
        chosen=2,
    )
    longer = load_config(
        write_config(
            THREE_PAIRS.replace("every: 1w, duration: 45m", "every: 2w, duration: 1h, offer: 2"),
            "x.yaml",
        )
    )
    book = next(a for a in plan_pair(longer, longer.pairs[2], state, now) if a.kind == "book")
    assert (book.series.interval_weeks, book.series.duration_minutes) == (2, 60)
    assert book.series.first_start == options[1].first_start  # the time they picked


def test_both_people_replaced_at_once(write_config) -> None:
    from agent.pairs.program import PairState, Replaced, Series, Stage, apply

    start = datetime(2027, 3, 1, 14, 30, tzinfo=BERLIN)
    series = Series(
        uid="u",
        tz="Europe/Berlin",
        first_start=start,
        duration_minutes=45,
        interval_weeks=1,
        until=start + timedelta(weeks=10),
    )
    people = {
        r: Member(id=r[:3], name=f"{r.title()} Person", email=f"{r}@x.org", role=r, timezone="UTC")
        for r in ("mentor", "mentee")
    }
    state = PairState(
        pair_id="p",
        stage=Stage.ACTIVE,
        welcomed={"mentor": start, "mentee": start},
        agreed={"mentor": start, "mentee": start},
        series=series,
    )
    now = start + timedelta(weeks=2)
    state = apply(state, Replaced("mentor", people["mentor"], people["mentee"], now))
    state = apply(state, Replaced("mentee", people["mentee"], people["mentor"], now))
    first, second = state.departed
    assert first.partner_welcomed is False  # the mentee leaves too: no "new mentor" email
    assert second.series is not None and second.series.status == "cancelled"  # their CANCEL
    assert second.done == ["calendar"]  # stored once, by the first departure
    assert state.stage == Stage.INVITED and state.round == 2 and state.agreed == {}
