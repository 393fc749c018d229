"""Opening the state: which back end a file is, and the store for it.

The back ends import `agent.state.store` (the interface); this module imports them, so the
interface never does. A new file gets its back end from its name (SQLite for .db, .sqlite,
.sqlite3), an existing one from its first bytes, whatever the config says (a mismatch is an
error that names `store copy`). A PostgreSQL state (`storage.type: postgresql`) is in the
database whose DSN is in the environment variable `storage.dsn_env` names (`dsn_for`).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Literal

from agent.config.model import Storage
from agent.state.store import Store, StoreBusy, StoreError, StoreKind, _reason, refused

SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def open_store(
    path: Path,
    kind: StoreKind | None = None,
    *,
    lock: bool | Literal["shared"] = True,
    backups: int = 0,
    today: Callable[[], date] | None = None,
    dsn: str | None = None,
) -> Store:
    """Open (or create) the state at `path`. An existing file is opened as what it is; a
    `kind` that disagrees with it is an error rather than a silent second state.
    `kind="postgresql"` opens the database `dsn` names instead (`path` then only places
    the local files that go next to a state, like the attempts ledger).

    `lock=True`: the writer, which creates the folder and the lock file and holds the
    lock exclusively. `False`: a reader that creates nothing and takes no lock.
    `"shared"` (a dry run): a reader that creates nothing either, but holds the lock
    shared when the lock file exists, so it is refused while an agent is running."""
    clock = today or (lambda: datetime.now(UTC).date())
    if kind == "postgresql":
        if not dsn:
            raise StoreError("storage.type is postgresql, but no DSN was given (storage.dsn_env)")
        from agent.state.store_pg import PostgresStore

        return PostgresStore(path, dsn, lock=lock, today=clock)
    if path.is_dir():
        raise StoreError(
            f"state file {path} is a folder; point storage.path at a file, "
            f"e.g. {path / 'state.json'}"
        )
    found = detect_kind(path)
    if found and kind and found != kind:
        raise StoreError(
            f"{path} is a {found} state file, but the config says storage.type: {kind}; "
            f"copy it over with `mentormail store copy --config ... NEW_PATH` first"
        )
    kind = found or kind or kind_for(path)
    if lock is True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the state's folder {path.parent}: {_reason(exc)}"
            ) from None
    shared = _share_lock(path) if lock == "shared" else None
    try:
        if kind == "sqlite":
            from agent.state.store_sqlite import SqliteStore

            store: Store = SqliteStore(path, lock=lock is True, backups=backups, today=clock)
        else:
            from agent.state.store_json import JsonStore

            store = JsonStore(path, lock=lock is True, backups=backups, today=clock)
    except BaseException:
        if shared:
            shared.close()
        raise
    store._shared_lock = shared
    return store


def dsn_for(storage: Storage) -> str | None:
    """The PostgreSQL DSN of a `storage: {type: postgresql, dsn_env: NAME}` config, from
    that environment variable (a DSN holds a password: never in the config file)."""
    if storage.type != "postgresql":
        return None
    name = storage.dsn_env
    dsn = os.environ.get(name, "").strip()
    if not dsn:
        raise StoreError(
            f"storage.type is postgresql, but the environment variable {name} (storage.dsn_env) "
            "is not set; set it to the database's DSN, e.g. "
            "postgresql://mentormail@db.example.org/mentormail"
        )
    return dsn


def kind_for(path: Path) -> StoreKind:
    """The back end a new state file gets from its name: SQLite for .db/.sqlite/.sqlite3."""
    return "sqlite" if path.suffix.lower() in SQLITE_SUFFIXES else "tinydb"


def detect_kind(path: Path) -> StoreKind | None:
    """What an existing state file is, from its first bytes: None if absent, or neither an
    SQLite database nor a JSON object (that file is then refused by the back end its
    name or the config picks). An existing empty file is refused here."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read state file {path}: {_reason(exc)}") from None
    if not head:
        raise refused(path, "is empty (0 bytes)")
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    return "tinydb" if head.lstrip(b" \t\r\n").startswith(b"{") else None


@contextmanager
def reading(path: Path, kind: StoreKind | None = None, dsn: str | None = None) -> Iterator[Store]:
    """The state for a read-only command: no lock (a running service may hold it), and
    nothing written back when done."""
    store = open_store(path, kind, lock=False, dsn=dsn)
    try:
        yield store
    finally:
        store.close(flush=False)


def _share_lock(path: Path) -> IO[str] | None:
    """The lock held shared, if its file exists (an agent has run here): creates nothing,
    writes nothing, and fails as `StoreBusy` while an agent holds it."""
    lock = path.with_name(path.name + ".lock")
    try:
        handle = open(lock)  # noqa: SIM115 - held while open
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the lock file {lock}: {_reason(exc)}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise StoreBusy(
            f"another mentormail (pid {owner}) is using {path}; "
            "try the dry run again when it is done"
        ) from None
    return handle
