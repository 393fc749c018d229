"""A program on a PostgreSQL state: configured by `storage.type` and a DSN in the environment,
copied in and out with `mentormail store copy`, and a lost connection that costs nothing
but the work since the last flush. (The store's contract: tests/test_store_contract.py.)"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from agent.state.opening import reading
from tests.conftest import THREE_PAIRS
from tests.pgserver import PgServer, Unavailable

CLI = Callable[..., tuple[int, str, str]]
ON_PG = THREE_PAIRS.replace(
    "storage: {path: state.json}", "storage: {type: postgresql, dsn_env: PROGRAM_DB}"
)


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    try:
        server = PgServer().start()
    except Unavailable as exc:
        pytest.skip(f"PostgreSQL store not tested: {exc}")
    yield server
    server.stop()


def test_a_program_moves_into_postgresql_runs_there_and_moves_back_out(
    pg: PgServer, cli: CLI, write_config: Callable[..., Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    on_file = write_config(THREE_PAIRS)
    assert cli("tick", "--config", on_file, "--now", "2027-02-16T09:00")[0] == 0
    dsn = pg.new_database()
    monkeypatch.setenv("PROGRAM_DB", dsn)
    code, out, err = cli(
        "store", "copy", "--config", on_file, "--type", "postgresql", "--dsn-env", "PROGRAM_DB"
    )
    assert code == 0, err
    assert "copied to the database in $PROGRAM_DB" in out
    assert "storage: {type: postgresql, dsn_env: PROGRAM_DB}" in out
    code, _, err = cli(
        "store", "copy", "--config", on_file, "--type", "postgresql", "--dsn-env", "PROGRAM_DB"
    )
    assert code == 2 and "holds a program's state already" in err

    on_pg = write_config(ON_PG, "pg.yaml")
    with reading(tmp_path / "state.json") as before:
        sent_before = len(list(before.actions()))
    assert cli("tick", "--config", on_pg, "--now", "2027-02-20T09:00")[0] == 0
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT count(*) FROM mentormail.actions").fetchone()
    assert rows and rows[0] > sent_before  # the reminders of the 20th went to the database

    code, out, err = cli("store", "copy", "--config", on_pg, tmp_path / "back.db")
    assert code == 0, err
    with reading(tmp_path / "back.db") as back, reading(tmp_path, "postgresql", dsn) as db:
        assert list(back.actions()) == list(db.actions())
        assert back.log() == db.log() and back.meta_items() == db.meta_items()
        assert [back.pair_state(p) for p in back.pair_ids()] == [
            db.pair_state(p) for p in db.pair_ids()
        ]


def test_a_missing_dsn_variable_is_named(
    cli: CLI, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROGRAM_DB", raising=False)
    code, _, err = cli("tick", "--config", write_config(ON_PG), "--now", "2027-02-16T09:00")
    assert code == 2 and "PROGRAM_DB" in err and "not set" in err


def test_a_connection_lost_before_the_flush_loses_only_that_work(
    pg: PgServer, tmp_path: Path
) -> None:
    from agent.state.opening import open_store
    from agent.state.store import StoreError

    dsn = pg.new_database()
    store = open_store(tmp_path / "s", "postgresql", dsn=dsn)
    store.record_action("p1/welcome/mentor", status="done", message_id="w@x")
    store.flush()
    store.record_action("p1/agreement/mentor", status="pending")
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name LIKE 'mentormail pid %'"
        )
    with pytest.raises(StoreError, match=r"lost the connection.*nothing since the last flush"):
        store.action("p1/agreement/mentor")
    with pytest.raises(StoreError, match="nothing since the last successful write"):
        store.flush()
    store.close(flush=False)
    again = open_store(tmp_path / "s", "postgresql", dsn=dsn)  # the lock went with it
    assert again.action("p1/welcome/mentor") == {
        "key": "p1/welcome/mentor",
        "status": "done",
        "message_id": "w@x",
    }
    assert again.action("p1/agreement/mentor") is None
    again.close()


def test_a_dry_run_changes_nothing_and_waits_for_the_running_agent(
    pg: PgServer, cli: CLI, write_config: Callable[..., Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from agent.state.opening import open_store

    dsn = pg.new_database()
    monkeypatch.setenv("PROGRAM_DB", dsn)
    config = write_config(ON_PG)
    code, out, err = cli("tick", "--config", config, "--now", "2027-02-16T09:00", "--dry-run")
    assert code == 0, err
    assert "welcome" in out
    with psycopg.connect(dsn) as conn:  # not even the tables
        assert conn.execute("SELECT to_regnamespace('mentormail')").fetchone() == (None,)
    assert cli("tick", "--config", config, "--now", "2027-02-16T09:00")[0] == 0
    running = open_store(tmp_path / "state.json", "postgresql", dsn=dsn)
    code, _, err = cli("tick", "--config", config, "--now", "2027-02-17T09:00", "--dry-run")
    assert code == 1 and f"pid {os.getpid()}" in err and "try the dry run again" in err
    running.close()
