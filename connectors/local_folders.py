"""The folders the local connectors (Maildir, .ics files) keep their files in.

A tick creates them and checks it may write in them before it starts, so a file in
a folder's place or a read-only folder is one line and exit 2, not a failure halfway
through a tick. A dry run (and `check`-style readers) opens with `create=False`: it
creates nothing and reads a folder that is not there yet as empty; `readiness` tells
`check` whether the first tick could create or write in each folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
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


def readiness(root: Path, subfolders: Sequence[str], what: str) -> tuple[bool, str]:
    """Whether a tick could use `root` and the `subfolders` below it, found without
    creating anything (for `check`): a missing folder is fine when the first tick can
    create it, a read-only one is not."""
    folders = [root, *(root / name for name in subfolders)]
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            return False, f"{folder} is a file, not a folder; move it away or set another path"
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            return False, f"{folder} is read-only; make it writable for the agent's user"
    missing = [folder for folder in folders if not folder.exists()]
    if not missing:
        return True, f"{what} {root}"
    parent = missing[0].parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return False, f"{what} {missing[0]} does not exist and cannot be created in {parent}"
    if missing[0] == root:
        return True, f"{what} {root} does not exist yet: the first tick creates it"
    names = ", ".join(str(folder.relative_to(root)) for folder in missing)
    return True, f"{what} {root}; the first tick creates {names}"
