"""Matching: proposed pairs among the people without one, who can really meet. Pure.

`propose(cfg, now)` works in three steps, each of which the proposal explains in words:

1. **Who can meet whom** (hard rules, never traded off). The booking's own slot search
   (`agent.config.booking.search_meetings`, the one the planner books with) must find a
   weekly series inside both people's hours for the whole program, on their own clocks
   through every DST change. Both must share a language when both list languages; the
   mentor must have every attribute the mentee `wants`; they must not share an attribute
   named in `matching.not_same`, nor be listed in `matching.exclude`. A search is shared
   by everyone with the same zone and hours, so a cohort costs one search per kind of
   pair, not per pair.
2. **How well** (a score from 0 to 1). The mentee's goals against the mentor's experience,
   their interests and values, and a shared language, weighted by `matching.weights`.
   Texts are compared by their words (rapidfuzz's token-set ratio: word order and
   repeats do not matter, and typos cost little); nothing else about a person is scored.
3. **Everyone at once.** The assignment that maximises the whole cohort's score, not a
   greedy one (scipy's `linear_sum_assignment`; a mentor with `capacity: 2` stands for
   two seats). Where a mentee's best-scoring mentor went to someone else, the proposal
   says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from zoneinfo import ZoneInfo

import numpy as np

from agent.config.booking import search_meetings
from agent.config.model import Config, Participant
from agent.meetings.slots import Availability, SeriesSlot
from agent.meetings.timefmt import format_hours

NO_FIT = -1.0  # the score of a pair that breaks a hard rule
# An assignment that breaks a rule costs more than any scores can win back: the most people
# matched first, then the best scores among those assignments.
_RULE_BROKEN_COST = 1_000.0
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)  # words of four letters or more
_COMMON = frozenset(
    [
        "about",
        "after",
        "also",
        "been",
        "from",
        "have",
        "into",
        "more",
        "that",
        "than",
        "their",
        "them",
        "they",
        "this",
        "what",
        "when",
        "with",
        "would",
        "your",
        "like",
        "want",
        "better",
        "other",
        "some",
        "work",
        "working",
        "learn",
        "learning",
        "skills",
    ]
)


@dataclass(frozen=True)
class Proposal:
    """A proposed pair, with why: the meeting time that fits both, and what they share."""

    mentor: str
    mentee: str
    score: float
    slot: SeriesSlot
    shared: tuple[str, ...]  # what they have in common, in words
    trade_off: str = ""  # the mentee's better-scoring mentor who went to someone else

    def time_text(self, cfg: Config) -> str:
        """ "Tuesdays 16:00–16:45 Europe/London = 11:00–11:45 America/New_York, weekly from
        2 March 2027": the first meeting on both clocks (the series keeps to both people's
        hours through every DST change, or it would not be proposed)."""
        start = self.slot.first_start
        end = start + self.slot.duration
        clocks = []
        for person in (cfg.participant(self.mentor), cfg.participant(self.mentee)):
            zone: ZoneInfo = person.timezone
            a, b = start.astimezone(zone), end.astimezone(zone)
            clocks.append(f"{a:%H:%M}–{b:%H:%M} {zone.key}")
        weekday = start.astimezone(cfg.participant(self.mentor).timezone)
        every = (
            "weekly" if self.slot.interval_weeks == 1 else f"every {self.slot.interval_weeks} weeks"
        )
        return f"{weekday:%A}s {' = '.join(clocks)}, {every} from {start.day} {start:%B %Y}"


@dataclass(frozen=True)
class Unmatched:
    person: str
    reason: str


@dataclass(frozen=True)
class Matches:
    proposals: list[Proposal]
    unmatched: list[Unmatched]


def unpaired(cfg: Config) -> tuple[list[Participant], list[Participant]]:
    """The mentors and mentees who are in no pair of the config."""
    paired = {p.mentor for p in cfg.pairs} | {p.mentee for p in cfg.pairs}
    pool = [p for p in cfg.participants if p.id not in paired]
    return [p for p in pool if p.role == "mentor"], [p for p in pool if p.role == "mentee"]


class Rule(IntEnum):
    """Why a pair cannot be proposed; OK when it can."""

    OK = 0
    EXCLUDED = 1
    NO_LANGUAGE = 2
    WANTS = 3
    NOT_SAME = 4
    HOURS = 5


@dataclass(frozen=True)
class Table:
    """Every mentee (rows) against every mentor (columns) of the pool."""

    mentors: list[Participant]
    mentees: list[Participant]
    rules: np.ndarray  # Rule per pair (int8)
    scores: np.ndarray  # 0..1 where the rules allow the pair, NO_FIT where they do not
    slots: _Slots
    not_same: tuple[str, ...]  # matching.not_same, to name the attribute in words

    def slot(self, row: int, column: int) -> SeriesSlot:
        found = self.slots.between(self.mentors[column], self.mentees[row])
        assert found is not None
        return found


def score_table(cfg: Config, now: datetime) -> Table:
    """The rules and the score of every possible pair in the pool, as two matrices."""
    mentors, mentees = unpaired(cfg)
    slots = _Slots(cfg, now)
    rules = _rules(cfg, slots, mentors, mentees)
    weights = cfg.matching.weights
    shape = (len(mentees), len(mentors))
    total, weight = np.zeros(shape), np.zeros(shape)
    for w, ours, theirs in (
        (weights.goals, [e.goals for e in mentees], [m.experience for m in mentors]),
        (weights.interests, [e.interests for e in mentees], [m.interests for m in mentors]),
    ):
        if not w:
            continue
        present = np.outer([bool(x) for x in ours], [bool(x) for x in theirs])
        if present.any():
            total += w * present * _likeness_matrix(ours, theirs)
            weight += w * present
    if weights.language:
        common, _ = _language_matrices(mentees, mentors)
        total += weights.language * common
        weight += weights.language * common
    scores = np.divide(total, weight, out=np.zeros(shape), where=weight > 0).round(4)
    scores[rules != Rule.OK] = NO_FIT
    return Table(mentors, mentees, rules, scores, slots, tuple(cfg.matching.not_same))


def propose(cfg: Config, now: datetime) -> Matches:
    """Pairs for everyone without one, best for the whole cohort; who is left, and why."""
    from scipy.optimize import linear_sum_assignment  # scipy: only for `match`

    table = score_table(cfg, now)
    mentors, mentees, scores = table.mentors, table.mentees, table.scores
    proposals: list[Proposal] = []
    taken: set[int] = set()
    seats = np.repeat(np.arange(len(mentors)), [m.capacity for m in mentors])
    if mentees and len(seats):
        by_seat = scores[:, seats]
        cost = np.where(by_seat <= NO_FIT, _RULE_BROKEN_COST, 1.0 - by_seat)
        for r, c in zip(*linear_sum_assignment(cost), strict=True):
            row, column = int(r), int(seats[c])
            if scores[row, column] <= NO_FIT:
                continue
            taken.add(row)
            proposals.append(_proposal(table, row, column))
    unmatched = [
        Unmatched(mentee.id, _why_alone(table, row))
        for row, mentee in enumerate(mentees)
        if row not in taken
    ]
    busy = {p.mentor for p in proposals}
    unmatched += [
        Unmatched(mentor.id, _why_no_mentee(table, column))
        for column, mentor in enumerate(mentors)
        if mentor.id not in busy
    ]
    return Matches(proposals, unmatched)


def _proposal(table: Table, row: int, column: int) -> Proposal:
    mentor, mentee = table.mentors[column], table.mentees[row]
    score = float(table.scores[row, column])
    best = int(np.argmax(table.scores[row]))
    trade_off = ""
    if best != column and table.scores[row, best] > score + 1e-9:
        trade_off = (
            f"{table.mentors[best].name} fits {mentee.first_name} better "
            f"({table.scores[row, best]:.2f}) but is proposed for someone they suit more"
        )
    shared = []
    if (
        mentee.goals
        and mentor.experience
        and (words := _shared_words(mentee.goals, mentor.experience))
    ):
        shared.append(f"{mentee.first_name}'s goals and {mentor.first_name}'s experience: {words}")
    if (
        mentee.interests
        and mentor.interests
        and (words := _shared_words(mentee.interests, mentor.interests))
    ):
        shared.append(f"interests and values: {words}")
    if common := _languages(mentor) & _languages(mentee):
        shared.append("a language: " + ", ".join(sorted(common)))
    return Proposal(mentor.id, mentee.id, score, table.slot(row, column), tuple(shared), trade_off)


class _Slots:
    """The booking's slot search, once per (mentor zone and hours, mentee zone and hours)."""

    def __init__(self, cfg: Config, now: datetime) -> None:
        self.cfg, self.now = cfg, now
        self._found: dict[tuple[object, ...], SeriesSlot | None] = {}

    def between(self, mentor: Participant, mentee: Participant) -> SeriesSlot | None:
        key = (_signature(mentor), _signature(mentee))
        if key not in self._found:
            people = [_availability(mentor), _availability(mentee)]
            search = search_meetings(self.cfg, people, self.now)
            self._found[key] = search.slots[0] if search.slots else None
        return self._found[key]


def _signature(person: Participant) -> tuple[object, ...]:
    return (person.timezone.key, tuple(sorted(person.hours.items())))


def _availability(person: Participant) -> Availability:
    return Availability(name=person.timezone.key, tz=person.timezone, hours=person.hours)


def _rules(
    cfg: Config, slots: _Slots, mentors: list[Participant], mentees: list[Participant]
) -> np.ndarray:
    """The first rule each pair breaks (Rule.OK for none), checked in Rule order."""
    rules = np.zeros((len(mentees), len(mentors)), dtype=np.int8)
    column = {m.id: i for i, m in enumerate(mentors)}
    row = {e.id: i for i, e in enumerate(mentees)}

    def mark(where: np.ndarray, rule: Rule) -> None:
        rules[(rules == Rule.OK) & where] = rule

    excluded = np.zeros(rules.shape, dtype=bool)
    for a, b in cfg.matching.exclude:
        for x, y in ((a, b), (b, a)):
            if x in row and y in column:
                excluded[row[x], column[y]] = True
    mark(excluded, Rule.EXCLUDED)
    common, both = _language_matrices(mentees, mentors)
    mark(both & ~common, Rule.NO_LANGUAGE)

    def mark_row(r: int, where: np.ndarray, rule: Rule) -> None:
        rules[r, (rules[r] == Rule.OK) & where] = rule

    for r, mentee in enumerate(mentees):
        for key, wanted in mentee.wants.items():
            lacks = [m.attributes.get(key, "").casefold() != wanted.casefold() for m in mentors]
            mark_row(r, np.array(lacks, dtype=bool), Rule.WANTS)
    for key in cfg.matching.not_same:
        a = np.array([e.attributes.get(key, "\x00e").casefold() for e in mentees], dtype=object)
        b = np.array([m.attributes.get(key, "\x00m").casefold() for m in mentors], dtype=object)
        mark(a[:, None] == b[None, :], Rule.NOT_SAME)
    kinds: dict[tuple[object, ...], list[int]] = {}  # mentors with the same zone and hours
    for c, mentor in enumerate(mentors):
        kinds.setdefault(_signature(mentor), []).append(c)
    for r, mentee in enumerate(mentees):
        for columns in kinds.values():
            if slots.between(mentors[columns[0]], mentee) is None:
                where = np.zeros(len(mentors), dtype=bool)
                where[columns] = True
                mark_row(r, where, Rule.HOURS)
    return rules


def _language_matrices(
    mentees: list[Participant], mentors: list[Participant]
) -> tuple[np.ndarray, np.ndarray]:
    """(common, both_listed): whether each pair shares a language, and whether both list any."""
    codes = sorted({code for person in [*mentees, *mentors] for code in _languages(person)})
    index = {code: i for i, code in enumerate(codes)}

    def spoken(people: list[Participant]) -> np.ndarray:
        found = np.zeros((len(people), len(codes)), dtype=np.float32)
        for row, person in enumerate(people):
            found[row, [index[code] for code in _languages(person)]] = 1.0
        return found

    ours, theirs = spoken(mentees), spoken(mentors)
    both = np.outer(ours.any(axis=1), theirs.any(axis=1))
    return (ours @ theirs.T) > 0, both


def _languages(person: Participant) -> set[str]:
    """Primary language subtags: "pt-BR" and "pt" speak to each other."""
    return {code.split("-")[0].casefold() for code in person.languages}


def _likeness_matrix(ours: list[list[str]], theirs: list[list[str]]) -> np.ndarray:
    """How alike every pair of phrase lists is (0..1): rapidfuzz's token-set ratio."""
    from rapidfuzz import fuzz, process

    return (
        process.cdist(
            ["; ".join(x) for x in ours],
            ["; ".join(x) for x in theirs],
            scorer=fuzz.token_set_ratio,
            workers=-1,
        )
        / 100.0
    )


def _shared_words(ours: Sequence[str], theirs: Sequence[str]) -> str:
    """The words (alike in their first letters) two lists of phrases share."""
    theirs_stems = {w[:_STEM] for w in _words(theirs)}
    return ", ".join(sorted({w for w in _words(ours) if w[:_STEM] in theirs_stems})[:4])


_STEM = 5  # words alike in their first letters: "leader" and "leadership", "speak" and "speaking"


def _words(phrases: Iterable[str]) -> set[str]:
    return {
        w for w in (m.casefold() for p in phrases for m in _WORD.findall(p)) if w not in _COMMON
    }


_RULE_TEXT = {
    Rule.EXCLUDED: "excluded by matching.exclude",
    Rule.NO_LANGUAGE: "no language in common",
    Rule.WANTS: "not what the mentee asks for (wants)",
    Rule.NOT_SAME: "the same {attribute}, which matching.not_same rules out",
    Rule.HOURS: "no weekly time inside both people's hours for the whole program",
}


def _rule_text(
    rule: int, mentor: Participant, mentee: Participant, cfg_not_same: Sequence[str] = ()
) -> str:
    if rule == Rule.WANTS:
        wanted = ", ".join(f"{k}: {v}" for k, v in mentee.wants.items())
        return f"{mentee.first_name} asks for a mentor with {wanted}"
    if rule == Rule.NOT_SAME:
        same = [
            k
            for k in cfg_not_same
            if mentor.attributes.get(k, "").casefold() == mentee.attributes.get(k, "-").casefold()
        ]
        return f"the same {', '.join(same) or 'attribute'}, which matching.not_same rules out"
    return _RULE_TEXT[Rule(rule)]


def _hours(person: Participant) -> str:
    return f"{person.first_name}: {format_hours(person.hours)}, {person.timezone.key}"


def _why_alone(table: Table, row: int) -> str:
    mentee = table.mentees[row]
    if not table.mentors:
        return "there is no mentor without a pair"
    rules = table.rules[row]
    if (rules == Rule.OK).any():
        return "every mentor who fits is proposed for a mentee who suits them more"
    kinds = sorted(set(rules.tolist()))
    if kinds == [Rule.HOURS]:
        return f"no mentor fits: {_RULE_TEXT[Rule.HOURS]} ({_hours(mentee)})"
    return "no mentor fits: " + "; ".join(
        f"{m.first_name}: {_rule_text(int(rules[c]), m, mentee, table.not_same)}"
        for c, m in enumerate(table.mentors)
    )


def _why_no_mentee(table: Table, column: int) -> str:
    mentor = table.mentors[column]
    if not table.mentees:
        return "there is no mentee without a pair"
    rules = table.rules[:, column]
    if (rules == Rule.OK).any():
        return f"every mentee who fits {mentor.first_name} is proposed with another mentor"
    if set(rules.tolist()) == {Rule.HOURS}:
        return f"no mentee fits: {_RULE_TEXT[Rule.HOURS]} ({_hours(mentor)})"
    return "no mentee fits: " + "; ".join(
        f"{e.first_name}: {_rule_text(int(rules[r]), mentor, e, table.not_same)}"
        for r, e in enumerate(table.mentees)
    )
