"""The shared state back end: one PostgreSQL database (see agent.state.store for the interface).

The records are those of the SQLite back end (agent.state.store_sqlite), as JSON text next to
the few columns the queries need, in the tables of a `mentormail` schema of the database the
DSN names (one database per program). The DSN is read from the environment variable that
`storage.dsn_env` names (agent.state.opening), never from the config file.

Everything between two flushes is one transaction on the writer's connection; a flush commits
it and `close(flush=False)` rolls it back, so a SIGKILL or a lost connection leaves the state
of the last flush. Migrations run in one transaction too, so a failed one leaves the database
as it was; no copy is kept, and no daily backups are made: backing up (pg_dump, PITR) is the
database's.

One writer at a time: the writer holds a session-level advisory lock (`pg_try_advisory_lock`)
for as long as its connection lives, so a killed agent's lock goes with its connection. A dry
run holds it shared. Readers take no lock, and a reader of a database without the schema yet
gets temporary tables, so it creates nothing.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from agent.state import store as interface  # its version and migrations, as tests patch them
from agent.state.store import Store, StoreBusy, StoreError, Table, _jsonable, when

NAMESPACE = "mentormail"
LOCK_KEY = 0x6D656E746F72  # "mentor": the advisory lock of the program's state
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (seq BIGSERIAL, key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbound (seq BIGSERIAL, key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
    seq BIGSERIAL,
    key TEXT PRIMARY KEY,
    status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    pair TEXT,
    role TEXT,
    at TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_by_message ON actions (message_id, seq)
    WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS actions_by_person ON actions (pair, role, at)
    WHERE message_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS log (
    id BIGSERIAL PRIMARY KEY,
    pair TEXT,
    kind TEXT,
    at TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_pair ON log (pair, id);
CREATE INDEX IF NOT EXISTS log_by_kind ON log (kind, id);
CREATE TABLE IF NOT EXISTS log_latest (
    pair TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (pair, kind)
);
"""
LATEST = """
INSERT INTO log_latest (pair, kind, at, record) VALUES (%s, %s, %s, %s)
ON CONFLICT (pair, kind) DO UPDATE SET at = excluded.at, record = excluded.record
WHERE excluded.at >= log_latest.at
"""
REBUILD_LATEST = (
    "DELETE FROM log_latest",
    "INSERT INTO log_latest (pair, kind, at, record)"
    " SELECT DISTINCT ON (coalesce(pair, ''), coalesce(kind, ''))"
    " coalesce(pair, ''), coalesce(kind, ''), coalesce(at, ''), record"
    " FROM log ORDER BY coalesce(pair, ''), coalesce(kind, ''), coalesce(at, '') DESC, id DESC",
)
PUT_ACTION = """
INSERT INTO actions (key, status, attempts, message_id, pair, role, at, record)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET
status = excluded.status, attempts = excluded.attempts, message_id = excluded.message_id,
pair = excluded.pair, role = excluded.role, at = excluded.at, record = excluded.record
"""
PROGRESS_KEPT = 200_000  # outbox answers kept in memory, as in store_sqlite


def describe(dsn: str) -> str:
    """The database a DSN names, for messages: never its password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "PostgreSQL database (an unreadable DSN)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"PostgreSQL database {parts.get('dbname') or parts.get('user') or '?'} on {host}:{port}"


class PostgresStore(Store):
    kind = "postgresql"
    write_errors = (OSError, psycopg.Error)

    def __init__(
        self,
        path: Path,
        dsn: str,
        *,
        lock: bool | str,
        today: Callable[[], date],
    ) -> None:
        """`path` is the local state path (the attempts ledger and token key live next to
        it); the records are in the database `dsn` names. `lock`: True for the writer,
        "shared" for a dry run, False for a reader."""
        super().__init__(path, lock=False, backups=0, today=today)
        self.where = describe(dsn)
        self._writer = lock is True
        self._failed: psycopg.Error | None = None
        self._progress: dict[str, tuple[str, int]] = {}
        try:
            self.conn = psycopg.connect(
                dsn,
                autocommit=True,
                connect_timeout=10,
                application_name=f"mentormail pid {os.getpid()} on {socket.gethostname()}",
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the {self.where}: {_first_line(exc)}") from None
        try:
            self.conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(NAMESPACE)))
            if lock:
                self._take_lock(shared=lock == "shared")
            exists = self._has_namespace()
            if self._writer and not exists:
                self._create()
            self.conn.autocommit = False
            if not exists and not self._writer:
                for statement in _statements(SCHEMA.replace("CREATE TABLE", "CREATE TEMP TABLE")):
                    self.conn.execute(statement)
            elif not self._has_table("meta"):
                raise StoreError(
                    f"the {self.where} has a schema {NAMESPACE!r} without mentormail's tables; "
                    "it was left untouched. Point storage.dsn_env at the program's own database"
                )
            self._meta = dict(self.conn.execute("SELECT name, value FROM meta").fetchall())
            if exists and "schema" not in self._meta:
                raise StoreError(
                    f"the {self.where} is not a mentormail state (it has no schema version); "
                    "it was left untouched"
                )
            self._check_schema()
            if self._writer:
                self._commit()
        except BaseException:
            self._release()
            raise

    # -- opening ---------------------------------------------------------------------------

    def _take_lock(self, *, shared: bool) -> None:
        take = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        row = self.conn.execute(f"SELECT {take}(%s)", (LOCK_KEY,)).fetchone()
        if row and row[0]:
            if shared:
                self._shared_lock = _SessionLock(self.conn)  # type: ignore[assignment]
            else:
                self._lock_handle = _SessionLock(self.conn)  # type: ignore[assignment]
            return
        holder = self.conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock'"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND (l.classid::bigint << 32 | l.objid::bigint) = %s LIMIT 1",
            (LOCK_KEY,),
        ).fetchone()
        owner = holder[0] if holder and holder[0] else "another mentormail"
        raise StoreBusy(
            f"another agent ({owner}) is using the {self.where}; stop it first, or point "
            "this one at another database"
            + ("; try the dry run again when it is done" if shared else "")
        )

    def _has_namespace(self) -> bool:
        return bool(
            self.conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (NAMESPACE,)
            ).fetchone()[0]  # type: ignore[index]
        )

    def _has_table(self, name: str) -> bool:
        return bool(self.conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0])  # type: ignore[index]

    def _create(self) -> None:
        """The schema, its tables and the schema version, in one transaction: whatever
        the database holds once the schema exists is a state."""
        with self.conn.transaction():
            self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(NAMESPACE)))
            for statement in _statements(SCHEMA):
                self.conn.execute(statement)
            self.conn.execute(
                "INSERT INTO meta (name, value) VALUES ('schema', %s)",
                (str(interface.SCHEMA_VERSION),),
            )

    def _migrate(self, version: int) -> None:
        """One transaction from `version` to SCHEMA_VERSION: all of it or nothing."""
        target = interface.SCHEMA_VERSION
        if not self._writer:
            raise StoreError(
                f"the {self.where} has schema {version} and needs migrating to {target}; "
                "run a tick (or `mentormail run`) once to do it"
            )
        try:
            while version < target:
                interface.MIGRATIONS[version](self)
                version += 1
            self.set_meta("schema", version)
            self._commit()
        except Exception as exc:
            self._drop_uncommitted()
            raise StoreError(
                f"the {self.where}: migrating from schema {version} failed ({exc}); the "
                "database is unchanged (the migration is one transaction)"
            ) from exc
        self._states = None
        self._views.clear()

    # -- queries ---------------------------------------------------------------------------

    def progress(self, keys: Collection[str]) -> dict[str, tuple[str, int]]:
        known = self._progress
        found = {key: known[key] for key in keys if key in known}
        wanted = [key for key in keys if key not in known]
        if wanted:
            rows = self._read(
                "SELECT key, status, attempts FROM actions WHERE key = ANY(%s)", wanted
            )
            found.update((key, (status, attempts)) for key, status, attempts in rows)
        if len(known) > PROGRESS_KEPT:
            known.clear()
        known.update(found)
        return found

    def sent(self, message_id: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT record FROM actions WHERE message_id = %s ORDER BY seq LIMIT 1", message_id
        )

    def latest_sent(self, pair_id: str, role: str) -> dict[str, Any] | None:
        return self._one(
            "SELECT record FROM actions WHERE message_id IS NOT NULL AND pair = %s"
            " AND role = %s ORDER BY at DESC LIMIT 1",
            pair_id,
            role,
        )

    def log(self, pair_id: str | None = None) -> list[dict[str, Any]]:
        if pair_id is None:
            rows = self._read("SELECT record FROM log ORDER BY id")
        else:
            rows = self._read("SELECT record FROM log WHERE pair = %s ORDER BY id", pair_id)
        return [json.loads(text) for (text,) in rows]

    def _log_latest(self, kinds: Collection[str]) -> Iterable[dict[str, Any]]:
        rows = self._read("SELECT record FROM log_latest WHERE kind = ANY(%s)", sorted(kinds))
        return [json.loads(text) for (text,) in rows]

    def _log_of_kinds(self, kinds: Collection[str]) -> Iterable[dict[str, Any]]:
        rows = self._read("SELECT record FROM log WHERE kind = ANY(%s) ORDER BY id", sorted(kinds))
        return [json.loads(text) for (text,) in rows]

    def _one(self, query: str, *args: object) -> dict[str, Any] | None:
        rows = self._read(query, *args)
        return json.loads(rows[0][0]) if rows else None

    # -- meta ------------------------------------------------------------------------------

    def meta(self, name: str, default: Any = None) -> Any:
        text = self._meta.get(name)
        return default if text is None else json.loads(text)

    def set_meta(self, name: str, value: Any) -> None:
        text = json.dumps(_jsonable({"v": value})["v"], separators=(",", ":"))
        if self._meta.get(name) == text:
            return
        self._write(
            "INSERT INTO meta (name, value) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            name,
            text,
        )
        self._meta[name] = text

    def meta_items(self) -> list[tuple[str, Any]]:
        return [(name, json.loads(text)) for name, text in self._meta.items()]

    def _delete_meta(self, name: str) -> None:
        self._write("DELETE FROM meta WHERE name = %s", name)
        self._meta.pop(name, None)

    # -- primitives ------------------------------------------------------------------------

    def _get(self, table: Table, key: str) -> dict[str, Any] | None:
        return self._one(f"SELECT record FROM {table} WHERE key = %s", key)

    def _put(self, table: Table, key: str, record: dict[str, Any]) -> None:
        text = json.dumps(record, separators=(",", ":"))
        if table != "actions":
            self._write(
                f"INSERT INTO {table} (key, record) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET record = excluded.record",
                key,
                text,
            )
            return
        self._progress.pop(key, None)
        self._write(
            PUT_ACTION,
            key,
            record.get("status"),
            int(record.get("attempts") or 0),
            record.get("message_id"),
            record.get("pair"),
            record.get("role"),
            str(record.get("done_at") or record.get("planned_at") or ""),
            text,
        )

    def _put_new(self, table: Table, records: list[tuple[str, dict[str, Any]]]) -> None:
        for key, record in records:  # one round trip per record, in one transaction
            self._put(table, key, record)

    def _scan(self, table: Table) -> Iterator[dict[str, Any]]:
        rows = self._read(f"SELECT record FROM {table} ORDER BY seq")
        return (json.loads(text) for (text,) in rows)

    def _append_log(self, record: dict[str, Any]) -> None:
        pair, kind, at = record.get("pair"), record.get("kind"), when(record)
        text = json.dumps(record, separators=(",", ":"))
        self._write(
            "INSERT INTO log (pair, kind, at, record) VALUES (%s, %s, %s, %s)",
            pair,
            kind,
            at,
            text,
        )
        self._write(LATEST, pair or "", kind or "", at, text)

    def _rewrite(
        self, table: Table, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> int:
        self._progress.clear()
        touched = 0
        id_column = "id" if table == "log" else "key"
        rows = self._read(f"SELECT {id_column}, record FROM {table}")
        for row_id, text in rows:
            before = json.loads(text)
            after = change(before)
            if after is None:
                self._write(f"DELETE FROM {table} WHERE {id_column} = %s", row_id)
            elif after != before:
                after = _jsonable(after)
                if table == "log":
                    self._write(
                        "UPDATE log SET pair = %s, kind = %s, at = %s, record = %s WHERE id = %s",
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
            for statement in REBUILD_LATEST:
                self._write(statement)
        return touched

    def _read(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        """The rows of a query; a lost connection is the end of this run (a crash here:
        nothing since the last flush was kept)."""
        try:
            return self.conn.execute(query, args).fetchall()  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"lost the connection to the {self.where} ({_first_line(exc)}); nothing "
                "since the last flush was kept, and the next run redoes that work"
            ) from None

    def _write(self, query: str, *args: object) -> None:
        """A lost connection or a full disk loses the transaction: nothing more is written
        until the flush, which reports it (the state of a crash at this point)."""
        if self._failed is not None:
            return
        try:
            self.conn.execute(query, args)  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            self._failed = exc
            with suppress(psycopg.Error):
                self.conn.rollback()

    def _commit(self) -> None:
        if self._failed is not None:
            raise self._failed
        self.conn.commit()

    def _drop_uncommitted(self) -> None:
        with suppress(psycopg.Error):
            self.conn.rollback()
        self._failed = None
        self._progress.clear()
        with suppress(psycopg.Error):  # (a lost connection: the store is done for anyway)
            self._meta = dict(self.conn.execute("SELECT name, value FROM meta").fetchall())
            self.conn.commit()  # (the read above opened a transaction)

    def _back_up_once_a_day(self) -> None:
        """Backups of a database are the database's (pg_dump, continuous archiving)."""

    def backup_files(self) -> list[Path]:
        return []

    def _copy_committed(self, target: Path) -> None:
        raise StoreError(
            f"the {self.where} is not copied to files; back it up with pg_dump, or use "
            "`mentormail store copy`"
        )

    def _close(self, *, keep: bool) -> None:
        conn = getattr(self, "conn", None)
        if conn is None or conn.closed:
            return
        try:
            if keep and self._failed is None and self._writer:
                conn.commit()
            else:
                conn.rollback()
        finally:
            conn.close()

    def _release(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
        self._release_lock()


class _SessionLock:
    """The advisory lock, held by the connection's session: it goes with the connection
    (closed by the store, or by the server when the agent dies)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def close(self) -> None:
        self.conn.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
