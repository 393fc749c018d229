"""Real calendar clients' iTIP answers, replayed onto a series the agent booked.

Each file of ../shared/corpora/itip/ is sent as its client sends it: the same iCalendar
text (its zones, folding quirks, extra attendees) with the UID, the addresses and the
dates rewritten onto ana-ben's booked series, in the client's own MIME layout and with
From the attendee. What each method and PARTSTAT must do is in
agent/pairs/calendar_answers.py.
"""

from __future__ import annotations

import email
import email.policy
import json
import quopri
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from agent.state.opening import reading
from tests.test_lifecycle_e2e import Program, at
from tests.test_reschedule_e2e import ANA, BEN, both_agree, invitations, needs_you

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "itip"
COORDINATOR = "coordinator@example.org"
# The zones the corpus files name, as the agent's parser resolves them.
ZONES = {
    "Europe/Zurich": ZoneInfo("Europe/Zurich"),
    "Pacific Standard Time": ZoneInfo("America/Los_Angeles"),
    "US/Pacific": ZoneInfo("America/Los_Angeles"),
    "Eastern Standard Time": ZoneInfo("America/New_York"),
    "Europe/London": ZoneInfo("Europe/London"),
}
EASTERN_VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Eastern Standard Time\r\nBEGIN:STANDARD\r\n"
    "DTSTART:16010101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0500\r\n"
    "TZOFFSETTO:-0400\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3\r\n"
    "END:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


@pytest.fixture
def booked(tmp_path: Path, cli) -> Program:
    program = both_agree(Program(tmp_path, cli))
    assert program.status("2027-02-16T09:00")["ana-ben"]["stage"] == "scheduled"
    return program


def series(program: Program) -> tuple[str, ZoneInfo, list[datetime]]:
    """ana-ben's series UID, its zone and its meetings' starts."""
    with reading(program.root / "state.json") as store:
        s = store.pair_state("ana-ben").series
    assert s is not None
    return s.uid, ZoneInfo(s.tz), s.starts()


def replies(program: Program) -> list[dict[str, Any]]:
    with reading(program.root / "state.json") as store:
        return [e for e in store.log("ana-ben") if e.get("kind") == "meeting_reply"]


def calendar_notes(program: Program) -> list[str]:
    with reading(program.root / "state.json") as store:
        return [str(e["text"]) for e in store.log("ana-ben") if e.get("kind") == "calendar"]


# --- rewriting a client's iCalendar text onto our series ----------------------------------


def unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", text).replace("\r\n", "\n")


def date_value(line: str, moment: datetime, series_zone: ZoneInfo) -> str:
    """`line` (NAME;params:value) with its value set to `moment` in the line's own style."""
    head, _, value = line.partition(":")
    if "VALUE=DATE" in head.upper() and "DATE-TIME" not in head.upper():
        return f"{head}:{moment.astimezone(series_zone):%Y%m%d}"
    tzid = re.search(r'TZID="?([^";:]+)"?', head)
    if tzid:
        zone = ZONES[tzid.group(1)]
        stamp = f"{moment.astimezone(zone):%Y%m%dT%H%M%S}"
        return f"{head}:{stamp}Z" if value.endswith("Z") else f"{head}:{stamp}"  # Yahoo: both
    if value.endswith("Z"):
        return f"{head}:{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{head}:{moment.astimezone(series_zone):%Y%m%dT%H%M%S}"  # floating


def rewrite(
    text: str,
    *,
    uid: str | None,
    addresses: dict[str, str],
    series_zone: ZoneInfo,
    start: datetime,
    recurrence: datetime | None = None,
) -> str:
    """The client's text onto our series: UID, addresses, DTSTART/DTEND and RECURRENCE-ID."""
    out = []
    for line in unfold(text).split("\n"):
        name = re.split(r"[;:]", line, maxsplit=1)[0].upper()
        if name == "UID" and uid is not None:
            line = f"UID:{uid}"
        elif name == "DTSTART" and uid is not None and not line.startswith(" "):
            line = date_value(line, start, series_zone)
        elif name == "DTEND" and uid is not None:
            line = date_value(line, start + timedelta(minutes=45), series_zone)
        elif name == "RECURRENCE-ID" and recurrence is not None:
            line = date_value(line, recurrence, series_zone)
        for theirs, ours in addresses.items():
            line = re.sub(re.escape(theirs), ours, line, flags=re.IGNORECASE)
        out.append(line)
    return "\r\n".join(out)


def from_attendee(
    ics: str, method: str, *, layout: str, subject: str, when: datetime, to: str
) -> EmailMessage:
    """The email a client sends with its answer, From the attendee (Ana)."""
    message = EmailMessage()
    message["From"] = f"Ana Alvarez <{ANA}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain="example.org")
    body = f"{subject}\n"
    data = ics.encode()
    if layout == "outlook":  # inline text/calendar in the alternative, as Exchange sends it
        message.set_content(body)
        message.add_alternative(f"<p>{subject}</p>", subtype="html")
        message.add_alternative(data, "text", "calendar", params={"method": method})
    elif layout == "google":  # inline part and the same again as invite.ics
        message.set_content(body)
        message.add_alternative(data, "text", "calendar", params={"method": method})
        message.make_mixed()
        message.add_attachment(data, "application", "ics", filename="invite.ics")
    else:  # KMail and most others: text plus a text/calendar attachment
        message.set_content(body)
        message.add_attachment(
            data, "text", "calendar", filename="cal.ics", params={"method": method}
        )
    return message


def answer(
    program: Program,
    ics: str,
    method: str,
    *,
    layout: str,
    prefix: str = "",
    subject: str = "",
    sent: str = "2027-02-17T10:00",
    tick: str = "2027-02-17T11:00",
) -> None:
    """Ana's client answers her invitation with `ics` (subject "<prefix>: <invitation's>"
    as clients write it, or `subject`); then the agent ticks."""
    invitation = invitations(program, ANA)[0]
    program.deliver(
        from_attendee(
            ics,
            method,
            layout=layout,
            subject=subject or f"{prefix}: {invitation['Subject']}",
            when=at(sent),
            to=invitation["Reply-To"],
        )
    )
    program.tick(tick)


def corpus(name: str) -> str:
    raw = (CORPUS / name).read_bytes()
    if name.endswith(".qp.ics"):
        # KMail's QP body, decoded as a receiving client does; its X-UID parameters carry a
        # literal "=" that QP would read as an escape, so they are protected first
        raw = quopri.decodestring(raw.replace(b"X-UID=", b"X-UID=3D"))
    return raw.decode("utf-8")


# --- the corpus, file by file -------------------------------------------------------------


def test_apple_ical_accepts_in_its_own_mime_layout(booked: Program) -> None:
    """Apple Mail + iCal 3: a QP attachment in a mixed part inside an alternative."""
    uid, zone, starts = series(booked)
    original = email.message_from_bytes(
        (CORPUS / "apple-ical3-mail-reply-accepted.eml").read_bytes(), policy=email.policy.default
    )
    addresses = {"xyzzy@example.com": ANA}
    for part in original.walk():
        if part.get_content_type() == "text/calendar":
            ics = rewrite(
                part.get_content(),
                uid=uid,
                addresses={
                    **addresses,
                    "ical-living-on+d7cdf68d-8b73-4df1-ad3b-f08002fb285f@example.com": (
                        "mentoring@example.org"
                    ),
                },
                series_zone=zone,
                start=starts[0],
            )
            part.set_content(ics.encode(), "text", "calendar", cte="quoted-printable")
    for header in ("From", "To", "Date", "Message-id", "Return-path", "Original-recipient"):
        del original[header]
    original["From"] = f"Ana Alvarez <{ANA}>"
    original["To"] = invitations(booked, ANA)[0]["Reply-To"]
    original["Date"] = format_datetime(at("2027-02-17T10:00"))
    original["Message-ID"] = make_msgid(domain="example.org")
    booked.deliver(original)  # type: ignore[arg-type]
    booked.tick("2027-02-17T11:00")
    (entry,) = replies(booked)
    assert entry["text"] == "REPLY accepted" and entry["by"] == "mentor"
    assert needs_you(booked) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("korganizer-reply-accepted.ics", "REPLY accepted"),
        ("korganizer-reply-tentative.ics", "REPLY tentative"),
    ],
)
def test_korganizer_answers_are_logged_for_the_sender(
    booked: Program, name: str, expected: str
) -> None:
    uid, zone, starts = series(booked)
    ics = rewrite(
        corpus(name),
        uid=uid,
        addresses={"testuserb@example.com": ANA, "testusera@example.com": "mentoring@example.org"},
        series_zone=zone,
        start=starts[0],
    )
    answer(booked, ics, "REPLY", layout="kmail", prefix="Answer")
    assert [e["text"] for e in replies(booked)] == [expected]
    assert needs_you(booked) == []


def test_a_delegation_to_someone_outside_the_pair_reaches_the_coordinator(
    booked: Program,
) -> None:
    uid, zone, starts = series(booked)
    ics = rewrite(
        corpus("korganizer-reply-delegated.ics"),
        uid=uid,
        addresses={"testuserb@example.com": ANA, "testusera@example.com": "mentoring@example.org"},
        series_zone=zone,
        start=starts[0],
    )
    answer(booked, ics, "REPLY", layout="kmail", prefix="Delegated")
    assert [e["text"] for e in replies(booked)] == ["REPLY delegated"]
    (notice,) = needs_you(booked)
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert "emanuel.schuetze@intevation.de" in body and "delegated" in body


def test_exchange_declines_the_series_and_the_coordinator_hears(booked: Program) -> None:
    uid, zone, starts = series(booked)
    ics = rewrite(
        corpus("exchange2010-reply-declined.ics"),
        uid=uid,
        addresses={"calendar@gmail.com": ANA},
        series_zone=zone,
        start=starts[0],
    )
    answer(booked, ics, "REPLY", layout="outlook", prefix="Declined")
    assert [e["text"] for e in replies(booked)] == ["REPLY declined"]
    (notice,) = needs_you(booked)
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert "declined the whole meeting series" in body


def test_the_partners_attendee_line_is_not_taken_for_the_senders_answer(
    booked: Program,
) -> None:
    """Exchange lists the partner too (no PARTSTAT: NEEDS-ACTION): only Ana's counts."""
    uid, zone, starts = series(booked)
    ics = rewrite(
        corpus("exchange2010-reply-two-attendees.ics"),
        uid=uid,
        addresses={"calendar@gmail.com": ANA, "calendar@microsoft.com": BEN},
        series_zone=zone,
        start=starts[0],
    )
    answer(booked, ics, "REPLY", layout="google", prefix="Declined")  # inline and invite.ics
    assert [(e["text"], e["by"]) for e in replies(booked)] == [("REPLY declined", "mentor")]


def test_a_korganizer_counter_listing_four_attendees_moves_the_meeting_once(
    booked: Program,
) -> None:
    uid, zone, starts = series(booked)
    upcoming = [s for s in starts if s > at("2027-03-03T00:00")]
    proposed = upcoming[0] + timedelta(days=1)  # the next day, same time: inside both hours
    ics = rewrite(
        corpus("korganizer-counter.qp.ics"),
        uid=uid,
        addresses={
            "testuserb@example.com": ANA,
            "testusera@example.com": "mentoring@example.org",
            "testuserc@example.com": BEN,
        },
        series_zone=zone,
        start=proposed,
    )
    answer(
        booked,
        ics,
        "COUNTER",
        layout="kmail",
        prefix="Counter proposal",
        sent="2027-03-03T10:00",
        tick="2027-03-03T11:00",
    )
    with reading(booked.root / "state.json") as store:
        moved = [e for e in store.log("ana-ben") if str(e.get("text", "")).startswith("meeting of")]
        state = store.pair_state("ana-ben")
    assert len(moved) == 1, moved
    assert state.series is not None and proposed in state.series.starts()
    assert needs_you(booked) == []


def test_zimbra_cancelling_one_occurrence_is_a_decline_of_that_meeting(booked: Program) -> None:
    uid, zone, starts = series(booked)
    third = starts[2]
    ics = rewrite(
        corpus("zimbra-cancel-occurrence.ics"),
        uid=uid,
        addresses={"unittests@dev.nul": ANA, "their-email@dev.nul": "mentoring@example.org"},
        series_zone=zone,
        start=third,
        recurrence=third,
    )
    answer(booked, ics, "CANCEL", layout="outlook", prefix="Cancelled")
    (entry,) = replies(booked)
    assert entry["text"] == f"REPLY declined for {third.astimezone(zone).date().isoformat()}"
    assert entry["method"] == "CANCEL"
    assert entry["occurrence"] == third.astimezone(UTC).isoformat()


@pytest.mark.parametrize(
    "name",
    [
        "google-request.ics",
        "exchange2010-request-pacific.ics",
        "blackberry-bis-request-allday.ics",
        "yahoo-request.ics",
        "exchange-cdo-request-gmt0100.ics",
    ],
)
def test_a_participants_own_invitation_is_kept_and_changes_nothing(
    booked: Program, name: str
) -> None:
    """Someone forwards (or their client sends) an invitation of their own event: it is not
    the program's, so it changes nothing and, as it does not name the program, nobody is
    bothered; one note in the log says what it was."""
    text = corpus(name)
    method = re.search(r"^METHOD:(\w+)", text, re.M)
    before = booked.status("2027-02-17T09:00")["ana-ben"]
    kind = method.group(1) if method else "REQUEST"
    answer(booked, text, kind, layout="outlook", subject="Invitation: dentist")
    assert replies(booked) == []
    assert len(calendar_notes(booked)) == 1, calendar_notes(booked)
    assert needs_you(booked) == []
    after = booked.status("2027-02-17T11:00")["ana-ben"]
    assert after["meetings"] == before["meetings"]


# --- our own cases, each rule in a client's style -----------------------------------------


def outlook_one_meeting(
    uid: str, recurrence: datetime, partstat: str, *, zone_line: str, value: str
) -> str:
    return (
        "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:Microsoft Exchange Server 2010\r\n"
        f"VERSION:2.0\r\n{EASTERN_VTIMEZONE}BEGIN:VEVENT\r\n"
        f"ATTENDEE;PARTSTAT={partstat};CN=Ana Alvarez:mailto:{ANA}\r\n"
        "COMMENT;LANGUAGE=en-US:Sorry\\, I'm travelling that week.\r\n"
        f"UID:{uid}\r\n{zone_line}:{value}\r\n"
        "SEQUENCE:0\r\nDTSTAMP:20270217T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_outlook_declines_one_meeting_in_a_windows_zone(booked: Program) -> None:
    """RECURRENCE-ID;TZID="Eastern Standard Time": the meeting Ana means, in her zone."""
    uid, zone, starts = series(booked)
    third = starts[2]
    local = third.astimezone(ZoneInfo("America/New_York"))
    ics = outlook_one_meeting(
        uid,
        third,
        "DECLINED",
        zone_line='RECURRENCE-ID;TZID="Eastern Standard Time"',
        value=f"{local:%Y%m%dT%H%M%S}",
    )
    answer(booked, ics, "REPLY", layout="outlook", prefix="Declined")
    (entry,) = replies(booked)
    assert entry["text"] == f"REPLY declined for {third.astimezone(zone).date().isoformat()}"
    assert entry["occurrence"] == third.astimezone(UTC).isoformat()
    assert entry["comment"] == "Sorry, I'm travelling that week."
    assert needs_you(booked) == []  # one meeting declined is the pair's business


@pytest.mark.parametrize(
    ("zone_line", "style"),
    [
        ("RECURRENCE-ID", "utc"),
        ("RECURRENCE-ID", "floating"),
        ("RECURRENCE-ID;VALUE=DATE", "date"),
        ("RECURRENCE-ID;TZID=America/New_York", "iana"),
    ],
)
def test_a_meeting_named_in_any_style_is_the_same_meeting(
    booked: Program, zone_line: str, style: str
) -> None:
    uid, zone, starts = series(booked)
    fourth = starts[3]
    value = {
        "utc": f"{fourth.astimezone(UTC):%Y%m%dT%H%M%SZ}",
        "floating": f"{fourth.astimezone(zone):%Y%m%dT%H%M%S}",
        "date": f"{fourth.astimezone(zone):%Y%m%d}",
        "iana": f"{fourth.astimezone(ZoneInfo('America/New_York')):%Y%m%dT%H%M%S}",
    }[style]
    ics = outlook_one_meeting(uid, fourth, "TENTATIVE", zone_line=zone_line, value=value)
    answer(booked, ics, "REPLY", layout="kmail", prefix="Tentative")
    (entry,) = replies(booked)
    assert entry["occurrence"] == fourth.astimezone(UTC).isoformat()
    assert entry["text"] == f"REPLY tentative for {fourth.astimezone(zone).date().isoformat()}"


def test_a_meeting_the_series_does_not_have_is_not_applied(booked: Program) -> None:
    uid, _zone, starts = series(booked)
    wrong = starts[2] + timedelta(hours=5)
    ics = outlook_one_meeting(
        uid, wrong, "DECLINED", zone_line="RECURRENCE-ID", value=f"{wrong:%Y%m%dT%H%M%SZ}"
    )
    answer(booked, ics, "REPLY", layout="outlook", prefix="Declined")
    assert replies(booked) == []
    (notice,) = needs_you(booked)
    assert "series does not have" in notice.get_body(preferencelist=("plain",)).get_content()


def test_an_answer_to_someone_elses_event_is_never_applied(booked: Program) -> None:
    """A REPLY whose UID is not the pair's series (Ana answered another organizer's event
    to the program's address): not a decline of the series; the coordinator is told."""
    _, _zone, starts = series(booked)
    ics = outlook_one_meeting(
        "040000008200E00074C5B7101A82E00800000000D0F0A6C4@outlook.example",
        starts[0],
        "DECLINED",
        zone_line="DTSTART",
        value=f"{starts[0]:%Y%m%dT%H%M%SZ}",
    ).replace("SUMMARY", "X-SUMMARY")
    answer(booked, ics, "REPLY", layout="outlook", subject="Declined: Team lunch")
    assert replies(booked) == []
    (notice,) = needs_you(booked)
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert "not one of the program's meetings" in body


def test_an_answer_that_names_only_someone_else_is_not_theirs(booked: Program) -> None:
    """Ana's client sends a REPLY whose only ATTENDEE is Ben (a forwarded invitation):
    neither Ana's nor Ben's answer; the coordinator sees it."""
    uid, _zone, starts = series(booked)
    ics = outlook_one_meeting(
        uid, starts[0], "DECLINED", zone_line="DTSTART", value=f"{starts[0]:%Y%m%dT%H%M%SZ}"
    ).replace(f"mailto:{ANA}", f"mailto:{BEN}")
    answer(booked, ics, "REPLY", layout="outlook", prefix="Declined")
    assert replies(booked) == []
    (notice,) = needs_you(booked)
    assert BEN.lower() in notice.get_body(preferencelist=("plain",)).get_content().lower()


def test_a_declined_meeting_is_counted_declined_in_the_report(booked: Program, cli) -> None:
    uid, _zone, starts = series(booked)
    first = starts[0]
    ics = outlook_one_meeting(
        uid,
        first,
        "DECLINED",
        zone_line='RECURRENCE-ID;TZID="Eastern Standard Time"',
        value=f"{first.astimezone(ZoneInfo('America/New_York')):%Y%m%dT%H%M%S}",
    )
    answer(booked, ics, "REPLY", layout="outlook", prefix="Declined")
    later = (first + timedelta(days=8)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    out = booked.root / "report.json"
    code, _, err = cli(
        "report", "--config", booked.config, "--format", "json", "--now", later, "-o", out
    )
    assert code == 0, err
    data = json.loads(out.read_text())
    pair = next(p for p in data["pairs"] if p["id"] == "ana-ben")
    assert pair["meetings_declined"] == 1 and pair["meetings_held"] == 1


# --- what an answer changes ---------------------------------------------------------------


def follow_ups(program: Program, to: str) -> list[EmailMessage]:
    return [m for m in program.sent(to) if m["Subject"].startswith("How did your meeting")]


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def test_a_meeting_declined_in_the_calendar_gets_no_follow_up(booked: Program) -> None:
    """Ana declines the first meeting in Outlook: nobody is asked how it went; the second
    meeting, which nobody declined, gets its follow-ups as usual."""
    uid, _zone, starts = series(booked)
    first, second = starts[0], starts[1]
    ics = outlook_one_meeting(
        uid,
        first,
        "DECLINED",
        zone_line='RECURRENCE-ID;TZID="Eastern Standard Time"',
        value=f"{first.astimezone(ZoneInfo('America/New_York')):%Y%m%dT%H%M%S}",
    )
    answer(booked, ics, "REPLY", layout="outlook", prefix="Declined")
    booked.tick(stamp(first + timedelta(hours=4)))
    assert follow_ups(booked, ANA) == [] and follow_ups(booked, BEN) == []
    booked.tick(stamp(second + timedelta(hours=4)))
    assert len(follow_ups(booked, ANA)) == 1 and len(follow_ups(booked, BEN)) == 1


def test_a_calendar_asking_for_the_invitation_again_gets_it_once(booked: Program) -> None:
    """Thunderbird's REFRESH (RFC 5546 3.2.6): the current invitation goes to Ana again,
    to her configured address, once however often the agent ticks."""
    uid, _zone, _starts = series(booked)
    before = len(invitations(booked, ANA))
    ics = (
        "BEGIN:VCALENDAR\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
        "VERSION:2.0\r\nMETHOD:REFRESH\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nORGANIZER:mailto:mentoring@example.org\r\n"
        f"ATTENDEE:mailto:{ANA}\r\nDTSTAMP:20270217T100000Z\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    booked.deliver(
        from_attendee(
            ics,
            "REFRESH",
            layout="kmail",
            subject="Refresh: " + invitations(booked, ANA)[0]["Subject"],
            when=at("2027-02-17T10:00"),
            to=invitations(booked, ANA)[0]["Reply-To"],
        )
    )
    booked.tick("2027-02-17T11:00")
    booked.tick("2027-02-17T12:00")
    again = invitations(booked, ANA)
    assert len(again) == before + 1
    assert len(invitations(booked, BEN)) == 1  # Ben did not ask
    assert needs_you(booked) == []


def test_a_counter_that_does_not_fit_is_explained_in_words(booked: Program) -> None:
    """Outlook proposes a Saturday with its own VTIMEZONE: the coordinator reads the time
    on Ana's clock with her zone's name, never a Python object or a raw offset."""
    uid, _zone, starts = series(booked)
    meeting = next(s for s in starts if s > at("2027-03-03T00:00"))
    saturday = meeting + timedelta(days=(5 - meeting.weekday()) % 7)
    eastern = ZoneInfo("America/New_York")
    ics = (
        "BEGIN:VCALENDAR\r\nMETHOD:COUNTER\r\nPRODID:Microsoft Exchange Server 2010\r\n"
        f"VERSION:2.0\r\n{EASTERN_VTIMEZONE}BEGIN:VEVENT\r\n"
        f"ATTENDEE;PARTSTAT=TENTATIVE;CN=Ana Alvarez:mailto:{ANA}\r\n"
        f"UID:{uid}\r\n"
        'RECURRENCE-ID;TZID="Eastern Standard Time":'
        f"{meeting.astimezone(eastern):%Y%m%dT%H%M%S}\r\n"
        f'DTSTART;TZID="Eastern Standard Time":{saturday.astimezone(eastern):%Y%m%dT%H%M%S}\r\n'
        f'DTEND;TZID="Eastern Standard Time":'
        f"{(saturday + timedelta(minutes=45)).astimezone(eastern):%Y%m%dT%H%M%S}\r\n"
        "SEQUENCE:0\r\nDTSTAMP:20270303T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    answer(
        booked,
        ics,
        "COUNTER",
        layout="outlook",
        prefix="New Time Proposed",
        sent="2027-03-03T10:00",
        tick="2027-03-03T11:00",
    )
    (notice,) = needs_you(booked)
    body = notice.get_body(preferencelist=("plain",)).get_content()
    local = saturday.astimezone(eastern)
    assert f"Saturday {local.day} {local:%B %H:%M} (America/New_York)" in body
    assert "tzicalvtz" not in body and "<" not in body.split("proposes")[1].split("\n")[0]
    # Ana's calendar hears back: a DECLINECOUNTER for that meeting, with the reason, once
    booked.tick("2027-03-03T12:00")
    (declined,) = [m for m in booked.sent(ANA) if "Your proposed time" in m["Subject"]]
    part = next(p for p in declined.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "DECLINECOUNTER"
    calendar = icalendar.Calendar.from_ical(part.get_content())
    assert str(calendar["METHOD"]) == "DECLINECOUNTER"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == uid and event["RECURRENCE-ID"].dt == meeting.astimezone(UTC)
    assert "outside" in str(event["COMMENT"])
    text = declined.get_body(preferencelist=("plain",)).get_content()
    assert "stays where it was" in text and "outside" in text
