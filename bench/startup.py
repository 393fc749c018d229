"""Cold start: `mentormail --help` and `validate` against `python -c pass`, same run.

Each command runs in a fresh interpreter (the way a coordinator, a cron job or a
container probe starts it), alternating with the baseline, best of --rounds. The ratio
to `python -c pass` holds on a loaded machine where the absolute times do not. Configs:
the embedded default, and one naming the Google and Microsoft Graph connectors, whose
libraries must not load for `validate` (connectors/registry.py imports lazily).

Run from the repo root: `.venv/bin/python bench/startup.py [--rounds 15] [--json]`.

Measured (2-core VM under load, four runs of best of 20, PYTHONDONTWRITEBYTECODE=1 so the
project's own modules are compiled on every start): `--help` 55-65 ms, 1.6-1.7x (was
1.8-2.2x); validate 220-250 ms, 6.0-6.5x for maildir + ics (was 280-320 ms, 6.9-7.9x) and
250-285 ms, 6.5-7.5x for graph + google (was 370-440 ms, 9.0-12.1x, when the connector
modules imported icalendar, smtplib and ssl for their Options). The floor is pydantic:
importing it and building a single one-field model costs ~4.5x on its own (the package
~2.5x, the schema machinery and plugin lookup its first model loads ~2x), ~4.9x with
argparse and PyYAML. Above that: compiling the project's modules on the path (~25 ms:
agent/commands/cli.py, config/model.py, meetings/timefmt.py and connectors/registry.py,
base.py, maildir.py, ics_files.py; none has a .pyc here) and building the 24 config and
Options models (~20 ms).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "config" / "minimal.yaml"
PROVIDERS = {
    "mail": {
        "type": "graph",
        "tenant_id": "00000000-0000-0000-0000-000000000001",
        "client_id": "00000000-0000-0000-0000-000000000002",
        "client_secret_env": "MENTORMAIL_GRAPH_SECRET",
        "mailbox": "mentoring@example.org",
    },
    "calendar": {"type": "google", "token_file": "google-token.json", "meet": True},
}


def provider_config(directory: Path) -> Path:
    lines = []
    for line in MINIMAL.read_text(encoding="utf-8").splitlines():
        key = line.split(":", 1)[0]
        if key in PROVIDERS:
            line = f"{key}: {json.dumps(PROVIDERS[key])}"
        lines.append(line)
    path = directory / "providers.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def best(command: Sequence[str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args, _ = parser.parse_known_args(argv)
    python = sys.executable
    cli = [python, "-c", "import sys; from agent.commands.cli import main; sys.exit(main())"]
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "mentormail --help": [*cli, "--help"],
            "mentormail validate (maildir + ics)": [*cli, "validate", str(MINIMAL)],
            "mentormail validate (graph + google)": [
                *cli,
                "validate",
                str(provider_config(Path(tmp))),
            ],
        }
        baseline = best([python, "-c", "pass"], args.rounds)
        rows = [(name, best(command, args.rounds)) for name, command in cases.items()]
    if args.json:
        print(
            json.dumps(
                {
                    "baseline_seconds": round(baseline, 4),
                    "rows": [
                        {"case": n, "seconds": round(t, 4), "ratio": round(t / baseline, 2)}
                        for n, t in rows
                    ],
                }
            )
        )
        return 0
    print(f"cold start, best of {args.rounds} (python -c pass: {baseline * 1000:.0f} ms)")
    print(f"{'command':40} {'ms':>7} {'× pass':>8}")
    for name, seconds in rows:
        print(f"{name:40} {seconds * 1000:7.0f} {seconds / baseline:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
