"""`mentormail match`: proposed pairs for the people without one, and accepting them.

The proposals come from `agent.pairs.matching`; accepting writes them as rows of a pairs
CSV (`id,mentor,mentee,goals`), the file a config names with `pairs: pairs.csv`, so the
coordinator's config stays the one place where pairs are decided.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from agent.config.model import Config
from agent.pairs.matching import Matches, Proposal
from agent.state.private_files import write_private

HEADER = ["id", "mentor", "mentee", "goals"]


def as_json(cfg: Config, found: Matches) -> str:
    return json.dumps(
        {
            "proposals": [_proposal_data(cfg, p) for p in found.proposals],
            "unmatched": [{"id": u.person, "reason": u.reason} for u in found.unmatched],
            "similarity": "words",
        },
        indent=2,
        ensure_ascii=False,
    )


def as_text(cfg: Config, found: Matches) -> str:
    mentees = sum(1 for p in cfg.participants if p.role == "mentee")
    paired = {p.mentee for p in cfg.pairs}
    pool = mentees - len(paired)
    lines = [
        f"{len(found.proposals)} pairs proposed for {pool} mentees without a pair "
        "(goals, experience and interests compared by their words)"
    ]
    for number, p in enumerate(found.proposals, 1):
        mentor, mentee = cfg.participant(p.mentor), cfg.participant(p.mentee)
        lines.append(
            f"{number}. {mentor.name} ({p.mentor}) mentors {mentee.name} ({p.mentee}), "
            f"score {p.score:.2f}"
        )
        lines.append(f"   meets: {p.time_text(cfg)}")
        lines.append("   shares: " + ("; ".join(p.shared) or "nothing the config lists"))
        if p.trade_off:
            lines.append(f"   trade-off: {p.trade_off}")
    if found.unmatched:
        lines.append("Not matched:")
        for u in found.unmatched:
            person = cfg.participant(u.person)
            lines.append(f"- {person.name} ({u.person}, {person.role}): {u.reason}")
    return "\n".join(lines)


def accept(cfg: Config, found: Matches, path: Path, *, dry_run: bool) -> str:
    """Append the proposals to the pairs CSV at `path` (created with its header if new)."""
    existing = path.read_text(encoding="utf-8-sig") if path.exists() else ""
    rows = [_row(cfg, p) for p in found.proposals]
    known = {r.get("id") for r in csv.DictReader(io.StringIO(existing))} if existing else set()
    rows = [r for r in rows if r["id"] not in known]
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER, lineterminator="\n")
    if not existing:
        writer.writeheader()
    writer.writerows(rows)
    text = (
        existing if existing.endswith("\n") or not existing else existing + "\n"
    ) + out.getvalue()
    verb = "would add" if dry_run else "added"
    if not dry_run and rows:
        write_private(path, text)
    return f"{verb} {len(rows)} pairs to {path} (a config reads them with `pairs: {path.name}`)"


def _row(cfg: Config, p: Proposal) -> dict[str, str]:
    goals = cfg.participant(p.mentee).goals
    return {
        "id": f"{p.mentor}-{p.mentee}",
        "mentor": p.mentor,
        "mentee": p.mentee,
        "goals": "; ".join(goals),
    }


def _proposal_data(cfg: Config, p: Proposal) -> dict[str, Any]:
    return {
        "mentor": p.mentor,
        "mentee": p.mentee,
        "score": p.score,
        "first_meeting": p.slot.first_start.isoformat(timespec="minutes"),
        "zone": p.slot.tz.key,
        "meets": p.time_text(cfg),
        "shares": list(p.shared),
        "trade_off": p.trade_off,
    }
