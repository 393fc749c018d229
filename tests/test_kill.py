"""Crash safety: SIGKILL the agent at random points; never an email twice, never a lost reply.

A program with many pairs runs from onboarding to closure, one `mentormail tick --now T`
subprocess per simulated time T (via tests/killprogram.py). Simulated people answer what
they receive (agreements with goals, a decline, an out-of-office, progress and ratings,
check-ins, answers to nudges), and their replies are delivered into the inbox between
ticks. At each T the tick is SIGKILLed some random number of times and run again, as
systemd would restart it, until one run completes. A kill is either

- timed: SIGKILL from here after uniform(0, d) seconds, d being the measured duration of
  a tick's work (from `READY`, printed once everything is imported, to exit), or
- at a point: the process SIGKILLs itself the N-th time it reaches a point such as the
  middle of the state file's write, before its fsync or rename, or between a send and
  the outbox saying `done` (see tests/killprogram.py).

After every kill the state file must load. At the end (after a clean final tick) every
delivered reply was recorded exactly once and moved out of the inbox exactly once, and
every email the agent planned was delivered exactly once.

Seeded and reproducible (the seed is printed; set MENTORMAIL_KILL_SEED to replay one).
The simulated program is reproduced exactly; where a timed kill lands depends on timing.
"""

from __future__ import annotations

import contextlib
import email.policy
import json
import mailbox
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.state.opening import reading
from connectors.maildir import message_id_of
from tests.killprogram import POINTS
from tests.mailservers import MailServers, program_config
from tests.simulated_people import People, Reply, many_pairs

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("MENTORMAIL_KILL_SEED") or 1)
BERLIN = ZoneInfo("Europe/Berlin")
PARSER = BytesParser(policy=email.policy.default)

# --------------------------------------------------------------------------- the mail side


class Mail:
    """Where replies are delivered and what the agent sent, for one kind of mailbox."""

    def deliver(self, reply: Reply) -> None:
        raise NotImplementedError

    def sent(self) -> list[bytes]:
        """Every message the agent delivered, duplicates included."""
        raise NotImplementedError


class MaildirMail(Mail):
    def __init__(self, root: Path) -> None:
        self.root = root / "mail"
        self.cache: dict[Path, bytes] = {}

    def deliver(self, reply: Reply) -> None:
        mailbox.Maildir(self.root / "inbox").add(reply.data)  # as an MTA would

    def folder(self, name: str, subs: tuple[str, ...] = ("new", "cur")) -> list[bytes]:
        box = self.root / name
        if not box.exists():
            return []
        return [p.read_bytes() for sub in subs for p in sorted((box / sub).iterdir())]

    def sent(self) -> list[bytes]:
        box = self.root / "sent"
        if not box.exists():
            return []
        found = []
        for path in sorted([*(box / "new").iterdir(), *(box / "cur").iterdir()]):
            if path not in self.cache:
                self.cache[path] = path.read_bytes()
            found.append(self.cache[path])
        return found


class ImapMail(Mail):
    def __init__(self, servers: MailServers, login: str, password: str) -> None:
        from tests.mailservers import MailUser

        assert servers.smtp is not None
        self.servers, self.user = servers, MailUser(login, password)
        self.handler = servers.smtp.handler
        self.login = login

    def deliver(self, reply: Reply) -> None:
        self.servers.append(self.user, reply.data, when=reply.when)

    def folder(self, name: str) -> list[bytes]:
        client = self.servers.imap(self.user)
        try:
            delimiter = client.list_folders()[0][1].decode()
            name = name.replace("/", delimiter)
            if not client.folder_exists(name):
                return []
            client.select_folder(name, readonly=True)
            uids = client.search(["NOT", "DELETED"])
            data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        finally:
            client.logout()
        return [bytes(data[uid][b"BODY[]"]) for uid in sorted(data)]

    def sent(self) -> list[bytes]:
        # mail to participants goes out with the signed bounce address (VERP) as MAIL FROM
        local, domain = self.login.split("@")
        return [
            d.data
            for d in list(self.handler.delivered)
            if d.mail_from == self.login
            or (d.mail_from.startswith(f"{local}+bounce.") and d.mail_from.endswith(f"@{domain}"))
        ]


# --------------------------------------------------------------------------- the agent side


@dataclass
class Kill:
    now: str
    how: str  # "timed +0.123s" or "state:fsync#1"
    point: str | None  # where it landed, when known
    stray_temp: bool = False  # a half-written temp state file was left behind


@dataclass
class Run:
    code: int
    seconds: float  # from READY to exit
    killed_at: str | None  # "POINT#N" for a kill at a point, "" for a timed kill
    output: str


class Zygote:
    """tests/killprogram.py's fork server: one process per tick, without the interpreter's
    start-up (about a second), so that many kills fit in a short test."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.killprogram", "serve"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        self.buffer = b""

    def _line(self, timeout: float) -> str | None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the fork server ended ({self.proc.wait()})")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def run(
        self, args: list[str], out: Path, kill_at: str | None, delay: float | None
    ) -> tuple[int, float]:
        """(exit code, seconds of work); SIGKILLed from here after `delay` s if still running."""
        assert self.proc.stdin is not None
        command = {"args": args, "out": str(out), "kill_at": kill_at}
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        line = self._line(60)
        assert line and line.startswith("PID "), line
        pid, started = int(line.split()[1]), time.monotonic()
        line = self._line(delay if delay is not None else 120)
        if line is None and delay is not None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGKILL)  # our own child's child, by its id
            line = self._line(60)
        assert line and line.startswith("EXIT "), line
        return int(line.split()[1]), time.monotonic() - started

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    server = Zygote()
    try:
        yield server
    finally:
        server.close()


@dataclass
class Agent:
    root: Path
    config: Path
    rng: random.Random
    points: tuple[str, ...]
    zygote: Zygote
    duration: float = 0.0  # calibrated tick duration (seconds of work)
    kills: list[Kill] = field(default_factory=list)
    runs: int = 0
    unloadable: list[str] = field(default_factory=list)
    after_kill: Callable[[], None] | None = None  # called after each kill, before the rerun
    completed: list[float] = field(default_factory=list)  # durations of completed runs
    reached: Counter[str] = field(default_factory=Counter)  # the kill points a tick reaches
    state_name: str = "state.json"

    @property
    def state(self) -> Path:
        return self.root / self.state_name

    def run(self, now: str, kill_at: str | None = None, delay: float | None = None) -> Run:
        args = ["tick", "--config", str(self.config), "--now", now]
        self.runs += 1
        out = self.root / "tick.out"
        code, seconds = self.zygote.run(args, out, kill_at, delay)
        output = out.read_text(encoding="utf-8", errors="replace")
        killed_at = None
        if code == -signal.SIGKILL:
            marks = [line for line in output.splitlines() if line.startswith("KILLED AT ")]
            killed_at = marks[-1].removeprefix("KILLED AT ") if marks else ""
        else:
            reached = [line for line in output.splitlines() if line.startswith("REACHED ")]
            if reached:
                self.reached = Counter(json.loads(reached[-1].removeprefix("REACHED ")))
        return Run(code, seconds, killed_at, output)

    def uncovered(self) -> str | None:
        """A kill at the first occurrence of a point no kill has landed on yet, or None.

        Points the last completed tick reached come first: the rerun after a kill does
        the rest of the same work, so it reaches them again. Which points a tick reaches
        depends on the simulated program only (not on timing), so every point the
        program can reach is covered whatever the machine's speed or load."""
        landed = {(k.point or "").split("#")[0] for k in self.kills}
        missing = [p for p in self.points if p not in landed]
        likely = [p for p in missing if self.reached[p]]
        if likely:
            return f"{likely[0]}:1"
        return None

    def choose(self) -> tuple[str | None, float | None]:
        """A seeded kill: timed (40 %), or the N-th time at a point the last tick reached."""
        if self.rng.random() < 0.4:
            return None, self.rng.uniform(0, self.duration)
        point = self.rng.choice([p for p in self.points if self.reached[p]] or self.points)
        return f"{point}:{self.rng.randint(1, max(self.reached[point], 1))}", None

    def tick(self, now: str, kills_wanted: int) -> None:
        """Run the tick at `now`, SIGKILLed up to `kills_wanted` times, until one completes."""
        attempts = 0
        killed = 0
        while True:
            kill_at, delay = None, None
            targeted = self.uncovered()  # coverage first, outside the seeded budget
            if targeted is not None:
                kill_at = targeted
            elif killed < kills_wanted and attempts < 3 * kills_wanted + 3:
                kill_at, delay = self.choose()
            attempts += 1
            temps_before = self._temps()
            run = self.run(now, kill_at, delay)
            if run.killed_at is None:
                assert run.code == 0, f"tick at {now} failed ({run.code}):\n{run.output}"
                self.completed.append(run.seconds)
                self.duration = max(self.completed[-5:])  # calibrated on the recent ticks
                return
            if targeted is None:
                killed += 1
            how = kill_at or f"timed +{delay:.3f}s"
            stray = bool(self._temps() - temps_before)
            self.kills.append(Kill(now, how, run.killed_at or None, stray))
            self._check_loads(f"after kill {len(self.kills)} ({how}) at {now}")
            if self.after_kill:
                self.after_kill()

    def _temps(self) -> set[str]:
        return {p.name for p in self.root.glob(f".{self.state_name}.*")}

    def _check_loads(self, when: str) -> None:
        path = self.state
        if not path.exists():
            return
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            with reading(path) as store:
                list(store.actions())
        except Exception as exc:
            self.unloadable.append(f"{when}: {exc!r}")


def calibrate(zygote: Zygote, directory: Path, config: Path, now: datetime) -> float:
    """How long the first (busiest) tick works, measured on a copy of the program."""
    directory.mkdir()
    copy = directory / config.name
    copy.write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
    agent = Agent(directory, copy, random.Random(0), (), zygote)
    run = agent.run(now.isoformat(timespec="minutes"))
    assert run.code == 0, run.output
    return run.seconds


def actions_by_message(agent: Agent) -> dict[str, dict[str, Any]]:
    with reading(agent.state) as store:
        return {a["message_id"]: a for a in store.actions() if a.get("message_id")}


def ids(messages: list[bytes]) -> Counter[str]:
    return Counter(message_id_of(m) for m in messages)


@dataclass
class Simulation:
    agent: Agent
    mail: Mail
    people: People
    delivered: list[Reply] = field(default_factory=list)

    def run(self, times: list[datetime], min_kills: int) -> None:
        for i, now in enumerate(times):
            if i == len(times) // 3:
                self.people.stranger(now)
            for reply in self.people.due(now):
                self.mail.deliver(reply)
                self.delivered.append(reply)
            remaining = max(min_kills + 20 - len(self.agent.kills), 0)
            share = remaining / (len(times) - i)
            wanted = int(self.agent.rng.uniform(0.5, 1.6) * share + self.agent.rng.random())
            stamp = now.isoformat(timespec="minutes")
            self.agent.tick(stamp, wanted)
            self.people.read(self.mail.sent(), actions_by_message(self.agent), now)
        while len(self.agent.kills) < min_kills:  # rarely needed: more kills at the end
            self.agent.tick(stamp, min_kills - len(self.agent.kills))
        # the last replies, then a clean tick that runs to completion
        final = max([times[-1], *(r.when for r in self.people.queue)]) + timedelta(hours=1)
        for reply in self.people.due(final):
            self.mail.deliver(reply)
            self.delivered.append(reply)
        run = self.agent.run(final.isoformat(timespec="minutes"))
        assert run.code == 0, run.output


def schedule() -> list[datetime]:
    """At 08:00 and 23:00 from the welcomes (4 days before the start) to after the end."""
    start = datetime(2027, 2, 25, 8, 0, tzinfo=BERLIN)
    return [start + timedelta(hours=12 * k + (3 if k % 2 else 0)) for k in range(2 * 24)]


def report(agent: Agent, seed: int, seconds: float, extra: str = "") -> str:
    points = Counter((k.point or "timed").split("#")[0] for k in agent.kills)
    stray = sum(k.stray_temp for k in agent.kills)
    lines = [
        f"seed {seed}: {len(agent.kills)} kills in {agent.runs} runs, {seconds:.1f} s",
        "  kill points: " + ", ".join(f"{p} {n}" for p, n in sorted(points.items())),
        f"  stray temp state files left by kills: {stray}",
    ]
    return "\n".join(lines + ([extra] if extra else []))


def check_inbound(
    agent: Agent, delivered: list[Reply], handled: Counter[str], inbox: list[bytes]
) -> list[str]:
    """Every delivered reply recorded once, logged once, moved out of the inbox once."""
    problems = []
    wanted = Counter(r.message_id for r in delivered)
    assert all(n == 1 for n in wanted.values())
    with reading(agent.state) as store:
        records = list(store.inbound_records())
        recorded = Counter(r["message_id"] for r in records)
        log = store.log()
        notices = {a["key"]: a["status"] for a in store.actions() if a.get("key")}
        # The agent's own emails that come back: a coordinator notice has the program's
        # address in Cc (so that Reply all reaches the agent), and the IMAP server delivers
        # that copy into the inbox. Each is read once, as an auto-reply, like any message.
        own = {a["message_id"] for a in store.actions() if a.get("message_id")}
    copies = Counter({m: n for m, n in recorded.items() if m in own})
    recorded = Counter({m: n for m, n in recorded.items() if m not in own})
    copies_handled = Counter({m: n for m, n in handled.items() if m in own})
    handled = Counter({m: n for m, n in handled.items() if m not in own})
    if any(n > 1 for n in copies.values()) or any(n > 1 for n in copies_handled.values()):
        problems.append(f"own copies read twice: {sorted(copies)}, {sorted(copies_handled)}")
    # A reply whose processing was cut by a kill twice looks like a poison message to
    # the agent (agent/state/attempts.py): it is quarantined as it arrived and the coordinator
    # gets it instead of the progress log. Rare (two kills inside one message's
    # milliseconds), allowed, and then it must have reached the coordinator.
    poisoned = {
        r["message_id"]
        for r in records
        if r["outcome"] == "quarantined"
        and str(r.get("reason", "")).startswith("could not be processed in")
    }
    for mid in sorted(poisoned & set(wanted)):
        if notices.get(f"notice/{mid}") != "done":
            problems.append(f"set aside as a poison message, coordinator not told: {mid}")
    if recorded != wanted:
        problems.append(
            f"inbound records differ: missing {sorted(set(wanted) - set(recorded))}, "
            f"extra {sorted(set(recorded) - set(wanted))}, "
            f"twice {sorted(m for m, n in recorded.items() if n > 1)}"
        )
    entries = Counter((e.get("message_id"), e.get("kind"), e.get("by"), e.get("text")) for e in log)
    twice = [e for e, n in entries.items() if n > 1 and e[0] in wanted]
    if twice:
        problems.append(f"progress log entries written twice: {twice}")
    logged = {e.get("message_id") for e in log}
    lost = [
        r.message_id
        for r in delivered
        if r.logged and r.message_id not in logged and r.message_id not in poisoned
    ]
    if lost:
        problems.append(f"replies with nothing in the progress log: {lost}")
    if inbox:
        problems.append(f"left in the inbox: {sorted(ids(inbox))}")
    if handled != wanted:
        problems.append(
            f"processed+quarantine differ from what was delivered: "
            f"missing {sorted(set(wanted) - set(handled))}, "
            f"extra {sorted(set(handled) - set(wanted))}, "
            f"twice {sorted(m for m, n in handled.items() if n > 1)}"
        )
    return problems


def check_outbound(agent: Agent, sent: Counter[str], excused: Counter[str]) -> list[str]:
    """Every planned email delivered once (`excused`: extra copies allowed per Message-ID)."""
    problems = []
    twice = {m: n for m, n in sent.items() if n > 1 + excused[m]}
    if twice:
        problems.append(f"sent more than once: {twice}")
    with reading(agent.state) as store:
        actions = [a for a in store.actions() if a.get("message_id")]
    done = {a["message_id"] for a in actions if a["status"] == "done"}
    if missing := sorted(done - set(sent)):
        problems.append(f"recorded done, not in sent: {missing}")
    if unknown := sorted(set(sent) - {a["message_id"] for a in actions}):
        problems.append(f"sent, but no action in the outbox: {unknown}")
    for a in actions:
        if a["status"] != "done":
            planned = datetime.fromisoformat(a["planned_at"])
            kills = [k.how for k in agent.kills if datetime.fromisoformat(k.now) == planned]
            what = "delivered, never recorded" if sent[a["message_id"]] else "never delivered"
            problems.append(
                f"{what}: {a['key']} is {a['status']} after the final tick; "
                f"planned at {a['planned_at']}, where the tick was killed by: {kills}"
            )
    return problems


# --------------------------------------------------------------------------- the tests


JSON_ONLY = {"state:dump", "state:fsync", "state:rename", "state:renamed"}
SQLITE_ONLY = {"state:commit"}
# no SMTP with Maildir
MAILDIR_POINTS = tuple(p for p in POINTS if p != "smtp:after" and p not in SQLITE_ONLY)


def run_maildir(
    zygote: Zygote,
    tmp_path: Path,
    seed: int,
    points: tuple[str, ...],
    state: str,
    kills: int,
) -> None:
    print(f"\ncrash-safety seed ({state}): {seed} (replay: MENTORMAIL_KILL_SEED={SEED})")
    started = time.monotonic()
    config = tmp_path / "program.yaml"
    config.write_text(many_pairs(16, storage=state), encoding="utf-8")
    agent = Agent(tmp_path, config, random.Random(seed), points, zygote, state_name=state)
    agent.duration = calibrate(zygote, tmp_path / "calibration", config, schedule()[0])
    mail = MaildirMail(tmp_path)
    sim = Simulation(agent, mail, People(seed))
    sim.run(schedule(), min_kills=kills)
    summary = report(agent, seed, time.monotonic() - started)
    print(summary)

    problems = [f"state file did not load {u}" for u in agent.unloadable]
    problems += [f"temp file of a cut write left after the last tick: {t}" for t in agent._temps()]
    handled = ids(mail.folder("processed")) + ids(mail.folder("quarantine"))
    problems += check_inbound(agent, sim.delivered, handled, mail.folder("inbox"))
    problems += check_outbound(agent, ids(mail.sent()), Counter())
    assert not problems, summary + "\n" + "\n".join(problems)
    assert len(agent.kills) >= kills, summary
    landed = {(k.point or "").split("#")[0] for k in agent.kills}
    assert set(points) - {"calendar:after"} <= landed, summary  # bookings are rare
    assert len(sim.delivered) >= 40 and len(mail.sent()) >= 100, summary


def test_sigkill_at_random_points_maildir(zygote: Zygote, tmp_path: Path) -> None:
    run_maildir(zygote, tmp_path, SEED, MAILDIR_POINTS, "state.json", kills=50)


def test_sigkill_at_random_points_maildir_sqlite_state(zygote: Zygote, tmp_path: Path) -> None:
    points = tuple(p for p in POINTS if p != "smtp:after" and p not in JSON_ONLY)
    run_maildir(zygote, tmp_path, SEED + 2, points, "state.db", kills=30)


# no Maildir with IMAP
IMAP_POINTS = tuple(p for p in POINTS if p != "maildir:link" and p not in SQLITE_ONLY)


def test_sigkill_at_random_points_imap_smtp(
    zygote: Zygote, mail_servers: MailServers, tmp_path: Path
) -> None:
    seed = SEED + 1
    print(f"\ncrash-safety seed (IMAP/SMTP): {seed}")
    started = time.monotonic()
    program = mail_servers.new_user("program")
    config = program_config(mail_servers, program, tmp_path, text=many_pairs(8))
    agent = Agent(tmp_path, config, random.Random(seed), IMAP_POINTS, zygote)
    mail = ImapMail(mail_servers, program.login, program.password)
    # Known, documented gap: a kill after the SMTP transaction and before the APPEND to
    # Sent sends that email again. Such a message is noted after each kill: its action is
    # `pending` and it was accepted by SMTP but is absent from Sent.
    in_gap: Counter[str] = Counter()

    def note_gap() -> None:
        smtp = set(ids(mail.sent()))
        stored = set(ids(mail.folder("Sent")))
        with reading(agent.state) as store:
            for a in store.actions():
                mid = a.get("message_id")
                if a["status"] == "pending" and mid in smtp and mid not in stored:
                    in_gap[mid] += 1

    agent.after_kill = note_gap
    agent.duration = 1.0  # a first guess; each completed tick calibrates it
    sim = Simulation(agent, mail, People(seed))
    times = schedule()[::2]
    sim.run(times, min_kills=50)

    sent = ids(mail.sent())
    twice = {m: n - 1 for m, n in sent.items() if n > 1}
    summary = report(
        agent,
        seed,
        time.monotonic() - started,
        f"  emails sent twice through the documented SMTP/APPEND gap: {len(twice)} "
        f"of {len(sent)} ({sorted(twice)})",
    )
    print(summary)
    problems = [f"state file did not load {u}" for u in agent.unloadable]
    problems += [f"temp file of a cut write left after the last tick: {t}" for t in agent._temps()]
    handled = ids(mail.folder("mentormail/processed")) + ids(mail.folder("mentormail/quarantine"))
    problems += check_inbound(agent, sim.delivered, handled, mail.folder("INBOX"))
    problems += check_outbound(agent, sent, in_gap)
    assert not problems, summary + "\n" + "\n".join(problems)
    assert len(agent.kills) >= 50, summary
    landed = {(k.point or "").split("#")[0] for k in agent.kills}
    assert set(IMAP_POINTS) - {"calendar:after"} <= landed, summary
    assert len(sim.delivered) >= 15 and len(sent) >= 40, summary


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-s", "-q"]))
