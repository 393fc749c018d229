"""The folders the local connectors (Maildir, .ics files) keep their files in.

A tick creates them and checks it may write in them before it starts, so a file in
a folder's place or a read-only folder is one line and exit 2, not a failure halfway
through a tick. A dry run (and `check`-style readers) opens with `create=False`: it
creates nothing and reads a folder that is not there yet as empty.
"""

from __future__ import annotations

import os
from pathlib import Path

from connectors.base import FolderUnusable


def prepare(path: Path, what: str, *, create: bool) -> None:
    """Refuse a non-folder at `path`; with `create`, make the folder and check it is
    writable (os.access: False on a read-only mount even for root)."""
    if path.exists() and not path.is_dir():
        raise FolderUnusable(
            f"{what} {path} is a file, not a folder; move it away or set another path"
        )
    if not create:
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FolderUnusable(f"cannot create {what} {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise FolderUnusable(
            f"{what} {path} is read-only; mentormail writes in it, so make it writable "
            "for the user the agent runs as"
        )
