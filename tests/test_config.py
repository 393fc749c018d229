"""The coordinator's config: what validates, and how every mistake is reported."""

from __future__ import annotations

import json
from datetime import time, timedelta

import pytest

from agent.config.loading import load_config
from agent.config.model import ConfigError, config_schema
from agent.meetings.timefmt import format_hours, parse_duration, parse_hours
from tests.conftest import MINIMAL, ROOT, THREE_PAIRS


def test_the_minimal_file_from_the_issue_validates_with_defaults() -> None:
    cfg = load_config(MINIMAL)
    assert cfg.program.name == "Spring 2027 Mentoring"
    assert cfg.cadence.meetings.every == timedelta(weeks=1)
    assert cfg.cadence.meetings.duration == timedelta(minutes=45)
    assert cfg.cadence.agreement.reminder_after == timedelta(days=3)  # a default
    assert cfg.participant("ana").hours[0] == (time(9), time(17))
    assert 5 not in cfg.participant("ana").hours  # plain hours mean Monday to Friday
    assert cfg.resolve(cfg.storage.path) == MINIMAL.parent / "state.json"


def test_validate_prints_a_one_line_summary(cli) -> None:
    code, out, err = cli("validate", MINIMAL)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1
    assert "1 pairs" in out and "maildir" in out


def _problems(write_config, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(text))
    return caught.value.problems


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("timezone: America/New_York", "timezone: America/Nwe_York"),
            "participants[0] (id: ana) .timezone, line 11: unknown time zone 'America/Nwe_York'; "
            "did you mean America/New_York?",
        ),
        (
            ("mentee: ben}", "mentee: bea}"),
            "pairs[0] (id: ana-ben) .mentee, line 14: unknown participant 'bea'; did you mean 'ben'?",
        ),
        (
            ("every: 1w", "every: 1 week"),
            "cadence.meetings.every, line 9: '1 week' is not a duration",
        ),
        (
            ("every: 1w", "every: 10d"),
            "cadence.meetings.every, line 9: meetings repeat in whole weeks",
        ),
        (('hours: "08:00-18:00"', 'hours: "8 to 6"'), "participants[1] (id: ben) .hours, line 12:"),
        (
            ('hours: "09:00-17:00"', 'hours: "17:00-09:00"'),
            "participants[0] (id: ana) .hours, line 11: '17:00-09:00' ends before",
        ),
        (("end: 2027-06-30", "end: 2027-01-30"), "program, line 1: end must be after start"),
        (("role: mentee", "role: guru"), "participants[1] (id: ben) .role, line 12:"),
        (("sender: {", "sendr: {"), "program.sendr, line 6: unknown key; did you mean 'sender'?"),
        (
            ("type: maildir", "type: carrier-pigeon"),
            "mail.type, line 15: unknown mail connector 'carrier-pigeon'",
        ),
        (
            ("path: ./mail}", "path: ./mail, colour: blue}"),
            "mail.colour, line 15: unknown key (check the spelling)",
        ),
    ],
)
def test_each_mistake_is_reported_with_its_key_path(write_config, change, expected) -> None:
    text = MINIMAL.read_text().replace(*change)
    problems = _problems(write_config, text)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_person_in_two_pairs_is_an_error_unless_allowed(write_config) -> None:
    first = "  - {id: ana-ben, mentor: ana, mentee: ben}\n"
    text = MINIMAL.read_text().replace(
        first, first + "  - {id: ana-ben-2, mentor: ana, mentee: ben}\n"
    )
    problems = _problems(write_config, text)
    assert problems == [
        "pairs[1] (id: ana-ben-2) .mentor, line 15: 'ana' is already in pair 'ana-ben' "
        "(set program.allow_multiple_pairs: true to allow this)",
        "pairs[1] (id: ana-ben-2) .mentee, line 15: 'ben' is already in pair 'ana-ben' "
        "(set program.allow_multiple_pairs: true to allow this)",
    ]
    allowed = text.replace("  start:", "  allow_multiple_pairs: true\n  start:", 1)
    assert len(load_config(write_config(allowed, "ok.yaml")).pairs) == 2


def test_all_problems_are_reported_at_once(write_config) -> None:
    text = (
        MINIMAL.read_text()
        .replace("Europe/Berlin\n  start", "Mars/Olympus\n  start")
        .replace("mentee: ben}", "mentee: zed}")
        .replace("duration: 45m", "duration: forever")
    )
    problems = _problems(write_config, text)
    assert len(problems) == 3, problems


def test_cli_exits_2_without_traceback(cli, write_config) -> None:
    path = write_config(MINIMAL.read_text().replace("America/New_York", "Atlantis/Capital"))
    code, _, err = cli("validate", path)
    assert code == 2
    assert err.strip() == (
        "participants[0] (id: ana) .timezone, line 11: unknown time zone 'Atlantis/Capital'; "
        "use an IANA name like Europe/Berlin"
    )
    assert "Traceback" not in err


def test_broken_yaml_names_the_line(cli, write_config) -> None:
    code, _, err = cli("validate", write_config("program:\n  name: [unclosed\n"))
    assert code == 2 and "line 3" in err and "not valid YAML" in err


def test_participants_from_csv(write_config, tmp_path) -> None:
    (tmp_path / "people.csv").write_text(
        "id,name,email,role,timezone,hours,aliases\n"
        "ana,Ana Alvarez,ana@example.org,mentor,America/New_York,Mon-Thu 09:00-17:00,ana@home.example\n"
        "ben,Ben Becker,ben@example.net,mentee,Europe/Berlin,,\n"
        "cy,Cy Chu,cy@example.net,mentee,Asia/Nowhere,,\n",
        encoding="utf-8",
    )
    text = MINIMAL.read_text()
    start = text.index("participants:")
    end = text.index("pairs:")
    text = text[:start] + "participants: people.csv\n" + text[end:]
    problems = _problems(write_config, text)
    assert problems == [
        "participants[2] (id: cy) .timezone, people.csv line 4: unknown time zone 'Asia/Nowhere'; "
        "use an IANA name like Europe/Berlin"
    ]
    (tmp_path / "people.csv").write_text(
        (tmp_path / "people.csv").read_text().replace("Asia/Nowhere", "Asia/Tokyo"),
        encoding="utf-8",
    )
    cfg = load_config(write_config(text, "fixed.yaml"))
    assert cfg.participant("ana").aliases == ["ana@home.example"]
    assert 4 not in cfg.participant("ana").hours  # Friday off
    assert cfg.participant("ben").hours[4] == (time(9), time(17))


def test_pairs_from_csv(write_config, tmp_path) -> None:
    (tmp_path / "pairs.csv").write_text(
        "id,mentor,mentee,goals\nana-ben,ana,ben,Lead a project; Give feedback\nana-cy,ana,cy,\n",
        encoding="utf-8",
    )
    text = MINIMAL.read_text()
    start = text.index("pairs:")
    end = text.index("\n", text.index("mentee:", start))  # the one pair of the minimal config
    text = text[:start] + "pairs: pairs.csv" + text[end:]
    problems = _problems(write_config, text)
    assert problems == [
        "pairs[1] (id: ana-cy) .mentor, pairs.csv line 3: 'ana' is already in pair 'ana-ben' "
        "(set program.allow_multiple_pairs: true to allow this)",
        "pairs[1] (id: ana-cy) .mentee, pairs.csv line 3: unknown participant 'cy'",
    ]
    (tmp_path / "pairs.csv").write_text("id,mentor,mentee,goals\nana-ben,ana,ben,Lead; Grow\n")
    cfg = load_config(write_config(text, "fixed.yaml"))
    assert [(p.id, p.mentor, p.mentee, p.goals) for p in cfg.pairs] == [
        ("ana-ben", "ana", "ben", ["Lead", "Grow"])
    ]


def test_three_pair_test_program_validates(write_config) -> None:
    cfg = load_config(write_config(THREE_PAIRS))
    assert [p.id for p in cfg.pairs] == ["ana-ben", "chen-dina", "eli-fay"]
    assert cfg.participant("ben").addresses == {"ben.becker@example.net", "ben@phone.example.net"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45m", timedelta(minutes=45)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(minutes=90)),
        ("3d", timedelta(days=3)),
    ],
)
def test_durations(text, expected) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0m", "3", "m", "2 weeks", "-1d"])
def test_bad_durations(text) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_hours_forms_round_trip() -> None:
    hours = parse_hours("Mon-Thu 09:00-17:00; Fri 09:00-13:00")
    assert hours[3] == (time(9), time(17)) and hours[4] == (time(9), time(13)) and 5 not in hours
    assert format_hours(hours) == "Mon–Thu 09:00–17:00; Fri 09:00–13:00"
    assert parse_hours({"sat": "10:00-12:00"}) == {5: (time(10), time(12))}


def test_shipped_json_schema_matches_the_models() -> None:
    shipped = json.loads((ROOT / "config" / "schema.json").read_text())
    assert shipped == json.loads(json.dumps(config_schema(), default=str)), (
        "config/schema.json is stale: regenerate it from agent.config.model.config_schema()"
    )


def test_example_configs_validate() -> None:
    for path in (ROOT / "config").glob("*.yaml"):
        load_config(path)


def test_a_zone_in_the_wrong_case_and_a_yaml_date_that_does_not_exist(write_config) -> None:
    text = (
        MINIMAL.read_text()
        .replace("timezone: America/New_York", "timezone: america/new_york")
        .replace("end: 2027-06-30", "end: 2027-02-30")
    )
    assert _problems(write_config, text) == [
        "program.end, line 5: not a date: 2027-02-30 (write YYYY-MM-DD)",
        "participants[0] (id: ana) .timezone, line 11: unknown time zone 'america/new_york'; "
        "did you mean America/New_York?",
    ]
