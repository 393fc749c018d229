"""The running service takes an edited config without a restart, where it can."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.commands.runtime import Runtime
from agent.commands.service import reload_config
from agent.commands.tick import run_tick
from agent.config.loading import load_config
from tests.conftest import THREE_PAIRS

BERLIN = ZoneInfo("Europe/Berlin")
GINA = (
    "  - {id: gina, name: Gina Gold, email: gina@example.org, role: mentor, timezone: "
    'Europe/Berlin, hours: "09:00-17:00"}\n'
    "  - {id: hal, name: Hal Hu, email: hal@example.org, role: mentee, timezone: "
    'Europe/Berlin, hours: "09:00-17:00"}\n'
)


def _sent_to(root: Path) -> dict[str, str]:
    """The To: of each sent email, by file name."""
    found = {}
    for path in (root / "mail" / "sent" / "new").iterdir():
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("To: "):
                found[path.name] = line.removeprefix("To: ")
    return found


@pytest.fixture
def service(write_config: Callable[..., Path]) -> Iterator[tuple[Path, Runtime]]:
    """The three-pair program's config file and the Runtime a running service holds."""
    config = write_config(THREE_PAIRS)
    rt = Runtime.open(load_config(config))
    try:
        yield config, rt
    finally:
        rt.close()


def test_an_added_pair_is_welcomed_without_a_restart(
    service: tuple[Path, Runtime], tmp_path: Path
) -> None:
    config, rt = service
    run_tick(rt, datetime(2027, 2, 25, 9, 0, tzinfo=BERLIN))
    assert reload_config(rt, config) is None  # nothing changed
    before = _sent_to(tmp_path)
    last = "  - {id: eli-fay, mentor: eli, mentee: fay}\n"
    text = THREE_PAIRS.replace("pairs:\n", GINA + "pairs:\n").replace(
        last, last + "  - {id: gina-hal, mentor: gina, mentee: hal}\n"
    )
    config.write_text(text, encoding="utf-8")
    assert reload_config(rt, config) == "config reloaded"
    assert [p.id for p in rt.cfg.pairs][-1] == "gina-hal"
    run_tick(rt, datetime(2027, 2, 25, 10, 0, tzinfo=BERLIN))
    new = [to for name, to in _sent_to(tmp_path).items() if name not in before]
    assert new and all("gina@example.org" in to or "hal@example.org" in to for to in new)


def test_a_broken_edit_keeps_the_config_in_use(service: tuple[Path, Runtime]) -> None:
    config, rt = service
    config.write_text(THREE_PAIRS.replace("mentee: fay", "mentee: nobody"), encoding="utf-8")
    outcome = reload_config(rt, config)
    assert outcome and "has errors" in outcome and "unknown participant 'nobody'" in outcome
    assert rt.cfg.pair("eli-fay").mentee == "fay"


def test_connector_and_storage_changes_wait_for_a_restart(service: tuple[Path, Runtime]) -> None:
    config, rt = service
    edited = THREE_PAIRS.replace("path: mail}", "path: elsewhere}").replace(
        'hours: "08:00-11:00"', 'hours: "08:00-12:00"'
    )
    config.write_text(edited, encoding="utf-8")
    assert reload_config(rt, config) == (
        "config changes to mail take effect after a restart; kept as is"
    )
    assert rt.cfg.mail.path == "mail"
