"""`mentormail match`: pairs that can really meet, the best for the whole cohort, explained.

The slot check here is written independently of the slot finder (every meeting of the
proposed series, on each person's own clock, inside their hours), and optimality is
checked against brute force on small cohorts.
"""

from __future__ import annotations

import csv
import itertools
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.commands.cli import main
from agent.config.loading import load_config
from agent.config.model import Config
from agent.pairs.matching import NO_FIT, Matches, propose, score_table

NOW = datetime(2027, 2, 10, 9, 0, tzinfo=ZoneInfo("Europe/London"))
HEAD = """\
program:
  name: Pool 2027
  timezone: Europe/London
  start: 2027-03-01
  end: 2027-05-31
  sender: {name: Mentoring, email: mentoring@example.org}
  coordinator: {name: Chris, email: coordinator@example.org}
"""
# Zones and hours that meet some of the others only: New York mornings meet Berlin
# afternoons; Kolkata evenings meet Lagos; Sydney mornings meet nobody here but Los Angeles
# afternoons (the previous day).
PEOPLE = {
    "ny": ("America/New_York", "08:00-11:00"),
    "berlin": ("Europe/Berlin", "13:00-18:00"),
    "kolkata": ("Asia/Kolkata", "14:00-20:00"),
    "lagos": ("Africa/Lagos", "09:00-17:00"),
    "sydney": ("Australia/Sydney", "07:00-09:00"),
    "la": ("America/Los_Angeles", "13:00-17:00"),
}
TOPICS = [
    "leading engineering teams",
    "public speaking",
    "machine learning careers",
    "startup fundraising",
    "product management",
    "writing for the web",
]


def config(tmp_path: Path, people: list[str], extra: str = "") -> Config:
    path = tmp_path / "program.yaml"
    path.write_text(HEAD + "participants:\n" + "\n".join(people) + "\npairs: []\n" + extra)
    return load_config(path)


def person(pid: str, role: str, where: str, **fields: object) -> str:
    zone, hours = PEOPLE[where]
    extra = "".join(f", {k}: {v}" for k, v in fields.items())
    return (
        f"  - {{id: {pid}, name: {pid.title()} Example, email: {pid}@example.org, "
        f'role: {role}, timezone: {zone}, hours: "{hours}"{extra}}}'
    )


def meets_every_week(cfg: Config, found: Matches) -> None:
    """Every meeting of every proposed series lies inside both people's hours, on their
    own clocks: checked meeting by meeting, without the slot finder."""
    for p in found.proposals:
        meetings = p.slot.occurrences()
        assert meetings, p
        for start in meetings:
            for who in (p.mentor, p.mentee):
                participant = cfg.participant(who)
                local = start.astimezone(participant.timezone)
                end = (start + p.slot.duration).astimezone(participant.timezone)
                window = participant.hours.get(local.weekday())
                assert window is not None, (who, local)
                assert window[0] <= local.time() and end.time() <= window[1], (who, local)
                assert local.date() == end.date()


def test_pairs_who_can_meet_share_what_they_wrote(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        [
            person("ana", "mentor", "ny", experience="[leadership of engineering teams]"),
            person("raj", "mentor", "kolkata", experience="[machine learning careers]"),
            person("ben", "mentee", "berlin", goals="[become an engineering team leader]"),
            person("dee", "mentee", "lagos", goals="[move into machine learning]"),
        ],
    )
    found = propose(cfg, NOW)
    assert {(p.mentor, p.mentee) for p in found.proposals} == {("ana", "ben"), ("raj", "dee")}
    meets_every_week(cfg, found)
    ana_ben = next(p for p in found.proposals if p.mentor == "ana")
    assert "engineering" in ana_ben.shared[0] and "leader" in ana_ben.shared[0]
    first = ana_ben.slot.first_start
    ny, berlin = (
        first.astimezone(ZoneInfo("America/New_York")),
        first.astimezone(ZoneInfo("Europe/Berlin")),
    )
    text = ana_ben.time_text(cfg)
    assert f"{ny:%H:%M}" in text and f"{berlin:%H:%M}" in text and f"{ny:%A}" in text
    assert found.unmatched == []


def test_someone_whose_hours_meet_nobody_is_listed_with_the_reason(tmp_path: Path) -> None:
    """Kim's Sydney mornings meet neither Berlin nor Lagos working hours; Ana (New York)
    meets both Ben and Dee but takes one mentee, so one of them waits, and says why."""
    cfg = config(
        tmp_path,
        [
            person("ana", "mentor", "ny"),
            person("kim", "mentor", "sydney"),
            person("ben", "mentee", "berlin"),
            person("dee", "mentee", "lagos"),
        ],
    )
    found = propose(cfg, NOW)
    (proposal,) = found.proposals
    assert proposal.mentor == "ana" and proposal.mentee in {"ben", "dee"}
    reasons = {u.person: u.reason for u in found.unmatched}
    waiting = ({"ben", "dee"} - {proposal.mentee}).pop()
    assert set(reasons) == {"kim", waiting}
    assert "hours" in reasons["kim"] and "Australia/Sydney" in reasons["kim"]
    assert "proposed for a mentee who suits them more" in reasons[waiting]


def test_a_mentor_with_capacity_two_takes_two(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        [
            person("ana", "mentor", "ny", capacity=2),
            person("ben", "mentee", "berlin"),
            person("cy", "mentee", "berlin"),
        ],
    )
    found = propose(cfg, NOW)
    assert sorted(p.mentee for p in found.proposals if p.mentor == "ana") == ["ben", "cy"]


def test_the_coordinators_rules_are_never_broken(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        [
            person("ana", "mentor", "ny", attributes="{department: sales, gender: woman}"),
            person("bo", "mentor", "ny", attributes="{department: legal, gender: man}"),
            person("cal", "mentor", "ny", languages="[fr]"),
            person("ben", "mentee", "berlin", attributes="{department: sales}"),
            person("cy", "mentee", "berlin", wants="{gender: woman}"),
            person("di", "mentee", "berlin", languages="[de, en]"),
        ],
        extra="matching: {not_same: [department], exclude: [[bo, di]]}\n",
    )
    found = propose(cfg, NOW)
    pairs = {(p.mentor, p.mentee) for p in found.proposals}
    assert ("ana", "ben") not in pairs  # the same department
    assert all(m == "ana" for m, e in pairs if e == "cy")  # only a woman mentor for Cy
    assert ("bo", "di") not in pairs and ("cal", "di") not in pairs  # excluded; no language
    assert ("ana", "cy") in pairs
    reasons = {u.person: u.reason for u in found.unmatched}
    assert "di" in reasons


# --- the assignment is the best for the cohort ----------------------------------------------

cohorts = st.tuples(
    st.lists(
        st.tuples(st.sampled_from(sorted(PEOPLE)), st.sampled_from(TOPICS)), min_size=1, max_size=3
    ),
    st.lists(
        st.tuples(st.sampled_from(sorted(PEOPLE)), st.sampled_from(TOPICS)), min_size=1, max_size=3
    ),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cohort=cohorts)
def test_the_assignment_is_optimal_against_brute_force(tmp_path: Path, cohort) -> None:
    mentors, mentees = cohort
    lines = [
        person(f"m{i}", "mentor", where, experience=f"[{topic}]")
        for i, (where, topic) in enumerate(mentors)
    ] + [
        person(f"e{i}", "mentee", where, goals=f"[{topic}]")
        for i, (where, topic) in enumerate(mentees)
    ]
    cfg = config(tmp_path, lines)
    found = propose(cfg, NOW)
    meets_every_week(cfg, found)
    table = score_table(cfg, NOW)
    ms, es = table.mentors, table.mentees
    score = {
        (m.id, e.id): float(table.scores[r, c]) for c, m in enumerate(ms) for r, e in enumerate(es)
    }
    best = (0, 0.0)
    for chosen in itertools.permutations([*ms, *([None] * len(es))], len(es)):
        fits = [(m.id, e.id) for m, e in zip(chosen, es, strict=True) if m is not None]
        if any(score[f] <= NO_FIT for f in fits):
            continue
        best = max(best, (len(fits), round(sum(score[f] for f in fits), 6)))
    got = (len(found.proposals), round(sum(p.score for p in found.proposals), 6))
    assert got == best


# --- through the CLI, as a coordinator does it ----------------------------------------------


def accept(config: Path, now: str, *extra: str) -> int:
    """`mentormail match --accept pairs.csv` next to the config, as of `now`."""
    pairs = config.parent / "pairs.csv"
    return main(["match", "--config", str(config), "--now", now, "--accept", str(pairs), *extra])


def test_match_accept_and_the_pairs_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pairs.csv").write_text("id,mentor,mentee,goals\n")
    path = tmp_path / "program.yaml"
    path.write_text(
        HEAD
        + textwrap.dedent(
            """\
            participants:
            {people}
            pairs: pairs.csv
            """
        ).format(
            people="\n".join(
                [
                    person("ana", "mentor", "ny", experience="[public speaking]"),
                    person("ben", "mentee", "berlin", goals="[speak at conferences]"),
                ]
            )
        )
    )
    assert accept(path, "2027-02-10T09:00", "--dry-run") == 0
    assert (tmp_path / "pairs.csv").read_text() == "id,mentor,mentee,goals\n"
    assert accept(path, "2027-02-10T09:00") == 0
    out = capsys.readouterr().out
    assert "Ana Example (ana) mentors Ben Example (ben)" in out and "added 1 pairs" in out
    rows = list(csv.DictReader((tmp_path / "pairs.csv").open()))
    assert rows == [
        {"id": "ana-ben", "mentor": "ana", "mentee": "ben", "goals": "speak at conferences"}
    ]
    assert main(["validate", str(path)]) == 0
    assert main(["tick", "--config", str(path), "--now", "2027-02-15T09:00"]) == 0
    sent = list((tmp_path / "mail" / "sent" / "new").iterdir())
    assert len(sent) >= 2  # both are welcomed
    # nobody is left, so a second match proposes nothing and adds nothing
    assert accept(path, "2027-02-16T09:00") == 0
    assert "added 0 pairs" in capsys.readouterr().out
    assert len(list(csv.DictReader((tmp_path / "pairs.csv").open()))) == 1
