"""The default state back end: one TinyDB JSON file (see agent.state.store for the interface).

TinyDB keeps the whole database in memory behind a CachingMiddleware; the storage below
writes it with temp file + fsync + rename, so a crash at any moment leaves either the
previous or the new state on disk, never a torn one. Every flush rewrites the whole
file: cheap for a few hundred pairs, the reason large programs use SQLite instead.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage
from tinydb.table import Document

from agent.state.store import KEYS, Store, StoreError, Table, _jsonable, refused, when


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file behind (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, Any]] | None:
        """The file's tables; None only when there is no file (a new program)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read state file {self.path}: {exc.strerror}") from None
        if not data.strip():
            raise refused(self.path, f"is empty ({len(data)} bytes of blanks)")
        try:
            tables = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise refused(self.path, f"is corrupt (not UTF-8 text at byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise refused(self.path, f"is corrupt ({exc})") from None
        problem = _shape_problem(tables)
        if problem:
            raise refused(self.path, problem)
        return tables

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                # dumps, then one write: json.dump's many small writes are ten times slower
                handle.write(json.dumps(data, separators=(",", ":"), default=str).encode())
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


def _shape_problem(tables: object) -> str | None:
    """What keeps a decoded file from being this store's tables: a mapping of table
    names to mappings of record ids to records, with the schema stamp that every file
    the store writes has (a new store stamps it before its first write)."""
    if not isinstance(tables, dict):
        return f"is not a mentormail state (it holds {_json_kind(tables)}, not tables)"
    stamp = tables.get("meta", {}).get("1") if isinstance(tables.get("meta"), dict) else None
    if not isinstance(stamp, dict) or not isinstance(stamp.get("schema"), int):
        return "is not a mentormail state (it has no schema version in its meta table)"
    for name, records in tables.items():
        if not isinstance(records, dict):
            return f"is corrupt (its {name!r} table holds {_json_kind(records)}, not records)"
        key = KEYS.get(name)
        for doc_id, record in records.items():
            if not doc_id.isdigit() or not isinstance(record, dict):
                return f"is corrupt (record {doc_id!r} of its {name!r} table is not a record)"
            if key and not isinstance(record.get(key), str):
                return f"is corrupt (record {doc_id} of its {name!r} table has no {key})"
    return None


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    kinds = {list: "a list", str: "a string", bool: "a boolean", dict: "an object"}
    return kinds.get(type(value), "a number")


class _Cache(CachingMiddleware):
    WRITE_CACHE_SIZE = 10**9  # never write on its own: Store.flush decides


class JsonStore(Store):
    kind = "tinydb"

    def __init__(self, path: Path, *, lock: bool, backups: int, today: Callable[[], date]) -> None:
        super().__init__(path, lock=lock, backups=backups, today=today)
        if lock:  # the only writer now: temp files of a write a crash cut short can go
            for partial in path.parent.glob(f".{path.name}.*"):
                with suppress(OSError):  # a read-only folder: the flush will say so
                    partial.unlink(missing_ok=True)
        try:
            self._load()
        except BaseException:
            self._release_lock()
            raise

    def _load(self) -> None:
        self.db = TinyDB(self.path, storage=_Cache(AtomicJSONStorage))  # type: ignore[arg-type]
        meta = self.db.table("meta")
        if meta.get(doc_id=1) is None:
            meta.insert(Document({}, doc_id=1))
        self._index = {
            name: {doc[field]: doc.doc_id for doc in self.db.table(name)}
            for name, field in KEYS.items()
        }
        self._check_schema()

    # -- queries ---------------------------------------------------------------------------

    def progress(self, keys: Collection[str]) -> dict[str, tuple[str, int]]:
        found = {}
        for key in keys:
            record = self._get("actions", key)
            if record is not None:
                found[key] = (record["status"], int(record.get("attempts", 0)))
        return found

    def sent(self, message_id: str) -> dict[str, Any] | None:
        return next((a for a in self._scan("actions") if a.get("message_id") == message_id), None)

    def latest_sent(self, pair_id: str, role: str) -> dict[str, Any] | None:
        mine = [
            a
            for a in self._scan("actions")
            if a.get("message_id") and a.get("pair") == pair_id and a.get("role") == role
        ]
        return max(
            mine, key=lambda a: str(a.get("done_at") or a.get("planned_at") or ""), default=None
        )

    def log(self, pair_id: str | None = None) -> list[dict[str, Any]]:
        entries = [dict(e) for e in self.db.table("log")]
        return [e for e in entries if pair_id is None or e.get("pair") == pair_id]

    def _log_latest(self, kinds: Collection[str]) -> Iterable[dict[str, Any]]:
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in self._log_of_kinds(kinds):
            key = (str(entry.get("pair")), str(entry.get("kind")))
            if key not in latest or when(entry) >= when(latest[key]):
                latest[key] = entry
        return latest.values()

    def _log_of_kinds(self, kinds: Collection[str]) -> Iterable[dict[str, Any]]:
        return (dict(e) for e in self.db.table("log") if e.get("kind") in kinds)

    # -- meta ------------------------------------------------------------------------------

    def meta(self, name: str, default: Any = None) -> Any:
        meta = self.db.table("meta").get(doc_id=1) or {}
        return meta.get(name, default)

    def set_meta(self, name: str, value: Any) -> None:
        self.db.table("meta").update(_jsonable({name: value}), doc_ids=[1])

    def meta_items(self) -> list[tuple[str, Any]]:
        return list((self.db.table("meta").get(doc_id=1) or {}).items())  # type: ignore[union-attr]

    def _delete_meta(self, name: str) -> None:
        def drop(doc: dict[str, Any]) -> None:
            doc.pop(name, None)

        self.db.table("meta").update(drop, doc_ids=[1])

    # -- primitives ------------------------------------------------------------------------

    def _get(self, table: Table, key: str) -> dict[str, Any] | None:
        doc_id = self._index[table].get(key)
        return dict(self.db.table(table).get(doc_id=doc_id)) if doc_id else None  # type: ignore[arg-type]

    def _put(self, table: Table, key: str, record: dict[str, Any]) -> None:
        doc_id = self._index[table].get(key)
        if doc_id:
            self.db.table(table).update(_replace_with(record), doc_ids=[doc_id])
        else:
            self._index[table][key] = self.db.table(table).insert(record)

    def _put_new(self, table: Table, records: list[tuple[str, dict[str, Any]]]) -> None:
        # one table rewrite for all: TinyDB's insert copies the whole table each time
        ids = self.db.table(table).insert_multiple(record for _, record in records)
        self._index[table].update(
            (key, doc_id) for (key, _), doc_id in zip(records, ids, strict=True)
        )

    def _append_logs(self, records: list[dict[str, Any]]) -> None:
        self.db.table("log").insert_multiple(records)

    def _scan(self, table: Table) -> Iterator[dict[str, Any]]:
        return (dict(doc) for doc in self.db.table(table))

    def _append_log(self, record: dict[str, Any]) -> None:
        self.db.table("log").insert(record)

    def _rewrite(
        self, table: Table, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> int:
        docs = self.db.table(table)
        touched = 0
        for doc in list(docs):
            before = dict(doc)
            after = change(before)
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

    def _commit(self) -> None:
        self.db.storage.flush()  # type: ignore[attr-defined]

    def _drop_uncommitted(self) -> None:
        self.db.storage._cache_modified_count = 0  # type: ignore[attr-defined]
        self.db.close()
        self._load()  # as the file is

    def _copy_committed(self, target: Path) -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out, self.path.open("rb") as source:
            shutil.copyfileobj(source, out)
            out.flush()
            os.fsync(out.fileno())

    def _close(self, *, keep: bool) -> None:
        if not keep:  # a dry run leaves no trace
            self.db.storage._cache_modified_count = 0  # type: ignore[attr-defined]
        self.db.close()


def _replace_with(record: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def replace(doc: dict[str, Any]) -> None:
        doc.clear()
        doc.update(record)

    return replace
