"""Run every benchmark script in bench/ that defines `main()` and print its output.

Run from the repo root: `.venv/bin/python bench/run_all.py [--json]`; the arguments
are passed on to each benchmark's `main(argv)`. Each script's name goes to stderr,
so with `--json` stdout holds one JSON document per benchmark.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: Sequence[str] | None = None) -> int:
    """Run each bench/*.py with a `main()` (except this one); return the worst exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    worst = 0
    for path in sorted(BENCH.glob("*.py")):
        if path.stem in {"__init__", "run_all"}:
            continue
        module = importlib.import_module(f"bench.{path.stem}")
        if not callable(getattr(module, "main", None)):
            continue
        print(f"== bench/{path.name}", file=sys.stderr, flush=True)  # keeps stdout JSON-clean
        worst = max(worst, module.main(args) or 0)
        sys.stdout.flush()
    return worst


if __name__ == "__main__":
    sys.exit(main())
