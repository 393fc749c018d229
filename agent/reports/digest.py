"""The coordinator's weekly digest, computed from state and logs. Pure.

At-risk pairs come first, those with the most reasons first, each with the plain
reasons `agent.pairs.risk` finds (the same rules the planner acts on): an agreement still
pending, a declined agreement, no meeting time found, mail that bounces, a quiet
pair, meetings declined in a row, no progress logged, a low rating, a pause.

Meetings held are counted as the report counts them (`agent.reports.report.pair_meetings`):
a meeting of the week is held only when it ended, nobody declined it and nobody reported
that it did not take place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from agent.config.model import Config
from agent.meetings.timefmt import at_local, long_date
from agent.pairs.program import BEFORE_AGREEMENT, PairState, Stage
from agent.pairs.risk import risks
from agent.reports.report import pair_meetings


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _period(first: datetime, last: datetime) -> str:
    """'15–21 March 2027', '22 February – 1 March 2027'."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%B %Y}"
    start = f"{first.day} {first:%B}" + (f" {first.year}" if first.year != last.year else "")
    return f"{start} – {last.day} {last:%B %Y}"


def digest_context(
    cfg: Config,
    states: Mapping[str, PairState],
    log: Iterable[Mapping[str, Any]],
    inbound: Iterable[Mapping[str, Any]],
    escalated_no_slot: set[str],
    now: datetime,
) -> dict[str, Any]:
    """The `digest` key of the digest template's context, for the week before `now`."""
    zone = cfg.program.timezone
    since = now - timedelta(days=7)
    log = list(log)
    week_log = [e for e in log if (t := _parse(e.get("at"))) and since <= t <= now]
    by_pair: dict[str, list[Mapping[str, Any]]] = {}
    for entry in log:
        by_pair.setdefault(str(entry.get("pair")), []).append(entry)
    rows = []
    declined_occurrences = sum(
        1 for e in week_log if e.get("kind") == "meeting_reply" and "declined" in e.get("text", "")
    )
    week: Counter[str] = Counter()  # the week's meetings by status, counted as the report does
    for pair in cfg.pairs:
        state = states.get(pair.id) or PairState(pair_id=pair.id)
        series = state.series
        for meeting in pair_meetings(state, by_pair.get(pair.id, []), now):
            if since <= meeting["start"] < now:
                week[meeting["status"]] += 1
        found = risks(
            cfg, state, by_pair.get(pair.id, []), now, no_slot=pair.id in escalated_no_slot
        )
        reasons = [r.reason for r in found]
        last = state.last_heard()
        upcoming = series.next_after(now) if series and series.status == "confirmed" else None
        rows.append(
            {
                "id": pair.id,
                "mentor": cfg.participant(pair.mentor).name,
                "mentee": cfg.participant(pair.mentee).name,
                "stage": str(state.stage),
                "ended_early": state.ended_early,
                "at_risk": bool(reasons),
                "reasons": reasons,
                "codes": [r.code for r in found],
                "last_heard": long_date(last.astimezone(zone)) if last else None,
                "next_meeting": at_local(upcoming, zone) if upcoming else None,
            }
        )
    rows.sort(key=lambda r: (not r["at_risk"], -len(r["reasons"]), r["id"]))
    stages = Counter(r["stage"] for r in rows)
    week_inbound = [r for r in inbound if (t := _parse(r.get("at"))) and since <= t <= now]
    return {
        "period": _period(since.astimezone(zone), (now - timedelta(days=1)).astimezone(zone)),
        "stages": [{"stage": str(s), "count": stages[str(s)]} for s in Stage if stages[str(s)]],
        "pairs": rows,
        "meetings_held": week["held"],
        "meetings_planned": sum(n for status, n in week.items() if status != "skipped"),
        "meetings_missed": week["missed"],
        "agreements_pending": [
            r["id"] for r in rows if r["stage"] in {str(s) for s in BEFORE_AGREEMENT}
        ],
        "quiet": [r["id"] for r in rows if "quiet" in r["codes"]],
        "declined": declined_occurrences,
        "bounces": sorted({e.get("text", "") for e in week_log if e.get("kind") == "bounce"}),
        "needs_human": [
            {
                "pair": r.get("pair"),
                "from": r.get("from", ""),
                "text": r.get("text", ""),
                "reason": r.get("reason", ""),
            }
            for r in week_inbound
            if r.get("outcome") == "needs_human"
        ],
        "quarantined": sum(1 for r in week_inbound if r.get("outcome") == "quarantined"),
    }
