"""Strict From parsing (agent.mail_in.mailbox_parse): real From lines and hostile ones.

Prints microseconds per `parse_mailbox` call on From lines as Gmail, Outlook and Postfix
write them, and on adversarial shapes (nested comments, backslashes, thousands of `a@`,
`<a@b>` or commas) from 1 KB to 1 MB, both as the agent calls it (refused past
MAX_LENGTH before any parsing) and without the cap, where the time per KB shows that the
one-pass parser is linear.

Run from the repo root: `.venv/bin/python bench/sender_parse.py [--repeat 20]`.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Sequence

from agent.mail_in.mailbox_parse import NotOneMailbox, parse_mailbox

REAL = [
    "Ben Becker <Ben.Becker@example.net>",
    '"Becker, Ben" <Ben.Becker@example.net>',
    "=?UTF-8?B?w4FuYSDDgWx2YXJleg==?= <ana@example.org>",
    "MAILER-DAEMON@mx.example.org (Mail Delivery System)",
]
SHAPES = ["(", "a@", "<a@b>", '"\\', "a, ", "x ", "=?utf-8?q?a?= "]
SIZES = [1_000, 10_000, 100_000, 1_000_000]


def per_call(repeat: int, value: str, cap: bool) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.suppress(NotOneMailbox):
            parse_mailbox(value) if cap else parse_mailbox(value, max_length=None)
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    print("real From lines (µs per call, best of --repeat)")
    for value in REAL:
        print(f"  {per_call(args.repeat * 10, value, True):8.1f}  {value}")
    print("hostile shapes: µs as called (capped) / µs uncapped / uncapped µs per KB")
    for shape in SHAPES:
        for size in SIZES:
            value = shape * (size // len(shape))
            capped = per_call(args.repeat, value, True)
            uncapped = per_call(max(1, args.repeat // (size // 10_000 or 1)), value, False)
            print(
                f"  {shape!r:18} {size:>9,} chars  {capped:8.1f}  {uncapped:12.1f}"
                f"  {uncapped / (size / 1000):8.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
