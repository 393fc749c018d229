"""The state store's contract, run against every back end (TinyDB JSON, SQLite, PostgreSQL).

Whatever a back end does inside, the agent relies on: nothing durable before `flush`,
everything after it; one record per key; the outbox, inbound and log queries; rewrites
for `forget`; a dry run that leaves no trace; a corrupt or newer file refused untouched;
one writer at a time; private files; daily backups; schema migrations; a state that
loads after a SIGKILL at any moment; an existing file that holds no state refused, not
started afresh; and a write the disk cannot take (a real full tmpfs) dropped whole, in
memory too, with the file as it was.

PostgreSQL runs on a private server on 127.0.0.1 (tests/pgserver.py), a fresh database per
test; the tests of files (names, modes, backups, a full disk) do not apply to it and say so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import agent.state.store
from agent.pairs.program import PairState, Stage
from agent.state import opening
from agent.state.opening import detect_kind
from agent.state.store import SCHEMA_VERSION, Store, StoreError, StoreKind, copy_store
from tests.pgserver import PgServer, Unavailable

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"tinydb": "state.json", "sqlite": "state.db", "postgresql": "state.pg"}
DSNS: dict[Path, str] = {}  # the database of each test's PostgreSQL "path"


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    try:
        server = PgServer().start()
    except Unavailable as exc:
        pytest.skip(f"PostgreSQL store not tested: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["tinydb", "sqlite", "postgresql"])
def path(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / NAMES[request.param]
    if request.param == "postgresql":
        DSNS[path] = request.getfixturevalue("pg").new_database()
    yield path
    DSNS.pop(path, None)


def open_store(path: Path, kind: StoreKind | None = None, **options: Any) -> Store:
    """The store at `path`: a file, or the test's PostgreSQL database (a .pg path)."""
    if path in DSNS:
        return opening.open_store(path, "postgresql", dsn=DSNS[path], **options)
    return opening.open_store(path, kind, **options)


def reading(path: Path) -> Any:
    if path in DSNS:
        return opening.reading(path, "postgresql", DSNS[path])
    return opening.reading(path)


def files_only(path: Path, why: str) -> None:
    if path in DSNS:
        pytest.skip(f"not for PostgreSQL: {why}")


def snapshot(path: Path) -> object:
    """What is stored, byte for byte for a file, record for record for a database."""
    if path not in DSNS:
        return path.read_bytes()
    import psycopg

    with psycopg.connect(DSNS[path]) as conn:
        return [
            conn.execute(f"SELECT * FROM mentormail.{table} ORDER BY 1").fetchall()
            for table in ("meta", "pairs", "actions", "inbound", "log", "log_latest")
        ]


def test_each_name_gets_its_back_end(path: Path) -> None:
    files_only(path, "the database is named by storage.type and the DSN, not a file name")
    open_store(path).close()
    assert detect_kind(path) == ("sqlite" if path.suffix == ".db" else "tinydb")
    with reading(path) as store:
        assert store.kind == detect_kind(path)


def test_nothing_is_durable_before_flush_then_everything_is(path: Path) -> None:
    store = open_store(path)
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.AGREED))
    store.record_action("p1/welcome/mentor", status="pending")
    store.append_log(pair="p1", kind="goals", text="Lead a project", at="2027-03-02T10:00:00")
    with reading(path) as other:
        assert other.pair_ids() == [] and other.action("p1/welcome/mentor") is None
    store.flush()
    with reading(path) as other:
        assert other.pair_state("p1").stage == Stage.AGREED
        assert other.action("p1/welcome/mentor") == {
            "key": "p1/welcome/mentor",
            "status": "pending",
        }
        assert [e["text"] for e in other.log("p1")] == ["Lead a project"]
        assert other.meta("schema") == SCHEMA_VERSION
    store.close()


def test_close_without_flush_leaves_no_trace(path: Path) -> None:
    store = open_store(path)
    store.set_meta("n", 1)
    store.close()
    before = snapshot(path)
    store = open_store(path)
    store.set_meta("n", 2)
    store.save_pair_state(PairState(pair_id="p1"))
    store.append_log(pair="p1", kind="note", at="2027-03-01")
    store.close(flush=False)  # a dry run
    assert snapshot(path) == before
    with reading(path) as again:
        assert again.meta("n") == 1 and again.pair_ids() == [] and again.log() == []


def test_a_reader_never_writes(path: Path) -> None:
    open_store(path).close()
    with reading(path) as reader:
        reader.set_meta("n", 5)  # a dry run may change things in memory
        with pytest.raises(StoreError, match="opened for reading"):
            reader.flush()
    with reading(path) as again:
        assert again.meta("n") is None


def test_reading_a_state_that_does_not_exist_creates_nothing(path: Path) -> None:
    with reading(path) as store:
        assert store.pair_ids() == [] and list(store.actions()) == [] and store.log() == []
        assert store.sent("x@y") is None
    assert list(path.parent.iterdir()) == []


def test_one_record_per_key_and_records_in_the_order_first_written(path: Path) -> None:
    store = open_store(path)
    for key in ("b", "a", "c"):
        store.record_action(key, status="pending", kind="welcome")
    store.record_action("a", status="done")
    assert store.action("a") == {"key": "a", "status": "done", "kind": "welcome"}
    assert [a["key"] for a in store.actions()] == ["b", "a", "c"]
    store.record_inbound("m1@x", outcome="processed")
    store.record_inbound("m1@x", outcome="quarantined")
    assert [r["outcome"] for r in store.inbound_records()] == ["quarantined"]
    store.save_pair_state(PairState(pair_id="p2"))
    store.save_pair_state(PairState(pair_id="p1"))
    store.save_pair_state(PairState(pair_id="p2", stage=Stage.ACTIVE))
    store.flush()
    store.close()
    with reading(path) as again:
        assert again.pair_ids() == ["p2", "p1"]
        assert again.pair_state("p2").stage == Stage.ACTIVE
        assert again.pair_state("nobody") == PairState(pair_id="nobody")
        assert again.has_pair_state("p1") and not again.has_pair_state("nobody")


def test_progress_of_many_keys_in_one_call(path: Path) -> None:
    store = open_store(path)
    for n in range(1200):  # more than one SQL batch
        store.record_action(f"k{n}", status="done" if n % 3 else "failed", attempts=n % 7)
    store.flush()
    asked = [f"k{n}" for n in range(0, 2400, 2)]
    found = store.progress(asked)
    assert set(found) == {f"k{n}" for n in range(0, 1200, 2)}
    assert found["k4"] == ("done", 4) and found["k6"] == ("failed", 6)
    assert store.progress([]) == {}
    store.close()


def test_sent_email_by_message_id_and_the_latest_to_a_person(path: Path) -> None:
    store = open_store(path)
    store.record_action(
        "p1/welcome/mentor",
        status="done",
        kind="welcome",
        pair="p1",
        role="mentor",
        message_id="w@x",
        planned_at="2027-03-01T08:00:00",
        done_at="2027-03-01T08:00:05",
    )
    store.record_action(
        "p1/agreement/mentor",
        status="pending",
        kind="agreement",
        pair="p1",
        role="mentor",
        message_id="a@x",
        planned_at="2027-03-02T08:00:00",
    )
    store.record_action(
        "p1/book",
        status="done",
        kind="book",
        pair="p1",
        role=None,
        planned_at="2027-03-09T08:00:00",
    )
    store.record_action(
        "p1/welcome/mentee",
        status="done",
        kind="welcome",
        pair="p1",
        role="mentee",
        message_id="m@x",
        planned_at="2027-03-05T08:00:00",
    )
    assert store.sent("a@x")["kind"] == "agreement"
    assert store.sent("nope@x") is None
    assert store.latest_sent("p1", "mentor")["kind"] == "agreement"
    assert store.latest_sent("p1", "mentee")["kind"] == "welcome"
    assert store.latest_sent("p2", "mentor") is None
    store.close()


def test_the_log_per_pair_and_the_view_the_rules_read(path: Path) -> None:
    store = open_store(path)
    store.append_log(pair="p1", kind="progress", at="2027-03-02T10:00:00", text="one")
    store.append_log(pair="p2", kind="rating", at="2027-03-02T11:00:00", value=4)
    store.append_log(pair="p1", kind="progress", at="2027-03-09T10:00:00", text="two")
    store.append_log(pair="p1", kind="meeting_reply", at="2027-03-03T10:00:00", text="REPLY a")
    store.append_log(pair="p1", kind="note", at="2027-03-04T10:00:00", text="ignored")
    view = store.log_view(latest={"progress", "rating"}, every={"meeting_reply"})
    assert sorted(e["text"] for e in view["p1"]) == ["REPLY a", "two"]
    assert [e["value"] for e in view["p2"]] == [4]
    # kept up to date by later entries, older ones do not replace newer
    store.append_log(pair="p1", kind="progress", at="2027-03-05T10:00:00", text="late copy")
    store.append_log(pair="p1", kind="meeting_reply", at="2027-03-10T10:00:00", text="REPLY b")
    store.append_log(pair="p3", kind="rating", at="2027-03-10T10:00:00", value=2)
    view = store.log_view(latest={"progress", "rating"}, every={"meeting_reply"})
    assert sorted(e["text"] for e in view["p1"]) == ["REPLY a", "REPLY b", "two"]
    assert [e["value"] for e in view["p3"]] == [2]
    assert [e["text"] for e in store.log("p1")] == [
        "one",
        "two",
        "REPLY a",
        "ignored",
        "late copy",
        "REPLY b",
    ]
    assert len(store.log()) == 8
    store.flush()
    store.close()
    with reading(path) as again:  # computed afresh from the file: the same
        fresh = again.log_view(latest={"progress", "rating"}, every={"meeting_reply"})
        assert {k: sorted(map(str, v)) for k, v in fresh.items()} == {
            k: sorted(map(str, v)) for k, v in view.items()
        }


def test_rewrite_replaces_deletes_or_leaves_records(path: Path) -> None:
    store = open_store(path)
    for n in range(4):
        store.record_inbound(f"m{n}@x", text=f"reply {n}", at=f"2027-03-0{n + 1}")
        store.append_log(pair="p1", kind="progress", text=f"log {n}", at=f"2027-03-0{n + 1}")
    store.save_pair_state(PairState(pair_id="p1", goals=["secret goal"]))
    store.set_meta("keep", 1)
    store.set_meta("drop", 2)
    view = store.log_view(latest={"progress"}, every=set())

    def inbound(record: dict) -> dict | None:
        if record["message_id"] == "m0@x":
            return None
        if record["message_id"] == "m1@x":
            return {"message_id": "m1@x", "text": "[removed]"}
        return record

    assert store.rewrite("inbound", inbound) == 2
    assert [r.get("text") for r in store.inbound_records()] == ["[removed]", "reply 2", "reply 3"]
    assert store.inbound("m0@x") is None
    assert store.rewrite("log", lambda e: None if e["text"] == "log 3" else e) == 1
    assert view["p1"][0]["text"] == "log 3"  # the view handed out before is not changed...
    fresh = store.log_view(latest={"progress"}, every=set())  # ...but a new one is
    assert [e["text"] for e in fresh["p1"]] == ["log 2"]

    def pairs(record: dict) -> dict:
        record["state"]["goals"] = []
        return record

    assert store.rewrite("pairs", pairs) == 1
    assert store.pair_state("p1").goals == []

    def meta(record: dict) -> dict:
        del record["drop"]
        record["added"] = [1, 2]
        return record

    assert store.rewrite("meta", meta) == 1
    assert store.meta("drop") is None and store.meta("added") == [1, 2] and store.meta("keep") == 1
    assert store.rewrite("meta", lambda r: r) == 0
    store.flush()
    store.close()
    with reading(path) as again:
        assert again.inbound("m1@x") == {"message_id": "m1@x", "text": "[removed]"}
        assert [e["text"] for e in again.log()] == ["log 0", "log 1", "log 2"]
        assert again.meta("drop") is None and again.pair_state("p1").goals == []


def test_a_deleted_record_is_gone_from_the_files_after_close(path: Path) -> None:
    files_only(path, "dead rows are the database's to vacuum")
    store = open_store(path)
    store.record_inbound("m@x", text="dina.private@example.co.uk wrote this")
    for n in range(200):  # something to share the page with
        store.record_inbound(f"other{n}@x", text="x" * 100)
    store.flush()
    store.rewrite("inbound", lambda r: None if r["message_id"] == "m@x" else r)
    store.close()
    for file in path.parent.iterdir():
        assert b"dina.private" not in file.read_bytes(), file.name


def test_a_corrupt_file_is_refused_and_left_untouched(path: Path) -> None:
    files_only(path, "see test_a_database_that_is_not_a_state_is_refused_untouched")
    damaged = (
        b'{"pairs": {"1": ' if path.suffix == ".json" else b"SQLite format 3\x00" + b"\x07" * 200
    )
    path.write_bytes(damaged)
    with pytest.raises(StoreError, match="corrupt") as refused:
        open_store(path)
    assert "backup" in str(refused.value)
    assert path.read_bytes() == damaged
    open_store(path.with_name("fresh" + path.suffix)).close()  # the lock was released


def test_a_newer_schema_is_refused(path: Path) -> None:
    store = open_store(path)
    store.set_meta("schema", SCHEMA_VERSION + 1)
    store.close()
    with pytest.raises(StoreError, match="newer mentormail"):
        open_store(path)
    with pytest.raises(StoreError, match="newer mentormail"), reading(path):
        pass


def test_an_older_schema_is_migrated_after_a_copy_is_kept(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(path)
    store.record_action("a", status="done", when="2027-03-01")
    store.close()
    old = snapshot(path)

    def rename_when(s: Store) -> None:
        s.rewrite(
            "actions",
            lambda r: {**{k: v for k, v in r.items() if k != "when"}, "done_at": r["when"]},
        )

    monkeypatch.setattr(agent.state.store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(agent.state.store, "MIGRATIONS", {SCHEMA_VERSION: rename_when})
    with pytest.raises(StoreError, match="needs migrating"), reading(path):
        pass  # a reader does not migrate
    store = open_store(path)
    assert store.action("a") == {"key": "a", "status": "done", "done_at": "2027-03-01"}
    assert store.meta("schema") == SCHEMA_VERSION + 1
    store.close()
    monkeypatch.undo()
    if path in DSNS:  # one transaction, and backups are the database's: no copy kept
        assert not list(path.parent.iterdir())
        return
    kept = path.with_name(f"{path.name}.before-schema-{SCHEMA_VERSION + 1}")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    with reading(kept) as before:
        assert before.action("a")["when"] == "2027-03-01"
    if path.suffix == ".json":
        assert snapshot(kept) == old


def test_a_failing_migration_leaves_the_file_as_it_was(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(path)
    store.record_action("a", status="done")
    store.close()

    def broken(s: Store) -> None:
        s.record_action("a", status="half-migrated")
        raise ValueError("bug in migration")

    monkeypatch.setattr(agent.state.store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(agent.state.store, "MIGRATIONS", {SCHEMA_VERSION: broken})
    with pytest.raises(StoreError, match=r"bug in migration.*unchanged"):
        open_store(path)
    monkeypatch.undo()
    with reading(path) as again:
        assert again.action("a")["status"] == "done" and again.meta("schema") == SCHEMA_VERSION


def test_a_second_writer_is_locked_out(path: Path) -> None:
    first = open_store(path)
    with pytest.raises(StoreError, match=f"pid {os.getpid()}"):
        open_store(path)
    with reading(path) as reader:  # readers are welcome
        assert reader.meta("schema") == SCHEMA_VERSION
    first.close()
    open_store(path).close()  # free again once the first one closed


def test_state_files_are_private(path: Path) -> None:
    files_only(path, "the database's files are the server's")
    store = open_store(path, backups=1)
    store.set_meta("n", 1)
    store.flush()
    store.set_meta("n", 2)
    store.flush()  # (the second write of the day: the backup exists now)
    for file in path.parent.iterdir():
        if not file.name.endswith(".lock"):
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    store.close()


def test_one_backup_a_day_of_the_state_before_that_day_and_only_the_newest_kept(
    path: Path,
) -> None:
    files_only(path, "backups are the database's (pg_dump)")
    days = [1, 1, 2, 2, 3, 4]  # the day of March of each tick
    for n, day in enumerate(days):
        store = open_store(path, backups=2, today=lambda day=day: date(2027, 3, day))
        store.set_meta("tick", n)
        store.close()
    backups = sorted(p.name for p in path.parent.glob(f"{path.name}.backup-*"))
    assert backups == [f"{path.name}.backup-2027-03-03", f"{path.name}.backup-2027-03-04"]
    # each holds the state as its day found it: the last tick of the day before
    with reading(path.with_name(f"{path.name}.backup-2027-03-03")) as kept:
        assert kept.meta("tick") == days.index(3) - 1
    assert not list(path.parent.glob(".*"))


def test_no_backups_when_switched_off(path: Path) -> None:
    for n in range(2):
        store = open_store(path, backups=0)
        store.set_meta("tick", n)
        store.close()
    assert not list(path.parent.glob(f"{path.name}.backup-*"))


def test_a_config_naming_the_other_back_end_is_refused(path: Path) -> None:
    files_only(path, "a database is never mistaken for a file")
    open_store(path).close()
    other = "tinydb" if path.suffix == ".db" else "sqlite"
    with pytest.raises(StoreError, match="store copy"):
        open_store(path, other)


def test_copy_into_the_other_back_end_keeps_every_record(path: Path) -> None:
    store = open_store(path)
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.ACTIVE, goals=["ünï"]))
    store.record_action("k1", status="done", message_id="m@x", pair="p1", role="mentor")
    store.record_inbound("r@x", outcome="processed", text="thanks")
    store.append_log(pair="p1", kind="progress", at="2027-03-01", text="half way")
    store.set_meta("mail_cursor", {"uidvalidity": 7, "seen": [1, 2]})
    store.close()
    target_path = path.with_name("copy.db" if path.suffix == ".json" else "copy.json")
    with reading(path) as source:
        target = open_store(target_path)
        counts = copy_store(source, target)
        target.close()
        assert counts == {"pairs": 1, "actions": 1, "inbound": 1, "log": 1, "meta": 2}
        with reading(target_path) as copied:
            assert copied.kind != source.kind
            for table in ("actions", "inbound_records"):
                assert list(getattr(copied, table)()) == list(getattr(source, table)())
            assert copied.log() == source.log()
            assert copied.pair_state("p1") == source.pair_state("p1")
            assert copied.meta_items() == source.meta_items()


WRITER = """
import sys
from pathlib import Path
from agent.pairs.program import PairState
from agent.state.opening import open_store
dsn = sys.argv[2] if len(sys.argv) > 2 else None
store = open_store(Path(sys.argv[1]), "postgresql" if dsn else None, dsn=dsn)
n = 0
print("ready", flush=True)
while True:
    n += 1
    for i in range(300):
        store.save_pair_state(PairState(pair_id=f"p{i}", goals=[f"round {n}"]))
    store.set_meta("round", n)
    store.flush()
"""


def test_a_sigkill_at_any_moment_leaves_a_state_from_one_flush(path: Path) -> None:
    """The writer rewrites 300 records and a counter per flush; SIGKILLed at random, the
    file must load, with every record from the same flush as the counter."""
    for delay in (0.05, 0.2, 0.35, 0.5):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), *([DSNS[path]] if path in DSNS else [])],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout and child.stdout.readline() == "ready\n"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        with reading(path) as after:
            rounds = after.meta("round")
            goals = {after.pair_state(p).goals[0] for p in after.pair_ids()}
            assert rounds is None or goals == {f"round {rounds}"}


def test_records_round_trip_as_json(path: Path) -> None:
    store = open_store(path)
    store.record_action("k", status="done", at={"when": "2027-03-01", "list": [1, "ü", None]})
    store.close()
    with reading(path) as again:
        assert json.dumps(again.action("k"), sort_keys=True) == json.dumps(
            {"key": "k", "status": "done", "at": {"when": "2027-03-01", "list": [1, "ü", None]}},
            sort_keys=True,
        )


def test_the_latest_entry_is_the_latest_in_time_whatever_the_offset(path: Path) -> None:
    store = open_store(path)
    store.append_log(pair="p1", kind="progress", at="2027-03-09T10:00:00+01:00", text="later")
    store.append_log(pair="p1", kind="progress", at="2027-03-09T12:00:00+05:00", text="earlier")
    view = store.log_view(latest={"progress"}, every=set())
    assert [e["text"] for e in view["p1"]] == ["later"]
    store.close()
    with reading(path) as again:
        fresh = again.log_view(latest={"progress"}, every=set())
        assert [e["text"] for e in fresh["p1"]] == ["later"]


# -- files that hold no state, and writes that fail (issue 15) -----------------------------


@pytest.mark.parametrize("content", [b"", b"null", b" \n", b"[]", b"{}"])
def test_an_existing_file_without_a_state_is_refused_rather_than_started_afresh(
    path: Path, content: bytes
) -> None:
    files_only(path, "see test_a_database_that_is_not_a_state_is_refused_untouched")
    path.write_bytes(content)
    for attempt in (lambda: open_store(path), lambda: reading(path).__enter__()):
        with pytest.raises(StoreError, match=r"left untouched\. Restore it from a backup"):
            attempt()
        assert path.read_bytes() == content
    assert {p.name for p in path.parent.iterdir()} <= {path.name, f"{path.name}.lock"}
    open_store(path.with_name("fresh" + path.suffix)).close()  # the lock was released


def test_an_interrupted_first_write_leaves_no_file_at_all(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files_only(path, "the schema is made in one transaction (see test_a_sigkill...)")
    """Not an empty one, which the next start would refuse."""

    def killed(*_args: object) -> None:
        raise KeyboardInterrupt  # what a kill at the rename looks like from inside

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store = open_store(path)  # SQLite makes its file here, TinyDB at the first flush
        store.set_meta("n", 1)
        store.close()
    monkeypatch.undo()
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{path.name}.lock"]
    store = open_store(path)
    assert store.meta("n") is None
    store.close()


@pytest.fixture
def full_disk_path(path: Path) -> Iterator[Path]:
    """The state file's name on a 1 MB tmpfs (root only: mounting needs it)."""
    files_only(path, "a full disk is the database server's (its errors fail the flush)")
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = path.parent / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk / path.name
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    return filler


def test_a_flush_on_a_full_disk_keeps_the_file_and_forgets_the_changes(
    full_disk_path: Path,
) -> None:
    path = full_disk_path
    store = open_store(path, backups=3, today=lambda: date(2027, 3, 1))
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.ONBOARDING))
    store.record_action("p1/welcome/mentor", status="pending")
    store.flush()
    before = path.read_bytes()
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.AGREED))
    store.record_action("p1/welcome/mentor", status="done")
    store.append_log(pair="p1", kind="note", at="2027-03-01", text="lost")
    filler = _fill(path.parent)
    with pytest.raises(StoreError, match=f"cannot write state file {path}: .*nothing since"):
        store.flush()
    assert path.read_bytes() == before
    # in memory as on disk: what the failed flush would have written is gone
    assert store.pair_state("p1").stage == Stage.ONBOARDING
    assert store.action("p1/welcome/mentor")["status"] == "pending" and store.log() == []
    filler.unlink()
    store.append_log(pair="p1", kind="note", at="2027-03-01", text="kept")
    store.close()
    with reading(path) as again:
        assert [e["text"] for e in again.log()] == ["kept"]
        assert again.action("p1/welcome/mentor")["status"] == "pending"
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".")]


def test_a_backup_that_does_not_fit_stops_the_flush_and_leaves_no_partial_copy(
    full_disk_path: Path,
) -> None:
    path = full_disk_path
    store = open_store(path, backups=3, today=lambda: date(2027, 3, 1))
    for n in range(150):  # a state big enough that its copy cannot fit in what is left
        store.record_inbound(f"m{n}@example.org", text="x" * 1000)
    store.close()
    before = path.read_bytes()
    store = open_store(path, backups=3, today=lambda: date(2027, 3, 2))  # a new day: a backup
    store.set_meta("n", 1)
    filler = path.parent / "filler"
    free = os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize
    filler.write_bytes(b"\0" * max(0, free - len(before) // 2))
    with pytest.raises(StoreError, match="cannot write state file"):
        store.flush()
    assert path.read_bytes() == before and store.meta("n") is None
    assert not [p.name for p in path.parent.iterdir() if "2027-03-02" in p.name]  # no partial
    filler.unlink()
    store.close()
    with reading(path.with_name(f"{path.name}.backup-2027-03-02")) as kept:
        assert len(list(kept.inbound_records())) == 150 and kept.meta("n") is None


def test_changes_too_big_for_the_disk_are_dropped_whole_and_the_store_goes_on(
    full_disk_path: Path,
) -> None:
    """SQLite writes to the disk before the commit once its page cache fills: a failure
    there must lose the whole transaction, not half of it, just as a failed flush does."""
    path = full_disk_path
    store = open_store(path)
    store.set_meta("n", 1)
    store.flush()
    for n in range(4000):  # about 4 MB on a 1 MB disk
        store.record_inbound(f"m{n}@example.org", text="x" * 1000)
    with pytest.raises(StoreError, match="cannot write state file"):
        store.flush()
    assert list(store.inbound_records()) == [] and store.meta("n") == 1
    store.set_meta("n", 2)
    store.close()
    with reading(path) as again:
        assert again.meta("n") == 2 and list(again.inbound_records()) == []


def test_a_database_that_is_not_a_state_is_refused_untouched(pg: PgServer, tmp_path: Path) -> None:
    """A `mentormail` schema without the tables, or with them but no schema version (a
    half-made or foreign one), is refused rather than started afresh."""
    import psycopg

    for setup in (
        "CREATE SCHEMA mentormail; CREATE TABLE mentormail.pairs (key TEXT)",
        "CREATE SCHEMA mentormail; CREATE TABLE mentormail.meta (name TEXT, value TEXT)",
    ):
        dsn = pg.new_database()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(setup)
        for how in ("writer", "reader"):
            with pytest.raises(StoreError, match="left untouched"):
                if how == "writer":
                    opening.open_store(tmp_path / "s", "postgresql", dsn=dsn)
                else:
                    opening.reading(tmp_path / "s", "postgresql", dsn).__enter__()
        with psycopg.connect(dsn) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mentormail'"
            ).fetchall()
            assert len(tables) == 1
        opening.open_store(tmp_path / "s", "postgresql", dsn=pg.new_database()).close()


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    dsn = f"postgresql://mentormail:s3cret-pw@127.0.0.1:{port}/program"
    with pytest.raises(StoreError) as refused:
        opening.open_store(tmp_path / "s", "postgresql", dsn=dsn)
    message = str(refused.value)
    assert message.startswith(
        f"cannot connect to the PostgreSQL database program on 127.0.0.1:{port}"
    )
    assert "s3cret" not in message and "\n" not in message
