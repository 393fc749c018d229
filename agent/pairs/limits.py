"""Sending limits: how many emails may leave now, and which ones. Pure.

Providers cap what one mailbox sends (Gmail about 2,000 a day, Microsoft 365 30 a minute
and 10,000 recipients a day) and answer a burst above that with errors or a temporary
block of the whole mailbox. So the tick asks first: the sends of the last minute and
day (kept in the store's meta as their times) against `per_minute`, `per_day` and the
program's `daily_cap`. Emails beyond the budget wait. They are admitted oldest first by
the time they first had to wait (`waiting`), so a backlog drains in the order it built
up instead of favouring the pairs that come first in the config. Calendar actions have
no email and are never held back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.config.model import Limits
from agent.pairs.planner import Action

MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)


@dataclass(frozen=True)
class SendLimits:
    per_minute: int | None
    per_day: int | None

    @classmethod
    def of(cls, configured: Limits, provider: tuple[int | None, int | None]) -> SendLimits:
        """The config's limits where given, else the provider's; the daily cap on top."""
        per_minute = configured.per_minute or provider[0]
        days = [d for d in (configured.per_day or provider[1], configured.daily_cap) if d]
        return cls(per_minute, min(days) if days else None)


def budget(limits: SendLimits, sent: Sequence[datetime], now: datetime) -> int | None:
    """How many emails may still go out at `now` (None: no limit)."""
    left = []
    if limits.per_minute:
        left.append(limits.per_minute - sum(1 for t in sent if now - t < MINUTE))
    if limits.per_day:
        left.append(limits.per_day - sum(1 for t in sent if now - t < DAY))
    return max(0, min(left)) if left else None


def recent(sent: Sequence[datetime], now: datetime) -> list[datetime]:
    """The send times still inside the longest window (what the store needs to keep)."""
    return [t for t in sent if now - t < DAY]


def admit(
    todo: Sequence[Action], allowed: int | None, waiting: Mapping[str, datetime], now: datetime
) -> tuple[list[Action], list[Action]]:
    """(what goes now, what waits): every calendar action, and emails oldest-waiting first."""
    if allowed is None:
        return list(todo), []
    emails = sorted(
        (a for a in todo if a.template), key=lambda a: waiting.get(a.key, now)
    )  # sorted() is stable: the planner's order among equals
    admitted = set(a.key for a in emails[:allowed])
    go = [a for a in todo if not a.template or a.key in admitted]
    held = [a for a in emails if a.key not in admitted]
    return go, held
