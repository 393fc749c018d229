"""`mentormail report`: how the whole program is going, as data (JSON, CSV) or a page (HTML).

`report_data` is pure: it reads only the store it is given (the pairs' states, the
progress log, the inbound records and the outbox) and returns plain JSON-ready data.
Every time in it is ISO 8601 in the program's time zone, and every week is an ISO week
(`2027-W09`, Monday to Sunday) in that zone.

What is measured, and how:

Pipeline (stage reached; each step counts only pairs that reached the one before):
  invited            every configured pair
  welcomed           the welcome went to at least one side
  agreed             both sides agreed to the mentoring agreement
  booked             a meeting series was booked
  meeting regularly  at least `REGULAR_MIN_HELD` meetings held, and, for a pair still
                     running, neither paused nor quiet (the digest's "quiet for N days")
  Beside it, `current` counts the pairs by their stage now (paused, closing, closed ...).

Meetings (one entry per occurrence of a pair's booked series, and of the parts a change
of cadence ended, by its actual start):
  planned   an occurrence that takes place: moved ones at their new time, skipped ones not,
            none after the series was cancelled (at closure or when someone left)
  held      planned, ended by `now`, not during a pause, not declined by a participant,
            not reported missed
  upcoming  planned, not ended by `now`
  paused    planned, in the past, while the pair was paused (from the log's pause/resume)
  declined  planned, in the past, declined in the calendar for that day (an iTIP reply)
  missed    planned, in the past, not declined, but a participant wrote that it did not
            take place ("we didn't manage to meet": a `meeting_missed` log entry)
  skipped   taken out of the series on request; counted in the week it was planned for,
            never in `planned`
  So planned = held + upcoming + paused + declined + missed. The digest counts its week's
  meetings with the same function (`pair_meetings`).

Response times: for every reply a person wrote (inbound outcome `applied`,
`needs_human` or `held`, matched to a pair and role), the hours from the agent's last email to that
person (outbox `done_at`, same pair and role, strictly before the reply: what the tick that
read the reply sent in answer does not count) up to the reply (inbound `at`, its Date).
Replies with no earlier email to that person are left out. Median and buckets.

Ratings: every `rating` entry in the progress log (value 1..5), per pair and, per week,
count, mean, min and max.

At risk: the digest's rules and reasons (`agent.pairs.risk.risks`); pairs are listed at risk first,
those with the most reasons first, then by id.

Kept simple on purpose: a pause is read from the log (the state keeps only the current
stage), and a calendar decline counts for the meeting of the day it names; a decline of
the whole series is on the pair's timeline but changes no meeting's status.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.config.model import Config
from agent.mail_in.message import ROLES
from agent.pairs.program import ENDED, PairState, Series, Stage, original_key
from agent.pairs.risk import risks
from agent.state.private_files import write_private
from agent.state.store import Store

REPORT_SCHEMA = 1
REGULAR_MIN_HELD = 2  # meetings held before a pair counts as "meeting regularly"
HUMAN_REPLIES = ("applied", "needs_human", "held")  # inbound outcomes written by a person

FUNNEL = (
    ("invited", "Invited"),
    ("welcomed", "Welcomed"),
    ("agreed", "Agreed"),
    ("booked", "Meetings booked"),
    ("meeting_regularly", "Meeting regularly"),
)
MEETING_STATUSES = ("held", "upcoming", "paused", "declined", "missed", "skipped")
RESPONSE_BUCKETS: tuple[tuple[float, float | None, str], ...] = (
    (0, 1, "under 1 h"),
    (1, 4, "1-4 h"),
    (4, 12, "4-12 h"),
    (12, 24, "12-24 h"),
    (24, 48, "1-2 days"),
    (48, 96, "2-4 days"),
    (96, 168, "4-7 days"),
    (168, None, "over a week"),
)
# outbox kinds shown on a pair's timeline, and what they are called there
TIMELINE_ACTIONS = {
    "welcome": ("welcome", "welcome sent"),
    "agreement": ("agreement", "agreement sent"),
    "agreement_reminder": ("reminder", "agreement reminder"),
    "book": ("booked", "meetings booked"),
    "nudge": ("nudge", "nudge sent"),
    "escalation_agreement": ("escalation", "coordinator told: no agreement"),
    "escalation_quiet": ("escalation", "coordinator told: quiet pair"),
    "escalation_no_slot": ("escalation", "coordinator told: no meeting time"),
    "escalation_undeliverable": ("escalation", "coordinator told: mail bounces"),
    "coordinator_reply": ("escalation", "reply passed to the coordinator"),
    "cancel_series": ("cancelled", "meetings cancelled"),
    "closure": ("closure", "closure sent"),
}
TIMELINE_LOG = {
    "agree": ("agreed", "agreed"),
    "decline": ("declined", "declined the agreement"),
    "pause": ("pause", "paused"),
    "resume": ("resume", "resumed"),
    "stop": ("left", "left the program"),
    "auto_reply": ("away", "out of office"),
    "bounce": ("bounce", "mail bounced"),
    "meeting_change": ("moved", "meeting changed"),
}
MEETING_LABELS = {
    "held": "meeting held",
    "upcoming": "meeting planned",
    "paused": "meeting missed (paused)",
    "declined": "meeting declined",
    "missed": "meeting missed (did not take place)",
    "skipped": "meeting skipped",
}
_DECLINED_FOR = re.compile(r"declined for (\d{4}-\d{2}-\d{2})")


# --- small helpers ---------------------------------------------------------------------------


def _parse(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat() if moment else None


def iso_week(moment: datetime | date, zone: ZoneInfo) -> str:
    """`2027-W09`: the ISO week of `moment` in the program's time zone."""
    day = moment.astimezone(zone).date() if isinstance(moment, datetime) else moment
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _monday(moment: datetime | date, zone: ZoneInfo) -> date:
    day = moment.astimezone(zone).date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _bucket(hours: float) -> str:
    for low, high, label in RESPONSE_BUCKETS:
        if hours >= low and (high is None or hours < high):
            return label
    return RESPONSE_BUCKETS[0][2]  # a negative gap cannot happen: replies follow emails


# --- per pair ------------------------------------------------------------------------------


def pause_intervals(
    log: Iterable[Mapping[str, Any]], now: datetime
) -> list[tuple[datetime, datetime]]:
    """(from, until) of each pause, from the log's pause and resume entries; a pause with
    no resume lasts until `now`."""
    intervals: list[tuple[datetime, datetime]] = []
    started: datetime | None = None
    marks = sorted(
        (t, e["kind"])
        for e in log
        if e.get("kind") in ("pause", "resume") and (t := _parse(e.get("at")))
    )
    for at, kind in marks:
        if kind == "pause" and started is None:
            started = at
        elif kind == "resume" and started is not None:
            intervals.append((started, at))
            started = None
    if started is not None:
        intervals.append((started, max(started, now)))
    return intervals


def meeting_occurrences(
    series: Series | None,
    now: datetime,
    *,
    pauses: list[tuple[datetime, datetime]],
    declined_days: set[str],
    cancelled_at: datetime | None,
    missed: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Every occurrence of the series with its status (see the module docstring), in order.

    `declined_days` holds `YYYY-MM-DD` days a participant declined in the calendar; a day
    matches an occurrence's original start in the series' zone or in UTC (iTIP names it by
    RECURRENCE-ID, which clients write either way). `missed` holds the `original_key`s
    of meetings a participant reported did not take place.
    """
    if series is None:
        return []
    if series.status == "cancelled" and cancelled_at is None:
        cancelled_at = now  # cancelled, but when is unknown: nothing after now takes place
    out: list[dict[str, Any]] = []
    zone = ZoneInfo(series.tz)
    for original, start in series.meetings():
        if cancelled_at is not None and start >= cancelled_at:
            continue
        days = {
            f"{original.astimezone(zone):%Y-%m-%d}",
            f"{original.astimezone(ZoneInfo('UTC')):%Y-%m-%d}",
        }
        if start + series.duration > now:
            status = "upcoming"
        elif any(begin <= start < end for begin, end in pauses):
            status = "paused"
        elif days & declined_days:
            status = "declined"
        elif original_key(original) in missed:
            status = "missed"
        else:
            status = "held"
        out.append({"original": original, "start": start, "status": status})
    for original in series.skipped:
        # a meeting a pause cancelled counts as paused, one skipped on request as skipped
        paused = any(begin <= original < end for begin, end in pauses)
        out.append(
            {"original": original, "start": original, "status": "paused" if paused else "skipped"}
        )
    return sorted(out, key=lambda m: m["start"])


class _Pair:
    """Everything the store holds about one pair, gathered once."""

    def __init__(
        self,
        state: PairState,
        log: list[dict[str, Any]],
        actions: list[dict[str, Any]],
        replies: list[dict[str, Any]],
        now: datetime,
    ) -> None:
        self.state = state
        self.log = sorted(log, key=lambda e: _parse(e.get("at")) or now)
        self.actions = actions  # done ones, with `done` parsed, in order
        self.replies = sorted(replies, key=lambda r: _parse(r.get("at")) or now)  # by a person
        self.pauses = pause_intervals(self.log, now)


def _done_actions(actions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    done = [
        {**a, "done": t}
        for a in actions
        if a.get("status") == "done" and (t := _parse(a.get("done_at")))
    ]
    return sorted(done, key=lambda a: a["done"])


def _response_times(pair: _Pair, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Hours from the agent's last email to a person to each reply they wrote."""
    out = []
    for reply in pair.replies:
        role, at = reply.get("role"), _parse(reply.get("at"))
        if role not in ROLES or at is None:
            continue
        emails = [
            a for a in pair.actions if a.get("role") == role and a.get("to") and a["done"] < at
        ]
        if not emails:
            continue
        last = emails[-1]
        hours = _hours(at - last["done"])
        out.append(
            {
                "pair": pair.state.pair_id,
                "role": role,
                "at": _iso(at, zone),
                "after": last.get("kind"),
                "after_at": _iso(last["done"], zone),
                "hours": hours,
                "bucket": _bucket(hours),
            }
        )
    return out


def _timeline(pair: _Pair, meetings: list[dict[str, Any]], zone: ZoneInfo) -> list[dict[str, Any]]:
    """A pair's story: emails that matter, agreements, meetings, replies, pauses, closure.

    An email that went to both sides at the same moment is one entry with `by: both`.
    """
    merged: dict[tuple[str, datetime, str, str], set[str]] = {}

    def add(kind: str, at: datetime | None, label: str, role: object, text: str = "") -> None:
        if at is None:
            return
        roles = merged.setdefault((kind, at, label, text), set())
        if role in ROLES:
            roles.add(str(role))

    for action in pair.actions:
        kind = str(action.get("kind"))
        if kind in TIMELINE_ACTIONS:
            marker, label = TIMELINE_ACTIONS[kind]
            add(marker, action["done"], label, action.get("role"))
    for entry in pair.log:
        kind = str(entry.get("kind"))
        if kind in TIMELINE_LOG:
            marker, label = TIMELINE_LOG[kind]
            text = str(entry.get("text") or "")
            if kind == "meeting_change":
                marker = "skipped" if text.endswith("skipped") else "moved"
                label = "meeting skipped" if marker == "skipped" else "meeting moved"
            add(marker, _parse(entry.get("at")), label, entry.get("by"), text)
        elif kind == "meeting_reply" and "declined" in str(entry.get("text")):
            text = str(entry.get("text"))
            add(
                "calendar_declined",
                _parse(entry.get("at")),
                "declined in the calendar",
                entry.get("by"),
                text,
            )
        elif kind == "rating" and entry.get("value") is not None:
            add("rating", _parse(entry.get("at")), f"rated {entry['value']}/5", entry.get("by"))
    for reply in pair.replies:
        text = " ".join(str(reply.get("text") or "").split())
        add(
            "reply",
            _parse(reply.get("at")),
            "reply",
            reply.get("role"),
            text[:160] + ("..." if len(text) > 160 else ""),
        )
    for meeting in meetings:
        if meeting["status"] != "skipped":  # the skip itself is on the log
            add(
                f"meeting_{meeting['status']}",
                meeting["start"],
                MEETING_LABELS[meeting["status"]],
                None,
            )
    entries = []
    for (kind, at, label, text), roles in merged.items():
        by = "both" if len(roles) == 2 else (next(iter(roles)) if roles else None)
        entries.append(
            {"at": _iso(at, zone), "kind": kind, "label": label, "by": by, "text": text, "_t": at}
        )
    entries.sort(key=lambda e: (e["_t"], e["kind"]))
    for entry in entries:
        del entry["_t"]
    return entries


def _first(mapping: Mapping[str, datetime], *, both: bool = False) -> datetime | None:
    """When something happened for one side (the first), or for both (the later)."""
    if not mapping or (both and not all(r in mapping for r in ROLES)):
        return None
    return max(mapping.values()) if both else min(mapping.values())


# --- the report ----------------------------------------------------------------------------


def _segments(state: PairState) -> list[Series]:
    """The pair's series, oldest first: parts ended by a change of cadence (`earlier`, where
    the state has it) and the current one."""
    earlier: list[Series] = list(getattr(state, "earlier", []) or [])
    return [*earlier, *([state.series] if state.series else [])]


def _pair_meetings(pair: _Pair, now: datetime) -> list[dict[str, Any]]:
    """Every occurrence of every part of the pair's series, with its status."""
    cancels = [a["done"] for a in pair.actions if a.get("kind") == "cancel_series"]
    return pair_meetings(pair.state, pair.log, now, cancelled_at=cancels[-1] if cancels else None)


def pair_meetings(
    state: PairState,
    log: Iterable[Mapping[str, Any]],
    now: datetime,
    *,
    cancelled_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every occurrence of every part of a pair's series with its status (held, upcoming,
    paused, declined, missed, skipped; see the module docstring), by start: the one count
    of meetings held, for the report and the digest. `log` is the pair's progress log;
    `cancelled_at` when its current series was cancelled (the outbox's `cancel_series`)."""
    log = list(log)
    declined_days = {
        m.group(1)
        for e in log
        if e.get("kind") == "meeting_reply" and (m := _DECLINED_FOR.search(str(e.get("text"))))
    }
    missed = frozenset(
        original_key(t)
        for e in log
        if e.get("kind") == "meeting_missed" and (t := _parse(e.get("occurrence")))
    )
    pauses = pause_intervals(log, now)
    segments = _segments(state)
    meetings: list[dict[str, Any]] = []
    for segment in segments:
        current = segment is segments[-1] and segment is state.series
        meetings += meeting_occurrences(
            segment,
            now,
            pauses=pauses,
            declined_days=declined_days,
            cancelled_at=cancelled_at if current else None,
            missed=missed,
        )
    return sorted(meetings, key=lambda m: m["start"])


def _funnel_level(state: PairState, held: int, codes: list[str]) -> int:
    """How far down `FUNNEL` the pair got (0: invited ... 4: meeting regularly)."""
    running_ok = state.stage != Stage.PAUSED and "quiet" not in codes
    finished = state.stage in ENDED and not state.ended_early  # left early: not "regularly"
    steps = (
        True,
        bool(state.welcomed),
        state.both(state.agreed),
        bool(_segments(state)),
        held >= REGULAR_MIN_HELD and (finished or (state.stage not in ENDED and running_ok)),
    )
    level = 0
    while level + 1 < len(steps) and steps[level + 1]:
        level += 1
    return level


def _pair_report(
    cfg: Config, pair: _Pair, now: datetime, no_slot: bool
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """One pair's row (with its timeline), and its meetings, ratings and reply times for the
    program-wide series."""
    zone = cfg.program.timezone
    state, pid = pair.state, pair.state.pair_id
    pair_cfg = cfg.pair(pid)
    meetings = _pair_meetings(pair, now)
    for meeting in meetings:
        meeting["week"] = iso_week(meeting["start"], zone)
        meeting["pair"] = pid
    counts = {s: sum(1 for m in meetings if m["status"] == s) for s in MEETING_STATUSES}
    ratings = [
        {
            "pair": pid,
            "by": e.get("by"),
            "at": _iso(t, zone),
            "week": iso_week(t, zone),
            "value": int(e["value"]),
        }
        for e in pair.log
        if e.get("kind") == "rating"
        and isinstance(e.get("value"), int | float)
        and (t := _parse(e.get("at")))
    ]
    responses = _response_times(pair, zone)
    found = risks(cfg, state, pair.log, now, no_slot=no_slot)
    reasons = [r.reason for r in found]
    codes = [r.code for r in found]
    level = _funnel_level(state, counts["held"], codes)
    upcoming = next((m["start"] for m in meetings if m["status"] == "upcoming"), None)
    planned = sum(n for status, n in counts.items() if status != "skipped")
    booked = next((a["done"] for a in pair.actions if a.get("kind") == "book"), None)
    row = {
        "id": pid,
        "mentor": cfg.participant(pair_cfg.mentor).name,
        "mentee": cfg.participant(pair_cfg.mentee).name,
        "stage": str(state.stage),
        "reached": FUNNEL[level][0],
        "at_risk": bool(reasons),
        "risk_reasons": reasons,
        "risk_codes": codes,
        "welcomed": _iso(_first(state.welcomed), zone),
        "agreed": _iso(_first(state.agreed, both=True), zone),
        "booked": _iso(booked, zone),
        "meetings_held": counts["held"],
        "meetings_planned": planned,
        "meetings_planned_to_date": planned - counts["upcoming"],
        "meetings_upcoming": counts["upcoming"],
        "meetings_paused": counts["paused"],
        "meetings_declined": counts["declined"],
        "meetings_missed": counts["missed"],
        "meetings_skipped": counts["skipped"],
        "next_meeting": _iso(upcoming, zone),
        "last_heard": _iso(state.last_heard(), zone),
        "replies": len(pair.replies),
        "median_response_hours": _median([r["hours"] for r in responses]),
        "ratings": [{k: r[k] for k in ("at", "week", "by", "value")} for r in ratings],
        "last_rating": ratings[-1]["value"] if ratings else None,
        "mean_rating": round(statistics.mean(r["value"] for r in ratings), 2) if ratings else None,
        "nudges": sum(1 for a in pair.actions if a.get("kind") == "nudge"),
        "escalations": sum(1 for a in pair.actions if str(a.get("kind")).startswith("escalation")),
        "paused_days": round(sum((b - a).total_seconds() for a, b in pair.pauses) / 86400, 1),
        "closing_reason": state.closing_reason,
        "ended_early": state.ended_early,  # why the pair ended before the program, or None
        "meetings": [
            {
                "week": m["week"],
                "start": _iso(m["start"], zone),
                "original": _iso(m["original"], zone),
                "status": m["status"],
            }
            for m in meetings
        ],
        "pauses": [{"from": _iso(a, zone), "until": _iso(b, zone)} for a, b in pair.pauses],
        "timeline": _timeline(pair, meetings, zone),
    }
    return row, meetings, ratings, responses


def report_data(cfg: Config, store: Store, now: datetime) -> dict[str, Any]:
    """The whole report as JSON-ready data. Pure: reads `store`, writes nothing."""
    zone = cfg.program.timezone
    actions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for action in _done_actions(store.actions()):
        actions[str(action.get("pair"))].append(action)
    logs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in store.log():
        logs[str(entry.get("pair"))].append(entry)
    replies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in store.inbound_records():
        if record.get("outcome") in HUMAN_REPLIES and _parse(record.get("at")):
            replies[str(record.get("pair"))].append(record)

    pairs_out: list[dict[str, Any]] = []
    all_meetings: list[dict[str, Any]] = []
    all_ratings: list[dict[str, Any]] = []
    all_responses: list[dict[str, Any]] = []
    states = {p.id: store.pair_state(p.id) for p in cfg.pairs}
    for pid, state in states.items():
        pair = _Pair(state, logs[pid], actions[pid], replies[pid], now)
        no_slot = any(a.get("kind") == "escalation_no_slot" for a in pair.actions)
        row, meetings, ratings, responses = _pair_report(cfg, pair, now, no_slot)
        pairs_out.append(row)
        all_meetings += meetings
        all_ratings += ratings
        all_responses += responses
    levels = {p["id"]: [key for key, _ in FUNNEL].index(p["reached"]) for p in pairs_out}
    pairs_out.sort(key=lambda p: (not p["at_risk"], -len(p["risk_reasons"]), p["id"]))

    weeks = _weeks(cfg, zone, [m["start"] for m in all_meetings], all_ratings)
    for meeting in all_meetings:
        row = weeks[meeting["week"]]
        row[meeting["status"]] += 1
        if meeting["status"] != "skipped":
            row["planned"] += 1
        row["pairs"].setdefault(meeting["pair"], dict.fromkeys(("planned", *MEETING_STATUSES), 0))
        row["pairs"][meeting["pair"]][meeting["status"]] += 1
        if meeting["status"] != "skipped":
            row["pairs"][meeting["pair"]]["planned"] += 1
    by_week: dict[str, list[int]] = defaultdict(list)
    for rating in all_ratings:
        by_week[rating["week"]].append(rating["value"])
    for week, values in by_week.items():
        weeks[week]["ratings"] = len(values)
        weeks[week]["rating_mean"] = round(statistics.mean(values), 2)
        weeks[week]["rating_min"] = min(values)
        weeks[week]["rating_max"] = max(values)

    hours = [r["hours"] for r in all_responses]
    total = len(cfg.pairs)
    stage_counts = {str(s): sum(1 for p in pairs_out if p["stage"] == str(s)) for s in Stage}
    all_responses.sort(key=lambda r: r["at"])
    all_ratings.sort(key=lambda r: r["at"])
    return {
        "schema": REPORT_SCHEMA,
        "program": {
            "name": cfg.program.name,
            "timezone": str(zone),
            "start": cfg.program.start.isoformat(),
            "end": cfg.program.end.isoformat(),
            "now": _iso(now, zone),
            "week_of_now": iso_week(now, zone),
            "pairs": total,
        },
        "pipeline": {
            "funnel": [
                {
                    "step": key,
                    "label": label,
                    "count": sum(1 for lvl in levels.values() if lvl >= i),
                    "pairs": sorted(pid for pid, lvl in levels.items() if lvl >= i),
                }
                for i, (key, label) in enumerate(FUNNEL)
            ],
            "current": stage_counts,
            "paused": stage_counts[Stage.PAUSED],
            "closing": stage_counts[Stage.CLOSING],
            "closed": stage_counts[Stage.CLOSED],
            "declined": sum(1 for state in states.values() if state.declined),
            "at_risk": sum(1 for p in pairs_out if p["at_risk"]),
            "regular_min_held": REGULAR_MIN_HELD,
        },
        "meetings": {
            "planned": sum(w["planned"] for w in weeks.values()),
            **{s: sum(w[s] for w in weeks.values()) for s in MEETING_STATUSES},
        },
        "weeks": list(weeks.values()),
        "responses": {
            "count": len(hours),
            "median_hours": _median(hours),
            "buckets": [
                {
                    "label": label,
                    "from_hours": low,
                    "to_hours": high,
                    "count": sum(1 for r in all_responses if r["bucket"] == label),
                }
                for low, high, label in RESPONSE_BUCKETS
            ],
            "replies": all_responses,
        },
        "ratings": {
            "count": len(all_ratings),
            "mean": round(statistics.mean(r["value"] for r in all_ratings), 2)
            if all_ratings
            else None,
            "entries": all_ratings,
        },
        "pairs": pairs_out,
    }


def _weeks(
    cfg: Config, zone: ZoneInfo, starts: list[datetime], ratings: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """One empty row per ISO week from the program's start to its end, widened to any
    meeting or rating outside it, in order."""
    mondays = [_monday(cfg.program.start, zone), _monday(cfg.program.end, zone)]
    mondays += [_monday(s, zone) for s in starts]
    mondays += [_monday(datetime.fromisoformat(r["at"]), zone) for r in ratings]
    day, last = min(mondays), max(mondays)
    out: dict[str, dict[str, Any]] = {}
    while day <= last:
        out[iso_week(day, zone)] = {
            "week": iso_week(day, zone),
            "monday": day.isoformat(),
            "planned": 0,
            **dict.fromkeys(MEETING_STATUSES, 0),
            "ratings": 0,
            "rating_mean": None,
            "rating_min": None,
            "rating_max": None,
            "pairs": {},
        }
        day += timedelta(days=7)
    return out


# --- formats ---------------------------------------------------------------------------------

PAIR_COLUMNS = (
    "id",
    "mentor",
    "mentee",
    "stage",
    "reached",
    "at_risk",
    "risk_reasons",
    "welcomed",
    "agreed",
    "booked",
    "meetings_held",
    "meetings_planned_to_date",
    "meetings_planned",
    "meetings_upcoming",
    "meetings_paused",
    "meetings_declined",
    "meetings_missed",
    "meetings_skipped",
    "next_meeting",
    "last_heard",
    "replies",
    "median_response_hours",
    "last_rating",
    "mean_rating",
    "nudges",
    "escalations",
    "paused_days",
    "closing_reason",
)
WEEK_COLUMNS = (
    "week",
    "monday",
    "planned",
    *MEETING_STATUSES,
    "ratings",
    "rating_mean",
    "rating_min",
    "rating_max",
)


def _cell(value: object) -> object:
    """A spreadsheet cell: times as `YYYY-MM-DD HH:MM` (program zone), lists joined, and
    text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2})?", value):
            return value[:16].replace("T", " ")
        if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + value
    return value


def _csv(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def report_csv(data: Mapping[str, Any]) -> str:
    """The per-pair summary, one row per pair (at-risk pairs first). Times are in the
    program's time zone; the weekly series is `report_weeks_csv`."""
    return _csv(data["pairs"], PAIR_COLUMNS)


def report_weeks_csv(data: Mapping[str, Any]) -> str:
    """Meetings and ratings per ISO week, one row per week of the program."""
    return _csv(data["weeks"], WEEK_COLUMNS)


def report_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


FORMATS = ("html", "csv", "json")


def write_report(
    cfg: Config, store: Store, now: datetime, fmt: str, out: Path | None = None
) -> str:
    """Compute the report and render it as `fmt` (html, csv or json).

    Without `out`, returns the report itself, to print (for csv: the per-pair table).
    With `out`, writes it there and returns the line(s) to print saying so; csv then
    writes two files, `out` (one row per pair) and `<stem>-weeks.csv` beside it (one row
    per week), because a spreadsheet wants one table per file. The files hold names,
    addresses and ratings: written whole, mode 0600 unless `reports.file_mode` says
    otherwise (agent.state.private_files).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    data = report_data(cfg, store, now)
    if fmt == "html":
        from agent.reports.report_html import report_html

        text = report_html(data)
    else:
        text = report_json(data) if fmt == "json" else report_csv(data)
    if out is None:
        return text
    files = {out: text}
    if fmt == "csv":
        files[out.with_name(f"{out.stem}-weeks{out.suffix or '.csv'}")] = report_weeks_csv(data)
    for path, content in files.items():
        write_private(path, content, cfg.reports.file_mode)  # names, addresses, ratings
    return "\n".join(f"wrote {path}" for path in files)
