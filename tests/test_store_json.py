"""The TinyDB back end's own promises (the shared ones are in test_store_contract.py):
the file is plain JSON written whole and atomically, and debris of a cut write goes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.pairs.program import PairState, Stage
from agent.state.opening import open_store, reading
from agent.state.store import SCHEMA_VERSION, StoreError


def test_the_file_is_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = open_store(path)
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.AGREED))
    store.close()
    data = json.loads(path.read_text())
    assert data["meta"]["1"]["schema"] == SCHEMA_VERSION
    assert data["pairs"]["1"]["state"]["stage"] == "agreed"


def test_a_failed_write_leaves_the_previous_state(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "state.json"
    store = open_store(path)
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.ONBOARDING))
    store.flush()
    before = path.read_bytes()
    store.save_pair_state(PairState(pair_id="p1", stage=Stage.AGREED))

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StoreError, match="No space left on device; nothing since the last"):
        store.flush()
    assert path.read_bytes() == before
    assert store.pair_state("p1").stage == Stage.ONBOARDING  # in memory too: as on disk
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".state")] == []
    monkeypatch.undo()
    store.close()


def test_temp_files_of_an_interrupted_write_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = open_store(path)
    store.set_meta("n", 1)
    store.close()
    (tmp_path / ".state.json.k2j4x9").write_text('{"half": ')  # a write killed mid-way
    with reading(path) as reader:  # a reader does not touch it
        assert reader.meta("n") == 1
    assert (tmp_path / ".state.json.k2j4x9").exists()
    open_store(path).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]
