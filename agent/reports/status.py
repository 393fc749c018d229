"""`mentormail status`: where every pair stands, as data and as lines.

The data (`--json`) keeps full ISO 8601 times. The lines are for a coordinator: the
program's own times (status, last tick) in the program's zone, and each pair's next
meeting in both participants' local times with the zone's abbreviation, to the minute:
what each of them sees in their calendar, so "my meeting at 10:00" can be checked at a
glance. A pair that has ended shows no next meeting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.config.model import Config
from agent.mail_in.message import ROLES
from agent.pairs.program import ENDED
from agent.pairs.trust import ref_of
from agent.reports.report import pair_meetings
from agent.state.store import Store


def status(cfg: Config, store: Store, now: datetime) -> dict[str, Any]:
    """Per pair: stage, who agreed, the meeting series, the progress log."""
    pairs = []
    added = store.meta("aliases") or {}
    for pair in cfg.pairs:
        state = store.pair_state(pair.id)
        series = state.series
        confirmed = series is not None and series.status == "confirmed"
        meeting = confirmed and state.stage not in ENDED
        upcoming = series.next_after(now) if series and meeting else None
        log = store.log(pair.id)
        held = sum(1 for m in pair_meetings(state, log, now) if m["status"] == "held")
        pairs.append(
            {
                "id": pair.id,
                "mentor": pair.mentor,
                "mentee": pair.mentee,
                "timezones": {
                    role: str(cfg.participant(getattr(pair, role)).timezone) for role in ROLES
                },
                "stage": str(state.stage),
                "ended_early": state.ended_early,
                "paused_until": state.paused_until.isoformat() if state.paused_until else None,
                "agreed": {role: role in state.agreed for role in ROLES},
                "goals": list(state.goals or pair.goals),
                "meetings": {
                    "rrule": series.slot().rrule if series else None,
                    "timezone": series.tz if series else None,
                    "status": series.status if series else None,
                    "next": upcoming.isoformat() if upcoming else None,
                    "held": held,  # as the report counts them, across cadence changes
                },
                "last_heard": {role: t.isoformat() for role, t in state.heard.items()},
                "away_until": {
                    role: until.isoformat()
                    for role, until in state.away.items()
                    if state.is_away(role, now)
                },
                # addresses the coordinator added by email (agent.commands.coordinator)
                "aliases": {
                    role: sorted(
                        str(a["address"])
                        for a in added.values()
                        if a.get("participant") == getattr(pair, role)
                    )
                    for role in ROLES
                },
                "undeliverable": {
                    role: {"address": f.address, "reason": f.reason}
                    for role, f in state.failing.items()
                    if state.bounced(role, cfg.participant(getattr(pair, role)).email)
                },
                "progress": [
                    {"at": e["at"], "by": e.get("by"), "kind": e["kind"], "text": e.get("text", "")}
                    for e in log
                ],
            }
        )
    zone = str(cfg.program.timezone)
    failed = [a for a in store.actions() if a.get("status") in ("failed", "pending")]
    return {
        "program": cfg.program.name,
        "timezone": zone,
        "now": now.isoformat(),
        "last_tick": store.meta("last_tick"),
        "backlog": [
            {"key": a["key"], "status": a["status"], "error": a.get("error")} for a in failed
        ]
        + [
            {
                "key": key,
                "status": "waiting",
                "error": f"sending limit, since {_local(datetime.fromisoformat(since), zone)}",
            }
            for key, since in (store.meta("waiting") or {}).items()
        ],
        "pairs": pairs,
        # messages waiting for the coordinator, and their own notes (`mentormail inbox list`)
        "inbox": sum(1 for r in store.inbound_records() if for_the_coordinator(r, store)),
    }


def for_the_coordinator(record: dict[str, Any], store: Store) -> bool:
    """A pair's message that waits for the coordinator (a held one only while its
    confirmation is pending), or the coordinator's own note (agent.commands.coordinator)."""
    outcome = record.get("outcome")
    if outcome == "coordinator":
        return bool(record.get("kept"))
    pair = record.get("pair")
    if outcome not in ("quarantined", "needs_human", "held") or record.get("settled") or not pair:
        return False
    if outcome == "held":
        ref = ref_of(str(record.get("message_id")))
        return any(h.ref == ref for h in store.pair_state(str(pair)).held)
    return True


def health(cfg: Config, store: Store, now: datetime, max_age: timedelta) -> tuple[bool, str]:
    """Whether the last tick without errors is recent enough, for service probes."""
    last_ok = store.meta("last_ok_tick")
    if last_ok is None:
        return False, "unhealthy: no tick has completed without errors yet"
    age = now - datetime.fromisoformat(last_ok)
    if age > max_age:
        errors = (store.meta("last_tick") or {}).get("errors") or []
        detail = f"; the last tick's errors: {'; '.join(errors)}" if errors else ""
        return False, f"unhealthy: the last tick without errors was {_ago(age)} ago{detail}"
    return True, f"healthy: the last tick without errors was {_ago(age)} ago"


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _local(moment: datetime, zone: str, fmt: str = "%a %Y-%m-%d %H:%M %Z") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


def _meeting_time(start: datetime, pair: dict[str, Any]) -> str:
    """`Tue 2027-04-06 10:00 EDT (ana), 16:00 CEST (ben)`; the day is repeated for the
    mentee only when it is another day there, and one time serves both in one zone."""
    mentor, mentee = pair["timezones"]["mentor"], pair["timezones"]["mentee"]
    if mentor == mentee:
        return f"{_local(start, mentor)} (both)"
    same_day = _local(start, mentor, "%Y-%m-%d") == _local(start, mentee, "%Y-%m-%d")
    there = _local(start, mentee, "%H:%M %Z" if same_day else "%a %H:%M %Z")
    return f"{_local(start, mentor)} ({pair['mentor']}), {there} ({pair['mentee']})"


def status_lines(data: dict[str, Any]) -> list[str]:
    tick = data.get("last_tick") or {}
    zone = data["timezone"]
    now = datetime.fromisoformat(data["now"])
    lines = [f"{data['program']} - status at {_local(now, zone)}"]
    if tick:
        at = datetime.fromisoformat(tick["at"])
        lines.append(
            f"last tick: {_local(at, zone)} "
            f"({tick.get('seconds')} s, {len(tick.get('errors', []))} errors)"
        )
        if at > now:
            lines.append("  (that is after the time asked for: the stages are as of the last tick)")
    else:
        lines.append("last tick: never")
    for pair in data["pairs"]:
        agreed = ", ".join(r for r, ok in pair["agreed"].items() if ok) or "nobody"
        upcoming = pair["meetings"]["next"]
        nxt = _meeting_time(datetime.fromisoformat(upcoming), pair) if upcoming else "-"
        lines.append(
            f"  {pair['id']:<20} {pair['stage']:<18} agreed: {agreed:<14} "
            f"log entries: {len(pair['progress']):<4} next meeting: {nxt}"
        )
        if pair["ended_early"]:
            lines.append(f"    ended early: {pair['ended_early']}")
        elif pair["stage"] == "paused":
            until = pair["paused_until"]
            lines.append(f"    paused until {until[:10]}" if until else "    paused, no end day")
        lines += [
            f"    {role} is away until {until[:10]}: reminders wait"
            for role, until in pair["away_until"].items()
        ]
        lines += [
            f"    mail to the {role} bounces ({f['address']}: {f['reason']}): fix it in the config"
            for role, f in pair["undeliverable"].items()
        ]
        lines += [
            f"    the {role} also writes from {', '.join(found)} (added by the coordinator)"
            for role, found in pair["aliases"].items()
            if found
        ]
    if data.get("inbox"):
        lines.append(f"inbox: {data['inbox']} message(s) for you: `mentormail inbox list`")
    if data["backlog"]:
        lines.append(f"backlog: {len(data['backlog'])} action(s) not done")
        lines += [f"  {a['key']}: {a['status']} {a['error'] or ''}" for a in data["backlog"]]
    return lines
