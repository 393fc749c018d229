"""Civil hours: email to a person goes out inside their send window, on their own clock, and
reminders never come in bursts (issue 18, item 6).

End to end on the Maildir default with `--now`: a Los Angeles mentor and a Kolkata mentee in
a London program get their welcome at breakfast time on a Monday of their own, the
coordinator the digest at 08:00 London, an answer to an email at once whatever the hour.
Then the pure planner over a long outage, and a property test over random programs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config.loading import load_config
from agent.config.model import Config
from agent.mail_in.message import Intent, IntentKind, Interpretation
from agent.pairs import civil
from agent.pairs.forecast import Planned, assumed_outcome, forecast
from agent.pairs.planner import REMINDERS, Timeline
from agent.pairs.program import Away, Clock, PairState, Replied, apply
from tests.test_lifecycle_e2e import Program, gmail_reply, outlook_reply

LOS_ANGELES, KOLKATA, LONDON = (
    ZoneInfo("America/Los_Angeles"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Europe/London"),
)
LUCIA, PRIYA, COORDINATOR = "lucia@example.com", "priya@example.in", "coordinator@example.org"

GLOBAL = """\
program:
  name: Global Mentoring 2027
  timezone: Europe/London
  start: 2027-03-01
  end: 2027-12-17
  sender: {name: Mentoring Program, email: mentoring@example.org}
  coordinator: {name: Chris Coordinator, email: coordinator@example.org}
cadence:
  meetings: {every: 1w, duration: 45m}
participants:
  - {id: lucia, name: Lucía Morales, email: lucia@example.com, role: mentor, timezone: America/Los_Angeles, hours: "07:00-10:00"}
  - {id: priya, name: Priya Raman, email: priya@example.in, role: mentee, timezone: Asia/Kolkata, hours: "19:30-22:30"}
pairs:
  - {id: lucia-priya, mentor: lucia, mentee: priya}
mail: {type: maildir, path: mail}
calendar: {type: ics, path: calendar}
storage: {path: state.json}
security: {authserv_id: mx.example.org}
"""


class GlobalProgram(Program):
    def __init__(self, root: Path, cli) -> None:
        super().__init__(root, cli)
        self.config.write_text(GLOBAL, encoding="utf-8")


def local_date(message: EmailMessage, zone: ZoneInfo) -> datetime:
    return parsedate_to_datetime(message["Date"]).astimezone(zone)


def tick_hourly(program: Program, start: datetime, hours: int) -> None:
    for hour in range(hours):
        program.tick((start + timedelta(hours=hour)).isoformat())


def test_everyone_hears_from_the_program_in_their_own_daytime(tmp_path: Path, cli) -> None:
    program = GlobalProgram(tmp_path, cli)
    # at 00:30 London on Monday the welcomes are due; the tick says whose morning they wait for
    said = program.tick("2027-02-15T00:30Z", "--dry-run").splitlines()
    assert said[1:] == [
        "  waits for their hours: lucia-priya: welcome -> mentor"
        " (until Mon 2027-02-15 08:00 America/Los_Angeles)",
        "  waits for their hours: lucia-priya: welcome -> mentee"
        " (until Mon 2027-02-15 08:00 Asia/Kolkata)",
    ]
    # onboarding opens at 00:00 London on Monday 15 February; a tick every hour from Sunday
    tick_hourly(program, datetime(2027, 2, 14, 20, tzinfo=UTC), 20)  # to 15:00 UTC Monday
    assert not program.sent(LUCIA)  # 15:00 on Monday in London is 07:00 in Los Angeles
    welcome = program.only(PRIYA, "welcome")
    assert local_date(welcome, KOLKATA).weekday() == 0  # Monday
    assert time(8) <= local_date(welcome, KOLKATA).time() < time(9)  # 03:00 UTC: 08:30
    assert local_date(program.only(PRIYA, "agreement"), KOLKATA) == local_date(welcome, KOLKATA)
    digest = program.only(COORDINATOR, "")
    assert local_date(digest, LONDON).time() == time(8)

    program.tick("2027-02-15T16:00Z")
    welcome = program.only(LUCIA, "welcome")
    assert local_date(welcome, LOS_ANGELES) == datetime(2027, 2, 15, 8, tzinfo=LOS_ANGELES)

    # Priya agrees late in her evening from her phone: the answer to her email does not wait
    late = datetime(2027, 2, 16, 23, 20, tzinfo=KOLKATA)
    program.deliver(
        gmail_reply(program.only(PRIYA, "agreement"), f"Priya Raman <{PRIYA}>", "I agree!", late)
    )
    program.tick(late.replace(minute=30).isoformat())
    answer = program.only(PRIYA, "Re:")
    assert local_date(answer, KOLKATA) == datetime(2027, 2, 16, 23, 30, tzinfo=KOLKATA)
    # Lucía agrees from Outlook the next morning: the series is booked at once
    morning = datetime(2027, 2, 17, 9, 40, tzinfo=LOS_ANGELES)
    agreement = program.only(LUCIA, "agreement")
    program.deliver(outlook_reply(agreement, f"Lucía Morales <{LUCIA}>", "I agree", morning))
    tick_hourly(program, morning.replace(minute=45), 14)
    invitation = program.only(LUCIA, "Invitation")
    assert local_date(invitation, LOS_ANGELES) == morning.replace(minute=45)  # in her window
    invitation = program.only(PRIYA, "Invitation")  # booked at 23:15 her time: waits for 08:00
    assert local_date(invitation, KOLKATA).date() == date(2027, 2, 18)
    assert time(8) <= local_date(invitation, KOLKATA).time() < time(9)


# --- the pure planner: holds and bursts ------------------------------------------------------


def agree() -> Interpretation:
    return Interpretation((Intent(IntentKind.AGREE),))


def run(
    cfg: Config, states: dict[str, PairState], settled: set[str], start: datetime, end: datetime
) -> tuple[list[Planned], dict[str, PairState]]:
    """`forecast` from `start` to `end`, and the states once everything planned was done."""
    planned = forecast(cfg, states, settled, start, end)
    closing = Timeline.of(cfg).closing
    for p in planned:
        settled.add(p.action.key)
        if p.action.pair_id:
            state = apply(states[p.action.pair_id], Clock(p.at, closing))
            states[p.action.pair_id] = apply(state, assumed_outcome(p.action, p.at))
    return planned, states


def onboarded_and_agreed(cfg: Config, agreed_at: datetime) -> tuple[dict, set[str], list]:
    opens = Timeline.of(cfg).opens
    states = {p.id: PairState(pair_id=p.id) for p in cfg.pairs}
    settled: set[str] = set()
    planned, states = run(cfg, states, settled, opens, agreed_at)
    for pid, state in states.items():
        for role in ("mentor", "mentee"):
            state = apply(state, Replied(role, agreed_at, agree()))
        states[pid] = state
    return states, settled, planned


def recipient_window(cfg: Config, action) -> tuple[ZoneInfo, dict] | None:
    if action.template is None:
        return None
    if action.role is None:
        return civil.send_window(cfg, None)
    pair = next(p for p in cfg.pairs if p.id == action.pair_id)
    return civil.send_window(cfg, cfg.participant(getattr(pair, action.role)))


def check_civil(cfg: Config, planned: list[Planned]) -> None:
    """Every email inside its recipient's window; no reminder within the spacing of another
    email to the same person."""
    to_person: dict[tuple[str, str], list[Planned]] = defaultdict(list)
    for p in planned:
        window = recipient_window(cfg, p.action)
        if window is not None:
            assert civil.inside(window, p.at), f"{p.action.key} at {p.at.astimezone(window[0])}"
        if p.action.role and p.action.pair_id:
            to_person[(p.action.pair_id, p.action.role)].append(p)
    for emails in to_person.values():
        for before, after in pairwise(emails):
            if after.action.kind in REMINDERS:
                gap = after.at - before.at
                assert gap >= cfg.cadence.spacing, f"{before.action.key} then {after.action.key}"


def test_after_an_outage_only_what_still_matters_goes_one_a_day(write_config) -> None:
    cfg = load_config(write_config(GLOBAL))
    states, settled, _ = onboarded_and_agreed(cfg, datetime(2027, 2, 17, 9, tzinfo=LONDON))
    before, states = run(
        cfg,
        states,
        settled,
        datetime(2027, 2, 17, 9, tzinfo=LONDON),
        datetime(2027, 3, 10, tzinfo=LONDON),
    )
    series = states["lucia-priya"].series
    assert series is not None
    # the agent is down for five weeks; a check-in, a follow-up and a nudge are all due
    back = datetime(2027, 4, 14, 12, tzinfo=LONDON)
    after, _ = run(cfg, states, settled, back, back + timedelta(days=6))
    check_civil(cfg, before + after)
    first_day = [p for p in after if p.at < back + timedelta(days=1) and p.action.role]
    assert len({p.action.role for p in first_day}) == len(first_day)  # one email each at most
    for p in after:
        if p.action.kind == "follow_up":
            meeting = p.action.extra["occurrence"]
            assert p.at - meeting < timedelta(days=4)  # no follow-up for a meeting long past
    kinds = [p.action.kind for p in after if p.action.role == "mentee"]
    assert "nudge" not in kinds[:2]  # the nudge last, never in the first days back


# --- a property over random programs --------------------------------------------------------

ZONES = [
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Africa/Nairobi",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
]


def random_program(zones: list[str], starts: date, weeks: int, window: str) -> str:
    people = "\n".join(
        f"  - {{id: p{i}, name: Person {i}, email: p{i}@example.org, role: "
        f'{"mentor" if i % 2 == 0 else "mentee"}, timezone: {zone}, hours: "00:00-23:59"}}'
        for i, zone in enumerate(zones)
    )
    pairs = "\n".join(
        f"  - {{id: pair{i}, mentor: p{2 * i}, mentee: p{2 * i + 1}}}"
        for i in range(len(zones) // 2)
    )
    return (
        GLOBAL.split("participants:")[0]
        .replace("2027-03-01", starts.isoformat())
        .replace("2027-12-17", (starts + timedelta(weeks=weeks)).isoformat())
        .replace(
            "cadence:\n",
            f'cadence:\n  send_window: "{window}"\n'
            "  follow_up: {after: 1h}\n  check_in: {every: 2w}\n  nudge: {quiet_after: 1w}\n",
        )
        + f"participants:\n{people}\npairs:\n{pairs}\n"
        + "mail: {type: maildir, path: mail}\ncalendar: {type: ics, path: calendar}\n"
    )


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=2, max_size=4).filter(
        lambda z: len(z) % 2 == 0
    ),
    starts=st.dates(date(2027, 1, 4), date(2027, 10, 25)),
    agreed_after=st.integers(1, 120),  # hours after onboarding opens
    outage=st.tuples(st.integers(0, 20), st.integers(0, 12)),  # days in, days long
    away=st.integers(0, 10),  # days the mentee is out of office after agreeing
    window=st.sampled_from(["08:00-20:00", "09:00-17:00", "07:30-21:00"]),
)
def test_no_email_outside_the_window_and_no_burst(
    write_config, zones, starts, agreed_after, outage, away, window
) -> None:
    cfg = load_config(write_config(random_program(zones, starts, 8, window)))
    agreed_at = Timeline.of(cfg).opens + timedelta(hours=agreed_after)
    states, settled, planned = onboarded_and_agreed(cfg, agreed_at)
    if away:
        states = {
            k: apply(s, Away("mentee", agreed_at + timedelta(days=away))) for k, s in states.items()
        }
    down = agreed_at + timedelta(days=outage[0])
    more, states = run(cfg, states, settled, agreed_at, down)
    rest, _ = run(cfg, states, settled, down + timedelta(days=outage[1]), down + timedelta(days=28))
    check_civil(cfg, planned + more + rest)


def test_plan_shows_when_each_person_really_gets_their_email(tmp_path: Path, cli) -> None:
    program = GlobalProgram(tmp_path, cli)
    code, out, err = cli(
        "plan", "--config", program.config, "--now", "2027-02-14T20:00Z", "--days", "2", "--json"
    )
    assert code == 0, err
    rows = {(r["kind"], r["to"]): r for r in json.loads(out)}
    lucia = rows[("welcome", "mentor")]
    assert datetime.fromisoformat(lucia["local"]) == datetime(2027, 2, 15, 8, tzinfo=LOS_ANGELES)
    priya = datetime.fromisoformat(rows[("welcome", "mentee")]["local"])
    assert priya.date() == date(2027, 2, 15) and time(8) <= priya.time() < time(9)
    code, out, _ = cli("plan", "--config", program.config, "--now", "2027-02-14T20:00Z")
    assert "welcome -> mentor (Mon 08:00 America/Los_Angeles)" in out
