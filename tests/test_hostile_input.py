"""No email can freeze or bloat the reading of it (issue 15): linear time, bounded memory.

The hostile shapes of bench/hostile.py go through `parse_message` (which strips
the reply), `interpret` and `return_date` at 10 KB, 100 KB and 1 MB. Time
must grow about linearly (ratios measured in this run, with room for a loaded
machine), the 1 MB case must finish well within a generous bound, and the peak
memory must stay bounded. Then every phrase of the pattern tables, followed by
thousands of repeats of a piece of text, goes through the same functions at
two sizes: a pattern that backtracks with the square of the text shows as a
ratio far above the sizes' ratio.
"""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Callable
from datetime import time as clock

import pytest

from agent.mail_in.inbound import parse_message, strip_reply
from agent.mail_in.message import IntentKind
from agent.mail_in.quote_languages import LANGUAGES
from agent.mail_in.replies import PATTERNS, interpret
from agent.meetings.when import proposed_time, return_date
from bench.hostile import NOW, SHAPES, ZONE, message, read

SIZES = (10_000, 100_000, 1_000_000)
MAX_GROWTH = 30  # ten times the input: linear is 10, quadratic 100
FLOOR = 0.02  # seconds: below this a time is noise, the ratio is taken against this
MAX_SECONDS = 5.0  # for 1 MB, on a loaded 2-core machine (about 1 s when idle)
MAX_PEAK_MB = 200


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _peak_mb(run: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", list(SHAPES))
def test_hostile_shape_is_read_in_linear_time_and_bounded_memory(shape: str) -> None:
    read(SHAPES[shape](1_000))  # compiles the patterns this shape meets, loads dateparser
    raws = [SHAPES[shape](size) for size in SIZES]
    times = [min(_seconds(lambda raw=raw: read(raw)) for _ in range(2)) for raw in raws[:2]]
    times.append(_seconds(lambda: read(raws[2])))
    for smaller, larger in itertools.pairwise(times):
        assert larger / max(smaller, FLOOR) < MAX_GROWTH, (shape, times)
    assert times[-1] < MAX_SECONDS, (shape, times)
    assert _peak_mb(lambda: read(raws[2])) < MAX_PEAK_MB


def test_a_reply_above_a_megabyte_of_quoted_history_keeps_its_meaning() -> None:
    msg, meaning = read(SHAPES["reply + quoted tail"](1_000_000))
    assert msg.reply_text == "Can we move our meeting to Friday at 3pm?"
    (reschedule,) = [i for i in meaning.intents if i.kind is IntentKind.RESCHEDULE]
    assert reschedule.when is not None and reschedule.when.at == clock(15, 0)
    assert reschedule.when.day is not None and reschedule.when.day.weekday() == 4


def test_a_sign_off_followed_by_spaces_is_kept_as_written() -> None:
    """A typed sign-off is part of the reply (issue 20's convention), spaces and all."""
    body = "Hi Ana,\n\nI agree with the plan.\n\nThanks," + " " * 5_000 + "\nBen"
    msg, meaning = read(message(body))
    assert msg.reply_text == body
    assert IntentKind.AGREE in {i.kind for i in meaning.intents}


def test_what_is_cut_is_named_in_problems() -> None:
    parts = parse_message(SHAPES["MIME parts"](100_000))
    assert "MIME parts beyond 1,000 not read" in parts.problems
    subject = parse_message(SHAPES["encoded-word Subject"](100_000))
    assert "Subject header cut to 16,000 characters" in subject.problems
    assert subject.subject.startswith("cafécafé")  # RFC 2047 6.2: no space between words
    html = parse_message(SHAPES["HTML tags"](1_000_000))
    assert any(p.startswith("HTML part cut to") for p in html.problems)
    long = parse_message(message("I agree.\n" + "more text\n" * 150_000))
    assert "reply looked for in the first 1,000,000 characters only" in long.problems
    assert long.reply_text.startswith("I agree.")


def test_deeply_nested_html_quotes_stay_small() -> None:
    msg = parse_message(SHAPES["nested blockquote"](500_000))
    longest = max(len(line) for line in msg.text.split("\n"))
    assert longest < 100  # 20 levels of "> " at most, then the text


# ---- phrases of the tables, followed by repeats of a piece of text

_PIECES = (" ", "\n", "a ", ". ", '"a" ')
_EVERY = 15  # one phrase in this many, in the order of the tables (all of them: minutes)


def _phrases() -> list[str]:
    """A sample text for phrase table entries: their leading literal words."""
    tables = [p for langs in PATTERNS.values() for ps in langs.values() for p in ps]
    for language in LANGUAGES.values():
        tables += [*language.closings, *language.wrote, *language.mobile, *language.separators]
        tables += [*language.quote_headers, *language.header_fields, *language.disclaimers]
    heads = [" ".join(w for w in _literal_words(p) if w)[:30] for p in tables[::_EVERY]]
    extra = ["rating", "Goal 1:", "back", "until", "to foo", "I'm in", "Thanks", "Best,", "option"]
    return list(dict.fromkeys(h for h in [*extra, *heads] if h))


def _literal_words(pattern: str) -> list[str]:
    text = pattern.replace(r"\s+", " ").replace(r"\b", "").replace("(?:", "(")
    first = text.split("|")[0]
    return ["".join(ch for ch in word if ch.isalpha() or ch in "'") for word in first.split()][:3]


def _read_text(text: str) -> None:
    strip_reply(text)
    interpret(text, context="follow_up", now=NOW, tz=ZONE)
    interpret(text, context="slot_options", now=NOW, tz=ZONE)
    proposed_time(text, NOW, ZONE)
    return_date(text, NOW, ZONE)


def test_no_phrase_makes_the_text_functions_super_linear() -> None:
    """A table phrase + 1,000 or 8,000 characters of one piece: time at most ~linear.

    Eight times the text: linear is 8, quadratic 64. The texts stay under
    `agent.mail_in.replies.MAX_REPLY_CHARS`, so `interpret` reads them.
    """
    _read_text("warm up: Thanks, back until Friday to 3pm. Goal 1: done")
    slow = []
    for head, piece in itertools.product(_phrases(), _PIECES):
        small, large = (head + piece * (size // len(piece)) + "\x00é" for size in (1_000, 8_000))
        t_small = _seconds(lambda small=small: _read_text(small))
        t_large = _seconds(lambda large=large: _read_text(large))
        if t_large > 0.1 and t_large / max(t_small, FLOOR) > MAX_GROWTH:
            t_large = min(t_large, _seconds(lambda large=large: _read_text(large)))  # a hiccup?
            if t_large > 0.1 and t_large / max(t_small, FLOOR) > MAX_GROWTH:
                slow.append((head, piece, round(t_small, 3), round(t_large, 3)))
    assert not slow
