"""Quarantined strangers' mail and the state: size, idle tick time and memory, before/after.

Forty strangers each send one 5 MB email (a text/plain body of an SEO pitch repeated) to
a three-pair program on the embedded default (Maildir, TinyDB state). They are read by
one tick and quarantined. Then idle ticks run, each in a fresh process as a timer-driven
`mentormail tick` would; reported: the state file's size, the idle tick's time (the
median of 3, measured inside the process from the CLI's start to its end, so without the
interpreter's start-up) and the process's peak RSS.

- before: the text caps of agent.mail_in.kept switched off (every record keeps the whole text,
  as before issue 15);
- after: as shipped (`TEXT_KEPT` characters per record, `PER_SENDER`/`PER_DAY`).

Run from the repo root: `.venv/bin/python bench/quarantine.py [--messages 40] [--json]`
(`--quick`: 10 messages).
"""

from __future__ import annotations

import argparse
import email.policy
import json
import mailbox
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import agent.commands.tick  # noqa: E402
import agent.mail_in.kept  # noqa: E402
from agent.commands.runtime import Runtime  # noqa: E402
from agent.config.loading import load_config  # noqa: E402
from tests.conftest import THREE_PAIRS  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
SIZE = 5_000_000
PITCH = (
    "Dear Sir or Madam,\n\nWe are a leading SEO agency and noticed your mentoring "
    "program's website could rank much higher. Our packages start at $99/month.\n\n"
)
# One idle tick in this process: time from the CLI's start to its end, and peak RSS (the
# VmHWM of this program's memory, not ru_maxrss, which keeps the forking parent's).
IDLE = """
import json, re, sys, time
from pathlib import Path
from agent.commands.cli import main
started = time.monotonic()
code = main(sys.argv[1:])
seconds = time.monotonic() - started
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]) * 1024
print(json.dumps({"code": code, "seconds": seconds, "peak": peak}), file=sys.stderr)
"""


def _spam(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Growth Team {n} <growth{n}@seo-{n}.example>"
    message["To"] = "Mentoring Program <mentoring@example.org>"
    message["Subject"] = f"Rank #1 on Google, offer {n}"
    message["Date"] = "Tue, 16 Feb 2027 08:00:00 +0100"
    message["Message-ID"] = f"<offer-{n}@seo-{n}.example>"
    message.set_content(PITCH * (SIZE // len(PITCH)))
    return message.as_bytes(policy=email.policy.SMTP)


@contextmanager
def _caps(on: bool) -> Iterator[None]:
    """As shipped, or with agent.mail_in.kept's caps switched off."""
    saved = agent.commands.tick.capped, agent.mail_in.kept.PER_SENDER, agent.mail_in.kept.PER_DAY
    if not on:
        agent.commands.tick.capped = lambda text, folder, limit=0: text
        agent.mail_in.kept.PER_SENDER = agent.mail_in.kept.PER_DAY = 10**9
    try:
        yield
    finally:
        agent.commands.tick.capped, agent.mail_in.kept.PER_SENDER, agent.mail_in.kept.PER_DAY = (
            saved
        )


def _idle_tick(config: Path, now: str) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-c", IDLE, "tick", "--config", str(config), "--now", now],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    result = json.loads(run.stderr.strip().splitlines()[-1])
    assert result["code"] == 0, run.stdout + run.stderr
    return result


def measure(messages: int, *, caps: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mentormail-quarantine-") as tmp:
        folder = Path(tmp)
        config = folder / "program.yaml"
        config.write_text(THREE_PAIRS, encoding="utf-8")
        rt = Runtime.open(load_config(config))
        try:
            agent.commands.tick.run_tick(rt, datetime(2027, 2, 15, 9, tzinfo=BERLIN))
            inbox = mailbox.Maildir(folder / "mail" / "inbox")
            for n in range(messages):
                inbox.add(_spam(n))
            started = time.monotonic()
            with _caps(caps):
                report = agent.commands.tick.run_tick(rt, datetime(2027, 2, 16, 9, tzinfo=BERLIN))
            reading = time.monotonic() - started
        finally:
            rt.close()
        assert sum("quarantined" in line for line in report.received) == messages
        idle = [_idle_tick(config, f"2027-02-16T10:{m:02d}") for m in (0, 5, 10)]
        return {
            "messages": messages,
            "caps": caps,
            "state_bytes": (folder / "state.json").stat().st_size,
            "reading_seconds": round(reading, 2),
            "idle_tick_seconds": round(statistics.median(r["seconds"] for r in idle), 3),
            "idle_tick_peak_mb": round(max(r["peak"] for r in idle) / 1e6),
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="10 messages")
    parser.add_argument("--json", action="store_true")
    options, _ = parser.parse_known_args(argv)
    messages = 10 if options.quick else options.messages
    rows = [measure(messages, caps=False), measure(messages, caps=True)]
    if options.json:
        print(json.dumps({"quarantine": rows}))
        return 0
    print(f"{messages} quarantined 5 MB strangers' emails, TinyDB state, idle tick after them")
    print(f"{'':8} {'state file':>12} {'idle tick':>10} {'peak RSS':>9} {'reading them':>13}")
    for row, name in zip(rows, ("before", "after"), strict=True):
        print(
            f"{name:8} {row['state_bytes'] / 1e6:>9.1f} MB {row['idle_tick_seconds']:>8.2f} s "
            f"{row['idle_tick_peak_mb']:>6} MB {row['reading_seconds']:>11.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
