"""Scoreboard of the new-text extraction on every reply corpus in ../shared/corpora.

`replies_multilingual` holds whole messages (`*.eml`, read with `parse_message`, as a
received reply is) and the peers' facts in `expected.json` (its README.txt: `equals`,
`contains`, `not_contains`, compared with whitespace normalised: bench/multilingual.py). The plain-text folders
are graded by `bench.corpora` (SOURCE.txt's rule), as tests/test_inbound.py does.

Each folder has a floor, the count reached so far: raise it when the count goes up,
never lower it. Every `replies_multilingual` fixture that is neither `questionable`
nor `convention` must pass. Run with `-s` to see the scoreboard.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agent.mail_in.inbound import parse_message, strip_reply
from bench import multilingual
from bench.corpora import CORPORA, load_all, passes

# Passing fixtures per folder, as a floor that only goes up.
FLOORS = {
    "replies_multilingual": 161,
    "email_reply_parser": 21,
    "email_reply_parser_py": 23,
}


@dataclass(frozen=True)
class Result:
    name: str
    passed: bool
    flags: tuple[str, ...] = ()


def score_multilingual() -> list[Result]:
    """Each message read whole, as a received reply is (`parse_message`)."""
    results = []
    for fixture in multilingual.load():
        reply = parse_message(multilingual.raw(fixture.name)).reply_text
        flags = tuple(flag for flag in ("questionable", "convention") if fixture.facts.get(flag))
        results.append(Result(fixture.name, multilingual.passes(reply, fixture.facts), flags))
    return results


def score_all() -> dict[str, list[Result]]:
    scores = {"replies_multilingual": score_multilingual()}
    for folder, fixtures in load_all().items():
        scores[folder] = [Result(f.name, passes(strip_reply(f.text), f.facts)) for f in fixtures]
    return scores


@pytest.fixture(scope="module")
def scores() -> dict[str, list[Result]]:
    return score_all()


def test_every_reply_folder_is_scored(scores: dict[str, list[Result]]) -> None:
    """A new folder of reply fixtures gets a floor here (the `itip` folder holds invitations)."""
    folders = {p.parent.name for p in CORPORA.glob("*/expected.json")}
    assert set(scores) == set(FLOORS) == folders - {"itip"}


def test_scoreboard_and_floors(scores: dict[str, list[Result]]) -> None:
    print()
    for folder, results in scores.items():
        passed = sum(r.passed for r in results)
        print(f"{folder:<24} {passed:>4}/{len(results):<4} floor {FLOORS[folder]}")
        for r in results:
            if not r.passed:
                print(f"    fails: {r.name} {' '.join(r.flags)}")
    below = {
        folder: sum(r.passed for r in results)
        for folder, results in scores.items()
        if sum(r.passed for r in results) < FLOORS[folder]
    }
    assert not below, f"below the floor: {below} (floors {FLOORS})"


def test_unambiguous_multilingual_fixtures_all_pass(scores: dict[str, list[Result]]) -> None:
    failing = [r.name for r in scores["replies_multilingual"] if not r.passed and not r.flags]
    assert not failing


def test_the_grading_rule_can_fail() -> None:
    """The rule compares whole replies: a reply with the quote left in fails."""
    facts: dict[str, object] = {"equals": "Yes,  works\nfor me.", "not_contains": ["wrote:"]}
    assert multilingual.passes("Yes, works for me.\n", facts)
    assert not multilingual.passes("Yes, works for me.\nOn Tue Ana wrote:", facts)
    assert not multilingual.passes("Yes", {"contains": ["Yes, works"]})
