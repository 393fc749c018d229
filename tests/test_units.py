"""The shipped systemd units (config/*.service, *.timer) pass `systemd-analyze verify`.

The units name /opt/mentormail/.venv/bin/mentormail; the check runs on copies that point
at this checkout's own entry point, so a missing program is not what fails them.
`systemd-analyze` reports unknown keys and bad values only as warnings on stderr (exit 0),
so a clean stderr is required; the control case proves such a warning is caught.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = ["mentormail.service", "mentormail-tick.service", "mentormail-tick.timer"]
ENTRY = Path(sys.executable).with_name("mentormail")


def verify(directory: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the units are checked where it is)")
    return subprocess.run(
        [analyze, "verify", *(str(directory / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def copies(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    for name in UNITS:
        text = (ROOT / "config" / name).read_text(encoding="utf-8")
        text = text.replace("/opt/mentormail/.venv/bin/mentormail", str(ENTRY))
        if edit:
            text = text.replace(*edit)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_service_and_the_timer_variant_verify_cleanly(tmp_path: Path) -> None:
    assert ENTRY.exists()
    done = verify(copies(tmp_path), UNITS)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_mistake_in_a_unit_is_caught(tmp_path: Path) -> None:
    done = verify(copies(tmp_path, ("Type=oneshot", "Type=oneshoot")), UNITS)
    assert "oneshoot" in done.stderr
