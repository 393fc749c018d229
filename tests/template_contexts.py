"""Realistic sample contexts for every email template (see agent.mail_out.render).

`context_for(name)` returns a fresh, deep-copied dict each time, so a test may
mutate it freely. The shapes follow the context contract the callers use.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

NOW = datetime(2027, 3, 23, 14, 5, tzinfo=ZoneInfo("UTC"))
VIDEO_LINK = "https://meet.example.org/bridges-p01"
BACKUP = "a phone call or WhatsApp message"

PROGRAM: dict[str, Any] = {
    "name": "Bridges Mentoring 2027",
    "timezone": "Europe/London",
    "start": date(2027, 3, 1),
    "end": date(2027, 5, 28),
    "sender": {"name": "The Bridges program office", "email": "mentoring@bridges.example.org"},
    "coordinator": {"name": "Priya Raman", "email": "priya.raman@bridges.example.org"},
}

MENTOR: dict[str, Any] = {
    "id": "m-daniel",
    "name": "Daniel Okafor",
    "first_name": "Daniel",
    "email": "daniel.okafor@example.com",
    "role": "mentor",
    "timezone": "Africa/Lagos",
    "hours": "Mon–Thu 09:00–17:00",
    "local_time": "15:05, Tuesday",
    "offset": "5 hours ahead of you",
}

MENTEE: dict[str, Any] = {
    "id": "e-ana",
    "name": "Ana Souza",
    "first_name": "Ana",
    "email": "ana.souza@example.net",
    "role": "mentee",
    "timezone": "America/New_York",
    "hours": "09:00–17:00",
    "local_time": "10:05, Tuesday",
    "offset": "5 hours behind you",
}

COORDINATOR: dict[str, Any] = {
    "id": "coordinator",
    "name": "Priya Raman",
    "first_name": "Priya",
    "email": "priya.raman@bridges.example.org",
    "role": "coordinator",
    "timezone": "Europe/London",
    "hours": "09:00–17:30",
    "local_time": "14:05, Tuesday",
    "offset": "",
}

PAIR: dict[str, Any] = {
    "id": "p-01",
    "goals": [
        "Prepare for a move into a team-lead role",
        "Get better at giving difficult feedback",
        "Build a network in the data engineering community",
    ],
}

CADENCE: dict[str, Any] = {
    "meetings": {
        "every": "every 2 weeks",
        "duration_minutes": 45,
        "video_link": VIDEO_LINK,
        "backup_channel": BACKUP,
    },
    "agreement": {
        "response_time": "within two working days",
        "confidentiality": (
            "What you discuss stays between the two of you, unless someone's safety is at risk."
        ),
        "phrase": "I agree",
    },
}

# Seen by the mentee (Ana, New York); `other_when` is Daniel's view.
MEETING: dict[str, Any] = {
    "first": "Tuesday 2 March 2027 at 09:00",
    "when": "every 2 weeks on Tuesday at 09:00–09:45 (America/New_York)",
    "other_when": "every 2 weeks on Tuesday at 15:00–15:45 (Africa/Lagos)",
    "date": "Tuesday 16 March 2027",
    "until": "Tuesday 25 May 2027",
    "video_link": VIDEO_LINK,
    "backup_channel": BACKUP,
    "change": None,
}

PARTICIPANT_TEMPLATES = (
    "welcome",
    "agreement",
    "agreement_reminder",
    "slot_options",
    "invitation",
    "follow_up",
    "check_in",
    "nudge",
    "closure",
    "pair_removed",
    "farewell",
    "partner_changed",
    "progress_check",
    "meeting_time_check",
    "rating_follow_up",
    "confirm_change",
    "acknowledge",
    "counter_declined",
    "confirm_reply",
    "pause",
    "pause_check",
    "resume",
    "goodbye",
    "partner_left",
)
COORDINATOR_TEMPLATES = (
    "coordinator_reply",
    "coordinator_escalation",
    "digest",
    "coordinator_answer",
)
ALL_TEMPLATES = PARTICIPANT_TEMPLATES + COORDINATOR_TEMPLATES


def _participant(meeting: bool = True) -> dict[str, Any]:
    return {
        "program": PROGRAM,
        "recipient": MENTEE,
        "now": NOW,
        "pair": PAIR,
        "mentor": MENTOR,
        "mentee": MENTEE,
        "other": MENTOR,
        "cadence": CADENCE,
        "meeting": MEETING if meeting else None,
    }


def _extras(name: str) -> dict[str, Any]:
    if name == "invitation":
        return {"invitation_attached": True}
    if name == "slot_options":
        return {
            "options": [
                {
                    "number": 1,
                    "when": "every Tuesday at 09:00–09:45 (America/New_York)",
                    "other_when": "every Tuesday at 15:00–15:45 (Africa/Lagos)",
                    "first": "Tuesday 2 March 2027 at 09:00",
                },
                {
                    "number": 2,
                    "when": "every Thursday at 10:30–11:15 (America/New_York)",
                    "other_when": "every Thursday at 16:30–17:15 (Africa/Lagos)",
                    "first": "Thursday 4 March 2027 at 10:30",
                },
            ],
            "answer_by": "Friday 26 February 2027",
        }
    if name == "agreement_reminder":
        return {"reminder_number": 2, "other_agreed": True}
    if name == "check_in":
        return {"check_in_number": 3}
    if name == "nudge":
        return {"quiet_days": 16}
    if name in ("pair_removed", "farewell"):
        return {"meetings_cancelled": True, "invitation_attached": True}
    if name == "partner_changed":
        return {
            "meetings_cancelled": True,
            "invitation_attached": True,
            "previous": {
                "id": "m-grace",
                "name": "Grace Lee",
                "first_name": "Grace",
                "email": "grace.lee@example.com",
                "role": "mentor",
                "timezone": "Asia/Singapore",
                "hours": "09:00–17:00",
                "local_time": "22:05, Tuesday",
                "offset": "12 hours ahead of you",
            },
        }
    if name == "progress_check":
        return {"days": 29}
    if name == "meeting_time_check":
        return {"declined": 2}
    if name == "rating_follow_up":
        return {"rating": 2}
    if name == "confirm_change":
        zone = ZoneInfo(MENTEE["timezone"])
        return {
            "changes": ["skip a meeting (Tuesday 30 March 2027)", "rate the mentoring 2/5"],
            "asked_at": datetime(2027, 3, 23, 9, 41, tzinfo=zone),
            "until": datetime(2027, 3, 28, 10, 5, tzinfo=zone),
        }
    if name == "counter_declined":  # agent.pairs.ingest, a calendar COUNTER not taken
        return {
            "reason": "Saturday 6 March 10:00 (America/New_York) is outside Ben's hours "
            "(Mon–Fri 13:00–16:00, Europe/Berlin)",
            "original": "2027-03-08T13:30:00+00:00",
            "subject": "New Time Proposed: Mentoring: Ana & Ben",
        }
    if name in ("acknowledge", "confirm_reply"):  # agent.pairs.hearing_back
        return {
            "subject": "Re: How did your meeting with Daniel go?",
            "done": [
                {"what": "progress", "text": "Drafted a 30-60-90 day plan for the new role."},
                {"what": "rating", "text": "4/5"},
            ],
        }
    if name in ("pause", "pause_check", "resume"):  # agent.pairs.planner._pause_notices
        london = ZoneInfo("Europe/London")
        return {
            "paused_by": "mentor",
            "since": datetime(2027, 3, 23, 9, 12, tzinfo=london),
            "until": datetime(2027, 4, 20, tzinfo=london) if name == "pause" else None,
            "cancelled": [datetime(2027, 3, 30, 14, tzinfo=london)] if name == "pause" else [],
            "invitation_attached": True,
        }
    if name in ("goodbye", "partner_left"):
        return {
            "left": ["mentor"],
            "reason": "the mentor left the program",
            "by_coordinator": False,
            "meetings_cancelled": True,
            "invitation_attached": True,
        }
    if name == "closure":
        return {
            "meetings_held": 6,
            "progress": [
                {
                    "at": "16 March 2027",
                    "by": "Ana Souza",
                    "kind": "progress",
                    "text": "Drafted a 30-60-90 day plan\nfor the team-lead role.",
                },
                {
                    "at": "13 April 2027",
                    "by": "Daniel Okafor",
                    "kind": "progress",
                    "text": "Ana ran her first feedback conversation and it went well.",
                },
                {
                    "at": "11 May 2027",
                    "by": "Ana Souza",
                    "kind": "rating",
                    "text": "Rated the meeting 5: spoke at the local data meetup!",
                },
            ],
        }
    return {}


def _coordinator_reply() -> dict[str, Any]:
    return {
        "program": PROGRAM,
        "recipient": COORDINATOR,
        "now": NOW,
        "pair": PAIR,
        "mentor": MENTOR,
        "mentee": MENTEE,
        "message": {
            "from_name": "Ana Souza",
            "from_addr": "ana.souza@example.net",
            "subject": "Re: How did your meeting with Daniel go?",
            "date": "Tuesday 16 March 2027, 18:12",
            "text": (
                "Hi, I'm not sure the pairing is working for me.\n"
                "Could we talk about it privately? See https://example.net/notes."
            ),
        },
        "reason": "asks to talk about the pairing privately",
    }


def _coordinator_answer() -> dict[str, Any]:
    """The answer to the coordinator's "agreed" (agent.commands.coordinator)."""
    return {
        "program": PROGRAM,
        "recipient": COORDINATOR,
        "now": NOW,
        "pair": PAIR,
        "mentor": MENTOR,
        "mentee": MENTEE,
        "answer": {
            "mode": "done",
            "instruction": "Agreed – I spoke to Ana this morning.",
            "suggestion": None,
            "done": ["marked the mentee agreed (pair p-01)"],
            "left": [],
            "understood": ["agreed - mark the person agreed"],
            "until": "",
            "subject": "RE: Needs you: reply from Ana Souza (pair p-01)",
        },
    }


def _coordinator_escalation() -> dict[str, Any]:
    return {
        "program": PROGRAM,
        "recipient": COORDINATOR,
        "now": NOW,
        "pair": PAIR,
        "mentor": MENTOR,
        "mentee": MENTEE,
        "escalation": {
            "reason": "two meetings missed in a row",
            "details": (
                "The meetings on 2 March and 16 March were declined by Daniel, "
                "and neither of them has replied to the follow-ups."
            ),
            "suggestion": "Call Daniel to ask whether the time still works for him.",
        },
    }


def _digest() -> dict[str, Any]:
    return {
        "program": PROGRAM,
        "recipient": COORDINATOR,
        "now": NOW,
        "digest": {
            "period": "15–21 March 2027",
            "stages": [
                {"stage": "agreement", "count": 2},
                {"stage": "meeting", "count": 9},
                {"stage": "paused", "count": 1},
            ],
            "pairs": [
                {
                    "id": "p-04",
                    "mentor": "Kenji Watanabe",
                    "mentee": "Lena Fischer",
                    "stage": "meeting",
                    "at_risk": True,
                    "reasons": ["no reply for 21 days", "last meeting rated 2"],
                    "last_heard": "28 February 2027",
                    "next_meeting": "Thursday 25 March 2027 at 10:00",
                },
                {
                    "id": "p-01",
                    "mentor": "Daniel Okafor",
                    "mentee": "Ana Souza",
                    "stage": "meeting",
                    "at_risk": False,
                    "reasons": [],
                    "last_heard": "16 March 2027",
                    "next_meeting": "Tuesday 30 March 2027 at 09:00",
                },
                {
                    "id": "p-07",
                    "mentor": "Maria García",
                    "mentee": "Tom Hughes",
                    "stage": "agreement",
                    "at_risk": False,
                    "reasons": [],
                    "last_heard": None,
                    "next_meeting": None,
                },
            ],
            "meetings_held": 7,
            "meetings_planned": 9,
            "agreements_pending": ["p-07", "p-09"],
            "quiet": ["p-04"],
            "declined": 1,
            "bounces": ["old.address@example.com"],
            "needs_human": [
                {
                    "pair": "p-04",
                    "from": "Lena Fischer <lena@example.de>",
                    "text": "Can I switch to a different mentor?",
                    "reason": "asks to change mentor",
                },
                {
                    "pair": None,
                    "from": "someone@example.org",
                    "text": "How do I join the program?",
                    "reason": "sender is not in the program",
                },
            ],
            "quarantined": 3,
        },
    }


# Emails to people who leave a pair or a removed pair: no meeting any more.
NO_MEETING = ("pair_removed", "farewell", "partner_changed", "goodbye", "partner_left")


def context_for(name: str) -> dict[str, Any]:
    """A realistic context for template `name` (a fresh deep copy)."""
    if name in PARTICIPANT_TEMPLATES:
        ctx = {**_participant(meeting=name not in NO_MEETING), **_extras(name)}
    elif name == "coordinator_reply":
        ctx = _coordinator_reply()
    elif name == "coordinator_escalation":
        ctx = _coordinator_escalation()
    elif name == "coordinator_answer":
        ctx = _coordinator_answer()
    elif name == "digest":
        ctx = _digest()
    else:
        raise KeyError(f"no sample context for template {name!r}")
    return copy.deepcopy(ctx)
