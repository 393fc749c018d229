"""Authentication-Results parsing (agent.mail_in.authresults): a real header and hostile ones.

Prints microseconds per call of `dmarc_pass` on a Gmail-delivered header block, and of
`parse` on adversarial field values from 1 KB to 5 MB (nested comments, backslashes,
thousands of `a=` pairs and semicolons): the parser reads at most MAX_VALUE characters
of a field and MAX_FIELDS fields, so the cost stays flat past the cap.

Run from the repo root: `.venv/bin/python bench/authresults.py [--repeat 200]`.
"""

from __future__ import annotations

import argparse
import time

from agent.mail_in.authresults import dmarc_pass, parse

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@example.net header.s=20230601 header.b=kXq3vR1Z;\r\n"
    "       spf=pass (google.com: domain of ben@example.net designates 209.85.220.41 as "
    "permitted sender) smtp.mailfrom=ben@example.net;\r\n"
    "       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=example.net"
)
HEADERS = [
    ("Delivered-To", "mentoring@example.org"),
    ("Received", "by 2002:a05:6a10:8f0e with SMTP id ab14csp1234567pxb"),
    ("ARC-Seal", "i=1; a=rsa-sha256; t=1772528402; cv=none; d=google.com; s=arc-20240605"),
    ("Return-Path", "<ben@example.net>"),
    ("Received", "from mail-sor-f41.google.com by mx.google.com with SMTPS id a1sor12"),
    ("Received-SPF", "pass (google.com: domain of ben@example.net designates 209.85.220.41)"),
    ("Authentication-Results", GMAIL),
    ("From", "Ben Becker <ben@example.net>"),
]


def per_call(repeat: int, call) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - start) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    us = per_call(args.repeat, lambda: dmarc_pass(HEADERS, ("mx.google.com",), "ben@example.net"))
    print(f"dmarc_pass, Gmail header block: {us:8.1f} us")
    for size in (1_000, 10_000, 100_000, 1_000_000, 5_000_000):
        for name, value in (
            ("nested comments", "(" * size),
            ("backslashes", '"' + "\\" * size),
            ("a= pairs", "x; " + "a=" * (size // 2)),
            ("semicolons", "x" + ";" * size),
        ):
            us = per_call(max(1, args.repeat // 20), lambda value=value: parse(value))
            print(f"parse, {name:15} {size:>9,} chars: {us:8.1f} us")


if __name__ == "__main__":
    main()
