"""What the alias bound costs: libyaml's load alone against agent.config.bounded_yaml.load (the
same load after one pass over the events), on the minimal config and a 2,000-person one.

Run from the repo root: `.venv/bin/python bench/yaml_bound.py [--rounds 20]`.

Measured (2-core VM, best of 20): minimal 0.19 -> 0.26 ms; 2,000 people 127 -> 146 ms
(+15%) when the machine was quiet; under heavy load the ratio scattered from 0.9 to 1.4.
Importing agent.config.bounded_yaml adds 0.7 ms to `validate`'s cold start (-X importtime),
within bench/startup.py's noise. An alias bomb of 10**9 values is refused in 0.3 s and 43 MB (the
whole `validate` process); unbounded it took 2.5 GB and ended in a MemoryError.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from agent.config import bounded_yaml

ROOT = Path(__file__).resolve().parents[1]


def best(run: Callable[[], object], rounds: int) -> float:
    fastest = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    people = "participants:\n" + "".join(
        f"  - {{id: p{n}, name: Person {n}, email: p{n}@example.org, role: mentor, "
        f"timezone: Europe/Berlin, hours: '09:00-17:00'}}\n"
        for n in range(2000)
    )
    texts = {
        "minimal.yaml": (ROOT / "config" / "minimal.yaml").read_text(encoding="utf-8"),
        "2,000 people": people,
    }
    print(f"{'config':<16}{'libyaml ms':>12}{'bounded ms':>12}{'ratio':>8}")
    for name, text in texts.items():
        plain = best(lambda text=text: yaml.load(text, Loader=bounded_yaml.LOADER), args.rounds)
        bounded = best(lambda text=text: bounded_yaml.load(text), args.rounds)
        print(f"{name:<16}{plain:>12.2f}{bounded:>12.2f}{bounded / plain:>8.2f}")


if __name__ == "__main__":
    main()
