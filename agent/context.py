"""Template contexts: what an email may say about the program, the pair and the people.

Pure: everything is computed from the config, the pair's state and `now`, in
the recipient's own time zone. The keys are the contract documented in
`agent.render` and used by the templates in `templates/`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.config import Config, Pair, Participant
from agent.model import ROLES, Role, other_role
from agent.program import PairState, Series
from agent.timefmt import DAY_TITLES, every_text, format_hours, long_date, offset_text


def at_local(moment: datetime, zone: ZoneInfo) -> str:
    """'Tuesday 2 March 2027 at 09:00' in `zone`."""
    local = moment.astimezone(zone)
    return f"{long_date(local)} at {local:%H:%M}"


def _person(person: Participant, viewer: ZoneInfo | None, now: datetime) -> dict[str, Any]:
    local = now.astimezone(person.timezone)
    return {
        "id": person.id,
        "name": person.name,
        "first_name": person.first_name,
        "email": person.email,
        "role": person.role,
        "timezone": str(person.timezone),
        "hours": format_hours(person.hours),
        "local_time": f"{local:%H:%M}, {DAY_TITLES[local.weekday()]}",
        "offset": offset_text(person.timezone, viewer, now) if viewer else "",
    }


def coordinator_person(cfg: Config) -> dict[str, Any]:
    coordinator = cfg.program.coordinator
    return {
        "id": "coordinator",
        "name": coordinator.name,
        "first_name": coordinator.name.split()[0],
        "email": coordinator.email,
        "role": "coordinator",
        "timezone": str(cfg.program.timezone),
        "hours": "",
        "local_time": "",
        "offset": "",
    }


def video_link(cfg: Config, pair: Pair) -> str:
    return cfg.cadence.meetings.video_link.replace("{program}", cfg.program.slug).replace(
        "{pair}", pair.id
    )


def _program(cfg: Config) -> dict[str, Any]:
    program = cfg.program
    return {
        "name": program.name,
        "timezone": str(program.timezone),
        "start": program.start,
        "end": program.end,
        "sender": {"name": program.sender.name, "email": program.sender.email},
        "coordinator": {"name": program.coordinator.name, "email": program.coordinator.email},
    }


def _meeting(
    cfg: Config,
    pair: Pair,
    series: Series,
    me: Participant,
    other: Participant,
    occurrence: datetime | None,
) -> dict[str, Any]:
    slot = series.slot()
    return {
        "first": at_local(slot.first_start, me.timezone),
        "when": slot.describe(me.timezone),
        "other_when": slot.describe(other.timezone),
        "date": at_local(occurrence, me.timezone) if occurrence else "",
        "until": long_date(slot.occurrences()[-1].astimezone(me.timezone)),  # the last meeting
        "video_link": video_link(cfg, pair),
        "backup_channel": cfg.cadence.meetings.backup_channel,
        "change": _change(cfg, pair, series, me),
    }


def _change(cfg: Config, pair: Pair, series: Series, me: Participant) -> dict[str, str] | None:
    """The latest moved or skipped meeting, on the recipient's clock, for the update email."""
    change = series.change
    if change is None:
        return None
    asker = cfg.participant(getattr(pair, change.by)) if change.by else None
    return {
        "kind": "moved" if change.new_start else "skipped",
        "original": at_local(change.original, me.timezone),
        "new": at_local(change.new_start, me.timezone) if change.new_start else "",
        "by": "" if asker is None else "you" if asker.id == me.id else asker.first_name,
    }


def base_context(cfg: Config, now: datetime, recipient: dict[str, Any]) -> dict[str, Any]:
    return {"program": _program(cfg), "recipient": recipient, "now": now}


def participant_context(
    cfg: Config,
    pair: Pair,
    state: PairState,
    role: Role,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of an email to one side of a pair."""
    people = {r: cfg.participant(getattr(pair, r)) for r in ROLES}
    me, other = people[role], people[other_role(role)]
    views = {r: _person(people[r], me.timezone, now) for r in ROLES}
    meetings, agreement = cfg.cadence.meetings, cfg.cadence.agreement
    extra = dict(extra or {})
    occurrence = extra.pop("occurrence", None)
    if "options" in extra:
        extra["options"] = [
            {
                "number": number,
                "when": option.slot().describe(me.timezone),
                "other_when": option.slot().describe(other.timezone),
                "first": at_local(option.first_start, me.timezone),
            }
            for number, option in enumerate(extra["options"], 1)
        ]
        # the planner books option 1 when nobody has picked one by then
        answer_by = now + cfg.cadence.agreement.reminder_after
        extra["answer_by"] = long_date(answer_by.astimezone(me.timezone))
    context = base_context(cfg, now, views[role])
    context.update(
        pair={"id": pair.id, "goals": list(state.goals or pair.goals)},
        mentor=views["mentor"],
        mentee=views["mentee"],
        other=views[other_role(role)],
        cadence={
            "meetings": {
                "every": every_text(meetings.every),
                "duration_minutes": int(meetings.duration.total_seconds() // 60),
                "video_link": video_link(cfg, pair),
                "backup_channel": meetings.backup_channel,
            },
            "agreement": {
                "response_time": agreement.response_time,
                "confidentiality": agreement.confidentiality,
                "phrase": agreement.phrase,
            },
        },
        meeting=(
            _meeting(cfg, pair, state.series, me, other, occurrence) if state.series else None
        ),
    )
    context.update(extra)
    return context


def pair_people(cfg: Config, pair: Pair, now: datetime) -> dict[str, Any]:
    """Mentor and mentee as persons, for coordinator emails about a pair."""
    return {r: _person(cfg.participant(getattr(pair, r)), cfg.program.timezone, now) for r in ROLES}


def _names(cfg: Config, pair: Pair, roles: list[Role]) -> str:
    return " and ".join(cfg.participant(getattr(pair, r)).first_name for r in roles)


def escalation(cfg: Config, pair: Pair, state: PairState, extra: dict[str, Any]) -> dict[str, str]:
    """Reason, details and a suggested next step for a coordinator escalation."""
    reason = extra.get("reason")
    if reason == "agreement":
        missing = [r for r in ROLES if r in extra.get("missing", [])]
        agreed = [r for r in ROLES if r in state.agreed]
        details = f"{_names(cfg, pair, missing)} did not confirm the agreement"
        details += f" in {extra.get('waiting_days', '?')} days, despite reminders."
        if agreed:
            details += f" {_names(cfg, pair, agreed)} already agreed."
        return {
            "reason": "The mentoring agreement is still not confirmed",
            "details": details,
            "suggestion": f"A short personal message or call to {_names(cfg, pair, missing)} "
            "usually settles it; the agent keeps waiting for their reply.",
        }
    if reason == "no_slot":
        return {
            "reason": "No meeting time fits both people for the whole program",
            "details": str(extra.get("explanation", "")),
            "suggestion": "Ask them to widen their working hours or preferred days, update the "
            "config, and the next run books the series. No invitation was sent.",
        }
    if reason == "undeliverable":
        who = _names(cfg, pair, [extra["role"]])
        return {
            "reason": f"Email to {who} cannot be delivered",
            "details": f"The mail server refused {extra['address']}: {extra['error']}",
            "suggestion": f"Check {who}'s address and correct it in the config. Until then, or "
            f"until {who} writes in, I send {who} nothing; the pair's other emails go on.",
        }
    return {
        "reason": f"The pair has been quiet for {extra.get('quiet_days', '?')} days",
        "details": "Neither of them has replied since, even after a friendly nudge.",
        "suggestion": "A personal check-in from you often helps a pair that drifted apart.",
    }


def coordinator_context(
    cfg: Config,
    now: datetime,
    pair: Pair | None,
    state: PairState | None,
    template: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The context of an email to the coordinator about a pair (or no pair)."""
    context = base_context(cfg, now, coordinator_person(cfg))
    people = pair_people(cfg, pair, now) if pair else {"mentor": None, "mentee": None}
    goals = list((state.goals if state else []) or (pair.goals if pair else []))
    context.update(people, pair={"id": pair.id, "goals": goals} if pair else None)
    if template == "coordinator_escalation" and pair and state:
        context["escalation"] = escalation(cfg, pair, state, extra)
    else:
        context.update(extra)
    return context
