"""A simulated program for the scale benchmarks: run it, or grow its history to any size.

`simulate` runs the agent in-process (as `mentormail run` does) on the embedded default
(Maildir + .ics) with the people of tests/simulated_people.py answering what they get.
`grow` turns the state of a small simulated program into one of N pairs by copying each
pair's records under new ids (pair07 becomes pair0107, pair0207, ...), so a large state
has the shape of a real one without simulating every pair.
"""

from __future__ import annotations

import mailbox
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.commands.runtime import Runtime
from agent.commands.tick import run_tick
from agent.config.loading import load_config
from agent.mail_out.outbound import message_id
from agent.state.opening import open_store
from agent.state.store import Store
from tests.simulated_people import People, many_pairs

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2027, 2, 25, 8, 0, tzinfo=BERLIN)  # the welcomes: 4 days before the start
DOMAIN = "example.org"


@dataclass
class Simulated:
    pairs: int
    weeks: int
    ticks: int
    actions: int  # performed: emails sent and calendar writes
    replies: int  # delivered to the inbox and read by the agent
    seconds: float  # in run_tick only
    root: Path


def write_config(root: Path, pairs: int, weeks: int, storage: str) -> Path:
    """A program of `pairs` pairs starting 2027-03-01 and running `weeks` weeks."""
    root.mkdir(parents=True, exist_ok=True)
    end = (START + timedelta(days=4, weeks=weeks)).date().isoformat()
    path = root / "program.yaml"
    path.write_text(many_pairs(pairs, end=end, storage=storage), encoding="utf-8")
    return path


def simulate(
    root: Path,
    pairs: int,
    weeks: int,
    *,
    storage: str = "state.json",
    step: timedelta = timedelta(hours=4),
    run_for: timedelta | None = None,
) -> Simulated:
    """Run the program for `run_for` (default: to its end and a few days), a tick each
    `step`; people's replies are delivered to the inbox as they come due."""
    cfg = load_config(write_config(root, pairs, weeks, storage))
    rt = Runtime.open(cfg)
    people = People(seed=1)
    inbox = mailbox.Maildir(root / "mail" / "inbox")
    sent_dirs = [root / "mail" / "sent" / sub for sub in ("new", "cur")]
    seen: set[str] = set()
    now, stop = START, START + (run_for or timedelta(weeks=weeks, days=8))
    ticks = actions = replies = 0
    seconds = 0.0
    try:
        while now <= stop:
            for reply in people.due(now):
                inbox.add(reply.data)
                replies += 1
            started = time.perf_counter()
            report = run_tick(rt, now)
            seconds += time.perf_counter() - started
            ticks += 1
            actions += len(report.performed)
            if report.errors:
                raise RuntimeError(f"tick at {now}: {report.errors[:3]}")
            fresh = []
            for folder in sent_dirs:
                for file in folder.iterdir() if folder.exists() else []:
                    if file.name not in seen:
                        seen.add(file.name)
                        fresh.append(file.read_bytes())
            people.read(fresh, _Lookup(rt.store), now)
            now += step
    finally:
        rt.close()
    return Simulated(pairs, weeks, ticks, actions, replies, seconds, root)


class _Lookup:
    """The outbox by Message-ID, for the people's `read` (a Mapping's `get`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, message_id: str) -> dict[str, Any] | None:
        return self.store.sent(message_id)


_ID = re.compile(r"\b(pair|mentor|mentee)(\d+)\b|\b(reply-\d+-\d+)@")


def _pattern(text: str | None) -> str | None:
    """`text` as a format string: ids numbered {nNN}, the people's Message-IDs (see
    tests/simulated_people.py) made unique per copy with {c}."""
    if text is None:
        return None
    escaped = text.replace("{", "{{").replace("}", "}}")
    return _ID.sub(lambda m: f"{m[1]}{{n{int(m[2]):02d}}}" if m[1] else f"{m[3]}.c{{c}}@", escaped)


class _Filler:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def __call__(self, pattern: str | None, **more: object) -> str | None:
        if pattern is None:
            return None
        return pattern.format_map({**self.names, **more} if more else self.names)


def grow(
    template: Path, target: Path, *, copies: int, template_pairs: int, slug: str
) -> dict[str, int]:
    """Write into `target` (a new SQLite state) `copies` renamed copies of every record of
    the `template` SQLite state, whose program had `template_pairs` pairs. Meta (the mail
    cursor, the last tick, ...) comes from the template without the config snapshot: the
    first tick on the grown state takes the config as it finds it.

    The rows are written with SQL in bulk (building 10,000 pairs through the Store API one
    record at a time takes minutes); `open_store` then checks the file like any other."""
    width = max(2, len(str(copies * template_pairs - 1)))
    secret = b"bench"  # keyed Message-IDs of the shape the program makes; nothing is re-sent
    open_store(target, "sqlite").close()  # the schema, made by the store itself
    source = sqlite3.connect(template)
    out = sqlite3.connect(target)
    # Each template row becomes format strings ("pair{n07}", "reply-1-9.c{c}@"), filled
    # in per copy: one regex pass per template row, not per copy.
    pairs = [tuple(map(_pattern, row)) for row in source.execute("SELECT key, record FROM pairs")]
    actions = []
    for key, status, attempts, mid, pair, role, at, record in source.execute(
        "SELECT key, status, attempts, message_id, pair, role, at, record FROM actions"
        " ORDER BY rowid"
    ):
        if mid:
            record = record.replace(mid, "\0MID\0")
        actions.append(
            (
                _pattern(key),
                status,
                attempts,
                mid,
                _pattern(pair),
                role,
                at,
                _pattern(record).replace("\0MID\0", "{mid}"),
            )
        )
    inbound = [
        tuple(map(_pattern, row))
        for row in source.execute("SELECT key, record FROM inbound ORDER BY rowid")
    ]
    log = [
        (_pattern(pair), kind, at, _pattern(record))
        for pair, kind, at, record in source.execute(
            "SELECT pair, kind, at, record FROM log ORDER BY id"
        )
    ]
    counts = {"pairs": 0, "actions": 0, "inbound": 0, "log": 0}
    for copy in range(copies):
        names = {
            f"n{n:02d}": f"{copy * template_pairs + n:0{width}d}" for n in range(template_pairs)
        }
        names["c"] = str(copy)
        fill = _Filler(names)
        rows_actions = []
        for key, status, attempts, mid, pair, role, at, record in actions:
            if copy and not pair:
                continue  # the program's own (the digests): once
            new_key = fill(key)
            new_mid = message_id(secret, slug, new_key, DOMAIN) if mid else None
            rows_actions.append(
                (
                    new_key,
                    status,
                    attempts,
                    new_mid,
                    fill(pair),
                    role,
                    at,
                    fill(record, mid=new_mid),
                )
            )
        with out:
            out.executemany(
                "INSERT INTO pairs (key, record) VALUES (?, ?)",
                [(fill(k), fill(r)) for k, r in pairs],
            )
            out.executemany(
                "INSERT INTO actions (key, status, attempts, message_id, pair, role, at, record)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows_actions,
            )
            out.executemany(
                "INSERT INTO inbound (key, record) VALUES (?, ?)",
                [(fill(k), fill(r)) for k, r in inbound],
            )
            out.executemany(
                "INSERT INTO log (pair, kind, at, record) VALUES (?, ?, ?, ?)",
                [(fill(p), kind, at, fill(r)) for p, kind, at, r in log],
            )
        counts["pairs"] += len(pairs)
        counts["actions"] += len(rows_actions)
        counts["inbound"] += len(inbound)
        counts["log"] += len(log)
    with out:
        out.executemany(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
            source.execute("SELECT name, value FROM meta WHERE name != 'program_snapshot'"),
        )
    out.close()
    source.close()
    open_store(target, "sqlite").close()  # fills the store's own index of the latest entries
    return counts
