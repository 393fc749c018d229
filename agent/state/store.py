"""The agent's memory: one state file, flushed at chosen moments, one writer at a time.

Two back ends keep the same records behind one interface (`Store`):

- `tinydb` (agent.state.store_json, the default): one JSON file, held in memory and written
  whole with temp file + fsync + rename. Readable with any editor; right for programs
  up to a few hundred pairs.
- `sqlite` (agent.state.store_sqlite): one SQLite database (stdlib `sqlite3`, WAL). Writes only
  what changed and reads by index; for large programs (see README, "Performance").
- `postgresql` (agent.state.store_pg): the same records in a PostgreSQL database, for
  operators who run one; one transaction per flush, an advisory lock for the one writer,
  and backups left to the database (docs/state-and-files.md, "PostgreSQL").

Records, by table:
  meta     - schema version, the mailbox cursor, the last tick's summary, ...
  pairs    - one PairState per pair
  actions  - the outbox: every action by idempotency key, `pending` before its
             side effect and `done`/`failed` after it
  inbound  - every received message by Message-ID, with what became of it
  log      - the progress log: agreements, goals, progress, ratings, notes

Nothing reaches the disk before `flush()`, and a crash at any moment leaves either the
previous or the new state, never a torn one. `close(flush=False)` (a dry run) leaves
no trace. An exclusive lock file keeps two agents off the same state; readers create
nothing (no folder, no lock file), and a dry run holds an existing lock file shared.

Every way the file can fail is one `StoreError` line naming the file, and the file is
left as it was:
- a file that exists but holds no state (0 bytes, blank, `null`, `[]`, `{}`, records of
  the wrong shape, random bytes, another program's SQLite database) is refused like a
  corrupt one, pointing at the daily backups. Starting afresh silently would welcome
  every pair again. The program itself never leaves such a file: a new JSON file is
  renamed into place whole, and so is a new SQLite database (agent.state.store_sqlite);
- a flush that cannot be written (disk full, read-only folder, permissions) drops
  everything since the last flush, in memory too, as a crash there would: the file
  keeps the last state written, and the next run redoes the work, asking the mailbox
  before sending again whatever was about to be sent (agent.commands.executor).

Every back end passes the same contract tests (tests/test_store_contract.py).
"""

from __future__ import annotations

import fcntl
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, Literal

from agent.pairs.program import PairState

StoreKind = Literal["tinydb", "sqlite", "postgresql"]
Table = Literal["pairs", "actions", "inbound", "log", "meta"]
KEYS: dict[str, str] = {"pairs": "pair_id", "actions": "key", "inbound": "message_id"}

# Version of the records' layout. A file with an older one is migrated on open (after a
# backup copy), one step at a time, by MIGRATIONS[n] (from n to n+1); a newer one is
# refused. Fields added with a default need no migration.
SCHEMA_VERSION = 1
Migration = Callable[["Store"], None]
MIGRATIONS: dict[int, Migration] = {}


class StoreError(Exception):
    """The state file cannot be used (corrupt, newer version, locked by another agent,
    unreadable, unwritable). The message is one line, for the CLI to print (exit 2)."""


class StoreBusy(StoreError):
    """Another agent holds the state's lock: nothing is wrong, try again when it is done
    (the CLI exits 1 for this one, as for a run with errors, and 2 for the others)."""


def refused(path: Path, problem: str) -> StoreError:
    """The error for a state file that exists but cannot be read as a state."""
    backups = sorted(path.parent.glob(f"{path.name}.backup-*"))
    where = (
        f"the newest of its {len(backups)} daily backups is {backups[-1].name}, next to it"
        if backups
        else f"daily backups would be next to it as {path.name}.backup-<date>; there are none"
    )
    return StoreError(
        f"state file {path} {problem}; it was left untouched. Restore it from a backup "
        f"({where}), or move it away to start afresh (every pair is then welcomed again)"
    )


def cannot_write(path: Path, reason: str) -> StoreError:
    return StoreError(
        f"cannot write state file {path}: {reason}; nothing since the last successful write "
        "was kept and the file is as that write left it (the next run redoes the work "
        f"without sending anything twice). Free some space or make {path.parent} writable"
    )


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


class Store(ABC):
    """Typed access to the state, over a back end's few primitives."""

    kind: StoreKind
    # what a failed write raises: the flush turns these into `cannot_write`
    write_errors: tuple[type[Exception], ...] = (OSError,)

    def __init__(self, path: Path, *, lock: bool, backups: int, today: Callable[[], date]):
        self.path = path
        self.backups = backups
        self.today = today
        self._lock_handle = _acquire_lock(path) if lock else None
        self._shared_lock: IO[str] | None = None  # a dry run's, see agent.state.opening
        self._states: dict[str, PairState] | None = None  # validated, for the process's life
        self._views: dict[tuple[frozenset[str], frozenset[str]], dict[str, list[dict]]] = {}

    # -- pairs -----------------------------------------------------------------------------

    def pair_state(self, pair_id: str) -> PairState:
        states = self._pair_states()
        return states.get(pair_id) or PairState(pair_id=pair_id)

    def pair_ids(self) -> list[str]:
        """Every pair with a stored state, including pairs no longer in the config."""
        return list(self._pair_states())

    def has_pair_state(self, pair_id: str) -> bool:
        return pair_id in self._pair_states()

    def save_pair_state(self, state: PairState) -> None:
        record = {"pair_id": state.pair_id, "state": state.model_dump(mode="json")}
        self._put("pairs", state.pair_id, record)
        self._pair_states()[state.pair_id] = state

    def _pair_states(self) -> dict[str, PairState]:
        """Every stored state, validated once: this process is the only writer."""
        if self._states is None:
            from pydantic import ValidationError

            states = {}
            for record in self._scan("pairs"):
                try:
                    states[record["pair_id"]] = PairState.model_validate(record.get("state"))
                except ValidationError as exc:
                    raise refused(
                        self.path,
                        f"has a record for pair {record['pair_id']!r} that is not a pair's "
                        f"state ({exc.errors()[0]['msg']})",
                    ) from None
            self._states = states
        return self._states

    # -- outbox ----------------------------------------------------------------------------

    def action(self, key: str) -> dict[str, Any] | None:
        return self._get("actions", key)

    def record_action(self, key: str, **fields: Any) -> None:
        record = self.action(key) or {"key": key}
        record.update(_jsonable(fields))
        self._put("actions", key, record)

    def actions(self) -> Iterator[dict[str, Any]]:
        return self._scan("actions")

    @abstractmethod
    def progress(self, keys: Collection[str]) -> dict[str, tuple[str, int]]:
        """(status, attempts) of those of `keys` that have a record; a batch lookup for
        the planner's "is this done yet?", which asks it of every planned action."""

    @abstractmethod
    def sent(self, message_id: str) -> dict[str, Any] | None:
        """The outbox record of the email sent with this Message-ID."""

    @abstractmethod
    def latest_sent(self, pair_id: str, role: str) -> dict[str, Any] | None:
        """The outbox record of the latest email to this pair's role (done or planned)."""

    # -- inbound ---------------------------------------------------------------------------

    def inbound(self, message_id: str) -> dict[str, Any] | None:
        return self._get("inbound", message_id)

    def record_inbound(self, message_id: str, **fields: Any) -> None:
        self._put("inbound", message_id, {"message_id": message_id, **_jsonable(fields)})

    def inbound_records(self) -> Iterator[dict[str, Any]]:
        return self._scan("inbound")

    # -- progress log ----------------------------------------------------------------------

    def append_log(self, **entry: Any) -> None:
        record = _jsonable(entry)
        self._append_log(record)
        for (latest, every), view in self._views.items():
            _add_to_view(view, record, latest, every)

    @abstractmethod
    def log(self, pair_id: str | None = None) -> list[dict[str, Any]]:
        """The progress log in the order written, of one pair or of all."""

    def log_view(
        self, *, latest: Collection[str], every: Collection[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Per pair: its latest entry (by `at`) of each kind in `latest`, and all of its
        entries of the kinds in `every`, oldest first. What the at-risk rules read each
        tick; computed once per process and kept up to date by `append_log`, so a tick
        does not read the whole history."""
        key = (frozenset(latest), frozenset(every))
        if key not in self._views:
            view: dict[str, list[dict[str, Any]]] = {}
            for record in (*self._log_latest(key[0]), *self._log_of_kinds(key[1])):
                _add_to_view(view, record, key[0], key[1])
            self._views[key] = view
        return self._views[key]

    # -- rewriting (agent.commands.privacy) --------------------------------------------

    def rewrite(
        self, table: Table, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> int:
        """Pass every record of `table` through `change`: a different dict replaces the record
        (whole, so keys can go), None deletes it, an equal one leaves it. Returns how many
        records changed. Keys (pair_id, key, message_id) must stay as they were."""
        if table == "meta":
            return self._rewrite_meta(change)
        touched = self._rewrite(table, lambda r: change(json.loads(json.dumps(r))))
        if table == "pairs":
            self._states = None
        if table == "log":
            self._views.clear()
        return touched

    def _rewrite_meta(self, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
        """The meta records are changed as one record, name -> value."""
        before = dict(self.meta_items())
        after = change(json.loads(json.dumps(before)))
        if after is None or after == before:
            return 0
        for name in before.keys() - after.keys():
            self._delete_meta(name)
        for name, value in after.items():
            if before.get(name) != value:
                self.set_meta(name, value)
        return 1

    # -- meta ------------------------------------------------------------------------------

    @abstractmethod
    def meta(self, name: str, default: Any = None) -> Any: ...

    @abstractmethod
    def set_meta(self, name: str, value: Any) -> None: ...

    @abstractmethod
    def meta_items(self) -> list[tuple[str, Any]]: ...

    @abstractmethod
    def _delete_meta(self, name: str) -> None: ...

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self) -> None:
        """Make everything so far durable, as one atomic change."""
        if self._lock_handle is None:
            raise StoreError(f"{self.path} was opened for reading; nothing is written")
        try:
            if self.backups:
                self._back_up_once_a_day()
            self._commit()
        except self.write_errors as exc:
            self._discard()
            raise cannot_write(self.path, _reason(exc)) from None

    def _discard(self) -> None:
        """Forget what was not committed: the store reads as the file does again."""
        self._drop_uncommitted()
        self._states = None
        self._views.clear()

    def close(self, *, flush: bool = True) -> None:
        try:
            if flush:
                self.flush()
        finally:
            try:
                self._close(keep=flush)
            finally:
                self._release_lock()

    def _release_lock(self) -> None:
        for handle in (self._lock_handle, self._shared_lock):
            if handle:
                handle.close()
        self._lock_handle = self._shared_lock = None

    def backup_files(self) -> list[Path]:
        """The daily backups, oldest first."""
        return sorted(self.path.parent.glob(f"{self.path.name}.backup-*"))

    def _back_up_once_a_day(self) -> None:
        """The first write of each (UTC) day first keeps the file as it was, as
        `<name>.backup-YYYY-MM-DD` (0600); the newest `backups` of those are kept. A state
        damaged by a bug or by hand can be rolled back a day at a time."""
        target = self.path.with_name(f"{self.path.name}.backup-{self.today().isoformat()}")
        if target.exists() or not self.path.exists():
            return
        partial = target.with_name(f".{target.name}.tmp")
        try:
            self._copy_committed(partial)
            os.chmod(partial, 0o600)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        for old in self.backup_files()[: -self.backups]:
            old.unlink(missing_ok=True)

    def _check_schema(self) -> None:
        """Stamp a new file; migrate an older one; refuse a newer one."""
        version = self.meta("schema")
        if version is None:
            self.set_meta("schema", SCHEMA_VERSION)
            return
        if not isinstance(version, int) or isinstance(version, bool):
            raise refused(self.path, f"has a schema version that is not a number ({version!r})")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"state file {self.path} was written by a newer mentormail "
                f"(schema {version}, this one knows {SCHEMA_VERSION}); upgrade mentormail"
            )
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        if self._lock_handle is None:
            raise StoreError(
                f"state file {self.path} has schema {version} and needs migrating to "
                f"{SCHEMA_VERSION}; run a tick (or `mentormail run`) once to do it"
            )
        keep = self.path.with_name(f"{self.path.name}.before-schema-{SCHEMA_VERSION}")
        try:
            if not keep.exists():
                self._copy_committed(keep)
                os.chmod(keep, 0o600)
        except self.write_errors as exc:
            keep.unlink(missing_ok=True)
            raise cannot_write(keep, _reason(exc)) from None
        try:
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](self)
                version += 1
            self.set_meta("schema", version)
            self._commit()
        except Exception as exc:
            self._close(keep=False)
            raise StoreError(
                f"state file {self.path}: migrating from schema {version} failed ({exc}); "
                f"the file is unchanged, and a copy is at {keep.name}"
            ) from exc
        self._states = None
        self._views.clear()

    # -- what a back end provides ----------------------------------------------------------

    @abstractmethod
    def _get(self, table: Table, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def _put(self, table: Table, key: str, record: dict[str, Any]) -> None:
        """Insert or replace the record with this key (the record holds the key too)."""

    def _put_new(self, table: Table, records: list[tuple[str, dict[str, Any]]]) -> None:
        """Insert many records whose keys are not there yet (a copy into a new store)."""
        for key, record in records:
            self._put(table, key, record)

    def _append_logs(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self._append_log(record)

    @abstractmethod
    def _scan(self, table: Table) -> Iterator[dict[str, Any]]:
        """Every record of a keyed table, in the order first written."""

    @abstractmethod
    def _append_log(self, record: dict[str, Any]) -> None: ...

    @abstractmethod
    def _log_latest(self, kinds: Collection[str]) -> Iterable[dict[str, Any]]:
        """Each pair's latest log entry (by `at`) of each of these kinds."""

    @abstractmethod
    def _log_of_kinds(self, kinds: Collection[str]) -> Iterable[dict[str, Any]]:
        """The log entries of these kinds, in the order written."""

    @abstractmethod
    def _rewrite(
        self, table: Table, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> int: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _copy_committed(self, target: Path) -> None:
        """Write a consistent copy of the state as last committed to `target`."""

    @abstractmethod
    def _drop_uncommitted(self) -> None:
        """Undo everything since the last commit, in memory too (a commit failed)."""

    @abstractmethod
    def _close(self, *, keep: bool) -> None:
        """Release the file; without `keep`, drop what was not committed."""


def copy_store(source: Store, target: Store) -> dict[str, int]:
    """Copy every record from one store into another (an empty one), e.g. from a TinyDB
    file into SQLite when a program outgrows it. Returns the records copied per table."""
    counts: dict[str, int] = {}
    for table, key in KEYS.items():
        records = list(source._scan(table))  # type: ignore[arg-type]
        target._put_new(table, [(r[key], r) for r in records])  # type: ignore[arg-type]
        counts[table] = len(records)
    entries = source.log()
    target._append_logs(entries)
    counts["log"] = len(entries)
    for name, value in source.meta_items():
        target.set_meta(name, value)
    counts["meta"] = len(source.meta_items())
    target._states = None
    return counts


def _add_to_view(
    view: dict[str, list[dict[str, Any]]],
    record: dict[str, Any],
    latest: Collection[str],
    every: Collection[str],
) -> None:
    kind = record.get("kind")
    if kind not in latest and kind not in every:
        return
    entries = view.setdefault(str(record.get("pair")), [])
    if kind in latest:
        same = next((i for i, e in enumerate(entries) if e.get("kind") == kind), None)
        if same is not None:
            if when(entries[same]) > when(record):
                return
            del entries[same]
    entries.append(record)


def when(record: Mapping[str, Any]) -> str:
    """A record's `at` as text that sorts in time order: UTC ISO 8601 when it is an aware
    time (entries carry the offset of whoever wrote them), else as written."""
    text = str(record.get("at") or "")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment.astimezone(UTC).isoformat() if moment.tzinfo else text


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(fields, default=_encode))


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _acquire_lock(path: Path) -> IO[str]:
    lock = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a+")  # noqa: SIM115 - held while open
    except OSError as exc:
        raise StoreError(
            f"cannot create the lock file {lock}: {_reason(exc)}; the agent needs to write "
            f"in {path.parent}"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise StoreBusy(
            f"another mentormail (pid {owner}) is using {path}; "
            "stop it first, or point this one at another storage.path"
        ) from None
    with suppress(OSError):  # unbuffered; the pid only names the holder in the message above
        os.ftruncate(handle.fileno(), 0)
        os.write(handle.fileno(), str(os.getpid()).encode())
    return handle
