"""`mentormail report`: the numbers (JSON, CSV) and the page (HTML, in a real browser).

One program is run once for the module, on the embedded default through the CLI with
`--now`, with replies delivered at chosen times, so every expected number below comes
from the scenario (when a reply was written, after which email), not from the code
under test. Ben's name and one of his replies carry markup, to prove it stays text.
"""

from __future__ import annotations

import contextlib
import csv
import email.policy
import html
import io
import json
import mailbox
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.commands.cli import main
from agent.config.loading import load_config
from agent.pairs.program import PairState, Series, Stage
from agent.reports.report import (
    iso_week,
    meeting_occurrences,
    pause_intervals,
    report_csv,
    report_data,
    write_report,
)
from agent.reports.report_html import report_html
from agent.state.opening import open_store, reading
from tests.browser import BrowserError, chromium, open_page, read_png
from tests.conftest import THREE_PAIRS
from tests.mta import stamp

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2027, 2, 15, 9, 0, tzinfo=BERLIN)  # the first tick: welcomes and agreements
NAME_PAYLOAD = "<script>window.pwned=1</script>"
REPLY_PAYLOAD = '<script>window.pwned=2</script><img src=x onerror="window.pwned=3">'
CONFIG = THREE_PAIRS.replace(
    "name: Ben Becker", f'name: "Ben {NAME_PAYLOAD} Becker"'
)  # the program office typed what Ben put in a sign-up form


def _cli(*args: object) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    assert code == 0, out.getvalue() + err.getvalue()
    return out.getvalue()


@dataclass
class Scenario:
    root: Path
    config: Path
    now: datetime = T0
    first: dict[str, datetime] = field(default_factory=dict)  # each pair's first meeting
    series: dict[str, Series] = field(default_factory=dict)
    replies: list[tuple[str, str, float]] = field(default_factory=list)  # (pair, role, hours)
    ratings: list[tuple[str, str, int, datetime]] = field(default_factory=list)
    paused_at: datetime | None = None

    def tick(self, when: datetime) -> None:
        _cli("tick", "--config", self.config, "--now", when.isoformat())

    def last_email(self, pair: str, kind: str, role: str) -> tuple[EmailMessage, datetime]:
        """The latest email of `kind` the agent sent to `role` of `pair`, and when."""
        with reading(self.root / "state.json") as store:
            action = max(
                (
                    a
                    for a in store.actions()
                    if a.get("pair") == pair and a.get("kind") == kind and a.get("role") == role
                ),
                key=lambda a: a["done_at"],
            )
        parser = BytesParser(policy=email.policy.default)
        for path in (self.root / "mail" / "sent").glob("*/*"):
            message = parser.parsebytes(path.read_bytes())
            if str(message["Message-ID"]).strip("<>") == action["message_id"]:
                return message, datetime.fromisoformat(action["done_at"])  # type: ignore[return-value]
        raise AssertionError(f"no sent email for {action['key']}")

    def reply(
        self, pair: str, kind: str, role: str, sender: str, text: str, *, at: datetime
    ) -> None:
        """`sender` answers the latest `kind` email at `at`; the agent reads it at `at`."""
        original, sent_at = self.last_email(pair, kind, role)
        message = EmailMessage()
        message["From"] = sender
        message["To"] = original["Reply-To"]
        message["Subject"] = "Re: " + original["Subject"]
        message["Date"] = format_datetime(at)
        message["Message-ID"] = make_msgid(domain="mail.example")
        message["In-Reply-To"] = original["Message-ID"]
        message.set_content(f"{text}\n\n> (quoted original)\n")
        mailbox.Maildir(self.root / "mail" / "inbox").add(
            stamp(message.as_bytes(policy=email.policy.SMTP))  # as the receiving MTA would
        )
        self.tick(at)
        self.replies.append((pair, role, (at - sent_at).total_seconds() / 3600))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Three pairs. ana-ben agree, meet and rate; chen-dina agree, meet once and pause;
    Eli declines the agreement and Fay never answers."""
    root = tmp_path_factory.mktemp("program")
    config = root / "program.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    s = Scenario(root, config)
    s.tick(T0)
    hours = timedelta(hours=1)
    s.reply(
        "eli-fay",
        "agreement",
        "mentor",
        "eli@example.es",
        "I have to decline, sorry.",
        at=T0 + 2 * hours,
    )
    s.reply("ana-ben", "agreement", "mentor", "ana@example.org", "I agree!", at=T0 + 3 * hours)
    s.reply("chen-dina", "agreement", "mentor", "chen@example.com", "I agree.", at=T0 + 5 * hours)
    s.reply(
        "chen-dina", "agreement", "mentee", "dina@example.co.uk", "I agree.", at=T0 + 10 * hours
    )
    s.reply(
        "ana-ben", "agreement", "mentee", "Ben.Becker@example.net", "I agree.", at=T0 + 24 * hours
    )
    with reading(root / "state.json") as store:
        for pair in ("ana-ben", "chen-dina"):
            series = store.pair_state(pair).series
            assert series is not None, f"{pair} was not booked"
            s.series[pair] = series
            # anchored in a participant's zone; the report speaks the program's
            s.first[pair] = series.first_start.astimezone(BERLIN)
    # after each pair's first meeting: follow-ups, answered with ratings, or a pause;
    # in time order, whichever pair met first
    follow_ab = s.first["ana-ben"] + 3 * hours
    follow_cd = s.first["chen-dina"] + 3 * hours
    rated = follow_ab + 4 * hours
    s.paused_at = follow_cd + 3 * hours
    later: list[tuple[datetime, tuple[str, ...]]] = [
        (follow_ab, ()),  # only a tick: the follow-ups go out
        (follow_cd, ()),
        (
            rated,
            (
                "ana-ben",
                "follow_up",
                "mentor",
                "ana@example.org",
                "Good first session. Rating: 5/5",
            ),
        ),
        (
            rated + 2 * hours,
            (
                "ana-ben",
                "follow_up",
                "mentee",
                "Ben.Becker@example.net",
                f"We planned my first project. Rating: 4/5\n{REPLY_PAYLOAD}",
            ),
        ),
        (
            s.paused_at,
            (
                "chen-dina",
                "follow_up",
                "mentee",
                "dina@example.co.uk",
                "We need to pause the mentoring for a few weeks, sorry.",
            ),
        ),
    ]
    for when, answer in sorted(later, key=lambda item: item[0]):
        if answer:
            s.reply(*answer, at=when)
        else:
            s.tick(when)
    s.ratings = [
        ("ana-ben", "mentor", 5, rated),
        ("ana-ben", "mentee", 4, rated + 2 * hours),
    ]
    # two weeks on: ana-ben's third meeting is over and nobody has been quiet for 14 days
    s.now = s.first["ana-ben"] + timedelta(days=14, hours=6)
    s.tick(s.now)
    return s


@pytest.fixture(scope="module")
def data(scenario: Scenario) -> dict[str, Any]:
    """The JSON report, through `mentormail report`."""
    now = scenario.now.isoformat()
    return json.loads(_cli("report", "--config", scenario.config, "--format", "json", "--now", now))


def _ended_by(series: Series, moment: datetime, since: datetime | None = None) -> list[datetime]:
    """Occurrences of the booked series (the calendar's own maths) that ended by `moment`."""
    return [
        o
        for o in series.slot().occurrences()
        if o + series.duration <= moment and (since is None or o >= since)
    ]


# --- the numbers ------------------------------------------------------------------------------


def test_pipeline_counts_pairs_by_stage_reached(data: dict[str, Any]) -> None:
    funnel = {step["step"]: step["pairs"] for step in data["pipeline"]["funnel"]}
    everyone = ["ana-ben", "chen-dina", "eli-fay"]
    assert funnel == {
        "invited": everyone,
        "welcomed": everyone,
        "agreed": ["ana-ben", "chen-dina"],  # Eli declined, Fay never answered
        "booked": ["ana-ben", "chen-dina"],
        "meeting_regularly": ["ana-ben"],  # chen-dina is paused
    }
    pipeline = data["pipeline"]
    assert [s["count"] for s in pipeline["funnel"]] == [3, 3, 2, 2, 1]
    assert (pipeline["paused"], pipeline["declined"], pipeline["at_risk"]) == (1, 1, 2)
    assert pipeline["current"]["active"] == 1 and pipeline["current"]["agreement_pending"] == 1


def test_meetings_per_week_held_paused_and_upcoming(
    scenario: Scenario, data: dict[str, Any]
) -> None:
    pairs = {p["id"]: p for p in data["pairs"]}
    ab_series, cd_series = scenario.series["ana-ben"], scenario.series["chen-dina"]
    held_ab = _ended_by(ab_series, scenario.now)
    assert len(held_ab) == 3  # the first meeting and two more weeks
    assert pairs["ana-ben"]["meetings_held"] == len(held_ab)
    weeks = {w["week"]: w for w in data["weeks"]}
    for start in held_ab:
        assert weeks[iso_week(start, BERLIN)]["pairs"]["ana-ben"]["held"] == 1
    # chen-dina: the first meeting held, every later one that is over fell in the pause
    assert scenario.paused_at is not None
    missed = _ended_by(cd_series, scenario.now, since=scenario.paused_at)
    assert pairs["chen-dina"]["meetings_held"] == 1
    assert pairs["chen-dina"]["meetings_paused"] == len(missed) >= 1
    assert weeks[iso_week(scenario.first["chen-dina"], BERLIN)]["pairs"]["chen-dina"]["held"] == 1
    for start in missed:
        assert weeks[iso_week(start, BERLIN)]["pairs"]["chen-dina"]["paused"] == 1
    # planned: every occurrence of both series; the program-wide rows add up
    planned = len(list(ab_series.slot().occurrences())) + len(list(cd_series.slot().occurrences()))
    assert data["meetings"]["planned"] == planned
    assert data["meetings"]["held"] == len(held_ab) + 1
    for week in data["weeks"]:
        assert (
            week["planned"] == week["held"] + week["upcoming"] + week["paused"] + week["declined"]
        )
    assert pairs["eli-fay"]["meetings_planned"] == 0


def test_response_times_are_hours_since_the_last_email(
    scenario: Scenario, data: dict[str, Any]
) -> None:
    got = sorted((r["pair"], r["role"], r["hours"]) for r in data["responses"]["replies"])
    assert got == sorted(scenario.replies)
    assert ("ana-ben", "mentee", 24.0) in got  # Ben agreed a day after the agreement email
    hours = [h for *_, h in scenario.replies]
    assert data["responses"]["median_hours"] == statistics.median(hours)
    buckets = {b["label"]: b["count"] for b in data["responses"]["buckets"]}
    assert buckets["1-2 days"] == sum(1 for h in hours if 24 <= h < 48)
    assert buckets["1-4 h"] == sum(1 for h in hours if 1 <= h < 4)
    assert sum(buckets.values()) == len(hours)


def test_ratings_per_pair_and_per_week(scenario: Scenario, data: dict[str, Any]) -> None:
    entries = [(r["pair"], r["by"], r["value"], r["week"]) for r in data["ratings"]["entries"]]
    assert entries == [(p, by, v, iso_week(at, BERLIN)) for p, by, v, at in scenario.ratings]
    pairs = {p["id"]: p for p in data["pairs"]}
    assert pairs["ana-ben"]["last_rating"] == scenario.ratings[-1][2]
    weeks = {w["week"]: w for w in data["weeks"]}
    by_week: dict[str, list[int]] = {}
    for _, _, value, at in scenario.ratings:
        by_week.setdefault(iso_week(at, BERLIN), []).append(value)
    for week, values in by_week.items():
        assert weeks[week]["ratings"] == len(values)
        assert weeks[week]["rating_mean"] == statistics.mean(values)


def test_pairs_at_risk_first_with_the_digest_reasons(
    scenario: Scenario, data: dict[str, Any]
) -> None:
    # at risk first, the most reasons first (as in the digest)
    assert [p["id"] for p in data["pairs"]] == ["eli-fay", "chen-dina", "ana-ben"]
    pairs = {p["id"]: p for p in data["pairs"]}
    waited = (scenario.now - T0).days
    eli = pairs["eli-fay"]
    assert eli["risk_codes"] == ["agreement_declined", "no_agreement"]
    assert "declined the agreement" in eli["risk_reasons"][0]
    assert eli["risk_reasons"][1] == f"no agreement after {waited} days"
    assert pairs["chen-dina"]["risk_codes"] == ["paused"]
    assert pairs["chen-dina"]["risk_reasons"] == ["paused"]
    assert pairs["ana-ben"]["risk_reasons"] == [] and not pairs["ana-ben"]["at_risk"]
    assert pairs["ana-ben"]["agreed"] == (T0 + timedelta(hours=24)).isoformat()
    kinds = [e["kind"] for e in pairs["chen-dina"]["timeline"]]
    for kind in ("welcome", "agreement", "agreed", "booked", "meeting_held", "reply", "pause"):
        assert kind in kinds, kind
    assert kinds.index("agreed") < kinds.index("booked") < kinds.index("meeting_held")
    assert pairs["chen-dina"]["pauses"] == [
        {"from": scenario.paused_at.isoformat(), "until": scenario.now.isoformat()}  # type: ignore[union-attr]
    ]


def test_csv_one_row_per_pair_and_a_weeks_file(scenario: Scenario, tmp_path: Path) -> None:
    cfg = load_config(scenario.config)
    out = tmp_path / "report.csv"
    with reading(scenario.root / "state.json") as store:
        said = write_report(cfg, store, scenario.now, "csv", out)
    weeks_file = tmp_path / "report-weeks.csv"
    assert said == f"wrote {out}\nwrote {weeks_file}"
    rows = {r["id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert list(rows) == ["eli-fay", "chen-dina", "ana-ben"]
    ab = rows["ana-ben"]
    assert ab["stage"] == "active" and ab["reached"] == "meeting_regularly"
    assert ab["meetings_held"] == str(len(_ended_by(scenario.series["ana-ben"], scenario.now)))
    assert ab["agreed"] == f"{T0 + timedelta(hours=24):%Y-%m-%d %H:%M}"
    assert ab["mentee"] == f"Ben {NAME_PAYLOAD} Becker"  # text in a cell, as typed
    assert rows["eli-fay"]["at_risk"] == "yes" and rows["chen-dina"]["risk_reasons"] == "paused"
    weeks = {r["week"]: r for r in csv.DictReader(weeks_file.open(encoding="utf-8"))}
    first = iso_week(scenario.first["ana-ben"], BERLIN)
    assert int(weeks[first]["held"]) >= 1
    assert sum(int(r["held"]) for r in weeks.values()) == 3 + 1


def test_csv_cells_cannot_become_formulas() -> None:
    data = {"pairs": [{"id": "x", "mentor": '=HYPERLINK("http://evil")', "mentee": "-1+2"}]}
    row = next(csv.DictReader(io.StringIO(report_csv(data))))
    assert row["mentor"] == '\'=HYPERLINK("http://evil")' and row["mentee"] == "'-1+2"


def test_json_carries_the_same_data_as_written_to_a_file(
    scenario: Scenario, tmp_path: Path, data: dict[str, Any]
) -> None:
    cfg = load_config(scenario.config)
    with reading(scenario.root / "state.json") as store:
        write_report(cfg, store, scenario.now, "json", tmp_path / "r.json")
        direct = report_data(cfg, store, scenario.now)
    assert (
        json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
        == data
        == json.loads(json.dumps(direct))
    )
    assert data["program"]["now"] == scenario.now.isoformat() and data["program"]["pairs"] == 3


# --- pure pieces --------------------------------------------------------------------------------


def test_pause_intervals_pair_pauses_with_resumes() -> None:
    at = [datetime(2027, 3, d, 12, tzinfo=BERLIN) for d in range(1, 8)]
    log = [
        {"kind": "pause", "at": at[0].isoformat()},
        {"kind": "pause", "at": at[1].isoformat()},  # already paused: no new span
        {"kind": "resume", "at": at[2].isoformat()},
        {"kind": "resume", "at": at[3].isoformat()},  # not paused: nothing to end
        {"kind": "pause", "at": at[4].isoformat()},
    ]
    assert pause_intervals(log, at[6]) == [(at[0], at[2]), (at[4], at[6])]


def test_meeting_statuses_moved_skipped_declined_paused_cancelled() -> None:
    first = datetime(2027, 3, 2, 15, 0, tzinfo=BERLIN)
    week = timedelta(weeks=1)
    series = Series(
        uid="u",
        tz="Europe/Berlin",
        first_start=first,
        duration_minutes=45,
        interval_weeks=1,
        until=first + 8 * week,
        moved={"20270309T140000Z": first + week + timedelta(days=1)},  # 2nd: a day later
        skipped=[first + 2 * week],  # 3rd: skipped
    )
    now = first + 5 * week + timedelta(hours=2)
    statuses = meeting_occurrences(
        series,
        now,
        pauses=[(first + 3 * week - timedelta(hours=1), first + 4 * week - timedelta(hours=1))],
        declined_days={f"{first + 5 * week:%Y-%m-%d}"},
        cancelled_at=first + 7 * week - timedelta(hours=1),
    )
    assert [(m["start"], m["status"]) for m in statuses] == [
        (first, "held"),
        (first + week + timedelta(days=1), "held"),  # moved, held at its new time
        (first + 2 * week, "skipped"),
        (first + 3 * week, "paused"),
        (first + 4 * week, "held"),
        (first + 5 * week, "declined"),
        (first + 6 * week, "upcoming"),
        # the 8th and 9th come after the series was cancelled: not planned at all
    ]


def test_log_entries_become_meeting_statuses_and_timeline_marks(
    write_config, tmp_path: Path
) -> None:
    """A calendar decline, a pause and a resume, as the store records them."""
    cfg = load_config(write_config(THREE_PAIRS))
    first = datetime(2027, 3, 2, 15, 0, tzinfo=BERLIN)  # a Tuesday, weekly
    week = timedelta(weeks=1)
    at = {
        "declined": first + week - timedelta(days=1),
        "pause": first + 2 * week - timedelta(days=2),
        "resume": first + 3 * week - timedelta(days=1),
        "rating": first + timedelta(hours=4),
    }
    store = open_store(tmp_path / "state.json")
    try:
        state = PairState(
            pair_id="ana-ben",
            stage=Stage.ACTIVE,
            welcomed={"mentor": T0, "mentee": T0},
            agreed={"mentor": T0, "mentee": T0},
            series=Series(
                uid="u",
                tz="Europe/Berlin",
                first_start=first,
                duration_minutes=45,
                interval_weeks=1,
                until=datetime(2027, 5, 31, 9, 0, tzinfo=BERLIN),
            ),
            heard={"mentee": at["resume"]},
        )
        store.save_pair_state(state)
        day = f"{first + week:%Y-%m-%d}"
        store.append_log(
            pair="ana-ben",
            by="mentee",
            at=at["declined"],
            kind="meeting_reply",
            text=f"REPLY declined for {day}",
        )
        store.append_log(pair="ana-ben", by="mentee", at=at["pause"], kind="pause", text="pause")
        store.append_log(pair="ana-ben", by="mentor", at=at["resume"], kind="resume", text="resume")
        store.append_log(
            pair="ana-ben", by="mentor", at=at["rating"], kind="rating", text="2/5", value=2
        )
        now = first + 4 * week + timedelta(hours=3)
        data = report_data(cfg, store, now)
    finally:
        store.close(flush=False)
    pair = next(p for p in data["pairs"] if p["id"] == "ana-ben")
    statuses = [m["status"] for m in pair["meetings"]][:6]
    assert statuses == ["held", "declined", "paused", "held", "held", "upcoming"]
    weeks = {w["week"]: w for w in data["weeks"]}
    assert weeks[iso_week(first + week, BERLIN)]["declined"] == 1
    assert weeks[iso_week(first + 2 * week, BERLIN)]["paused"] == 1
    assert pair["pauses"] == [{"from": at["pause"].isoformat(), "until": at["resume"].isoformat()}]
    assert "last rating 2/5" in pair["risk_reasons"]
    kinds = {e["kind"] for e in pair["timeline"]}
    assert {
        "calendar_declined",
        "pause",
        "resume",
        "rating",
        "meeting_declined",
        "meeting_paused",
    } <= kinds
    page = report_html(data)
    for mark in ("mk-calendar_declined", "mk-meeting_paused", "rating-low", 'class="pause"'):
        assert mark in page, mark


def test_an_untouched_program_reports_every_pair_as_invited(write_config, tmp_path: Path) -> None:
    cfg = load_config(write_config(THREE_PAIRS))
    with reading(tmp_path / "state.json") as store:
        data = report_data(cfg, store, datetime(2027, 2, 1, tzinfo=BERLIN))
        page = write_report(cfg, store, datetime(2027, 2, 1, tzinfo=BERLIN), "html")
    assert [s["count"] for s in data["pipeline"]["funnel"]] == [3, 0, 0, 0, 0]
    assert data["responses"]["median_hours"] is None and data["ratings"]["count"] == 0
    assert "No ratings yet" in page and "No replies yet" in page
    assert not (tmp_path / "state.json").exists()  # reading wrote nothing


# --- the page -----------------------------------------------------------------------------------


def test_participants_markup_is_escaped_everywhere(scenario: Scenario) -> None:
    cfg = load_config(scenario.config)
    with reading(scenario.root / "state.json") as store:
        page = write_report(cfg, store, scenario.now, "html")
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "onerror=&quot;" in page  # Ben's reply, shown as the text he wrote
    assert html.escape(f"Ben {NAME_PAYLOAD} Becker") in page
    assert "https://" not in page and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", ""
    )


def require_chromium() -> None:
    """The browser tests fail, never skip, without Chromium: CI must have it."""
    try:
        chromium()
    except BrowserError as exc:
        message = str(exc)
    else:
        return
    pytest.fail(message, pytrace=False)


def test_html_report_renders_in_chromium(scenario: Scenario, tmp_path: Path) -> None:
    require_chromium()
    cfg = load_config(scenario.config)
    page = tmp_path / "report.html"
    with reading(scenario.root / "state.json") as store:
        write_report(cfg, store, scenario.now, "html", page)
    shot = tmp_path / "report.png"
    result = open_page(
        page,
        screenshot=shot,
        pdf=True,
        evaluate={
            "pwned": "typeof window.pwned",
            "scripts": "document.scripts.length",
            "images": "document.images.length",
            "charts": "document.querySelectorAll('svg[role=img]').length",
            "unlabelled": "[...document.querySelectorAll('svg[role=img]')].filter(s => !s.querySelector('title')).length",
            "ben": "document.body.innerText.includes('Ben <script>window.pwned=1</script> Becker')",
            "reply": "[...document.querySelectorAll('ol.events li')].some(li => li.textContent.includes('onerror=\"window.pwned=3\"'))",
            "first_row_at_risk": "document.querySelector('.tl-row:not(.tl-axis)').classList.contains('at-risk')",
            "width": "document.documentElement.scrollWidth",
            "strips": "[...new Set([...document.querySelectorAll('.tl-row svg[role=img]')].map(s => { const r = s.getBoundingClientRect(); return `${Math.round(r.left)}:${Math.round(r.width)}`; }))]",
        },
    )
    assert result.console_errors == []
    assert result.requests == []  # self-contained: nothing fetched
    values = result.values
    assert values["pwned"] == "undefined" and values["scripts"] == 0 and values["images"] == 0
    assert values["ben"] and values["reply"]  # the markup is there, as text
    assert values["charts"] >= 4 + 1 + 3 and values["unlabelled"] == 0  # 4 charts, axis, 3 pairs
    assert values["first_row_at_risk"] is True
    assert values["width"] <= 1280  # no sideways scrolling
    assert len(values["strips"]) == 1  # every pair's row and the axis share one time scale
    png = read_png(shot)
    assert (png.width, png.height) == (1280, 2000)
    assert shot.stat().st_size > 30_000
    assert len(png.colours()) > 50  # charts in colour, not a blank page
    assert result.pdf is not None and result.pdf.startswith(b"%PDF")


def test_console_error_detection_works(tmp_path: Path) -> None:
    """The control: a broken page and a page that fetches are both caught."""
    require_chromium()
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>broken</p>"
        "<img src='https://example.invalid/pixel.png' alt=''>"
        "<script>undefinedFunction()</script></body></html>",
        encoding="utf-8",
    )
    result = open_page(page)
    assert any("undefinedFunction" in e for e in result.console_errors), result.console_errors
    assert result.requests == ["https://example.invalid/pixel.png"]
