"""Scale: idle and busy ticks at 10,000 pairs, a whole simulated program, write amplification.

Every figure comes with a baseline measured in the same run, doing the same essential
work with the raw libraries, so the ratios hold on a noisy machine:

- idle tick: the agent's tick with nothing due over N pairs (default 10,000) with a year
  of history, in the running service (`mentormail run` keeps the store open between
  ticks), against sqlite3 + json reading every pair's record. Also the first tick after
  start (it reads every state and the log's latest entries once), the config load, and
  the process's peak RSS. Targets: <= 1 s and <= 300 MB.
- busy tick: the same state with k new pairs added to the config (each gets its welcome
  and agreement: 4 emails), for k = 10, 100, 1000; the time above an idle tick per email,
  against the stdlib composing and delivering the same emails (email + mailbox.Maildir).
- simulation: a program of P pairs (default 1,000) run for W weeks (default 24) on the
  embedded default (Maildir + .ics), a tick every 6 simulated hours, with the people of
  tests/simulated_people.py answering; total time and actions per second, against the
  stdlib composing and delivering the same number of emails and parsing the replies.
- write amplification: bytes written to the disk per flush (the process's `wchar`) divided
  by the bytes of the records that changed, for a busy tick (1% of pairs change) and an
  idle one, at 100, 1,000 and 10,000 pairs, for both state back ends.

The large states are grown from a simulated year of 25 pairs (bench/program.py) and kept
in bench/.cache/ (about 2 GB for 10,000 pairs; delete it to rebuild, ~5 minutes).

Run from the repo root: `.venv/bin/python bench/scale.py [--pairs 10000] [--quick] [--json]`.
`--quick` uses 1,000 pairs and an 8-week simulation of 200 pairs.
"""

from __future__ import annotations

import argparse
import email.policy
import hashlib
import json
import mailbox
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent.pairs.program import PairState  # noqa: E402
from agent.state.opening import open_store, reading  # noqa: E402
from agent.state.store import copy_store  # noqa: E402
from bench.program import START, grow, simulate  # noqa: E402
from tests.simulated_people import many_pairs  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
TEMPLATE_PAIRS = 25
HISTORY = timedelta(weeks=52)
PROGRAM_WEEKS = 60  # the grown program runs past its year of history
# the history's last tick is at 20:00; seven hours later no meeting or follow-up is due
IDLE_AT = START + HISTORY - timedelta(hours=5)


def _cache_key() -> str:
    """Changes when anything that shapes the grown state changes."""
    digest = hashlib.sha256()
    for name in ("bench/program.py", "tests/simulated_people.py", "agent/state/store_sqlite.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:12]


def grown_state(pairs: int) -> Path:
    """A SQLite state of `pairs` pairs with a year of history (built once, then cached)."""
    folder = CACHE / _cache_key()
    template = folder / "template" / "state.db"
    if not template.exists():
        shutil.rmtree(template.parent, ignore_errors=True)
        print(f"  simulating a year of {TEMPLATE_PAIRS} pairs (once) ...", file=sys.stderr)
        simulate(
            template.parent,
            TEMPLATE_PAIRS,
            PROGRAM_WEEKS,
            storage="state.db",
            step=timedelta(hours=12),
            run_for=HISTORY - timedelta(hours=12),
        )
    target = folder / f"state-{pairs}.db"
    if not target.exists():
        print(f"  growing it to {pairs} pairs (once) ...", file=sys.stderr)
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        slug = "kill-test-mentoring"
        grow(
            template,
            partial,
            copies=pairs // TEMPLATE_PAIRS,
            template_pairs=TEMPLATE_PAIRS,
            slug=slug,
        )
        partial.rename(target)
        partial.with_name(partial.name + ".lock").unlink(missing_ok=True)
    return target


def program_dir(state: Path, pairs: int, directory: Path) -> Path:
    """A program folder with a copy of `state` and its config (participants and pairs in
    CSV files, as a large program keeps them)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(state, directory / "state.db")
    config = directory / "program.yaml"
    end = (START + timedelta(days=4, weeks=PROGRAM_WEEKS)).date().isoformat()
    config.write_text(
        many_pairs(pairs, end=end, storage="{path: state.db, backups: 0}", files=directory),
        encoding="utf-8",
    )
    return config


# -- the idle and busy ticks (in a child process: its own peak RSS) --------------------------


def ticks_child(config: Path, pairs: int) -> dict[str, Any]:
    from agent.commands.runtime import Runtime
    from agent.commands.service import keep_long_lived
    from agent.commands.tick import run_tick
    from agent.config.loading import load_config

    state = config.parent / "state.db"
    started = time.perf_counter()
    raw = sqlite3.connect(state)
    records = [json.loads(text) for (text,) in raw.execute("SELECT record FROM pairs")]
    raw.close()
    baseline = time.perf_counter() - started
    assert len(records) == pairs
    del records

    started = time.perf_counter()
    cfg = load_config(config)
    load = time.perf_counter() - started
    rt = Runtime.open(cfg)
    out: dict[str, Any] = {"pairs": pairs, "baseline_read_states": baseline, "load_config": load}
    try:
        counting = sqlite3.connect(state)
        for table in ("log", "actions"):
            out[table] = counting.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        counting.close()
        now = IDLE_AT
        times = []
        for n in range(6):
            started = time.perf_counter()
            report = run_tick(rt, now + timedelta(minutes=n))
            times.append(time.perf_counter() - started)
            keep_long_lived()  # as the service does after each tick
            if report.performed or report.errors:
                raise RuntimeError(f"the idle tick did something: {report.lines()[:5]}")
        out["first_tick"] = times[0]
        out["idle_tick"] = statistics.median(times[1:])
        out["idle_rss_mb"] = _peak_rss_mb()

        busy = []
        added = 0
        now += timedelta(minutes=10)
        rt.cfg = load_config(config)  # the same config read again: a tick's fixed cost of
        started = time.perf_counter()  # noticing a changed config, without any change
        run_tick(rt, now)
        out["reload_tick"] = time.perf_counter() - started
        keep_long_lived()
        for k in (10, 100, 1000):
            added += k
            rt.cfg = load_config(_with_pairs(config, pairs + added, pairs))  # a config reload
            before = _sent(config.parent)
            now += timedelta(minutes=5)
            started = time.perf_counter()
            report = run_tick(rt, now)
            seconds = time.perf_counter() - started
            keep_long_lived()
            emails = _sent(config.parent) - before
            busy.append(
                {
                    "new_pairs": k,
                    "seconds": seconds,
                    "performed": len(report.performed),
                    "emails": emails,
                }
            )
        out["busy"] = busy
        out["busy_rss_mb"] = _peak_rss_mb()
    finally:
        rt.close()
    return out


def _with_pairs(config: Path, pairs: int, first: int) -> Path:
    """The config for `pairs` pairs, the `first` of them unchanged, next to it."""
    text = many_pairs(
        pairs,
        width=max(2, len(str(first - 1))),
        end=(START + timedelta(days=4, weeks=PROGRAM_WEEKS)).date().isoformat(),
        storage="{path: state.db, backups: 0}",
        files=config.parent,
    )
    path = config.with_name(f"program-{pairs}.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def _sent(directory: Path) -> int:
    return sum(len(os.listdir(directory / "mail" / "sent" / sub)) for sub in ("new", "cur"))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stdlib_emails(count: int, directory: Path) -> float:
    """Seconds for the stdlib to compose `count` emails like the agent's (plain + HTML
    alternative, a few headers) and deliver them into a Maildir."""
    directory.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(directory / "baseline", create=True)
    text = "Hello Ana,\n\nWelcome to the program. " * 20
    html = f"<html><body><p>{text}</p></body></html>"
    started = time.perf_counter()
    for n in range(count):
        message = EmailMessage()
        message["From"] = "Mentoring Program <mentoring@example.org>"
        message["To"] = f"Mentor {n} <mentor{n}@example.org>"
        message["Subject"] = "Welcome to the program"
        message["Message-ID"] = f"<baseline.{n}@example.org>"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        box.add(message.as_bytes(policy=email.policy.SMTP))
    return time.perf_counter() - started


# -- the simulated program --------------------------------------------------------------------


def simulation(pairs: int, weeks: int, storage: str, directory: Path) -> dict[str, Any]:
    run = simulate(directory, pairs, weeks, storage=storage, step=timedelta(hours=6))
    sent = [p for sub in ("new", "cur") for p in (directory / "mail" / "sent" / sub).iterdir()]
    replies = [
        p for sub in ("new", "cur") for p in (directory / "mail" / "processed" / sub).iterdir()
    ]
    emails = len(sent)
    started = time.perf_counter()
    parser = BytesParser(policy=email.policy.default)
    for path in replies:
        parser.parsebytes(path.read_bytes()).get_body(preferencelist=("plain",))
    parse = time.perf_counter() - started
    baseline = stdlib_emails(emails, directory) + parse
    return {
        "pairs": pairs,
        "weeks": weeks,
        "storage": storage,
        "ticks": run.ticks,
        "actions": run.actions,
        "emails": emails,
        "replies": run.replies,
        "seconds": run.seconds,
        "baseline": baseline,
    }


# -- write amplification ------------------------------------------------------------------------


def write_amplification(pairs: int, kind: str, directory: Path) -> dict[str, Any]:
    """Open a store of `pairs` pairs and measure the bytes one flush writes for a busy
    tick (1% of the pairs change state, get two outbox records and a log entry) and for
    an idle one (only the tick summary changes)."""
    source = grown_state(pairs)
    if kind == "sqlite":
        path = directory / f"wa-{pairs}.db"
        shutil.copy(source, path)
    else:
        path = directory / f"wa-{pairs}.json"
        with reading(source) as reader:
            target = open_store(path)
            copy_store(reader, target)
            target.close()
    store = open_store(path)
    try:
        ids = store.pair_ids()
        changed = 0
        before = _written()
        for pair_id in ids[::100]:
            state: PairState = store.pair_state(pair_id)
            new = state.model_copy(update={"heard": {**state.heard, "mentor": IDLE_AT}})
            store.save_pair_state(new)
            changed += len(json.dumps({"pair_id": pair_id, "state": new.model_dump(mode="json")}))
            for n, status in enumerate(("pending", "done")):
                key = f"{pair_id}/bench/{n}"
                fields = {
                    "status": status,
                    "pair": pair_id,
                    "planned_at": IDLE_AT.isoformat(),
                    "message_id": f"b{n}.{pair_id}@x",
                }
                store.record_action(key, **fields)
                changed += len(json.dumps({"key": key, **fields}))
            entry = {
                "pair": pair_id,
                "kind": "progress",
                "at": IDLE_AT.isoformat(),
                "text": "Goal 1: about half way.",
            }
            store.append_log(**entry)
            changed += len(json.dumps(entry))
        tick = {"at": IDLE_AT.isoformat(), "seconds": 0.5, "errors": [], "performed": 3}
        store.set_meta("last_tick", tick)
        changed += len(json.dumps(tick))
        store.flush()
        busy_written = _written() - before
        before = _written()
        idle_tick = {**tick, "performed": 0}
        store.set_meta("last_tick", idle_tick)
        store.flush()
        idle_written = _written() - before
        idle_changed = len(json.dumps(idle_tick))
    finally:
        store.close()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return {
        "pairs": pairs,
        "kind": kind,
        "file_mb": size / 1e6,
        "busy_changed": changed,
        "busy_written": busy_written,
        "idle_changed": idle_changed,
        "idle_written": idle_written,
    }


def _written() -> int:
    """Bytes this process has passed to write(2) and friends so far."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


# -- the command ---------------------------------------------------------------------------------


def _child(section: str, *args: str) -> dict[str, Any]:
    """Run one section in a fresh interpreter (its own peak RSS, no warm caches)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", section, *args],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--sim-pairs", type=int, default=1_000)
    parser.add_argument("--sim-weeks", type=int, default=24)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--only", default="ticks,write,simulation", help="comma-separated sections to run"
    )
    parser.add_argument(
        "--table", nargs="+", metavar="JSON", help="print the table of saved --json outputs"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)
    if args.child:
        return _run_child(args.child)
    if args.quick:
        args.pairs, args.sim_pairs, args.sim_weeks = 1_000, 200, 8
    if args.table:
        saved: dict[str, Any] = {}
        for name in args.table:
            saved.update(json.loads(Path(name).read_text(encoding="utf-8")))
        print("\n".join(table(saved)))
        return 0
    only = set(args.only.split(","))
    sizes = sorted({100, 1_000, args.pairs})
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mentormail-scale-") as tmp:
        work = Path(tmp)
        if "ticks" in only:
            config = program_dir(grown_state(args.pairs), args.pairs, work / "idle")
            results["ticks"] = ticks = _child("ticks", str(config), str(args.pairs))
            ticks["baseline_emails"] = {
                str(b["new_pairs"]): stdlib_emails(b["emails"], work / f"base-{b['new_pairs']}")
                for b in ticks["busy"]
            }
        if "write" in only:
            results["write"] = [
                _child("write", str(size), kind, str(work))
                for size in sizes
                for kind in ("sqlite", "tinydb")
                if not (kind == "tinydb" and size > 1_000)
            ]
        if "simulation" in only:
            results["simulation"] = [
                _child(
                    "simulate", str(args.sim_pairs), str(args.sim_weeks), store, str(work / store)
                )
                for store in ("state.db", "state.json")
                if store == "state.db" or args.sim_pairs <= 200
            ]
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        print("\n".join(table(results)))
    return 0


def _run_child(child: list[str]) -> int:
    section, *rest = child
    if section == "ticks":
        result = ticks_child(Path(rest[0]), int(rest[1]))
    elif section == "write":
        result = write_amplification(int(rest[0]), rest[1], Path(rest[2]))
    else:
        result = simulation(int(rest[0]), int(rest[1]), rest[2], Path(rest[3]))
        result["rss_mb"] = _peak_rss_mb()
    print(json.dumps(result, default=str))
    return 0


def table(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "ticks" in results:
        lines += _ticks_table(results["ticks"])
    if "write" in results:
        lines += _write_table(results["write"])
    if "simulation" in results:
        lines += _simulation_table(results["simulation"])
    return lines


def _ticks_table(t: dict[str, Any]) -> list[str]:
    lines = [
        f"Ticks over {t['pairs']:,} pairs with a year of history "
        f"({t['log']:,} log entries, {t['actions']:,} outbox records), SQLite store",
        f"  {'':34} {'seconds':>9} {'vs baseline':>12}",
        f"  {'baseline: sqlite3+json, all pairs':34} {t['baseline_read_states']:9.3f}",
        f"  {'idle tick (service, steady)':34} {t['idle_tick']:9.3f} "
        f"{t['idle_tick'] / t['baseline_read_states']:11.1f}x",
        f"  {'first tick after start':34} {t['first_tick']:9.3f} "
        f"{t['first_tick'] / t['baseline_read_states']:11.1f}x",
        f"  {'config load (CSV participants)':34} {t['load_config']:9.3f}",
        f"  peak RSS after the idle ticks: {t['idle_rss_mb']:.0f} MB; after the busy ones: "
        f"{t['busy_rss_mb']:.0f} MB",
        "",
        f"Busy ticks: k new pairs added to the config (welcome and agreement to both); "
        f"per email: the tick's time above a tick that reads an unchanged config again "
        f"({t['reload_tick']:.2f} s)",
        f"  {'new pairs':>9} {'emails':>7} {'seconds':>8} {'ms/email':>9} "
        f"{'stdlib ms/email':>16} {'ratio':>6}",
    ]
    for b in t["busy"]:
        extra = max(b["seconds"] - t["reload_tick"], 0.0)
        per = extra / max(b["emails"], 1) * 1000
        base = t["baseline_emails"][str(b["new_pairs"])] / max(b["emails"], 1) * 1000
        lines.append(
            f"  {b['new_pairs']:9,} {b['emails']:7,} {b['seconds']:8.2f} {per:9.2f} "
            f"{base:16.2f} {per / base:5.1f}x"
        )
    return [*lines, ""]


def _write_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["Write amplification per flush (bytes written / bytes of changed records)"]
    lines.append(
        f"  {'pairs':>7} {'store':>7} {'file MB':>8} {'busy: changed':>14} {'written':>12} "
        f"{'ampl.':>7} {'idle: written':>14} {'ampl.':>9}"
    )
    for w in rows:
        lines.append(
            f"  {w['pairs']:7,} {w['kind']:>7} {w['file_mb']:8.1f} {w['busy_changed']:14,} "
            f"{w['busy_written']:12,} {w['busy_written'] / w['busy_changed']:6.1f}x "
            f"{w['idle_written']:14,} {w['idle_written'] / w['idle_changed']:8.0f}x"
        )
    return [*lines, ""]


def _simulation_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["Simulated program (Maildir + .ics, a tick every 6 simulated hours)"]
    lines.append(
        f"  {'pairs':>6} {'weeks':>5} {'store':>10} {'ticks':>6} {'actions':>8} {'seconds':>8} "
        f"{'actions/s':>10} {'stdlib s':>9} {'ratio':>6} {'RSS MB':>7}"
    )
    for s in rows:
        lines.append(
            f"  {s['pairs']:6,} {s['weeks']:5} {s['storage']:>10} {s['ticks']:6,} "
            f"{s['actions']:8,} {s['seconds']:8.1f} {s['actions'] / s['seconds']:10.1f} "
            f"{s['baseline']:9.1f} {s['seconds'] / s['baseline']:5.1f}x {s['rss_mb']:7.0f}"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
