"""A simulated program for the scale benchmarks: run it, or grow its history to any size.

`simulate` runs the agent in-process (as `mentormail run` does) on the embedded default
(Maildir + .ics) with the people of tests/simulated_people.py answering what they get.
`grow` turns the state of a small simulated program into one of N pairs by copying each
pair's records under new ids (pair07 becomes pair0107, pair0207, ...), so a large state
has the shape of a real one without simulating every pair.
"""

from __future__ import annotations

import json
import mailbox
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.config import load_config
from agent.outbound import message_id
from agent.runtime import Runtime
from agent.store import Store, open_store
from agent.tick import run_tick
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


_ID = re.compile(r"\b(pair|mentor|mentee)(\d+)\b")


def grow(
    template: Path, target: Path, *, copies: int, template_pairs: int, slug: str
) -> dict[str, int]:
    """Write into `target` (a new store) `copies` renamed copies of every record of the
    `template` state, whose program had `template_pairs` pairs. Meta (the mail cursor,
    the config snapshot, the last tick) is taken from the template, with the snapshot
    left out: the first tick on the grown state takes the config as it finds it."""
    width = max(2, len(str(copies * template_pairs - 1)))
    counts = {"pairs": 0, "actions": 0, "inbound": 0, "log": 0}
    with Store.reading(template) as source:
        out = open_store(target)
        for copy in range(copies):

            def rename(text: str, copy: int = copy) -> str:
                return _ID.sub(
                    lambda m: f"{m[1]}{copy * template_pairs + int(m[2]):0{width}d}", text
                )

            def renamed(record: dict[str, Any], copy: int = copy) -> dict[str, Any]:
                return json.loads(rename(json.dumps(record)))

            for record in source._scan("pairs"):
                new = renamed(record)
                out._put("pairs", new["pair_id"], new)
                counts["pairs"] += 1
            for record in source._scan("actions"):
                new = renamed(record)
                if new.get("message_id"):
                    new["message_id"] = message_id(slug, new["key"], DOMAIN)
                out._put("actions", new["key"], new)
                counts["actions"] += 1
            for record in source._scan("inbound"):
                new = renamed(record)
                new["message_id"] = _copied_id(new["message_id"], copy)
                out._put("inbound", new["message_id"], new)
                counts["inbound"] += 1
            for entry in source.log():
                new = renamed(entry)
                if new.get("message_id"):
                    new["message_id"] = _copied_id(new["message_id"], copy)
                out._append_log(new)
                counts["log"] += 1
            out.flush()
        for name, value in source.meta_items():
            if name not in ("program_snapshot", "schema"):
                out.set_meta(name, value)
        out.close()
    return counts


def _copied_id(message_id: str, copy: int) -> str:
    local, _, domain = message_id.partition("@")
    return f"{local}.c{copy}@{domain}"
