"""Template contexts: what an email may say about the program, the pair and the people.

Pure: everything is computed from the config, the pair's state and `now`, in
the recipient's own time zone. The keys are the contract documented in
`agent.mail_out.render` and used by the templates in `templates/`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.config.model import Config, Pair, Participant
from agent.config.names import greeting_name
from agent.mail_in.message import ROLES, Role, other_role
from agent.mail_out import locale_fmt as lf
from agent.mail_out.locale_fmt import Worded
from agent.meetings.slots import SeriesSlot
from agent.pairs.program import Member, PairState, Series


def _local_time(local: datetime) -> Worded:
    """'15:05, Tuesday' on the person's clock, in the email's language."""
    return Worded(lambda tag: f"{lf.local_time(local, tag)}, {lf.weekday(local, tag)}")


def _at(moment: datetime, zone: ZoneInfo) -> Worded:
    return Worded(lambda tag: lf.at_local(moment, zone, tag))


def _long_date(moment: datetime) -> Worded:
    return Worded(lambda tag: lf.long_date(moment, tag))


def _offset(other: ZoneInfo, viewer: ZoneInfo, now: datetime) -> Worded:
    return Worded(lambda tag: lf.offset_text(other, viewer, now, tag))


def _person(person: Participant, viewer: ZoneInfo | None, now: datetime) -> dict[str, Any]:
    local = now.astimezone(person.timezone)
    hours = person.hours
    return {
        "id": person.id,
        "name": person.name,
        "first_name": person.first_name,
        "email": person.email,
        "role": person.role,
        "timezone": str(person.timezone),
        "hours": Worded(lambda tag: lf.format_hours(hours, tag)),
        "local_time": _local_time(local),
        "offset": _offset(person.timezone, viewer, now) if viewer else "",
        "language": person.language,
    }


def _member_person(member: Member, viewer: ZoneInfo | None, now: datetime) -> dict[str, Any]:
    """A remembered participant as a person of the template context (see `_person`)."""
    zone = ZoneInfo(member.timezone)
    local = now.astimezone(zone)
    return {
        "id": member.id,
        "name": member.name,
        "first_name": member.first_name,
        "email": member.email,
        "role": member.role,
        "timezone": member.timezone,
        "hours": member.hours,
        "local_time": _local_time(local),
        "offset": _offset(zone, viewer, now) if viewer else "",
        "language": None,
    }


def coordinator_person(cfg: Config) -> dict[str, Any]:
    coordinator = cfg.program.coordinator
    return {
        "id": "coordinator",
        "name": coordinator.name,
        "first_name": greeting_name(coordinator.name),
        "email": coordinator.email,
        "role": "coordinator",
        "timezone": str(cfg.program.timezone),
        "hours": "",
        "local_time": "",
        "offset": "",
        "language": coordinator.language,
    }


def video_link(cfg: Config, pair: Pair | str) -> str:
    pair_id = pair if isinstance(pair, str) else pair.id
    return cfg.cadence.meetings.video_link.replace("{program}", cfg.program.slug).replace(
        "{pair}", pair_id
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
        "language": program.language,
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
    mine, theirs = me.timezone, other.timezone
    return {
        "first": _at(slot.first_start, mine),
        "when": Worded(lambda tag: lf.describe(slot, mine, tag)),
        "other_when": Worded(lambda tag: lf.describe(slot, theirs, tag)),
        "date": _at(occurrence, mine) if occurrence else "",
        "until": _long_date(slot.occurrences()[-1].astimezone(mine)),  # the last meeting
        "video_link": video_link(cfg, pair),
        "backup_channel": cfg.cadence.meetings.backup_channel,
        "change": _change(cfg, pair, series, me),
        "clock": _clock(slot, me, other),
    }


def _clock(slot: SeriesSlot, me: Participant, other: Participant) -> dict[str, Any]:
    """Whose clock the series keeps ("you", "other", or "" when anchored elsewhere), and the
    meetings from which each clock shows another time than before (DST), as dates."""

    def moves(zone: ZoneInfo) -> list[Worded]:
        out: list[Worded] = []
        before: str | None = None
        for start in slot.occurrences():
            local = start.astimezone(zone)
            if before is not None and f"{local:%H:%M}" != before:
                out.append(_long_date(local))
            before = f"{local:%H:%M}"
        return out

    anchor = str(slot.tz)
    fixed = ""
    if str(me.timezone) == anchor or str(other.timezone) == anchor:
        fixed = "you" if str(me.timezone) == anchor else "other"
    return {"fixed": fixed, "my_moves": moves(me.timezone), "other_moves": moves(other.timezone)}


def _change(cfg: Config, pair: Pair, series: Series, me: Participant) -> dict[str, str] | None:
    """The latest change of the series, on the recipient's clock, for the update email.

    `kind` is "moved" or "skipped" (one meeting), "cadence" (a new interval or length
    from `original` on), "ended" (this series ends with the meeting at `original`; a new
    one starts at `new`), "address" (sent again to a new address) or "details" (a new
    video link).
    """
    change = series.change
    if change is None:
        return None
    asker = cfg.participant(getattr(pair, change.by)) if change.by else None
    kind = change.what
    if kind == "meeting":
        kind = "moved" if change.new_start else "skipped"
    return {
        "kind": kind,
        "original": _at(change.original, me.timezone),
        "new": _at(change.new_start, me.timezone) if change.new_start else "",
        "by": "" if asker is None else "you" if asker.id == me.id else asker.first_name,
    }


def base_context(cfg: Config, now: datetime, recipient: dict[str, Any]) -> dict[str, Any]:
    """`language` is the recipient's (else the program's): `Renderer.render` picks the
    template set by it."""
    return {
        "program": _program(cfg),
        "recipient": recipient,
        "now": now,
        "language": recipient.get("language") or cfg.program.language,
    }


def _option(number: int, option: Series, me: Participant, other: Participant) -> dict[str, Any]:
    """One meeting time offered to the pair, on both clocks."""
    slot, mine, theirs = option.slot(), me.timezone, other.timezone
    return {
        "number": number,
        "when": Worded(lambda tag: lf.describe(slot, mine, tag)),
        "other_when": Worded(lambda tag: lf.describe(slot, theirs, tag)),
        "first": _at(option.first_start, mine),
    }


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
    every = meetings.every
    extra = dict(extra or {})
    occurrence = extra.pop("occurrence", None)
    series = extra.pop("series", None) or state.series  # an email about an earlier series
    if isinstance(extra.get("previous"), Member):  # the person this one replaces
        extra["previous"] = _member_person(extra["previous"], me.timezone, now)
    if "options" in extra:
        extra["options"] = [
            _option(number, option, me, other) for number, option in enumerate(extra["options"], 1)
        ]
        # the planner books option 1 when nobody has picked one by then
        answer_by = now + cfg.cadence.agreement.reminder_after
        extra["answer_by"] = _long_date(answer_by.astimezone(me.timezone))
    context = base_context(cfg, now, views[role])
    context.update(
        pair={"id": pair.id, "goals": list(state.goals or pair.goals)},
        mentor=views["mentor"],
        mentee=views["mentee"],
        other=views[other_role(role)],
        cadence={
            "meetings": {
                "every": Worded(lambda tag: lf.every_text(every, tag)),
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
        meeting=(_meeting(cfg, pair, series, me, other, occurrence) if series else None),
    )
    context.update(extra)
    return context


def member_context(
    cfg: Config,
    pair_id: str,
    goals: list[str],
    people: dict[Role, Member],
    role: Role,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of an email to someone the config no longer pairs this way: a person
    replaced in a pair, or the people of a removed pair. The keys are those of
    `participant_context`, from the people as the agent remembers them; `meeting` is None
    (their series is cancelled)."""
    me = people[role]
    viewer = ZoneInfo(me.timezone)
    views = {r: _member_person(m, viewer, now) for r, m in people.items()}
    other = views.get(other_role(role)) or {
        **views[role],
        "id": "",
        "name": "your partner",
        "first_name": "your partner",
        "email": "",
        "role": other_role(role),
    }
    meetings, agreement = cfg.cadence.meetings, cfg.cadence.agreement
    every = meetings.every
    context = base_context(cfg, now, views[role])
    context.update(
        pair={"id": pair_id, "goals": list(goals)},
        mentor=views.get("mentor", other),
        mentee=views.get("mentee", other),
        other=other,
        cadence={
            "meetings": {
                "every": Worded(lambda tag: lf.every_text(every, tag)),
                "duration_minutes": int(meetings.duration.total_seconds() // 60),
                "video_link": video_link(cfg, pair_id),
                "backup_channel": meetings.backup_channel,
            },
            "agreement": {
                "response_time": agreement.response_time,
                "confidentiality": agreement.confidentiality,
                "phrase": agreement.phrase,
            },
        },
        meeting=None,
    )
    context.update(extra or {})
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
    if reason == "no_progress":
        return {
            "reason": f"No progress logged for {extra.get('days', '?')} days",
            "details": "They are meeting, but neither has logged progress, goals or a rating "
            f"by email for {extra.get('days', '?')} days. I asked them both how it is going.",
            "suggestion": "Ask them how the mentoring is going and whether their goals still "
            "fit; goals that have gone stale are a common reason.",
        }
    if reason == "declined_in_a_row":
        return {
            "reason": f"{extra.get('declined', '?')} meetings in a row declined",
            "details": f"The last {extra.get('declined', '?')} meetings of the series were "
            "declined in the calendar. I asked them both whether the meeting time still works.",
            "suggestion": "If the time no longer works, help them agree a new one (a reply "
            'like "can we move to Thursdays 3pm?" moves one meeting), or find out whether '
            "something else is in the way.",
        }
    if reason == "low_rating":
        who = _names(cfg, pair, [extra["role"]]) if extra.get("role") in ROLES else "Someone"
        return {
            "reason": f"A low rating: {extra.get('rating', '?')}/5",
            "details": f"{who} rated the mentoring {extra.get('rating', '?')} out of 5. I "
            f"thanked {who if who != 'Someone' else 'them'} and asked what would help, "
            "without telling the other person.",
            "suggestion": f"A private word with {who if who != 'Someone' else 'them'} helps "
            "to find out whether the pairing can work or needs a change.",
        }
    if reason == "cadence":
        return {
            "reason": "The new meeting cadence does not fit this pair",
            "details": str(extra.get("explanation", "")),
            "suggestion": "Their meetings continue on the old cadence. Ask them to widen their "
            "hours or preferred days in the config; then a change of the cadence applies.",
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
