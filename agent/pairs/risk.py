"""Which pairs are at risk, and why: one set of rules for the digest and the planner. Pure.

Each rule has a code, a plain-English reason for the coordinator and `since`, the
moment the condition began. The planner acts once per rule and `since` (its
idempotency keys include both), so a pair that recovers and slips again is acted on
again, and one that stays at risk is not chased twice for the same thing.

- `no_agreement`: an agreement is unconfirmed this long after it was sent
  (`at_risk.no_agreement_after`; its older name is `cadence.agreement.escalate_after`).
- `agreement_declined`: someone declined the agreement.
- `no_slot`: no meeting time fits both people.
- `undeliverable`: mail to someone bounces.
- `quiet`: nobody has written since the first meeting or their last reply
  (`cadence.nudge.quiet_after`).
- `declined_in_a_row`: this many meetings in a row were declined in the calendar
  (`at_risk.declined_in_a_row`).
- `no_progress`: no progress, goals or rating logged this long while meeting
  (`at_risk.no_progress_after`).
- `low_rating`: the latest rating is at or below this (`at_risk.low_rating`).
- `paused`: the pair paused.

A threshold is reached at exactly `since + threshold`. A rule set to null in the config
never fires. Ended pairs (closing, closed, removed) are not at risk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.config.model import Config
from agent.mail_in.message import ROLES, Role
from agent.pairs.program import BEFORE_AGREEMENT, ENDED, MEETING_STAGES, PairState, Stage

__all__ = ["PROGRESS_KINDS", "Risk", "risks"]

UTC = ZoneInfo("UTC")
PROGRESS_KINDS = frozenset({"progress", "goals", "rating"})
# What the rules read of the log (agent.state.store.Store.log_view): the latest entry of each
# progress kind (ratings included), and every calendar answer. Handing `risks` only
# these gives the same answers as the whole log, as long as no entry is dated after `now`.
LATEST_KINDS = PROGRESS_KINDS
EVERY_KINDS = frozenset({"meeting_reply"})
_REPLY = re.compile(r"^REPLY (?P<status>[\w-]+)(?: for (?P<day>\d{4}-\d{2}-\d{2}))?$", re.I)


@dataclass(frozen=True)
class Risk:
    """One reason a pair is at risk."""

    code: str
    reason: str  # plain English, for the digest and the coordinator's email
    since: datetime | None = None  # when the condition began: one occurrence of the rule
    role: Role | None = None  # whom it concerns, when it is one person
    value: int | None = None  # days, meetings or the rating, as in the reason


def _at(entry: Mapping[str, Any]) -> datetime | None:
    value = entry.get("at")
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _names(cfg: Config, state: PairState) -> dict[Role, str]:
    """First names of the pair's people: from the config, or as remembered once removed."""
    pair = cfg.find_pair(state.pair_id)
    if pair is not None:
        return {r: cfg.participant(getattr(pair, r)).first_name for r in ROLES}
    return {r: m.first_name for r, m in state.members.items()}


def _emails(cfg: Config, state: PairState) -> dict[Role, str]:
    pair = cfg.find_pair(state.pair_id)
    if pair is not None:
        return {r: cfg.participant(getattr(pair, r)).email for r in ROLES}
    return {r: m.email for r, m in state.members.items()}


def _and(names: list[str]) -> str:
    return " and ".join(n for n in names if n) or "someone"


def risks(
    cfg: Config,
    state: PairState,
    log_entries: Iterable[Mapping[str, Any]],
    now: datetime,
    *,
    no_slot: bool = False,
) -> list[Risk]:
    """Why the pair is at risk at `now`, most basic first; empty when it looks healthy.

    `log_entries` are the pair's progress-log entries (the store's `log`); entries from
    before the current round (a replaced person) do not count. `no_slot` says the slot
    finder found no time for the pair (the coordinator was told).
    """
    if state.stage in ENDED or state.removed_at is not None:
        return []
    rules = cfg.at_risk
    names = _names(cfg, state)
    started = state.round_started()
    entries = sorted(
        (
            (at, entry)
            for entry in log_entries
            if (at := _at(entry)) is not None and at <= now and (started is None or at >= started)
        ),
        key=lambda item: item[0],
    )
    found: list[Risk] = []

    declined = [r for r in ROLES if r in state.declined]
    if declined:
        who = _and([names.get(r, r) for r in declined])
        found.append(Risk("agreement_declined", f"{who} declined the agreement"))

    if rules.no_agreement_after and state.stage in BEFORE_AGREEMENT:
        waiting_since = [t for r, t in state.agreement_sent.items() if r not in state.agreed]
        if waiting_since:
            since = min(waiting_since)
            if now - since >= rules.no_agreement_after:
                days = (now - since).days
                found.append(
                    Risk("no_agreement", f"no agreement after {days} days", since, None, days)
                )

    if no_slot and state.series is None:
        found.append(Risk("no_slot", "no meeting time fits both"))

    emails = _emails(cfg, state)
    for role in ROLES:
        if role in emails and state.bounced(role, emails[role]):
            failure = state.failing[role]
            found.append(
                Risk("undeliverable", f"mail to {names.get(role, role)} bounces", failure.at, role)
            )

    meeting = state.stage in MEETING_STAGES and state.series is not None
    if meeting:
        quiet_since = state.quiet_since() or now
        quiet = now - quiet_since
        if quiet >= cfg.cadence.nudge.quiet_after:
            found.append(
                Risk("quiet", f"quiet for {quiet.days} days", quiet_since, None, quiet.days)
            )

    if rules.declined_in_a_row and state.series is not None:
        run = _declined_run(state, entries, now)
        if len(run) >= rules.declined_in_a_row:
            found.append(
                Risk(
                    "declined_in_a_row",
                    f"{len(run)} meetings in a row declined",
                    run[0],
                    None,
                    len(run),
                )
            )

    first = state.first_meeting()
    if rules.no_progress_after and meeting and first is not None:
        logged = [at for at, e in entries if e.get("kind") in PROGRESS_KINDS]
        since = max([first, *logged])
        if now - since - state.paused_for(since, now) >= rules.no_progress_after:
            days = (now - since - state.paused_for(since, now)).days
            found.append(
                Risk("no_progress", f"no progress logged for {days} days", since, None, days)
            )

    if rules.low_rating:
        ratings = [(at, e) for at, e in entries if e.get("kind") == "rating"]
        if ratings:
            at, entry = ratings[-1]
            value = _rating(entry)
            if value is not None and value <= rules.low_rating:
                by = entry.get("by") if entry.get("by") in ROLES else None
                found.append(Risk("low_rating", f"last rating {value}/5", at, by, value))

    if state.stage == Stage.PAUSED:
        found.append(Risk("paused", "paused"))
    return found


def _rating(entry: Mapping[str, Any]) -> int | None:
    value = entry.get("value")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    head = str(entry.get("text", "")).split("/")[0].strip()
    return int(head) if head.isdigit() else None


def _declined_run(
    state: PairState, entries: list[tuple[datetime, Mapping[str, Any]]], now: datetime
) -> list[datetime]:
    """Original starts of the latest meetings in a row that someone declined.

    Calendar answers are logged per meeting ("REPLY declined for 2027-03-16", the day of
    the meeting's RECURRENCE-ID) or for the whole series ("REPLY declined"). A later answer
    replaces an earlier one of the same person; declining the whole series declines
    every meeting after the answer. The run is counted back from the latest meeting
    that has taken place or is declined, so a meeting that took place ends it and one
    that is still ahead does not.
    """
    per_meeting: dict[tuple[str, str], str] = {}  # (day, role) -> status
    whole: dict[str, tuple[str, datetime]] = {}  # role -> (status, when)
    for at, entry in entries:
        if entry.get("kind") != "meeting_reply":
            continue
        found = _REPLY.match(str(entry.get("text", "")).strip())
        if not found:
            continue
        role, status = str(entry.get("by") or ""), found["status"].lower()
        if found["day"]:
            per_meeting[(found["day"], role)] = status
        else:
            whole[role] = (status, at)
    if "declined" not in per_meeting.values() and all(w[0] != "declined" for w in whole.values()):
        return []  # nobody declined anything: most pairs, and no need to list the meetings
    meetings: list[tuple[datetime, datetime, str]] = []  # (original, start, zone)
    for series in state.segments():
        meetings += [(o, start, series.tz) for o, start in series.meetings()]
    meetings.sort(key=lambda m: m[1])
    if not meetings:
        return []

    def declined(original: datetime, start: datetime, zone: str) -> bool:
        days = {
            original.astimezone(ZoneInfo(zone)).date().isoformat(),
            original.astimezone(UTC).date().isoformat(),
        }
        for role in ROLES:
            answers = [per_meeting[(d, role)] for d in days if (d, role) in per_meeting]
            if answers:
                if "declined" in answers:
                    return True
                continue
            series_answer = whole.get(role)
            if series_answer and series_answer[0] == "declined" and start >= series_answer[1]:
                return True
        return False

    flags = [(o, start, declined(o, start, zone)) for o, start, zone in meetings]
    last = max((i for i, (_, start, no) in enumerate(flags) if start <= now or no), default=None)
    if last is None:
        return []
    run: list[datetime] = []
    for original, _, no in reversed(flags[: last + 1]):
        if not no:
            break
        run.append(original)
    run.reverse()
    return run
