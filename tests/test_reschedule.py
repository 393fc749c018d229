"""Moving and skipping one meeting: the decision (pure), the series after it, and its ICS."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from agent.config.loading import load_config
from agent.config.model import Config
from agent.meetings.ics import series_ics
from agent.meetings.when import Proposal
from agent.pairs.planner import Timeline
from agent.pairs.program import Moved, PairState, Series, Skipped, Stage, apply
from agent.pairs.reschedule import counter, move, skip
from tests.conftest import THREE_PAIRS

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def cfg(write_config) -> Config:
    return load_config(write_config(THREE_PAIRS))


def series() -> Series:
    """ana-ben: Tuesdays 14:00 Berlin (08:00, or 09:00 while only the US is on DST, New York)."""
    return Series(
        uid="mentormail-test-ana-ben@example.org",
        tz="Europe/Berlin",
        first_start=datetime(2027, 3, 2, 14, 0, tzinfo=BERLIN),
        duration_minutes=45,
        interval_weeks=1,
        until=datetime(2027, 5, 21, 7, 0, tzinfo=UTC),
    )


def state() -> PairState:
    return PairState(pair_id="ana-ben", stage=Stage.ACTIVE, series=series())


NOW = datetime(2027, 3, 17, 9, 0, tzinfo=BERLIN)  # a Wednesday; the next meeting is Tue 23 March


def ask(cfg: Config, proposal: Proposal | None, tz: ZoneInfo = BERLIN):
    return move(
        cfg,
        cfg.pairs[0],
        series(),
        proposal,
        by="mentee",
        tz=tz,
        now=NOW,
        closing=Timeline.of(cfg).closing,
    )


def test_a_bare_weekday_means_that_day_in_the_week_of_the_meeting(cfg: Config) -> None:
    # "move next Tuesday's session to Thursday 3pm": Thursday 25 March, not tomorrow the 18th
    decision = ask(cfg, Proposal(date(2027, 3, 18), time(15, 0), False, "Thursday 15:00", True))
    assert decision.event == Moved(
        datetime(2027, 3, 23, 14, 0, tzinfo=BERLIN),
        datetime(2027, 3, 25, 15, 0, tzinfo=BERLIN),
        "mentee",
    )


def test_an_explicit_date_is_taken_as_written(cfg: Config) -> None:
    decision = ask(cfg, Proposal(date(2027, 3, 19), time(15, 0), False, "19 March 15:00"))
    assert decision.event is not None
    assert decision.event.new_start == datetime(2027, 3, 19, 15, 0, tzinfo=BERLIN)


def test_same_time_is_the_meetings_time_on_the_writers_clock(cfg: Config) -> None:
    # Ana (New York) writes "Thursday same time": her Tuesday 09:00 (US already on DST)
    decision = ask(cfg, Proposal(date(2027, 3, 18), None, True, "Thursday", True), NEW_YORK)
    assert decision.event is not None
    assert decision.event.new_start == datetime(2027, 3, 25, 9, 0, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("proposal", "reason"),
    [
        (Proposal(date(2027, 3, 20), time(21, 0), False, "Saturday 21:00"), "outside Ana's hours"),
        # 16:15-17:00 Berlin is 10:15-11:00 for Ana (fine) but after Ben's 16:00
        (Proposal(date(2027, 3, 31), time(16, 15), False, "31 March 16:15"), "outside Ben's hours"),
        (
            Proposal(date(2027, 3, 30), time(14, 30), False, "30 March 14:30"),
            "overlaps the meeting",
        ),
        (Proposal(date(2027, 3, 17), time(9, 30), False, "today 09:30"), "too soon"),
        (Proposal(date(2027, 7, 1), time(15, 0), False, "1 July"), "after the program closes"),
        (Proposal(None, None, False, ""), "no day or time"),
        (None, "no new time was named"),
    ],
)
def test_a_time_that_does_not_fit_goes_to_a_person(
    cfg: Config, proposal: Proposal | None, reason: str
) -> None:
    decision = ask(cfg, proposal)
    assert decision.event is None and reason in (decision.reason or "")


def test_without_a_series_nothing_moves(cfg: Config) -> None:
    decision = move(
        cfg,
        cfg.pairs[0],
        None,
        Proposal(date(2027, 3, 19), time(15, 0), False, ""),
        by="mentor",
        tz=BERLIN,
        now=NOW,
        closing=Timeline.of(cfg).closing,
    )
    assert decision.event is None and "no meeting series" in (decision.reason or "")


def test_skip_the_next_or_the_named_meeting() -> None:
    assert skip(series(), None, by="mentor", tz=BERLIN, now=NOW).event == Skipped(
        datetime(2027, 3, 23, 14, 0, tzinfo=BERLIN), "mentor"
    )
    named = Proposal(date(2027, 3, 30), None, False, "30 March")
    assert skip(series(), named, by="mentor", tz=BERLIN, now=NOW).event == Skipped(
        datetime(2027, 3, 30, 14, 0, tzinfo=BERLIN), "mentor"
    )
    wrong = Proposal(date(2027, 3, 31), None, False, "31 March")
    decision = skip(series(), wrong, by="mentor", tz=BERLIN, now=NOW)
    assert decision.event is None and "no meeting on Wednesday 31 March" in (decision.reason or "")


def test_counter_moves_the_meeting_it_names(cfg: Config) -> None:
    closing = Timeline.of(cfg).closing
    original = datetime(2027, 3, 30, 12, 0, tzinfo=UTC)  # 14:00 Berlin, as RECURRENCE-ID
    proposed = datetime(2027, 3, 31, 12, 0, tzinfo=UTC)  # Wednesday 14:00 Berlin, 08:00 NY
    decision = counter(
        cfg, cfg.pairs[0], series(), original, proposed, by="mentor", now=NOW, closing=closing
    )
    assert decision.event == Moved(original, proposed, "mentor")
    gone = datetime(2027, 3, 2, 13, 0, tzinfo=UTC)
    decision = counter(
        cfg, cfg.pairs[0], series(), gone, proposed, by="mentor", now=NOW, closing=closing
    )
    assert decision.event is None and "not ahead" in (decision.reason or "")


def test_each_change_is_a_new_sequence_and_the_meetings_follow() -> None:
    moved_to = datetime(2027, 3, 25, 15, 0, tzinfo=BERLIN)
    s1 = apply(state(), Moved(datetime(2027, 3, 23, 14, 0, tzinfo=BERLIN), moved_to, "mentee"))
    s2 = apply(s1, Skipped(datetime(2027, 4, 6, 14, 0, tzinfo=BERLIN), "mentor"))
    assert (s1.series.sequence, s2.series.sequence) == (1, 2)
    assert apply(s2, Skipped(datetime(2027, 4, 6, 14, 0, tzinfo=BERLIN))) == s2  # a repeat
    starts = [start for _, start in s2.series.meetings()]
    assert moved_to in starts
    assert datetime(2027, 3, 23, 14, 0, tzinfo=BERLIN) not in starts
    assert datetime(2027, 4, 6, 14, 0, tzinfo=BERLIN) not in starts
    assert len(starts) == len(series().slot().occurrences()) - 1
    assert s2.series.next_after(datetime(2027, 3, 24, tzinfo=BERLIN)) == moved_to
    # the stored form survives a round trip through JSON
    assert PairState.model_validate_json(s2.model_dump_json()) == s2


def test_the_update_expands_to_exactly_the_meetings_that_take_place() -> None:
    s = apply(
        apply(
            state(),
            Moved(
                datetime(2027, 3, 23, 14, 0, tzinfo=BERLIN),
                datetime(2027, 3, 25, 15, 0, tzinfo=BERLIN),
            ),
        ),
        Skipped(datetime(2027, 4, 6, 14, 0, tzinfo=BERLIN)),
    ).series
    assert s is not None
    data = series_ics(
        method="REQUEST",
        uid=s.uid,
        sequence=s.sequence,
        slot=s.slot(),
        summary="Mentoring",
        description="",
        video_link="https://meet.example/x",
        organizer=("Program", "mentoring@example.org"),
        attendees=[("Ana", "ana@example.org"), ("Ben", "ben@example.net")],
        dtstamp=NOW,
        skipped=s.skipped,
        moved=s.moved_meetings(),
    )
    calendar = icalendar.Calendar.from_ical(data)
    events = recurring_ical_events.of(calendar).between(
        datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    )
    expanded = sorted(e["DTSTART"].dt.astimezone(UTC) for e in events)
    assert expanded == [start.astimezone(UTC) for _, start in s.meetings()]
    override = [c for c in calendar.walk("VEVENT") if c.get("RECURRENCE-ID")]
    assert len(override) == 1 and int(override[0]["SEQUENCE"]) == 2
    assert override[0]["RECURRENCE-ID"].dt == datetime(2027, 3, 23, 14, 0, tzinfo=BERLIN)
    assert timedelta(minutes=45) == override[0]["DTEND"].dt - override[0]["DTSTART"].dt
