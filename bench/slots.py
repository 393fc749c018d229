"""Slot search: a year of weekly meetings, three anchor zones, wide windows.

This is the shape of the searches a 10,000-pair program makes when it books its series
(tests/test_slots.py checks what it finds; this only times it). The baseline is the raw
standard library doing the enumeration the search prunes: every candidate start
(3 anchors x 5 weekdays x a 15-minute grid) expanded to a year of weekly meetings, each
converted into both people's zones with zoneinfo, in the same run.

Run from the repo root: `.venv/bin/python bench/slots.py [--rounds 20] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time as clock
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.meetings.slots import Availability, find_series  # noqa: E402

BERLIN, NEW_YORK, LONDON = (
    ZoneInfo(z) for z in ("Europe/Berlin", "America/New_York", "Europe/London")
)
START = datetime(2027, 3, 1, tzinfo=BERLIN)
YEAR = timedelta(days=365)


def search() -> int:
    wide = {d: (time(9), time(17)) for d in range(5)}
    people = [Availability("Ana", BERLIN, wide), Availability("Ben", NEW_YORK, wide)]
    found = find_series(
        people,
        earliest=START,
        until=START + YEAR,
        every_weeks=1,
        duration=timedelta(minutes=45),
        anchors=(BERLIN, NEW_YORK, LONDON),
        count=3,
    )
    return len(found.slots)


def enumerate_raw() -> int:
    """Every candidate's every meeting, in both zones: no pruning, no checks."""
    seen = 0
    for anchor in (BERLIN, NEW_YORK, LONDON):
        for weekday in range(5):
            day = START.astimezone(anchor).date() + timedelta(days=weekday)
            for minute in range(0, 24 * 60, 15):
                first = datetime.combine(day, time(minute // 60, minute % 60), anchor)
                week = first
                while week < START + YEAR:
                    week.astimezone(BERLIN)
                    week.astimezone(NEW_YORK)
                    seen += 1
                    week += timedelta(weeks=1)
    return seen


def best(work: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = clock.perf_counter()
        work()  # type: ignore[operator]
        times.append(clock.perf_counter() - began)
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    options, _ = parser.parse_known_args(argv)
    ours = best(search, options.rounds)
    raw = best(enumerate_raw, max(options.rounds // 4, 1))
    result = {"search_ms": round(ours * 1000, 1), "raw_enumeration_ms": round(raw * 1000, 1)}
    result["ratio"] = round(ours / raw, 2)
    if options.json:
        print(json.dumps({"slots": result}))
    else:
        print(
            f"slot search, a year x 3 anchors: {result['search_ms']} ms "
            f"(raw enumeration {result['raw_enumeration_ms']} ms, {result['ratio']}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
