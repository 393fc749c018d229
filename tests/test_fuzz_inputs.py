"""Bad input of any shape gets a clear error, never a crash: the config loader and the
iCalendar reader, fuzzed with hypothesis (the MIME path is fuzzed in test_fuzz_ingest.py).

A "clear error" is the module's own exception with a message: ConfigError with
`key.path: message` lines for configs, IcsError for calendar parts. Anything else
escaping (KeyError, AttributeError, a TypeError from deep inside a library) is a bug.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.config.loading import load_config
from agent.config.model import ConfigError
from agent.meetings.ics import IcsError, parse_itip
from tests.conftest import MINIMAL

BASE = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["", "09:00-17:00", "1w", "-1d", "Europe/Berlin", "Mars/Olympus", "25:00"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(data: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every key path into the minimal config, to replace one value with junk."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += paths(value, (*prefix, index))
    return out


PATHS = paths(BASE)


def replaced(path: tuple[object, ...], value: object) -> object:
    data = copy.deepcopy(BASE)
    target = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return data


def load(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "program.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path)
        except ConfigError as exc:
            assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


@FUZZ
@given(st.sampled_from(PATHS), values)
@example(("program", "timezone"), "Europe/" + "x" * 300)  # ZoneInfo: OSError, name too long
def test_any_value_anywhere_in_the_config_is_accepted_or_a_clear_error(
    path: tuple[object, ...], value: object
) -> None:
    load(yaml.safe_dump(replaced(path, value), allow_unicode=True))


@FUZZ
@given(st.text(max_size=300))
def test_any_text_as_a_config_file_is_a_clear_error(text: str) -> None:
    load(text)


ITIP = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
    "UID:mentormail-spring-ana-ben@example.org\r\nDTSTAMP:20270301T090000Z\r\n"
    "DTSTART;TZID=Europe/Berlin:20270302T150000\r\nSEQUENCE:0\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
LINES = ITIP.split("\r\n")


@FUZZ
@given(st.integers(0, len(LINES) - 1), st.text(max_size=60), st.booleans())
def test_a_damaged_calendar_reply_is_read_or_an_ics_error(
    line: int, junk: str, replace: bool
) -> None:
    lines = list(LINES)
    if replace:
        lines[line] = junk
    else:
        lines.insert(line, junk)
    try:
        parse_itip("\r\n".join(lines))
    except IcsError as exc:
        assert str(exc)


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_as_a_calendar_part_are_read_or_an_ics_error(data: bytes) -> None:
    try:
        parse_itip(data)
    except IcsError as exc:
        assert str(exc)
