"""Reply-text extraction vs. peer libraries on the shared third-party corpora.

For each corpus in ../shared/corpora: how many fixtures each parser gets right
(SOURCE.txt's rule, see bench/corpora.py) and how many messages per second it
handles, all measured in this run on the same texts. Also the throughput of
intent interpretation (`agent.mail_in.replies.interpret`) on mentormail's extracted replies.

Run from the repo root: `.venv/bin/python bench/replies.py [--json] [--long]
[--against OLD_REPLIES_PY]`. With `--against`, the interpretation rows also time
that copy of agent/mail_in/replies.py (say, `git show HEAD:agent/mail_in/replies.py`
saved to a file) on the same replies, in the same interleaved rounds.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from email_reply_parser import EmailReplyParser  # noqa: E402

try:  # an optional peer (the `bench` extra): its rows are left out when it is missing
    from mailparser_reply import EmailReplyParser as MailParserReply
    from mailparser_reply.constants import MAIL_LANGUAGES
except ImportError:  # pragma: no cover - depends on the environment
    MailParserReply = None
    MAIL_LANGUAGES = {}
try:  # mailgun's talon (the `bench` extra), likewise
    from talon import quotations as talon_quotations
except ImportError:  # pragma: no cover - depends on the environment
    talon_quotations = None

from agent.mail_in.inbound import parse_message, strip_reply  # noqa: E402
from agent.mail_in.replies import interpret  # noqa: E402
from bench import multilingual  # noqa: E402
from bench.corpora import RUBY_OVERRIDES, Fixture, load_all, passes, passes_ruby  # noqa: E402

MIN_SECONDS = 0.5  # each timed round runs the whole input list this long at least
ROUNDS = 5  # best of
INTERPRET_MAX_CHARS = 64_000  # longer replies are timed once, in their own row
OURS = "mentormail"

# every language it knows: the multilingual corpus has quote headers in 19
_MAIL_PARSER_REPLY = MailParserReply(languages=list(MAIL_LANGUAGES)) if MailParserReply else None
# crisp-oss/email-reply-parser, run with node: `npm install --prefix bench email-reply-parser`
CRISP_SCRIPT = ROOT / "bench" / "crisp_reply.cjs"
CRISP_PACKAGE = ROOT / "bench" / "node_modules" / "email-reply-parser"
CRISP = "crisp email-reply-parser (node)"
CRISP_MAX_CHARS = 100_000  # longer bodies are not given to it (minutes each): they fail


def as_message(text: str) -> bytes:
    """`text` as the body of a minimal RFC 5322 message (UTF-8, CRLF line ends)."""
    head = (
        "From: Ana Silva <ana@example.org>\r\n"
        "To: mentoring@example.org\r\n"
        "Subject: Re: Your mentoring agreement\r\n"
        "Message-ID: <bench-1@example.org>\r\n"
        "Date: Tue, 02 Mar 2027 10:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return (head + text.replace("\r\n", "\n").replace("\n", "\r\n")).encode("utf-8")


def _mail_parser_reply(text: str) -> str:
    assert _MAIL_PARSER_REPLY is not None
    return _MAIL_PARSER_REPLY.parse_reply(text=text) or ""


def _mail_parser_reply_body(text: str) -> str:
    assert _MAIL_PARSER_REPLY is not None
    replies = _MAIL_PARSER_REPLY.read(text=text).replies
    return replies[0].body if replies else ""


@dataclass(frozen=True)
class Contender:
    """A reply extractor: how to prepare a fixture's input and how to run on it."""

    label: str
    run: Callable[[Any], str]
    prepare: Callable[[str], Any] = lambda text: text
    timed: bool = True
    note: str = ""


CONTENDERS = (
    Contender(OURS, strip_reply),
    Contender(f"{OURS} (full MIME path)", lambda raw: parse_message(raw).reply_text, as_message),
    Contender("email-reply-parser", EmailReplyParser.parse_reply),
    *((Contender("talon", talon_quotations.extract_from_plain),) if talon_quotations else ()),
    *(
        (
            Contender("mail-parser-reply", _mail_parser_reply),
            # Same read() as parse_reply, then signatures/disclaimers removed: graded, not timed.
            Contender(
                "mail-parser-reply (.body)", _mail_parser_reply_body, timed=False, note="not timed"
            ),
        )
        if _MAIL_PARSER_REPLY
        else ()
    ),
)


@dataclass
class Row:
    """One line of a result table."""

    label: str
    total: int
    passed: int | None = None
    passed_ruby: int | None = None
    msgs_per_s: float | None = None
    ratio: float | None = None  # mentormail msgs/s divided by this row's
    failures: list[str] = field(default_factory=list)
    note: str = ""


def _round(fn: Callable[[Any], object], inputs: Sequence[Any]) -> float:
    """Messages/s of one round: whole input list, again and again, for >= MIN_SECONDS."""
    passes_done, start = 0, time.perf_counter()
    while True:  # the clock is read between passes only
        for item in inputs:
            fn(item)
        passes_done += 1
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            return passes_done * len(inputs) / elapsed


def throughput(jobs: Sequence[tuple[Callable[[Any], object], Sequence[Any]]]) -> list[float]:
    """Best-of-ROUNDS messages/s for each (function, inputs) job.

    Rounds are interleaved (job 1, job 2, ..., job 1, ...) so that a burst of load
    from elsewhere on the machine hits every job alike rather than one row. The
    garbage collector is off while timing, as in `timeit`.
    """
    best = [0.0] * len(jobs)
    gc.collect()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for i, (fn, inputs) in enumerate(jobs):
                best[i] = max(best[i], _round(fn, inputs))
    finally:
        gc.enable()
    return best


def bench_corpus(fixtures: list[Fixture]) -> tuple[list[Row], list[str]]:
    """Rows for every contender on one corpus, and mentormail's extracted replies."""
    rows: list[Row] = []
    jobs: list[tuple[Row, Callable[[Any], str], list[Any]]] = []
    ours_replies: list[str] = []
    for contender in CONTENDERS:
        inputs = [contender.prepare(f.text) for f in fixtures]
        contender.run(inputs[0])  # warm-up: lazy regex compilation, caches
        outputs = [contender.run(item) for item in inputs]
        row = Row(contender.label, len(fixtures), note=contender.note)
        _grade(row, outputs, fixtures)
        if contender.timed:
            jobs.append((row, contender.run, inputs))
        rows.append(row)
        if contender.label == OURS:
            ours_replies = outputs
    rates = throughput([(run, inputs) for _, run, inputs in jobs])
    for (row, _, _), rate in zip(jobs, rates, strict=True):
        row.msgs_per_s = rate
    if crisp := _crisp_row(fixtures):
        rows.append(crisp)
    ours_rate = rows[0].msgs_per_s
    for row in rows[1:]:
        if ours_rate and row.msgs_per_s:
            row.ratio = ours_rate / row.msgs_per_s
    return rows, ours_replies


def _grade(row: Row, outputs: list[str], fixtures: list[Fixture]) -> None:
    """Pass counts and failures; the multilingual corpus by its own rule (bench/multilingual.py)."""
    pairs = list(zip(outputs, fixtures, strict=True))
    if fixtures and fixtures[0].corpus == multilingual.FOLDER:
        row.failures = [f.name for o, f in pairs if not multilingual.passes(o, f.facts)]
        row.passed = row.passed_ruby = len(pairs) - len(row.failures)
        return
    row.passed = sum(passes(o, f.facts) for o, f in pairs)
    row.passed_ruby = sum(passes_ruby(o, f) for o, f in pairs)
    row.failures = [
        f.name + (" [= Ruby assertion]" if passes_ruby(o, f) else "")
        for o, f in pairs
        if not passes(o, f.facts)
    ]


def skipped_peers() -> list[str]:
    """Notes on the peers that are not installed here, whose rows are left out."""
    notes = []
    if talon_quotations is None:
        notes.append("talon: not installed (pip install talon)")
    if MailParserReply is None:
        notes.append("mail-parser-reply: not installed (pip install mail-parser-reply)")
    if shutil.which("node") is None or not CRISP_PACKAGE.is_dir():
        notes.append(f"{CRISP}: needs node and `npm install --prefix bench email-reply-parser`")
    return notes


def _crisp_row(fixtures: list[Fixture]) -> Row | None:
    """crisp's parser on the same texts, graded alike and timed inside node (same rounds)."""
    node = shutil.which("node")
    if node is None or not CRISP_PACKAGE.is_dir():
        return None
    request = {
        "texts": [f.text for f in fixtures],
        "min_seconds": MIN_SECONDS,
        "rounds": ROUNDS,
        "max_chars": CRISP_MAX_CHARS,
    }
    done = subprocess.run(
        [node, str(CRISP_SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "bench",
    )
    answer = json.loads(done.stdout)
    left_out = sum(output is None for output in answer["outputs"])
    note = "timed in node" + (
        f"; {left_out} over {CRISP_MAX_CHARS // 1000} kB not given (count as failed)"
        if left_out
        else ""
    )
    row = Row(CRISP, len(fixtures), msgs_per_s=answer["msgs_per_s"], note=note)
    _grade(row, [output or "" for output in answer["outputs"]], fixtures)
    return row


def _interpret(text: str) -> object:
    return interpret(text, context="follow_up")


def _baseline(path: Path) -> Callable[[str], object]:
    """`interpret(text, context="follow_up")` of another copy of the replies module."""
    spec = importlib.util.spec_from_file_location("bench_replies_baseline", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda text: module.interpret(text, context="follow_up")


def bench_interpret(
    replies: list[tuple[str, str]], long: bool, against: Path | None = None
) -> list[Row]:
    """interpret() throughput on extracted replies; very long ones apart, once, if `long`;
    with `against`, that copy of the module too, in the same interleaved rounds."""
    short = [text for _, text in replies if len(text) <= INTERPRET_MAX_CHARS]
    jobs: list[tuple[Callable[[Any], object], Sequence[Any]]] = [(_interpret, short)]
    if against:
        jobs.append((_baseline(against), short))
    rates = throughput(jobs)
    rows = [
        Row(
            "interpret(context='follow_up')",
            len(short),
            msgs_per_s=rates[0],
            note=f"replies <= {INTERPRET_MAX_CHARS // 1000} kB",
        )
    ]
    if against:
        rows.append(
            Row(
                "interpret, --against copy",
                len(short),
                msgs_per_s=rates[1],
                ratio=rates[0] / rates[1] if rates[1] else None,
                note=f"{against.name}; ours/peer: this tree's msgs/s / the copy's",
            )
        )
    for name, text in replies:
        if len(text) > INTERPRET_MAX_CHARS:
            note = f"{name}: {len(text) / 1000:.0f} kB reply"
            row = Row("interpret(context='follow_up')", 1, note=note + ", not timed (--long)")
            if long:
                start = time.perf_counter()
                _interpret(text)
                once = time.perf_counter() - start
                row.msgs_per_s, row.note = 1 / once, note + ", one run"
            rows.append(row)
    return rows


def run(long: bool = False, against: Path | None = None) -> dict[str, Any]:
    """Run every measurement; the result is what `--json` prints."""
    corpora = {multilingual.FOLDER: multilingual.load(), **load_all()}
    result: dict[str, Any] = {
        "skipped": skipped_peers(),
        "min_seconds_per_round": MIN_SECONDS,
        "rounds": ROUNDS,
        "ruby_overrides": sorted(RUBY_OVERRIDES),
        "corpora": {},
    }
    replies: list[tuple[str, str]] = []
    for folder, fixtures in corpora.items():
        rows, ours = bench_corpus(fixtures)
        size = sum(len(f.text.encode("utf-8")) for f in fixtures)
        result["corpora"][folder] = {"bytes": size, "rows": [asdict(r) for r in rows]}
        replies.extend((f"{folder}/{f.name}", text) for f, text in zip(fixtures, ours, strict=True))
    result["interpret"] = [asdict(r) for r in bench_interpret(replies, long, against)]
    return result


def _fmt_rate(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:,.2f}"


def _fmt_row(row: dict[str, Any]) -> str:
    total = row["total"]
    passed = "-" if row["passed"] is None else f"{row['passed']}/{total}"
    ruby = "-" if row["passed_ruby"] is None else f"{row['passed_ruby']}/{total}"
    ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}x"
    return (
        f"{row['label']:<31} {passed:>6} {ruby:>7} {_fmt_rate(row['msgs_per_s']):>10} {ratio:>9}"
        + (f"  {row['note']}" if row["note"] else "")
    )


def format_table(result: dict[str, Any]) -> str:
    """The fixed-width text report of `run()`'s result."""
    header = f"{'parser':<31} {'pass':>6} {'w/ Ruby':>7} {'msgs/s':>10} {'ours/peer':>9}"
    lines = [
        "Reply extraction on ../shared/corpora "
        f"(best of {result['rounds']} rounds, each >= {result['min_seconds_per_round']} s)",
        "pass: SOURCE.txt rule. w/ Ruby: fixtures in RUBY_OVERRIDES graded by the Ruby",
        "original's assertion instead. ours/peer: mentormail msgs/s / row msgs/s.",
        f"{multilingual.FOLDER}: its README.txt rule (whitespace normalised), in both columns.",
        *(f"skipped: {note}" for note in result["skipped"]),
    ]
    for folder, data in result["corpora"].items():
        lines += [
            "",
            f"{folder} ({data['rows'][0]['total']} fixtures, {data['bytes'] / 1000:.1f} kB)",
        ]
        lines += [header, "-" * len(header)]
        lines += [_fmt_row(row) for row in data["rows"]]
    lines += ["", "Intent interpretation on mentormail's extracted replies (no peer)"]
    lines += [header, "-" * len(header)]
    lines += [_fmt_row(row) for row in result["interpret"]]
    failures = [
        f"  {folder}/{name}  ({row['label']})"
        for folder, data in result["corpora"].items()
        for row in data["rows"][:2]
        for name in row["failures"]
    ]
    lines += ["", "mentormail failures (SOURCE.txt rule):", *(failures or ["  none"])]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table, or JSON with `--json`."""
    parser = argparse.ArgumentParser(description="Reply-text extraction benchmark.")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--long",
        action="store_true",
        help=f"also time interpret() once on replies over {INTERPRET_MAX_CHARS // 1000} kB (~5 s)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        metavar="FILE",
        help="also time interpret() of this copy of agent/mail_in/replies.py, in the same run",
    )
    args = parser.parse_args(argv)
    result = run(long=args.long, against=args.against)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
