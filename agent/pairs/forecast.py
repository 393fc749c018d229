"""`mentormail plan`: what the agent will do over the coming days if nobody answers.

A dry run stretched over time: the planner is asked every `step` from `now` to `until`,
each action it plans is taken as done at that moment (an email sent, a series booked),
and the next step plans on from there. Replies cannot be foreseen, so this is the
program's course when everybody stays silent: which reminders, follow-ups, nudges and
escalations fall due, and when: each email inside its recipient's send window and spaced
as the planner spaces them (agent.pairs.civil), so the times are the real ones. Busy times
are not asked of the calendar, so a booking shown here may land on another free time in
reality.

Pure: the states and the already settled action keys come in, the forecast goes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.config.model import Config
from agent.pairs.planner import Action, Timeline, plan_pair, plan_program
from agent.pairs.program import Booked, Clock, Event, PairState, Sent, apply

MAX_ROUNDS = 8  # as in a tick: a booking and its invitations fall in the same step


@dataclass(frozen=True)
class Planned:
    at: datetime
    action: Action
    local: datetime | None = (
        None  # `at` on the recipient's clock (the coordinator's: the program's)
    )


def assumed_outcome(action: Action, at: datetime) -> Event:
    """The fact a successful action leaves behind (what the executor would report)."""
    if action.kind == "book" and action.series is not None:
        return Booked(action.series)
    sequence = action.series.sequence if action.series else None
    return Sent(
        action.kind,
        action.role,
        at,
        sequence=sequence,
        options=action.options,
        ref=action.extra.get("ref"),
        key=action.key,
    )


def _local(cfg: Config, action: Action, at: datetime) -> datetime | None:
    """When the recipient reads it, on their clock; None for a calendar change."""
    if action.template is None:
        return None
    pair = next((p for p in cfg.pairs if p.id == action.pair_id), None)
    if action.role and pair is not None:
        return at.astimezone(cfg.participant(getattr(pair, action.role)).timezone)
    return at.astimezone(cfg.program.timezone)


def forecast(
    cfg: Config,
    states: dict[str, PairState],
    settled: Iterable[str],
    now: datetime,
    until: datetime,
    step: timedelta = timedelta(hours=1),
) -> list[Planned]:
    """Every action due between `now` and `until`, in order, assuming no replies."""
    states = dict(states)
    done = set(settled)
    closing = Timeline.of(cfg).closing
    out: list[Planned] = []
    at = now
    while at <= until:
        states = {pid: apply(state, Clock(at, closing)) for pid, state in states.items()}
        for _ in range(MAX_ROUNDS):
            due = [a for p in cfg.pairs for a in plan_pair(cfg, p, states[p.id], at)]
            due += plan_program(cfg, at)
            due = [a for a in due if a.key not in done]
            if not due:
                break
            for action in due:
                done.add(action.key)
                out.append(Planned(at, action, _local(cfg, action, at)))
                if action.pair_id:
                    outcome = assumed_outcome(action, at)
                    states[action.pair_id] = apply(states[action.pair_id], outcome)
        at += step
    return out
