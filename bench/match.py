"""`mentormail match` on cohorts of 100, 1,000 and 5,000 people: time and memory.

Half mentors, half mentees, across 8 zones and 3 kinds of working hours, with goals,
experience and interests drawn from a list of topics. Prints, per cohort size, the
seconds of `propose` (every pair checked for a common weekly slot through the program and
scored, then one optimal assignment), the peak memory of the process, and, for scale, the
seconds the raw libraries alone take for the same work on the same sizes in the same run:
rapidfuzz's `cdist` over the same texts plus scipy's `linear_sum_assignment` on a matrix
of the same shape. Goal: under 60 s and 2 GB at 5,000 people on a 2-core machine.

    .venv/bin/python bench/match.py [--sizes 100,1000,5000]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config.loading import load_config
from agent.pairs.matching import propose

ZONES = [
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Africa/Lagos",
    "Asia/Kolkata",
    "Asia/Tokyo",
]
HOURS = ["09:00-17:00", "08:00-12:00", "Mon-Thu 13:00-19:00"]
TOPICS = [
    "leading an engineering team",
    "public speaking at conferences",
    "a career in machine learning",
    "raising a seed round",
    "product management",
    "writing for the web",
    "negotiating a salary",
    "moving into management",
    "data visualisation",
    "open source maintenance",
]
NOW = datetime(2027, 2, 10, 9, 0, tzinfo=ZoneInfo("Europe/London"))


def cohort(size: int, folder: Path) -> Path:
    rng = random.Random(size)
    rows = ["id,name,email,role,timezone,hours,goals,experience,interests"]
    for i in range(size):
        role = "mentor" if i % 2 else "mentee"
        topics = "; ".join(rng.sample(TOPICS, 2))
        interests = "; ".join(rng.sample(TOPICS, 2))
        goals, experience = (topics, "") if role == "mentee" else ("", topics)
        rows.append(
            f"p{i},Person {i},p{i}@example.org,{role},{rng.choice(ZONES)},"
            f'"{rng.choice(HOURS)}",{goals},{experience},{interests}'
        )
    (folder / "people.csv").write_text("\n".join(rows) + "\n")
    (folder / "pairs.csv").write_text("id,mentor,mentee,goals\n")
    config = folder / "program.yaml"
    config.write_text(
        "program:\n  name: Bench\n  timezone: Europe/London\n  start: 2027-03-01\n"
        "  end: 2027-05-31\n  sender: {name: M, email: m@example.org}\n"
        "  coordinator: {name: C, email: c@example.org}\n"
        "participants: people.csv\npairs: pairs.csv\n"
    )
    return config


def raw_libraries(size: int) -> float:
    """rapidfuzz + scipy alone on the same shapes: the floor for this work."""
    import numpy as np
    from rapidfuzz import fuzz, process
    from scipy.optimize import linear_sum_assignment

    rng = random.Random(size)
    half = size // 2
    left = ["; ".join(rng.sample(TOPICS, 2)) for _ in range(half)]
    right = ["; ".join(rng.sample(TOPICS, 2)) for _ in range(half)]
    start = time.perf_counter()
    scores = process.cdist(left, right, scorer=fuzz.token_set_ratio, workers=-1)
    linear_sum_assignment(1.0 - np.asarray(scores) / 100.0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    args = parser.parse_args()
    columns = ("people", "propose s", "raw libs s", "ratio", "pairs", "peak MB")
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, (7, 10, 11, 6, 6, 8), strict=True)))
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            cfg = load_config(cohort(size, Path(folder)))
            start = time.perf_counter()
            found = propose(cfg, NOW)
            seconds = time.perf_counter() - start
        raw = raw_libraries(size)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{size:>7} {seconds:>10.2f} {raw:>11.2f} {seconds / raw:>6.1f} "
            f"{len(found.proposals):>6} {peak:>8.0f}"
        )


if __name__ == "__main__":
    main()
