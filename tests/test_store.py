"""The state file: atomic, private, refuses what it cannot read, one agent at a time."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from agent.program import PairState, Stage
from agent.store import SCHEMA_VERSION, Store, StoreError


def test_nothing_reaches_disk_before_flush_then_everything_does(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = Store(path)
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.AGREED))
    store.record_action("p1/welcome/mentor", status="pending")
    assert not path.exists()
    store.flush()
    data = json.loads(path.read_text())
    assert data["meta"]["1"]["schema"] == SCHEMA_VERSION
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    store.close()
    again = Store(path)
    assert again.pair_state("p1").stage == Stage.AGREED
    assert again.action("p1/welcome/mentor")["status"] == "pending"
    again.close()


def test_update_keeps_one_record_per_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.json")
    store.record_action("k", status="pending", kind="welcome")
    store.record_action("k", status="done")
    assert store.action("k") == {"key": "k", "status": "done", "kind": "welcome"}
    assert len(list(store.actions())) == 1
    store.close()


def test_a_corrupt_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"pairs": {"1": ')
    with pytest.raises(StoreError, match="corrupt"):
        Store(path)
    assert path.read_text() == '{"pairs": {"1": '


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"meta": {"1": {"schema": SCHEMA_VERSION + 1}}}))
    with pytest.raises(StoreError, match="newer mentormail"):
        Store(path)


def test_second_store_on_the_same_file_is_locked_out(tmp_path: Path) -> None:
    first = Store(tmp_path / "state.json")
    with pytest.raises(StoreError, match=f"pid {os.getpid()}"):
        Store(tmp_path / "state.json")
    first.close()
    Store(tmp_path / "state.json").close()  # free again once the first one closed


def test_a_crash_during_write_leaves_the_previous_state(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "state.json"
    store = Store(path)
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.ONBOARDING))
    store.flush()
    before = path.read_bytes()
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.AGREED))

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.flush()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".state")] == []
    monkeypatch.undo()
    store.close()


def test_one_backup_a_day_of_the_state_before_that_day_and_only_the_newest_kept(
    tmp_path: Path,
) -> None:
    from datetime import date

    path = tmp_path / "state.json"
    days = [1, 1, 2, 2, 3, 4]  # the day of March of each tick
    for n, day in enumerate(days):
        store = Store(path, backups=2, today=lambda day=day: date(2027, 3, day))
        store.set_meta("tick", n)
        store.close()
    backups = sorted(p.name for p in tmp_path.glob("state.json.backup-*"))
    assert backups == ["state.json.backup-2027-03-03", "state.json.backup-2027-03-04"]
    # each holds the state as its day found it: the last tick of the day before
    kept = json.loads((tmp_path / "state.json.backup-2027-03-03").read_text())
    assert kept["meta"]["1"]["tick"] == days.index(3) - 1
    assert stat.S_IMODE(os.stat(tmp_path / "state.json.backup-2027-03-04").st_mode) == 0o600
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_backups_when_switched_off(tmp_path: Path) -> None:
    for n in range(2):
        store = Store(tmp_path / "state.json", backups=0)
        store.set_meta("tick", n)
        store.close()
    assert not list(tmp_path.glob("state.json.backup-*"))


def test_temp_files_of_an_interrupted_write_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = Store(path)
    store.set_meta("n", 1)
    store.close()
    (tmp_path / ".state.json.k2j4x9").write_text('{"half": ')  # a write killed mid-way
    with Store.reading(path) as reader:  # a reader does not touch it
        assert reader.meta("n") == 1
    assert (tmp_path / ".state.json.k2j4x9").exists()
    Store(path).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]
