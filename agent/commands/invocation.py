"""How to run mentormail again as this process was run, for the hints commands print."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def invocation() -> str:
    """The script as it was typed (`.venv/bin/mentormail` after README's install, which is
    not on PATH), else the entry point beside this interpreter, else the module."""
    script = Path(sys.argv[0])
    if script.name == "mentormail" and script.is_file():
        return shlex.quote(str(script))
    beside = Path(sys.executable).with_name("mentormail")
    if beside.is_file():
        return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m agent.commands.cli"
