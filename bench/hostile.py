"""Hostile email shapes: our parsing against the raw stdlib parse, by size.

Each shape is an email an attacker could send to the program's address, built
to make some stage of reading it slow or big: a sign-off followed by thousands
of spaces, thousands of blank lines, "to foo to foo ..." in a reschedule
request, a Subject of encoded words, tens of thousands of MIME parts, deeply
nested HTML quotes, and so on (issue 15). For each shape and size this prints
the time and peak memory of the whole read, as `agent.pairs.ingest` does it
(`parse_message`, which also strips the reply, then `interpret` and
`return_date`), next to the stdlib doing the same parse
(`email.message_from_bytes` and `get_content` of every text part), and the
ratios, all measured in this run.

Run from the repo root: `.venv/bin/python bench/hostile.py [--json] [--sizes 10000,100000]
[--shape NAME]`. `tests/test_hostile_input.py` asserts on the same shapes.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.mail_in.inbound import parse_message  # noqa: E402
from agent.mail_in.message import InboundMessage, Interpretation  # noqa: E402
from agent.mail_in.replies import interpret  # noqa: E402
from agent.meetings.when import return_date  # noqa: E402

NOW = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")
SIZES = (10_000, 100_000, 1_000_000)


def message(body: str, *, subject: str = "Re: How is it going?", **headers: str) -> bytes:
    """A reply as Gmail sends it, with `body` as its text/plain part (UTF-8, 8bit)."""
    head = (
        "From: Ana Silva <ana@example.org>\r\n"
        "To: mentoring@example.org\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <hostile-1@mail.example.org>\r\n"
        "In-Reply-To: <mm-1@mentoring.example.org>\r\n"
        "Date: Tue, 02 Mar 2027 10:00:00 +0100\r\n"
        + "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
        + "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return (head + body.replace("\r\n", "\n").replace("\n", "\r\n")).encode("utf-8")


def _repeat(piece: str, size: int) -> str:
    return piece * max(1, size // len(piece))


def _html(html: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana Silva <ana@example.org>"
    msg["To"] = "mentoring@example.org"
    msg["Subject"] = "Re: How is it going?"
    msg["Message-ID"] = "<hostile-html@mail.example.org>"
    msg.set_content("")
    msg.add_alternative(html, subtype="html", cte="8bit")
    return msg.as_bytes()


def _encoded_subject(size: int) -> bytes:
    words = _repeat("=?utf-8?q?caf=C3=A9?=\r\n ", size)
    return message("Hi Ana, all good.", subject=words.rstrip())


def _mime_parts(size: int) -> bytes:
    part = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    body = _repeat(part, size) + "--b--\r\n"
    head = (
        "From: Ana Silva <ana@example.org>\r\nTo: mentoring@example.org\r\n"
        "Subject: parts\r\nMessage-ID: <hostile-parts@mail.example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    )
    return (head + body).encode()


def _auto_reply(size: int) -> bytes:
    body = "I am out of the office.\n" + _repeat("I will be back until later, back soon. ", size)
    return message(body, subject="Out of office", Auto_Submitted="auto-replied")


def _reply_with_tail(size: int) -> bytes:
    quoted = _repeat("> Thanks for the update, let us talk about the next steps\n", size)
    return message(
        "Can we move our meeting to Friday at 3pm?\n\n"
        "On Mon, 1 Mar 2027 at 09:00, Mentoring <mentoring@example.org> wrote:\n" + quoted
    )


# name -> an email of about `size` bytes of that shape
SHAPES: dict[str, Callable[[int], bytes]] = {
    "sign-off + spaces": lambda n: message("Hi Ana,\n\nThanks" + " " * n + "é"),
    "sign-off, + spaces": lambda n: message("Hi Ana,\n\nBest," + " " * n + "Ana é"),
    "blank lines": lambda n: message("Goal 1: done\n" + "\n" * (n // 2) + "x"),  # CRLF: 2 bytes
    "lines of !": lambda n: message(_repeat("!\n", n * 2 // 3)),
    "reschedule to foo": lambda n: message("Can we reschedule to foo" + _repeat(" to foo", n)),
    "quoted words": lambda n: message(_repeat('"word" ', n)),
    "rating + spaces": lambda n: message("rating" + " " * n + "x"),
    "auto-reply markers": _auto_reply,
    "encoded-word Subject": _encoded_subject,
    "MIME parts": _mime_parts,
    "nested blockquote": lambda n: _html(_repeat("<blockquote>x", n)),
    "HTML tags": lambda n: _html(_repeat("<b>x</b>", n)),
    "quote header lines": lambda n: message(_repeat("On Monday Ana wrote:\n", n)),
    "long quoted line": lambda n: message("I agree.\n" + ">" * n),
    "reply + quoted tail": _reply_with_tail,
}


def read(raw: bytes) -> tuple[InboundMessage, Interpretation]:
    """Everything `agent.pairs.ingest` does with one message's text."""
    msg = parse_message(raw)
    meaning = interpret(msg.reply_text, context="follow_up", now=NOW, tz=ZONE)
    interpret(msg.reply_text, context="slot_options", now=NOW, tz=ZONE)
    return_date(f"{msg.subject}\n{msg.reply_text or msg.text}", NOW, ZONE)
    return msg, meaning


def stdlib_read(raw: bytes) -> int:
    """The raw stdlib parse: the message and the content of each text part."""
    msg = message_from_bytes(raw, policy=policy.default)
    total = 0
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                total += len(part.get_content())
            except Exception:  # a broken part costs the stdlib its parse anyway
                continue
    return total


def measure(run: Callable[[bytes], Any], raw: bytes) -> tuple[float, float]:
    """(seconds, peak MB): the time without tracing, the memory in a second, traced run."""
    gc.collect()
    start = time.perf_counter()
    run(raw)
    seconds = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    try:
        run(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak / 1e6


def run(sizes: Sequence[int], shapes: Sequence[str]) -> list[dict[str, Any]]:
    read(SHAPES["reply + quoted tail"](1_000))  # imports and first-use caches (dateparser)
    rows = []
    for name in shapes:
        for size in sizes:
            raw = SHAPES[name](size)
            ours_s, ours_mb = measure(read, raw)
            std_s, std_mb = measure(stdlib_read, raw)
            rows.append(
                {
                    "shape": name,
                    "bytes": len(raw),
                    "ours_s": round(ours_s, 4),
                    "ours_mb": round(ours_mb, 1),
                    "stdlib_s": round(std_s, 4),
                    "stdlib_mb": round(std_mb, 1),
                    "time_ratio": round(ours_s / max(std_s, 1e-6), 1),
                    "memory_ratio": round(ours_mb / max(std_mb, 1e-3), 1),
                }
            )
            print(_row(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _row(r: dict[str, Any]) -> str:
    return (
        f"{r['shape']:<22} {r['bytes']:>9,} B  ours {r['ours_s']:>7.3f} s {r['ours_mb']:>7.1f} MB"
        f"  stdlib {r['stdlib_s']:>7.3f} s {r['stdlib_mb']:>7.1f} MB"
        f"  x{r['time_ratio']:>6.1f} time  x{r['memory_ratio']:>5.1f} memory"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table, or JSON with `--json`."""
    parser = argparse.ArgumentParser(description="Hostile email shapes benchmark.")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated")
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES), help="repeatable")
    args, _ = parser.parse_known_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = run(sizes, args.shape or list(SHAPES))
    if args.json:
        print(json.dumps({"benchmark": "hostile", "rows": rows}, indent=2))
    else:
        print("\n".join(_row(r) for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
