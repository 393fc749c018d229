"""`mentormail validate` finds what would only fail later, in words a coordinator can act on.

Every case runs the real CLI on a realistic config file and checks the exit code and the
exact lines printed: pairs that can never meet (by the slot finder, through DST), zone
names that are fixed offsets or old aliases, misspelt keys, zones and participant ids
with "did you mean", and errors that name the record's id and the YAML line.
"""

from __future__ import annotations

import pytest

PROGRAM = """\
program:
  name: Spring 2027 Mentoring
  timezone: Europe/Berlin
  start: 2027-03-01
  end: 2027-06-30
  sender: {name: Mentoring Program, email: mentoring@example.org}
  coordinator: {name: Chris Coordinator, email: coordinator@example.org}
cadence:
  meetings: {every: 1w, duration: 45m}
participants:
  - id: ana
    name: Ana Aroha
    email: ana@example.org
    role: mentor
    timezone: Pacific/Auckland
    hours: "09:00-17:00"
  - id: sam
    name: Sam Schulz
    email: sam@example.net
    role: mentee
    timezone: Europe/Berlin
    hours: "09:00-17:00"
  - id: lee
    name: Lee Lopez
    email: lee@example.org
    role: mentor
    timezone: America/New_York
    hours: "09:00-17:00"
  - id: kim
    name: Kim Kowalski
    email: kim@example.net
    role: mentee
    timezone: Europe/Warsaw
    hours: "08:00-18:00"
pairs:
  - {id: ana-sam, mentor: ana, mentee: sam}
  - {id: lee-kim, mentor: lee, mentee: kim}
mail: {type: maildir, path: ./mail}
calendar: {type: ics, path: ./calendar}
storage: {path: ./state.json}
"""
# ana works in Auckland, sam in Berlin: their days never overlap.
FIXED = PROGRAM.replace("Pacific/Auckland", "Asia/Tokyo").replace(
    'hours: "09:00-17:00"\n  - id: sam', 'hours: "15:00-23:00"\n  - id: sam'
)


def test_a_pair_whose_hours_never_overlap_is_an_error_in_words(cli, write_config) -> None:
    code, out, err = cli("validate", write_config(PROGRAM))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "pair ana-sam: no weekly 45-minute meeting fits both Ana (Pacific/Auckland, "
        "Mon–Fri 09:00–17:00) and Sam (Europe/Berlin, Mon–Fri 09:00–17:00) from 1 March "
        "to 30 June 2027: no common working hours: Ana (Pacific/Auckland) works "
        "Mon–Fri 09:00–17:00 Pacific/Auckland, Sam (Europe/Berlin) works Mon–Fri "
        "09:00–17:00 Europe/Berlin; their working hours never overlap (on Pacific/Auckland "
        "clocks: Sam (Europe/Berlin) Tue 21:00–05:00)"
    ]


def test_a_pair_that_loses_its_window_at_a_dst_change_is_an_error(cli, write_config) -> None:
    # 11:00 in New York is 17:00 in Berlin, except from 14 to 28 March 2027 (US DST first)
    text = FIXED.replace(
        'timezone: America/New_York\n    hours: "09:00-17:00"',
        'timezone: America/New_York\n    hours: "11:00-12:00"',
    ).replace(
        'timezone: Europe/Warsaw\n    hours: "08:00-18:00"',
        'timezone: Europe/Berlin\n    hours: "17:00-18:00"',
    )
    code, _, err = cli("validate", write_config(text))
    assert code == 2
    assert err.splitlines() == [
        "pair lee-kim: no weekly 45-minute meeting fits both Lee (America/New_York, "
        "Mon–Fri 11:00–12:00) and Kim (Europe/Berlin, Mon–Fri 17:00–18:00) from 1 March "
        "to 30 June 2027: no common window for Lee (America/New_York) and Kim "
        "(Europe/Berlin) on Mon–Fri (America/New_York days) after 2027-03-14, when "
        "America/New_York starts daylight saving time"
    ]


def test_pairs_that_can_meet_validate(cli, write_config) -> None:
    path = write_config(FIXED)
    code, out, err = cli("validate", path)
    assert (code, err) == (0, "")
    assert out.startswith(f"{path}: OK - 'Spring 2027 Mentoring', 4 participants, 2 pairs")


def test_many_pairs_with_the_same_hours_are_each_reported(cli, write_config) -> None:
    """10,000-pair programs have few distinct (zones, hours): each pair gets its line."""
    people = "".join(
        f"  - {{id: m{i}, name: Mia {i}, email: m{i}@example.org, role: mentor, "
        f"timezone: Pacific/Auckland}}\n"
        f"  - {{id: e{i}, name: Eli {i}, email: e{i}@example.net, role: mentee, "
        f"timezone: Europe/Berlin}}\n"
        for i in range(300)
    )
    pairs = "".join(f"  - {{id: p{i}, mentor: m{i}, mentee: e{i}}}\n" for i in range(300))
    head = PROGRAM[: PROGRAM.index("participants:")]
    code, _, err = cli("validate", write_config(f"{head}participants:\n{people}pairs:\n{pairs}"))
    lines = err.splitlines()
    assert code == 2 and len(lines) == 300
    assert lines[299].startswith(
        "pair p299: no weekly 45-minute meeting fits both Mia (Pacific/Auckland, "
    )
    assert "Mia (Pacific/Auckland) works" in lines[299] and "m0" not in lines[299]


@pytest.mark.parametrize(
    ("zone", "advice"),
    [
        (
            "EST",
            "EST is a fixed offset of -05:00 all year, without DST: use America/New_York "
            "(or America/Cancun, America/Panama for places without DST)",
        ),
        ("US/Eastern", "US/Eastern is an old name kept for compatibility: use America/New_York"),
        (
            "EST5EDT",
            "EST5EDT is an old POSIX-style zone with today's US or EU rules and no local "
            "history: use America/New_York",
        ),
        (
            "Etc/GMT+5",
            "Etc/GMT+5 is a fixed offset of -05:00 all year (the sign is inverted: POSIX "
            "style), without DST: use the zone of a city there, like America/New_York or "
            "Asia/Karachi",
        ),
    ],
)
def test_fixed_offset_and_old_zone_names_are_warned_about(cli, write_config, zone, advice) -> None:
    path = write_config(FIXED.replace("timezone: America/New_York", f"timezone: {zone}"))
    code, out, err = cli("validate", path)
    assert code == 0 and "OK" in out
    assert err.splitlines() == [f"warning: participants[2] (id: lee) .timezone: {advice}"]


def test_gmt_plus_five_is_not_a_zone_and_says_what_it_would_mean(cli, write_config) -> None:
    code, _, err = cli("validate", write_config(FIXED.replace("America/New_York", "GMT+5")))
    assert code == 2
    assert err.splitlines() == [
        "participants[2] (id: lee) .timezone, line 27: unknown time zone 'GMT+5'; GMT+5 is a "
        "fixed offset of -05:00 all year (the sign is inverted: POSIX style), without DST: "
        "use the zone of a city there, like America/New_York or Asia/Karachi"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("    timezone: Europe/Berlin\n", "    timezome: Europe/Berlin\n"),
            [
                "participants[1] (id: sam) .timezone, line 17: required key is missing",
                "participants[1] (id: sam) .timezome, line 21: unknown key; "
                "did you mean 'timezone'?",
            ],
        ),
        (
            ("    timezone: Europe/Berlin\n", "    timezone: Europe/Berln\n"),
            [
                "participants[1] (id: sam) .timezone, line 21: unknown time zone "
                "'Europe/Berln'; did you mean Europe/Berlin?"
            ],
        ),
        (
            ("mentee: sam}", "mentee: sma}"),
            [
                "pairs[0] (id: ana-sam) .mentee, line 36: unknown participant 'sma'; did you mean 'sam'?"
            ],
        ),
        (
            ("start: 2027-03-01", "start: 2027-13-01"),
            ["program.start, line 4: not a date: 2027-13-01 (write YYYY-MM-DD)"],
        ),
        (
            ("end: 2027-06-30", "end: 30/06/2027"),
            ["program.end, line 5: not a date: 30/06/2027 (write YYYY-MM-DD)"],
        ),
        (
            ("cadence:\n  meetings:", "cadense:\n  meetings:"),
            ["cadense, line 8: unknown key; did you mean 'cadence'?"],
        ),
        (
            ("{every: 1w, duration: 45m}", "{every: 1w, durration: 45m}"),
            ["cadence.meetings.durration, line 9: unknown key; did you mean 'duration'?"],
        ),
    ],
)
def test_mistakes_name_the_id_the_line_and_a_likely_fix(
    cli, write_config, change, expected
) -> None:
    text = FIXED.replace(*change, 1)
    assert text != FIXED
    code, out, err = cli("validate", write_config(text))
    assert (code, out) == (2, "")
    assert err.splitlines() == expected
