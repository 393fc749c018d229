"""The pure lifecycle: state machine and planner driven by `now`, without any I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.config.loading import load_config
from agent.config.model import Config
from agent.mail_in.message import Intent, IntentKind, Interpretation
from agent.pairs.planner import Timeline, plan_pair, plan_program
from agent.pairs.program import Booked, Clock, PairState, Replied, Sent, Stage, apply
from tests.conftest import THREE_PAIRS

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def cfg(write_config) -> Config:
    return load_config(write_config(THREE_PAIRS))


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=BERLIN)


def agree() -> Interpretation:
    return Interpretation((Intent(IntentKind.AGREE),))


def run(cfg: Config, state: PairState, now: datetime, pair: int = 0) -> tuple[PairState, list[str]]:
    """Plan and pretend every action succeeded, round after round, like the tick does."""
    done: list[str] = []
    state = apply(state, Clock(now, Timeline.of(cfg).closing))
    for _ in range(8):
        actions = [a for a in plan_pair(cfg, cfg.pairs[pair], state, now) if a.key not in done]
        if not actions:
            break
        for action in actions:
            done.append(action.key)
            if action.kind == "book":
                state = apply(state, Booked(action.series))
            else:
                seq = action.series.sequence if action.series else None
                ref = action.extra.get("ref")  # as the executor reports it
                state = apply(state, Sent(action.kind, action.role, now, sequence=seq, ref=ref))
    return state, done


def test_nothing_happens_before_onboarding_opens(cfg) -> None:
    assert plan_pair(cfg, cfg.pairs[0], PairState(pair_id="ana-ben"), at("2027-02-10")) == []


def test_onboarding_sends_welcome_then_agreement_in_one_tick(cfg) -> None:
    state, done = run(cfg, PairState(pair_id="ana-ben"), at("2027-02-15"))
    assert done == [
        "ana-ben/welcome/mentor",
        "ana-ben/welcome/mentee",
        "ana-ben/agreement/mentor",
        "ana-ben/agreement/mentee",
    ]
    assert state.stage == Stage.AGREEMENT_PENDING


def test_reminders_then_escalation_while_agreement_is_missing(cfg) -> None:
    state, _ = run(cfg, PairState(pair_id="ana-ben"), at("2027-02-15"))
    state = apply(state, Replied("mentor", at("2027-02-15", 12), agree()))
    _, day2 = run(cfg, state, at("2027-02-17"))
    assert day2 == []  # under 3 days: nobody is reminded yet
    _, day3 = run(cfg, state, at("2027-02-18"))
    assert day3 == ["ana-ben/agreement_reminder/1/mentee"]  # only the one who has not agreed
    _, day7 = run(cfg, state, at("2027-02-22", 10))
    assert day7 == [
        "ana-ben/agreement_reminder/2/mentee",
        "ana-ben/escalation_agreement/coordinator",
    ]
    _, day30 = run(cfg, state, at("2027-03-17"))
    assert "ana-ben/agreement_reminder/3/mentee" not in day30  # at most 2 reminders


def test_booking_only_after_both_agreed_and_invitations_follow(cfg) -> None:
    state, _ = run(cfg, PairState(pair_id="ana-ben"), at("2027-02-15"))
    state = apply(state, Replied("mentor", at("2027-02-15", 12), agree()))
    state, done = run(cfg, state, at("2027-02-16"))
    assert state.series is None and not any("book" in k for k in done)
    state = apply(state, Replied("mentee", at("2027-02-16", 12), agree()))
    assert state.stage == Stage.AGREED
    state, done = run(cfg, state, at("2027-02-16", 13))
    assert [k.split("/")[1] for k in done] == ["book", "invitation", "invitation"]
    assert state.stage == Stage.SCHEDULED and state.invited == {"mentor": 0, "mentee": 0}
    # every occurrence inside both windows, in both zones, across both DST changes
    slot = state.series.slot()
    ny, berlin = ZoneInfo("America/New_York"), BERLIN
    for occurrence in slot.occurrences():
        end = occurrence + slot.duration
        assert (
            occurrence.astimezone(ny).hour >= 8
            and end.astimezone(ny).time() <= datetime(1, 1, 1, 11).time()
        )
        assert (
            occurrence.astimezone(berlin).hour >= 13
            and end.astimezone(berlin).time() <= datetime(1, 1, 1, 16).time()
        )
    assert slot.first_start >= at("2027-03-01", 0)
    assert slot.occurrences()[-1] < Timeline.of(cfg).closing


def _active(cfg: Config) -> PairState:
    state, _ = run(cfg, PairState(pair_id="ana-ben"), at("2027-02-15"))
    for role in ("mentor", "mentee"):
        state = apply(state, Replied(role, at("2027-02-15", 12), agree()))
    state, _ = run(cfg, state, at("2027-02-15", 13))
    return state


def test_follow_up_after_each_meeting_once(cfg) -> None:
    state = _active(cfg)
    first = state.series.slot().occurrences()[0]
    _, before = run(cfg, state, first + timedelta(minutes=45 + 119))
    assert not any("follow_up" in k for k in before)
    state, after = run(cfg, state, first + timedelta(minutes=45 + 121))
    assert state.stage == Stage.ACTIVE
    follow_ups = [k for k in after if "follow_up" in k]
    assert len(follow_ups) == 2 and follow_ups[0].endswith("/mentor")


def test_quiet_pair_is_nudged_then_escalated(cfg) -> None:
    state = _active(cfg)
    first = state.series.first_start
    _, done = run(cfg, state, first + timedelta(days=13))
    assert not any("nudge" in k for k in done)
    _, done = run(cfg, state, first + timedelta(days=14, hours=1))
    assert sum("nudge" in k for k in done) == 2 and not any("escalation_quiet" in k for k in done)
    _, done = run(cfg, state, first + timedelta(days=28, hours=1))
    assert any("escalation_quiet" in k for k in done)
    # a reply resets the quiet clock
    state = apply(state, Replied("mentee", first + timedelta(days=10), Interpretation()))
    _, done = run(cfg, state, first + timedelta(days=14, hours=1))
    assert not any("nudge" in k for k in done)


def test_pause_stops_follow_ups_and_resume_restores(cfg) -> None:
    state = _active(cfg)
    pause = Interpretation((Intent(IntentKind.PAUSE),))
    paused = apply(state, Replied("mentee", state.series.first_start, pause))
    assert paused.stage == Stage.PAUSED
    later = state.series.first_start + timedelta(days=20)
    paused, done = run(cfg, paused, later)
    # the pause told to both, with its meetings cancelled in the calendar; nothing else
    assert sorted(k.split("/")[1] for k in done) == ["pause", "pause", "update_series"]
    assert run(cfg, paused, later + timedelta(hours=12))[1] == []  # (checked on at 3 weeks)
    resumed = apply(paused, Replied("mentee", later, Interpretation((Intent(IntentKind.RESUME),))))
    assert resumed.stage == Stage.SCHEDULED


def test_stop_cancels_the_series_and_closes_with_a_cancel(cfg) -> None:
    state = _active(cfg)
    stop = Interpretation((Intent(IntentKind.STOP),))
    state = apply(state, Replied("mentor", at("2027-03-20"), stop))
    assert state.stage == Stage.CLOSING
    state, done = run(cfg, state, at("2027-03-20", 10))
    # the leaver's goodbye and the partner's notice, not the end-of-program closure
    assert [k.split("/")[1] for k in done] == ["cancel_series", "goodbye", "partner_left"]
    assert state.series.status == "cancelled" and state.series.sequence == 1
    assert state.invited == {"mentor": 1, "mentee": 1}  # the emails carried the CANCEL
    assert state.stage == Stage.CLOSED
    assert run(cfg, state, at("2027-04-20"))[1] == []


def test_program_end_closes_without_cancelling_a_finished_series(cfg) -> None:
    state = _active(cfg)
    assert not any("closure" in k for k in run(cfg, state, at("2027-05-31", 8))[1])
    state, done = run(cfg, state, at("2027-05-31", 9))
    assert [k.split("/")[1] for k in done if "closure" in k or "cancel" in k] == [
        "closure",
        "closure",
    ]
    assert state.stage == Stage.CLOSED and state.series.status == "confirmed"


def test_a_quoted_instruction_decline_does_not_agree(cfg) -> None:
    state, _ = run(cfg, PairState(pair_id="ana-ben"), at("2027-02-15"))
    decline = Interpretation((Intent(IntentKind.DECLINE),))
    state = apply(state, Replied("mentee", at("2027-02-15", 12), decline))
    assert "mentee" not in state.agreed and "mentee" in state.declined
    _, done = run(cfg, state, at("2027-02-19"))
    assert "ana-ben/agreement_reminder/1/mentee" not in done  # no reminders to someone who declined


def test_weekly_digest_once_per_week_on_its_day(cfg) -> None:
    monday = at("2027-03-08", 8)
    assert plan_program(cfg, monday - timedelta(minutes=1)) == []
    assert [a.key for a in plan_program(cfg, monday)] == ["digest/2027-W10"]
    assert [a.key for a in plan_program(cfg, monday + timedelta(days=3))] == ["digest/2027-W10"]
    assert plan_program(cfg, at("2027-01-04")) == []  # before onboarding
