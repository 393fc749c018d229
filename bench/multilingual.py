"""The `replies_multilingual` corpus: whole messages and the peers' facts about their replies.

Its README.txt: each `<source>__<fixture>.eml` is a peer's body under minimal headers;
`expected.json` holds per file `equals`, `contains` and `not_contains`, compared with
whitespace normalised on both sides, and the flags `questionable` and `convention`.
Read in place, never copied.
"""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy
from email.message import EmailMessage

from bench.corpora import CORPORA, Fixture

FOLDER = "replies_multilingual"


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def passes(reply: str, facts: dict[str, object]) -> bool:
    """README.txt's rule: every fact holds on the reply, whitespace normalised."""
    got = _normal(reply)
    equals = facts.get("equals")
    contains = facts.get("contains") or []
    absent = facts.get("not_contains") or []
    assert isinstance(contains, list) and isinstance(absent, list)
    return (
        (equals is None or got == _normal(str(equals)))
        and all(_normal(str(s)) in got for s in contains)
        and not any(_normal(str(s)) in got for s in absent)
    )


def raw(name: str) -> bytes:
    return (CORPORA / FOLDER / name).read_bytes()


def load() -> list[Fixture]:
    """Every fixture, sorted by file name; `text` is the decoded body (what text-only
    parsers are given), `facts` the expected.json entry."""
    expected = json.loads((CORPORA / FOLDER / "expected.json").read_text(encoding="utf-8"))
    fixtures = []
    for name, facts in sorted(expected.items()):
        msg = message_from_bytes(raw(name), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        fixtures.append(Fixture(FOLDER, name, str(msg.get_content()), facts))
    return fixtures
