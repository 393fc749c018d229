"""The agent's memory: one TinyDB file, written atomically, flushed once per tick.

Tables:
  meta     - schema version, the mailbox cursor, the last tick's summary
  pairs    - one PairState per pair
  actions  - the outbox: every action by idempotency key, `pending` before its
             side effect and `done`/`failed` after it
  inbound  - every received message by Message-ID, with what became of it
  log      - the progress log: agreements, goals, progress, ratings, notes

TinyDB keeps the whole database in memory behind a CachingMiddleware; the
storage below writes it with temp file + fsync + rename, so a crash at any
moment leaves either the previous or the new state on disk, never a torn one.
An exclusive lock file keeps two agents off the same state.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage
from tinydb.table import Document

from agent.program import PairState

SCHEMA_VERSION = 1


class StoreError(Exception):
    """The state file cannot be used (corrupt, newer version, locked by another agent)."""


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file behind (mode 0600).

    With `backups` > 0, the first write of each (UTC) day first keeps the file as it was,
    as `<name>.backup-YYYY-MM-DD`, and only the newest `backups` of those are kept: a
    state damaged by a bug or by hand can be rolled back by a day at a time.
    """

    def __init__(
        self, path: Path, backups: int = 0, today: Callable[[], date] | None = None
    ) -> None:
        self.path = path
        self.backups = backups
        self.today = today or (lambda: datetime.now(UTC).date())

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"state file {self.path} is corrupt ({exc}); it was left untouched. "
                f"Restore it from a backup ({self.path.name}.backup-<date> next to it, one a "
                "day) or move it away to start afresh."
            ) from None

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if self.backups:
            self._back_up()
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"), default=str)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        pass

    def backup_files(self) -> list[Path]:
        """The backups, oldest first."""
        return sorted(self.path.parent.glob(f"{self.path.name}.backup-*"))

    def _back_up(self) -> None:
        target = self.path.with_name(f"{self.path.name}.backup-{self.today().isoformat()}")
        if target.exists() or not self.path.exists():
            return
        data = self.path.read_bytes()
        partial = target.with_name(f".{target.name}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
        for old in self.backup_files()[: -self.backups]:
            old.unlink(missing_ok=True)


class _Cache(CachingMiddleware):
    WRITE_CACHE_SIZE = 10**9  # never write on its own: Store.flush decides


class Store:
    """Typed access to the state file. Nothing reaches disk before `flush()`."""

    def __init__(
        self,
        path: Path,
        *,
        lock: bool = True,
        backups: int = 0,
        today: Callable[[], date] | None = None,
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_handle = _acquire_lock(path) if lock else None
        if lock:  # the only writer now: temp files of a write a crash cut short can go
            for partial in path.parent.glob(f".{path.name}.*"):
                partial.unlink(missing_ok=True)
        storage = _Cache(AtomicJSONStorage)
        self.db = TinyDB(path, backups, today, storage=storage)  # type: ignore[arg-type]
        self._check_schema()
        self._index = {
            name: {doc[field]: doc.doc_id for doc in self.db.table(name)}
            for name, field in (("pairs", "pair_id"), ("actions", "key"), ("inbound", "message_id"))
        }

    def _check_schema(self) -> None:
        meta = self.db.table("meta").get(doc_id=1)
        if meta is None:
            self.db.table("meta").insert(Document({"schema": SCHEMA_VERSION}, doc_id=1))
        elif meta.get("schema", 0) > SCHEMA_VERSION:
            raise StoreError(
                f"state file {self.path} was written by a newer mentormail "
                f"(schema {meta['schema']}, this one knows {SCHEMA_VERSION}); upgrade mentormail"
            )

    # -- keyed records ---------------------------------------------------------------------

    def _get(self, table: str, key: str) -> dict[str, Any] | None:
        doc_id = self._index[table].get(key)
        return dict(self.db.table(table).get(doc_id=doc_id)) if doc_id else None  # type: ignore[arg-type]

    def _put(self, table: str, key: str, record: dict[str, Any]) -> None:
        doc_id = self._index[table].get(key)
        if doc_id:
            self.db.table(table).update(record, doc_ids=[doc_id])
        else:
            self._index[table][key] = self.db.table(table).insert(record)

    # -- pairs -----------------------------------------------------------------------------

    def pair_state(self, pair_id: str) -> PairState:
        record = self._get("pairs", pair_id)
        return PairState.model_validate(record["state"]) if record else PairState(pair_id=pair_id)

    def pair_ids(self) -> list[str]:
        """Every pair with a stored state, including pairs no longer in the config."""
        return list(self._index["pairs"])

    def has_pair_state(self, pair_id: str) -> bool:
        return pair_id in self._index["pairs"]

    def save_pair_state(self, state: PairState) -> None:
        self._put(
            "pairs",
            state.pair_id,
            {"pair_id": state.pair_id, "state": state.model_dump(mode="json")},
        )

    # -- outbox ----------------------------------------------------------------------------

    def action(self, key: str) -> dict[str, Any] | None:
        return self._get("actions", key)

    def record_action(self, key: str, **fields: Any) -> None:
        record = self.action(key) or {"key": key}
        record.update(_jsonable(fields))
        self._put("actions", key, record)

    def actions(self) -> Iterator[dict[str, Any]]:
        return (dict(doc) for doc in self.db.table("actions"))

    def sent_index(self) -> dict[str, dict[str, Any]]:
        """Message-ID -> action record, for matching replies by In-Reply-To/References."""
        return {a["message_id"]: a for a in self.actions() if a.get("message_id")}

    # -- inbound ---------------------------------------------------------------------------

    def inbound(self, message_id: str) -> dict[str, Any] | None:
        return self._get("inbound", message_id)

    def record_inbound(self, message_id: str, **fields: Any) -> None:
        self._put("inbound", message_id, {"message_id": message_id, **_jsonable(fields)})

    def inbound_records(self) -> Iterator[dict[str, Any]]:
        return (dict(doc) for doc in self.db.table("inbound"))

    # -- progress log ----------------------------------------------------------------------

    def append_log(self, **entry: Any) -> None:
        self.db.table("log").insert(_jsonable(entry))

    def log(self, pair_id: str | None = None) -> list[dict[str, Any]]:
        entries = [dict(e) for e in self.db.table("log")]
        return [e for e in entries if pair_id is None or e.get("pair") == pair_id]

    # -- rewriting (agent.privacy) ----------------------------------------------------------

    def rewrite(self, table: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
        """Pass every record of `table` through `change`: a different dict replaces the record
        (whole, so keys can go), None deletes it, an equal one leaves it. Returns how many
        records changed. Keys (pair_id, key, message_id) must stay as they were."""
        docs = self.db.table(table)
        touched = 0
        for doc in list(docs):
            before = dict(doc)
            after = change(json.loads(json.dumps(before)))
            if after is None:
                docs.remove(doc_ids=[doc.doc_id])
                index = self._index.get(table, {})
                for key in [k for k, doc_id in index.items() if doc_id == doc.doc_id]:
                    del index[key]
                touched += 1
            elif after != before:
                docs.update(_replace_with(_jsonable(after)), doc_ids=[doc.doc_id])
                touched += 1
        return touched

    # -- meta ------------------------------------------------------------------------------

    def meta(self, name: str, default: Any = None) -> Any:
        meta = self.db.table("meta").get(doc_id=1) or {}
        return meta.get(name, default)

    def set_meta(self, name: str, value: Any) -> None:
        self.db.table("meta").update(_jsonable({name: value}), doc_ids=[1])

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self) -> None:
        self.db.storage.flush()  # type: ignore[attr-defined]

    @classmethod
    @contextmanager
    def reading(cls, path: Path) -> Iterator[Store]:
        """The state for a read-only command: no lock (a running service may hold it), and
        nothing written back when done."""
        store = cls(path, lock=False)
        try:
            yield store
        finally:
            store.close(flush=False)

    def close(self, *, flush: bool = True) -> None:
        if flush:
            self.flush()
        else:  # a dry run leaves no trace
            self.db.storage._cache_modified_count = 0  # type: ignore[attr-defined]
        self.db.close()
        if self._lock_handle:
            self._lock_handle.close()
            self._lock_handle = None


def _replace_with(record: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def replace(doc: dict[str, Any]) -> None:
        doc.clear()
        doc.update(record)

    return replace


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(fields, default=_encode))


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _acquire_lock(path: Path) -> Any:
    handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 - held while open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise StoreError(
            f"another mentormail (pid {owner}) is using {path}; "
            "stop it first, or point this one at another storage.path"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
