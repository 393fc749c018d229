"""The large-program state back end: one SQLite database (see agent.state.store for the interface).

Every record is stored as JSON text, as in the TinyDB file, next to the few columns the
queries need (an action's status, Message-ID, pair and role; a log entry's pair and
kind), so a tick reads what it asks for through an index and a flush writes only the
pages that changed.

Durability: WAL journal with `synchronous=FULL`, so a committed flush survives a crash or
power cut, and a write in progress is rolled back on the next open. Everything between
two flushes is one transaction; `close(flush=False)` rolls it back. `secure_delete`
overwrites deleted records (`mentormail forget`), and closing folds the WAL back into the
database file so no copy of a deleted record lingers there.

A new database is made under a temporary name, tables and all, and renamed into place,
so a crash while creating it leaves no file rather than an empty one (which is refused:
agent.state.store). A statement that fails for want of space or permission (SQLite can write
before the commit, when its page cache spills) rolls the transaction back and stops
writing until the flush, which reports it: the same state as a crash at that point.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agent.state.store import SCHEMA_VERSION, Store, StoreError, Table, _jsonable, refused, when

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbound (key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
    key TEXT PRIMARY KEY,
    status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    pair TEXT,
    role TEXT,
    at TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_by_message ON actions(message_id)
    WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS actions_by_person ON actions(pair, role, at)
    WHERE message_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY,
    pair TEXT,
    kind TEXT,
    at TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_pair ON log(pair, id);
CREATE INDEX IF NOT EXISTS log_by_kind ON log(kind, id);
-- each pair's latest log entry of each kind (Store.log_view), kept by _append_log
CREATE TABLE IF NOT EXISTS log_latest (
    pair TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (pair, kind)
) WITHOUT ROWID;
"""
LATEST = """
INSERT INTO log_latest (pair, kind, at, record) VALUES (?, ?, ?, ?)
ON CONFLICT (pair, kind) DO UPDATE SET at = excluded.at, record = excluded.record
WHERE excluded.at >= log_latest.at
"""
REBUILD_LATEST = """
DELETE FROM log_latest;
INSERT INTO log_latest (pair, kind, at, record)
    SELECT coalesce(pair, ''), coalesce(kind, ''), max(coalesce(at, '')), record
    FROM log GROUP BY pair, kind;
"""
_LATEST_MISSING = "SELECT EXISTS (SELECT 1 FROM log) AND NOT EXISTS (SELECT 1 FROM log_latest)"
BATCH = 500  # keys per IN (...) query, well under SQLite's variable limit
PROGRESS_KEPT = 200_000  # outbox answers kept in memory (about 30 MB at most)
# SQLite's primary result codes for "the file cannot be opened, read or written", as
# opposed to a damaged file: SQLITE_PERM, READONLY, IOERR, FULL, CANTOPEN
IO_CODES = frozenset({3, 8, 10, 13, 14})


class SqliteStore(Store):
    kind = "sqlite"
    write_errors = (OSError, sqlite3.Error)

    def __init__(self, path: Path, *, lock: bool, backups: int, today: Callable[[], date]) -> None:
        super().__init__(path, lock=lock, backups=backups, today=today)
        self._writing = False
        self._failed: sqlite3.Error | None = None  # see _write
        self._progress: dict[str, tuple[str, int]] = {}  # see progress()
        try:
            existed = path.exists()
            self.conn = _connect(path, writer=lock)
            self._meta = {name: text for name, text in self.conn.execute("SELECT * FROM meta")}
            if existed and "schema" not in self._meta:
                raise refused(path, "is not a mentormail state (it has no schema version)")
            self._check_schema()
            if lock and self.conn.execute(_LATEST_MISSING).fetchone()[0]:
                self._rebuild_latest()  # log rows written by other means (a bulk load)
            self._commit()
        except sqlite3.Error as exc:
            self._release()
            if _io_failure(exc):
                raise StoreError(
                    f"cannot open state file {path}: {exc}; check that the disk has space "
                    f"and that mentormail may write in {path.parent}"
                ) from None
            raise refused(path, f"is corrupt or not a mentormail database ({exc})") from None
        except BaseException:
            self._release()
            raise

    # -- queries ---------------------------------------------------------------------------

    def progress(self, keys: Collection[str]) -> dict[str, tuple[str, int]]:
        """Asked each tick of the same tens of thousands of keys (every pair's planned
        actions, most long done): answers are kept, and `_put` keeps them current."""
        known = self._progress
        found = {key: known[key] for key in keys if key in known}
        wanted = [key for key in keys if key not in known]
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT key, status, attempts FROM actions WHERE key IN ({marks})", chunk
            )
            found.update((key, (status, attempts)) for key, status, attempts in rows)
        if len(known) > PROGRESS_KEPT:
            known.clear()
        known.update(found)
        return found

    def sent(self, message_id: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT record FROM actions WHERE message_id = ? ORDER BY rowid LIMIT 1", message_id
        )

    def latest_sent(self, pair_id: str, role: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT record FROM actions WHERE message_id IS NOT NULL AND pair = ? AND role = ?"
            " ORDER BY at DESC LIMIT 1",
            pair_id,
            role,
        )

    def log(self, pair_id: str | None = None) -> list[dict[str, Any]]:
        if pair_id is None:
            rows = self.conn.execute("SELECT record FROM log ORDER BY id")
        else:
            rows = self.conn.execute(
                "SELECT record FROM log WHERE pair = ? ORDER BY id", (pair_id,)
            )
        return [json.loads(text) for (text,) in rows]

    def _log_latest(self, kinds: Collection[str]) -> Iterable[dict[str, Any]]:
        wanted = sorted(kinds)
        marks = ",".join("?" * len(wanted))
        rows = self.conn.execute(f"SELECT record FROM log_latest WHERE kind IN ({marks})", wanted)
        return (json.loads(text) for (text,) in rows)

    def _log_of_kinds(self, kinds: Collection[str]) -> Iterable[dict[str, Any]]:
        wanted = sorted(kinds)
        marks = ",".join("?" * len(wanted))
        rows = self.conn.execute(
            f"SELECT record FROM log WHERE kind IN ({marks}) ORDER BY id", wanted
        )
        return (json.loads(text) for (text,) in rows)

    def _one(self, sql: str, *args: object) -> dict[str, Any] | None:
        row = self.conn.execute(sql, args).fetchone()
        return json.loads(row[0]) if row else None

    # -- meta ------------------------------------------------------------------------------

    def meta(self, name: str, default: Any = None) -> Any:
        text = self._meta.get(name)
        return default if text is None else json.loads(text)

    def set_meta(self, name: str, value: Any) -> None:
        text = json.dumps(_jsonable({"v": value})["v"], separators=(",", ":"))
        if self._meta.get(name) == text:
            return  # most ticks leave most of it as it was: no write
        self._write(
            "INSERT INTO meta (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            name,
            text,
        )
        self._meta[name] = text

    def meta_items(self) -> list[tuple[str, Any]]:
        return [(name, json.loads(text)) for name, text in self._meta.items()]

    def _delete_meta(self, name: str) -> None:
        self._write("DELETE FROM meta WHERE name = ?", name)
        self._meta.pop(name, None)

    # -- primitives ------------------------------------------------------------------------

    def _get(self, table: Table, key: str) -> dict[str, Any] | None:
        return self._one(f"SELECT record FROM {table} WHERE key = ?", key)

    def _put(self, table: Table, key: str, record: dict[str, Any]) -> None:
        text = json.dumps(record, separators=(",", ":"))
        if table != "actions":
            self._write(
                f"INSERT INTO {table} (key, record) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET record = excluded.record",
                key,
                text,
            )
            return
        self._progress.pop(key, None)
        self._write(
            "INSERT INTO actions (key, status, attempts, message_id, pair, role, at, record)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
            " status = excluded.status, attempts = excluded.attempts,"
            " message_id = excluded.message_id, pair = excluded.pair, role = excluded.role,"
            " at = excluded.at, record = excluded.record",
            key,
            record.get("status"),
            int(record.get("attempts") or 0),
            record.get("message_id"),
            record.get("pair"),
            record.get("role"),
            str(record.get("done_at") or record.get("planned_at") or ""),
            text,
        )

    def _scan(self, table: Table) -> Iterator[dict[str, Any]]:
        rows = self.conn.execute(f"SELECT record FROM {table} ORDER BY rowid")
        return (json.loads(text) for (text,) in rows)

    def _append_log(self, record: dict[str, Any]) -> None:
        pair, kind, at = record.get("pair"), record.get("kind"), when(record)
        text = json.dumps(record, separators=(",", ":"))
        self._write(
            "INSERT INTO log (pair, kind, at, record) VALUES (?, ?, ?, ?)", pair, kind, at, text
        )
        self._write(LATEST, pair or "", kind or "", at, text)

    def _rewrite(
        self, table: Table, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> int:
        self._progress.clear()
        touched = 0
        id_column = "id" if table == "log" else "key"
        rows = self.conn.execute(f"SELECT {id_column}, record FROM {table}").fetchall()
        for row_id, text in rows:
            before = json.loads(text)
            after = change(before)
            if after is None:
                self._write(f"DELETE FROM {table} WHERE {id_column} = ?", row_id)
            elif after != before:
                after = _jsonable(after)
                if table == "log":
                    self._write(
                        "UPDATE log SET pair = ?, kind = ?, at = ?, record = ? WHERE id = ?",
                        after.get("pair"),
                        after.get("kind"),
                        when(after),
                        json.dumps(after, separators=(",", ":")),
                        row_id,
                    )
                else:
                    self._put(table, row_id, after)
            else:
                continue
            touched += 1
        if table == "log" and touched:
            self._rebuild_latest()
        return touched

    def _rebuild_latest(self) -> None:
        for statement in REBUILD_LATEST.strip().split(";\n"):
            self._write(statement)

    def _write(self, sql: str, *args: object) -> None:
        if self._failed is not None:
            return  # the transaction is lost: the flush reports it; write nothing meanwhile
        try:
            if not self._writing:
                self.conn.execute("BEGIN IMMEDIATE")
                self._writing = True
            self.conn.execute(sql, args)
        except sqlite3.Error as exc:
            if not _io_failure(exc):
                raise
            self._failed = exc
            self._rollback()

    def _commit(self) -> None:
        if self._failed is not None:
            raise self._failed
        if self._writing:
            self.conn.execute("COMMIT")
            self._writing = False

    def _rollback(self) -> None:
        if self.conn.in_transaction:  # SQLite may have rolled a failed COMMIT back itself
            self.conn.execute("ROLLBACK")
        self._writing = False

    def _drop_uncommitted(self) -> None:
        self._rollback()
        self._failed = None
        self._progress.clear()
        self._meta = {name: text for name, text in self.conn.execute("SELECT * FROM meta")}

    def _copy_committed(self, target: Path) -> None:
        target.unlink(missing_ok=True)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        source = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # a consistent snapshot of what was committed
        finally:
            copy.close()
            source.close()

    def _close(self, *, keep: bool) -> None:
        conn = getattr(self, "conn", None)
        if conn is None:
            return
        if self._writing:
            conn.execute("COMMIT" if keep and self._failed is None else "ROLLBACK")
            self._writing = False
        if self._lock_handle:
            with suppress(sqlite3.Error):  # e.g. a full disk: the WAL stays, and is read
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        self.conn = None  # type: ignore[assignment]

    def _release(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
            self.conn = None  # type: ignore[assignment]
        self._release_lock()


def _connect(path: Path, *, writer: bool) -> sqlite3.Connection:
    """The writer creates the file (0600; SQLite gives its WAL the same mode) and the
    tables; a reader of a state that does not exist yet gets an empty one in memory.
    A reader's changes (a dry run makes some) stay in a transaction that is rolled back."""
    if not writer and not path.exists():
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.executescript(SCHEMA)
        return conn
    if writer and not path.exists():
        _create(path)
    # A reader may change records in memory (a dry run does) but never commits them.
    mode = "rw" if writer or os.access(path, os.W_OK) else "ro"
    if not writer and _unchangeable(path):
        mode = "ro&immutable=1"  # SQLite cannot make its -shm file here; nobody can write
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:  # someone else's database, or none at all: leave it be
            raise refused(path, "is not a mentormail state (an SQLite file without its tables)")
        if writer:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            conn.executescript(SCHEMA)  # tables added since the file was made
    except BaseException:
        conn.close()
        raise
    return conn


def _create(path: Path) -> None:
    """A new database with its tables and schema version, renamed into place whole (see
    the module's doc): whatever the file holds once it has its name is a state."""
    partial = path.with_name(f".{path.name}.new")
    for leftover in (partial, partial.with_name(partial.name + "-journal")):
        leftover.unlink(missing_ok=True)  # from a creation a crash cut short
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(partial, isolation_level=None)
        try:  # in the default rollback mode: no WAL file to move
            conn.executescript(SCHEMA)
            conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        finally:
            conn.close()
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _unchangeable(path: Path) -> bool:
    """A state in a folder nobody may write in (a read-only mount, a copy), with nothing
    left in a WAL (an agent that closed cleanly folded it in): read as it is."""
    wal = path.with_name(path.name + "-wal")
    writable = os.access(path.parent, os.W_OK)  # False on a read-only mount, even for root
    return not writable and (not wal.exists() or wal.stat().st_size == 0)


def _io_failure(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in IO_CODES
