"""`validate` at scale: loading a 10,000-pair config, then checking every pair can meet.

The pairs draw their zones and hours from --zones zones and 4 kinds of hours, so the
slot finder runs once per distinct (mentor zone, hours, mentee zone, hours) signature
(agent/config/preflight.py), not once per pair. Prints the seconds of each phase, best of
--rounds, and the ratio of the pair check to the load.

Run from the repo root: `.venv/bin/python bench/validate_pairs.py [--pairs 10000] [--zones 10]`.

Measured (2-core VM under load, best of 3, 10,000 pairs): 10 zones (1,599 signatures,
4,294 pairs that cannot meet): load 3.9 s, pair check 3.1 s (0.8x the load); 3 zones
(144 signatures): pair check 0.4 s (0.08x). The check's time is the slot finder's, per
signature (~2 ms each), almost all of it ranking candidates (agent/meetings/slots.py `comfort`).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config.loading import load_config  # noqa: E402
from agent.config.preflight import unmeetable_pairs  # noqa: E402

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/London",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Africa/Lagos",
    "Pacific/Auckland",
)
HOURS = ("09:00-17:00", "08:00-16:00", "10:00-18:00", "Mon-Thu 09:00-17:00")


def config_text(pairs: int, zones: int) -> str:
    rng = random.Random(1)
    head = (ROOT / "config" / "minimal.yaml").read_text(encoding="utf-8")
    lines = [head.split("participants:")[0] + "participants:"]
    for i in range(pairs):
        for prefix, role, domain in (
            ("m", "mentor", "example.org"),
            ("e", "mentee", "example.net"),
        ):
            lines.append(
                f"  - {{id: {prefix}{i}, name: Person {prefix}{i}, email: {prefix}{i}@{domain}, "
                f"role: {role}, timezone: {rng.choice(ZONES[:zones])}, "
                f'hours: "{rng.choice(HOURS)}"}}'
            )
    lines.append("pairs:")
    lines += [f"  - {{id: p{i}, mentor: m{i}, mentee: e{i}}}" for i in range(pairs)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--zones", type=int, default=10, choices=range(1, len(ZONES) + 1))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(config_text(args.pairs, args.zones), encoding="utf-8")
        loads, checks = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            cfg = load_config(path)
            loaded = time.perf_counter()
            unmeetable = unmeetable_pairs(cfg)
            loads.append(loaded - start)
            checks.append(time.perf_counter() - loaded)
    load, check = min(loads), min(checks)
    print(f"pairs: {args.pairs}, zones: {args.zones}, pairs that cannot meet: {len(unmeetable)}")
    print(f"load: {load:.2f} s, pair check: {check:.2f} s ({check / load:.2f}x the load)")


if __name__ == "__main__":
    main()
