"""Third-party reply-parser fixtures in ../shared/corpora and the rule that grades them.

Each corpus folder holds plain-text email bodies (`*.txt`), a `SOURCE.txt` naming
their origin and the grading rule, and `expected.json` with, per file:

- `peer_reply`: what the Python port email-reply-parser 0.5.12 returns;
- `must_contain` / `must_not_contain` / `equals`: facts the peer's own tests assert.

A fixture passes when every asserted fact holds; a file with no asserted facts is
compared with `peer_reply`. The data is read in place, never copied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = (ROOT / "../shared/corpora").resolve()
CORPUS_DIRS = ("email_reply_parser", "email_reply_parser_py")

# Fixtures where `peer_reply` (from the Python port, asserted by none of its tests)
# contradicts an assertion of the original Ruby library's own test suite: here
# test_do_not_parse_out_send_from_in_regular_sentence, which keeps a sentence that
# merely starts with "Sent from my". Graded strictly, a parser that follows the
# Ruby original fails these; `passes_ruby` grades them by the Ruby assertion.
RUBY_OVERRIDES: dict[str, str] = {
    "email_sent_from_my_not_signature.txt": (
        "Here is another email\n\nSent from my desk, is much easier then my mobile phone."
    ),
}


@dataclass(frozen=True)
class Fixture:
    """One email body and the facts its reply must satisfy."""

    corpus: str
    name: str
    text: str
    facts: dict[str, object]


def load(folder: str, root: Path = CORPORA) -> list[Fixture]:
    """All fixtures of one corpus folder, sorted by file name."""
    base = root / folder
    expected = json.loads((base / "expected.json").read_text(encoding="utf-8"))
    return [
        Fixture(folder, path.name, path.read_text(encoding="utf-8"), expected[path.name])
        for path in sorted(base.glob("*.txt"))
        if path.name != "SOURCE.txt"
    ]


def load_all(root: Path = CORPORA) -> dict[str, list[Fixture]]:
    """Every corpus folder in `CORPUS_DIRS`, by folder name."""
    return {folder: load(folder, root) for folder in CORPUS_DIRS}


def passes(reply: str, facts: dict[str, object]) -> bool:
    """SOURCE.txt's rule: every asserted fact holds; without facts, equal `peer_reply`.

    `equals` and `peer_reply` are compared after stripping whitespace at both ends;
    `must_contain` / `must_not_contain` are substring tests on the reply as given.
    """
    contains = _strings(facts, "must_contain")
    absent = _strings(facts, "must_not_contain")
    if "equals" not in facts and not contains and not absent:
        return reply.strip() == str(facts["peer_reply"]).strip()
    return (
        ("equals" not in facts or reply.strip() == facts["equals"])
        and all(s in reply for s in contains)
        and not any(s in reply for s in absent)
    )


def _strings(facts: dict[str, object], key: str) -> list[str]:
    value = facts.get(key, [])
    return [str(s) for s in value] if isinstance(value, list) else []


def passes_ruby(reply: str, fixture: Fixture) -> bool:
    """`passes`, except fixtures in `RUBY_OVERRIDES` must equal the Ruby assertion."""
    if fixture.name in RUBY_OVERRIDES:
        return reply.strip() == RUBY_OVERRIDES[fixture.name]
    return passes(reply, fixture.facts)
