"""What a pair keeps of its people, for when the config no longer names them.

A participant removed from the config (or replaced) must still be named in the pair's log,
its closing email and `forget`; the pair's state holds a `Member` copy of each person.
"""

from __future__ import annotations

from agent.config.model import Participant
from agent.meetings.timefmt import format_hours
from agent.pairs.program import Member


def member_of(person: Participant) -> Member:
    """What the agent keeps of a participant for when the config no longer names them."""
    return Member(
        id=person.id,
        name=person.name,
        email=person.email,
        role=person.role,
        timezone=str(person.timezone),
        hours=format_hours(person.hours),
    )
