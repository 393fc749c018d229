"""Coverage-guided fuzzing of reading an email: parse_message -> strip_reply -> interpret.

Each input is taken as raw email bytes, and also as the text of a reply, and
read as `agent.pairs.ingest` reads a message (`bench.hostile.read`: parse, strip,
interpret, return date), plus `strip_reply`, `interpret` and `proposed_time`
on the decoded text directly. An exception, or an input whose reading takes
longer than `--budget` seconds (default 0.5), is a failure: atheris stops and
writes the input to a `crash-*` file.

Run from the repo root, with the `bench` extra installed:
`.venv/bin/python bench/fuzz_inbound.py -atheris_runs=100000 [-max_len=200000] [corpus_dir]`
(libFuzzer's flags; `-max_total_time=300` runs for five minutes). It has no `main`,
so `bench/run_all.py` leaves it out: it runs until stopped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.mail_in.inbound import strip_reply  # noqa: E402
from agent.mail_in.replies import interpret  # noqa: E402
from agent.meetings.when import proposed_time  # noqa: E402
from bench.hostile import NOW, SHAPES, ZONE, message, read  # noqa: E402

BUDGET = 0.5  # seconds per input


class TooSlow(Exception):
    """An input took longer than the budget."""


def one_input(data: bytes) -> None:
    """Read `data` as an email and as reply text; raise on a crash or a slow input."""
    start = time.perf_counter()
    read(data)
    text = data.decode("utf-8", "replace")
    strip_reply(text)
    interpret(text, context="agreement", now=NOW, tz=ZONE)
    proposed_time(text[:2_000], NOW, ZONE)
    read(message(text))
    elapsed = time.perf_counter() - start
    if elapsed > BUDGET:
        raise TooSlow(f"{elapsed:.2f} s for {len(data):,} bytes: {data[:200]!r}")


def seeds(folder: Path) -> None:
    """Write the hostile shapes, small, as a starting corpus into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, shape in enumerate(SHAPES.values()):
        (folder / f"shape-{i}").write_bytes(shape(2_000))


def fuzz(argv: list[str] | None = None) -> int:
    """Run atheris with libFuzzer's command line (`argv`, default sys.argv)."""
    import atheris  # the `bench` extra; imported here so that importing this module is cheap

    global BUDGET
    args = list(sys.argv if argv is None else [sys.argv[0], *argv])
    for arg in [a for a in args if a.startswith("--budget=")]:
        BUDGET = float(arg.partition("=")[2])
        args.remove(arg)
    read(SHAPES["reply + quoted tail"](1_000))  # imports and caches before the clock runs
    folders = [a for a in args[1:] if not a.startswith("-")]
    for folder in folders:
        if not any(Path(folder).glob("*")):
            seeds(Path(folder))
    atheris.instrument_all()  # coverage of agent.* and the email package, loaded above
    atheris.Setup(args, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(fuzz())
